"""The CPU parameterization study (Kalra & Barkeshli's claims), as one resumable command.

    python examples/studies/parameterization_cpu.py --out examples/data/parameterization_cpu.csv

Design (docs/trainer.md, "Designing a transfer study"): tiny GPTs (depth 1, 2 heads, so
the head size grows with width as muP's attention rule assumes), base width 16, widths
16 to 128 (m = 1 to 8), 512 tokens per step, every run with the same warmup in tokens and
attention normalised at the base width (so every arm is the same model at m = 1).

0. Base init, tuned at the base width: init_rel in {0.25, 0.5, 1} (sigma = init_rel /
   sqrt(16)) x an LR grid x 2 seeds, at the part-1 horizon; the init with the lowest
   grid-minimum loss is used below (the runs stay in the file, `phase` = init).
1. Width transfer at a fixed horizon (1,024 steps = 524,288 tokens at every width):
   sp, mup, sp_emb, SP plus one muP switch, muP minus one switch (11 arms) x 4 widths,
   2 seeds, LR grids widened until every optimum has 2 LRs on each side.
2. Weight decay at a fixed tokens-per-parameter ratio (20): sp and mup, decay 0 and
   0.1 (coupled, scaled with wd_transfer so that lr x wd per tensor type is the same at
   every width), widths 16 to 64, 2 seeds.
3. Init sensitivity: sp, mup and sp_emb as in part 1 at twice the chosen base init:
   at the base width the inits' losses can be closer than the seed noise (they were in
   the CPU study), while muP carries the base init to every width and SP does not, so
   the comparison at width may depend on a choice the base width cannot make.

Part 1 goes to OUT, the init runs to OUT with `_init` before the suffix, part 2 with
`_decay` and part 3 with `_init<R>` (R the init of part 3). Kill it at any moment and
rerun the same command: finished runs are skipped. On the idle 2-core machine all four
parts train in 61 minutes with two workers (854 runs; part 1 41 min), every loss identical
to the bundled tables' (examples/data/parameterization_cpu.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bracket import Sweep, grid, read_losses, run_study  # noqa: E402

from reference_trainer.config import RunConfig  # noqa: E402

BASE = dict(depth=1, n_heads=2, base_width=16, seq_len=64, batch_size=8,
            eval_tokens=65536, attn_norm="base", warmup_tokens=32768, device="cpu")
HORIZON = 1024 * 512  # tokens of part 1 at every width
WIDTHS = (16, 32, 64, 128)
ARMS = ("sp", "mup", "sp_emb",
        "sp+hidden_lr", "sp+hidden_init", "sp+readout_mult", "sp+attn",
        "mup-hidden_lr", "mup-hidden_init", "mup-readout_mult", "mup-attn")
INITS = (0.25, 0.5, 1.0)
CENTRE = 0.02  # guess of the base-width optimum; grids are widened from there
DECAY_WIDTHS = (16, 32, 64)
DECAY_ARMS = ("sp", "mup")
DECAYS = (0.0, 0.1)
TPP = 20
SENS_ARMS = ("sp", "mup", "sp_emb")


def centre(arm: str, width: int) -> float:
    """Starting guess of the optimum: flat in width when the hidden LR is muP's (1/m),
    falling as 1/m otherwise."""
    m = width / BASE["base_width"]
    mup_lr = ("hidden_lr" in arm and "-hidden_lr" not in arm) or (
        arm.startswith("mup") and "-hidden_lr" not in arm)
    return CENTRE if mup_lr else CENTRE / m


def tpp_tokens(cfg: RunConfig, tpp: float) -> int:
    from reference_trainer.build import non_embedding_params

    steps = max(1, round(tpp * non_embedding_params(cfg) / cfg.tokens_per_step))
    return steps * cfg.tokens_per_step


def best_init(out, sweeps: list[Sweep]) -> float:
    """init_rel whose sweep reaches the lowest grid-minimum mean loss over seeds."""
    losses = read_losses(out)
    best = {}
    for sw in sweeps:
        means = [sum(losses[sw.template.replace(lr=lr, seed=s).run_id] for s in sw.seeds)
                 / len(sw.seeds) for lr in sw.lrs]
        best[sw.template.init_rel] = min(means)
    for rel, loss in sorted(best.items()):
        print(f"init: init_rel {rel:g}: grid-minimum loss {loss:.4f}", file=sys.stderr)
    return min(best, key=best.get)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results CSV of part 1 (appended, resumable); "
                   "the init and decay runs go beside it (_init.csv, _decay.csv)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tiny", action="store_true",
                   help="a minutes-long version of the whole design, to test the pipeline")
    args = p.parse_args(argv)
    base = dict(BASE)
    horizon, widths, arms, inits = HORIZON, WIDTHS, ARMS, INITS
    dwidths, tpp = DECAY_WIDTHS, TPP
    if args.tiny:
        base.update(eval_tokens=4096, warmup_tokens=512 * 4)
        horizon, widths, arms, inits = 512 * 24, (16, 32), ("sp", "mup", "sp+attn"), (0.5, 1.0)
        dwidths, tpp = (16, 32), 1

    out = Path(args.out)
    out_init = out.with_name(out.stem + "_init" + out.suffix)
    out_decay = out.with_name(out.stem + "_decay" + out.suffix)
    # 0. base init at the base width (all arms are one model there)
    init_sweeps = [Sweep(f"init {rel:g}", RunConfig(param="mup", width=16, init_rel=rel,
                                                    tokens=horizon, **base),
                         grid(CENTRE, 6)) for rel in inits]
    run_study(init_sweeps, out_init, args.workers, label="init")
    rel = best_init(out_init, init_sweeps)
    print(f"init: using init_rel {rel:g} (sigma = {rel / math.sqrt(16):.4g} at base width 16)",
          file=sys.stderr)

    # 1. width transfer at a fixed horizon
    width_sweeps = [Sweep(f"{arm} w{w}", RunConfig(param=arm, width=w, init_rel=rel,
                                                   tokens=horizon, **base),
                          grid(centre(arm, w), 6))
                    for w in widths for arm in arms]
    run_study(width_sweeps, out, args.workers, label="width")

    # 2. weight decay at a fixed tokens-per-parameter ratio
    decay_sweeps = []
    for w in dwidths:
        for arm in DECAY_ARMS:
            for wd in DECAYS:
                t = RunConfig(param=arm, width=w, init_rel=rel, weight_decay=wd,
                              wd_transfer=wd > 0, **base)
                t = t.replace(tokens=tpp_tokens(t, tpp))
                decay_sweeps.append(Sweep(f"{arm} wd{wd:g} w{w}", t, grid(centre(arm, w), 6)))
    run_study(decay_sweeps, out_decay, args.workers, label="decay")
    # 3. init sensitivity: the same width-transfer design at twice the chosen init
    rel3 = 2 * rel
    out_sens = out.with_name(f"{out.stem}_init{rel3:g}{out.suffix}")
    sens_sweeps = [Sweep(f"{arm} w{w} init {rel3:g}",
                         RunConfig(param=arm, width=w, init_rel=rel3, tokens=horizon, **base),
                         grid(centre(arm, w), 6))
                   for w in widths for arm in (SENS_ARMS if not args.tiny else ("sp", "mup"))]
    run_study(sens_sweeps, out_sens, args.workers, label="init sensitivity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
