"""Benchmark: `scalefit.fit` against a straightforward loop with numpy.polyfit, same run.

The table: 5 scales x 6 horizons x 10 LRs x 2 seeds x 5 parameterization-like groups
(3,000 runs, 150 sweeps). Both implementations resample runs within each sweep
``n_boot`` times, re-estimate every optimum (quadratic in ln lr over the points within
2 grid steps of the best LR) and refit the joint law ln lr* = ln C + a ln s + b ln d per
group on every resample. The straightforward one loops over resamples and groups.

Two timings of scalefit against the same loop:

* the whole fit, ``scalefit.fit(df, by=["parameterization"], n_boot)``: optima, all 95
  laws (joint lr and curvature laws, conditional laws, loss laws, each refitted on every
  resample, shape tests), transfer quality;
* the loop's job done by scalefit's own pieces (``optima_and_lr_laws``): the table edge,
  the sweeps, the point optima, every optimum on every resample, one joint law of lr_opt
  per group with its draws (the same numbers as the fit's primary laws).

``--baseline DIR`` also times ``scalefit.fit`` from another checkout (e.g. a worktree at
an earlier commit), alternating with this one, each in a fresh process: an A/B in the same
run on the same load.

    python benchmarks/core.py [--boot 1000] [--naive-boot 1000] [--repeat 3]
                              [--baseline DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's scalefit, not an installed one

import numpy as np  # noqa: E402

import scalefit  # noqa: E402
from scalefit.synthetic import TrueLaw, make_sweeps  # noqa: E402


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


def optima_and_lr_laws(df, n_boot: int, seed: int = 0) -> dict:
    """The loop's job with scalefit's pieces: the table edge and the sweeps
    (``table.load_runs``, ``sweep_set.lr_sweeps``), the point optima
    (``core.optimum.fit_sweeps``), every optimum on every resample
    (``core.bootstrap.bootstrap_sweeps``, the fit's resamples) and per group one joint law
    of lr_opt with its draws (``core.laws.power_laws``; vertices clamped to the tried LRs,
    as the fit's laws use them). Returns group -> LawFit."""
    from scalefit.core.bootstrap import bootstrap_sweeps
    from scalefit.core.laws import power_laws
    from scalefit.core.optimum import DEFAULT_WINDOW, OK, fit_sweeps
    from scalefit.sweep_set import lr_sweeps
    from scalefit.table import load_runs

    runs = load_runs(df, by=("parameterization",))
    ss = lr_sweeps(runs)
    groups, sw = ss.groups, ss.sweeps
    n, s, q = sw.level_sums()
    point = fit_sweeps(sw.x, n, s, q, window=DEFAULT_WINDOW, x_div=sw.x_div)
    boot = bootstrap_sweeps(sw, n_boot, seed, DEFAULT_WINDOW)
    with np.errstate(invalid="ignore"):
        x_law = np.clip(boot.x_opt, np.nanmin(sw.x, 1), np.nanmax(sw.x, 1))
    label = groups["parameterization"].to_numpy()
    specs = []
    for p in sorted(set(label)):
        cols = np.flatnonzero((label == p) & (point.status == OK))
        specs.append({"target": "lr_opt", "variables": ("scale", "horizon"),
                      "values": {v: groups[v].to_numpy(float)[cols] for v in ("scale",
                                                                              "horizon")},
                      "y": np.exp(point.x_opt[cols]), "y_boot": np.exp(x_law[:, cols]),
                      "group": {"parameterization": p}, "ci_level": 0.95})
    return {sp["group"]["parameterization"]: law for sp, law in zip(specs, power_laws(specs))}


def best_of(f, repeat: int) -> tuple[float, list[float], object, float]:
    """Best wall time, all wall times, the last result and the best CPU time of this
    process (on a shared machine the CPU time shows the code's cost with less of the
    other jobs' time slices in it)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = f()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(times), times, out, min(cpu)


FIT_ONLY = """
import json, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(1, {bench!r})
import scalefit
from core import table
df = table()
scalefit.fit(df.head(200), n_boot=10, progress=None)
times, cpu = [], []
for _ in range({repeat}):
    t0, c0 = time.perf_counter(), time.process_time()
    scalefit.fit(df, by=["parameterization"], n_boot={boot}, seed=0, progress=None)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({{"file": scalefit.__file__, "times": times, "cpu": cpu}}))
"""


def fit_in_process(root: Path, repeat: int, boot: int) -> dict:
    """``scalefit.fit`` of the checkout at ``root`` timed in a fresh process."""
    code = FIT_ONLY.format(root=str(root), bench=str(ROOT / "benchmarks"), repeat=repeat,
                           boot=boot)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(root))
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    ap.add_argument("--baseline", type=Path, help="another checkout to time scalefit.fit from")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds with --baseline")
    args = ap.parse_args()
    df = table()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}" + (f", load average {load[0]:.2f}" if load else ""))
    print(f"scalefit from {Path(scalefit.__file__).parent}")
    print(f"table: {len(df)} runs, {df.groupby(['parameterization', 'scale', 'horizon']).ngroups}"
          " sweeps")
    scalefit.fit(df.head(200), n_boot=10, progress=None)  # warm imports
    optima_and_lr_laws(df.head(200), 10)

    best, times, r, cpu = best_of(lambda: scalefit.fit(df, by=["parameterization"],
                                                       n_boot=args.boot, seed=0,
                                                       progress=None), args.repeat)
    print(f"scalefit.fit, {args.boot} resamples (optima, {len(r.laws)} laws, transfer): "
          f"best {best:.3f} s of {args.repeat} (all: {', '.join(f'{t:.3f}' for t in times)}); "
          f"CPU best {cpu:.3f} s")
    best_core, times_core, laws, cpu_core = best_of(lambda: optima_and_lr_laws(df, args.boot),
                                                    args.repeat)
    print(f"optima + LR laws (the loop's job with scalefit's pieces), {args.boot} resamples: "
          f"best {best_core:.3f} s of {args.repeat} "
          f"(all: {', '.join(f'{t:.3f}' for t in times_core)}); CPU best {cpu_core:.3f} s")

    t0, c0 = time.perf_counter(), time.process_time()
    ci = naive(df, args.naive_boot)
    scale = args.boot / args.naive_boot
    per, per_cpu = (time.perf_counter() - t0) * scale, (time.process_time() - c0) * scale
    note = "" if args.naive_boot == args.boot else f" (measured {args.naive_boot}, scaled)"
    print(f"straightforward loop (polyfit per sweep per resample + lstsq laws): "
          f"{per:.2f} s for {args.boot} resamples{note}; CPU {per_cpu:.2f} s")
    print(f"speed-up, whole fit: {per / best:.1f}x (CPU {per_cpu / cpu:.1f}x); "
          f"optima + LR laws: {per / best_core:.1f}x (CPU {per_cpu / cpu_core:.1f}x)")
    law = r.law(group={"parameterization": "p2"})
    mine = laws["p2"]
    print(f"check, exponent a of p2 (true -0.2): scalefit.fit {law.params['a']:.4f} "
          f"CI {np.round(law.ci['a'], 4).tolist()}; optima + LR laws {mine.params['a']:.4f} "
          f"CI {np.round(mine.ci['a'], 4).tolist()}; loop CI {np.round(ci['p2'], 4).tolist()}")

    if args.baseline is not None:
        print(f"A/B, scalefit.fit in fresh processes, {args.rounds} alternating rounds of "
              f"{args.repeat}:")
        for _ in range(args.rounds):
            for name, root in (("baseline", args.baseline.resolve()), ("this", ROOT)):
                res = fit_in_process(root, args.repeat, args.boot)
                print(f"  {name:8s} ({Path(res['file']).parents[1]}): best "
                      f"{min(res['times']):.3f} s (all: "
                      f"{', '.join(f'{t:.3f}' for t in res['times'])}); CPU best "
                      f"{min(res['cpu']):.3f} s")


if __name__ == "__main__":
    main()
