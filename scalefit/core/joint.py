"""The joint optimum of a learning-rate x batch-size grid, vectorized over groups and resamples.

A *joint group* is the set of runs sharing scale, horizon and every ``by`` column; its runs
span a grid of *cells*: (LR level, batch-size level). With ``x = ln lr`` and ``y = ln bs``,
the estimator (docs/math.md section 10) takes the best observed cell (lowest mean loss),
keeps the cells within ``window`` grid steps of it in each direction (a box, widened to
hold 3 levels in each direction and a level on each side of the best, where the best
cell's own row and column have them), and fits

    L = c0 + c1 t + c2 u + c3 t^2 + c4 t u + c5 u^2,   t = x - x_best, u = y - y_best,

by least squares to every run in the box. Because (x, y) is constant within a cell, the
normal equations need only per-cell sums, so all groups x resamples are solved at once as
a stack of 6x6 systems. ``H = [[2 c3, c4], [c4, 2 c5]]``; the optimum is
``(t*, u*) = -H^-1 (c1, c2)`` when ``H`` is positive definite, and the curvature matrix
``K = H / 2`` prices an error ``d = (d ln lr, d ln bs)`` at ``d^T K d`` in loss.

Resamples come from the per-batch-size LR sweeps' own plan (``core.bootstrap``): runs are
resampled within each (group, batch size) sweep and their per-level sums are gathered into
cells (``Cells.cell_sums``), so the joint fit and the 1-D optima of every batch size share
every resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .bootstrap import level_sum_blocks
from .decisions import new_point_draws, prediction_intervals
from .sweeps import Sweeps

(OK, EDGE_LR, EDGE_BS, TOO_FEW, NOT_CONVEX, SADDLE, BAD_FIT, OFF_GRID,
 ALL_DIVERGED) = range(9)
STATUS_NAMES = ("ok", "edge_lr", "edge_bs", "too_few", "not_convex", "saddle", "bad_fit",
                "off_grid", "all_diverged")
N_COEF = 6
# LRs (batch sizes) of one joint group within this distance in ln are one grid level: tables
# round the same LR differently across rows (0.000345 and 0.0003453).
LEVEL_TOL = 1e-3
# The variation at the valley's floor (the yardstick of the bad_fit gap rule): the spread of
# the window's lowest cell means: the best cell and as many as its 4 neighbours along the
# axes (an LR sweep uses its 3 lowest levels: the best and its 2 neighbours).
FLOOR_CELLS = 5


def merge_levels(values: np.ndarray, owner: np.ndarray, n_owner: int, tol: float = LEVEL_TOL):
    """Merge ``values`` (ln) of each owner into sorted levels closer than ``tol``.

    Returns (levels (n_owner, M) NaN-padded: the mean of each merged cluster, index (n,)
    of each value's level within its owner)."""
    order = np.lexsort((values, owner))
    v, o = values[order], owner[order]
    new = np.ones(len(v), bool)
    new[1:] = (o[1:] != o[:-1]) | (v[1:] - v[:-1] > tol)
    gid = np.cumsum(new) - 1
    first_of_owner = np.zeros(n_owner, np.int64)
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]]) if len(o) else np.zeros(0, int)
    first_of_owner[o[starts]] = gid[starts]
    local = gid - first_of_owner[o]
    M = int(local.max()) + 1 if len(local) else 1
    sums = np.zeros((n_owner, M))
    cnt = np.zeros((n_owner, M))
    np.add.at(sums, (o, local), v)
    np.add.at(cnt, (o, local), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lev = np.where(cnt > 0, sums / np.where(cnt > 0, cnt, 1.0), np.nan)
    idx = np.empty(len(v), np.int64)
    idx[order] = local
    return lev, idx


@dataclass(frozen=True)
class Cells:
    """The LR x batch-size grid of every joint group, built on the 1-D sweeps.

    x: (G, J) ln lr of each LR level, ascending, NaN-padded; y: (G, K) ln bs likewise.
    sweep_group: (S,) joint group of each 1-D sweep (one batch size of one group);
    sweep_k: (S,) its batch-size level; level_j: (S, L) the joint LR level of each of the
    sweep's LR levels (-1 where the sweep has none).
    """

    x: np.ndarray
    y: np.ndarray
    sweep_group: np.ndarray
    sweep_k: np.ndarray
    level_j: np.ndarray

    @property
    def n_groups(self) -> int:
        return self.x.shape[0]

    def cell_sums(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-level sums (..., S, L) of the 1-D sweeps -> per-cell sums (..., G, J, K)."""
        G, J = self.x.shape
        K = self.y.shape[1]
        S, L = self.level_j.shape
        valid = self.level_j >= 0
        target = (self.sweep_group[:, None] * (J * K) + np.maximum(self.level_j, 0) * K
                  + self.sweep_k[:, None])[valid]  # (m,)
        out = []
        for a in arrays:
            a = np.asarray(a, float)
            lead = a.shape[:-2]
            b = int(np.prod(lead)) if lead else 1
            flat = a.reshape(b, S, L)[:, valid]  # (b, m)
            idx = (np.arange(b)[:, None] * (G * J * K) + target[None, :]).ravel()
            sums = np.bincount(idx, weights=flat.ravel(), minlength=b * G * J * K)
            out.append(sums.reshape(*lead, G, J, K))
        return tuple(out)


def index_cells(x_sweeps: np.ndarray, sweep_group: np.ndarray, y_sweep: np.ndarray,
                n_groups: int) -> Cells:
    """The cells of every joint group from its 1-D sweeps.

    x_sweeps: (S, L) ln lr levels of each sweep (``Sweeps.x``); sweep_group: (S,) joint
    group of each sweep; y_sweep: (S,) ln bs of each sweep; n_groups: G.
    """
    sweep_group = np.asarray(sweep_group, np.int64)
    y_sweep = np.asarray(y_sweep, float)
    y, sweep_k = merge_levels(y_sweep, sweep_group, n_groups)
    S, L = x_sweeps.shape
    has = np.isfinite(x_sweeps)
    owner = np.broadcast_to(sweep_group[:, None], (S, L))[has]
    x, idx = merge_levels(x_sweeps[has], owner, n_groups)
    level_j = np.full((S, L), -1, np.int64)
    level_j[has] = idx
    return Cells(x=x, y=y, sweep_group=sweep_group, sweep_k=sweep_k, level_j=level_j)


@dataclass(frozen=True)
class SurfaceFit:
    """Per-group results of the surface fit; every array has the leading shape ``(..., G)``.

    ``x_opt``, ``y_opt``: ln lr and ln bs at the fitted optimum; ``loss_opt``: the fitted
    loss there; ``k_xx``, ``k_xy``, ``k_yy``: the curvature matrix ``K = H / 2`` (loss per
    (ln lr)^2, per ln lr ln bs, per (ln bs)^2); ``x_best``, ``y_best``, ``loss_best``: the
    best observed cell; ``status``: int codes (``STATUS_NAMES``); ``n_window``: runs in the
    fit; ``cells_window``, ``levels_x``, ``levels_y``: cells, LR levels and batch-size levels
    in the fit; ``rmse``: residual RMS over the runs; ``misfit``: RMS of the cell means
    around the surface over the valley's depth in the window; ``x_window``, ``y_window``:
    (2, ..., G) the window's lowest and highest ln lr and ln bs. NaN where a value does not
    exist (no positive definite fit, or no finite run).
    """

    x_opt: np.ndarray
    y_opt: np.ndarray
    loss_opt: np.ndarray
    k_xx: np.ndarray
    k_xy: np.ndarray
    k_yy: np.ndarray
    x_best: np.ndarray
    y_best: np.ndarray
    status: np.ndarray
    n_window: np.ndarray
    cells_window: np.ndarray
    levels_x: np.ndarray
    levels_y: np.ndarray
    rmse: np.ndarray | None = None
    misfit: np.ndarray | None = None
    loss_best: np.ndarray | None = None
    x_window: np.ndarray | None = None
    y_window: np.ndarray | None = None
    coef: np.ndarray | None = None  # (..., G, 6) in (t, u) around the best cell (detail)
    in_window: np.ndarray | None = None  # (..., G, J, K) the cells fitted (detail)


def _radius(present_line: np.ndarray, best: np.ndarray, window: int, min_levels: int):
    """Half-width (grid steps) of the window along one direction: ``window``, widened to hold
    ``min_levels`` present levels and a present level on each side of the best, counted on
    the best cell's own row (or column) ``present_line`` (..., G, M)."""
    M = present_line.shape[-1]
    j = np.arange(M)
    b = best[..., None]
    dist = np.where(present_line, np.abs(j - b), M + 1)
    kth = np.sort(dist, axis=-1)[..., min(min_levels, M) - 1]
    kth = np.where(kth > M, M, kth)  # fewer present levels than min_levels: take them all
    left = np.where(present_line & (j < b), j, -1).max(-1)
    right = np.where(present_line & (j > b), j, M).min(-1)
    brk = np.maximum(np.where(left >= 0, best - left, 0), np.where(right < M, right - best, 0))
    edge = (left < 0) | (right >= M)
    return np.maximum(np.maximum(window, kth), brk), edge


def fit_surfaces(
    x: np.ndarray, y: np.ndarray, n: np.ndarray, s: np.ndarray, q: np.ndarray | None = None,
    window: int = 2, min_levels: int = 3, max_misfit: float = 0.25, gap_sd: float = 2.0,
    rules: bool = True, detail: bool = False,
) -> SurfaceFit:
    """Fit every joint group's surface.

    x: (G, J) ln lr levels, y: (G, K) ln bs levels (ascending, NaN-padded); n, s, q:
    (..., G, J, K) per-cell run count (bootstrap counts allowed), loss sum and squared-loss
    sum (``q`` for ``rmse`` and the replicate noise). window: half-width of the fit box in
    grid steps in each direction; min_levels: levels needed in each direction.
    max_misfit, gap_sd: the ``bad_fit`` thresholds (as for LR sweeps, docs/math.md).
    rules: apply ``bad_fit`` and ``off_grid`` (resamples skip them and keep every positive
    definite vertex, as LR sweeps' resamples keep every convex one). detail: also return
    the coefficients and the window's cells (``coef``, ``in_window``: the planner's
    delta method, ``core.surface_error``).
    """
    n = np.asarray(n, float)
    s = np.asarray(s, float)
    lead = n.shape[:-3]
    G, J, K = n.shape[-3:]
    xg = np.broadcast_to(np.asarray(x, float)[:, :, None], (G, J, K))
    yg = np.broadcast_to(np.asarray(y, float)[:, None, :], (G, J, K))
    present = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(present, s / np.where(present, n, 1.0), np.inf)
    flat_best = np.argmin(mean.reshape(*lead, G, J * K), axis=-1)
    jb, kb = flat_best // K, flat_best % K
    any_run = present.any((-1, -2))
    x_best = np.where(any_run, np.take_along_axis(
        np.broadcast_to(np.asarray(x, float), (*lead, G, J)), jb[..., None], -1)[..., 0], np.nan)
    y_best = np.where(any_run, np.take_along_axis(
        np.broadcast_to(np.asarray(y, float), (*lead, G, K)), kb[..., None], -1)[..., 0], np.nan)
    loss_best = np.where(any_run, np.take_along_axis(
        mean.reshape(*lead, G, J * K), flat_best[..., None], -1)[..., 0], np.nan)

    row = np.take_along_axis(present, kb[..., None, None], -1)[..., 0]  # (..., G, J) at best bs
    col = np.take_along_axis(present, jb[..., None, None], -2)[..., 0, :]  # (..., G, K) best lr
    rj, edge_lr = _radius(row, jb, window, min_levels)
    rk, edge_bs = _radius(col, kb, window, min_levels)
    jj = np.arange(J)[:, None]
    kk = np.arange(K)[None, :]
    inwin = (present & (np.abs(jj - jb[..., None, None]) <= rj[..., None, None])
             & (np.abs(kk - kb[..., None, None]) <= rk[..., None, None]))
    w = np.where(inwin, n, 0.0)
    sw = np.where(inwin, s, 0.0)
    t = np.where(inwin, xg - x_best[..., None, None], 0.0)
    u = np.where(inwin, yg - y_best[..., None, None], 0.0)

    # Moments sum w t^a u^b (a + b <= 4) and the right-hand side sum s phi.
    def tot(a):
        return a.sum((-1, -2))

    wt, wu = w * t, w * u
    wtt, wtu, wuu = wt * t, wt * u, wu * u
    m = {(0, 0): tot(w), (1, 0): tot(wt), (0, 1): tot(wu), (2, 0): tot(wtt), (1, 1): tot(wtu),
         (0, 2): tot(wuu), (3, 0): tot(wtt * t), (2, 1): tot(wtt * u), (1, 2): tot(wtu * u),
         (0, 3): tot(wuu * u), (4, 0): tot(wtt * t * t), (3, 1): tot(wtt * t * u),
         (2, 2): tot(wtt * u * u), (1, 3): tot(wtu * u * u), (0, 4): tot(wuu * u * u)}
    powers = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    A = np.empty((*lead, G, N_COEF, N_COEF))
    for i, (a1, b1) in enumerate(powers):
        for k_, (a2, b2) in enumerate(powers):
            A[..., i, k_] = m[(a1 + a2, b1 + b2)]
    st, su = sw * t, sw * u
    r = np.stack([tot(sw), tot(st), tot(su), tot(st * t), tot(st * u), tot(su * u)], -1)

    cells_window = inwin.sum((-1, -2))
    levels_x = inwin.any(-1).sum(-1)
    levels_y = inwin.any(-2).sum(-1)
    diag = np.sqrt(np.abs(np.einsum("...ii->...i", A))) + 1e-300
    An = A / diag[..., :, None] / diag[..., None, :]
    with np.errstate(invalid="ignore", over="ignore"):
        det_n = np.linalg.det(An)
    solvable = ((levels_x >= min_levels) & (levels_y >= min_levels) & (cells_window >= N_COEF)
                & np.isfinite(det_n) & (np.abs(det_n) > 1e-12))
    A_safe = np.where(solvable[..., None, None], A, np.eye(N_COEF))
    c = np.linalg.solve(A_safe, np.where(solvable[..., None], r, 0.0)[..., None])[..., 0]
    c = np.where(solvable[..., None], c, np.nan)
    c0, c1, c2, c3, c4, c5 = (c[..., i] for i in range(N_COEF))
    det_h = 4 * c3 * c5 - c4 * c4
    with np.errstate(invalid="ignore"):
        pd_ = solvable & (c3 > 0) & (det_h > 0)
        saddle = solvable & (det_h < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_opt = np.where(pd_, -(2 * c5 * c1 - c4 * c2) / det_h, np.nan)
        u_opt = np.where(pd_, -(2 * c3 * c2 - c4 * c1) / det_h, np.nan)
        loss_opt = np.where(pd_, c0 + 0.5 * (c1 * t_opt + c2 * u_opt), np.nan)
    k_xx, k_xy, k_yy = c3, c4 / 2, c5

    status = np.full((*lead, G), OK, np.int8)
    out = dict(x_opt=x_best + t_opt, y_opt=y_best + u_opt, loss_opt=loss_opt,
               k_xx=np.where(solvable, k_xx, np.nan), k_xy=np.where(solvable, k_xy, np.nan),
               k_yy=np.where(solvable, k_yy, np.nan), x_best=x_best, y_best=y_best,
               n_window=tot(w), cells_window=cells_window, levels_x=levels_x,
               levels_y=levels_y, loss_best=loss_best)
    n_levels_x = present.any(-1).sum(-1)
    n_levels_y = present.any(-2).sum(-1)
    few = (n_levels_x < min_levels) | (n_levels_y < min_levels) | (present.sum((-1, -2)) < N_COEF)

    if rules:
        t_lo = np.where(inwin, t, np.inf).min((-1, -2))
        t_hi = np.where(inwin, t, -np.inf).max((-1, -2))
        u_lo = np.where(inwin, u, np.inf).min((-1, -2))
        u_hi = np.where(inwin, u, -np.inf).max((-1, -2))
        tc = xg - x_best[..., None, None]
        uc = yg - y_best[..., None, None]
        fitted = (c0[..., None, None] + c1[..., None, None] * tc + c2[..., None, None] * uc
                  + c3[..., None, None] * tc * tc + c4[..., None, None] * tc * uc
                  + c5[..., None, None] * uc * uc)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            resid = np.where(inwin, mean - fitted, 0.0)
            S0 = tot(w)
            sse_lof = tot(w * resid * resid)
            depth = np.where(inwin, fitted, -np.inf).max((-1, -2)) - loss_opt
            misfit = np.where(pd_, np.sqrt(sse_lof / S0) / depth, np.nan)
            rmse = np.full((*lead, G), np.nan)
            pure = dfp = None
            if q is not None:
                q = np.asarray(q, float)
                within = np.where(inwin & (n > 1), q - s * s / np.where(present, n, 1.0), 0.0)
                pure = np.maximum(within, 0.0).sum((-1, -2))
                dfp = np.where(inwin & (n > 1), n - 1, 0).sum((-1, -2))
                rmse = np.where(solvable & (S0 > 0),
                                np.sqrt(np.maximum(sse_lof + pure, 0) / S0), np.nan)
            means = np.sort(np.where(inwin, mean, np.inf).reshape(*lead, G, J * K),
                            -1)[..., :FLOOR_CELLS]
            noise = np.where(cells_window >= FLOOR_CELLS, means[..., -1] - means[..., 0], 0.0)
            if pure is not None:
                noise = np.maximum(noise, np.where(dfp > 0, np.sqrt(pure / np.maximum(dfp, 1)),
                                                   0.0))
            noise = np.nan_to_num(noise)
            d2 = np.where(inwin, (tc - t_opt[..., None, None]) ** 2
                          + (uc - u_opt[..., None, None]) ** 2, np.inf)
            near = np.argmin(d2.reshape(*lead, G, J * K), -1)
            fitted_near = np.take_along_axis(fitted.reshape(*lead, G, J * K), near[..., None],
                                             -1)[..., 0]
            min_mean = np.where(inwin, mean, np.inf).min((-1, -2))
            gap = (min_mean - fitted_near) > gap_sd * noise + 1e-12 * np.abs(min_mean)
            bad = pd_ & ((misfit > max_misfit) | gap)
            off = pd_ & ((t_opt < t_lo) | (t_opt > t_hi) | (u_opt < u_lo) | (u_opt > u_hi))
        status[off] = OFF_GRID
        status[bad] = BAD_FIT
        window_x = np.stack([x_best + t_lo, x_best + t_hi])
        window_y = np.stack([y_best + u_lo, y_best + u_hi])
        out.update(rmse=rmse, misfit=misfit,
                   x_window=np.where(np.isfinite(window_x), window_x, np.nan),
                   y_window=np.where(np.isfinite(window_y), window_y, np.nan))
    status[solvable & ~pd_ & ~saddle] = NOT_CONVEX
    status[saddle] = SADDLE
    status[~solvable] = TOO_FEW
    status[edge_bs] = EDGE_BS
    status[edge_lr] = EDGE_LR
    status[few] = TOO_FEW
    status[~any_run] = ALL_DIVERGED
    if detail:
        out.update(coef=c, in_window=inwin)
    return SurfaceFit(status=status, **out)


@dataclass(frozen=True)
class BootSurfaces:
    """Surface estimates on every resample: arrays (B, G), NaN where that resample has no
    positive definite fit. ``x_law``, ``y_law``: the optima as the laws use them (set by the
    caller: clamped to the tried grid); None until set."""

    x_opt: np.ndarray
    y_opt: np.ndarray
    loss_opt: np.ndarray
    k_xx: np.ndarray
    k_xy: np.ndarray
    k_yy: np.ndarray
    x_best: np.ndarray
    y_best: np.ndarray
    x_law: np.ndarray | None = None
    y_law: np.ndarray | None = None

    @property
    def n_boot(self) -> int:
        return self.x_opt.shape[0]


FIELDS = ("x_opt", "y_opt", "loss_opt", "k_xx", "k_xy", "k_yy", "x_best", "y_best")


def bootstrap_surfaces(
    sw: Sweeps, cells: Cells, n_boot: int, seed: int, window: int,
    noise_sd: np.ndarray | None = None, progress: Callable[[int, int], None] | None = None,
) -> BootSurfaces:
    """Re-estimate every surface on ``n_boot`` resamples of the 1-D sweeps ``sw`` (the same
    draws as ``core.bootstrap.bootstrap_sweeps`` with the same seed and ``noise_sd``)."""
    parts: dict[str, list] = {f: [] for f in FIELDS}
    done = 0
    for n, s, _ in level_sum_blocks(sw, n_boot, seed, noise_sd, squares=False):
        cn, cs = cells.cell_sums(n, s)
        f = fit_surfaces(cells.x, cells.y, cn, cs, window=window, rules=False)
        valid = np.isfinite(f.x_opt) & np.isfinite(f.y_opt)
        for name in FIELDS:
            v = getattr(f, name)
            parts[name].append(v if name in ("x_best", "y_best") else np.where(valid, v, np.nan))
        done += n.shape[0]
        if progress is not None:
            progress(done, n_boot)
    G = cells.n_groups
    return BootSurfaces(**{k: (np.concatenate(v, 0) if v else np.empty((0, G)))
                           for k, v in parts.items()})


# ---------------------------------------------------------------- the valley's coordinates


def valley(k_xx, k_xy, k_yy):
    """The curvature matrix in the valley's coordinates: (slope, k_floor).

    ``slope = -k_xy / k_xx`` is d ln lr* / d ln bs along the valley floor (the best LR at a
    given batch size moves as bs^slope); ``k_floor = k_yy - k_xy^2 / k_xx`` is the curvature
    in ln bs with the LR re-optimized at every batch size. Then
    ``d^T K d = k_xx (d_x - slope d_y)^2 + k_floor d_y^2``: both terms are >= 0 whenever
    ``k_xx``, ``k_floor`` > 0, so laws of (k_xx, slope, k_floor) extrapolate to a positive
    definite matrix.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = -np.asarray(k_xy) / np.asarray(k_xx)
        k_floor = np.asarray(k_yy) - np.asarray(k_xy) ** 2 / np.asarray(k_xx)
    return slope, k_floor


def penalty(d_x, d_y, k_xx, slope, k_floor):
    """Loss cost of an error (d_x, d_y) in (ln lr, ln bs): (total, LR part, batch-size part).

    The LR part ``k_xx (d_x - slope d_y)^2`` is the cost of the LR's distance from the best
    LR at the batch size used; the batch-size part ``k_floor d_y^2`` what the batch size
    costs with the LR re-optimized for it."""
    lr_part = k_xx * (d_x - slope * d_y) ** 2
    bs_part = k_floor * d_y ** 2
    return lr_part + bs_part, lr_part, bs_part


def along_optimal(b_fixed, c, b_bs):
    """The horizon (or scale) exponent of lr* along the optimal batch size: with
    ``lr* = C ... D^b bs^c`` at a fixed batch size and ``bs* ~ D^b_bs``,
    ``d ln lr* / d ln D = b + c b_bs`` (per resample when given draws)."""
    return np.asarray(b_fixed) + np.asarray(c) * np.asarray(b_bs)


# ---------------------------------------------------------------- decisions


def predict_at(law, values: dict, level: float, seed: int = 0) -> dict:
    """A power law at ``values`` (variable -> value, every variable of the law): ``value``,
    ``ci`` (the law's mean), ``pi`` (adds the scatter of a new point around the law, as
    ``decisions.predict`` does: with leverage and Student's t when the law holds its
    points, else normal with s.d. ``rmse_log``; drawn with ``seed``), ``sigma_log``,
    ``draws_log``, ``total_log``."""
    ly, draws = law.predict_log({v: values[v] for v in law.variables})
    with np.errstate(over="ignore", under="ignore"):
        out = {"value": float(np.exp(ly)), "ci": None, "pi": None, "sigma_log": None,
               "log": float(ly), "draws_log": None, "total_log": None}
    if draws is not None:
        total, _ = new_point_draws(law, values, draws, seed)
        iv = prediction_intervals(draws, total, level)
        out.update(ci=iv["lr_ci"], pi=iv["lr_pi"], sigma_log=iv["sigma_log"], draws_log=draws,
                   total_log=total)
    return out


def penalty_reason(audit_range: dict | None, ratio: float, bs_ratio: float) -> str | None:
    """Why the data give no joint penalty at lr / lr*(bs) = ``ratio`` and bs / bs* =
    ``bs_ratio`` (None: they give one); see ``scalefit.joint._audit_range``."""
    rng = audit_range or {}
    div = rng.get("ratio_diverged")
    if div is not None and ratio >= div * (1 - 1e-9):
        return (f"runs at x{div:.3g} the best LR at their batch size or more diverged in the "
                f"data (this LR is x{ratio:.3g} the best LR at this batch size): expect a run "
                "here to diverge")
    tried = rng.get("ratio_tried")
    if tried is not None and not (tried[0] / 1.0001 <= ratio <= tried[1] * 1.0001):
        return (f"the data have no run this far from the best LR at its batch size (runs tried "
                f"x{tried[0]:.3g} to x{tried[1]:.3g}; this LR is x{ratio:.3g}): the surface is "
                "not known here")
    bt = rng.get("bs_ratio_tried")
    if bt is not None and not (bt[0] / 1.0001 <= bs_ratio <= bt[1] * 1.0001):
        return (f"the data have no run at a batch size this far from the optimal one (runs "
                f"tried x{bt[0]:.3g} to x{bt[1]:.3g} of it; this batch size is "
                f"x{bs_ratio:.3g}): the surface is not known here")
    return None
