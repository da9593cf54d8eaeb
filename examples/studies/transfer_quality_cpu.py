"""The CPU transfer-quality study (Kalra & Barkeshli's claims), as one resumable command.

    OMP_NUM_THREADS=1 python examples/studies/transfer_quality_cpu.py \
        --out examples/data/transfer_quality_cpu.csv

Design (docs/trainer.md, "Designing a transfer study"; the claims, tests and data cuts are
written down in examples/data/transfer_quality_cpu.md before the runs): tiny GPTs (depth
1, 2 heads, so the head grows with width), base width 8, **five widths 8 to 128 (m = 1 to
16)**, a fixed horizon of 2^19 tokens (1,024 steps of 8 x 64 tokens) at every width, the
same warmup of 16,384 tokens (3% of the horizon), cosine decay to 10%, attention
normalised at the base width, 2 seeds, LR grids of ratio 2 (7 LRs around a guess),
widened until every sweep's best LR has two LRs on each side. Text in a **2,048-token BPE
vocabulary** (`data = "stdlib-bpe2048"`), where the embedding LR can matter.

Arms, each with **its own init convention**:
  sp      `sp_fanin`, init_rel 1: every matrix at 1/sqrt(fan_in) at every width (the
          usual SP init), one global Adam LR;
  sp_emb  `sp_fanin+emb_lr`, init_rel 1: the same with the embedding LR times m;
  mup     `mup`, init_rel 0.5 (sigma x sqrt(base width) = 0.5, set inside the design
          rule's 0.3-0.6, not tuned): hidden init 0.5/sqrt(fan_in), LR 1/m, logits 1/m,
          attention 1/d_head.

1. main: the three arms x 5 widths (this file);
2. decay: sp and mup with coupled weight decay 0.1 (`wd_transfer`: lr x decay per tensor
   type the same at every width), against part 1's decay 0 (`_decay` beside OUT);
3. bytes: the three arms in the 256-byte vocabulary, the contrast (`_bytes` beside OUT).

Kill it at any moment and rerun the same command: finished runs are skipped and the same
grids are derived again. --parts runs some parts only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bracket import Sweep, grid, run_study  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402

BASE = dict(depth=1, n_heads=2, base_width=8, seq_len=64, batch_size=8, tokens=2**19,
            eval_tokens=65536, attn_norm="base", warmup_tokens=16384, device="cpu",
            data="stdlib-bpe2048")
WIDTHS = (128, 64, 32, 16, 8)  # widest first: the longest batches start first
ARMS = {"sp": ("sp_fanin", 1.0), "sp_emb": ("sp_fanin+emb_lr", 1.0), "mup": ("mup", 0.5)}
DECAY_ARMS = ("sp", "mup")
DECAY = 0.1
RATIO = 2.0  # amended before any run (see the sidecar): sqrt(2) left valleys unresolved
N_LRS = 7
CENTRE = 0.01  # guess of the base-width optimum; grids are widened from there
PARTS = ("main", "decay", "bytes")


def centre(arm: str, width: int) -> float:
    """Starting guess of the optimum: flat in width under muP, falling as 1/m under SP's
    global LR."""
    m = width / BASE["base_width"]
    return CENTRE if arm == "mup" else CENTRE / m


def sweeps_of(arms, widths, base: dict, n_lrs: int, **extra) -> list[Sweep]:
    out = []
    for w in widths:
        for arm in arms:
            param, init_rel = ARMS[arm]
            t = RunConfig(param=param, width=w, init_rel=init_rel, **base, **extra)
            tag = "".join(f" {k}={v}" for k, v in extra.items())
            out.append(Sweep(f"{arm} w{w}{tag}", t, grid(centre(arm, w), n_lrs, RATIO),
                             ratio=RATIO))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results CSV of part 1 (appended, "
                   "resumable); parts 2 and 3 go beside it (_decay.csv, _bytes.csv)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--ckpt-dir", help="save the runs in progress here every 512 steps, so a "
                   "killed study resumes mid-run (default: the results file's name + .ckpt; "
                   "'none': no checkpoints)")
    p.add_argument("--tiny", action="store_true",
                   help="a minutes-long version of the design, to test the pipeline")
    args = p.parse_args(argv)
    base, widths, n_lrs = dict(BASE), WIDTHS, N_LRS
    if args.tiny:
        base.update(tokens=2**13, eval_tokens=4096, warmup_tokens=1024, data="stdlib-bpe300")
        widths, n_lrs = (16, 8), 4
    out = Path(args.out)
    files = {"main": out, "decay": out.with_name(out.stem + "_decay" + out.suffix),
             "bytes": out.with_name(out.stem + "_bytes" + out.suffix)}
    parts = {"main": sweeps_of(ARMS, widths, base, n_lrs),
             "decay": sweeps_of(DECAY_ARMS, widths, base, n_lrs, weight_decay=DECAY,
                                wd_transfer=True),
             "bytes": sweeps_of(ARMS, widths, {**base, "data": "stdlib"}, n_lrs)}
    for name in PARTS:  # in this order: the budget cuts the last part first
        if name in args.parts:
            ckpt = (None if args.ckpt_dir == "none" else
                    args.ckpt_dir or str(files[name]) + ".ckpt")
            run_study(parts[name], files[name], args.workers, max_batch=256, label=name,
                      ckpt_dir=ckpt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
