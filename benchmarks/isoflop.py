"""Benchmark: `scalefit.fit_isoflop` and `ChinchillaResult.allocate`.

* Porian et al.'s IsoFLOP table (../shared/datasets/resolving-scaling-law-discrepancies/
  isoflop_points.csv: 1,745 points, 15 configurations, 177 profiles) with the six
  configuration columns as --by and 1,000 resamples: every profile's optimum on every
  resample (one pass of the LR-sweep estimator) and 4 laws per configuration, each
  refitted on every resample. Without the shared data: skipped.
* The ground-truth coverage study of tests/test_isoflop.py: 60 replications x 6 budgets
  x 9 model sizes as 60 --by groups, 300 resamples.
* Allocation: 1,000 draws x 100 budgets through the closed form.

    python benchmarks/isoflop.py [--boot 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from scalefit import fit_isoflop
from scalefit.core.allocation import chinchilla_allocation
from scalefit.synthetic import make_isoflop

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / \
    "resolving-scaling-law-discrepancies" / "isoflop_points.csv"
CONFIG = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]


def best_of(repeat: int, fn):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if DATA.exists():
        import pandas as pd

        table = pd.read_csv(DATA)
        best, times, res = best_of(args.repeat, lambda: fit_isoflop(
            table, by=CONFIG, n_boot=args.boot, progress=None))
        law = res.law("N_opt", dict(zip(CONFIG, ("rw", "tuned", "short", "const", "standard",
                                                  "val"))))
        print(f"Porian table, {len(res.profiles)} profiles, {args.boot} resamples: best "
              f"{best:.3f} s (all: {', '.join(f'{t:.3f}' for t in times)}); tuned rw a = "
              f"{law.params['a']:.4f} [{law.ci['a'][0]:.4f}, {law.ci['a'][1]:.4f}]")
    else:
        print(f"{DATA} not found: Porian benchmark skipped")
    df = make_isoflop(reps=60, seed=3)
    best, times, _ = best_of(args.repeat, lambda: fit_isoflop(df, by=["rep"], n_boot=300,
                                                              progress=None))
    print(f"coverage study, 360 profiles, 300 resamples: best {best:.3f} s "
          f"(all: {', '.join(f'{t:.3f}' for t in times)})")
    rng = np.random.default_rng(0)
    draws = np.column_stack([rng.uniform(1.7, 1.9, 1000), rng.uniform(300, 600, 1000),
                             rng.uniform(1000, 3000, 1000), rng.uniform(0.3, 0.4, 1000),
                             rng.uniform(0.3, 0.4, 1000)])
    budgets = np.geomspace(1e18, 1e26, 100)
    best, _, _ = best_of(args.repeat, lambda: chinchilla_allocation(draws, budgets))
    print(f"allocation, 1,000 draws x 100 budgets: best {best * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
