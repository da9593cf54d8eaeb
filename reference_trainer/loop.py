"""What the single-run and the batched training loops share: starting a run, the
divergence rule, the log cadence, and the results row of a finished run."""

from __future__ import annotations

import math

from . import data, results, runtime, schedule
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


def curve_due(cfg: RunConfig, step: int) -> bool:
    """Whether the curve logs step index `step` (0-based) of a finished run's steps below
    its horizon: every `curves_every`-th step (steps K-1, 2K-1, ...)."""
    return cfg.curves_every > 0 and (step + 1) % cfg.curves_every == 0


def curve_rows(cfg: RunConfig, losses: list[float], vals: dict) -> list[dict]:
    """A finished run's curve lines (`results.CURVE_COLUMNS`): at every `curve_due` step
    and at its last step (the horizon, or the step it diverged at). `step` is the 0-based
    optimizer step, `lr` the base LR of its update (peak LR times the schedule),
    `tokens` the tokens trained through it, `train_loss` the loss of its batch (before its
    update), `val_loss` the validation loss after its update (`vals`: {step: loss}; blank
    where not measured, e.g. the step a run diverged at)."""
    if not cfg.curves_every:
        return []
    n = len(losses)
    out = []
    for i in range(n):
        if not (curve_due(cfg, i) or i == n - 1):
            continue
        v = losses[i]
        out.append({"run_id": cfg.run_id, "step": i, "tokens": (i + 1) * cfg.tokens_per_step,
                    "lr": cfg.lr * schedule.factor(cfg, i),
                    "train_loss": v if math.isfinite(v) else None, "val_loss": vals.get(i)})
    return out
