"""The loss-ratio asymptote behind R_inf, vectorized over resamples."""

from __future__ import annotations

import numpy as np

from .losslaws import loss_law_profiles


def ratio_asymptote(s: np.ndarray, R: np.ndarray, level: float = 0.05):
    """Asymptote of ``R(s) = R_inf + r s^rho`` (rho < 0) for every row of R (B, P).

    The power form is kept only where it beats a constant by an F-test at ``level`` and
    its exponent is not at the flat end of the search; otherwise R_inf is the mean of R.
    Returns (R_inf, used_power, p_value), each (B,).
    """
    return ratio_asymptotes([(s, R)], level)[0]


def ratio_asymptotes(problems, level: float = 0.05) -> list:
    """``ratio_asymptote`` of many problems ``(s, R)``, their fits in one batched search
    (``core.losslaws.loss_law_profiles``)."""
    profiles = loss_law_profiles(problems, positive=False)
    return [_ratio_test(np.asarray(s), np.asarray(R), p, level)
            for (s, R), p in zip(problems, profiles)]


def _ratio_test(s, R, profile, level):
    """The F-test of the power form against a constant, from the profiled fit."""
    from scipy.special import fdtrc

    L, A, alpha, flat = profile
    n = np.isfinite(R).sum(1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.nanmean(np.where(np.isfinite(R), R, np.nan), axis=1)
        pred = L[:, None] + A[:, None] * s[None, :] ** alpha[:, None]
        sse1 = np.nansum((R - pred) ** 2, axis=1)
        sse0 = np.nansum((R - mean[:, None]) ** 2, axis=1)
        F = np.maximum(((sse0 - sse1) / 2) / (sse1 / np.maximum(n - 3, 1)), 0.0)
        pval = np.where(n > 3, fdtrc(2, np.maximum(n - 3, 1), F), 1.0)
    power = np.isfinite(L) & ~flat & (pval < level)
    return np.where(power, L, mean), power, pval
