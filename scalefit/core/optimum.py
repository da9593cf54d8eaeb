"""The optimum of one LR sweep, vectorized over groups and resamples.

A sweep is summarised per distinct LR ("level"): ``n`` finite runs with loss sum ``s``
and sum of squares ``q``. With ``x = ln lr``, the estimator of DESIGN section 3 takes
the best observed level (lowest mean loss), keeps the levels within ``window`` grid
steps of it (widened until it holds 3 distinct LRs and, where the sweep has them, a
level on each side of the best), and fits
``L = c0 + c1 x + c2 x^2`` by least squares to every run in the window. Because ``x``
is constant within a level, the normal equations need only the per-level sums, so all
groups x all resamples are solved at once as a stack of 3x3 systems.

The status says what the data can support (docs/math.md section 1): besides ``edge``,
``too_few``, ``not_convex`` and ``all_diverged``, ``bad_fit`` (the parabola does not
describe its window), ``off_grid`` (the vertex lies outside the LRs it was fitted on) and
``div_bracketed`` (the best LR lies between a finite lower LR and a diverged higher one,
and there is no parabola to fit). Every rule is an array operation on the ``(..., G)``
outputs, the same for the point fit and every resample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .defaults import DEFAULT_WINDOW, GAP_SD, MAX_MISFIT  # noqa: F401 (re-exported)
from .status_names import STATUS_NAMES  # noqa: F401 (the codes' names; re-exported)
from .sums import rowsum

OK, EDGE, TOO_FEW, NOT_CONVEX, ALL_DIVERGED, BAD_FIT, OFF_GRID, DIV_BRACKETED, FLAT = range(9)
# ``flat`` is set by the pipeline once the group's noise is known (``core.noise``), never
# by ``fit_sweeps``.


@dataclass(frozen=True)
class SweepFit:
    """Per-group results; every array has the leading shape ``(..., G)``.

    ``x_opt``: ln lr at the fitted optimum; ``loss_opt``: fitted loss there;
    ``curvature``: ``c2`` in loss per (ln lr)^2; ``x_best``: ln lr of the best observed
    level; ``loss_best``: its mean loss; ``status``: int codes (see ``STATUS_NAMES``);
    ``n_window``: runs in the fit; ``levels_window``: distinct LRs in the fit; ``rmse``:
    residual RMS of the parabola over the runs; ``misfit``: RMS of the level means around
    the parabola over the valley's depth in the window; ``noise``: the s.d. of one run the
    rules used; ``bad``: the fit fails a ``bad_fit`` rule (whatever the status);
    ``x_window``: (2, ..., G) ln lr of the lowest and highest level in the fit;
    ``bracket``: (2, ..., G) ln lr of the finite level below the best and of the diverged
    LR above it for ``div_bracketed`` sweeps (NaN otherwise; None without ``x_div``).
    ``best_level``: the index of the best level (``x_best`` is ``x`` there), -1 where no
    level has a finite run (set by the resamples' fit, ``rules=False``; None otherwise).
    Values are NaN where they do not exist (no convex fit, or no finite run).
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
    loss_best: np.ndarray | None = None
    misfit: np.ndarray | None = None
    noise: np.ndarray | None = None
    bad: np.ndarray | None = None
    bracket: np.ndarray | None = None
    best_level: np.ndarray | None = None


def fit_sweeps(
    x: np.ndarray, n: np.ndarray, s: np.ndarray, q: np.ndarray | None = None,
    window: int = DEFAULT_WINDOW, min_levels: int = 3, bounds: bool = False,
    x_div: np.ndarray | None = None, noise: np.ndarray | None = None,
    max_misfit: float = MAX_MISFIT, gap_sd: float = GAP_SD, rules: bool = True,
) -> SweepFit:
    """Fit every sweep.

    x: (G, J) ln lr of each level, sorted ascending per group, NaN-padded.
    n: (..., G, J) number of finite runs per level (bootstrap counts allowed).
    s: (..., G, J) sum of their losses; q: (..., G, J) sum of squared losses (for ``rmse``
    and the replicate noise).
    window: half-width of the fit window in grid steps; min_levels: distinct LRs needed.
    bounds: kept for callers of earlier versions (``x_window`` is always returned).
    x_div: (G,) ln lr of the lowest diverged LR above each sweep's highest finite level
    (NaN: none); enables ``div_bracketed``.
    noise: (G,) the yardstick of the ``bad_fit`` gap rule; default: the spread of the
    window's three lowest level means, or the pooled s.d. of its replicates (from ``q``)
    where that is larger.
    max_misfit, gap_sd: thresholds of the two ``bad_fit`` rules (module constants).
    rules: apply the ``bad_fit`` and ``off_grid`` rules (resamples skip them: a resample
    contributes its convex vertex whatever its misfit; see ``core.bootstrap``).
    """
    n = np.asarray(n, dtype=float)
    x = np.broadcast_to(np.asarray(x, dtype=float), n.shape)

    def levels(a):  # (..., G, J) -> (J, ..., G)
        return np.ascontiguousarray(np.moveaxis(np.asarray(a, dtype=float), -1, 0))

    return fit_levels(levels(x), levels(n), levels(s), None if q is None else levels(q),
                      window=window, min_levels=min_levels, x_div=x_div, noise=noise,
                      max_misfit=max_misfit, gap_sd=gap_sd, rules=rules)


def fit_levels(
    x: np.ndarray, n: np.ndarray, s: np.ndarray, q: np.ndarray | None = None,
    window: int = DEFAULT_WINDOW, min_levels: int = 3, x_div: np.ndarray | None = None,
    noise: np.ndarray | None = None, max_misfit: float = MAX_MISFIT, gap_sd: float = GAP_SD,
    rules: bool = True,
) -> SweepFit:
    """``fit_sweeps`` on level-major arrays: x, n, s, q (J, ..., G), level first (x may be
    a broadcast view). Each sum over the levels adds in numpy's row order
    (``core.sums.rowsum``), so the numbers are those of the (..., G, J) layout, to the
    bit; the sums and minima run over long arrays instead of one short row per sweep."""
    J = n.shape[0]
    shape = n.shape[1:]
    present = n > 0
    n_present = present.sum(0)
    j = np.arange(J).reshape((J,) + (1,) * len(shape))

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(present, s / np.where(present, n, 1.0), np.inf)
    jbest = np.argmin(mean, axis=0)  # (..., G); the lowest index wins ties
    jlo = np.where(present, j, J).min(0)
    jhi = np.where(present, j, -1).max(0)
    x_best = np.take_along_axis(x, jbest[None], 0)[0]

    # Window: levels within `window` steps of the best, widened until it holds min_levels
    # levels and a present level on each side of the best (when the sweep has one).
    jb = jbest[None]
    dist = np.where(present, np.abs(j - jb), J + 1)
    k = min(min_levels, J) - 1
    kth = np.partition(dist, k, axis=0)[k] if J else np.zeros(shape)
    left = np.where(present & (j < jb), j, -1).max(0)
    right = np.where(present & (j > jb), j, J).min(0)
    bracket = np.maximum(np.where(left >= 0, jbest - left, 0),
                         np.where(right < J, right - jbest, 0))
    radius = np.maximum(np.maximum(window, kth), bracket)
    inwin = present & (dist <= radius[None])
    w = np.where(inwin, n, 0.0)
    sw = np.where(inwin, s, 0.0)

    t = np.where(inwin, x - x_best[None], 0.0)  # centred ln lr
    wt = w * t
    wt2 = wt * t
    S0, S1, S2 = rowsum(w), rowsum(wt), rowsum(wt2)
    S3, S4 = rowsum(wt2 * t), rowsum(wt2 * t * t)
    r0, r1, r2 = rowsum(sw), rowsum(sw * t), rowsum(sw * t * t)

    # Normal equations [[S0,S1,S2],[S1,S2,S3],[S2,S3,S4]] c = r, solved by cofactors.
    C00, C01, C02 = S2 * S4 - S3 * S3, S2 * S3 - S1 * S4, S1 * S3 - S2 * S2
    C11, C12, C22 = S0 * S4 - S2 * S2, S1 * S2 - S0 * S3, S0 * S2 - S1 * S1
    det = S0 * C00 + S1 * C01 + S2 * C02
    levels_window = inwin.sum(0)
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

    if not rules:
        status = np.full(shape, OK, dtype=np.int8)
        status[~convex] = NOT_CONVEX
        status[(jbest == jlo) | (jbest == jhi)] = EDGE
        status[n_present < min_levels] = TOO_FEW
        status[n_present == 0] = ALL_DIVERGED
        return SweepFit(x_opt=x_best + t_opt, loss_opt=loss_opt, curvature=curvature,
                        x_best=np.where(n_present > 0, x_best, np.nan), status=status,
                        n_window=S0, levels_window=levels_window,
                        rmse=np.full(shape, np.nan),
                        best_level=np.where(n_present > 0, jbest, -1))

    # The window's LR range, and the parabola at every level of it.
    loss_best = np.take_along_axis(mean, jb, 0)[0]
    t_all = x - x_best[None]
    t_lo = np.where(inwin, t_all, np.inf).min(0)
    t_hi = np.where(inwin, t_all, -np.inf).max(0)
    fitted = c0[None] + (c1[None] + c2[None] * t) * t
    resid_mean = np.where(inwin, mean - fitted, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sse_lof = rowsum(w * resid_mean * resid_mean)  # level means around the parabola
        depth = np.where(inwin, fitted, -np.inf).max(0) - loss_opt
        misfit = np.where(convex, np.sqrt(sse_lof / S0) / depth, np.nan)

    rmse = np.full(shape, np.nan)
    pure = dfp = None
    if q is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            within = np.where(inwin & (n > 1), q - s * s / np.where(present, n, 1.0), 0.0)
            pure = rowsum(np.maximum(within, 0.0))
            dfp = rowsum(np.where(inwin & (n > 1), n - 1, 0))
            sse = sse_lof + pure
            rmse = np.where(solvable & (S0 > 0), np.sqrt(np.maximum(sse, 0.0) / S0), np.nan)
    if noise is None:
        # The variation the data show at the valley's floor: the spread of the window's
        # three lowest level means (noise and the valley's own shape together), or the
        # replicates' s.d. where that is larger (a few replicates estimate it roughly).
        low3 = np.sort(np.where(inwin, mean, np.inf), axis=0)[:3]
        with np.errstate(invalid="ignore"):
            noise = np.where(levels_window >= 3, low3[-1] - low3[0], 0.0)
        if pure is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                noise = np.maximum(noise, np.where(dfp > 0, np.sqrt(pure / np.maximum(dfp, 1)),
                                                   0.0))
    noise = np.nan_to_num(np.broadcast_to(np.asarray(noise, float), shape))

    # The tried LR of the window nearest the vertex: the parabola there should not lie
    # far below every mean loss observed in the window.
    with np.errstate(invalid="ignore"):
        near = np.argmin(np.where(inwin, np.abs(t_all - t_opt[None]), np.inf), 0)
    fitted_near = np.take_along_axis(fitted, near[None], 0)[0]
    min_mean = np.where(inwin, mean, np.inf).min(0)
    with np.errstate(invalid="ignore"):
        gap = (min_mean - fitted_near) > gap_sd * noise + 1e-12 * np.abs(min_mean)
        bad = convex & ((misfit > max_misfit) | gap)
        off = convex & ((t_opt < t_lo) | (t_opt > t_hi))

    status = np.full(shape, OK, dtype=np.int8)
    status[off] = OFF_GRID
    status[bad] = BAD_FIT
    status[~convex] = NOT_CONVEX
    status[(jbest == jlo) | (jbest == jhi)] = EDGE
    status[n_present < min_levels] = TOO_FEW
    status[n_present == 0] = ALL_DIVERGED
    x_best = np.where(n_present > 0, x_best, np.nan)
    loss_best = np.where(n_present > 0, loss_best, np.nan)
    x_window = np.stack([x_best + t_lo, x_best + t_hi])
    x_window = np.where(np.isfinite(x_window), x_window, np.nan)

    brk = None
    if x_div is not None:
        x_div = np.broadcast_to(np.asarray(x_div, float), shape)
        x_left = np.take_along_axis(x, np.maximum(left, 0)[None], 0)[0]
        with np.errstate(invalid="ignore"):
            div = (((status == EDGE) | (status == TOO_FEW)) & (n_present >= 2)
                   & (jbest == jhi) & (left >= 0) & (x_div > x_best))
        status[div] = DIV_BRACKETED
        brk = np.stack([np.where(div, x_left, np.nan), np.where(div, x_div, np.nan)])

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
        loss_best=loss_best,
        misfit=misfit,
        noise=noise,
        bad=bad,
        bracket=brk,
    )
