"""The scatter of a new optimum around a least-squares law in log space: pure numpy
(docs/math.md sections 3 and 6: the scatter of the optima
around a law, and prediction intervals).

A prediction interval adds to the bootstrap draws of the law's mean the scatter a new
point would have around it. Both ``scalefit predict`` and the backtests draw it here, so
the interval a user is given is the one the backtests check.
"""

from __future__ import annotations

import warnings
import zlib

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


# ---------------------------------------------------------------- scatter beyond the noise

def excess_scatter(X: np.ndarray, ly: np.ndarray, lb: np.ndarray | None) -> dict:
    """How far a law's points scatter around it beyond their own measurement noise.

    X: (n, k) the law's design; ly: (n,) its targets in log space; lb: (B, n) their
    bootstrap draws (NaN = absent), or None. With RSS the residual sum of squares of the
    least-squares fit, v_i each point's variance over the draws (the squared 16-84% half
    range: robust to the rare wild draw) and h_i its leverage, the points' own noise
    explains E[RSS] = sum (1 - h_i) v_i; the excess per point is
    ``tau2 = max(0, (RSS - sum (1 - h_i) v_i) / (n - k))``, on ``dof = n - k`` degrees of
    freedom. Returns {"tau2", "dof", "rss", "noise_rss", "ratio", "v"} (ratio = RSS over
    what the noise explains; v the points' variances, present when all are measured);
    ``tau2`` is NaN where it cannot be measured (no draws, n <= k, or a point without
    draws).
    """
    n, k = X.shape
    out = {"tau2": np.nan, "dof": n - k, "rss": np.nan, "noise_rss": np.nan, "ratio": np.nan}
    if lb is None or n <= k or not len(lb):
        return out
    coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
    resid = ly - X @ coef
    with warnings.catch_warnings():  # a point without draws: NaN, refused below
        warnings.simplefilter("ignore", RuntimeWarning)
        q16, q84 = np.nanpercentile(lb, [15.865, 84.135], axis=0)
    v = ((q84 - q16) / 2) ** 2
    if not np.all(np.isfinite(v)):
        return {**out, "rss": float(resid @ resid)}
    return excess_of(X, resid, v)


def excess_of(X: np.ndarray, resid: np.ndarray, v: np.ndarray) -> dict:
    """``excess_scatter`` from a least-squares fit's residuals ``resid`` (n,) and the
    points' noise variances ``v`` (n,) (finite), n > k."""
    n, k = X.shape
    rss = float(resid @ resid)
    h = np.einsum("ij,jk,ik->i", X, np.linalg.pinv(X.T @ X), X)
    noise = float(((1 - h) * v).sum())
    return {"tau2": max(0.0, (rss - noise) / (n - k)), "dof": n - k, "rss": rss,
            "noise_rss": noise, "ratio": rss / noise if noise > 0 else np.inf, "v": v}


def precision_weights(X: np.ndarray, ly: np.ndarray, v: np.ndarray | None,
                      floor: float = 1e-4, measured: np.ndarray | None = None
                      ) -> np.ndarray | None:
    """Random-effects weights of a law's points: w_i = 1 / (v_i + tau2), scaled to mean 1.

    X: (n, k) the law's design; ly: (n,) its targets in logs; v: (n,) each point's noise
    variance (``excess_scatter``'s ``v``), floored at ``floor`` (an s.d. of 0.01 in logs:
    no optimum is known to better than 1%); tau2: the scatter of the points around the
    law beyond their noise (``paule_mandel``). Where the law fits within the noise a
    point counts by its precision; where its points scatter far beyond their noise the
    weights tend to equal. measured: (n,) bool, the points whose v measures their
    precision (default all); the others (a sweep without an optimum standing in by its
    best LR, whose resamples pile up at the grid's edge) get the largest measured v, so
    never more weight than any measured point. None (an unweighted law) without a finite
    v for every point, with no measured point, or with no degree of freedom to measure
    tau2 (n <= k).
    """
    if v is None or X.shape[0] <= X.shape[1]:
        return None
    v = np.asarray(v, float)
    if not np.all(np.isfinite(v)) or not np.all(np.isfinite(ly)):
        return None
    v = np.maximum(v, floor)
    if measured is not None:
        measured = np.asarray(measured, bool)
        if not measured.any():
            return None
        v = np.where(measured, v, v[measured].max())
    w = 1.0 / (v + paule_mandel(X, ly, v))
    return w / w.mean()


def paule_mandel(X: np.ndarray, ly: np.ndarray, v: np.ndarray, iters: int = 200) -> float:
    """tau2 >= 0 at which the weighted residuals of the least squares with weights
    1 / (v_i + tau2) have chi2 = sum w_i r_i^2 equal to their n - k degrees of freedom
    (Paule and Mandel 1982; the usual random-effects estimate in meta-regression); 0 when
    the points' own noise explains their scatter. X (n, k), ly (n,), v (n,) > 0."""
    n, k = X.shape
    dof = n - k
    t = 0.0
    for _ in range(iters):
        sw = 1.0 / np.sqrt(v + t)
        coef = np.linalg.lstsq(X * sw[:, None], ly * sw, rcond=None)[0]
        w = sw * sw
        q = float(np.sum(w * (ly - X @ coef) ** 2))
        new = max(0.0, t + (q - dof) / float(np.sum(w)))
        if abs(new - t) <= 1e-10 * max(t, 1e-8):
            return new
        t = new
    return t


def excess_tau2(X: np.ndarray, ly: np.ndarray, v: np.ndarray) -> float:
    """tau^2 of ``excess_scatter`` with the points' noise variances ``v`` (n,) given
    (e.g. a design's predicted variances) instead of measured from draws; rows with a
    non-finite ``ly`` or ``v`` are left out; 0 where it cannot be measured (n <= k)."""
    X, ly, v = np.asarray(X, float), np.asarray(ly, float), np.asarray(v, float)
    keep = np.isfinite(ly) & np.isfinite(v)
    X, ly, v = X[keep], ly[keep], v[keep]
    if X.shape[0] <= X.shape[1]:
        return 0.0
    coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
    return float(excess_of(X, ly - X @ coef, v)["tau2"])


def with_excess_scatter(lb: np.ndarray, tau2: float, dof: int, seed: int = 0) -> np.ndarray:
    """The draws ``lb`` (B, n) of a law's points in log space, each resample moved by the
    scatter beyond the noise: per resample tau2_b = tau2 * dof / chi2(dof) (the
    uncertainty of tau2 measured on dof degrees of freedom) and per point normal noise of
    variance tau2_b. Unchanged where tau2 is 0 or NaN."""
    if not (np.isfinite(tau2) and tau2 > 0 and dof > 0):
        return lb
    rng = np.random.default_rng(seed)
    B, n = lb.shape
    t2 = tau2 * dof / rng.chisquare(dof, B)
    return lb + rng.standard_normal((B, n)) * np.sqrt(t2)[:, None]


def carry_excess_scatter(X: np.ndarray, y: np.ndarray, yb: np.ndarray | None,
                         seed=None, key: str = "") -> tuple[np.ndarray | None, dict]:
    """A power law's resampled points (``yb`` (B, n), positive, NaN = absent) with the
    scatter of its points ``y`` (n,) around the law beyond their own noise added
    (``excess_scatter`` on the logs, then ``with_excess_scatter``); ``X`` (n, k) its
    design in logs. ``seed``: an int or a sequence of ints (numpy's SeedSequence); by
    default one from the law's content: its design, ``key`` (its target), the number of
    resamples and its points relative to the first (ln y - ln y_0 to 9 decimals), so a
    law's draws are reproducible, do not move with the unit of y or a group's label, and
    two laws with different points draw independent noise. Returns (draws, the
    ``excess_scatter`` dict).
    """
    if yb is None or not len(yb):
        return yb, excess_scatter(X, np.log(y), None)
    if seed is None:
        ly = np.log(np.asarray(y, float))
        rel = np.round(ly - ly[0], 9) + 0.0  # + 0.0: no negative zero
        seed = [zlib.crc32(np.asarray(X, float).tobytes()), zlib.crc32(key.encode()),
                zlib.crc32(rel.tobytes()), len(yb)]
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.log(yb)
    info = excess_scatter(X, np.log(y), lb)
    moved = with_excess_scatter(lb, info["tau2"], info["dof"], seed)
    if moved is lb:
        return yb, info
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(moved), info


def excess_note(info: dict, target: str, threshold: float = 1.5) -> str | None:
    """One line for a law whose points scatter around it beyond their noise (RSS more than
    ``threshold`` times what the noise explains), else None."""
    tau2, ratio = info.get("tau2"), info.get("ratio")
    if tau2 is None or not np.isfinite(tau2) or tau2 <= 0 or not ratio > threshold:
        return None
    return (f"the optima scatter around the law {ratio:.1f}x beyond their own noise (s.d. "
            f"{np.sqrt(tau2):.3g} in ln {target}, on {info['dof']} degrees of freedom): its "
            "intervals carry that scatter")
