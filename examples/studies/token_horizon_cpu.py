"""The CPU token-horizon study (Bjorck et al.'s claims), as one resumable command.

    python examples/studies/token_horizon_cpu.py --out examples/data/token_horizon_cpu.csv \
        --init-rel 0.25

Design (docs/trainer.md, "Designing a transfer study"): muP, tiny GPTs (depth 1, 2 heads,
base width 16, attention normalised at the base width, the base init chosen by the
parameterization study's init phase), widths 8, 16, 32 and 64 at seven horizons from 2^17
to 2^23 tokens (256 to 16,384 steps of 512 tokens: 64x; about 10,000 tokens per
non-embedding parameter at width 8, 2,700 at 16, 680 at 32, 170 at 64), the same warmup
(32,768 tokens) at every horizon, cosine decay to 10% over exactly the horizon, 2 seeds,
LR grids widened until every optimum has 2 LRs on each side. Each width's runs train as
one batch, widest first (each model leaves it at its own horizon). On the idle 2-core
machine the whole design trains in 50.5 minutes with two workers (356 runs in 2 rounds;
batches of width 64: 42 min, 32: 21 min, 16: 14 min, 8: 13 min), every loss identical to
the bundled table's (examples/data/token_horizon_cpu.md).
Kill it at any moment and rerun the same command: finished runs are skipped. --widths
runs part of the design (for example on a second machine, into its own file: the files
concatenate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bracket import Sweep, grid, run_study  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402

BASE = dict(param="mup", depth=1, n_heads=2, base_width=16, seq_len=64, batch_size=8,
            eval_tokens=65536, attn_norm="base", warmup_tokens=32768, device="cpu")
HORIZONS = tuple(2**k for k in range(17, 24))
# width -> horizons; widest first, so the two workers start on the longest batches and
# the short ones fill in behind them
DESIGN = {w: HORIZONS for w in (64, 32, 16, 8)}
CENTRE = 0.02  # starting guess of the optimum at 2^20 tokens


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results CSV (appended, resumable)")
    p.add_argument("--init-rel", type=float, required=True,
                   help="base init relative to the base width (from the parameterization "
                   "study's init phase)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--widths", type=int, nargs="+", choices=sorted(DESIGN),
                   help="train only these widths of the design (default: all)")
    p.add_argument("--tiny", action="store_true",
                   help="a minutes-long version of the design, to test the pipeline")
    args = p.parse_args(argv)
    base, design = dict(BASE), dict(DESIGN)
    if args.tiny:
        base.update(eval_tokens=4096, warmup_tokens=512 * 4)
        design = {w: tuple(512 * 2**k for k in range(4, 8)) for w in (16, 32)}
    if args.widths:
        design = {w: h for w, h in design.items() if w in args.widths}
    sweeps = []
    for w, horizons in design.items():
        for h in horizons:
            # a longer horizon is expected to want a smaller LR: start the grid lower
            start = CENTRE * (h / 2**20) ** -0.3
            sweeps.append(Sweep(f"w{w} D{h}", RunConfig(width=w, tokens=h,
                                                         init_rel=args.init_rel, **base),
                                grid(start, 6)))
    run_study(sweeps, args.out, args.workers, max_batch=256, label="horizon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
