"""Chinchilla-form loss law ``loss = E + A * N^-alpha + B * D^-beta``.

Fitted the way Hoffmann et al. (2022) and Besiroglu et al. (Epoch, 2024) do: the
parameters are written in log-sum-exp form,

    ln L_pred = LSE(a - alpha ln N, b - beta ln D, e),   A = e^a, B = e^b, E = e^e,

and the Huber loss (``huber_delta``, default 1e-3) of ``ln L_pred - ln L`` is SUMMED
over points and minimized with L-BFGS from a grid of starting points. Intervals come
from a bootstrap over points (percentile intervals).

Internally a parameter vector is ``theta = (a, b, e, alpha, beta)`` (shape ``(..., 5)``);
the public result speaks ``E, A, B, alpha, beta``. The objective and its derivatives
are pure functions of ``theta`` and the data arrays and are batched over leading axes
of ``theta``, so all starts, or all bootstrap resamples, are evaluated at once. The
bootstrap refits every resample simultaneously with a batched damped Newton method
(exact Hessian, 5x5 per resample) from the full-data optimum, falling back to scipy
L-BFGS-B for any resample it does not converge on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from ..errors import ScalefitFitError

FORM = "loss = E + A * N^-alpha + B * D^-beta"
PARAM_NAMES = ("E", "A", "B", "alpha", "beta")
THETA_NAMES = ("a", "b", "e", "alpha", "beta")
MIN_POINTS = 5

# Work arrays of the batched evaluations are chunked to about this many (start, point)
# pairs, which keeps peak memory near 100 MB whatever the data size.
_CHUNK_PAIRS = 1_000_000


# --------------------------------------------------------------------------------------
# Pure numerics: objective, gradient, Hessian (batched over leading axes of theta)
# --------------------------------------------------------------------------------------


def epoch_grid() -> np.ndarray:
    """Epoch's grid of 4,500 starts as ``theta`` rows ``(a, b, e, alpha, beta)``.

    alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}.
    Returns shape ``(4500, 5)``.
    """
    ab = np.arange(0.0, 30.0, 5.0)
    e = np.arange(-1.0, 1.5, 0.5)
    ex = np.arange(0.0, 2.5, 0.5)
    return np.array(list(itertools.product(ab, ab, e, ex, ex)), dtype=float)


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """Elementwise Huber loss: ``r^2 / 2`` for ``|r| <= delta``, else ``delta (|r| - delta/2)``."""
    ar = np.abs(r)
    return np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def _lse_terms(theta, ln_n, ln_d):
    """Log-sum-exp prediction and softmax weights.

    theta (..., 5); ln_n, ln_d (n,). Returns ``lse`` (..., n) = ln L_pred and the three
    softmax weights ``s1, s2, s3`` (..., n) of the terms A N^-alpha, B D^-beta, E.
    """
    a, b, e, alpha, beta = (theta[..., k, None] for k in range(5))
    u1 = a - alpha * ln_n  # (..., n)
    u2 = b - beta * ln_d
    u3 = np.broadcast_to(e, u1.shape)
    m = np.maximum(np.maximum(u1, u2), u3)
    x1, x2, x3 = np.exp(u1 - m), np.exp(u2 - m), np.exp(u3 - m)
    s = x1 + x2 + x3
    return m + np.log(s), x1 / s, x2 / s, x3 / s


def predict_log_loss(theta, ln_n, ln_d) -> np.ndarray:
    """``ln L_pred`` for theta (..., 5) at points ln_n, ln_d (n,); shape (..., n)."""
    return _lse_terms(np.asarray(theta, dtype=float), ln_n, ln_d)[0]


def objective(theta, ln_n, ln_d, ln_loss, delta=1e-3, weights=None) -> np.ndarray:
    """Summed Huber loss of the log residuals ``ln L_pred - ln L``.

    theta (..., 5); ln_n, ln_d, ln_loss (n,); weights (n,) or (..., n) point multiplicities
    (bootstrap counts), default 1. Returns shape (...) (a 0-d array for one theta).
    """
    theta = np.asarray(theta, dtype=float)
    r = _lse_terms(theta, ln_n, ln_d)[0] - ln_loss
    h = huber(r, delta)
    if weights is not None:
        h = h * weights
    return h.sum(axis=-1)


def objective_and_gradient(theta, ln_n, ln_d, ln_loss, delta=1e-3, weights=None):
    """Objective (...) and its analytic gradient (..., 5) with respect to theta."""
    theta = np.asarray(theta, dtype=float)
    lse, s1, s2, s3 = _lse_terms(theta, ln_n, ln_d)
    r = lse - ln_loss
    h = huber(r, delta)
    hp = np.clip(r, -delta, delta)  # dHuber/dr
    if weights is not None:
        h = h * weights
        hp = hp * weights
    c1, c2 = hp * s1, hp * s2
    grad = np.stack(
        [c1.sum(-1), c2.sum(-1), (hp * s3).sum(-1), -(c1 @ ln_n), -(c2 @ ln_d)], axis=-1
    )
    return h.sum(axis=-1), grad


def gradient(theta, ln_n, ln_d, ln_loss, delta=1e-3, weights=None) -> np.ndarray:
    """Analytic gradient (..., 5) of :func:`objective` with respect to theta."""
    return objective_and_gradient(theta, ln_n, ln_d, ln_loss, delta, weights)[1]


def _fgh(theta, ln_n, ln_d, ln_loss, delta, weights):
    """Objective (B,), gradient (B, 5) and exact Hessian (B, 5, 5) for theta (B, 5).

    With residual r_i(theta) = LSE_i - ln L_i, Huber derivatives h', h'' and per-point
    gradient G_i = (s1, s2, s3, -s1 ln N, -s2 ln D), the Hessian is
    sum_i w_i [(h''_i - h'_i) G_i G_i^T + h'_i sum_k s_ik m_ik m_ik^T], where m_ik are the
    rows of d(u_i)/d(theta) (LSE is the log-sum-exp of terms linear in theta).
    """
    lse, s1, s2, s3 = _lse_terms(theta, ln_n, ln_d)
    r = lse - ln_loss
    ar = np.abs(r)
    quad = ar <= delta
    h = np.where(quad, 0.5 * r * r, delta * (ar - 0.5 * delta))
    hp = np.clip(r, -delta, delta)
    f = (weights * h).sum(-1)
    whp = weights * hp
    G = np.stack([s1, s2, s3, -s1 * ln_n, -s2 * ln_d], axis=-1)  # (B, n, 5)
    g = np.einsum("bn,bnk->bk", whp, G)
    H = np.einsum("bn,bnj,bnk->bjk", weights * (quad - hp), G, G)
    c1, c2 = whp * s1, whp * s2
    t1, t2 = c1 @ ln_n, c2 @ ln_d
    H[:, 0, 0] += c1.sum(-1)
    H[:, 1, 1] += c2.sum(-1)
    H[:, 2, 2] += (whp * s3).sum(-1)
    H[:, 3, 3] += c1 @ (ln_n * ln_n)
    H[:, 4, 4] += c2 @ (ln_d * ln_d)
    H[:, 0, 3] -= t1
    H[:, 3, 0] -= t1
    H[:, 1, 4] -= t2
    H[:, 4, 1] -= t2
    return f, g, H


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------


def _center(theta, mean_ln_n, mean_ln_d):
    """theta in raw log data -> theta for centered data (a - alpha mean ln N, ...)."""
    t = np.array(theta, dtype=float, copy=True)
    t[..., 0] -= t[..., 3] * mean_ln_n
    t[..., 1] -= t[..., 4] * mean_ln_d
    return t


def _uncenter(theta, mean_ln_n, mean_ln_d):
    t = np.array(theta, dtype=float, copy=True)
    t[..., 0] += t[..., 3] * mean_ln_n
    t[..., 1] += t[..., 4] * mean_ln_d
    return t


def _lbfgsb(theta0, ln_n, ln_d, ln_loss, delta, weights=None, tight=False):
    """One scipy L-BFGS-B run with the analytic gradient.

    Default tolerances when the result is polished by :func:`_newton_batch` afterwards (it
    only needs to land in the basin of the optimum); ``tight`` ones when it is final: with
    the defaults, L-BFGS-B stops early on this nearly piecewise-linear objective (the
    premature termination Besiroglu et al. point out).
    """

    def fun(t):
        f, g = objective_and_gradient(t, ln_n, ln_d, ln_loss, delta, weights)
        return float(f), g

    return minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12} if tight else {"maxiter": 1000},
    )


def _newton_batch(
    theta0, ln_n, ln_d, ln_loss, delta, weights, max_iter=200, rtol=1e-13, progress=None
):
    """Minimize B independent summed-Huber objectives at once by damped Newton.

    theta0 (B, 5) starts (use centered data: conditioning is much better); weights (B, n).
    Each resample has its own Levenberg-Marquardt damping mu: the step solves
    ``(|H| + mu I) d = -g`` with |H| the Hessian with absolute eigenvalues (floored), and is
    kept only if it lowers the objective (Armijo); mu shrinks after a success and grows
    after a failure. A resample is converged when the predicted decrease of a full Newton
    step is below ``rtol`` times its objective (plus a floor equivalent to residuals of
    1e-9 delta, for exact data). Returns theta (B, 5), objective (B,),
    converged (B,) bool.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    B = theta.shape[0]
    f, g, H = _fgh(theta, ln_n, ln_d, ln_loss, delta, weights)
    mu = np.zeros(B)
    converged = np.zeros(B, dtype=bool)
    active = np.arange(B)
    floor = (1e-9 * delta) ** 2 * weights.sum(axis=1)
    for _ in range(max_iter):
        lam, V = np.linalg.eigh(H[active])  # (k, 5), (k, 5, 5)
        lam = np.abs(lam)
        lam = np.maximum(lam, 1e-12 * lam.max(axis=1, keepdims=True) + 1e-300)
        gv = np.einsum("kji,kj->ki", V, g[active])  # V^T g
        # Full modified-Newton decrement, used as the convergence test.
        decrement = (gv * gv / lam).sum(1)
        done = decrement <= rtol * f[active] + floor[active]
        converged[active[done]] = True
        keep = ~done
        active, lam, V, gv = active[keep], lam[keep], V[keep], gv[keep]
        if progress is not None:
            progress(int(converged.sum()))
        if active.size == 0:
            break
        m = mu[active, None] * lam.max(axis=1, keepdims=True)
        step = -np.einsum("kij,kj->ki", V, gv / (lam + m))
        trial = theta[active] + step
        f_new, g_new, H_new = _fgh(trial, ln_n, ln_d, ln_loss, delta, weights[active])
        slope = np.einsum("ki,ki->k", g[active], step)  # < 0
        ok = np.isfinite(f_new) & (f_new <= f[active] + 1e-4 * slope)
        acc = active[ok]
        theta[acc], f[acc], g[acc], H[acc] = trial[ok], f_new[ok], g_new[ok], H_new[ok]
        mu[acc] = np.where(mu[acc] > 1e-6, mu[acc] * 0.1, 0.0)
        rej = active[~ok]
        mu[rej] = np.maximum(mu[rej] * 10.0, 1e-6)
        # A step that cannot lower f even with heavy damping: the point is (numerically) a
        # minimum of the piecewise objective; stop and let the caller check it.
        stuck = rej[mu[rej] > 1e6]
        if stuck.size:
            active = np.setdiff1d(active, stuck, assume_unique=True)
    return theta, f, converged


def _bootstrap(start, ln_n, ln_d, ln_loss, delta, n_boot, rng, report):
    """Refit ``n_boot`` resamples of the points, all started at ``start`` (5,).

    Resample i draws ``rng.integers(0, n, n)`` point indices (row by row, in order) and is
    represented by point multiplicities. Resamples go to :func:`_newton_batch` in batches
    (bounded memory); any it does not converge on is refitted by L-BFGS-B from where Newton
    stopped, keeping the lower objective, then re-checked by the Newton test (unconverged:
    neither L-BFGS-B reported success nor the test passed). ``report(done)`` gets the
    count of finished resamples. Returns theta (n_boot, 5), n_fallback, n_unconverged.
    """
    npts = ln_n.size
    thetas = np.empty((n_boot, 5))
    batch = max(1, min(n_boot, _CHUNK_PAIRS // npts))
    done = n_fallback = n_unconv = 0
    for lo in range(0, n_boot, batch):
        b = min(batch, n_boot - lo)
        idx = rng.integers(0, npts, size=(b, npts))  # resampled point indices
        flat = (np.arange(b)[:, None] * npts + idx).ravel()
        counts = np.bincount(flat, minlength=b * npts).reshape(b, npts).astype(float)
        t, _, conv = _newton_batch(
            np.repeat(start[None], b, axis=0),
            ln_n,
            ln_d,
            ln_loss,
            delta,
            counts,
            progress=lambda k, base=done: report(base + k),
        )
        done += int(conv.sum())
        redo = np.flatnonzero(~conv)
        ok = np.zeros(redo.size, dtype=bool)
        for j, i in enumerate(redo):
            res = _lbfgsb(t[i], ln_n, ln_d, ln_loss, delta, counts[i], tight=True)
            f_old = float(objective(t[i], ln_n, ln_d, ln_loss, delta, counts[i]))
            if np.isfinite(res.fun) and res.fun <= f_old:
                t[i] = res.x
            ok[j] = res.success
            done += 1
            report(done)
        if redo.size:
            # Certify the L-BFGS-B results with the Newton test (and polish them).
            t2, f2, c2 = _newton_batch(t[redo], ln_n, ln_d, ln_loss, delta, counts[redo])
            f1 = objective(t[redo], ln_n, ln_d, ln_loss, delta, counts[redo])
            better = np.isfinite(f2) & (f2 <= f1)
            t[redo[better]] = t2[better]
            n_fallback += redo.size
            n_unconv += int(np.sum(~(ok | c2)))
        thetas[lo : lo + b] = t
    return thetas, n_fallback, n_unconv


# --------------------------------------------------------------------------------------
# The whole fit
# --------------------------------------------------------------------------------------


def _theta_to_params(theta) -> dict:
    a, b, e, alpha, beta = (float(x) for x in theta)
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta}


def _thetas_to_param_array(theta) -> np.ndarray:
    """theta (k, 5) -> columns (E, A, B, alpha, beta), shape (k, 5)."""
    theta = np.asarray(theta, dtype=float)
    return np.column_stack(
        [np.exp(theta[:, 2]), np.exp(theta[:, 0]), np.exp(theta[:, 1]), theta[:, 3], theta[:, 4]]
    )


def boot_ci(boot: np.ndarray, level: float) -> dict:
    """Percentile interval per parameter from draws (B, 5): name -> (lo, hi)."""
    q = 100.0 * np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    lo_hi = np.percentile(boot, q, axis=0)  # (2, 5)
    return {k: (float(lo_hi[0, j]), float(lo_hi[1, j])) for j, k in enumerate(PARAM_NAMES)}


def fit_points(
    n_arr: np.ndarray, d_arr: np.ndarray, loss_arr: np.ndarray, delta: float, n_boot: int,
    seed: int | None, ci: float, grid: np.ndarray, n_refine: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Fit ``loss = E + A N^-alpha + B D^-beta`` to checked positive arrays (see module doc).

    ``grid``: (k, 5) starts; the best ``n_refine`` are refined. Returns a dict: ``params``,
    ``theta``, ``objective``, ``converged``, ``boot_params`` ((n_boot, 5) or None),
    ``ci`` (name -> (lo, hi) or None), ``n_boot_fallback``, ``n_boot_unconverged``.
    Raises ScalefitFitError if the optimizer fails.
    """
    ln_n, ln_d, ln_loss = np.log(n_arr), np.log(d_arr), np.log(loss_arr)
    npts = ln_n.size
    total = n_refine + int(n_boot)

    # 1. Objective at every start, vectorized (chunked to bound memory).
    chunk = max(1, _CHUNK_PAIRS // npts)
    f0 = np.concatenate(
        [
            objective(grid[i : i + chunk], ln_n, ln_d, ln_loss, delta)
            for i in range(0, grid.shape[0], chunk)
        ]
    )
    f0 = np.where(np.isfinite(f0), f0, np.inf)
    order = np.argsort(f0, kind="stable")[:n_refine]

    # 2. Refine the best few with L-BFGS-B (analytic gradient). The optimizers work on
    #    centered data (ln N - mean, ln D - mean), which only re-labels a and b (the
    #    optimum is the same) and conditions the problem much better.
    mean_n, mean_d = float(ln_n.mean()), float(ln_d.mean())
    xn, xd = ln_n - mean_n, ln_d - mean_d
    cand = []
    for j, i in enumerate(order):
        res = _lbfgsb(_center(grid[i], mean_n, mean_d), xn, xd, ln_loss, delta)
        if np.isfinite(res.fun) and np.all(np.isfinite(res.x)):
            cand.append(np.asarray(res.x, dtype=float))
        if progress is not None:
            progress(j + 1, total)
    if not cand:
        raise ScalefitFitError(
            "L-BFGS-B found no finite optimum from any start; check that losses are "
            "in nats and that N and D are raw counts (not logs)"
        )

    # 3. Polish every candidate at once with the exact-Hessian Newton method, which also
    #    certifies stationarity; keep the best.
    cand = np.array(cand)  # (k, 5), centered
    t_c, f_c, conv_c = _newton_batch(cand, xn, xd, ln_loss, delta, np.ones((cand.shape[0], npts)))
    f_c = np.where(np.isfinite(f_c) & np.isfinite(t_c).all(axis=1), f_c, np.inf)
    k = int(np.argmin(f_c))
    if not np.isfinite(f_c[k]):
        raise ScalefitFitError("the Chinchilla fit produced non-finite parameters")
    best_theta, best_f, converged = (
        _uncenter(t_c[k], mean_n, mean_d),
        float(f_c[k]),
        bool(conv_c[k]),
    )

    params = _theta_to_params(best_theta)
    boot = None
    ci_dict = None
    n_fallback = n_unconv = 0
    if n_boot:
        rng = np.random.default_rng(seed)
        start = _center(best_theta, mean_n, mean_d)

        def report(k):
            if progress is not None:
                progress(n_refine + k, total)

        thetas, n_fallback, n_unconv = _bootstrap(
            start, xn, xd, ln_loss, delta, int(n_boot), rng, report
        )
        boot = _thetas_to_param_array(_uncenter(thetas, mean_n, mean_d))
        ci_dict = boot_ci(boot, ci)
    if progress is not None:
        progress(total, total)

    return {"params": params, "theta": best_theta, "objective": best_f, "converged": converged,
            "boot_params": boot, "ci": ci_dict, "n_boot_fallback": n_fallback,
            "n_boot_unconverged": n_unconv}
