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


SPIKE_WINDOW = 50    # steps of the running median a spike is measured against
SPIKE_FACTOR = 1.2   # a step whose loss exceeds this times that median is in a spike


def spikes(losses: list[float], window: int = SPIKE_WINDOW,
           factor: float = SPIKE_FACTOR) -> tuple[int, float | None]:
    """Loss spikes of a training curve: (the number of spikes, the largest ratio of a
    step's loss to the median of the `window` steps before it). A spike is a run of
    consecutive steps above `factor` times that median; steps before the first full
    window are not judged; a non-finite loss counts as above. (0, None) for a curve
    shorter than window + 1 steps."""
    import numpy as np

    x = np.asarray(losses, dtype=float)
    if len(x) <= window:
        return 0, None
    from numpy.lib.stride_tricks import sliding_window_view

    ref = np.median(sliding_window_view(x[:-1], window), axis=1)  # (n - window,)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = x[window:] / ref
    ratio = np.where(np.isfinite(ratio), ratio, np.inf)
    above = ratio > factor
    starts = int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))
    top = float(ratio.max())
    return starts, (top if np.isfinite(top) else None)


def finished_row(cfg: RunConfig, tbl, losses: list[float], val_loss: float | None, *,
                 n_params: int, n_params_total: int, wall_time_s: float,
                 tokens_per_s: float, device: str, data_name: str) -> dict:
    """The results row of a run that ended (at its horizon with `val_loss`, or diverged
    with None): train_loss is the mean of its last 10 finite training losses;
    loss_spikes and max_loss_ratio come from `spikes` over every step's loss."""
    ok = val_loss is not None and math.isfinite(val_loss)
    tail = [v for v in losses[-10:] if math.isfinite(v)]
    n_spikes, max_ratio = spikes(losses)
    return results.make_row(
        cfg, tbl, n_params=n_params, n_params_total=n_params_total,
        val_loss=val_loss if ok else None,
        train_loss=sum(tail) / len(tail) if tail else None,
        loss_spikes=n_spikes, max_loss_ratio=max_ratio,
        status="ok" if ok else "diverged", steps=len(losses), wall_time_s=wall_time_s,
        tokens_per_s=tokens_per_s, device=device, data_name=data_name)
