"""IsoFLOP profiles as sweeps: the two steps an IsoFLOP analysis adds to the LR-sweep core.

An IsoFLOP profile is a sweep with ``x = ln N`` (model size) and the FLOP budget as the
group, so its optimum, statuses and run bootstrap are those of ``core.optimum`` and
``core.bootstrap`` unchanged. Two things are IsoFLOP-specific:

* ``budget_bins``: runs whose FLOPs are not exactly equal per profile (FLOPs counted per
  run) are grouped into budgets by relative closeness.
* ``interp_levels``: the tokens D at a fitted optimum N*, read off the profile by linear
  interpolation of ln D in ln N (for tables whose FLOPs are not ``6 N D``).
"""

from __future__ import annotations

import numpy as np


def budget_bins(ln_c: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Group values of ln C into budgets: sorted, a new budget starts wherever the ratio of
    neighbouring values exceeds ``1 + tol``.

    Returns ``(bin, spread)``: the budget index of every value (0, 1, ... in increasing C)
    and, per budget, the ratio of its largest to its smallest C (budgets that chain over a
    wide range show a large spread; the caller decides what is too wide).
    """
    ln_c = np.asarray(ln_c, dtype=float)
    order = np.argsort(ln_c, kind="stable")
    srt = ln_c[order]
    new = np.r_[True, np.diff(srt) > np.log1p(tol)] if srt.size else np.zeros(0, bool)
    sorted_bin = np.cumsum(new) - 1
    out = np.empty(ln_c.size, dtype=np.int64)
    out[order] = sorted_bin
    n = int(sorted_bin[-1]) + 1 if srt.size else 0
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, sorted_bin, srt)
    np.maximum.at(hi, sorted_bin, srt)
    return out, np.exp(hi - lo)


def interp_levels(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``y`` in ``x`` per group, extrapolating from the end segments.

    x: (G, J) ascending per group, NaN-padded (the levels of ``core.sweeps.Sweeps``);
    y: (G, J) values at the levels (NaN where absent); xq: (..., G) query points.
    Returns (..., G); NaN where a group has fewer than 2 levels with a value, or xq is NaN.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xq = np.asarray(xq, dtype=float)
    out = np.full(xq.shape, np.nan)
    for g in range(x.shape[0]):
        keep = np.isfinite(x[g]) & np.isfinite(y[g])
        xs, ys = x[g, keep], y[g, keep]
        if xs.size < 2:
            continue
        q = xq[..., g]
        i = np.clip(np.searchsorted(xs, q) - 1, 0, xs.size - 2)
        with np.errstate(invalid="ignore"):
            t = (q - xs[i]) / (xs[i + 1] - xs[i])
        out[..., g] = ys[i] + t * (ys[i + 1] - ys[i])
    return out
