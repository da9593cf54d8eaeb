"""The CPU horizon x batch-size study (Bjorck et al.'s claims, in a stated batch regime),
as one resumable command.

    OMP_NUM_THREADS=1 python examples/studies/horizon_batch_cpu.py \
        --out examples/data/horizon_batch_cpu.csv

Design (docs/trainer.md, "Designing a transfer study"; the claims, tests and data cuts
are written down in examples/data/horizon_batch_cpu.md before the runs): muP, tiny GPTs
(depth 1, 2 heads, base width 16, attention normalised at the base width), base init
init_rel 0.5 (sigma * sqrt(base width) = 0.5, inside the rule's 0.3-0.6; set by the rule,
not tuned), context 64, widths 16 and 32, the same warmup of 16,384 tokens at every
horizon and batch size (1.6% of the shortest horizon), cosine decay to 10% over exactly
the horizon, 2 seeds, LR grids of ratio sqrt(2) (7 LRs) around a guess of each optimum,
widened until every sweep's best LR has two LRs on each side.

A. The horizon study: 8 sequences per step (512 tokens), five horizons from 2^20 to 2^24
   tokens (2,048 to 32,768 steps: 16x).
B. The batch regime: 16, 32 and 64 sequences per step at four horizons, 2^20 to 2^23
   tokens (8x); with A's batch of 8 the batch size spans 8x, so `scalefit fit --joint bs`
   finds bs*(D) and the horizon exponent both at a fixed batch and along bs*.

Each (width, batch size) trains as one batch of models, each model leaving it at its own
horizon; the widest and longest batches first, so the two workers finish together. Kill
it at any moment and rerun the same command: finished runs are skipped and the same grids
are derived again. --widths / --batch-sizes run part of the design (for example on a
second machine, into its own file: the files concatenate).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bracket import Sweep, grid, run_study  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402

BASE = dict(param="mup", depth=1, n_heads=2, base_width=16, init_rel=0.5, seq_len=64,
            eval_tokens=65536, attn_norm="base", warmup_tokens=16384, device="cpu")
WIDTHS = (32, 16)
HORIZONS = {8: tuple(2**k for k in range(20, 25)),          # A: 16x at the base batch
            **{bs: tuple(2**k for k in range(20, 24)) for bs in (16, 32, 64)}}  # B: 8x
RATIO = math.sqrt(2)
N_LRS = 7


def centre(horizon: int, batch_size: int) -> float:
    """Starting guess of the optimum: 0.012 at 2^20 tokens and 8 sequences, falling as
    horizon^-0.25 and rising as batch^0.5 (the widening rounds correct a wrong guess)."""
    return 0.012 * (horizon / 2**20) ** -0.25 * (batch_size / 8) ** 0.5


def design(widths=WIDTHS, horizons=None, tiny: bool = False) -> list[Sweep]:
    base, horizons = dict(BASE), dict(horizons or HORIZONS)
    if tiny:
        base.update(eval_tokens=4096, warmup_tokens=1024)
        horizons = {8: (2**13, 2**14, 2**15), 32: (2**13, 2**14)}
    sweeps = []
    for w in widths:
        for bs, hs in horizons.items():
            for h in hs:
                t = RunConfig(width=w, batch_size=bs, tokens=h, **base)
                sweeps.append(Sweep(f"w{w} bs{bs} D{h}", t,
                                    grid(centre(h, bs), N_LRS if not tiny else 4, RATIO),
                                    ratio=RATIO))
    return sweeps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results CSV (appended, resumable)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--widths", type=int, nargs="+", choices=WIDTHS,
                   help="train only these widths (default: both)")
    p.add_argument("--batch-sizes", type=int, nargs="+", choices=sorted(HORIZONS),
                   help="train only these batch sizes (default: all)")
    p.add_argument("--ckpt-dir", help="save the runs in progress here every 512 steps, so a "
                   "killed study resumes mid-run (default: the results file's name + .ckpt; "
                   "'none': no checkpoints)")
    p.add_argument("--tiny", action="store_true",
                   help="a minutes-long version of the design, to test the pipeline")
    args = p.parse_args(argv)
    horizons = {bs: h for bs, h in HORIZONS.items()
                if not args.batch_sizes or bs in args.batch_sizes}
    sweeps = design(tuple(args.widths or WIDTHS), horizons, args.tiny)
    # one batch per (width, batch size), as the study started (widths 16 and 32 gain 1.5-1.9x
    # from batching on this machine: benchmarks/README.md), whatever the CPU probe would say
    ckpt = None if args.ckpt_dir == "none" else (args.ckpt_dir or args.out + ".ckpt")
    run_study(sweeps, args.out, args.workers, max_batch=256, label="horizon x batch",
              batch=True, ckpt_dir=ckpt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
