"""Ground truth for adaptive sweeps: do the final fit's intervals still cover the truth?

Replications of a study from known laws (``scalefit.synthetic.TrueLaw``: lr* = 0.02 s^-0.3
d^-0.2, curvature 0.05, loss noise s.d. 0.005): 4 scales x 2 horizons, each sweep started
from 3 LRs a factor 2 apart around a point up to 2 steps (a factor 4) off its optimum (so
many start unbracketed), then ``rounds`` rounds in which ``FitResult.next_runs`` (target:
the law's prediction at scale 1e9, horizon 1.6e10; ``per_group``: K runs per replication)
chooses the runs, which are drawn from the true laws and added. All replications are one
table (``--by rep``), so every round is one fit. The final fit (``n_boot`` resamples): the
share of replications whose 95% interval covers the truth, for the law's exponents a and b,
its prediction at the target, and every ok sweep's optimum.

    python benchmarks/adaptive_coverage.py --reps 60 --rounds 4 --k 6 --boot 400

``--validate``: the delta-method s.d. against the bootstrap's spread over 18 designs.
``--fixed-grid N`` is the control without adaptivity: the same sweeps on fixed grids of N
LRs a factor 2 apart (one run each, centred within half a step of the optimum), the
coverage of every ok sweep's interval by its window size.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

import scalefit
from scalefit.synthetic import TrueLaw, runs_at

SCALES = (1e7, 3e7, 1e8, 3e8)
HORIZONS = (1e9, 4e9)
TARGET = (1e9, 1.6e10)


def start_table(reps: int, law: TrueLaw, noise: float, seed: int, offset: float = 2.0):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(reps):
        for s in SCALES:
            for d in HORIZONS:
                x_star = float(np.log(law.lr_opt(s, d)))
                centre = x_star + rng.uniform(-offset, offset) * np.log(2.0)
                for j in (-1, 0, 1):
                    rows.append({"rep": r, "scale": s, "horizon": d,
                                 "lr": float(np.exp(centre + j * np.log(2.0)))})
    return runs_at(pd.DataFrame(rows), law, noise, seed=seed + 1)


def simulate(reps=60, rounds=4, k=6, n_boot=400, noise=0.005, seed=0, cost="flops",
             log=None) -> dict:
    law = TrueLaw()
    df = start_table(reps, law, noise, seed)
    added = []
    for rnd in range(rounds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scalefit.fit(df.drop(columns="lr_true"), by=["rep"], n_boot=0,
                               progress=None)
            p = res.next_runs(k, target_scale=TARGET[0], target_horizon=TARGET[1],
                              per_group=True, cost=cost)
        new = p.runs[["rep", "scale", "horizon", "lr"]]
        added.append(p.runs["kind"].value_counts().to_dict())
        df = pd.concat([df, runs_at(new, law, noise, seed=seed + 100 + rnd)],
                       ignore_index=True)
        if log:
            log(f"round {rnd + 1}: {len(new)} runs ({added[-1]}), {len(df)} in all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        final = scalefit.fit(df.drop(columns="lr_true"), by=["rep"], n_boot=n_boot,
                             seed=seed, progress=None)
    return coverage(final, df, law, reps) | {"runs": len(df), "added": added}


def coverage(final, df, law: TrueLaw, reps: int) -> dict:
    hit = {"a": [], "b": [], "predict": []}
    widths = []
    for r in range(reps):
        lw = final.law("lr_opt", {"rep": r})
        if lw is None or isinstance(lw, list) or lw.ci is None or "b" not in lw.ci:
            continue
        hit["a"].append(lw.ci["a"][0] <= law.a <= lw.ci["a"][1])
        hit["b"].append(lw.ci["b"][0] <= law.b <= lw.ci["b"][1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = final.predict(*TARGET, group={"rep": r}).rows[0]
        truth = float(law.lr_opt(*TARGET))
        if row["lr_ci"] is not None:
            hit["predict"].append(row["lr_ci"][0] <= truth <= row["lr_ci"][1])
            widths.append(np.log(row["lr_ci"][1] / row["lr_ci"][0]))
    o = final.optima
    ok = o[o["status"] == "ok"]
    truth = law.lr_opt(ok["scale"].to_numpy(float), ok["horizon"].to_numpy(float))
    lo = ok["lr_opt_lo"].fillna(0.0).to_numpy()
    hi = ok["lr_opt_hi"].fillna(np.inf).to_numpy()
    has = np.isfinite(ok["lr_opt_lo"]) | np.isfinite(ok["lr_opt_hi"])
    sweep_hit = ((lo <= truth) & (truth <= hi))[has.to_numpy()]
    out = {k: (float(np.mean(v)) if v else float("nan"), len(v)) for k, v in hit.items()}
    out["sweeps"] = (float(sweep_hit.mean()), int(sweep_hit.size))
    out["ok_sweeps"] = (len(ok), len(o))
    out["median_width_log"] = float(np.median(widths)) if widths else float("nan")
    return out


def fixed_grid(reps: int, n_lrs: int, n_boot: int, noise=0.005) -> dict:
    """Coverage of the sweep intervals on fixed grids (the control)."""
    from scalefit.synthetic import make_sweeps

    law = TrueLaw()
    frames = [make_sweeps(scales=SCALES, horizons=HORIZONS, n_lrs=n_lrs, seeds=1,
                          noise=noise, seed=r).assign(rep=r) for r in range(reps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = scalefit.fit(pd.concat(frames).drop(columns="lr_true"), by=["rep"],
                         n_boot=n_boot, progress=None)
    o = f.optima
    ok = o[o["status"] == "ok"]
    truth = law.lr_opt(ok["scale"].to_numpy(float), ok["horizon"].to_numpy(float))
    hit = ((ok["lr_opt_lo"].fillna(0.0) <= truth) & (truth <= ok["lr_opt_hi"].fillna(np.inf)))
    by_window = hit.groupby(ok["n_window"]).agg(["mean", "size"])
    return {"coverage": float(hit.mean()), "n": int(hit.size), "ok": (len(ok), len(o)),
            "by_window": {int(k): (float(v["mean"]), int(v["size"]))
                          for k, v in by_window.iterrows()}}


def validate(n_boot: int = 2000) -> dict:
    """The delta-method s.d. the planner ranks by against the bootstrap's robust spread
    (half the 16-84% range) of each sweep's ln lr_opt, over 18 designs: 5/7/9 LRs a factor
    2 apart, 1 or 2 seeds, noise 0.002/0.005/0.01, 3 scales each."""
    from scipy.stats import spearmanr

    from scalefit.core.design import optimum_variance
    from scalefit.planning.plan import design_of
    from scalefit.synthetic import make_sweeps

    frames, i = [], 0
    for noise in (0.002, 0.005, 0.01):
        for seeds in (1, 2):
            for n_lrs in (5, 7, 9):
                frames.append(make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,),
                                          n_lrs=n_lrs, seeds=seeds, noise=noise,
                                          seed=i).assign(design=i))
                i += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = scalefit.fit(pd.concat(frames).drop(columns="lr_true"), by=["design"],
                         n_boot=n_boot, progress=None)
    ds, _ = design_of(r)
    ok = ds.status == 0
    pred = np.sqrt(optimum_variance(ds, np.arange(ds.n_sweeps)))[ok]
    q = np.nanpercentile(r.boot.x_opt, [16, 84], axis=0)
    boot = ((q[1] - q[0]) / 2)[ok]
    ratio = pred / boot
    return {"n": int(ok.sum()), "median": float(np.median(ratio)),
            "q10_q90": tuple(np.quantile(ratio, [0.1, 0.9])),
            "spearman": float(spearmanr(pred, boot).statistic)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cost", default="flops")
    ap.add_argument("--fixed-grid", type=int, metavar="N",
                    help="the control: fixed grids of N LRs, no adaptivity")
    ap.add_argument("--validate", action="store_true",
                    help="the delta-method s.d. against the bootstrap's spread")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.validate:
        v = validate(args.boot)
        print(f"predicted s.d. / bootstrap robust s.d. over {v['n']} ok sweeps of 18 designs "
              f"({args.boot} resamples): median {v['median']:.2f}, 10-90% "
              f"[{v['q10_q90'][0]:.2f}, {v['q10_q90'][1]:.2f}], Spearman {v['spearman']:.2f}")
        return 0
    if args.fixed_grid:
        r = fixed_grid(args.reps, args.fixed_grid, args.boot)
        print(f"{args.reps} replications x {len(SCALES) * len(HORIZONS)} sweeps, fixed grids "
              f"of {args.fixed_grid} LRs, {args.boot} resamples: the 95% interval covers the "
              f"true optimum in {r['coverage']:.3f} of {r['n']} ok sweeps; by runs in the "
              f"window: " + ", ".join(f"{k}: {m:.2f} of {n}" for k, (m, n)
                                      in r["by_window"].items()))
        print(f"({time.perf_counter() - t0:.0f} s)")
        return 0
    res = simulate(args.reps, args.rounds, args.k, args.boot, seed=args.seed, cost=args.cost,
                   log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"{args.reps} replications, {args.rounds} rounds of {args.k} runs each, final fit "
          f"{args.boot} resamples: {res['runs']} runs in all")
    for key in ("a", "b", "predict", "sweeps"):
        share, n = res[key]
        print(f"  95% interval covers the truth: {key:<8} {share:.3f} of {n}")
    print(f"  ok sweeps at the end: {res['ok_sweeps'][0]} of {res['ok_sweeps'][1]}; median width "
          f"of the prediction interval (ln hi/lo): {res['median_width_log']:.3f}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
