"""Batched against one-by-one training of the same runs: how far apart their losses end, by LR.

    OMP_NUM_THREADS=1 python benchmarks/batched_agreement.py            # about 2 minutes
    OMP_NUM_THREADS=1 python benchmarks/batched_agreement.py --widths 16 --steps 200

For each width, an LR sweep (half-octave grid, from well below the optimum to past 8x
it) of tiny CPU runs (depth 1, seq 32, batch 8, fp32) is trained twice: as one batch
(`batched_train.train_batch`) and one run at a time (`train.train`). Per LR it prints
the relative difference of the final val_loss, the largest relative difference of the
training loss over all steps, and the first step at which the training losses differ by
more than 1e-6 (relative). `lr/opt` is the LR over the best LR of the one-by-one sweep.
The two paths compute the same math with different kernels (`bmm` over K models against
one `mm`, one flat AdamW over all models against per-tensor updates), so their float
sums are ordered differently; how much that rounding grows depends on the dynamics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from reference_trainer import batched_train, train  # noqa: E402
from reference_trainer.config import RunConfig  # noqa: E402


def configs(a, width: int) -> list[RunConfig]:
    lrs = [a.lr_min * 2 ** (i / 2) for i in range(a.n_lrs)]
    return [RunConfig(width=width, depth=1, head_dim=16, seq_len=32, batch_size=8,
                      base_width=32, tokens=32 * 8 * a.steps, eval_tokens=4096, lr=lr,
                      param=a.param, seed=a.seed, device="cpu") for lr in lrs]


def first_divergence(x: list[float], y: list[float], rtol: float = 1e-6) -> int | None:
    for i, (u, v) in enumerate(zip(x, y)):
        if abs(u - v) > rtol * abs(v):
            return i + 1
    return None


def measure(a, width: int) -> None:
    cfgs = configs(a, width)
    t0 = time.perf_counter()
    bc, sc = {}, {}
    rows = batched_train.train_batch(cfgs, quiet=True, losses_out=bc)
    seq = [train.train(c, quiet=True, losses_out=sc) for c in cfgs]
    ok = [r for r in seq if r["val_loss"] is not None]
    best = min(ok, key=lambda r: r["val_loss"])["lr"] if ok else float("nan")
    print(f"\nwidth {width}, {a.param}, seed {a.seed}, {a.steps} steps, best LR {best:.3g} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"{'lr':>9} {'lr/opt':>7} {'val batched':>12} {'val single':>12} "
          f"{'val rel diff':>12} {'max train rel':>13} {'first step >1e-6':>16}")
    for c, b, s in zip(cfgs, rows, seq, strict=True):
        x, y = bc[c.run_id], sc[c.run_id]
        n = min(len(x), len(y))
        train_rel = max(abs(u - v) / abs(v) for u, v in zip(x[:n], y[:n]))
        vb, vs = b["val_loss"], s["val_loss"]
        val = (f"{abs(vb - vs) / vs:12.2e}" if vb is not None and vs is not None
               else f"{'(' + b['status'] + '/' + s['status'] + ')':>12}")
        first = first_divergence(x[:n], y[:n])
        print(f"{c.lr:9.3g} {c.lr / best:7.2f} {vb or float('nan'):12.6f} "
              f"{vs or float('nan'):12.6f} {val} {train_rel:13.2e} "
              f"{first if first is not None else '-':>16}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", default="16,32")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr-min", type=float, default=1e-3)
    p.add_argument("--n-lrs", type=int, default=12, help="half-octave LRs from --lr-min")
    p.add_argument("--param", default="mup")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, CPU fp32, one thread")
    for w in map(int, a.widths.split(",")):
        measure(a, w)


if __name__ == "__main__":
    main()
