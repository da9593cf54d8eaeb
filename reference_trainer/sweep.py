"""Sweeps: expand a grid into runs, train the missing ones, append one row each.

Resumable by construction: a run is identified by `RunConfig.run_id`; runs whose id
is already in the CSV are skipped, rows are appended atomically (`results`), so a
sweep can be killed at any instant and restarted with the same command, losing at
most the runs in progress (and with ``--ckpt-dir``, not even those). Several devices
(all visible GPUs by default) each get a worker process that pulls work from a queue.

Batching (default where it pays: always on GPUs, up to `CPU_BATCH_MAX_WIDTH` on CPUs):
the runs still to train that share a shape (`batched.batch_key`:
width, depth, data, batch size, ...; LRs, seeds, parameterizations and horizons may
differ) are trained together, up to `max_batch` at a time, by `batched_train`; each
still gets its own row, appended as soon as it finishes. ``batch=False`` trains them
one by one (`train.train`).
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
    """{field: value or list of values} -> one RunConfig per grid point (deduplicated).

    ``tokens_per_param`` (value or list; instead of ``tokens``) sets each run's horizon
    to that many tokens per non-embedding parameter of its model, rounded to whole
    optimizer steps: a fixed tokens-per-parameter study across widths."""
    spec = dict(spec)
    tpp = spec.pop("tokens_per_param", None)
    if tpp is not None:
        if "tokens" in spec:
            raise ValueError("give tokens or tokens_per_param, not both")
        tpps = tpp if isinstance(tpp, list | tuple) else [tpp]
        if not all(isinstance(t, int | float) and t > 0 for t in tpps):
            raise ValueError(f"tokens_per_param must be positive numbers, got {tpp!r}")
        from .build import non_embedding_params

        runs, seen = [], set()
        for t in tpps:
            for cfg in expand(spec):
                steps = max(1, round(t * non_embedding_params(cfg) / cfg.tokens_per_step))
                cfg = cfg.replace(tokens=steps * cfg.tokens_per_step)
                if cfg.run_id not in seen:
                    seen.add(cfg.run_id)
                    runs.append(cfg)
        return runs
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


# On a CPU a batch pays only for tiny models (benchmarks/README.md, "Batched sweeps":
# 1.7x at width 32, 1.2x at width 64, 0.83 to 0.99x at width 128), so by default a
# CPU sweep batches runs of width <= CPU_BATCH_MAX_WIDTH and trains wider ones one by one.
CPU_BATCH_MAX_WIDTH = 64


def plan(todo: list[RunConfig], max_batch: int, n_devices: int = 1,
         max_width: int | None = None) -> list[list[int]]:
    """Indices of `todo` in batches: runs of one `batch_key`, in grid order, at most
    `max_batch` each (1: every run alone; so are runs wider than `max_width` when it is
    given); batches are split further while there are fewer than `n_devices`, so every
    device has work."""
    from .batched import batch_key

    groups: dict = {}
    for i, cfg in enumerate(todo):
        groups.setdefault(batch_key(cfg), []).append(i)
    batches = []
    for g in groups.values():
        wide = max_width is not None and todo[g[0]].width > max_width
        size = 1 if wide else max(1, max_batch)
        batches += [g[j:j + size] for j in range(0, len(g), size)]
    while len(batches) < n_devices:
        big = max(range(len(batches)), key=lambda b: len(batches[b]), default=None)
        if big is None or len(batches[big]) < 2:
            break
        b = batches.pop(big)
        batches[big:big] = [b[:len(b) // 2], b[len(b) // 2:]]
    return batches


def _is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def _run_batch(items: list, out: ResultsFile, ckpt_dir, verbose: bool, done) -> None:
    """Train the runs `items` = [(index, cfg)] together (one alone: `_run_one`); call
    `done(index, row, error)` for each. Out of memory: the unfinished runs are split in
    two and retried."""
    if len(items) == 1:
        i, cfg = items[0]
        try:
            row, err = _run_one(cfg, out, ckpt_dir, verbose), None
        except Exception:  # noqa: BLE001 - reported, the sweep goes on
            row, err = None, traceback.format_exc()
        done(i, row, err)
        return
    from .batched_train import remove_finished_checkpoints, train_batch

    finished = set()

    def on_row(k, row):
        out.append(row)
        finished.add(k)
        done(items[k][0], row, None)

    try:
        train_batch([c for _, c in items], ckpt_dir=ckpt_dir, quiet=not verbose,
                    on_row=on_row)
    except Exception as e:  # noqa: BLE001
        rest = [it for k, it in enumerate(items) if k not in finished]
        if _is_oom(e) and len(rest) > 1:
            import gc

            import torch

            del e
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            log(f"batch of {len(items)} ran out of memory: retrying its {len(rest)} "
                f"unfinished runs in two batches (set --max-batch lower)")
            for half in (rest[:len(rest) // 2], rest[len(rest) // 2:]):
                _run_batch(half, out, ckpt_dir, verbose, done)
            return
        err = traceback.format_exc()
        for i, _ in rest:
            done(i, None, err)
    if ckpt_dir:
        remove_finished_checkpoints(ckpt_dir, out.run_ids())


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


def _worker(device: str, threads: int, todo, done, out_path, ckpt_dir, verbose,
            rev: str) -> None:
    _die_with_parent()
    import torch

    from .results import pin_git_rev

    pin_git_rev(rev)  # rows name the code the sweep started with
    if device == "cpu":
        torch.set_num_threads(threads)
    out = ResultsFile(out_path)
    while (batch := todo.get()) is not None:  # None: no work left
        items = [(i, RunConfig(**fields).replace(device=device)) for i, fields in batch]
        _run_batch(items, out, ckpt_dir, verbose,
                   lambda i, row, err: done.put((i, device, row, err)))


def run(runs: list[RunConfig], out_path, devices: list[str], ckpt_dir=None,
        verbose: bool = False, batch: bool | None = None, max_batch: int = 16) -> dict:
    """Train every run of `runs` not yet in `out_path`, runs of one shape together in
    batches of up to `max_batch`: always with `batch` True, never with False, and with
    None (default) where it pays: on GPUs always, on CPUs up to width
    `CPU_BATCH_MAX_WIDTH`. Returns counts {"total", "skipped", "ok", "diverged",
    "failed"}; progress goes to stderr."""
    from .results import git_rev

    rev = git_rev()  # cached: rows name the code that started, even if the tree changes
    out = ResultsFile(out_path)
    have = out.run_ids()
    todo = [c for c in runs if c.run_id not in have]
    counts = {"total": len(runs), "skipped": len(runs) - len(todo), "ok": 0, "diverged": 0,
              "failed": 0}
    cpu_only = all(d == "cpu" for d in devices)
    max_width = CPU_BATCH_MAX_WIDTH if batch is None and cpu_only else None
    batches = plan(todo, max_batch if batch is not False else 1, len(devices), max_width)
    where = ", ".join(f"{n}x {d}" for d, n in _count(devices).items())
    how = ""
    if batch is not False and len(batches) < len(todo):
        how = (f" in {len(batches)} batch{'es' if len(batches) > 1 else ''} of up to "
               f"{max(map(len, batches))}")
    log(f"sweep: {len(runs)} runs, {counts['skipped']} already in {out_path}, "
        f"{len(todo)} to train on {where}{how}")
    t0 = time.perf_counter()
    got = 0

    def report(i, device, row, err):
        nonlocal got
        got += 1
        cfg = todo[i]
        eta = (time.perf_counter() - t0) / got * (len(todo) - got)
        tag = f"[{got}/{len(todo)} {device}]"
        if err is not None:
            counts["failed"] += 1
            log(f"{tag} {describe(cfg)} FAILED (no row written; retried on resume):\n{err}")
        else:
            counts[row["status"]] += 1
            log(f"{tag} {describe(cfg)} -> {_outcome(row)}  eta {eta:.0f} s")

    if len(devices) == 1 or len(batches) <= 1:
        dev = devices[0]
        for b in batches:
            _run_batch([(i, todo[i].replace(device=dev)) for i in b], out, ckpt_dir, verbose,
                       lambda i, row, err: report(i, dev, row, err))
        return counts

    ctx = mp.get_context("spawn")
    q_todo, q_done = ctx.Queue(), ctx.Queue()
    for b in batches:
        q_todo.put([(i, dataclasses.asdict(todo[i])) for i in b])
    for _ in devices:
        q_todo.put(None)
    threads = max(1, (os.cpu_count() or 1) // sum(d == "cpu" for d in devices) or 1)
    procs = [ctx.Process(target=_worker, args=(d, threads, q_todo, q_done, str(out_path),
                                               ckpt_dir, verbose, rev), daemon=True)
             for d in devices]
    for p in procs:
        p.start()
    try:
        while got < len(todo):
            try:
                i, device, row, err = q_done.get(timeout=1.0)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    break  # a worker died hard (e.g. out of memory): its runs are not written
                continue
            report(i, device, row, err)
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
