"""Sweeps: expand a grid into runs, train the missing ones, append one row each.

Resumable by construction: a run is identified by `RunConfig.run_id`; runs whose id
is already in the CSV are skipped, rows are appended atomically (`results`), so a
sweep can be killed at any instant and restarted with the same command, losing at
most the runs in progress (and with ``--ckpt-dir``, not even those). Several devices
(all visible GPUs by default) each get a worker process that pulls runs from a queue.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import sys
import time
import traceback
from pathlib import Path

from .config import RunConfig, config_fields
from .results import ResultsFile

# axes iterate in this order (outermost first); other fields follow in field order
AXIS_ORDER = ("param", "tokens", "width", "depth")
INNER = ("seed", "lr")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def expand(spec: dict) -> list[RunConfig]:
    """{field: value or list of values} -> one RunConfig per grid point (deduplicated)."""
    names = [f.name for f in config_fields()]
    unknown = [k for k in spec if k not in names]
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; see --help")
    axes = {k: (v if isinstance(v, list | tuple) else [v]) for k, v in spec.items()}
    order = [k for k in AXIS_ORDER if k in axes]
    order += [k for k in names if k in axes and k not in order and k not in INNER]
    order += [k for k in INNER if k in axes]
    runs, seen = [], set()
    for values in itertools.product(*(axes[k] for k in order)):
        cfg = RunConfig(**dict(zip(order, values, strict=True)))
        if cfg.run_id not in seen:
            seen.add(cfg.run_id)
            runs.append(cfg)
    return runs


def resolve_devices(device: str, workers: int = 1) -> list[str]:
    """'auto' / 'cuda' -> every visible GPU (or cpu); 'cuda:0,cuda:1' as given;
    'cpu' -> `workers` CPU workers."""
    import torch

    if device in ("auto", "cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            if device == "cuda":
                raise ValueError("--device cuda: no GPU is visible")
            return ["cpu"] * max(1, workers)
        return [f"cuda:{i}" for i in range(n)]
    devs = [d.strip() for d in device.split(",") if d.strip()]
    if devs == ["cpu"]:
        return ["cpu"] * max(1, workers)
    return devs


def describe(cfg: RunConfig) -> str:
    return (f"{cfg.param} w={cfg.width} d={cfg.depth} lr={cfg.lr:g} tokens={cfg.tokens} "
            f"seed={cfg.seed}")


def _outcome(row: dict) -> str:
    if row["status"] == "ok":
        return (f"ok val_loss={float(row['val_loss']):.4f} ({row['wall_time_s']:.1f} s, "
                f"{row['tokens_per_s']:.0f} tok/s)")
    return f"diverged at step {row['steps']} ({row['wall_time_s']:.1f} s)"


def _run_one(cfg: RunConfig, out: ResultsFile, ckpt_dir, verbose: bool) -> dict:
    from .train import train

    ckpt = None
    if ckpt_dir and cfg.ckpt_every > 0:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
        ckpt = str(Path(ckpt_dir) / f"{cfg.run_id}.pt")
    row = train(cfg, ckpt_path=ckpt, quiet=not verbose)
    out.append(row)
    if ckpt and os.path.exists(ckpt):
        os.remove(ckpt)
    return row


def _die_with_parent() -> None:
    """Linux: kill this worker if the sweep process dies (no orphan keeps training)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(device: str, threads: int, todo, done, out_path, ckpt_dir, verbose) -> None:
    _die_with_parent()
    import torch

    if device == "cpu":
        torch.set_num_threads(threads)
    out = ResultsFile(out_path)
    while (item := todo.get()) is not None:  # None: no runs left
        i, fields = item
        cfg = RunConfig(**fields).replace(device=device)
        try:
            row = _run_one(cfg, out, ckpt_dir, verbose)
            done.put((i, device, row, None))
        except Exception:  # noqa: BLE001 - reported to the parent, sweep goes on
            done.put((i, device, None, traceback.format_exc()))


def run(runs: list[RunConfig], out_path, devices: list[str], ckpt_dir=None,
        verbose: bool = False) -> dict:
    """Train every run of `runs` not yet in `out_path`. Returns counts
    {"total", "skipped", "ok", "diverged", "failed"}; progress goes to stderr."""
    out = ResultsFile(out_path)
    have = out.run_ids()
    todo = [c for c in runs if c.run_id not in have]
    counts = {"total": len(runs), "skipped": len(runs) - len(todo), "ok": 0, "diverged": 0,
              "failed": 0}
    where = ", ".join(f"{n}x {d}" for d, n in _count(devices).items())
    log(f"sweep: {len(runs)} runs, {counts['skipped']} already in {out_path}, "
        f"{len(todo)} to train on {where}")
    t0 = time.perf_counter()

    def report(k, cfg, row, err, device):
        eta = (time.perf_counter() - t0) / k * (len(todo) - k)
        tag = f"[{k}/{len(todo)} {device}]"
        if err is not None:
            counts["failed"] += 1
            log(f"{tag} {describe(cfg)} FAILED (no row written; retried on resume):\n{err}")
        else:
            counts[row["status"]] += 1
            log(f"{tag} {describe(cfg)} -> {_outcome(row)}  eta {eta:.0f} s")

    if len(devices) == 1 or len(todo) <= 1:
        for k, cfg in enumerate(todo, 1):
            cfg = cfg.replace(device=devices[0])
            try:
                row, err = _run_one(cfg, out, ckpt_dir, verbose), None
            except Exception:  # noqa: BLE001
                row, err = None, traceback.format_exc()
            report(k, cfg, row, err, devices[0])
        return counts

    ctx = mp.get_context("spawn")
    q_todo, q_done = ctx.Queue(), ctx.Queue()
    for i, cfg in enumerate(todo):
        q_todo.put((i, dataclasses.asdict(cfg)))
    for _ in devices:
        q_todo.put(None)
    threads = max(1, (os.cpu_count() or 1) // sum(d == "cpu" for d in devices) or 1)
    procs = [ctx.Process(target=_worker, args=(d, threads, q_todo, q_done, str(out_path),
                                               ckpt_dir, verbose), daemon=True)
             for d in devices]
    for p in procs:
        p.start()
    got = 0
    try:
        while got < len(todo):
            try:
                i, device, row, err = q_done.get(timeout=1.0)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    break  # a worker died hard (e.g. out of memory): its run is not written
                continue
            got += 1
            report(got, todo[i], row, err, device)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    counts["failed"] += len(todo) - got
    return counts


def _count(items) -> dict:
    c: dict = {}
    for x in items:
        c[x] = c.get(x, 0) + 1
    return c
