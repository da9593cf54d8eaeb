"""The error of a joint LR x batch-size optimum, for the planner (docs/math.md section 11).

Pure numpy (scipy for two p-values). A *surface* is the LR x batch-size grid of one
(group, scale, horizon), fitted by ``core.joint.fit_surfaces``; its runs are arrays ``x``
(ln lr), ``y`` (ln bs), ``loss`` with ``owner`` (the surface of each run), gathered into
cells by ``cells_of``.

* ``vertex_covariance`` / ``vertex_variance``: the delta-method covariance of the fitted
  vertex (ln lr*, ln bs*) on the window's cells, and its trace ``v``;
* ``curvature_matrices``: what an error of the vertex costs in loss;
* ``block_cov``: the expected vertex covariance of a surface not run yet (a block);
* ``pooled_sigma``: the run noise per surface;
* ``predict_loss``: the fitted surface at any cell;
* ``lack_of_fit``, ``shift_p``: whether the vertex depends on the window's width (a
  valley that is not quadratic across it).
"""

from __future__ import annotations

import numpy as np

from .design import quad_features, vertex_cov
from .joint import N_COEF, OK, fit_surfaces, merge_levels


def cells_of(x, y, loss, owner, n_owner: int):
    """Cells of every owner from its runs: X (G, J), Y (G, K) merged levels (ascending,
    NaN-padded) and n, s, q (G, J, K) run count, loss sum, squared-loss sum."""
    x, y, loss = (np.asarray(a, float) for a in (x, y, loss))
    owner = np.asarray(owner, np.int64)
    if owner.size == 0:
        z = np.zeros((n_owner, 1, 1))
        return np.full((n_owner, 1), np.nan), np.full((n_owner, 1), np.nan), z, z.copy(), z.copy()
    X, jx = merge_levels(x, owner, n_owner)
    Y, ky = merge_levels(y, owner, n_owner)
    shape = (n_owner, X.shape[1], Y.shape[1])
    n, s, q = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    np.add.at(n, (owner, jx, ky), 1.0)
    np.add.at(s, (owner, jx, ky), loss)
    np.add.at(q, (owner, jx, ky), loss * loss)
    return X, Y, n, s, q


def fit_cells(X, Y, n, s, q, window=2, max_misfit=0.25, gap_sd=2.0):
    """``fit_surfaces`` with the detail the delta method needs."""
    return fit_surfaces(X, Y, n, s, q, window=window, max_misfit=max_misfit, gap_sd=gap_sd,
                        detail=True)


def vertex_variance(X, Y, n, fit, sigma, metric=None) -> np.ndarray:
    """Var ln lr* + Var ln bs* (G,) of each surface's fitted vertex (delta method on its
    window's cells, run s.d. ``sigma`` (G,)); with ``metric`` M (G, 2, 2) the error
    ``tr(M C)`` instead (M = the valley's curvature matrix K: the expected loss cost of the
    vertex's error, ``E d^T K d``, loss units); inf where the surface is not ``ok``."""
    return error_of(vertex_covariance(X, Y, n, fit, sigma), metric)


def error_of(cov, metric=None) -> np.ndarray:
    """``tr C`` (G,) of vertex covariances ``cov`` (G, 2, 2), or ``tr(M C)`` with ``metric``
    M (G, 2, 2); inf where not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        v = (cov[:, 0, 0] + cov[:, 1, 1] if metric is None
             else np.einsum("gij,gji->g", np.asarray(metric, float), cov))
    return np.where(np.isfinite(v) & (v >= 0), v, np.inf)


def block_cov(hx: float, hy: float, K, sigma: float, n_side: int = 3) -> np.ndarray:
    """Expected vertex covariance (2, 2) of a surface not run yet: one run at each cell of
    an ``n_side`` x ``n_side`` block centred on its optimum, steps ``hx``, ``hy`` (ln lr,
    ln bs), curvature matrix ``K`` (2, 2), run s.d. ``sigma``; inf if the block does not
    determine the vertex."""
    off = np.arange(n_side) - (n_side - 1) / 2
    t, u = (g.ravel() for g in np.meshgrid(off * hx, off * hy, indexing="ij"))
    F = quad_features(np.stack([t, u], -1))
    K = np.asarray(K, float)
    c = np.array([0.0, 0.0, 0.0, K[0, 0], 2 * K[0, 1], K[1, 1]])
    with np.errstate(invalid="ignore", over="ignore"):
        return vertex_cov(F[None], np.ones((1, t.size)), c[None], np.array([sigma]))[0]


def curvature_matrices(fit) -> np.ndarray:
    """Each surface's curvature matrix K (G, 2, 2) (loss per (ln lr)^2, per ln lr ln bs, per
    (ln bs)^2): an error d = (d ln lr, d ln bs) costs d^T K d in loss. NaN where none."""
    return np.stack([np.stack([fit.k_xx, fit.k_xy], -1), np.stack([fit.k_xy, fit.k_yy], -1)],
                    -2).astype(float)


def _offsets(X, Y, fit):
    """(t, u) (G, J, K): each cell's ln lr and ln bs relative to its surface's best cell."""
    shape = (X.shape[0], X.shape[1], Y.shape[1])
    return (np.broadcast_to(X[:, :, None] - fit.x_best[:, None, None], shape),
            np.broadcast_to(Y[:, None, :] - fit.y_best[:, None, None], shape))


def vertex_covariance(X, Y, n, fit, sigma) -> np.ndarray:
    """Covariance (G, 2, 2) of each surface's fitted vertex (ln lr*, ln bs*) by the delta
    method on its window's cells, run s.d. ``sigma`` (G,); inf where the surface is not
    ``ok``."""
    G, J, K = n.shape
    t, u = _offsets(X, Y, fit)
    F = np.nan_to_num(quad_features(np.stack([t, u], -1))).reshape(G, J * K, N_COEF)
    w = np.where(fit.in_window, n, 0.0).reshape(G, J * K)
    ok = fit.status == OK
    c = np.where(ok[:, None], np.nan_to_num(fit.coef), [0, 0, 0, 1, 0, 1])
    with np.errstate(invalid="ignore", over="ignore"):
        cov = vertex_cov(F, w, c, np.asarray(sigma, float))
    return np.where(ok[:, None, None], cov, np.inf)


N_ALT = 12  # the quadratic's 6 terms, the 4 cubic ones and t^4, u^4


def lack_of_fit(X, Y, n, s, q, fit) -> tuple[np.ndarray, np.ndarray]:
    """(p, sd) (G,) of each ok surface's quadratic on its window against a richer surface.

    p: the F test of the cubic terms (t^3, t^2 u, t u^2, u^3) and t^4, u^4 on the window's
    runs (the richer surface's residual, lack of fit and replicate noise, as the error;
    terms the window's levels cannot identify are left out). Small: the valley is not
    quadratic across the window, so its vertex depends on the window's width. sd: that
    residual's s.d. per run (loss units), a noise estimate that a valley's departure from
    the quadratic inflates less than the quadratic's own (NaN below 3 degrees of freedom).
    NaN where untestable (not ok, no extra term identified, or no residual degree of
    freedom)."""
    G, J, K = n.shape
    t, u = (np.nan_to_num(a) for a in _offsets(X, Y, fit))
    phi = np.concatenate([quad_features(np.stack([t, u], -1)),
                          np.stack([t ** 3, t * t * u, t * u * u, u ** 3, t ** 4, u ** 4], -1)],
                         -1).reshape(G, J * K, N_ALT)
    w = np.where(fit.in_window, n, 0.0).reshape(G, J * K)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(w > 0, s.reshape(G, J * K) / np.where(w > 0, n.reshape(G, J * K), 1),
                        0.0)
        pure = np.where(w > 1, q.reshape(G, J * K) - s.reshape(G, J * K) ** 2
                        / np.where(w > 0, n.reshape(G, J * K), 1), 0.0).sum(1)
    pure = np.maximum(pure, 0.0)
    m0 = np.where(w > 0, mean, np.inf).min(1)
    m0 = np.where(np.isfinite(m0), m0, 0.0)
    dm = np.where(w > 0, mean - m0[:, None], 0.0)  # centred: the sums keep their digits

    def lof(p):
        F = phi[..., :p]
        A = np.einsum("gc,gci,gcj->gij", w, F, F)
        b = np.einsum("gc,gc,gci->gi", w, dm, F)
        d = np.sqrt(np.abs(np.einsum("gii->gi", A))) + 1e-300
        An = A / d[:, :, None] / d[:, None, :]
        c = np.einsum("gij,gj->gi", np.linalg.pinv(An, rcond=1e-10), b / d) / d
        r = dm - np.einsum("gci,gi->gc", F, c)
        return np.sum(w * r * r, 1), np.linalg.matrix_rank(An, tol=1e-8)

    sse6, r6 = lof(N_COEF)
    sse_alt, r_alt = lof(N_ALT)
    n_runs = w.sum(1)
    df1, df2 = r_alt - r6, n_runs - r_alt
    err = sse_alt + pure
    from scipy.stats import f as f_dist

    with np.errstate(invalid="ignore", divide="ignore"):
        mse = err / np.maximum(df2, 1)
        F_stat = np.maximum(sse6 - sse_alt, 0.0) / np.maximum(df1, 1) / mse
        p = np.where(err > 0, f_dist.sf(F_stat, np.maximum(df1, 1), np.maximum(df2, 1)),
                     np.where(sse6 - sse_alt > 0, 0.0, 1.0))
    testable = (fit.status == OK) & (df1 > 0) & (df2 >= 1)
    return (np.where(testable, p, np.nan),
            np.where(testable & (df2 >= 3), np.sqrt(mse), np.nan))


def shift_p(narrow, cov, x_wide, y_wide) -> np.ndarray:
    """p-value (G,) of the shift between the vertex of a wide window (``x_wide``,
    ``y_wide``) and that of a narrower one inside it (the ``ok`` fit ``narrow``, vertex
    covariance ``cov`` (G, 2, 2)): ``d^T cov^-1 d`` against chi^2 with 2 degrees of freedom
    (the narrow vertex's covariance alone: conservative, as the difference's is smaller when
    the valley is quadratic). NaN where the narrow fit is not ok or cov is not finite."""
    d = np.stack([narrow.x_opt - x_wide, narrow.y_opt - y_wide], -1)
    good = (narrow.status == OK) & np.all(np.isfinite(d), -1) & np.all(np.isfinite(cov),
                                                                         (-1, -2))
    c = np.where(good[:, None, None], cov, np.eye(2))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        h = np.einsum("gi,gij,gj->g", np.where(good[:, None], d, 0.0), np.linalg.pinv(c),
                      np.where(good[:, None], d, 0.0))
    from scipy.stats import chi2

    return np.where(good, chi2.sf(np.maximum(h, 0.0), 2), np.nan)


def predict_loss(fit, g: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The loss surface g's fitted quadratic predicts at (x, y)."""
    c = fit.coef[g]
    t, u = x - fit.x_best[g], y - fit.y_best[g]
    return c[:, 0] + c[:, 1] * t + c[:, 2] * u + c[:, 3] * t * t + c[:, 4] * t * u + c[:, 5] * u * u


def pooled_sigma(fit, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run noise per surface: the pooled residual s.d. of the ``ok`` surfaces of its key
    (``rmse`` over the runs of each window, on ``n_window - 6`` degrees of freedom) and
    whether it was measured (False: a stand-in, the s.d.s are relative)."""
    G = len(key)
    sigma, known = np.full(G, np.nan), np.zeros(G, bool)
    usable = (fit.status == OK) & np.isfinite(fit.rmse) & (fit.n_window > N_COEF)
    for k in dict.fromkeys(key):
        m = (key == k) & usable
        if m.any():
            sse = np.sum(fit.rmse[m] ** 2 * fit.n_window[m])
            sd = np.sqrt(sse / np.sum(fit.n_window[m] - N_COEF))
            if sd > 0:
                sigma[key == k], known[key == k] = sd, True
    if not known.all():
        stand_in = float(np.median(sigma[known])) if known.any() else 1.0
        sigma = np.where(known, sigma, stand_in)
    return sigma, known
