"""Rolling-origin backtests of power laws of the optimum: pure numpy (docs/math.md section
"Backtests").

An origin is one level of an ordered axis (scale, horizon or another numeric column): the
law is fitted on the optima of the smaller levels only and predicts every held-out optimum
at that level. Everything here works on arrays of held-out points at once.
"""

from __future__ import annotations

import numpy as np

from .bootstrap import percentile_ci
from .scatter import scatter_draws
from .shape import shape_draws


def origins(levels: np.ndarray, k: int | None = None, first: int = 4, most: int = 3) -> np.ndarray:
    """The held-out levels of an axis with sorted distinct ``levels``: the ``k`` largest, or
    by default every level from the ``first``-th smallest up, at most ``most`` of them.
    Every origin keeps at least 2 smaller levels to fit on."""
    levels = np.unique(np.asarray(levels, float))
    if k is None:
        k = min(most, max(levels.size - first + 1, 0))
    k = min(int(k), max(levels.size - 2, 0))
    return levels[levels.size - k:] if k > 0 else levels[:0]


def predict_points(coef: np.ndarray, boot: np.ndarray | None, rmse: float, Z: np.ndarray,
                   level: float, seed: int = 0, X: np.ndarray | None = None,
                   free: np.ndarray | None = None, shape: dict | None = None) -> dict:
    """Predictions of a log-linear law at the rows of ``Z`` (n, k) (1, ln v1, ...).

    coef: (k,) point coefficients; boot: (B, k) bootstrap coefficients or None; rmse: the
    law's scatter in ln lr (added as normal noise for the prediction interval, drawn with
    ``seed`` as ``decisions.predict`` does). With the training design ``X`` (m, k) the
    scatter is that of a new point of an ordinary least-squares fit instead: ``rmse`` over
    m - k degrees of freedom, times sqrt(1 + h) (h: the point's leverage), drawn from
    Student's t with m - k degrees of freedom (k: the columns in ``free``, those the fit
    estimated; default all). ``shape``: the law's shape test; when it resolved a bend, each
    row's draws average the straight and bent laws by evidence (``shape.shape_draws``,
    seeded ``seed + 1`` as ``decisions.predict`` does: the interval predict gives).
    Returns ``log`` (n,), ``ci`` and ``pi`` (2, n) in ln lr (NaN without draws), ``sigma``
    (n,) the 16-84% half range of the PI draws.
    """
    n = Z.shape[0]
    out = {"log": Z @ coef, "ci": np.full((2, n), np.nan), "pi": np.full((2, n), np.nan),
           "sigma": np.full(n, np.nan)}
    if boot is None or not len(boot):
        if rmse is not None and np.isfinite(rmse) and rmse > 0:  # the scatter alone
            z = _normal_quantile(0.5 + level / 2)
            out["pi"] = out["log"] + np.array([[-z], [z]]) * rmse
            out["sigma"] = np.full(n, float(rmse))
        return out
    draws = boot @ Z.T  # (B, n)
    if shape and shape.get("resolved"):
        for i in range(n):
            avg = shape_draws(shape, Z[i], draws[:, i], seed + 1)
            if avg is not None:
                draws[:, i] = avg
    rmse = rmse if np.isfinite(rmse or np.nan) else 0.0
    total = draws + scatter_draws(rmse, Z, X, draws.shape, seed, free)
    out["ci"] = percentile_ci(draws, level)
    out["pi"] = percentile_ci(total, level)
    q16, q84 = percentile_ci(total, 0.6827)
    out["sigma"] = (q84 - q16) / 2
    return out


def _normal_quantile(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation; |error| < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00)
    q = min(p, 1 - p)
    t = np.sqrt(-2 * np.log(q))
    x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / \
        ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1)
    if p < 0.02425 or p > 1 - 0.02425:
        return float(-x if p > 0.5 else x)
    q = p - 0.5
    r = q * q
    return float((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
                 (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1))


def nearest(train: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Index into ``train`` (m, c) of the nearest row (Euclidean, in ln units) to each row
    of ``held`` (n, c); an exact match wins. With c = 0 every point gets row 0."""
    if train.shape[1] == 0:
        return np.zeros(held.shape[0], int)
    d = ((np.log(held)[:, None, :] - np.log(train)[None, :, :]) ** 2).sum(-1)
    return np.argmin(d, axis=1)


def scores(err: np.ndarray, covered: np.ndarray, cost: np.ndarray) -> dict:
    """coverage (share of covered points with a PI), median |ln error|, mean loss cost."""
    err, cost = np.asarray(err, float), np.asarray(cost, float)
    cov = np.asarray(covered, float)
    has = np.isfinite(cov)
    ok = np.isfinite(err)
    okc = np.isfinite(cost)
    return {"n": int(ok.sum()),
            "coverage": float(cov[has].mean()) if has.any() else None,
            "n_covered": int(cov[has].sum()) if has.any() else 0,
            "n_with_pi": int(has.sum()),
            "median_abs_ln_error": float(np.median(np.abs(err[ok]))) if ok.any() else None,
            "mean_loss_cost": float(cost[okc].mean()) if okc.any() else None}
