"""What a worker does with a batch of runs, wherever it runs (in the sweep's process, a
worker process, a Ray task): train them and hand each outcome to a callback. Workers
never write the results file; the sweep's driver does (`sweep.Driver`).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from .config import RunConfig
from .runtime import log


class StopSweep(Exception):
    """Raised by a `done` callback when the sweep must stop at once (its results file
    cannot be written); it passes through `run_batch` instead of failing the runs."""


def ckpt_path(ckpt_dir, run_id: str) -> Path:
    """The checkpoint of a run trained alone."""
    return Path(ckpt_dir) / f"{run_id}.pt"


def _is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def run_batch(items: list, ckpt_dir, verbose: bool, done) -> None:
    """Train the runs `items` = [(index, cfg)] together (one alone: `train.train`); call
    `done(index, row, error)` for each as it finishes (row None and the traceback as
    error when it raised). Out of memory: the unfinished runs are split in two and
    retried. WSD runs of one stable run train as a branch family
    (`branches.train_family`)."""
    cfgs = [c for _, c in items]
    if len(items) > 1 and cfgs[0].schedule == "wsd":
        from .branches import train_family

        finished = set()

        def on_branch(k, row):
            finished.add(k)
            done(items[k][0], row, None)

        try:
            train_family(cfgs, quiet=not verbose, on_row=on_branch)
        except StopSweep:
            raise
        except Exception:  # noqa: BLE001 - reported, the sweep goes on
            err = traceback.format_exc()
            for k, (i, _) in enumerate(items):
                if k not in finished:
                    done(i, None, err)
        return
    if len(items) == 1:
        i, cfg = items[0]
        try:
            row, err = _run_one(cfg, ckpt_dir, verbose), None
        except Exception:  # noqa: BLE001 - reported, the sweep goes on
            row, err = None, traceback.format_exc()
        done(i, row, err)
        return
    from .batched_train import train_batch

    finished = set()

    def on_row(k, row):
        finished.add(k)
        done(items[k][0], row, None)

    try:
        train_batch([c for _, c in items], ckpt_dir=ckpt_dir, quiet=not verbose,
                    on_row=on_row)
    except StopSweep:
        raise
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
                run_batch(half, ckpt_dir, verbose, done)
            return
        err = traceback.format_exc()
        for i, _ in rest:
            done(i, None, err)


def _run_one(cfg: RunConfig, ckpt_dir, verbose: bool) -> dict:
    from .train import train

    ckpt = None
    if ckpt_dir and cfg.ckpt_every > 0:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
        ckpt = str(ckpt_path(ckpt_dir, cfg.run_id))
    return train(cfg, ckpt_path=ckpt, quiet=not verbose)
