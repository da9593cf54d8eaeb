"""Speed of ``scalefit next``: the 3,000-run table of benchmarks/core.py, K = 16.

* the command end to end (``python -m scalefit next runs.csv --by parameterization
  --budget 16 --target-scale 1e10 --target-horizon 1e11 --out next.csv``: interpreter
  start, imports, reading, the fit with 1,000 resamples, the proposals, the table of runs
  to do), best of ``--repeat``;
* in process: the fit, and ``FitResult.next_runs(16)`` alone (with and without a target);
* the planner against a straightforward one in the same run: each greedy step evaluates
  every candidate with its own call (one pseudo-sweep per ``fit_sweeps`` call) instead of
  all candidates of all sweeps in one call and only the chosen sweep's after a pick. Both
  choose the same runs (checked).

    python benchmarks/next_speed.py --repeat 3
    python benchmarks/next_speed.py --repeat 3 --joint   # LR x bs surfaces (--joint bs)

With ``--joint`` the table is 3,000 runs of ``synthetic.make_joint_sweeps`` (5 scales x 6
horizons, 10 LRs x 10 batch sizes each: 30 surfaces), the command ``scalefit next runs.csv
--joint bs --budget 16``, the in-process call also with a target (the joint laws' weights
and the new-surface options), and the straightforward planner evaluates each candidate in
its own ``fit_surfaces`` call.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import cpu_name, table  # noqa: E402

import scalefit  # noqa: E402
from scalefit.core import planner as planner_mod  # noqa: E402
from scalefit.core import surface_design as sd_mod  # noqa: E402
from scalefit.core.design import optimum_mse  # noqa: E402


def straightforward_best(self, used, quota, left):
    """Every candidate evaluated on its own, every step (no batching, no caching)."""
    for i, g in enumerate(self.cg):
        ex = np.asarray(self.extra.get(int(g), []), float)
        self.vc[i] = optimum_mse(self.ds, np.array([g]), np.append(ex, self.cx[i])[None])[0]
        self.v[g] = optimum_mse(self.ds, np.array([g]), ex[None] if ex.size else None)[0]
    return FAST_BEST(self, used, quota, left)


FAST_BEST = planner_mod.Planner._best
FAST_EVALUATE = sd_mod.SurfacePlanner._evaluate


def straightforward_evaluate(self, surfaces):
    """Each candidate of each surface evaluated in its own estimator call."""
    for s in surfaces:
        for i in np.flatnonzero((self.cs == s) & self.alive):
            keep = self.alive.copy()
            self.alive[:] = False
            self.alive[i] = keep[i]
            FAST_EVALUATE(self, [s])
            self.alive = keep


def time_command(cmd: list[str], repeat: int) -> list[float]:
    """Wall times of ``repeat`` runs of the command (each must exit 0)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        assert p.returncode == 0, p.stderr
    return times


def main_joint(args):
    from scalefit.synthetic import make_joint_sweeps

    df = make_joint_sweeps(scales=(1e8, 2e8, 4e8, 8e8, 1.6e9),
                           horizons=(2e9, 4e9, 8e9, 1.6e10, 3.2e10, 6.4e10), n_lrs=10, n_bs=10,
                           noise=0.003, seed=0).drop(columns=["lr_true", "bs_true"])
    print(f"machine: {cpu_name()}; table: {len(df)} runs, "
          f"{df.groupby(['scale', 'horizon']).ngroups} LR x bs surfaces; K = {args.k}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        df.to_csv(path, index=False)
        cmd = [sys.executable, "-m", "scalefit", "next", str(path), "--joint", "bs",
               "--budget", str(args.k), "--out", str(Path(tmp) / "next.csv"), "-q"]
        times = time_command(cmd, args.repeat)
        print(f"scalefit next --joint bs (command, end to end): best {min(times):.2f} s of "
              f"{args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)}); target < 5 s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = scalefit.fit(df, joint="bs", n_boot=1000, progress=None)
        t_fit = time.perf_counter() - t0
        ts = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fast = res.next_runs(args.k)
            ts.append(time.perf_counter() - t0)
        tt = []
        for _ in range(args.repeat):  # with a target: the laws' weights and new surfaces
            t0 = time.perf_counter()
            res.next_runs(args.k, target_scale=3.2e9, target_horizon=1.28e11)
            tt.append(time.perf_counter() - t0)
        sd_mod.SurfacePlanner._evaluate = straightforward_evaluate
        try:
            t0 = time.perf_counter()
            slow = res.next_runs(args.k)
            t_slow = time.perf_counter() - t0
        finally:
            sd_mod.SurfacePlanner._evaluate = FAST_EVALUATE
    cols = ["scale", "horizon", "bs", "lr"]
    same = fast.runs[cols].equals(slow.runs[cols])
    print(f"next_runs({args.k}) --joint: {min(ts):.3f} s (best of {args.repeat}); "
          f"straightforward {t_slow:.2f} s; {t_slow / min(ts):.0f}x; same runs: {same}")
    print(f"next_runs({args.k}) --joint, target 3.2e9, 1.28e11 (new surfaces weighed): "
          f"{min(tt):.3f} s (best of {args.repeat})")
    print(f"the fit itself (1,000 resamples, in process): {t_fit:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--joint", action="store_true", help="LR x bs surfaces (--joint bs)")
    args = ap.parse_args()
    if args.joint:
        return main_joint(args)
    df = table()
    print(f"machine: {cpu_name()}; table: {len(df)} runs, "
          f"{df.groupby(['parameterization', 'scale', 'horizon']).ngroups} sweeps; K = {args.k}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        df.drop(columns="lr_true").to_csv(path, index=False)
        cmd = [sys.executable, "-m", "scalefit", "next", str(path), "--by", "parameterization",
               "--budget", str(args.k), "--target-scale", "1e10", "--target-horizon", "1e11",
               "--out", str(Path(tmp) / "next.csv"), "-q"]
        times = time_command(cmd, args.repeat)
        print(f"scalefit next (command, end to end): best {min(times):.2f} s of {args.repeat} "
              f"(all: {', '.join(f'{t:.2f}' for t in times)}); target < 5 s")
    data = df.drop(columns="lr_true")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = scalefit.fit(data, by=["parameterization"], n_boot=1000, progress=None)
        t_fit = time.perf_counter() - t0
        for label, kw in (("no target", {}),
                          ("target 1e10, 1e11", {"target_scale": 1e10, "target_horizon": 1e11})):
            ts = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fast = res.next_runs(args.k, **kw)
                ts.append(time.perf_counter() - t0)
            planner_mod.Planner._best = straightforward_best
            try:
                t0 = time.perf_counter()
                slow = res.next_runs(args.k, **kw)
                t_slow = time.perf_counter() - t0
            finally:
                planner_mod.Planner._best = FAST_BEST
            same = fast.runs[["scale", "horizon", "lr"]].equals(slow.runs[["scale", "horizon",
                                                                            "lr"]])
            print(f"next_runs({args.k}), {label}: {min(ts):.3f} s (best of {args.repeat}); "
                  f"straightforward {t_slow:.2f} s; {t_slow / min(ts):.0f}x; same runs: {same}")
    print(f"the fit itself (1,000 resamples, in process): {t_fit:.2f} s")


if __name__ == "__main__":
    main()
