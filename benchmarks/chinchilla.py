"""Benchmark: `scalefit.fit_chinchilla` against a straightforward scipy loop, same run.

Data: Epoch's extraction of Hoffmann et al.'s Figure 4 (240 points after dropping the 5
highest losses, D = C / (6 N)), read from ../shared/datasets/analyzing-chinchilla/.

Fast: ``fit_chinchilla(n, d, loss, n_boot=1000)``: the 4,500-start Epoch grid evaluated at
once, the best 20 refined by L-BFGS-B with the analytic gradient, then 1,000 bootstrap
resamples refitted together by the batched Newton method.

Straightforward: what a user writing it directly would do: a Python loop of
``scipy.optimize.minimize(method="L-BFGS-B")`` with numeric gradients, one per start and
one per resample (each resample started from the full-data optimum). It is run on a
subset (spread over the grid, and the first resamples) and extrapolated linearly to
4,500 starts + 1,000 resamples. Its resample refits are also compared with the fast
ones on the same resamples (objective values and exponents).

    python benchmarks/chinchilla.py [--boot 1000] [--naive-starts 100] [--naive-boot 20]
                                    [--repeat 3] [--json out.json]
    python benchmarks/chinchilla.py --vs-cli [--boot 200] [--repeat 3]

``--vs-cli``: the same fit from Python (``python -c "scalefit.fit_chinchilla(...)"``) and
from the command line (``scalefit chinchilla``), each a fresh process in this process's
environment (so with the BLAS threads the environment gives), on the same points.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

from scalefit import fit_chinchilla
from scalefit.core import chinchilla as ch

CSV = (
    Path(__file__).resolve().parents[1].parent
    / "shared/datasets/analyzing-chinchilla/svg_extracted_data.csv"
)


def load():
    import pandas as pd

    df = pd.read_csv(CSV).sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy(float)
    return n, df["Training FLOP"].to_numpy(float) / (6.0 * n), df["loss"].to_numpy(float)


def naive_objective(theta, ln_n, ln_d, ln_loss, delta=1e-3):
    a, b, e, alpha, beta = theta
    terms = [a - alpha * ln_n, b - beta * ln_d, np.full_like(ln_n, e)]
    return np.sum(huber(delta, logsumexp(terms, axis=0) - ln_loss))


def naive_fit(theta0, ln_n, ln_d, ln_loss):
    return minimize(naive_objective, theta0, args=(ln_n, ln_d, ln_loss), method="L-BFGS-B")


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import threadpoolctl  # noqa: F401

        tpc = "yes"
    except ImportError:
        tpc = "no"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "threadpoolctl": tpc,
        "loadavg_start": os.getloadavg()[0],
    }


def python_vs_cli(n, d, loss, boot: int, repeat: int) -> None:
    """Wall time of the same fit from Python and from the CLI, fresh processes."""
    import subprocess
    import sys
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "chinchilla.csv"
        pd.DataFrame({"N": n, "D": d, "loss": loss}).to_csv(csv, index=False)
        code = (f"import pandas as pd, scalefit; df = pd.read_csv({str(csv)!r}); "
                f"scalefit.fit_chinchilla(df['N'], df['D'], df['loss'], n_boot={boot})")
        runs = {"python": [sys.executable, "-c", code],
                "cli": [sys.executable, "-m", "scalefit", "chinchilla", str(csv), "--boot",
                        str(boot), "-q"]}
        times = {k: [] for k in runs}
        for _ in range(repeat):
            for k, argv in runs.items():
                t0 = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                times[k].append(time.perf_counter() - t0)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, load "
          f"{os.getloadavg()[0]:.2f}; {n.size} points, {boot} resamples")
    for k, ts in times.items():
        print(f"{k:>6}: {', '.join(f'{t:.2f}' for t in ts)} s (median {np.median(ts):.2f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--naive-starts", type=int, default=100)
    ap.add_argument("--naive-boot", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--vs-cli", action="store_true", help="Python vs CLI on the same data")
    args = ap.parse_args()
    info = machine()
    n, d, loss = load()
    if args.vs_cli:
        return python_vs_cli(n, d, loss, args.boot, args.repeat)
    ln_n, ln_d, ln_loss = np.log(n), np.log(d), np.log(loss)
    grid = ch.epoch_grid()

    # --- fast: full job, repeated
    t_fast, t_noboot, fit = [], [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fit_chinchilla(n, d, loss)
        t_noboot.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fit = fit_chinchilla(n, d, loss, n_boot=args.boot, seed=args.seed)
        t_fast.append(time.perf_counter() - t0)

    # --- straightforward: subset of starts and resamples
    pick = np.linspace(0, len(grid) - 1, args.naive_starts).round().astype(int)
    t0 = time.perf_counter()
    naive_best = min((naive_fit(grid[i], ln_n, ln_d, ln_loss) for i in pick), key=lambda r: r.fun)
    t_starts = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)  # the fast fit draws its resamples the same way
    idx = rng.integers(0, n.size, size=(args.boot, n.size))[: args.naive_boot]
    t0 = time.perf_counter()
    naive_boot = [naive_fit(fit.theta, ln_n[i], ln_d[i], ln_loss[i]) for i in idx]
    t_boot = time.perf_counter() - t0

    per_start = t_starts / len(pick)
    per_resample = t_boot / len(idx)
    naive_full = per_start * len(grid) + per_resample * args.boot
    fast = float(np.median(t_fast))

    # quality on the shared resamples: fast (batched Newton) vs straightforward L-BFGS-B
    bp = fit.boot_params[: len(idx)]  # columns E, A, B, alpha, beta
    theta_fast = np.column_stack([np.log(bp[:, 1]), np.log(bp[:, 2]), np.log(bp[:, 0]), bp[:, 3:]])
    f_fast = np.array(
        [
            naive_objective(t, ln_n[i], ln_d[i], ln_loss[i])
            for t, i in zip(theta_fast, idx, strict=True)
        ]
    )
    f_naive = np.array([r.fun for r in naive_boot])
    alpha_naive = np.array([r.x[3] for r in naive_boot])

    out = {
        "machine": info,
        "points": int(n.size),
        "starts": len(grid),
        "boot": args.boot,
        "fast_s": t_fast,
        "fast_no_boot_s": t_noboot,
        "fast_median_s": fast,
        "fast_params": fit.params,
        "fast_ci": fit.conf_int(),
        "fast_boot_fallback": fit.n_boot_fallback,
        "naive_starts_run": len(pick),
        "naive_starts_s": t_starts,
        "naive_boot_run": len(idx),
        "naive_boot_s": t_boot,
        "naive_per_start_s": per_start,
        "naive_per_resample_s": per_resample,
        "naive_extrapolated_s": naive_full,
        "speedup": naive_full / fast,
        "naive_best_objective_on_subset": float(naive_best.fun),
        "fast_objective": fit.objective,
        "resample_objective_naive_minus_fast_median": float(np.median(f_naive - f_fast)),
        "resample_fast_not_worse": int(np.sum(f_fast <= f_naive * (1 + 1e-9))),
        "resample_alpha_abs_diff_median": float(np.median(np.abs(alpha_naive - bp[:, 3]))),
        "resample_alpha_naive_minus_fit_median": float(
            np.median(np.abs(alpha_naive - fit.params["alpha"]))
        ),
        "resample_alpha_fast_minus_fit_median": float(
            np.median(np.abs(bp[:, 3] - fit.params["alpha"]))
        ),
        "loadavg_end": os.getloadavg()[0],
    }
    ci = fit.conf_int()
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, python {info['python']}, "
        f"OPENBLAS_NUM_THREADS={info['OPENBLAS_NUM_THREADS']}, "
        f"threadpoolctl={info['threadpoolctl']}, load {info['loadavg_start']:.2f} -> "
        f"{out['loadavg_end']:.2f}"
    )
    print(f"data: {n.size} points; {len(grid)} starts; {args.boot} resamples")
    print(
        f"fast, full job: {', '.join(f'{t:.2f}' for t in t_fast)} s (median {fast:.2f} s); "
        f"without bootstrap {np.median(t_noboot):.2f} s; fallback resamples "
        f"{fit.n_boot_fallback}"
    )
    print(
        f"straightforward: {len(pick)} starts in {t_starts:.2f} s ({per_start * 1e3:.1f} ms "
        f"each), {len(idx)} resamples in {t_boot:.2f} s ({per_resample * 1e3:.1f} ms each)"
    )
    print(
        f"straightforward extrapolated to the full job: {naive_full:.1f} s; "
        f"speedup {naive_full / fast:.1f}x"
    )
    print("estimates: " + ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items()))
    print("95% intervals: " + ", ".join(f"{k}=({lo:.4g}, {hi:.4g})" for k, (lo, hi) in ci.items()))
    print(
        f"on the {len(idx)} shared resamples: fast objective <= straightforward on "
        f"{out['resample_fast_not_worse']}; median |alpha - full-data alpha|: fast "
        f"{out['resample_alpha_fast_minus_fit_median']:.4f}, straightforward "
        f"{out['resample_alpha_naive_minus_fit_median']:.4f}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
