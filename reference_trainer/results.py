"""The results row of one run, the CSV file that collects them, and the log of runs
that failed with an error.

Appending costs O(1) whatever the file's length: under an exclusive ``flock`` on
``<file>.lock`` the row is encoded as one CSV line and written with a single
``os.write`` on an ``O_APPEND`` descriptor, then fsynced. A process killed at any
instant (SIGKILL included) leaves either the whole line or, at worst, a torn last line
without its newline; the next writer repairs that under the lock before anything else
(completing the line only when it parses as a whole row: every field, the last one
closed by its quote, and a ``config`` that is a whole JSON object; else cutting it off,
so that run trains again), and readers never parse a line without its newline. A row
that cannot be read is an error naming the file and its line (`RowError`). A write cut
short (disk full) is taken back and raises. The header is written once, when the file
is created; a row with a new column (rare) rewrites the whole file atomically (temporary
file, fsync, ``os.replace``).
A row whose ``run_id`` is present is not written again: the writer keeps the set of ids
in memory and reads only what other writers appended since (the file's inode and size
say when).

The curves file (``<stem>.curves.csv`` beside ``<stem>.csv``, `curves_path`) holds a
finished run's loss curve, one line per logged step (`CURVE_COLUMNS`). A run's lines are
appended in one write, under the same lock and just before its results row, so a run
has curve lines exactly when it has a row: lines written by a writer killed between the
two (or a torn block) are always the file's tail, and the next writer cuts every tail
line whose run has no row before it writes anything (`ResultsFile.append`); a run that
trains again therefore never gets its lines twice.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import functools
import io
import json
import math
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from . import curvefile
from .curvefile import CURVE_COLUMNS, CURVE_KEY, curves_path  # noqa: F401 (re-exported)
from .hosts import HOST

COLUMNS = [
    "run_id", "parameterization", "width", "depth", "heads", "head_dim",
    "n_params", "n_params_total", "tokens", "lr",
    "lr_mult_emb", "lr_mult_hidden", "lr_mult_readout", "lr_mult_norm",
    "emb_mult", "readout_mult", "attn_scale",
    "init_std_emb", "init_std_hidden", "init_std_readout", "base_width",
    "weight_decay", "wd_mode", "wd_transfer", "schedule", "warmup_tokens", "min_lr_frac",
    "grad_clip",
    "batch_size", "seq_len", "norm", "pos", "data", "seed",
    "val_loss", "train_loss", "loss_spikes", "max_loss_ratio", "status", "steps",
    "wall_time_s", "tokens_per_s",
    "device", "torch_version", "git_rev", "config",
]


_PINNED: list[str] = []  # set by `pin_git_rev` in a sweep's worker processes


def pin_git_rev(rev: str) -> None:
    """Make `git_rev` return `rev` in this process (a sweep worker reports the revision
    its sweep started with, not the tree's state when the worker gets to a row)."""
    _PINNED[:] = [rev]
    git_rev.cache_clear()


@functools.lru_cache(maxsize=1)
def git_rev() -> str:
    """Short commit of the trainer's source tree (+dirty); for a copy of the tree without
    git, the environment variable REFERENCE_TRAINER_GIT_REV; else 'unknown'."""
    if _PINNED:
        return _PINNED[0]
    here = Path(__file__).resolve().parent
    fallback = os.environ.get("REFERENCE_TRAINER_GIT_REV", "").strip() or "unknown"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        if not rev:
            return fallback
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return fallback


def make_row(cfg, tbl, *, n_params: int, n_params_total: int, val_loss: float,
             train_loss: float, status: str, loss_spikes: int | None = None,
             max_loss_ratio: float | None = None, steps: int, wall_time_s: float,
             tokens_per_s: float, device: str, data_name: str) -> dict:
    """One results row (see COLUMNS); val_loss is None unless status == 'ok'."""
    import torch

    r = tbl.rules
    ok = status == "ok" and val_loss is not None and math.isfinite(val_loss)
    return {
        "run_id": cfg.run_id, "parameterization": tbl.name,
        "width": cfg.width, "depth": cfg.depth, "heads": cfg.heads, "head_dim": cfg.d_head,
        "n_params": n_params, "n_params_total": n_params_total,
        "tokens": cfg.steps * cfg.tokens_per_step, "lr": cfg.lr,
        "lr_mult_emb": r["emb"].lr_mult, "lr_mult_hidden": r["hidden"].lr_mult,
        "lr_mult_readout": r["readout"].lr_mult, "lr_mult_norm": r["norm"].lr_mult,
        "emb_mult": r["emb"].mult, "readout_mult": r["readout"].mult,
        "attn_scale": tbl.attn_rule,
        "init_std_emb": r["emb"].init_std, "init_std_hidden": r["hidden"].init_std,
        "init_std_readout": r["readout"].init_std, "base_width": cfg.base_width,
        "weight_decay": cfg.weight_decay, "wd_mode": cfg.wd_mode,
        "wd_transfer": cfg.wd_transfer, "schedule": cfg.schedule,
        "warmup_tokens": cfg.warmup_steps * cfg.tokens_per_step,
        "min_lr_frac": cfg.min_lr_frac, "grad_clip": cfg.grad_clip,
        "batch_size": cfg.batch_size, "seq_len": cfg.seq_len, "norm": cfg.norm,
        "pos": cfg.pos, "data": data_name, "seed": cfg.seed,
        "val_loss": val_loss if ok else None,
        "train_loss": train_loss if train_loss is not None and math.isfinite(train_loss)
        else None,
        "loss_spikes": loss_spikes,
        "max_loss_ratio": None if max_loss_ratio is None else round(max_loss_ratio, 4),
        "status": "ok" if ok else "diverged", "steps": steps,
        "wall_time_s": round(wall_time_s, 3), "tokens_per_s": round(tokens_per_s, 1),
        "device": device, "torch_version": torch.__version__, "git_rev": git_rev(),
        "config": json.dumps(cfg.identity(), sort_keys=True),
    } | ({"cooldown_frac": cfg.cooldown_frac, "branch_of": cfg.stable_id}
         if cfg.schedule == "wsd" else {})


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v).replace("\r", " ").replace("\n", " ")  # a row is one line


def _line(header: list[str], row: dict) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in header])
    return buf.getvalue().encode()


class RowError(ValueError):
    """A results row that cannot be read; the message names the file and the line."""

    def __init__(self, path, line: int, what: str):
        super().__init__(f"{path}, line {line}: {what}")


def _parse(data: bytes, path="results", first_line: int = 1) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each line of `data` (whole lines), numbered from
    `first_line`; a line the csv module refuses raises `RowError`."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
    out = []
    try:
        for fields in reader:
            out.append((first_line + reader.line_num - 1, fields))
    except csv.Error as e:
        raise RowError(path, first_line + reader.line_num - 1, f"not a CSV row ({e})") from None
    return out


def _checked(path, header: list[str], lines) -> list[tuple[int, list[str]]]:
    """`lines` without blank ones; a row whose field count is not the header's raises."""
    out = []
    for n, fields in lines:
        if not fields:
            continue
        if len(fields) != len(header):
            raise RowError(path, n, f"{len(fields)} fields where the header has "
                           f"{len(header)}; fix or remove the line")
        out.append((n, fields))
    return out


def config_of(path, line: int, text: str) -> dict:
    """The ``config`` JSON of the row at `line` ({} when empty); `RowError` if it is not a
    JSON object."""
    if not text.strip():
        return {}
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise RowError(path, line, f"column 'config' is not JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise RowError(path, line, "column 'config' is not a JSON object")
    return cfg


def _whole_row(header: list[str], tail: bytes) -> bool:
    """True if the torn last line `tail` (no newline) is a complete row: it decodes, has
    the header's fields, its last field ends with its closing quote (a cut after an
    unquoted field cannot be told from a cut inside it) and its ``config`` is a JSON
    object."""
    try:
        fields = next(csv.reader([tail.decode()], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return False
    if len(fields) != len(header) or not tail.endswith(b'"'):
        return False
    if "config" in header:
        try:
            return isinstance(json.loads(fields[header.index("config")]), dict)
        except ValueError:
            return False
    return True


class ResultsFile:
    """A CSV of results rows, safe against concurrent writers and kills (module doc)."""

    def __init__(self, path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.curves_path = curves_path(self.path)
        self._header: list[str] = []
        self._header_bytes = b""
        self._ids: set[str] = set()
        self._ino = None  # inode of the file as last read (None: not read / absent)
        self._offset = 0  # bytes read so far: whole lines only
        self._line = 0  # lines read so far (the next one read is line _line + 1)

    @contextmanager
    def locked(self):
        """The short exclusive lock that writers of this file (and its claims) take."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ reading
    def _refresh(self) -> None:
        """Bring the header and the id set up to date: read only the lines appended since
        the last call, or the whole file when it was replaced (or is new to us)."""
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            self._header, self._header_bytes, self._ids = [], b"", set()
            self._ino, self._offset, self._line = None, 0, 0
            return
        with fh:
            st = os.fstat(fh.fileno())
            same = (st.st_ino == self._ino and st.st_size >= self._offset > 0
                    and fh.read(len(self._header_bytes)) == self._header_bytes)
            if same and st.st_size == self._offset:
                return
            if same:
                fh.seek(self._offset)
                data = fh.read()
            else:
                fh.seek(0)
                data = fh.read()
                self._header, self._header_bytes, self._ids = [], b"", set()
                self._offset = self._line = 0
            whole = data[:data.rfind(b"\n") + 1]  # a line without its newline is not ours yet
            lines = _parse(whole, self.path, self._line + 1)
            if not self._header and lines:
                self._header = lines.pop(0)[1]
                self._header_bytes = whole[:whole.find(b"\n") + 1]
            lines = _checked(self.path, self._header, lines)
            if "run_id" in self._header:
                k = self._header.index("run_id")
                self._ids.update(r[k] for _, r in lines)
            self._ino, self._offset = st.st_ino, self._offset + len(whole)
            self._line += whole.count(b"\n")

    def whole_bytes(self) -> bytes:
        """The file up to its last newline (a torn last line left out); b"" if absent."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return b""
        return data[:data.rfind(b"\n") + 1]

    def numbered_rows(self) -> list[tuple[int, dict]]:
        """(line number, row as a dict of strings) of every whole row; a row that cannot
        be read raises `RowError` (file and line)."""
        lines = _parse(self.whole_bytes(), self.path)
        if not lines or not lines[0][1]:
            return []
        header = lines[0][1]
        return [(n, dict(zip(header, r))) for n, r in _checked(self.path, header, lines[1:])]

    def rows(self) -> list[dict]:
        """All whole rows as dicts of strings."""
        return [r for _, r in self.numbered_rows()]

    def run_ids(self) -> set[str]:
        self._refresh()
        return set(self._ids)

    def __contains__(self, run_id: str) -> bool:
        self._refresh()
        return run_id in self._ids

    # ------------------------------------------------------------------ writing
    def repair(self) -> str | None:
        """Under the lock: mend a torn last line (a writer killed mid-write) and cut the
        curve lines of runs without a row; returns what was done, or None when both files
        were whole."""
        with self.locked():
            what = self._repair()
            self._refresh()
            cut = self._repair_curves()
            return "; ".join(w for w in (what, cut) if w) or None

    def _repair_curves(self) -> str | None:
        """Cut the curves file's tail of runs without a row (`curvefile.repair`); under the
        lock, with the ids refreshed."""
        return curvefile.repair(self.curves_path, self._ids)

    def _repair(self) -> str | None:
        try:
            fh = open(self.path, "r+b")
        except FileNotFoundError:
            return None
        with fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return None
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return None
            fh.seek(0)
            data = fh.read()
            cut = data.rfind(b"\n") + 1
            tail, header = data[cut:], _parse(data[:data.find(b"\n") + 1], self.path)
            if cut and header and _whole_row(header[0][1], tail):
                fh.seek(size)
                fh.write(b"\n")
                what = "completed its last line (the newline was missing)"
            else:
                fh.truncate(cut)
                what = f"removed a partial last line ({len(tail)} bytes)"
            fh.flush()
            os.fsync(fh.fileno())
        self._ino = None  # read it again
        return what

    def append(self, row: dict, curve: list[dict] | None = None) -> bool:
        """Add `row` (one line, O(1)); False (and nothing written) if its run_id is present.
        Its curve lines (`curve`, or the row's `CURVE_KEY`) go to the curves file first,
        in one write (module doc). Raises OSError when the row could not be written whole
        (the file is left as it was, e.g. on a full disk)."""
        row = dict(row)
        carried = row.pop(CURVE_KEY, None)
        curve = carried if curve is None else curve
        with self.locked():
            self._repair()
            self._refresh()
            if curve or self.curves_path.exists():
                self._repair_curves()
            if row["run_id"] in self._ids:
                return False
            if curve:
                curvefile.append(self.curves_path, curve)
            if not self._header or any(c not in self._header for c in row):
                self._rewrite(row)
            else:
                self._append_line(_line(self._header, row))
            self._ids.add(row["run_id"])
            return True

    def _append_line(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            try:
                n = os.write(fd, data)
                if n != len(data):
                    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (wrote {n} of "
                                  f"{len(data)} bytes)", str(self.path))
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, self._offset)  # take a partial line back
                raise
        finally:
            os.close(fd)
        self._offset += len(data)

    def _rewrite(self, row: dict) -> None:
        """Write the whole file anew (its first row, or a row with new columns): a
        temporary file beside it, fsync, ``os.replace``, fsync of the directory."""
        rows = self.rows()
        header = self._header + [c for c in row if c not in self._header]
        # leftovers of a writer killed before os.replace: only lock holders make them
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(_line(header, dict(zip(header, header))))
                for r in rows:
                    fh.write(_line(header, {k: v or None for k, v in r.items()}))
                fh.write(_line(header, row))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._ino = None
        self._refresh()


class FailureLog:
    """``<results>.failed``: one JSON line per run that failed with an error (not a
    divergence), appended under the results file's lock. Such runs get no results row
    (so a later sweep trains them again, and `scalefit` never reads them as diverged);
    this log says what went wrong."""

    def __init__(self, results: ResultsFile):
        self.results = results
        self.path = results.path.with_name(results.path.name + ".failed")

    def record(self, cfg, error: str, attempts: int = 1) -> None:
        entry = {"run_id": cfg.run_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime()),
                 "host": HOST, "attempts": attempts,
                 "error": error[-4000:], "config": cfg.identity()}
        data = (json.dumps(entry, default=repr) + "\n").encode()
        with self.results.locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def run_ids(self) -> set[str]:
        if not self.path.exists():
            return set()
        out = set()
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                out.add(json.loads(line)["run_id"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn line
        return out
