"""Compute-optimal allocation: the model size N* and tokens D* that minimise the loss at a
budget of C FLOPs, vectorized over bootstrap draws and budgets.

**From a Chinchilla-form law** ``L = E + A N^-alpha + B D^-beta`` under ``C = 6 N D``
(Hoffmann et al. 2022, Approach 3): eliminating ``D = C / (6 N)`` and setting the
derivative in N to zero gives

    N* = G (C/6)^a,   D* = G^-1 (C/6)^b,   G = (alpha A / (beta B))^(1 / (alpha + beta)),
    a = beta / (alpha + beta),   b = alpha / (alpha + beta) = 1 - a,

and the loss there ``L* = E + A N*^-alpha + B D*^-beta``. Everything is computed in log
space (``ln G``, ``ln N*``) so huge budgets do not overflow.

**From power laws of IsoFLOP optima** (Approach 2): ``ln N* = ln k + a ln C`` and
``ln D* = ln k' + b ln C`` per draw, and the loss from ``L* = L_inf + A C^alpha``.
"""

from __future__ import annotations

import numpy as np

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6 N D: forward and backward pass of a dense transformer


def chinchilla_allocation(params: np.ndarray, budgets: np.ndarray,
                          flops_per_param_token: float = FLOPS_PER_PARAM_TOKEN) -> dict:
    """N*, D* and L* of a Chinchilla-form law at each budget.

    params: (..., 5) rows ``(E, A, B, alpha, beta)`` (one per draw, or a single row);
    budgets: (n,) FLOPs. Returns ``ln_N``, ``ln_D``, ``loss`` of shape (..., n) and the
    exponents ``a``, ``b`` and ``ln_G`` of shape (...). Rows with a non-positive parameter
    give NaN.
    """
    p = np.asarray(params, dtype=float)
    E, A, B, alpha, beta = (p[..., i] for i in range(5))
    ln_c6 = np.log(np.asarray(budgets, dtype=float) / flops_per_param_token)  # (n,)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = alpha + beta
        valid = (A > 0) & (B > 0) & (alpha > 0) & (beta > 0)
        ln_G = np.where(valid, (np.log(alpha * A) - np.log(beta * B)) / s, np.nan)
        a = np.where(valid, beta / s, np.nan)
        b = np.where(valid, alpha / s, np.nan)
        ln_N = ln_G[..., None] + a[..., None] * ln_c6
        ln_D = -ln_G[..., None] + b[..., None] * ln_c6
        loss = (E[..., None] + A[..., None] * np.exp(-alpha[..., None] * ln_N)
                + B[..., None] * np.exp(-beta[..., None] * ln_D))
    return {"ln_N": ln_N, "ln_D": ln_D, "loss": loss, "a": a, "b": b, "ln_G": ln_G}


def power_law_allocation(coef_n: np.ndarray, coef_d: np.ndarray, budgets: np.ndarray,
                         loss_law: np.ndarray | None = None) -> dict:
    """N*, D* (and L*) at each budget from power laws of IsoFLOP optima.

    coef_n, coef_d: (..., 2) rows ``(ln k, a)`` of ``N* = k C^a`` and ``(ln k', b)`` of
    ``D* = k' C^b``; loss_law: (..., 3) rows ``(L_inf, A, alpha)`` of
    ``L* = L_inf + A C^alpha`` or None. Returns ``ln_N``, ``ln_D``, ``loss`` (..., n)
    (``loss`` NaN without a loss law) and ``a``, ``b`` (...).
    """
    ln_c = np.log(np.asarray(budgets, dtype=float))
    cn, cd = np.asarray(coef_n, float), np.asarray(coef_d, float)
    ln_N = cn[..., :1] + cn[..., 1:2] * ln_c
    ln_D = cd[..., :1] + cd[..., 1:2] * ln_c
    if loss_law is None:
        loss = np.full(ln_N.shape, np.nan)
    else:
        ll = np.asarray(loss_law, float)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = ll[..., :1] + ll[..., 1:2] * np.exp(ll[..., 2:3] * ln_c)
    return {"ln_N": ln_N, "ln_D": ln_D, "loss": loss, "a": cn[..., 1], "b": cd[..., 1]}
