"""Ground truth for adaptive LR x batch-size sweeps (``next --joint bs``): after the planner
chose the runs, do the final fit's intervals still cover the truth?

Replications of a study from known laws (``scalefit.synthetic.JointTruth``: lr* = 2 s^-0.7
d^0.3, bs* = 0.01 s^-0.3 d^0.6, a tilted valley, loss noise s.d. ``--noise``): 3 scales x 2
horizons, each an allowed grid of 9 LRs (x sqrt 2) x 7 batch sizes (x 2) centred within
half a step of its optimum, of which each surface starts with a 3 x 3 block (every other
level) whose centre is up to 2 steps off the optimum in each direction (so many start on
an edge). Then ``rounds`` rounds of ``FitResult.next_runs(k, candidates=<the grid's
untried cells>)`` per replication (target: every surface's optimum), the chosen cells drawn
from the truth and added. The final fit (``n_boot`` resamples): the share of ok surfaces
whose 95% intervals cover the true lr* and bs*, and of replications whose joint laws'
intervals cover the true exponents.

    python benchmarks/adaptive_coverage_joint.py --reps 50 --rounds 4 --k 12 --boot 400
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

import scalefit
from scalefit.synthetic import JointTruth

SCALES = (2e8, 4e8, 8e8)
HORIZONS = (5e9, 2e10)
N_LR, N_BS, LR_STEP, BS_STEP = 9, 7, np.log(2 ** 0.5), np.log(2.0)


def grid(truth: JointTruth, rng) -> pd.DataFrame:
    """Every allowed cell, with its true (noise-free) loss and whether it is in the start."""
    rows = []
    for s in SCALES:
        for d in HORIZONS:
            x0, y0 = np.log(truth.lr_opt(s, d)), np.log(truth.bs_opt(s, d))
            xc = x0 + rng.uniform(-0.5, 0.5) * LR_STEP
            yc = y0 + rng.uniform(-0.5, 0.5) * BS_STEP
            jx, jy = rng.integers(-2, 3, size=2)  # the start block's centre, in steps
            for i in range(N_LR):
                for j in range(N_BS):
                    di, dj = i - N_LR // 2, j - N_BS // 2
                    x, y = xc + di * LR_STEP, yc + dj * BS_STEP
                    dx, dy = x - x0, y - y0
                    loss = (truth.L_inf + truth.A * s ** truth.alpha_s + truth.k_lr * dx * dx
                            + 2 * truth.k_lr_bs * dx * dy + truth.k_bs * dy * dy)
                    start = abs(di - jx) in (0, 2) and abs(dj - jy) in (0, 2)
                    rows.append({"scale": s, "horizon": d, "lr": float(np.exp(x)),
                                 "bs": float(np.exp(y)), "true": loss, "start": start})
    return pd.DataFrame(rows)


def fit(df, n_boot=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(df[["scale", "horizon", "lr", "bs", "loss"]], joint="bs",
                            n_boot=n_boot, progress=None)


def replicate(r, rounds, k, n_boot, noise, truth):
    rng = np.random.default_rng(1000 + r)
    g = grid(truth, rng)
    g["loss"] = g["true"] + rng.normal(0, noise, len(g))  # each cell's one run
    shown = set(np.flatnonzero(g["start"]))
    for _ in range(rounds):
        res = fit(g.loc[sorted(shown)])
        hidden = g.drop(index=sorted(shown))
        runs = res.next_runs(k, candidates=hidden[["scale", "horizon", "bs", "lr"]],
                             cost="runs").runs
        for _, p in runs.iterrows():
            m = hidden.index[np.isclose(hidden["scale"], p["scale"])
                             & np.isclose(hidden["horizon"], p["horizon"])
                             & np.isclose(hidden["bs"], p["bs"])
                             & np.isclose(hidden["lr"], p["lr"])]
            shown |= set(m[:1])
    final = fit(g.loc[sorted(shown)], n_boot)
    o = final.joint.optima
    ok = o[o["status"] == "ok"]
    s, d = ok["scale"].to_numpy(float), ok["horizon"].to_numpy(float)
    out = {"n_runs": len(shown), "n_grid": len(g), "ok": len(ok), "surfaces": len(o)}
    for v, true in (("lr", truth.lr_opt(s, d)), ("bs", truth.bs_opt(s, d))):
        lo = ok[f"{v}_opt_lo"].fillna(0.0).to_numpy()
        hi = ok[f"{v}_opt_hi"].fillna(np.inf).to_numpy()
        out[v] = list((lo <= true) & (true <= hi))
    for target, (a, b) in (("lr_opt", (truth.a_lr, truth.b_lr)),
                           ("bs_opt", (truth.a_bs, truth.b_bs))):
        law = final.joint.law(target)
        ci = getattr(law, "ci", None) if law is not None and not isinstance(law, list) else None
        if ci and "a" in ci and "b" in ci:
            out[f"{target} a"] = ci["a"][0] <= a <= ci["a"][1]
            out[f"{target} b"] = ci["b"][0] <= b <= ci["b"][1]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--noise", type=float, default=0.003)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    truth = JointTruth()
    res = [replicate(r, args.rounds, args.k, args.boot, args.noise, truth)
           for r in range(args.reps)]
    runs = [r["n_runs"] for r in res]
    print(f"{args.reps} replications of {len(SCALES) * len(HORIZONS)} surfaces, start 9 runs "
          f"each, {args.rounds} rounds of {args.k} runs (of a {res[0]['n_grid']}-cell grid), "
          f"final fit {args.boot} resamples, noise {args.noise}")
    print(f"  runs at the end: median {np.median(runs):.0f} of {res[0]['n_grid']} "
          f"({np.median(runs) / res[0]['n_grid']:.0%}); ok surfaces "
          f"{sum(r['ok'] for r in res)} of {sum(r['surfaces'] for r in res)}")
    for v in ("lr", "bs"):
        hits = [h for r in res for h in r[v]]
        print(f"  95% interval covers the truth: {v}* of a surface  {np.mean(hits):.3f} of "
              f"{len(hits)}")
    for key in ("lr_opt a", "lr_opt b", "bs_opt a", "bs_opt b"):
        hits = [r[key] for r in res if key in r]
        if hits:
            print(f"  95% interval covers the truth: {key:<9}       {np.mean(hits):.3f} of "
                  f"{len(hits)}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
