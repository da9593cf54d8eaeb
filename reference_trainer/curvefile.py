"""The curves file beside a results file: one line per logged step of each finished run.

``runs.csv`` -> ``runs.curves.csv`` (`curves_path`), columns `CURVE_COLUMNS`. The results
file (`results.ResultsFile.append`) writes a run's lines here in one write, under its own
lock and just before the run's row, so a run has curve lines exactly when it has a row;
lines of a writer killed between the two writes (or mid-block) are always the file's tail,
and `repair` cuts every tail line whose run has no row before anything is written. A run
that trains again therefore never gets its lines twice.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
from pathlib import Path

CURVE_COLUMNS = ["run_id", "step", "tokens", "lr", "train_loss", "val_loss"]
CURVE_KEY = "_curve"  # a row handed back by a trainer carries its curve lines here
_CHUNK = 65536  # bytes read at a time when reading the file back from its end


def curves_path(path) -> Path:
    """The curves file of results file `path`: ``runs.csv`` -> ``runs.curves.csv`` (a
    name without ``.csv`` gets ``.curves.csv`` appended)."""
    p = Path(path)
    stem = p.name[:-4] if p.name.lower().endswith(".csv") else p.name
    return p.with_name(stem + ".curves.csv")


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def _lines(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in CURVE_COLUMNS])
    return buf.getvalue().encode()


def append(path: Path, rows: list[dict]) -> None:
    """One run's curve lines in one write (the header first in a new file); a write cut
    short is taken back and raises OSError. The caller holds the results file's lock."""
    data = _lines(rows)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            data = _lines([dict(zip(CURVE_COLUMNS, CURVE_COLUMNS))]) + data
        try:
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (wrote {n} of "
                              f"{len(data)} bytes)", str(path))
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def repair(path: Path, ids: set) -> str | None:
    """Cut the tail of the curves file back to the last line of a run in `ids` (the runs
    with a row); returns what was done, or None. The caller holds the lock."""
    try:
        fh = open(path, "r+b")
    except FileNotFoundError:
        return None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        cut = _cut(fh, size, ids)
        if cut == size:
            return None
        fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())
    return f"removed {size - cut} bytes of curve lines of runs without a row from {path.name}"


def _cut(fh, size: int, ids: set) -> int:
    """The offset just after the last whole line whose run_id is in `ids` (or after the
    header): reads back from the end a chunk at a time, so an append costs O(1) whatever
    the file's length."""
    pos, buf, hi = size, b"", size  # buf holds bytes [pos, size); lines end before hi
    while True:
        j = buf.rfind(b"\n", 0, hi - pos)
        k = buf.rfind(b"\n", 0, j) if j >= 0 else -1
        if (j < 0 or k < 0) and pos > 0:  # the line (or its start) is further back
            n = min(_CHUNK, pos)
            pos -= n
            fh.seek(pos)
            buf = fh.read(n) + buf
            continue
        if j < 0:
            return 0  # not even a whole header
        start = pos + k + 1
        if start == 0:
            return pos + j + 1  # the header
        run_id = buf[start - pos:j].split(b",", 1)[0].decode("utf-8", errors="replace")
        if run_id in ids:
            return pos + j + 1
        hi = start
