"""Loss curves as arrays: observed steps of many runs, their schedules' cumulative sums, and
the (observation, LR-change block) pairs the curve laws sum over.

Both curve laws (``core.curve_laws``) are sums over the steps ``k <= t`` at which the LR
changes, of the change ``delta_k = eta_k - eta_{k-1}`` times a kernel of the LR area
``S_k(t) = sum_{tau=k}^{t} eta_tau = S(t) - S(k-1)`` (``S`` the cumulative sum of the
schedule from step 0, warmup included). Steps where the LR does not change add nothing,
so a constant stretch costs nothing and a step drop costs one term.

A smoothly decaying schedule changes at every step, so the sum has ``t`` terms at step ``t``.
Far from ``t`` the kernel varies slowly in ``k``, so each observation's sum is taken over
blocks that double in length with the distance from ``t``: ``per_octave`` single steps
next to ``t``, then ``per_octave`` blocks of 2 steps, of 4, ... back to step 1. A block is
represented by its summed change and its change-weighted mean ``S(k-1)``, ``ln eta_k`` and
``k`` (a midpoint rule), all read off prefix sums, so any block costs O(1). A block at
distance ``d`` from ``t`` is at most ``d / per_octave`` long; with the default 8 the sum
differs from the exact one (``per_octave=None``) by far less than the noise of a logged
loss (tests/core/test_curves_core.py measures it). Blocks with no change are dropped, and a
block over which ln eta changes by more than ``LN_ETA_RANGE`` (the start of a warmup) is
halved until it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

DEFAULT_PER_OCTAVE = 8
LN_ETA_RANGE = 0.1  # a block's ln eta spans at most this (else it is halved)


@dataclass(frozen=True)
class CurveData:
    """Observations of ``R`` runs, flattened (``n`` observations, ``P`` pairs).

    ``run`` (n,) run index; ``step`` (n,) optimizer step; ``s1`` (n,) ``S(t)``: the sum of
    the LR over steps ``0..t``; ``pairs``: sparse (n, P) 0/1 matrix, observation x pair;
    ``dlr`` (P,) the block's summed LR change; ``ln_eta`` (P,) its mean ``ln eta_k``;
    ``area`` (P,) ``S(t) - S(k-1)``; ``lag`` (P,) ``t - k + 1``.
    """

    run: np.ndarray
    step: np.ndarray
    s1: np.ndarray
    pairs: sparse.csr_matrix
    dlr: np.ndarray
    ln_eta: np.ndarray
    area: np.ndarray
    lag: np.ndarray

    @property
    def n(self) -> int:
        return int(self.run.size)


def _offsets(t_max: int, per_octave: int | None) -> np.ndarray:
    """Distances back from ``t + 1`` of the block edges: 0, 1, .., m, m + 2, .., covering
    ``t_max`` steps (every step when ``per_octave`` is None)."""
    if per_octave is None:
        return np.arange(t_max + 2)
    sizes, total, size = [], 0, 1
    while total < t_max + 1:
        sizes += [size] * per_octave
        total += size * per_octave
        size *= 2
    return np.concatenate([[0], np.cumsum(sizes)])


def _split_steep(i, a, b, le, max_range=LN_ETA_RANGE):
    """Halve blocks [a, b) whose ln eta changes by more than ``max_range`` from end to end
    (the first steps of a warmup: the LR grows by orders of magnitude), until none does."""
    for _ in range(64):
        bad = (np.abs(le[b - 1] - le[a]) > max_range) & (b - a > 1)
        if not bad.any():
            break
        mid = (a[bad] + b[bad]) // 2
        b_new = b.copy()
        b_new[bad] = mid
        i, a, b = (np.concatenate([i, i[bad]]), np.concatenate([a, mid]),
                   np.concatenate([b_new, b[bad]]))
    order = np.lexsort((a, i))
    return i[order], a[order], b[order]


def curve_data(schedules, obs_steps, per_octave: int | None = DEFAULT_PER_OCTAVE) -> CurveData:
    """Pairs for runs with LR ``schedules[r]`` (eta at steps 0..T_r-1) observed at the
    steps ``obs_steps[r]`` (each < T_r). Returns a ``CurveData``."""
    runs, steps, s1s, rows, dlr, ln_eta, area, lag = [], [], [], [], [], [], [], []
    n0 = 0
    for r, (eta, t) in enumerate(zip(schedules, obs_steps)):
        eta = np.asarray(eta, float)
        t = np.asarray(t, np.int64)
        S = np.cumsum(eta)
        d = np.zeros(eta.size)
        d[1:] = np.diff(eta)  # d[k] = eta_k - eta_(k-1); k = 0 adds nothing
        w = np.abs(d)
        with np.errstate(divide="ignore"):
            le = np.log(np.where(eta > 0, eta, 1.0))
        # eta_k = 0 (a drop to zero): the kernel sees x = inf (G = 1)
        le = np.where(eta > 0, le, -745.0)
        S_prev = np.concatenate([[0.0], S[:-1]])
        cum = np.zeros((5, eta.size + 1))  # prefix sums of d, w, w S(k-1), w ln eta, w k
        cum[:, 1:] = np.cumsum([d, w, w * S_prev, w * le, w * np.arange(eta.size)], axis=1)
        off = _offsets(int(t.max()) if t.size else 0, per_octave)
        hi = t[:, None] + 1 - off[None, :-1]  # block [lo, hi) of steps, (n_r, L)
        lo = np.maximum(t[:, None] + 1 - off[None, 1:], 1)
        W = cum[1, np.clip(hi, 0, None)] - cum[1, np.clip(lo, 0, None)]
        keep = (lo < hi) & (W > 0)
        i, j = np.nonzero(keep)
        i, a, b = _split_steep(i, lo[i, j], hi[i, j], le)
        Wk = cum[1, b] - cum[1, a]
        i, a, b, Wk = i[Wk > 0], a[Wk > 0], b[Wk > 0], Wk[Wk > 0]
        runs.append(np.full(t.size, r))
        steps.append(t)
        s1s.append(S[t])
        rows.append(n0 + i)
        dlr.append(cum[0, b] - cum[0, a])
        area.append(S[t[i]] - (cum[2, b] - cum[2, a]) / Wk)
        ln_eta.append((cum[3, b] - cum[3, a]) / Wk)
        lag.append(t[i] - (cum[4, b] - cum[4, a]) / Wk + 1.0)
        n0 += t.size
    cat = np.concatenate
    rows = cat(rows)
    P = rows.size
    pairs = sparse.csr_matrix((np.ones(P), (rows, np.arange(P))), shape=(n0, P))
    return CurveData(run=cat(runs).astype(np.int64), step=cat(steps), s1=cat(s1s), pairs=pairs,
                     dlr=cat(dlr), ln_eta=cat(ln_eta), area=cat(area), lag=cat(lag))


def subset(data: CurveData, keep_obs: np.ndarray) -> CurveData:
    """The observations ``keep_obs`` (bool (n,)) and their pairs; run ids are kept."""
    keep_obs = np.asarray(keep_obs, bool)
    rows = data.pairs[keep_obs]
    cols = np.flatnonzero(np.asarray(rows.sum(axis=0)).ravel() > 0)
    return CurveData(run=data.run[keep_obs], step=data.step[keep_obs], s1=data.s1[keep_obs],
                     pairs=rows[:, cols].tocsr(), dlr=data.dlr[cols], ln_eta=data.ln_eta[cols],
                     area=data.area[cols], lag=data.lag[cols])
