"""Learning-rate schedule: linear warmup, then cosine / linear decay, constant, or WSD.

The schedule is a factor in [0, 1] that multiplies every parameter group's peak LR
(``lr * lr_mult``) and, with independent weight decay, the decay rate. Step ``i``
(0-based) of ``n_steps``: warmup ``(i + 1) / warmup`` for ``i < warmup``; then with
``p = (i - warmup) / (n_steps - warmup)`` in [0, 1) the factor decays from 1 towards
``min_frac``, reaching it exactly at ``i = n_steps``, the end of the token horizon.
WSD (warmup-stable-decay): 1 after the warmup until ``decay_start = n_steps -
cooldown_steps``, then linear from 1 towards ``min_frac`` with ``p = (i - decay_start) /
cooldown_steps``, reaching it at ``i = n_steps``; the steps before ``decay_start`` do not
depend on the horizon, so runs of several horizons share them (``branches``).
"""

from __future__ import annotations

import math


def lr_factor(step: int, n_steps: int, warmup_steps: int, kind: str = "cosine",
              min_frac: float = 0.1, cooldown_steps: int = 0) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    if kind == "wsd":
        start = n_steps - cooldown_steps
        if step < start:
            return 1.0
        return min_frac + (1.0 - min_frac) * (1.0 - (step - start) / max(1, cooldown_steps))
    p = (step - warmup_steps) / max(1, n_steps - warmup_steps)
    if kind == "cosine":
        return min_frac + (1.0 - min_frac) * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "linear":
        return min_frac + (1.0 - min_frac) * (1.0 - p)
    raise ValueError(f"unknown schedule {kind!r}; use cosine, linear, constant or wsd")


def factor(cfg, step: int) -> float:
    """The schedule factor of run `cfg` (a `RunConfig`) at step `step`."""
    return lr_factor(step, cfg.steps, cfg.warmup_steps, cfg.schedule, cfg.min_lr_frac,
                     cfg.cooldown_steps)
