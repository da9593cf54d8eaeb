"""Benchmark: the joint LR x batch-size fit (`scalefit.fit(..., joint="bs")`, issue 14).

* Step Law's dense table (../shared/datasets/steplaw/dense_lr_bs_loss.csv: 1,911 runs, 17
  (N, D) settings x 12 LRs x 10 batch sizes, 170 LR sweeps) with 1,000 resamples: the
  170 per-batch-size LR sweeps and their laws, the 17 joint surfaces (6x6 solves) on the
  same 1,000 resamples, the 5 joint laws, the batch-size-aware LR law and the exponents
  per resample. Without the shared data: skipped.
* The ground-truth coverage study of tests/test_joint.py: 50 replications x 12 (scale,
  horizon) grids x 7 LRs x 6 batch sizes (25,200 runs) as 50 --by groups, 200 resamples.

    python benchmarks/joint.py [--boot 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import pandas as pd

import scalefit
from scalefit.synthetic import make_joint_sweeps

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "steplaw" / \
    "dense_lr_bs_loss.csv"


def best_of(repeat: int, fn):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    import numpy as np

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, load average "
          f"{os.getloadavg()[0]:.2f}")
    scalefit.fit(make_joint_sweeps(seed=1), joint="bs", n_boot=10, progress=None)  # warm up
    if DATA.exists():
        df = pd.read_csv(DATA)
        best, times, r = best_of(args.repeat, lambda: scalefit.fit(
            df, scale="N", horizon="D", loss="smooth loss", joint="bs", n_boot=args.boot,
            progress=None))
        lr = r.joint.law("lr_opt")
        print(f"Step Law dense ({len(df)} runs), {args.boot} resamples: best {best:.3f} s "
              f"(all: {', '.join(f'{t:.3f}' for t in times)}); lr* ~ N^{lr.params['a']:.3f} "
              f"D^{lr.params['b']:.3f}")
    else:
        print(f"{DATA}: not found; Step Law benchmark skipped")
    df = make_joint_sweeps(reps=50, seed=7)
    best, times, _ = best_of(args.repeat, lambda: scalefit.fit(
        df, joint="bs", by="rep", n_boot=200, progress=None))
    print(f"coverage study ({len(df)} runs, 50 groups), 200 resamples: best {best:.3f} s "
          f"(all: {', '.join(f'{t:.3f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
