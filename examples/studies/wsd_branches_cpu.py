"""One run, many horizons, checked: a horizon study made of WSD branches against the same
study made of separate runs, on the reference trainer (CPU, a toy width), as one
resumable command.

    OMP_NUM_THREADS=1 python examples/studies/wsd_branches_cpu.py --workers 2 \
        --out examples/data/wsd_branches_cpu.csv \
        --separate examples/data/wsd_branches_cpu_separate.csv
    python examples/studies/wsd_branches_cpu.py --analyse \
        --out examples/data/wsd_branches_cpu.csv \
        --separate examples/data/wsd_branches_cpu_separate.csv

Design (pre-registered in examples/data/wsd_branches_cpu.md before the runs): muP, a tiny
GPT (width 32, depth 1, 2 heads, base width 16, attention normalised at the base width,
init_rel 0.5), context 64, 8 sequences per step (512 tokens), WSD with the trainer's
default cooldown (the last 20% of the steps, linear to 10% of the peak), the same warmup
of 4,096 tokens (8 steps) at every horizon, four horizons 2^17 to 2^20 tokens (256 to
2,048 steps), 7 LRs of ratio 2 around 0.016 (one grid for every horizon, widened at every
horizon together until each horizon's best LR has two LRs on each side), 2 seeds.

Arm A (``--out``): every (LR, seed) is one branch family: its stable run trains once, to
the decay start of 2^20 tokens, and each horizon's cooldown branches from a copy
(`reference_trainer.branches`). Arm B (``--separate``): the same runs, each trained alone
(one `sweep.run` per horizon, so no two runs of one stable run meet in a call and every
run goes through `train.train`), after arm A's grids are final. The two files hold the
same run_ids; on a CPU their losses should be bit-equal.

``--analyse`` prints the comparison (the sidecar's "Results"): row equality, the tokens
each arm trained, the optima per horizon and the horizon exponent b with 95% intervals
from arm A fitted with the cluster bootstrap (its branches resampled together) and arm B
fitted as independent runs, and the pre-registered verdict.

Kill it at any moment and rerun the same command: finished runs are skipped and the same
grids are derived again from arm A's file.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bracket import Sweep, grid, missing_lrs, read_losses  # noqa: E402

from reference_trainer import sweep  # noqa: E402
from reference_trainer.config import RunConfig  # noqa: E402

BASE = dict(param="mup", width=32, depth=1, n_heads=2, base_width=16, init_rel=0.5,
            seq_len=64, batch_size=8, eval_tokens=2**17, attn_norm="base",
            warmup_tokens=4096, schedule="wsd", device="cpu")
HORIZONS = tuple(2**k for k in range(17, 21))
SEEDS = (0, 1)
CENTRE, N_LRS = 0.016, 7
MARGIN_B = 0.05  # agreement margin on |b_A - b_B| (pre-registered)


def design(tiny: bool = False) -> tuple[dict, tuple[int, ...], list[float]]:
    base, horizons, lrs = dict(BASE), HORIZONS, grid(CENTRE, N_LRS)
    if tiny:
        base.update(eval_tokens=4096, warmup_tokens=1024)
        horizons, lrs = (2**13, 2**14, 2**15), grid(CENTRE, 4)
    return base, horizons, lrs


def runs(base: dict, lrs, horizons, seeds=SEEDS) -> list[RunConfig]:
    return [RunConfig(lr=lr, seed=s, tokens=h, **base)
            for lr in sorted(lrs) for s in seeds for h in horizons]


def grids(base: dict, horizons, lrs: list[float], out) -> tuple[list[float], list[float]]:
    """(the grid, LRs to add): one LR grid for every horizon; an LR any horizon's sweep
    needs to be bracketed (`bracket.missing_lrs`) is added at every horizon."""
    losses = read_losses(out)
    add: set[float] = set()
    for h in horizons:
        sw = Sweep(f"D{h}", RunConfig(tokens=h, **base), list(lrs), SEEDS)
        add |= set(missing_lrs(sw, losses))
    return sorted(lrs), sorted(add - set(lrs))


def family_tokens(cfgs: list[RunConfig]) -> int:
    """Tokens a branch family trains: its stable run to the latest decay start, then every
    branch's cooldown (evaluation not counted)."""
    tps = cfgs[0].tokens_per_step
    return tps * (max(c.decay_start for c in cfgs) + sum(c.cooldown_steps for c in cfgs))


def train(args) -> int:
    base, horizons, lrs = design(args.tiny)
    devices = sweep.resolve_devices("cpu", args.workers)
    t0 = time.perf_counter()
    for rnd in range(1, args.max_rounds + 1):
        cfgs = runs(base, lrs, horizons)
        print(f"wsd branches: arm A round {rnd}: {len(lrs)} LRs x {len(SEEDS)} seeds x "
              f"{len(horizons)} horizons = {len(cfgs)} runs", file=sys.stderr, flush=True)
        counts = sweep.run(cfgs, args.out, devices)
        if counts["failed"]:
            raise RuntimeError(f"{counts['failed']} runs failed; see the log above")
        lrs, add = grids(base, horizons, lrs, args.out)
        if not add:
            break
        print(f"wsd branches: widening every horizon's grid by {add}", file=sys.stderr)
        lrs = sorted(set(lrs) | set(add))
    ta = time.perf_counter() - t0
    print(f"wsd branches: arm A done in {ta:.0f} s (this invocation; grids {lrs})",
          file=sys.stderr, flush=True)
    if args.separate:
        t1 = time.perf_counter()
        seeds = tuple(args.separate_seeds) if args.separate_seeds else SEEDS
        for h in sorted(horizons, reverse=True):  # one call per horizon: every run alone
            cfgs = runs(base, lrs, (h,), seeds)
            counts = sweep.run(cfgs, args.separate, devices)
            if counts["failed"]:
                raise RuntimeError(f"{counts['failed']} runs failed; see the log above")
        print(f"wsd branches: arm B done in {time.perf_counter() - t1:.0f} s (this "
              "invocation)", file=sys.stderr, flush=True)
    return 0


# --------------------------------------------------------------------------- analysis


def _read(path):
    import pandas as pd

    return pd.read_csv(path, dtype={"val_loss": str, "train_loss": str}, keep_default_na=False)


def equality(a, b) -> tuple[int, int, list[str]]:
    """(runs of arm B, of them bit-equal to arm A's row, run_ids that differ or are
    missing): losses compared as the written text (repr of the float: bit for bit)."""
    ia = a.set_index("run_id")
    bad = []
    for _, r in b.iterrows():
        if r["run_id"] not in ia.index:
            bad.append(r["run_id"])
            continue
        ra = ia.loc[r["run_id"]]
        if any(str(ra[k]) != str(r[k]) for k in ("val_loss", "train_loss", "status",
                                                   "branch_of", "lr", "seed", "tokens")):
            bad.append(r["run_id"])
    return len(b), len(b) - len(bad), bad


def arm_tokens(df, base: dict) -> tuple[int, int]:
    """(tokens arm A trained as branch families, tokens the same runs cost trained alone)
    for the rows of `df`."""
    fams: dict[str, list[RunConfig]] = {}
    for _, r in df.iterrows():
        cfg = RunConfig(lr=float(r["lr"]), seed=int(r["seed"]), tokens=int(r["tokens"]),
                        **base)
        fams.setdefault(r["branch_of"], []).append(cfg)
    branched = sum(family_tokens(f) for f in fams.values())
    alone = sum(c.steps * c.tokens_per_step for f in fams.values() for c in f)
    return branched, alone


def _fit(df, n_boot: int, branches: bool):
    import scalefit

    d = df.copy()
    for k in ("val_loss", "train_loss"):
        d[k] = d[k].replace("", "nan").astype(float)
    if not branches:
        d = d.drop(columns="branch_of")
    return scalefit.fit(d, n_boot=n_boot, seed=0, progress=None)


def _b(res):
    import numpy as np

    law = res.law("lr_opt")
    if law is None or isinstance(law, list):
        return None, (np.nan, np.nan), None
    k = list(law.param_names).index("b")
    draws = None if law.boot is None else np.asarray(law.boot)[:, k]
    return law.params["b"], law.conf_int()["b"], draws


def _g(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


def analyse(args) -> int:
    import numpy as np

    base, horizons, _ = design(args.tiny)
    a, b = _read(args.out), _read(args.separate)
    n_b, n_eq, bad = equality(a, b)
    ta, tb_alone = arm_tokens(a, base)
    tb = sum(int(t) for t in b["tokens"])
    print("## Measured\n")
    print(f"Rows: arm A {len(a)}, arm B {len(b)}; {n_eq} of {n_b} arm-B rows bit-equal to "
          f"arm A's row of the same run_id (val_loss, train_loss, status, branch_of)"
          + (f"; differ: {', '.join(bad[:10])}" if bad else "") + ".\n")
    print(f"Tokens trained (evaluation not counted): arm A (branch families) {ta:,}; "
          f"the same {len(a)} runs trained alone {tb_alone:,} ({tb_alone / ta:.2f}x); "
          f"arm B as trained ({len(b)} runs) {tb:,}.\n")
    fits = {"A: branches, cluster bootstrap": _fit(a, args.boot, True),
            "B: separate runs, independent": _fit(b, args.boot, False),
            "B: separate runs, cluster bootstrap (its branch_of)": _fit(b, args.boot, True)}
    print("| fit | " + " | ".join(f"lr*(2^{round(math.log2(h))})" for h in horizons)
          + " | b [95%] | width of b's interval |")
    print("|---|" + "---|" * (len(horizons) + 2))
    bs = {}
    for name, res in fits.items():
        opt = res.optima.set_index("horizon")
        cells = []
        for h in horizons:
            if h not in opt.index:
                cells.append("-")
                continue
            o = opt.loc[h]
            cells.append(f"{_g(o['lr_opt'])} [{_g(o.get('lr_opt_lo'))}, "
                         f"{_g(o.get('lr_opt_hi'))}] {o['status']}")
        bb, ci, draws = bs[name] = _b(res)
        width = (ci[1] - ci[0]) if bb is not None else float("nan")
        print(f"| {name} | " + " | ".join(cells)
              + f" | {_g(bb)} [{_g(ci[0])}, {_g(ci[1])}] | {_g(width)} |")
    (ba, _, da), (bb_, _, db) = bs["A: branches, cluster bootstrap"], \
        bs["B: separate runs, independent"]
    print()
    if ba is None or bb_ is None or da is None or db is None:
        print("Verdict: not resolved (a law or its draws is missing).")
        return 0
    diff = np.subtract.outer(da, db).ravel()
    lo, hi = np.percentile(diff, [2.5, 97.5])
    agree = abs(ba - bb_) < MARGIN_B and lo <= 0 <= hi
    print(f"b_A - b_B = {ba - bb_:.4g}, 95% interval [{lo:.4g}, {hi:.4g}] (the two fits' "
          f"draws combined as independent, all {len(da)} x {len(db)} pairs). Verdict: the "
          f"exponents {'agree' if agree else 'do not agree'} (pre-registered: |b_A - b_B| "
          f"< {MARGIN_B} and the interval contains 0).")
    wa = np.subtract(*bs["A: branches, cluster bootstrap"][1][::-1])
    wb = np.subtract(*bs["B: separate runs, independent"][1][::-1])
    print(f"Width of b's 95% interval: cluster {wa:.4g}, independent {wb:.4g} "
          f"(ratio {wa / wb:.3g}).")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="arm A's results CSV (branch families)")
    p.add_argument("--separate", help="arm B's results CSV (the same runs trained alone); "
                   "trained after arm A's grids are final")
    p.add_argument("--separate-seeds", type=int, nargs="+",
                   help="train arm B for these seeds only (default: every seed)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-rounds", type=int, default=3)
    p.add_argument("--analyse", action="store_true", help="print the comparison; train nothing")
    p.add_argument("--boot", type=int, default=1000, help="resamples of --analyse's fits")
    p.add_argument("--tiny", action="store_true",
                   help="a minutes-long version of the design, to test the pipeline")
    args = p.parse_args(argv)
    if args.analyse:
        if not args.separate:
            p.error("--analyse needs --separate")
        return analyse(args)
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
