"""Benchmark: `scalefit.fit` against a straightforward loop with numpy.polyfit, same run.

The table: 5 scales x 6 horizons x 10 LRs x 2 seeds x 5 parameterization-like groups
(3,000 runs, 150 sweeps). Both implementations resample runs within each sweep
``n_boot`` times, re-estimate every optimum (quadratic in ln lr over the points within
2 grid steps of the best LR) and refit the joint law ln lr* = ln C + a ln s + b ln d per
group on every resample. The straightforward one loops over resamples and groups.

    python benchmarks/core.py [--boot 1000] [--naive-boot 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import scalefit
from scalefit.synthetic import TrueLaw, make_sweeps


def table():
    groups = {f"p{i}": TrueLaw(C=0.5, a=-0.1 * i, b=-0.3, L_inf=2.0 + 0.01 * i) for i in range(5)}
    return make_sweeps(scales=(1e7, 3e7, 1e8, 3e8, 1e9),
                       horizons=(1e9, 2e9, 4e9, 8e9, 1.6e10, 3.2e10),
                       n_lrs=10, seeds=2, noise=0.005, groups=groups, seed=0)


def naive(df, n_boot: int, seed: int = 0):
    """Loops: for each resample, for each sweep, resample runs and np.polyfit; then laws."""
    rng = np.random.default_rng(seed)
    sweeps = []
    for (p, s, d), g in df.groupby(["parameterization", "scale", "horizon"]):
        sweeps.append((p, s, d, np.log(g["lr"].to_numpy()), g["loss"].to_numpy()))
    a_draws = {p: [] for p in df["parameterization"].unique()}
    for _ in range(n_boot):
        pts = {p: [] for p in a_draws}
        for p, s, d, x, y in sweeps:
            i = rng.integers(0, len(x), len(x))
            xb, yb = x[i], y[i]
            levels = np.unique(xb)
            means = np.array([yb[xb == v].mean() for v in levels])
            j = int(np.argmin(means))
            lo, hi = max(0, j - 2), min(len(levels), j + 3)
            sel = (xb >= levels[lo]) & (xb <= levels[hi - 1])
            if len(np.unique(xb[sel])) < 3:
                continue
            c2, c1, _ = np.polyfit(xb[sel], yb[sel], 2)
            if c2 > 0:
                pts[p].append((np.log(s), np.log(d), -c1 / (2 * c2)))
        for p, rows in pts.items():
            arr = np.array(rows)
            X = np.column_stack([np.ones(len(arr)), arr[:, 0], arr[:, 1]])
            coef = np.linalg.lstsq(X, arr[:, 2], rcond=None)[0]
            a_draws[p].append(coef[1])
    return {p: np.percentile(v, [2.5, 97.5]) for p, v in a_draws.items()}


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--naive-boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df = table()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"table: {len(df)} runs, {df.groupby(['parameterization', 'scale', 'horizon']).ngroups}"
          " sweeps")
    scalefit.fit(df.head(200), n_boot=10)  # warm imports
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        r = scalefit.fit(df, by=["parameterization"], n_boot=args.boot, seed=0)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"scalefit.fit, {args.boot} resamples (optima, {len(r.laws)} laws, transfer): "
          f"best {best:.3f} s of {args.repeat} (all: {', '.join(f'{t:.3f}' for t in times)})")
    t0 = time.perf_counter()
    ci = naive(df, args.naive_boot)
    t_naive = time.perf_counter() - t0
    per = t_naive / args.naive_boot * args.boot
    note = "" if args.naive_boot == args.boot else f" (measured {args.naive_boot}, scaled)"
    print(f"straightforward loop (polyfit per sweep per resample + lstsq laws): "
          f"{per:.2f} s for {args.boot} resamples{note}")
    print(f"speed-up: {per / best:.1f}x")
    law = r.law(group={"parameterization": "p2"})
    print(f"check, exponent a of p2 (true -0.2): scalefit {law.params['a']:.4f} "
          f"CI {np.round(law.ci['a'], 4).tolist()}; loop CI {np.round(ci['p2'], 4).tolist()}")


if __name__ == "__main__":
    main()
