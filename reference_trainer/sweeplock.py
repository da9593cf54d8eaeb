"""Who trains the runs of a results file: the sweep lock, and claims for sweeps that share.

* ``<file>.sweep.lock``: every sweep on ``<file>`` holds a shared ``flock`` on it for its
  lifetime and writes one JSON line there (host, pid, start time). A sweep that finds
  the file locked by another refuses with one line naming the holder, unless it was
  started with ``share=True`` (``--share``): then it joins. The first sweep (the lock was
  free: no sweep of this file is alive anywhere the lock reaches) clears the holder
  lines and the claims of dead sweeps.
* ``<file>.claims``: before a sweep trains a batch it claims the batch's runs, one
  O_APPEND line ``run_id host pid time`` each, under the results file's short lock
  (`ResultsFile.locked`), and takes only runs that have no row and no claim of another
  live sweep. So sweeps sharing a file train every run once in all. A claim is released
  when its holder is gone: its pid is dead on this host, or the lock was free when a
  sweep started. Claims of live holders on other hosts stand until their rows land.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from .hosts import HOST, alive
from .results import ResultsFile


class SweepBusy(Exception):
    """Another sweep is writing this results file (and sharing was not asked for)."""


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


class SweepLock:
    """Held by a sweep on `results` while it runs (module doc); a context manager."""

    def __init__(self, results: ResultsFile, share: bool = False):
        self.results, self.share = results, share
        self.path = results.path.with_name(results.path.name + ".sweep.lock")
        self.claims = results.path.with_name(results.path.name + ".claims")
        self.me = {"host": HOST, "pid": os.getpid(), "since": _now(), "share": share}
        self.fh = None
        self.alone = False

    def __enter__(self) -> SweepLock:
        with self.results.locked():  # one sweep at a time through the door
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.alone = True
            except BlockingIOError:
                if not self.share:
                    msg = self._busy_message()
                    fh.close()
                    raise SweepBusy(msg) from None
                fcntl.flock(fh, fcntl.LOCK_SH)
            if self.alone:  # nobody else alive: earlier holders and their claims are gone
                fh.truncate(0)
                self.claims.unlink(missing_ok=True)
            fh.write(json.dumps(self.me) + "\n")
            fh.flush()
            if self.alone:
                fcntl.flock(fh, fcntl.LOCK_SH)  # let sharers in (still behind the door)
            self.fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is None:
            return
        with self.results.locked():
            lines = [ln for ln in self._holders() if ln != self.me]
            self.fh.seek(0)
            self.fh.truncate(0)
            self.fh.write("".join(json.dumps(ln) + "\n" for ln in lines))
            self.fh.flush()
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None

    def _holders(self) -> list[dict]:
        out = []
        for line in Path(self.path).read_text().splitlines():
            try:
                h = json.loads(line)
                if alive(h["host"], int(h["pid"])):
                    out.append(h)
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def _busy_message(self) -> str:
        holders = self._holders()
        name = self.results.path
        if not holders:
            who = "another sweep"
        else:
            h = holders[0]
            who = f"sweep pid {h['pid']} on host {h['host']} since {h['since']}"
            if len(holders) > 1:
                who += f" (and {len(holders) - 1} more)"
        return f"{name} is being written by {who}; wait for it or pass --share"


class Claims:
    """The claims file of `results` (module doc)."""

    def __init__(self, results: ResultsFile):
        self.results = results
        self.path = results.path.with_name(results.path.name + ".claims")

    def held(self) -> dict[str, tuple[str, int]]:
        """run_id -> (host, pid) of the claims of other live sweeps."""
        out: dict[str, tuple[str, int]] = {}
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 3 or not parts[2].isdigit():
                continue  # a torn line
            run_id, host, pid = parts[0], parts[1], int(parts[2])
            if (host, pid) != (HOST, os.getpid()) and alive(host, pid):
                out[run_id] = (host, pid)
        return out

    def take(self, run_ids: list[str]) -> list[str]:
        """Claim those of `run_ids` that have no row and no live claim; returns them."""
        with self.results.locked():
            held = self.held()
            mine = [r for r in run_ids if r not in held and r not in self.results]
            if mine:
                line = f" {HOST} {os.getpid()} {time.time():.0f}\n"
                data = "".join(r + line for r in mine).encode()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            return mine
