"""Benchmark (the comparison that led to the precision weights scalefit's laws of the optima
use since 2026-12-07, ``core.scatter.precision_weights``): would weighting the optima by
their precision forecast held-out optima better than unweighted least squares? Here both
fits are made outside scalefit, on the full fit's optima, with v_i from each optimum's
interval; scalefit measures v_i from the resamples instead (benchmarks/forecast.py
backtests the laws it fits).

For every dataset of ``forecast.py`` (its CASES): fit once on all the data, keep the ok
optima with finite 95% intervals, then roll the origin along the axis as the backtest does
(each of the 4th-smallest and larger levels, at most 3, predicted from the smaller ones)
and compare, per held-out optimum, |ln error| of

* ols: the unweighted least squares of ln lr_opt on ln scale / ln horizon;
* wls: random-effects weights 1 / (v_i + tau^2), v_i the optimum's variance from its
  interval ((ln hi - ln lo) / 3.92)^2, floored at (0.001)^2, tau^2 the scatter of the
  optima around the law beyond v_i (Paule-Mandel moment estimate);
* keep: the LR of the largest fitted level (same other coordinates, else the nearest).

This uses the full data's optima for the fitted levels (the backtest refits them on the
smaller levels only), so its numbers are close to, not equal to, ``scalefit backtest``'s.

    python benchmarks/forecast_weights.py [--boot 300]
"""

from __future__ import annotations

import argparse
import platform
import warnings

import numpy as np
from core import cpu_name  # benchmarks/core.py: this script's folder is on sys.path
from forecast import CASES

import scalefit


def _fit(X, y, w):
    sw = np.sqrt(w)[:, None]
    return np.linalg.lstsq(X * sw, y * sw[:, 0], rcond=None)[0]


def paule_mandel(X, y, v, iters: int = 100) -> float:
    """tau^2 such that the weighted residual sum of squares equals its degrees of freedom."""
    df = len(y) - X.shape[1]
    t = 0.0
    if df <= 0:
        return t
    for _ in range(iters):
        w = 1.0 / (v + t)
        r = y - X @ _fit(X, y, w)
        q = float(np.sum(w * r ** 2))
        new = max(0.0, t + (q - df) / float(np.sum(w)))
        if abs(new - t) < 1e-12:
            break
        t = new
    return t


def errors(optima, by, axis):
    out = {"ols": [], "wls": [], "keep": []}
    o = optima[(optima["status"] == "ok") & np.isfinite(optima["lr_opt_lo"])
               & np.isfinite(optima["lr_opt_hi"])]
    for _, d in (o.groupby(by) if by else [(None, o)]):
        vars_ = [c for c in ("scale", "horizon") if c in d and d[c].nunique() > 1]
        levels = np.sort(d[axis].unique()) if axis in d else []
        if not vars_ or len(levels) < 4:
            continue
        for lev in levels[3:][-3:]:
            tr, te = d[d[axis] < lev], d[d[axis] == lev]
            X = np.column_stack([np.ones(len(tr))] + [np.log(tr[c]) for c in vars_])
            if len(tr) < X.shape[1] + 1 or np.linalg.matrix_rank(X) < X.shape[1]:
                continue
            Xn = np.column_stack([np.ones(len(te))] + [np.log(te[c]) for c in vars_])
            y, yt = np.log(tr["lr_opt"].to_numpy()), np.log(te["lr_opt"].to_numpy())
            se = (np.log(tr["lr_opt_hi"]) - np.log(tr["lr_opt_lo"])).to_numpy() / 3.92
            v = np.maximum(se, 1e-3) ** 2
            out["ols"] += list(np.abs(Xn @ _fit(X, y, np.ones_like(y)) - yt))
            out["wls"] += list(np.abs(Xn @ _fit(X, y, 1 / (v + paule_mandel(X, y, v))) - yt))
            prev = tr[tr[axis] == tr[axis].max()]
            other = [c for c in vars_ if c != axis]
            for _, row in te.iterrows():
                j = (int(np.argmin(np.abs(np.log(prev[other[0]].to_numpy())
                                          - np.log(row[other[0]])))) if other else 0)
                out["keep"].append(abs(np.log(prev["lr_opt"].iloc[j]) - np.log(row["lr_opt"])))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boot", type=int, default=300)
    args = ap.parse_args(argv)
    print(f"machine: {cpu_name()}, Python {platform.python_version()}, numpy {np.__version__}")
    print("| dataset | axis | held-out | ols | wls | keep |")
    print("|---|---|---|---|---|---|")
    pooled = {"ols": [], "wls": [], "keep": []}
    for name, src, axis, opts in CASES:
        try:
            table = src()
        except FileNotFoundError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scalefit.fit(table, n_boot=args.boot, progress=None, **opts)
        e = errors(res.optima, list(opts.get("by", [])), axis)
        if not e["ols"]:
            print(f"| {name} | {axis} | 0 | - | - | - |")
            continue
        med = {k: float(np.median(x)) for k, x in e.items()}
        print(f"| {name} | {axis} | {len(e['ols'])} | {med['ols']:.3f} | {med['wls']:.3f} "
              f"| {med['keep']:.3f} |")
        for k in pooled:
            pooled[k] += e[k]
    print(f"pooled: {len(pooled['ols'])} held-out optima; median |ln error| "
          + ", ".join(f"{k} {np.median(x):.3f}" for k, x in pooled.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
