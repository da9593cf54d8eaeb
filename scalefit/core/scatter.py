"""The scatter of a new optimum around a least-squares law in log space: pure numpy
(docs/math.md section "Prediction intervals").

A prediction interval adds to the bootstrap draws of the law's mean the scatter a new
point would have around it. Both ``scalefit predict`` and the backtests draw it here, so
the interval a user is given is the one the backtests check.
"""

from __future__ import annotations

import numpy as np


def new_point_scale(rmse: float, Z: np.ndarray, X: np.ndarray | None,
                    free: np.ndarray | None = None) -> tuple[np.ndarray, int | None]:
    """The s.d. of a new point's scatter around a least-squares law, per row of ``Z``.

    rmse: the law's RMS residual over its m points (sqrt(SSE / m)); Z: (n, k) rows
    (1, ln v1, ...) to predict at; X: (m, k) the law's design, or None; free: the columns
    the fit estimated (default all; exponents held by ``--fix`` are not). With a design of
    more points than free parameters: rmse * sqrt(m / (m - k)) * sqrt(1 + h), h the row's
    leverage in the free columns, and m - k degrees of freedom; otherwise rmse and None
    (the scatter alone, normal). Returns (scale (n,), dof or None).
    """
    n = Z.shape[0]
    if X is None:
        return np.full(n, float(rmse)), None
    cols = np.arange(X.shape[1]) if free is None else np.asarray(free, int)
    Xf, Zf = X[:, cols], Z[:, cols]
    m, k = Xf.shape
    if m <= k:
        return np.full(n, float(rmse)), None
    h = np.einsum("ij,jk,ik->i", Zf, np.linalg.pinv(Xf.T @ Xf), Zf)
    return rmse * np.sqrt(m / (m - k)) * np.sqrt(1.0 + h), m - k


def scatter_draws(rmse: float, Z: np.ndarray, X: np.ndarray | None, shape: tuple,
                  seed: int = 0, free: np.ndarray | None = None) -> np.ndarray:
    """Draws (shape = (B, n)) of a new point's scatter around the law at the rows of Z
    (``new_point_scale``): Student's t with m - k degrees of freedom times the scale, or
    normal noise of s.d. ``rmse`` without a usable design; drawn with ``seed``."""
    scale, dof = new_point_scale(rmse, Z, X, free)
    rng = np.random.default_rng(seed)
    if dof is None:
        return rng.normal(0.0, float(rmse), shape)
    return rng.standard_t(dof, shape) * scale
