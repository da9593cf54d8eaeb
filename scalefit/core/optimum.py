"""The optimum of one LR sweep, vectorized over groups and resamples.

A sweep is summarised per distinct LR ("level"): ``n`` finite runs with loss sum ``s``
and sum of squares ``q``. With ``x = ln lr``, the estimator of DESIGN section 3 takes
the best observed level (lowest mean loss), keeps the levels within ``window`` grid
steps of it (widened until it holds 3 distinct LRs and, where the sweep has them, a
level on each side of the best), and fits
``L = c0 + c1 x + c2 x^2`` by least squares to every run in the window. Because ``x``
is constant within a level, the normal equations need only the per-level sums, so all
groups x all resamples are solved at once as a stack of 3x3 systems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OK, EDGE, TOO_FEW, NOT_CONVEX, ALL_DIVERGED = 0, 1, 2, 3, 4
STATUS_NAMES = ("ok", "edge", "too_few", "not_convex", "all_diverged")
DEFAULT_WINDOW = 2


@dataclass(frozen=True)
class SweepFit:
    """Per-group results; every array has the leading shape ``(..., G)``.

    ``x_opt``: ln lr at the fitted optimum; ``loss_opt``: fitted loss there;
    ``curvature``: ``c2`` in loss per (ln lr)^2; ``x_best``: ln lr of the best observed
    level; ``status``: int codes (see ``STATUS_NAMES``); ``n_window``: runs in the fit;
    ``levels_window``: distinct LRs in the fit; ``rmse``: residual RMS of the parabola;
    ``x_window``: (2, ..., G) ln lr of the lowest and highest level in the fit (only with
    ``bounds=True``, else None). Values are NaN where they do not exist (no convex fit, or
    no finite run).
    """

    x_opt: np.ndarray
    loss_opt: np.ndarray
    curvature: np.ndarray
    x_best: np.ndarray
    status: np.ndarray
    n_window: np.ndarray
    levels_window: np.ndarray
    rmse: np.ndarray
    x_window: np.ndarray | None = None


def fit_sweeps(
    x: np.ndarray, n: np.ndarray, s: np.ndarray, q: np.ndarray | None = None,
    window: int = DEFAULT_WINDOW, min_levels: int = 3, bounds: bool = False,
) -> SweepFit:
    """Fit every sweep.

    x: (G, J) ln lr of each level, sorted ascending per group, NaN-padded.
    n: (..., G, J) number of finite runs per level (bootstrap counts allowed).
    s: (..., G, J) sum of their losses; q: (..., G, J) sum of squared losses (for ``rmse``).
    window: half-width of the fit window in grid steps; min_levels: distinct LRs needed.
    bounds: also return the window's ln lr range (``x_window``; the point fit's figures use it).
    """
    n = np.asarray(n, dtype=float)
    s = np.asarray(s, dtype=float)
    x = np.broadcast_to(np.asarray(x, dtype=float), n.shape)
    present = n > 0
    n_present = present.sum(-1)
    J = x.shape[-1]
    j = np.arange(J)

    mean = np.where(present, s / np.where(present, n, 1.0), np.inf)
    jbest = np.argmin(mean, axis=-1)  # (..., G); the lowest index wins ties
    jlo = np.where(present, j, J).min(-1)
    jhi = np.where(present, j, -1).max(-1)
    x_best = np.take_along_axis(x, jbest[..., None], -1)[..., 0]

    # Window: levels within `window` steps of the best, widened until it holds min_levels
    # levels and a present level on each side of the best (when the sweep has one).
    dist = np.where(present, np.abs(j - jbest[..., None]), J + 1)
    kth = np.sort(dist, axis=-1)[..., min(min_levels, J) - 1] if J else np.zeros(n.shape[:-1])
    jb = jbest[..., None]
    left = np.where(present & (j < jb), j, -1).max(-1)
    right = np.where(present & (j > jb), j, J).min(-1)
    bracket = np.maximum(np.where(left >= 0, jbest - left, 0),
                         np.where(right < J, right - jbest, 0))
    radius = np.maximum(np.maximum(window, kth), bracket)
    inwin = present & (dist <= radius[..., None])
    w = np.where(inwin, n, 0.0)
    sw = np.where(inwin, s, 0.0)

    t = np.where(inwin, x - x_best[..., None], 0.0)  # centred ln lr
    wt = w * t
    wt2 = wt * t
    S0, S1, S2 = w.sum(-1), wt.sum(-1), wt2.sum(-1)
    S3, S4 = (wt2 * t).sum(-1), (wt2 * t * t).sum(-1)
    r0, r1, r2 = sw.sum(-1), (sw * t).sum(-1), (sw * t * t).sum(-1)

    # Normal equations [[S0,S1,S2],[S1,S2,S3],[S2,S3,S4]] c = r, solved by cofactors.
    C00, C01, C02 = S2 * S4 - S3 * S3, S2 * S3 - S1 * S4, S1 * S3 - S2 * S2
    C11, C12, C22 = S0 * S4 - S2 * S2, S1 * S2 - S0 * S3, S0 * S2 - S1 * S1
    det = S0 * C00 + S1 * C01 + S2 * C02
    levels_window = inwin.sum(-1)
    solvable = (levels_window >= 3) & (np.abs(det) > 1e-12 * np.abs(S0 * S2 * S4))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(solvable, 1.0 / np.where(solvable, det, 1.0), np.nan)
        c0 = (C00 * r0 + C01 * r1 + C02 * r2) * inv
        c1 = (C01 * r0 + C11 * r1 + C12 * r2) * inv
        c2 = (C02 * r0 + C12 * r1 + C22 * r2) * inv

    convex = solvable & (c2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_opt = np.where(convex, -c1 / (2 * c2), np.nan)
        loss_opt = np.where(convex, c0 - c1 * c1 / (4 * c2), np.nan)
    curvature = np.where(solvable, c2, np.nan)

    rmse = np.full(n.shape[:-1], np.nan)
    if q is not None:
        qw = np.where(inwin, np.asarray(q, dtype=float), 0.0).sum(-1)
        sse = qw - (c0 * r0 + c1 * r1 + c2 * r2)  # at the solution c'Mc = c'r
        with np.errstate(divide="ignore", invalid="ignore"):
            rmse = np.where(solvable & (S0 > 0), np.sqrt(np.maximum(sse, 0.0) / S0), np.nan)

    status = np.full(n.shape[:-1], OK, dtype=np.int8)
    status[~convex] = NOT_CONVEX
    status[(jbest == jlo) | (jbest == jhi)] = EDGE
    status[n_present < min_levels] = TOO_FEW
    status[n_present == 0] = ALL_DIVERGED
    x_best = np.where(n_present > 0, x_best, np.nan)
    x_window = None
    if bounds:
        x_window = np.stack([np.where(inwin, x, np.inf).min(-1),
                             np.where(inwin, x, -np.inf).max(-1)])
        x_window = np.where(np.isfinite(x_window), x_window, np.nan)

    return SweepFit(
        x_opt=x_best + t_opt,
        loss_opt=loss_opt,
        curvature=curvature,
        x_best=x_best,
        status=status,
        n_window=S0,
        levels_window=levels_window,
        rmse=rmse,
        x_window=x_window,
    )
