"""Porian et al. (2024)'s IsoFLOP curves through ``scalefit.fit_isoflop``: the exponent a of
N* = k C^a for every configuration, with its interval, beside the paper's value.

Reads ``../shared/datasets/resolving-scaling-law-discrepancies/isoflop_points.csv`` (the
IsoFLOP points of "Resolving Discrepancies in Compute-Optimal Scaling of Language
Models", arXiv:2406.19146; see that folder's SOURCE.md) when it is present, or ``--data``.

    python examples/isoflop_porian.py [--data isoflop_points.csv] [--boot 1000] [--figures DIR]

A configuration is one value of (dataset, hparams, warmup, decay, param_count,
loss_split); each of its FLOP budgets is one IsoFLOP profile. scalefit finds each
profile's optimum with the windowed parabola in ln N (the LR-sweep estimator) and the
interval with its run bootstrap. The column "Akima" repeats, for comparison only, the
paper's own optimum: an Akima spline of ln loss through every point of a profile,
minimised on a grid 25 times finer than the points, then least squares of ln N* on ln C
(no interval here). The paper's values, as published:

    rw, tuned, short, const, standard, val   a = 0.497 [0.492, 0.503]
    rw, base, long, kaplan, kaplan, train    a = 0.835 (their reproduction of Kaplan)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import scalefit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "resolving-scaling-law-discrepancies" / \
    "isoflop_points.csv"
CONFIG = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]
PAPER = {("rw", "tuned", "short", "const", "standard", "val"): "0.497 [0.492, 0.503]",
         ("rw", "base", "long", "kaplan", "kaplan", "train"): "0.835"}


def akima_exponent(points) -> float:
    """The paper's procedure, for comparison: Akima spline minimum per profile, then OLS."""
    from scipy.interpolate import Akima1DInterpolator

    ln_c, ln_n = [], []
    for c, prof in points.groupby("flops"):
        prof = prof.sort_values("params")
        x, y = np.log(prof["params"].to_numpy()), np.log(prof["loss"].to_numpy())
        if x.size < 3:
            continue
        grid = np.linspace(x.min(), x.max(), (x.size - 1) * 25)
        i = int(np.argmin(Akima1DInterpolator(x, y)(grid)))
        if 0 < i < grid.size - 1:  # an optimum at the end of the grid is not bracketed
            ln_c.append(np.log(c))
            ln_n.append(grid[i])
    return float(np.polyfit(ln_c, ln_n, 1)[0]) if len(ln_c) >= 3 else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="isoflop_points.csv")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--figures", type=Path, help="write the IsoFLOP figures into this folder")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data} not found: nothing to do (give --data PATH)")
        return 0
    import pandas as pd

    table = pd.read_csv(args.data)
    res = scalefit.fit_isoflop(table, by=CONFIG, n_boot=args.boot, progress=None,
                               source=str(args.data))
    rows = []
    for law in res.laws:
        if law.target != "N_opt":
            continue
        key = tuple(law.group[c] for c in CONFIG)
        sel = np.logical_and.reduce([table[c] == v for c, v in zip(CONFIG, key)])
        prof = res.profiles
        prof = prof[np.logical_and.reduce([prof[c] == v for c, v in zip(CONFIG, key)])]
        lo, hi = law.ci["a"]
        rows.append([", ".join(key), f"{(prof['status'] == 'ok').sum()}/{len(prof)}",
                     f"{law.params['a']:.3f} [{lo:.3f}, {hi:.3f}]",
                     f"{akima_exponent(table[sel]):.3f}", PAPER.get(key, "-")])
    head = ["configuration (" + ", ".join(CONFIG) + ")", "ok/profiles",
            f"a scalefit [{res.level * 100:g}% CI]", "a Akima", "a paper"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print(f"{res.input['rows']} IsoFLOP points, {len(res.profiles)} profiles, "
          f"{res.settings['n_boot']} resamples (seed {res.settings['seed']})")
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.figures:
        res.save_figures(args.figures)
        print(f"figures in {args.figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
