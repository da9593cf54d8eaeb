"""What the single-run and the batched training loops share: starting a run, the
divergence rule, the log cadence, and the results row of a finished run."""

from __future__ import annotations

import math

from . import data, results, runtime
from .config import RunConfig


def start(cfg: RunConfig, batched: bool = False) -> tuple[runtime.Dist, data.Dataset]:
    """Begin a run (or a batch of runs): record the code revision it starts with, set up
    its device (one DDP rank under torchrun; TF32 on CUDA) and load its data."""
    results.git_rev()  # cached now: the row names the code this run started with
    d = runtime.setup(cfg.device)
    if batched and d.world > 1:
        raise ValueError("batched training runs in one process; use `train` under torchrun")
    runtime.enable_tf32(d.device)
    return d, data.load(cfg.data, cfg.val_frac)


def diverged(loss: float, first: float, factor: float) -> bool:
    """The divergence rule: the training loss is NaN/inf or above `factor` times the loss
    of the first step."""
    return not math.isfinite(loss) or loss > factor * first


def log_every(cfg: RunConfig, n_steps: int) -> int:
    """Log every this many steps: `cfg.log_every`, or about 10 lines per run."""
    return cfg.log_every or max(1, n_steps // 10)


def finished_row(cfg: RunConfig, tbl, losses: list[float], val_loss: float | None, *,
                 n_params: int, n_params_total: int, wall_time_s: float,
                 tokens_per_s: float, device: str, data_name: str) -> dict:
    """The results row of a run that ended (at its horizon with `val_loss`, or diverged
    with None): train_loss is the mean of its last 10 finite training losses."""
    ok = val_loss is not None and math.isfinite(val_loss)
    tail = [v for v in losses[-10:] if math.isfinite(v)]
    return results.make_row(
        cfg, tbl, n_params=n_params, n_params_total=n_params_total,
        val_loss=val_loss if ok else None,
        train_loss=sum(tail) / len(tail) if tail else None,
        status="ok" if ok else "diverged", steps=len(losses), wall_time_s=wall_time_s,
        tokens_per_s=tokens_per_s, device=device, data_name=data_name)
