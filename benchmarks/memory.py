"""Benchmark: time and peak memory of `scalefit.fit` as the table grows to a million runs.

Each size runs in a fresh process (peak RSS is the process's high-water mark, so sizes
cannot share one). The table: ``families`` --by groups x 10 scales x 5 horizons sweeps of
10 LRs x 2 seeds (20 runs per sweep) from a known law with loss noise 0.005; 1,000
families are 50,000 sweeps and 1,000,000 runs. Prints per size: runs, sweeps, wall and
CPU seconds of the fit, the process's peak RSS and the baseline RSS after building the
table (the fit's own share is the difference), and the per-run cost relative to the
smallest size.

    python benchmarks/memory.py [--families 10 100 1000] [--boot 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from core import cpu_name  # benchmarks/core.py: this script's folder is on sys.path

SCALES = np.geomspace(1e7, 1e9, 10)
HORIZONS = np.geomspace(1e9, 1.6e10, 5)


def table(families: int, seed: int = 0) -> pd.DataFrame:
    """families x 50 sweeps x 20 runs, built with array operations (no per-sweep frames)."""
    rng = np.random.default_rng(seed)
    f, s, d = (a.ravel() for a in np.meshgrid(np.arange(families), SCALES, HORIZONS,
                                             indexing="ij"))
    G = f.size
    x_star = np.log(0.5) - 0.2 * np.log(s / 1e8) - 0.3 * np.log(d / 1e10) \
        + rng.normal(0, 0.05, G)
    centre = x_star + rng.uniform(-0.5, 0.5, G) * np.log(2.0)
    grid = (np.arange(10) - 4.5) * np.log(2.0)
    x = (centre[:, None] + grid[None, :])[:, :, None].repeat(2, axis=2).reshape(G, 20)
    loss = 2.0 + 0.5 * (s / 1e8)[:, None] ** -0.1 + 0.02 * (x - x_star[:, None]) ** 2 \
        + rng.normal(0, 0.005, (G, 20))
    return pd.DataFrame({"family": np.repeat(f, 20), "scale": np.repeat(s, 20),
                         "horizon": np.repeat(d, 20), "lr": np.exp(x.ravel()),
                         "loss": loss.ravel(), "seed": np.tile([0, 1], G * 10)})


def child(families: int, boot: int) -> None:
    import scalefit

    df = table(families)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c0, t0 = time.process_time(), time.perf_counter()
    r = scalefit.fit(df, by=["family"], n_boot=boot, progress=None)
    out = {"runs": len(df), "sweeps": int(len(r.optima)), "wall_s": time.perf_counter() - t0,
           "cpu_s": time.process_time() - c0, "base_kib": base,
           "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           "laws": len(r.laws)}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.boot)
        return
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, {args.boot} resamples, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| runs | sweeps | wall s | CPU s | peak RSS MiB | table RSS MiB | fit MiB | "
          "CPU per run vs smallest |")
    print("|---|---|---|---|---|---|---|---|")
    first = None
    for fam in args.families:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        p = subprocess.run([sys.executable, __file__, "--child", str(fam), "--boot",
                            str(args.boot)], capture_output=True, text=True, env=env)
        if p.returncode:
            print(f"| {fam} families | failed: {p.stderr.strip().splitlines()[-1]} |")
            continue
        o = json.loads(p.stdout.strip().splitlines()[-1])
        per = o["cpu_s"] / o["runs"]
        first = first or per
        print(f"| {o['runs']:,} | {o['sweeps']:,} | {o['wall_s']:.1f} | {o['cpu_s']:.1f} | "
              f"{o['peak_kib'] / 1024:.0f} | {o['base_kib'] / 1024:.0f} | "
              f"{(o['peak_kib'] - o['base_kib']) / 1024:.0f} | {per / first:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
