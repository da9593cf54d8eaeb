"""Fitting a curve law (``core.curve_laws``): robust loss in ln L, a grid of starts, L-BFGS-B.

The objective is the summed Huber loss (``delta``, default 1e-3) of ``ln L_pred - ln L``
over the observations, optionally weighted (bootstrap multiplicities), as Hoffmann et al.
fit the Chinchilla law and Luo et al. fit the Multi-Power Law.

Starts (vectorized): the law is linear in some parameters (MPL: ``L0, A, B``; annealing:
``L0, A, C``) once the others are fixed, so every point of a grid over the nonlinear ones
(MPL: ``alpha, C, beta, gamma``; annealing: ``alpha``) gets its linear parameters by
weighted least squares in L, in one batched solve; the Huber objective of every start is
then one array operation, and the best ``n_refine`` are refined by L-BFGS-B (scipy,
analytic gradient, bounds). Refits of bootstrap resamples start at the full-data optimum.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize

from .chinchilla import huber
from .curve_data import CurveData

DEFAULT_DELTA = 1e-3
MPL_GRID = {"alpha": (0.2, 0.35, 0.5, 0.7), "C": (0.5, 1.0, 2.0, 4.0, 8.0),
            "beta": (0.3, 0.6, 1.0), "gamma": (0.3, 0.5, 0.7, 0.9)}
TISSUE_GRID = {"alpha": tuple(np.round(np.arange(0.1, 1.51, 0.05), 3))}
_CHUNK = 4_000_000  # (parameter set x pair) elements per batched evaluation


def objective(law, theta, data: CurveData, ln_loss, delta=DEFAULT_DELTA, weights=None,
              jac=False):
    """Summed Huber loss of ln residuals for theta (S, k): (S,); with ``jac`` also (S, k)."""
    out = law.predict(theta, data, jac=jac)
    pred = out[0] if jac else out
    ok = pred > 0
    r = np.log(np.where(ok, pred, 1e-10)) - ln_loss
    h = huber(r, delta)
    if weights is not None:
        h = h * weights
    f = h.sum(-1)
    if not jac:
        return f
    psi = np.clip(r, -delta, delta) * ok / np.where(ok, pred, 1.0)
    if weights is not None:
        psi = psi * weights
    return f, np.einsum("sn,snk->sk", psi, out[1])


def grid_starts(law, data: CurveData, loss, weights=None):
    """Every grid start with its linear parameters solved: theta (G, k)."""
    w = np.ones(data.n) if weights is None else np.asarray(weights, float)
    ln_s1 = np.log(data.s1)
    if law.name == "mpl":
        combos = np.array(list(itertools.product(MPL_GRID["C"], MPL_GRID["beta"],
                                                 MPL_GRID["gamma"])))
        D = law.drop(data, combos[:, 0], combos[:, 1], combos[:, 2])  # (m, n)
        alphas = np.array(MPL_GRID["alpha"])
        pw = np.exp(-alphas[:, None] * ln_s1)  # (a, n)
        X = np.stack(np.broadcast_arrays(np.ones((len(alphas), len(combos), data.n)),
                                         pw[:, None, :], D[None, :, :]), axis=-1)
        X = X.reshape(-1, data.n, 3)
        a_idx, c_idx = np.divmod(np.arange(X.shape[0]), len(combos))
        nonlin = np.column_stack([alphas[a_idx], combos[c_idx]])  # alpha, C, beta, gamma
    else:
        alphas = np.array(TISSUE_GRID["alpha"])
        pw = np.exp(-alphas[:, None] * ln_s1)
        s2 = law.s2(data)
        X = np.stack(np.broadcast_arrays(np.ones_like(pw), pw, -np.broadcast_to(s2, pw.shape)),
                     axis=-1)
        nonlin = alphas[:, None]
    sw = np.sqrt(w)[None, :, None]
    XtX = np.einsum("gni,gnj->gij", X * sw, X * sw)
    Xty = np.einsum("gni,n->gi", X * sw, np.sqrt(w) * loss)
    ridge = 1e-12 * np.trace(XtX, axis1=1, axis2=2)[:, None, None] * np.eye(3)
    beta = np.linalg.solve(XtX + ridge, Xty[..., None])[..., 0]
    L0 = np.clip(beta[:, 0], 1e-6, None)
    A = np.clip(beta[:, 1], 1e-8, None)
    B = np.clip(beta[:, 2], 1e-8, None)
    if law.name == "mpl":
        return np.column_stack([L0, np.log(A), nonlin[:, 0], np.log(B), np.log(nonlin[:, 1]),
                                nonlin[:, 2], nonlin[:, 3]])
    return np.column_stack([L0, np.log(A), nonlin[:, 0], np.log(B)])


def _chunked_objective(law, thetas, data, ln_loss, delta, weights):
    per = max(1, _CHUNK // max(data.pairs.shape[1], 1))
    return np.concatenate([objective(law, thetas[i:i + per], data, ln_loss, delta, weights)
                           for i in range(0, len(thetas), per)])


def lbfgsb(law, theta0, data, ln_loss, delta=DEFAULT_DELTA, weights=None, maxiter=3000):
    """One bounded L-BFGS-B refinement with the analytic gradient. Returns scipy's result."""

    def fun(t):
        f, g = objective(law, t[None], data, ln_loss, delta, weights, jac=True)
        f0 = float(f[0])
        return (f0, g[0]) if np.isfinite(f0) else (1e10, np.zeros_like(t))

    lo = [b[0] for b in law.bounds]
    t0 = np.clip(np.asarray(theta0, float), [-np.inf if v is None else v for v in lo],
                 [np.inf if b[1] is None else b[1] for b in law.bounds])
    return minimize(fun, t0, jac=True, method="L-BFGS-B", bounds=law.bounds,
                    options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-10,
                             "maxcor": 20})


def lm_batch(law, theta0, data: CurveData, ln_loss, delta=DEFAULT_DELTA, weights=None,
             max_iter=200, rtol=1e-12):
    """Minimize S independent objectives at once (Levenberg-Marquardt on the Huber loss).

    theta0 (S, k); ``ln_loss`` (n,) or (S, n); ``weights`` None, (n,) or (S, n). Each
    problem has its own damping ``mu``: the step solves ``(H + mu diag(H)) d = -g`` with the
    Gauss-Newton matrix of iteratively reweighted least squares (``H = sum w min(1,
    delta/|r|) g g^T``, ``g`` the gradient of ``ln L_pred``), is clipped to the bounds and
    kept only if it lowers the objective. Converged: the relative decrease of an accepted
    step below ``rtol``, or no step lowers it at heavy damping. Returns theta (S, k),
    objective (S,), converged (S,) bool.
    """
    theta = np.array(np.atleast_2d(theta0), float, copy=True)
    S, k = theta.shape
    lo = np.array([-np.inf if b[0] is None else b[0] for b in law.bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in law.bounds])
    ln_b = np.broadcast_to(ln_loss, (S, data.n))
    w_b = None if weights is None else np.broadcast_to(weights, (S, data.n))
    mu = np.full(S, 1e-3)
    conv = np.zeros(S, bool)
    f = np.full(S, np.inf)
    active = np.arange(S)

    def evaluate(idx, th):
        pred, J = law.predict(th, data, jac=True)
        ok = pred > 0
        r = np.log(np.where(ok, pred, 1e-10)) - ln_b[idx]
        w = np.ones_like(r) if w_b is None else w_b[idx]
        val = (w * huber(r, delta)).sum(-1)
        val = np.where(ok.all(-1), val, np.inf)
        g = J / np.where(ok, pred, 1.0)[..., None]  # d ln pred / d theta
        irls = w * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        grad = np.einsum("sn,snk->sk", w * np.clip(r, -delta, delta), g)
        H = np.einsum("sn,snj,snk->sjk", irls, g, g)
        return val, grad, H

    f, grad, H = evaluate(active, theta)
    for _ in range(max_iter):
        if active.size == 0:
            break
        Ha, ga = H[active], grad[active]
        dg = np.maximum(np.einsum("sii->si", Ha), 1e-30)
        A = Ha + (mu[active, None] * dg)[:, :, None] * np.eye(k)
        try:
            step = -np.linalg.solve(A, ga[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -ga / dg
        trial = np.clip(theta[active] + step, lo, hi)
        f_new, g_new, H_new = evaluate(active, trial)
        better = np.isfinite(f_new) & (f_new < f[active])
        acc = active[better]
        rel = (f[acc] - f_new[better]) / np.maximum(np.abs(f_new[better]), 1e-300)
        theta[acc], f[acc], grad[acc], H[acc] = trial[better], f_new[better], g_new[better], \
            H_new[better]
        mu[acc] = np.maximum(mu[acc] * 0.3, 1e-9)
        rej = active[~better]
        mu[rej] *= 10.0
        done = np.zeros(S, bool)
        done[acc[rel < rtol]] = True
        done[rej[mu[rej] > 1e8]] = True
        conv |= done
        active = active[~done[active]]
    return theta, f, conv


def fit_law(law, data: CurveData, loss, delta=DEFAULT_DELTA, n_refine=5, weights=None) -> dict:
    """Fit ``law`` to observed ``loss`` (n,). Returns ``theta``, ``params``, ``objective``,
    ``converged``, ``n_starts``."""
    loss = np.asarray(loss, float)
    ln_loss = np.log(loss)
    starts = grid_starts(law, data, loss, weights)
    f0 = _chunked_objective(law, starts, data, ln_loss, delta, weights)
    f0 = np.where(np.isfinite(f0), f0, np.inf)
    pick = np.argsort(f0, kind="stable")[:n_refine]
    pick = pick[np.isfinite(f0[pick])]
    if pick.size == 0:
        raise RuntimeError("no start gave a finite objective")
    # polish the best starts together (LM), then certify the best one with L-BFGS-B
    th, f, _ = lm_batch(law, starts[pick], data, ln_loss, delta, weights)
    j = int(np.argmin(np.where(np.isfinite(f), f, np.inf)))
    res = lbfgsb(law, th[j], data, ln_loss, delta, weights)
    theta, fun = (res.x, res.fun) if res.fun <= f[j] else (th[j], f[j])
    return {"theta": np.asarray(theta, float), "params": law.to_params(theta),
            "objective": float(fun), "converged": bool(res.success),
            "n_starts": int(len(starts)), "starts_objective": f}


def predict_draws(law, thetas, data: CurveData) -> np.ndarray:
    """Predicted losses for every parameter set thetas (B, k) on ``data``: (B, n), chunked."""
    thetas = np.atleast_2d(thetas)
    per = max(1, _CHUNK // max(data.pairs.shape[1], 1))
    return np.concatenate([law.predict(thetas[i:i + per], data)
                           for i in range(0, len(thetas), per)])
