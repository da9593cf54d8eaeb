"""Benchmark (a lead, not what scalefit forecasts with): would averaging the law with the
law that does not move along the axis forecast held-out optima better?

Issue 26's third goal (the law beats "keep the LR" and the short law in every group of 4
or more levels) fails mostly where the optimum barely moves along the axis: the law then
extrapolates the noise of its fitted exponent. This script backtests, on the cases of
``forecast.py`` and with the backtest's own laws (``backtests._law``: the same weights and
draws), three point forecasts of every held-out optimum:

* law: the law of the smaller levels (what ``scalefit backtest`` scores);
* flat: the same law with the axis exponent held at 0 (``--fix``);
* avg: the two averaged by their BIC weights on the fitted points (weighted sums of
  squares; k and k - 1 parameters), as the shape test averages a bend;
* bent: the law with a log-quadratic term along the axis (``core.shape.shape_test`` on the
  fitted points; where the axis has fewer than 4 levels, the law), and bent avg: it and
  the law averaged by the test's BIC weight; gated: bent avg only where the test, with
  the resamples (as the fit makes it), resolves the bend, else the law;
* offset: the law plus a random intercept per level of its other variable (the shrunk
  mean residual of the fitted optima at the held-out point's scale, when backtesting along
  horizon, or horizon, along scale: the best linear unbiased predictor of a one-way
  random-effects model, method of moments), where that level was fitted;

and against them keep (the LR of the largest fitted level). Per dataset: median |ln
error| and the groups where each beats keep; and the same on synthetic laws with a clear
exponent (a = -0.3) and with none (a = 0), where the truth is known.

    python benchmarks/forecast_flat.py [--boot 300]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from core import cpu_name  # benchmarks/core.py: this script's folder is on sys.path
from forecast import CASES

import scalefit
from scalefit.backtests import _design, _law, resolve_axis
from scalefit.core import backtest as cb
from scalefit.core.shape import shape_test, with_fix
from scalefit.laws import by_groups, law_points
from scalefit.synthetic import TrueLaw, make_sweeps

AXIS_EXP = {"scale": "a", "horizon": "b"}


def _wsse(law, train, target="lr_opt"):
    X = _design(law, train)
    r = np.log(train[target].to_numpy(float)) - X @ law.coef()
    w = np.ones(len(r)) if law.weights is None else np.asarray(law.weights, float)
    return float(np.sum(w * r * r))


def level_offsets(train, law, other: str, held_values: np.ndarray) -> np.ndarray:
    """(n,) the shrunk mean residual, in ln lr, of the optima in ``train`` at each held-out
    point's level of ``other`` (0 where that level was not fitted, or with fewer than 3
    levels): k_j m_j, m_j the level's precision-weighted mean residual from ``law``, k_j =
    tau^2 / (tau^2 + sigma^2 / n_j), sigma^2 the pooled residual variance within levels and
    tau^2 = max(0, var(m_j) - mean(sigma^2 / n_j))."""
    r = np.log(train["lr_opt"].to_numpy(float)) - _design(law, train) @ law.coef()
    w = np.ones(len(r)) if law.weights is None else np.asarray(law.weights, float)
    lev = train[other].to_numpy(float)
    levels = np.unique(lev)
    out = np.zeros(len(held_values))
    if levels.size < 3:
        return out
    idx = np.searchsorted(levels, lev)
    n = np.bincount(idx, minlength=levels.size)
    m = np.bincount(idx, weights=w * r, minlength=levels.size) / np.bincount(
        idx, weights=w, minlength=levels.size)
    dof = len(r) - levels.size
    within = r - m[idx]
    sig2 = float(within @ within / dof) if dof > 0 else float(np.var(r, ddof=1))
    tau2 = max(0.0, float(np.var(m, ddof=1)) - float(np.mean(sig2 / n)))
    if tau2 <= 0:
        return out
    j = np.searchsorted(levels, held_values)
    hit = (j < levels.size) & np.isclose(levels[np.minimum(j, levels.size - 1)], held_values)
    jj = np.minimum(j, levels.size - 1)
    return np.where(hit, tau2 / (tau2 + sig2 / n[jj]) * m[jj], 0.0)


def errors(res, axis):
    """Per held-out optimum: (group label, ln errors of law, flat, avg, bent, bent avg,
    gated, offset, keep)."""
    col = resolve_axis(res, axis)
    optima = res.optima
    optima.index = np.arange(len(optima))
    by = tuple(b for b in res.by if b != col)
    xl = res.boot.law_columns if res.boot is not None else None
    out = []
    for group, sub in by_groups(optima, by):
        pts = law_points(sub, ("ok",))
        meas = sub[(sub["status"] == "ok") & np.isfinite(sub["lr_opt"].to_numpy(float))]
        for origin in cb.origins(pts[col].to_numpy(float)):
            held = meas[meas[col].to_numpy(float) == origin]
            train = pts[pts[col].to_numpy(float) < origin]
            if held.empty:
                continue
            law, _ = _law(train, col, xl, res.level, by_col=col in res.by)
            if law is None or AXIS_EXP.get(col) not in law.param_names:
                continue
            flat = with_fix(law, {AXIS_EXP[col]: 0.0}, None, None, law.weights)
            n, k = len(train), len(law.param_names)
            bic = [n * np.log(max(_wsse(m, train), 1e-300) / n) + kk * np.log(n)
                   for m, kk in ((law, k), (flat, k - 1))]
            w_law = 1.0 / (1.0 + np.exp(np.clip((bic[0] - bic[1]) / 2, -700, 700)))
            Z = _design(law, held)
            y = np.log(held["lr_opt"].to_numpy(float))
            e_law, e_flat = Z @ law.coef() - y, Z @ flat.coef() - y
            e_avg = w_law * e_law + (1 - w_law) * e_flat
            # the bent law along the axis (the shape test's log-quadratic term, on the
            # points alone) and its BIC average with the straight law
            X = _design(law, train)
            c = 1 + law.variables.index(col)
            lb = None if xl is None else xl(train.index.to_numpy())
            sh = shape_test(X, np.log(train["lr_opt"].to_numpy(float)), lb, col, c,
                            res.level, W=law.weights)
            if sh.get("testable"):
                zb = np.column_stack([Z, (Z[:, c] - sh["centre"]) ** 2])
                e_bent = zb @ sh["coef"] - y
                e_bavg = sh["weight"] * e_bent + (1 - sh["weight"]) * e_law
            else:
                e_bent = e_bavg = e_law
            e_gate = e_bavg if sh.get("resolved") else e_law
            other = [v for v in law.variables if v != col and v in ("scale", "horizon")]
            e_off = e_law + (level_offsets(train, law, other[0], held[other[0]].to_numpy(float))
                             if other else 0.0)
            top = train[train[col] == train[col].max()]
            others = [r for r in ("scale", "horizon") if r != col and r in held
                      and np.isfinite(held[r].to_numpy(float)).all()]
            j = cb.nearest(top[others].to_numpy(float), held[others].to_numpy(float))
            e_keep = np.log(top["lr_opt"].to_numpy(float))[j] - y
            label = ", ".join(f"{k}={v}" for k, v in group.items())
            out += [(label, *e) for e in zip(e_law, e_flat, e_avg, e_bent, e_bavg, e_gate,
                                             e_off, e_keep)]
    return out


def summary(name, rows):
    if not rows:
        return f"| {name} | 0 |" + " - |" * 9
    e = np.abs(np.array([r[1:] for r in rows]))
    labels = [r[0] for r in rows]
    groups = sorted(set(labels))
    beats = [0] * 7
    for g in groups:
        m = np.median(e[[lab == g for lab in labels]], axis=0)
        for i in range(7):
            beats[i] += int(m[i] < m[7])
    med = np.median(e, axis=0)
    return (f"| {name} | {len(rows)} | " + " | ".join(f"{x:.3f}" for x in med) + " | "
            + "/".join(map(str, beats)) + f" of {len(groups)} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boot", type=int, default=300)
    args = ap.parse_args(argv)
    print(f"machine: {cpu_name()}, {args.boot} resamples")
    print("| dataset (axis) | held-out | law | flat | avg | bent | bent avg | gated | offset | "
          "keep | groups beating keep (law/flat/avg/bent/bent avg/gated/offset) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    pooled = []
    for name, src, axis, opts in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scalefit.fit(src(), n_boot=args.boot, progress=None, **opts)
        rows = errors(res, axis)
        pooled += [(f"{name} {axis}: {r[0]}", *r[1:]) for r in rows]
        print(summary(f"{name} ({axis})", rows))
    print(summary("pooled", pooled))
    for a in (-0.3, 0.0):
        rows = []
        for seed in range(10):
            df = make_sweeps(scales=(1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8), horizons=(1e9,),
                             seeds=2, noise=0.004, law=TrueLaw(a=a), lr_scatter=0.05,
                             seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = scalefit.fit(df, n_boot=args.boot, seed=seed, progress=None)
            rows += [(f"seed {seed}", *r[1:]) for r in errors(res, "scale")]
        print(summary(f"synthetic a = {a} (scale), 10 seeds", rows))
    # a law in two variables, held out along horizon: the offsets have levels to use
    rows = []
    for seed in range(10):
        df = make_sweeps(scales=(1e7, 4e7, 1.6e8), horizons=(1e9, 2e9, 4e9, 8e9, 1.6e10, 3.2e10),
                         seeds=2, noise=0.004, law=TrueLaw(), lr_scatter=0.05, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scalefit.fit(df, n_boot=args.boot, seed=seed, progress=None)
        rows += [(f"seed {seed}", *r[1:]) for r in errors(res, "horizon")]
    print(summary("synthetic a = -0.3, b = -0.2 (horizon; 3 scales), 10 seeds", rows))
    err = np.array([r[1:] for r in pooled])
    rms = np.sqrt(np.mean(err * err, axis=0))
    print("\npooled RMS of ln error: " + ", ".join(
        f"{k} {v:.3f}" for k, v in zip(("law", "flat", "avg", "bent", "bent avg", "gated",
                                        "offset", "keep"), rms)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
