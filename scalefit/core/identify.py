"""Is an asymptote identified by the data? (docs/math.md sections 4 and 5)

An asymptote (``L_inf`` of a loss law, ``R_inf`` of the loss ratio, their difference
``delta_L_inf``) is an extrapolation to infinite scale. It is printed only when the points
and their resamples pin it down; otherwise it is "not identified", with the reason:

* the point fit has no decreasing law, no decay (the exponent at the flat end of its
  range), or, for a positive loss, an asymptote below 0 (no flattening);
* fewer than half the resamples give a law (``MIN_VALID``);
* the exponent sits at the flat end of its range in more than half the resamples
  (``MAX_AT_BOUND``): the asymptote and the amplitude trade off freely there;
* the percentile interval of the asymptote is not finite, or wider than ``MAX_WIDTH``
  times the range the fitted values themselves span: the data move over that range, an
  asymptote known only to many times it is not a measurement.

Pure numpy; each function takes one fit's point values and its draws.
"""

from __future__ import annotations

import numpy as np

# An asymptote's interval may be at most this many times as wide as the range of the values
# fitted (the losses of a loss law, the ratios of R(s)).
MAX_WIDTH = 5.0
# Not identified when more than this share of resamples has the exponent at its flat end ...
MAX_AT_BOUND = 0.5
# ... or fewer than this share of resamples give a fit.
MIN_VALID = 0.5


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    d = draws[np.isfinite(draws)]
    if d.size < 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def draws_identified(draws: np.ndarray, at_bound: np.ndarray | None, y: np.ndarray,
                     level: float, name: str) -> tuple[bool, str | None]:
    """The resample rules for one asymptote: (identified, reason)."""
    draws = np.asarray(draws, float)
    if draws.size == 0:
        return True, None
    valid = np.isfinite(draws)
    if valid.mean() < MIN_VALID:
        return False, f"only {valid.mean():.0%} of the resamples give a law"
    if at_bound is not None:
        share = float(np.asarray(at_bound, bool)[valid].mean())
        if share > MAX_AT_BOUND:
            return False, (f"no decay in {share:.0%} of the resamples (the exponent at the flat "
                           "end of its range)")
    lo, hi = _percentile(draws, level)
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    span = float(y.max() - y.min()) if y.size else float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False, f"the resampled {name} is not finite"
    if not (span > 0) or hi - lo > MAX_WIDTH * span:
        return False, (f"its {level:.0%} interval [{lo:.3g}, {hi:.3g}] is wider than "
                       f"{MAX_WIDTH:g} x the range of the values fitted ({span:.3g})")
    return True, None


def loss_asymptote_identified(L: float, at_bound: bool, y: np.ndarray,
                              draws: np.ndarray | None = None,
                              draws_at_bound: np.ndarray | None = None,
                              level: float = 0.95) -> tuple[bool, str | None]:
    """``L_inf`` of ``y = L_inf + A s^alpha``: (identified, reason)."""
    y = np.asarray(y, float)
    if not np.isfinite(L):
        return False, "no decreasing law fits these points"
    if at_bound:
        return False, "no decay over these scales (alpha at the flat end of its range)"
    if L < 0 and np.all(y[np.isfinite(y)] > 0):
        return False, f"the points show no flattening (L_inf {L:.3g} below 0 for a positive loss)"
    if draws is None:
        return True, None
    return draws_identified(draws, draws_at_bound, y, level, "L_inf")
