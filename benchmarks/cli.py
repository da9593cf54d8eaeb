"""Wall-clock of the ``scalefit`` command line, end to end, as a user runs it.

    python benchmarks/cli.py            # 7 repeats of each command
    python benchmarks/cli.py --repeat 3

Each command runs as a fresh subprocess (interpreter start, imports, reading, fitting,
printing), repeated; the table gives the median and minimum wall time and the median
CPU time (user + sys of the child, less sensitive to other jobs on the machine). Targets
``scalefit --help`` under 0.5 s; ``scalefit fit`` on the bundled example with
1,000 resamples under 3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/data/synthetic_sweeps.csv"


def console_script() -> str | None:
    """The real ``scalefit`` script beside this interpreter (not a pyenv shim), if any."""
    exe = Path(sys.executable).parent / "scalefit"
    return str(exe) if exe.exists() else shutil.which("scalefit")


def commands() -> list[tuple[str, list[str], float | None]]:
    py = [sys.executable, "-m", "scalefit"]
    out = [
        ("python -m scalefit --help", py + ["--help"], 0.5),
        ("python -m scalefit fit --help", py + ["fit", "--help"], 0.5),
    ]
    script = console_script()
    if script:
        out.append(("scalefit --help (console script)", [script, "--help"], 0.5))
    out += [
        (f"scalefit fit {EXAMPLE} --by parameterization (1000 resamples)",
         py + ["fit", EXAMPLE, "--by", "parameterization"], 3.0),
        (f"scalefit fit {EXAMPLE} (1000 resamples, no --by)", py + ["fit", EXAMPLE], 3.0),
        (f"scalefit fit {EXAMPLE} --by parameterization --boot 0",
         py + ["fit", EXAMPLE, "--by", "parameterization", "--boot", "0"], None),
        ("scalefit fit ... --by parameterization --report DIR (1000 resamples)",
         py + ["fit", EXAMPLE, "--by", "parameterization", "--report", "/tmp/scalefit_bench_rep"],
         None),
    ]
    return out


def run(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'command':<70} {'median':>8} {'min':>8} {'cpu':>8}  target")
    for label, argv, target in commands():
        run(argv)  # warm the file cache and .pyc files
        walls, cpus = zip(*(run(argv) for _ in range(args.repeat)))
        med, lo, cpu = statistics.median(walls), min(walls), statistics.median(cpus)
        verdict = "" if target is None else (f"< {target:g} s " +
                                             ("ok" if med < target else "MISSED (median)"))
        print(f"{label:<70} {med:7.2f}s {lo:7.2f}s {cpu:7.2f}s  {verdict}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
