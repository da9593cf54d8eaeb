"""Run noise per ``by`` group, robust to an aberrant sweep, and the rules that read it.

* ``group_noise``: the s.d. of one run in each ``by`` group, from the residuals of its
  ``ok`` sweeps' parabolas (docs/math.md section 2, "Noise of a group"). Each sweep with
  residual degrees of freedom gives a variance ``v = SSE / (n_window - 3)``; the group's
  robust scale is the median of ``v / m(df)`` over them (``m(df)``: the median of
  ``chi2_df / df``, so the estimate is consistent for normal noise), taken with 3 or more
  sweeps. A sweep whose ``v`` exceeds that scale by more than ``ABERRANT_RATIO^2`` and by
  more than the ``1 - ABERRANT_P`` quantile of ``chi2_df / df`` is *aberrant*: its runs
  disagree with its own parabola far more than the group's noise allows (mixed run
  families, repeated LRs with very different losses). The group's noise is then the
  pooled s.d. ``sqrt(sum SSE / sum df)`` of its other sweeps (efficient when none is
  aberrant, and no single sweep can set it).
* ``replicate_noise``: a robust replicate s.d. of each group (the yardstick of the flat
  rule; no lack of fit in it).
* ``flat_valleys``: an ``ok`` sweep whose parabola's curvature is less than ``FLAT_Z``
  standard errors above 0 (the noise cannot tell its valley from a flat line) gets status
  ``flat``.

Everything is an array operation over sweeps (groups are integer keys).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .defaults import FLAT_Z  # noqa: F401 (re-exported)
from .optimum import BAD_FIT, OK

# Aberrant: residual s.d. more than this many times the group's noise ...
ABERRANT_RATIO = 5.0
# ... and a residual variance beyond the 1 - ABERRANT_P quantile of chi2_df / df.
ABERRANT_P = 1e-3
# A robust (median) scale needs at least this many sweeps with residual degrees of freedom.
MIN_ROBUST = 3
# flat: the curvature (over the grid and over the window) is below this many standard errors
# ... of a yardstick with at least this many degrees of freedom (replicates, or residuals).
FLAT_MIN_DF = 5


@dataclass(frozen=True)
class GroupNoise:
    """Per sweep (G,): ``sd`` the noise of its ``by`` group (NaN: none measured), ``n_used``
    how many sweeps it pools, ``ratio`` the sweep's own residual s.d. over ``sd``,
    ``aberrant`` whether the sweep's residuals far exceed its group's noise, ``source``
    "ok" (the group's ok sweeps) or "other" (no ok sweep with residual degrees of freedom:
    its other sweeps that are not bad_fit) or "" (none), ``df`` the residual degrees of
    freedom ``sd`` pools."""

    sd: np.ndarray
    n_used: np.ndarray
    ratio: np.ndarray
    aberrant: np.ndarray
    source: np.ndarray
    df: np.ndarray | None = None


def _chi2_over_df(df: np.ndarray, upper: float) -> np.ndarray:
    """The quantile of chi2_df / df with upper-tail probability ``upper`` (NaN for df <= 0)."""
    from scipy.special import chdtri

    df = np.asarray(df, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(df > 0, chdtri(np.maximum(df, 1), upper) / np.maximum(df, 1), np.nan)


def _group_median(value: np.ndarray, key: np.ndarray, use: np.ndarray, K: int) -> np.ndarray:
    """Median of ``value[use]`` per key (K,): NaN for keys without values."""
    k = np.where(use, key, K)
    v = np.where(use, value, np.inf)
    order = np.lexsort((v, k))
    ks, vs = k[order], v[order]
    count = np.bincount(ks, minlength=K + 1)[:K]
    start = np.concatenate([[0], np.cumsum(count)])[:K]
    lo = start + np.maximum(count - 1, 0) // 2
    hi = start + count // 2
    safe = np.minimum(len(vs) - 1, np.maximum(lo, 0)), np.minimum(len(vs) - 1, np.maximum(hi, 0))
    med = np.full(K, np.nan)
    if len(vs):
        med = np.where(count > 0, (vs[safe[0]] + vs[safe[1]]) / 2, np.nan)
    return med


def group_noise(n_window: np.ndarray, rmse: np.ndarray, status: np.ndarray,
                key: np.ndarray) -> GroupNoise:
    """The noise of every sweep's ``by`` group (see the module docstring).

    n_window, rmse, status: (G,) from ``optimum.fit_sweeps`` (``rmse`` the residual RMS over
    the window's runs); key: (G,) integer id of each sweep's ``by`` group.
    """
    key = np.asarray(key, np.int64)
    G = len(key)
    K = int(key.max()) + 1 if G else 0
    nw = np.asarray(n_window, float)
    df = nw - 3
    with np.errstate(invalid="ignore", divide="ignore"):
        sse = np.where(df > 0, np.asarray(rmse, float) ** 2 * nw, np.nan)
        v = sse / np.where(df > 0, df, np.nan)
    has = np.isfinite(v)
    usable = has & (status != BAD_FIT)
    ok = usable & (status == OK)
    n_ok = np.bincount(key, weights=ok, minlength=K)
    cand = np.where(n_ok[key] > 0, ok, usable)
    n_cand = np.bincount(key, weights=cand, minlength=K)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / _chi2_over_df(df, 0.5)  # consistent for sigma^2, sweep by sweep
    robust = _group_median(u, key, cand, K)
    robust_ok = n_cand >= MIN_ROBUST
    scale = robust[key]
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = v / scale
        limit = np.maximum(ABERRANT_RATIO**2, _chi2_over_df(df, ABERRANT_P))
        aberrant = has & robust_ok[key] & (stat > limit)
    keep = cand & ~aberrant
    sse_k = np.bincount(key, weights=np.where(keep, sse, 0.0), minlength=K)
    df_k = np.bincount(key, weights=np.where(keep, df, 0.0), minlength=K)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_k = np.where(df_k > 0, np.sqrt(sse_k / np.where(df_k > 0, df_k, 1.0)), np.nan)
        sd = sd_k[key]
        ratio = np.where(has, np.sqrt(v) / sd, np.nan)
    n_used = np.bincount(key, weights=keep, minlength=K).astype(int)[key]
    source = np.where(n_used == 0, "", np.where(n_ok[key] > 0, "ok", "other"))
    return GroupNoise(sd=sd, n_used=n_used, ratio=ratio, aberrant=aberrant, source=source,
                      df=df_k[key])


def replicate_noise(x: np.ndarray, n: np.ndarray, s: np.ndarray, q: np.ndarray,
                    x_window: np.ndarray, status: np.ndarray, key: np.ndarray,
                    aberrant: np.ndarray) -> np.ndarray:
    """(G,) a robust replicate s.d. of each sweep's ``by`` group: the median, over the LR
    levels with replicates in the fit windows of the group's ok sweeps that are not
    aberrant, of each level's variance over the median of ``chi2_df / df`` (NaN: fewer
    than ``MIN_ROBUST`` such levels). Unlike a parabola's residual it holds no lack of fit,
    and the median keeps the few levels where seeds part (a chaotic run high on the wall)
    from setting it."""
    key = np.asarray(key, np.int64)
    K = int(key.max()) + 1 if len(key) else 0
    n = np.asarray(n, float)
    s = np.asarray(s, float)
    xx = np.broadcast_to(np.asarray(x, float), n.shape)
    use = (np.asarray(status) == OK) & ~np.asarray(aberrant, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = (use[:, None] & (n > 1) & (xx >= x_window[0][:, None] - 1e-9)
                 & (xx <= x_window[1][:, None] + 1e-9))
        var = (np.asarray(q, float) - s * s / np.where(n > 0, n, 1.0)) / np.maximum(n - 1, 1)
        u = np.maximum(var, 0.0) / _chi2_over_df(np.maximum(n - 1, 1), 0.5)
    keys = np.broadcast_to(key[:, None], n.shape).ravel()
    med = _group_median(u.ravel(), keys, level.ravel(), K)
    count = np.bincount(keys, weights=level.ravel(), minlength=K)
    with np.errstate(invalid="ignore"):
        return np.where(count >= MIN_ROBUST, np.sqrt(med), np.nan)[key]


def flat_valleys(x: np.ndarray, n: np.ndarray, s: np.ndarray, status: np.ndarray,
                 sd: np.ndarray, z: float = FLAT_Z, x_window: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which ``ok`` sweeps have a valley their noise cannot resolve, and its ``z``.

    x: (G, J) ln lr of the levels; n, s: (G, J) runs and loss sums per level; sd: (G,) the
    s.d. of one run (the pipeline passes its group's); x_window: (2, G) the fit window's
    lowest and highest ln lr. A quadratic in ln lr is fitted to every finite run of the
    sweep (the whole grid) and to the runs of the window; each curvature is divided by its
    standard error ``sd sqrt((M^-1)_22)`` (``M`` the fit's normal matrix), and ``z_curv``
    (G,) is the larger of the two. A sweep is flat when ``z_curv < z``: neither the grid nor
    the window shows a curvature the noise can tell from 0. (The window alone is chosen
    around its lowest, noisiest point and looks deeper than it is; the grid alone
    understates a real valley whose walls are not parabolic; the sweep's own residual
    would count that lack of fit as noise, so the group's noise is the yardstick.) Sweeps
    without a measured noise are never flat (NaN).
    """
    n = np.asarray(n, float)
    s = np.asarray(s, float)
    xx = np.broadcast_to(np.asarray(x, float), n.shape)
    sigma = np.asarray(sd, float)
    z_all = _curvature_z(xx, n, s, n > 0, sigma)
    z_win = np.full(z_all.shape, np.nan)
    if x_window is not None:
        with np.errstate(invalid="ignore"):
            inwin = ((n > 0) & (xx >= x_window[0][:, None] - 1e-9)
                     & (xx <= x_window[1][:, None] + 1e-9))
        z_win = _curvature_z(xx, n, s, inwin, sigma)
    z_curv = np.fmax(z_all, z_win)
    ok = (np.asarray(status) == OK) & np.isfinite(z_curv) & (sigma > 0)
    with np.errstate(invalid="ignore"):
        flat = ok & (z_curv < z)
    return flat, np.where(ok, z_curv, np.nan)


def _curvature_z(xx, n, s, use, sigma) -> np.ndarray:
    """The curvature of the least-squares quadratic through the runs of the levels ``use``
    (G, J) over its standard error with run noise ``sigma`` (G,)."""
    w = np.where(use, n, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(use, xx * w, 0.0).sum(-1) / np.maximum(w.sum(-1), 1)
    tt = np.where(use, xx - centre[:, None], 0.0)
    S = [(w * tt**k).sum(-1) for k in range(5)]
    r = np.stack([(np.where(use, s, 0.0) * tt**k).sum(-1) for k in range(3)], -1)
    M = np.stack([np.stack([S[i + j] for j in range(3)], -1) for i in range(3)], -2)
    good = (use.sum(-1) >= 3) & (np.abs(np.linalg.det(M)) > 1e-12 * np.abs(S[0] * S[2] * S[4]))
    Minv = np.linalg.inv(np.where(good[:, None, None], M, np.eye(3)))
    c = np.einsum("gij,gj->gi", Minv, r)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(good, c[:, 2] / (sigma * np.sqrt(Minv[:, 2, 2])), np.nan)
