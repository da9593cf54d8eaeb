"""Decisions from a fitted curve law: the curve of an unseen schedule with a band, two
schedules compared at their ends, and the loss at every branch point of a WSD run.

All take the point estimate ``theta`` (k,) and the bootstrap draws ``draws`` (B, k) or None.
Intervals of a difference are paired (the same draw for both schedules), so the parameter
uncertainty the two share cancels. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from .curve_boot import beyond_errors
from .curve_data import curve_data
from .curve_fit import predict_draws
from .schedules import ScheduleSpec, build_schedule, decay


def _q(level):
    return 100.0 * np.array([(1 - level) / 2, (1 + level) / 2])


def predict_curve(law, theta, draws, eta, steps, errors, level, seed=0, lfo=None,
                  fitted_top=None) -> dict:
    """The law's curve at ``steps`` of schedule ``eta``: ``loss`` (n,), and with draws the
    band of the curve (``mean_lo``, ``mean_hi``) and of an observed loss (``lo``, ``hi``:
    each draw times exp of an ln error drawn from ``errors``, plus at steps beyond
    ``fitted_top`` (the longest step fitted) a leave-future-out error at that ratio of
    steps from ``lfo``, ``curve_boot.beyond_errors``; ``past_measured``: whether a step lies
    beyond the largest ratio those errors measured)."""
    data = curve_data([eta], [np.asarray(steps, np.int64)])
    out = {"loss": predict_draws(law, np.asarray(theta)[None], data)[0]}
    if draws is not None:
        d = predict_draws(law, draws, data)
        q = _q(level)
        with np.errstate(invalid="ignore"):
            out["mean_lo"], out["mean_hi"] = np.nanpercentile(d, q, axis=0)
            e = np.asarray(errors, float)
            e = e[np.isfinite(e)]
            rng = np.random.default_rng(seed)
            ln_err = rng.choice(e, size=d.shape)
            if lfo is not None and fitted_top:
                extra, out["past_measured"] = beyond_errors(
                    lfo, np.asarray(steps, float) / fitted_top, d.shape[0], rng)
                ln_err = ln_err + extra
            noisy = d * np.exp(ln_err)
            out["lo"], out["hi"] = np.nanpercentile(noisy, q, axis=0)
    return out


def compare_ends(law, theta, draws, eta_a, step_a, eta_b, step_b, level) -> dict:
    """Loss of schedule b minus schedule a at steps ``step_a``/``step_b`` (their ends):
    ``loss_a``, ``loss_b``, ``diff`` and, with draws, ``diff_lo``, ``diff_hi`` and
    ``p_b_lower`` (the share of draws in which b ends lower)."""
    data = curve_data([eta_a, eta_b], [np.array([step_a]), np.array([step_b])])
    point = predict_draws(law, np.asarray(theta)[None], data)[0]
    out = {"loss_a": float(point[0]), "loss_b": float(point[1]),
           "diff": float(point[1] - point[0])}
    if draws is not None:
        d = predict_draws(law, draws, data)
        diff = d[:, 1] - d[:, 0]
        lo, hi = np.nanpercentile(diff, _q(level))
        out.update(diff_lo=float(lo), diff_hi=float(hi),
                   p_b_lower=float(np.nanmean(diff < 0)))
    return out


def wsd_branches(law, theta, draws, spec: ScheduleSpec, branch_steps, cooldown_steps: int,
                 end_lr: float, decay_shape: str, level) -> dict:
    """Loss at the end of a cooldown of ``cooldown_steps`` (``decay_shape`` to ``end_lr``)
    branched from the stable phase of ``spec`` (warmup then ``peak_lr``) at each step of
    ``branch_steps``: ``horizon`` (branch + cooldown), ``loss``, ``lo``/``hi`` (the curve's
    band), and the constant-LR loss at the branch step (``loss_at_branch``). A run of
    horizon H runs steps 0 .. H-1 and decays over its last ``cooldown_steps``, as a ``wsd``
    ``ScheduleSpec`` with ``total_steps = H`` and ``decay_start = H - cooldown_steps``."""
    b = np.asarray(branch_steps, np.int64)
    H = b + int(cooldown_steps)
    base = build_schedule(ScheduleSpec(int(H.max()) + 1, spec.peak_lr, "constant",
                                       spec.warmup_steps))
    etas, steps = [], []
    for bi, h in zip(b, H):
        eta = base[:h].copy()  # steps 0 .. h-1: the decay over b .. h-1 (v = (s - b) / L)
        v = (np.arange(bi, h) - bi) / max(int(cooldown_steps), 1)
        eta[bi:] = decay(spec.peak_lr, end_lr, v, decay_shape)
        etas.append(eta)
        steps.append(np.array([h - 1]))
    etas.append(base)
    steps.append(b)
    data = curve_data(etas, steps)
    point = predict_draws(law, np.asarray(theta)[None], data)[0]
    n = b.size
    out = {"branch": b, "horizon": H, "loss": point[:n], "loss_at_branch": point[n:]}
    if draws is not None:
        d = predict_draws(law, draws, data)[:, :n]
        out["lo"], out["hi"] = np.nanpercentile(d, _q(level), axis=0)
    return out
