"""``scalefit fit`` and ``scalefit next`` before and after a change of the data flow, in
the same run: the 3,000-run table of benchmarks/core.py (5 groups, 150 sweeps).

For each code tree (this one, and ``--baseline DIR``: a checkout of an older commit,
e.g. ``git worktree add /tmp/base ab1bf7a``) and each command, alternately, ``--repeat``
times: the whole command in a fresh interpreter (start, imports, reading, the fit with
1,000 resamples, for ``next`` the proposals and the table of runs to do), and once, in
process, how many times the table was parsed (``read_input`` of a file) and checked
(``read_runs``), and how many point fits of the table's sweeps ran (``fit_sweeps`` called
by the pipeline or the planner's design; not the planner's pseudo-sweeps of candidates).

    python benchmarks/flow.py --baseline /tmp/base --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import cpu_name, table  # noqa: E402

HERE = Path(__file__).resolve().parents[1]

COUNTER = r"""
import json, sys, types
sys.argv = ["scalefit"] + sys.argv[1:]
import importlib
from scalefit.cli import main as cli_main
names = {"read_input": 0, "read_runs": 0, "fit_sweeps": 0}
FITTERS = ("scalefit.pipeline", "scalefit.results.planning", "scalefit.planning.plan")
def wrap(name, f):
    def counted(*a, **k):
        out = f(*a, **k)
        if name == "read_input":  # a file parsed (a DataFrame handed on is not a read)
            names[name] += not hasattr(a[0], "columns")
        else:
            names[name] += 1
        return out
    counted._wrapped = True
    return counted
mods = ["scalefit.pipeline", "scalefit.table", "scalefit.core.optimum"]
for extra in ("scalefit.next", "scalefit.planning.next", "scalefit.results.planning",
              "scalefit.planning.plan", "scalefit.results.proposal_rows",
              "scalefit.planning.proposal_rows", "scalefit.cli.commands"):
    try:
        mods.append(importlib.import_module(extra).__name__)
    except ImportError:
        pass
originals = {}
for mod in list(sys.modules.values()):
    if not isinstance(mod, types.ModuleType) or not mod.__name__.startswith("scalefit"):
        continue
    for name in names:
        if name == "fit_sweeps" and mod.__name__ not in FITTERS:
            continue  # the planner's pseudo-sweeps of candidates are not point fits
        f = getattr(mod, name, None)
        if callable(f) and not getattr(f, "_wrapped", False):
            key = (f.__module__, f.__qualname__)
            originals.setdefault(key, wrap(name, f))
            setattr(mod, name, originals[key])
rc = cli_main(sys.argv[1:])
print("COUNTS " + json.dumps(names), file=sys.stderr)
sys.exit(rc)
"""


def command(kind: str, csv: Path, out: Path) -> list[str]:
    if kind == "fit":
        return ["fit", str(csv), "--by", "parameterization", "--boot", "1000", "-q"]
    return ["next", str(csv), "--by", "parameterization", "--budget", "16",
            "--target-scale", "1e10", "--target-horizon", "1e11", "--out", str(out), "-q"]


def run(tree: Path, argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "scalefit", *argv], cwd=tree, env=env,
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{tree}: scalefit {' '.join(argv)} failed: {p.stderr[-500:]}")
    return time.perf_counter() - t0


def counts(tree: Path, argv: list[str], env: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", COUNTER, *argv], cwd=tree,
                       env=env, capture_output=True, text=True)
    line = [x for x in p.stderr.splitlines() if x.startswith("COUNTS ")]
    if p.returncode or not line:
        raise SystemExit(f"{tree}: counting failed: {p.stderr[-800:]}")
    return json.loads(line[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, required=True, help="an older checkout")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": HERE}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "runs.csv"
        df = table()
        df.to_csv(csv, index=False)
        n_sweeps = df.groupby(["parameterization", "scale", "horizon"]).ngroup().nunique()
        times = {(t, k): [] for t in trees for k in ("fit", "next")}
        envs = {t: {**os.environ, "PYTHONPATH": str(p), "OPENBLAS_NUM_THREADS": "1"}
                for t, p in trees.items()}
        for _ in range(args.repeat):
            for k in ("fit", "next"):
                for t, p in trees.items():  # alternately: the load falls on both alike
                    times[t, k].append(run(p, command(k, csv, Path(tmp) / f"{t}.csv"),
                                           envs[t]))
        counted = {(t, k): counts(p, command(k, csv, Path(tmp) / f"c{t}.csv"), envs[t])
                   for t, p in trees.items() for k in ("fit", "next")}
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f}; table: {len(df)} runs, {n_sweeps} sweeps; "
          f"1,000 resamples; next: K = 16 with a target")
    print("| command | code | best s | median s | all | reads (input/runs) | point fits |")
    print("|---|---|---|---|---|---|---|")
    for k in ("fit", "next"):
        for t in trees:
            ts = times[t, k]
            c = counted[t, k]
            reads = f"{c['read_input']}/{c['read_runs']}"
            print(f"| {k} | {t} ({trees[t].name}) | {min(ts):.2f} | {statistics.median(ts):.2f}"
                  f" | {', '.join(f'{x:.2f}' for x in ts)} | {reads} | {c['fit_sweeps']} |")
        ratio = statistics.median(times["this", k]) / statistics.median(times["baseline", k])
        print(f"| {k} | this / baseline (medians) | {ratio:.2f}x | | | | |")


if __name__ == "__main__":
    main()
