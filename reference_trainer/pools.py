"""Where a sweep's batches run on this machine: in the sweep's own process, or in one
worker process per device. A Ray cluster is the third kind (`cluster.RayPool`).

Every pool has the same four calls, used by `sweep.drive`: ``slots()`` (how many
batches may run at once now), ``submit(token, items)`` (start the batch `items` =
[(index, cfg)]), ``wait(on_run)`` (block until at least one batch has ended; call
``on_run(index, row, error, where)`` for every run that finished meanwhile; return
the tokens of the batches that ended) and ``close()``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
from multiprocessing.connection import wait as wait_any

from .config import RunConfig
from .worker import run_batch


class SerialPool:
    """One batch at a time, in this process, on one device."""

    def __init__(self, device: str, ckpt_dir, verbose: bool):
        self.device, self.ckpt_dir, self.verbose = device, ckpt_dir, verbose
        self.queue: list = []

    def slots(self) -> int:
        return 1

    def submit(self, token, items) -> None:
        self.queue.append((token, [(i, c.replace(device=self.device)) for i, c in items]))

    def wait(self, on_run) -> list:
        token, items = self.queue.pop(0)
        run_batch(items, self.ckpt_dir, self.verbose,
                  lambda i, row, err: on_run(i, row, err, self.device))
        return [token]

    def close(self) -> None:
        self.queue.clear()


def _die_with_parent() -> None:
    """Linux: kill this worker if the sweep process dies (no orphan keeps training)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(device: str, threads: int, conn, ckpt_dir, verbose: bool, rev: str) -> None:
    """A worker process: train each batch the driver sends, send back (index, row, error)
    per run and None when the batch has ended; stop on None."""
    _die_with_parent()
    import torch

    from .results import pin_git_rev

    pin_git_rev(rev)  # rows name the code the sweep started with
    if device == "cpu":
        torch.set_num_threads(threads)
    while (batch := conn.recv()) is not None:
        items = [(i, RunConfig(**fields).replace(device=device)) for i, fields in batch]
        run_batch(items, ckpt_dir, verbose, lambda i, row, err: conn.send((i, row, err)))
        conn.send(None)


@dataclasses.dataclass
class _Worker:
    proc: mp.Process
    conn: object
    device: str
    token: object = None  # the batch it trains
    runs: list = dataclasses.field(default_factory=list)  # its runs without an outcome


class ProcessPool:
    """One worker process per device (spawned), each training one batch at a time. A
    worker that dies (e.g. killed for memory) fails the runs of its batch."""

    def __init__(self, devices: list[str], ckpt_dir, verbose: bool, rev: str):
        ctx = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // max(1, sum(d == "cpu" for d in devices)))
        self.workers = []
        for d in devices:
            here, there = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(d, threads, there, ckpt_dir, verbose, rev),
                            daemon=True)
            p.start()
            there.close()
            self.workers.append(_Worker(p, here, d))

    def slots(self) -> int:
        return sum(w.proc.is_alive() or w.token is not None for w in self.workers)

    def submit(self, token, items) -> None:
        w = next(w for w in self.workers if w.token is None and w.proc.is_alive())
        w.token, w.runs = token, [i for i, _ in items]
        w.conn.send([(i, dataclasses.asdict(c)) for i, c in items])

    def wait(self, on_run) -> list:
        ended: list = []
        while not ended:
            busy = [w for w in self.workers if w.token is not None]
            if not busy:
                return ended
            ready = wait_any([w.conn for w in busy] + [w.proc.sentinel for w in busy])
            for w in busy:
                if w.conn not in ready and w.proc.sentinel not in ready:
                    continue
                gone = False
                while w.token is not None and w.conn.poll():
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):  # the worker's end closed: it is gone
                        gone = True
                        break
                    if msg is None:  # the batch has ended
                        ended.append(w.token)
                        w.token, w.runs = None, []
                    else:
                        w.runs.remove(msg[0])
                        on_run(*msg, w.device)
                if w.token is not None and (gone or not w.proc.is_alive()):
                    w.proc.join(timeout=10)
                    err = (f"the worker process on {w.device} died (exit code "
                           f"{w.proc.exitcode}) while training this run")
                    for i in list(w.runs):
                        on_run(i, None, err, w.device)
                    ended.append(w.token)
                    w.token, w.runs = None, []
        return ended

    def close(self) -> None:
        for w in self.workers:
            if w.proc.is_alive() and w.token is None:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self.workers:
            w.proc.join(timeout=5 if w.token is None else 0)
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join()
