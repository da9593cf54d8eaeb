"""Cost of appending one row to a results file of many rows: the trainer's
`ResultsFile.append` (one O_APPEND write + fsync) against the rewrite-per-row
implementation it replaced (whole table to a temporary file, fsync, os.replace), in
the same run, on the same files.

    python benchmarks/results_append.py                  # 1,000 and 100,000 rows
    python benchmarks/results_append.py --rows 100000 --new 200 --old 3 --dir /scratch

Rows are realistic trainer rows (every results column, a config JSON). The new file is
opened once first (reading its ids, as a sweep does when it starts; reported apart),
then each append is timed. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_trainer.results import COLUMNS, ResultsFile, _cell  # noqa: E402


def fake_row(i: int) -> dict:
    """A results row as the trainer writes it (values vary with i)."""
    cfg = {"width": 256, "depth": 4, "lr": 1e-3 * (1 + i % 13), "seed": i % 3,
           "param": "mup", "tokens": 4194304, "batch_size": 32, "seq_len": 128}
    row = {c: 0.0 for c in COLUMNS}
    row.update({"run_id": f"{i:012x}", "parameterization": "mup", "width": 256, "depth": 4,
                "heads": 8, "head_dim": 32, "n_params": 3_150_336, "n_params_total": 3_330_560,
                "tokens": 4194304, "lr": cfg["lr"], "attn_scale": "1/d_head",
                "wd_mode": "coupled", "wd_transfer": False, "schedule": "cosine",
                "norm": "rms", "pos": "learned", "data": "stdlib:py3.11", "seed": cfg["seed"],
                "val_loss": 2.0 + (i % 97) / 100, "train_loss": 2.1, "status": "ok",
                "steps": 1024, "wall_time_s": 123.456, "tokens_per_s": 34000.5,
                "device": "cuda:0 batch16", "torch_version": "2.13.0+cpu",
                "git_rev": "44ca7fb1a2b3", "config": json.dumps(cfg, sort_keys=True)})
    return row


def make_file(path: Path, n: int) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for i in range(n):
            r = fake_row(i)
            w.writerow([_cell(r[c]) for c in COLUMNS])


class RewriteResultsFile:
    """The implementation before O(1) appends, verbatim in what it does: every append
    reads the whole table, checks the run_id, writes table + row to a temporary file,
    fsyncs, and replaces the file."""

    def __init__(self, path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def _locked(self):
        with open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self):
        if not self.path.exists():
            return [], []
        with open(self.path, newline="") as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or []), list(reader)

    def append(self, row: dict) -> bool:
        with self._locked():
            header, rows = self._read()
            if any(r.get("run_id") == row["run_id"] for r in rows):
                return False
            header = header or []
            header += [c for c in row if c not in header]
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(header)
                for r in rows:
                    w.writerow([r.get(c, "") or "" for c in header])
                w.writerow([_cell(row.get(c)) for c in header])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return True


def time_appends(f, start: int, n: int) -> list[float]:
    out = []
    for k in range(n):
        t0 = time.perf_counter()
        assert f.append(fake_row(start + k))
        out.append(time.perf_counter() - t0)
    return out


def machine() -> dict:
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "load_1min": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1000, 100_000])
    ap.add_argument("--new", type=int, default=200, help="appends timed, new implementation")
    ap.add_argument("--old", type=int, default=3, help="appends timed, rewrite per row")
    ap.add_argument("--dir", default=None, help="where the files go (default: a temp dir)")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        fs = subprocess.run(["stat", "-f", "-c", "%T", d], capture_output=True,
                            text=True).stdout.strip()
        for n in args.rows:
            base = Path(d) / f"base{n}.csv"
            make_file(base, n)
            size_mb = base.stat().st_size / 2**20
            new_path, old_path = Path(d) / "new.csv", Path(d) / "old.csv"
            for p in (new_path, old_path):
                p.write_bytes(base.read_bytes())
            f = ResultsFile(new_path)
            t0 = time.perf_counter()
            f.run_ids()  # a sweep reads the ids once when it starts
            first_read = time.perf_counter() - t0
            new = time_appends(f, n, args.new)
            old = time_appends(RewriteResultsFile(old_path), n, args.old)
            assert ResultsFile(new_path).run_ids() >= {fake_row(n)["run_id"]}
            r = {"rows": n, "file_mb": round(size_mb, 1), "fs": fs,
                 "new_ms_median": 1e3 * statistics.median(new),
                 "new_ms_max": 1e3 * max(new), "new_first_read_s": first_read,
                 "old_s_median": statistics.median(old), "old_s_all": old}
            r["ratio"] = r["old_s_median"] / (r["new_ms_median"] / 1e3)
            results.append(r)
            for p in (base, new_path, old_path):
                p.unlink()
    m = machine()
    print(f"machine: {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}, load {m['load_1min']}"
          f", filesystem {results[0]['fs']}")
    print(f"{'rows':>8} {'file MB':>8} {'new: open s':>12} {'new ms/row (median, max)':>26} "
          f"{'old s/row (median)':>19} {'ratio':>8}")
    for r in results:
        print(f"{r['rows']:>8,} {r['file_mb']:>8.1f} {r['new_first_read_s']:>12.2f} "
              f"{r['new_ms_median']:>15.2f}, {r['new_ms_max']:>8.2f} "
              f"{r['old_s_median']:>19.3f} {r['ratio']:>8,.0f}x")
    print(json.dumps({"machine": m, "results": results}))


if __name__ == "__main__":
    main()
