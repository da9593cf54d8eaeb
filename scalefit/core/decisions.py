"""Decisions made on fitted laws: predicted optimum, LR audit, horizon transfer.

Every function takes law objects (``core.laws.LawFit`` or the ``scalefit.Law`` result,
which is one) and plain numbers, and returns plain values: floats, lists and, for the
intervals, the arrays of draws they come from (so that a result can recompute them at
another level). Intervals are percentile intervals of the laws' bootstrap draws.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScalefitInputError
from .bootstrap import percentile_ci

FAR = 4.0  # a horizon transfer beyond the fitted horizons by more than this factor warns


def extrapolation(law, values: dict) -> list[str]:
    """Describe how far ``values`` lie outside the law's data, one string per variable."""
    out = []
    for v in law.variables:
        lo, hi = law.value_range(v)
        x = float(values[v])
        if x > hi * 1.0001 or x < lo / 1.0001:
            factor = x / hi if x > hi else lo / x
            out.append(f"{v} {x:g} is outside the fitted range [{lo:g}, {hi:g}] by a factor of "
                       f"{factor:.3g}")
    return out


def needed(law, scale, horizon) -> dict:
    """The values of the law's variables, checked: variable -> value."""
    vals = {"scale": scale, "horizon": horizon}
    missing = [v for v in law.variables if vals[v] is None]
    if missing:
        raise ScalefitInputError(f"the law {law.form} needs {', '.join(missing)}")
    for v in law.variables:
        if not (np.isfinite(vals[v]) and vals[v] > 0):
            raise ScalefitInputError(f"{v} must be a finite number > 0 (got {vals[v]})")
    return {v: vals[v] for v in law.variables}


def predict(law, scale=None, horizon=None, level: float = 0.95, seed: int = 0) -> dict:
    """Predicted optimum of a power law of lr_opt at (scale, horizon).

    Returns ``lr``, ``lr_ci`` (interval of the law's mean), ``lr_pi`` (adds the scatter of
    optima around the law, ``rmse_log``, as normal noise drawn with ``seed``),
    ``sigma_log`` (robust s.d. of ln lr behind ``lr_pi``: half the 16-84% range),
    ``law`` (its form), ``group``, ``scale``, ``horizon``, ``extrapolation`` notes, and
    the draws behind the intervals: ``draws_log`` (ln lr of the law's mean) and
    ``total_log`` (with the scatter), or None without bootstrap draws.
    """
    vals = needed(law, scale, horizon)
    ly, draws = law.predict_log(vals)
    out = {"lr": float(np.exp(ly)), "lr_ci": None, "lr_pi": None, "sigma_log": None,
           "law": law.form, "group": dict(law.group), "scale": scale, "horizon": horizon,
           "extrapolation": extrapolation(law, vals), "draws_log": None, "total_log": None}
    if draws is not None:
        rng = np.random.default_rng(seed)
        total = draws + rng.normal(0.0, law.rmse_log or 0.0, draws.shape)
        out.update(prediction_intervals(draws, total, level))
        out["draws_log"], out["total_log"] = draws, total
    return out


def prediction_intervals(draws: np.ndarray, total: np.ndarray, level: float) -> dict:
    """``lr_ci``, ``lr_pi`` and ``sigma_log`` from the draws of ln lr (mean and with scatter)."""
    q16, q84 = percentile_ci(total, 0.6827)
    return {"lr_ci": np.exp(percentile_ci(draws, level)).tolist(),
            "lr_pi": np.exp(percentile_ci(total, level)).tolist(),
            "sigma_log": float((q84 - q16) / 2)}


def audit(law, law_k, lr_used: float, scale=None, horizon=None, level: float = 0.95,
          seed: int = 0) -> dict:
    """Expected loss penalty of training at ``lr_used`` instead of the predicted optimum.

    ``penalty = k(s) * (ln lr_used - ln lr*)^2`` with ``k`` extrapolated by its own law
    (``law_k``, or None: penalty unknown); the interval combines the bootstrap draws of
    both laws (paired by resample). Also ``expected_penalty_at_optimum``: ``k * sigma^2``,
    what even the predicted LR costs on average given the law's uncertainty. The draws
    behind ``penalty_ci`` and ``curvature_ci`` are ``penalty_draws`` and ``curvature_log``.
    """
    if not (np.isfinite(lr_used) and lr_used > 0):
        raise ScalefitInputError(f"lr must be a finite number > 0 (got {lr_used})")
    pred = predict(law, scale, horizon, level, seed)
    out = {**pred, "lr_used": float(lr_used), "ratio": float(lr_used / pred["lr"]),
           "penalty": None, "penalty_ci": None, "curvature": None, "curvature_ci": None,
           "expected_penalty_at_optimum": None, "penalty_draws": None, "curvature_log": None}
    if law_k is None:
        out["extrapolation"] = pred["extrapolation"] + ["no curvature law: penalty unknown"]
        return out
    vals = needed(law, scale, horizon)
    kvals = needed(law_k, scale, horizon)
    lk, kd = law_k.predict_log(kvals)
    ly, yd = law.predict_log(vals)
    k = float(np.exp(lk))
    delta = np.log(lr_used) - ly
    out["curvature"] = k
    out["penalty"] = float(k * delta**2)
    out["extrapolation"] = sorted(set(pred["extrapolation"] + extrapolation(law_k, kvals)))
    if kd is not None and yd is not None:
        out["penalty_draws"] = np.exp(kd) * (np.log(lr_used) - yd) ** 2
        out["curvature_log"] = kd
        out.update(audit_intervals(out["penalty_draws"], kd, level))
        if pred["sigma_log"] is not None:
            out["expected_penalty_at_optimum"] = float(k * pred["sigma_log"] ** 2)
    return out


def audit_intervals(penalty_draws: np.ndarray, curvature_log: np.ndarray, level: float) -> dict:
    return {"penalty_ci": percentile_ci(penalty_draws, level).tolist(),
            "curvature_ci": np.exp(percentile_ci(curvature_log, level)).tolist()}


def check_transfer(lr_ref: float, horizon_ref: float, horizon_target: float) -> None:
    for name, v in (("lr_ref", lr_ref), ("horizon_ref", horizon_ref),
                    ("horizon_target", horizon_target)):
        if not (np.isfinite(v) and v > 0):
            raise ScalefitInputError(f"{name} must be a finite number > 0 (got {v})")


def horizon_transfer(lr_ref: float, horizon_ref: float, horizon_target: float,
                     b: float | None = None, law=None, level: float | None = None) -> dict:
    """``lr = lr_ref * (horizon_target / horizon_ref)^b``, b given or from a law of lr_opt.

    With a law, b and its interval come from it: from its bootstrap draws (at ``level``,
    default the law's), or without draws from its saved interval of b (exact: lr is
    monotone in b, so the percentiles of b map to those of lr), at the law's level only.
    ``warnings`` says when the target lies beyond the fitted horizons by more than a
    factor of 4. ``b_draws``: the draws of b, or None.
    """
    check_transfer(lr_ref, horizon_ref, horizon_target)
    ratio = horizon_target / horizon_ref
    out = {"lr": None, "lr_ci": None, "b": None, "b_ci": None, "b_source": "given",
           "lr_ref": lr_ref, "horizon_ref": horizon_ref, "horizon_target": horizon_target,
           "warnings": [], "b_draws": None}
    if b is not None:
        out.update(lr=float(lr_ref * ratio**b), b=float(b))
        return out
    if law is None or "horizon" not in law.variables:
        raise ScalefitInputError("the fit has no law in horizon (need sweeps at >= 3 horizons); "
                                 "give b instead")
    bval = law.params["b"]
    lo, hi = law.value_range("horizon")
    if horizon_target > hi * FAR or horizon_target < lo / FAR:
        out["warnings"].append(
            f"horizon {horizon_target:g} lies beyond the fitted horizons [{lo:g}, {hi:g}] by "
            f"a factor of {max(horizon_target / hi, lo / horizon_target):.3g}")
    out.update(lr=float(lr_ref * ratio**bval), b=float(bval), b_source="fitted")
    level = law.level if level is None else level
    if law.boot is not None:
        out["b_draws"] = np.asarray(law.boot[:, law.param_names.index("b")])
        out.update(transfer_intervals(lr_ref, ratio, out["b_draws"], level))
    elif level == law.level and law.ci.get("b") is not None and None not in law.ci["b"]:
        ci = list(law.ci["b"])
        out["b_ci"] = ci
        out["lr_ci"] = sorted([lr_ref * ratio ** ci[0], lr_ref * ratio ** ci[1]])
    return out


def transfer_intervals(lr_ref: float, ratio: float, b_draws: np.ndarray, level: float) -> dict:
    return {"b_ci": percentile_ci(b_draws, level).tolist(),
            "lr_ci": sorted(percentile_ci(lr_ref * ratio**b_draws, level).tolist())}
