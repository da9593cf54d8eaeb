"""Which runs to train next, part 1: the variance of a sweep's optimum after new runs.

Pure numpy. docs/math.md section 11 states the method and its assumptions.

**Local model.** Around its optimum a sweep's loss is the quadratic its window fit found
(docs/math.md section 1): ``L = c . f(u)`` with ``f(u) = (1, u, u^2)`` in ``u = ln lr -
ln lr_best``. The fit's coefficients have covariance ``sigma^2 M^-1``, where ``M = sum_i
f(u_i) f(u_i)^T`` over the runs in the window and ``sigma`` is the s.d. of one run's loss;
the optimum ``u* = -c1 / (2 c2)`` has, by the delta method, ``Var u* = sigma^2 J M^-1 J^T``
with ``J = d u* / d c``. A new run at ``x`` adds one row to ``M``.

**The estimator's own window.** The window is a rule on grid steps around the best level,
so a new run can move it: a run outside the window changes nothing, a new level between
two others shifts the grid steps, a run predicted below the best level re-centres it. So
each candidate is evaluated on the window the estimator would use *with* it: the run's
loss is predicted by the current parabola, the window recomputed by ``fit_sweeps`` (all
candidates of all sweeps in one call, each a pseudo-sweep), and ``M`` built on it. A
candidate after which the estimator would have no ``ok`` optimum gets an infinite
variance (it is never chosen for precision; the status rules of ``rules.py`` handle
sweeps that are not ``ok``).

**Plug-in point for a 2-D sweep.** ``quad_features`` and ``quad_vertex_jacobian`` are
written for a quadratic in ``d`` variables (``d = 2``: ln lr and ln batch size, the joint
optimum), so the delta method above applies unchanged once a joint estimator supplies
its window; ``SweepDesign`` and ``optimum_variance`` are the 1-D (LR) case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .optimum import OK, fit_sweeps

# ---------------------------------------------------------------- quadratic in d variables


def quad_features(u: np.ndarray) -> np.ndarray:
    """Features of a full quadratic in ``d`` variables: ``u`` (..., d) -> (..., p) with
    ``p = 1 + d + d (d + 1) / 2``, ordered 1, u_1..u_d, then u_i u_j for i <= j."""
    u = np.asarray(u, float)
    d = u.shape[-1]
    cols = [np.ones(u.shape[:-1]), *(u[..., i] for i in range(d))]
    cols += [u[..., i] * u[..., j] for i in range(d) for j in range(i, d)]
    return np.stack(cols, -1)


def _hessian(c: np.ndarray, d: int) -> np.ndarray:
    """The Hessian (..., d, d) of the quadratic with coefficients ``c`` (..., p)."""
    H = np.zeros((*c.shape[:-1], d, d))
    k = 1 + d
    for i in range(d):
        for j in range(i, d):
            if i == j:
                H[..., i, i] = 2.0 * c[..., k]
            else:
                H[..., i, j] = H[..., j, i] = c[..., k]
            k += 1
    return H


def quad_vertex(c: np.ndarray, d: int) -> np.ndarray:
    """The stationary point (..., d) of the quadratic: ``H u* = -g`` (NaN where singular)."""
    c = np.asarray(c, float)
    H, g = _hessian(c, d), c[..., 1:1 + d]
    ok = np.abs(np.linalg.det(H)) > 1e-300
    Hs = np.where(ok[..., None, None], H, np.eye(d))
    u = -np.linalg.solve(Hs, g[..., None])[..., 0]
    return np.where(ok[..., None], u, np.nan)


def quad_vertex_jacobian(c: np.ndarray, d: int) -> np.ndarray:
    """``J = d u* / d c`` (..., d, p) at coefficients ``c`` (implicit differentiation of
    ``H u* + g = 0``: ``du* = -H^-1 (dH u* + dg)``). For ``d = 1``:
    ``J = -(0, 1, 2 u*) / (2 c2)``."""
    c = np.asarray(c, float)
    u = quad_vertex(c, d)
    H = _hessian(c, d)
    cols = [np.zeros((*c.shape[:-1], d))]
    eye = np.eye(d)
    cols += [np.broadcast_to(eye[i], (*c.shape[:-1], d)) for i in range(d)]
    for i in range(d):
        for j in range(i, d):
            if i == j:
                cols.append(2.0 * u[..., i, None] * eye[i])
            else:
                cols.append(u[..., j, None] * eye[i] + u[..., i, None] * eye[j])
    B = np.stack(cols, -1)  # (..., d, p): dH u* + dg for each coefficient
    ok = np.abs(np.linalg.det(H)) > 1e-300
    Hs = np.where(ok[..., None, None], H, np.eye(d))
    J = -np.linalg.solve(Hs, B)
    return np.where(ok[..., None, None], J, np.nan)


def vertex_cov(F: np.ndarray, w: np.ndarray, c: np.ndarray, sigma) -> np.ndarray:
    """Delta-method covariance (..., d, d) of the vertex of a least-squares quadratic.

    F: (..., n, p) features of the runs (``quad_features``); w: (..., n) run counts (0 =
    not in the fit); c: (..., p) coefficients at which ``J`` is evaluated; sigma: s.d. of
    one run's loss (scalar or (...,)). Infinite where ``M`` is singular.
    """
    F, w, c = np.asarray(F, float), np.asarray(w, float), np.asarray(c, float)
    p = F.shape[-1]
    d = int(round((-3 + np.sqrt(9 + 8 * (p - 1))) / 2))  # p = 1 + d + d(d+1)/2
    M = np.einsum("...n,...np,...nq->...pq", w, F, F)
    J = quad_vertex_jacobian(c, d)
    scale = np.sqrt(np.abs(np.einsum("...ii->...i", M))) + 1e-300
    Mn = M / scale[..., :, None] / scale[..., None, :]
    ok = np.abs(np.linalg.det(Mn)) > 1e-12
    Ms = np.where(ok[..., None, None], M, np.eye(p))
    X = np.linalg.solve(Ms, np.swapaxes(J, -1, -2))  # M^-1 J^T
    cov = np.asarray(sigma, float)[..., None, None] ** 2 * (J @ X)
    return np.where(ok[..., None, None] & np.isfinite(cov), cov, np.inf)


def vertex_bias(F: np.ndarray, w: np.ndarray, c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Shift (..., d) of the fitted vertex when the data deviate from the quadratic by
    ``r`` (..., n) at the runs: the least-squares fit absorbs ``M^-1 F^T W r`` into its
    coefficients, which moves the vertex by ``J`` times that (first order)."""
    F, w, r = np.asarray(F, float), np.asarray(w, float), np.asarray(r, float)
    p = F.shape[-1]
    d = int(round((-3 + np.sqrt(9 + 8 * (p - 1))) / 2))
    M = np.einsum("...n,...np,...nq->...pq", w, F, F)
    b = np.einsum("...n,...np,...n->...p", w, F, r)
    scale = np.sqrt(np.abs(np.einsum("...ii->...i", M))) + 1e-300
    Mn = M / scale[..., :, None] / scale[..., None, :]
    ok = np.abs(np.linalg.det(Mn)) > 1e-12
    Ms = np.where(ok[..., None, None], M, np.eye(p))
    dc = np.linalg.solve(Ms, b[..., None])[..., 0]
    J = quad_vertex_jacobian(np.asarray(c, float), d)
    shift = (J @ dc[..., None])[..., 0]
    return np.where(ok[..., None] & np.isfinite(shift), shift, np.inf)


def cubic_terms(x: np.ndarray, n: np.ndarray, s: np.ndarray, x_ref: np.ndarray,
                curvature: np.ndarray, groups=None, min_levels: int = 5
                ) -> tuple[np.ndarray, np.ndarray]:
    """The valley's cubic coefficient c3 (G,) near each sweep's optimum: how asymmetric it
    is, which biases a parabola fitted over a wide window; and the noise s.d. around the
    cubics (G,), pooled per group (NaN where no cubic has a residual).

    Each sweep with ``min_levels`` or more levels gets ``L = c0 + c1 t + c2 t^2 + c3 t^3``
    (t = x - x_ref) by weighted least squares on its level means, and ``Var c3`` from the
    noise around the cubics (the pooled residual of the cubic fits of the sweeps sharing
    its ``groups`` label; all sweeps when None). A sweep keeps its own c3 where it is
    significant (``|c3| > 2 s.e.``); every other sweep of the group (few levels, or a c3
    within its noise) gets the group's average asymmetry: ``|c3| = curvature * sqrt(a2)``
    with ``a2`` the mean of ``(c3^2 - Var c3) / curvature^2`` over the group's fitted sweeps
    (an unbiased estimate of the mean square; 0 when negative)."""
    x, n, s = (np.asarray(a, float) for a in (x, n, s))
    k = np.asarray(curvature, float)
    present = n > 0
    t = np.where(present, x - np.asarray(x_ref, float)[:, None], 0.0)
    scale = np.sqrt((np.where(present, t * t, 0.0)).sum(1) / np.maximum(present.sum(1), 1))
    scale = np.where(scale > 0, scale, 1.0)
    u = t / scale[:, None]  # well conditioned
    F = np.stack([np.ones_like(u), u, u * u, u * u * u], -1)
    w = np.where(present, n, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(present, s / np.where(present, n, 1.0), 0.0)
    A = np.einsum("gj,gjp,gjq->gpq", w, F, F)
    b = np.einsum("gj,gjp,gj->gp", w, F, y)
    levels = present.sum(1)
    ok = (levels >= min_levels) & (np.abs(np.linalg.det(A)) > 1e-12)
    As = np.where(ok[:, None, None], A, np.eye(4))
    coef = np.linalg.solve(As, b[..., None])[..., 0]
    resid = np.where(present, y - np.einsum("gjp,gp->gj", F, coef), 0.0)
    rss = np.where(ok, (w * resid * resid).sum(1), 0.0)
    df = np.where(ok, levels - 4, 0)
    c3 = coef[:, 3] / scale**3
    unit = np.linalg.inv(As)[:, 3, 3] / scale**6
    labels = np.zeros(len(x), dtype=object) if groups is None else np.asarray(groups)
    out, noise = np.zeros(len(x)), np.full(len(x), np.nan)
    for key in dict.fromkeys(labels.tolist()):
        m = labels == key
        noise2 = rss[m].sum() / df[m].sum() if df[m].sum() > 0 else np.inf
        noise[m] = np.sqrt(noise2) if np.isfinite(noise2) else np.nan
        var = unit * noise2
        with np.errstate(invalid="ignore", divide="ignore"):
            use = m & ok & np.isfinite(k) & (k > 0)
            a2 = (c3[use] ** 2 - var[use]) / k[use] ** 2
            a2 = float(np.mean(a2)) if a2.size and np.all(np.isfinite(a2)) else 0.0
            own = m & ok & (c3 * c3 > 4.0 * var)
        out[m] = np.sqrt(max(a2, 0.0)) * np.nan_to_num(k[m])
        out[own] = np.abs(c3[own])
    return out, noise


# ---------------------------------------------------------------- 1-D sweeps


@dataclass(frozen=True)
class SweepDesign:
    """What the design needs of every sweep; arrays (G,) unless said.

    x, n, s, q: (G, J) ln lr of each level (ascending, NaN-padded), finite runs per level,
    their loss sum and sum of squares; status: the fit's status codes
    (``core.optimum``); x_best, x_opt, curvature, loss_opt: the point fit (NaN where
    absent); x_window: (2, G) ln lr of the window's lowest and highest level; sigma: s.d.
    of one run's loss used for the sweep (NaN: unknown); step: the sweep's grid step in
    ln lr; x_cap: ln lr at and above which no run is proposed (the lowest LR at which one
    of its runs diverged above its best LR; for a sweep whose runs all diverged, the
    lowest LR tried; +inf: none); bracket: (2, G) the ``div_bracketed`` bracket (NaN
    otherwise); cubic: (G,) the valley's cubic coefficient c3 near the optimum (its
    asymmetry; 0: none known), which biases a parabola fitted over a wide window; window:
    the fit's half-width in grid steps.
    """

    x: np.ndarray
    n: np.ndarray
    s: np.ndarray
    q: np.ndarray
    status: np.ndarray
    x_best: np.ndarray
    x_opt: np.ndarray
    curvature: np.ndarray
    loss_opt: np.ndarray
    x_window: np.ndarray
    sigma: np.ndarray
    step: np.ndarray
    x_cap: np.ndarray
    bracket: np.ndarray
    cubic: np.ndarray | None = None
    window: int = 2

    @property
    def n_sweeps(self) -> int:
        return self.x.shape[0]


def predicted_loss(ds: SweepDesign, g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The current parabola of sweep ``g`` at ``x`` (the expected loss of a new run)."""
    g = np.asarray(g)
    shape = (-1,) + (1,) * (np.ndim(x) - 1)
    return (ds.loss_opt[g].reshape(shape)
            + ds.curvature[g].reshape(shape) * (x - ds.x_opt[g].reshape(shape)) ** 2)


def merged_levels(ds: SweepDesign, g: np.ndarray, extra: np.ndarray):
    """Level arrays of sweeps ``g`` (C,) with runs added at ``extra`` (C, A) (NaN = none),
    each added run's loss predicted by its sweep's parabola; a run at an existing LR is a
    replicate of that level. Returns (x, n, s, q), each (C, J + A), ascending, NaN-padded.
    """
    g = np.asarray(g, dtype=np.int64)
    extra = np.asarray(extra, float).reshape(len(g), -1)
    add = np.isfinite(extra)
    pred = np.where(add, predicted_loss(ds, g, np.where(add, extra, 0.0)), 0.0)
    X = np.concatenate([ds.x[g], np.where(add, extra, np.nan)], 1)
    N = np.concatenate([ds.n[g], add.astype(float)], 1)
    S = np.concatenate([ds.s[g], pred], 1)
    Q = np.concatenate([ds.q[g], pred * pred], 1)
    present = N > 0
    order = np.argsort(np.where(present, X, np.inf), axis=1, kind="stable")
    X, N, S, Q, present = (np.take_along_axis(a, order, 1) for a in (X, N, S, Q, present))
    C, W = X.shape
    same = np.zeros_like(present)
    tol = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(X)))
    same[:, 1:] = present[:, 1:] & present[:, :-1] & (np.abs(X[:, 1:] - X[:, :-1]) <= tol[:, 1:])
    lid = np.cumsum(present & ~same, axis=1) - 1
    lid = np.where(present, lid, W)  # absent entries go to a dump column
    rows = np.repeat(np.arange(C), W)
    out = [np.zeros((C, W + 1)) for _ in range(3)]
    for o, a in zip(out, (N, S, Q)):
        np.add.at(o, (rows, lid.ravel()), a.ravel())
    xo = np.full((C, W + 1), np.nan)
    xo[rows, lid.ravel()] = X.ravel()
    n_out = out[0][:, :W]
    x_out = np.where(n_out > 0, xo[:, :W], np.nan)
    return x_out, n_out, out[1][:, :W], out[2][:, :W]


def optimum_mse(ds: SweepDesign, g: np.ndarray, extra: np.ndarray | None = None,
                sigma=None, bias: bool = True, clamp: bool = True) -> np.ndarray:
    """Expected squared error (C,) of ln lr_opt of sweeps ``g`` (C,) after runs at
    ``extra`` (C, A) (NaN = none; None: the sweep as it is), on the window the estimator
    would use with them: the delta-method variance ``sigma^2 J M^-1 J^T`` plus the square
    of the vertex shift the valley's cubic term (``ds.cubic``) causes on that window
    (``bias=False``: the variance alone), combined with the bound ``(range / 2)^2`` of
    the LRs run as ``1 / (1 / mse + 4 / range^2)`` (``clamp``: the laws clamp each
    resampled optimum to them). ``sigma``: the run noise
    (default ``ds.sigma[g]``). Infinite where the estimator would have no ``ok``
    optimum."""
    g = np.asarray(g, dtype=np.int64)
    if extra is None:
        extra = np.full((len(g), 1), np.nan)
    x, n, s, q = merged_levels(ds, g, extra)
    f = fit_sweeps(x, n, s, q, window=ds.window)
    lo, hi = f.x_window
    eps = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(x)))
    with np.errstate(invalid="ignore"):
        inwin = (n > 0) & (x >= lo[:, None] - eps) & (x <= hi[:, None] + eps)
    t = np.where(inwin, x - ds.x_best[g, None], 0.0)
    F = quad_features(t[..., None])
    k = ds.curvature[g]
    u_opt = ds.x_opt[g] - ds.x_best[g]
    coef = np.stack([ds.loss_opt[g] + k * u_opt**2, -2.0 * k * u_opt, k], -1)
    sd = ds.sigma[g] if sigma is None else np.broadcast_to(np.asarray(sigma, float), g.shape)
    w = np.where(inwin, n, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mse = vertex_cov(F, w, coef, sd)[..., 0, 0]
        if bias and ds.cubic is not None:
            c3 = np.nan_to_num(ds.cubic[g])
            r = np.where(inwin, c3[:, None] * (t - u_opt[:, None]) ** 3, 0.0)
            mse = mse + vertex_bias(F, w, coef, r)[..., 0] ** 2
    # the laws use each resampled optimum clamped to the LRs its sweep tried (docs/math.md
    # section 2): its variance is at most (range / 2)^2, combined with the data's as
    # information (1 / v = 1 / mse + 1 / (range / 2)^2: smooth, so a run still counts)
    if clamp:
        with np.errstate(invalid="ignore", divide="ignore"):
            span = (np.nanmax(np.where(n > 0, x, np.nan), 1)
                    - np.nanmin(np.where(n > 0, x, np.nan), 1))
            mse = 1.0 / (1.0 / mse + 4.0 / span**2)
    usable = (f.status == OK) & (k > 0) & np.isfinite(mse)
    return np.where(usable, mse, np.inf)


def optimum_variance(ds: SweepDesign, g: np.ndarray, extra: np.ndarray | None = None,
                     sigma=None) -> np.ndarray:
    """The delta-method variance alone (``optimum_mse`` without the bias term and the
    clamp)."""
    return optimum_mse(ds, g, extra, sigma, bias=False, clamp=False)


# ---------------------------------------------------------------- candidate LRs


def ladder(ds: SweepDesign, past: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Candidate runs of every sweep on its own grid: every LR it tried (a replicate) and
    the points of its ladder (its grid step, anchored at its best LR) from ``past`` steps
    below its lowest LR to ``past`` above its highest, never at or above ``x_cap``.
    Returns (g, x): sweep index and ln lr of each candidate."""
    gs, xs = [], []
    for g in range(ds.n_sweeps):
        lv = ds.x[g][np.isfinite(ds.x[g])]
        if lv.size == 0:
            continue
        h, anchor = ds.step[g], ds.x_best[g] if np.isfinite(ds.x_best[g]) else lv[0]
        k = np.arange(np.floor((lv[0] - anchor) / h) - past,
                      np.ceil((lv[-1] - anchor) / h) + past + 1)
        pts = anchor + k * h
        near = np.abs(pts[:, None] - lv[None, :]).min(1) < 0.25 * h
        cand = np.concatenate([lv, pts[~near]])
        cand = np.sort(cand[cand < ds.x_cap[g] - 1e-9 * h])
        gs.append(np.full(cand.size, g))
        xs.append(cand)
    if not gs:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(gs).astype(np.int64), np.concatenate(xs)


def grid_step(x: np.ndarray, default: float | None = None) -> np.ndarray:
    """Each sweep's grid step in ln lr (G,): the median spacing of its levels; sweeps with
    fewer than 2 levels get the median of the others (``default``, else ln 2)."""
    d = np.diff(x, axis=1)
    d = np.where(np.isfinite(d) & (d > 0), d, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            step = np.nanmedian(d, axis=1) if d.shape[1] else np.full(x.shape[0], np.nan)
            typical = np.nanmedian(step) if np.isfinite(step).any() else np.nan
    fill = default if default is not None else (typical if np.isfinite(typical)
                                               else np.log(2.0))
    return np.where(np.isfinite(step), step, fill)


def design_mse(u: np.ndarray, curvature, sigma, window: int = 2, cubic: float = 0.0) -> float:
    """Expected squared error of ln lr_opt of a sweep not run yet: one run at each ``u``
    (ln lr relative to its expected optimum), a valley of ``curvature`` (and cubic term
    ``cubic``), run noise ``sigma``; the window holds the levels within ``window`` steps of
    the level nearest the optimum (the one the estimator would find best), at least 3."""
    u = np.sort(np.asarray(u, float))
    if u.size < 3 or not (curvature > 0):
        return np.inf
    jb = int(np.argmin(np.abs(u)))
    dist = np.abs(np.arange(u.size) - jb)
    radius = max(window, int(np.sort(dist)[2]))
    keep = dist <= radius
    F = quad_features(u[keep, None])
    c = np.array([0.0, 0.0, float(curvature)])
    w = np.ones(keep.sum())
    var = vertex_cov(F, w, c, float(sigma))[0, 0]
    shift = vertex_bias(F, w, c, float(cubic or 0.0) * u[keep] ** 3)[0]
    return float(var + shift**2)
