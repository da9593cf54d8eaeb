"""Decisions made on fitted laws: predicted optimum, LR audit, horizon transfer.

Every function takes law objects (``core.laws.LawFit`` or the ``scalefit.Law`` result,
which is one) and plain numbers, and returns plain values: floats, lists and, for the
intervals, the arrays of draws they come from (so that a result can recompute them at
another level). Intervals are percentile intervals of the laws' bootstrap draws.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalefitInputError
from .bootstrap import percentile_ci
from .scatter import scatter_draws
from .shape import shape_draws

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


def assumptions(law, scale=None, horizon=None) -> list[str]:
    """What a prediction assumes about the variables its law does not vary in.

    A law fitted at one value of a variable (a law in horizon at one scale) cannot say
    how the optimum changes with it: asked at another value, the prediction assumes it
    does not (said loudly); asked at none, it holds the fitted value (said). A law that
    lacks horizon because its data tied horizon to scale holds for that ratio only. A
    variable the data never had is not used. Needs the law's ``domain`` (None: no notes).
    """
    dom = getattr(law, "domain", None)
    if dom is None:
        return []
    out = []
    given = {"scale": scale, "horizon": horizon}
    for v in ("scale", "horizon"):
        if v in law.variables:
            continue
        x = given[v]
        if v not in dom:
            if x is not None:
                out.append(f"the fit's data have no {v} column: {v} {x:g} is not used")
            continue
        lo, hi = dom[v]
        if lo == hi or np.isclose(lo, hi, rtol=1e-9):
            if x is None:
                out.append(f"the law was fitted at {v} {lo:g} only: it holds there")
            elif not np.isclose(x, lo, rtol=1e-4):
                out.append(f"the law was fitted at {v} {lo:g} only; it cannot say how "
                           f"{law.target} changes with {v}: this prediction at {v} {x:g} "
                           f"(x{x / lo:.3g}) assumes it does not")
            continue
        ratio = dom.get("horizon_per_scale")
        if v == "horizon" and ratio is not None:
            r_lo, r_hi = ratio
            if x is None:
                out.append(f"the law does not use horizon: its data tied horizon to scale "
                           f"(horizon/scale {r_lo:.3g} to {r_hi:.3g}); it holds at that ratio")
            elif scale is not None and not (r_lo / 1.0001 <= x / scale <= r_hi * 1.0001):
                out.append(f"the law does not use horizon: its data tied horizon to scale "
                           f"(horizon/scale {r_lo:.3g} to {r_hi:.3g}); at horizon/scale "
                           f"{x / scale:.3g} this prediction assumes {law.target} does not "
                           "change with it")
        elif x is not None and (x > hi * 1.0001 or x < lo / 1.0001):
            out.append(f"the law does not use {v} (fitted on {v} {lo:g} to {hi:g}): this "
                       f"prediction at {v} {x:g} assumes {law.target} does not change with it")
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
    a new optimum around the law, drawn with ``seed``; see ``pi_scatter``),
    ``sigma_log`` (robust s.d. of ln lr behind ``lr_pi``: half the 16-84% range),
    ``pi_scatter`` (which scatter ``lr_pi`` adds: that of a new point of the least-squares
    law, rmse_log over n - k with the point's leverage and Student's t, as the backtests
    check, when the law holds its points; rmse_log alone otherwise),
    ``law`` (its form), ``group``, ``scale``, ``horizon``, ``extrapolation`` notes,
    ``assumptions`` (about the variables the law does not vary in; see ``assumptions``),
    and the draws behind the intervals: ``draws_log`` (ln lr of the law's mean) and
    ``total_log`` (with the scatter), or None without bootstrap draws. A law whose shape
    test resolved a bend (``law.shape``) averages the straight and bent laws' draws by
    their BIC weights per resample (``shape_averaged`` True) and, beyond the data, warns.
    """
    vals = needed(law, scale, horizon)
    ly, draws = law.predict_log(vals)
    with np.errstate(over="ignore", under="ignore"):
        lr = float(np.exp(ly))
    out = {"lr": lr, "lr_ci": None, "lr_pi": None, "sigma_log": None,
           "law": law.form, "group": dict(law.group), "scale": scale, "horizon": horizon,
           "extrapolation": extrapolation(law, vals),
           "assumptions": assumptions(law, scale, horizon), "draws_log": None,
           "total_log": None, "shape_averaged": False, "pi_scatter": None}
    shape = getattr(law, "shape", None)
    if shape and shape.get("resolved"):
        if out["extrapolation"]:
            out["extrapolation"].append(bend_warning(shape))
        z = np.array([1.0] + [np.log(vals[v]) for v in law.variables])
        avg = shape_draws(shape, z, draws, seed + 1)
        if avg is not None:
            draws, out["shape_averaged"] = avg, True
    if draws is not None:
        total, out["pi_scatter"] = new_point_draws(law, vals, draws, seed)
        out.update(prediction_intervals(draws, total, level))
        out["draws_log"], out["total_log"] = draws, total
    return out


def new_point_draws(law, values: dict, draws: np.ndarray, seed: int = 0) -> tuple:
    """Draws (B,) of a new optimum at ``values`` (variable -> value): the law's mean draws
    ``draws`` (B,) in log space plus the scatter of a new point around the law
    (``scatter.scatter_draws``: leverage and Student's t when the law holds its points,
    else normal with s.d. ``rmse_log``), drawn with ``seed``. Returns (draws, how the
    scatter was drawn: one line for the output)."""
    X, free = law_design(law)
    z = np.array([[1.0] + [np.log(values[v]) for v in law.variables]])
    rmse = law.rmse_log if law.rmse_log is not None and np.isfinite(law.rmse_log) else 0.0
    total = draws + scatter_draws(rmse, z, X, (len(draws), 1), seed, free)[:, 0]
    how = ("new point of the least-squares law (rmse over n - k, leverage, Student's t)"
           if X is not None and X.shape[0] > len(free) else
           "rmse_log alone (the law's points are not stored: no leverage)")
    return total, how


def law_design(law) -> tuple[np.ndarray | None, np.ndarray]:
    """A power law's design (m, k) rows (1, ln v1, ...) from its points, and the columns it
    estimated (exponents held by ``--fix`` excluded); (None, all columns) when the law holds
    only the range of its points (an old JSON file)."""
    k = 1 + len(law.variables)
    fixed = set(((law.constraint or {}).get("fixed") or {}).keys())
    names = law.param_names or ()
    free = np.array([j for j in range(k) if j == 0 or j >= len(names) or names[j] not in fixed])
    pts = law.points or {}
    cols = [pts.get(v) for v in law.variables]
    if any(c is None or len(c) != law.n_points for c in cols):
        return None, free
    with np.errstate(divide="ignore", invalid="ignore"):
        X = np.column_stack([np.ones(law.n_points)] + [np.log(np.asarray(c, float))
                                                      for c in cols])
    if not np.all(np.isfinite(X)):
        return None, free
    return X, free


def bend_warning(shape) -> str:
    """The warning on a prediction beyond the data of a law whose bend is resolved."""
    lo, hi = shape["q_ci"]
    return (f"the law bends (q = {shape['q']:.3g} [{lo:.3g}, {hi:.3g}] per (ln "
            f"{shape['variable']})^2): a straight-line extrapolation beyond the data is not "
            "supported; the intervals average the straight and bent laws by evidence")


def prediction_intervals(draws: np.ndarray, total: np.ndarray, level: float) -> dict:
    """``lr_ci``, ``lr_pi`` and ``sigma_log`` from the draws of ln lr (mean and with scatter)."""
    q16, q84 = percentile_ci(total, 0.6827)
    with np.errstate(over="ignore", under="ignore"):
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

    No penalty is given (``penalty`` None, ``penalty_reason`` says why) where the data
    cannot support one: at or beyond the smallest lr / lr_opt at which the law's runs
    diverged, or outside the lr / lr_opt range its finite runs tried (the parabola is
    not known there); see ``LawFit.audit_range``.
    """
    if not (np.isfinite(lr_used) and lr_used > 0):
        raise ScalefitInputError(f"lr must be a finite number > 0 (got {lr_used})")
    pred = predict(law, scale, horizon, level, seed)
    vals = needed(law, scale, horizon)
    ly, yd = law.predict_log(vals)
    with np.errstate(over="ignore"):
        ratio = float(np.exp(np.log(lr_used) - ly))  # never lr_used / lr (lr may underflow)
    out = {**pred, "lr_used": float(lr_used), "ratio": ratio,
           "penalty": None, "penalty_ci": None, "curvature": None, "curvature_ci": None,
           "expected_penalty_at_optimum": None, "penalty_draws": None, "curvature_log": None,
           "penalty_reason": None}
    if law_k is None:
        out["extrapolation"] = pred["extrapolation"] + ["no curvature law: penalty unknown"]
        out["penalty_reason"] = "no curvature law: penalty unknown"
        return out
    kvals = needed(law_k, scale, horizon)
    lk, kd = law_k.predict_log(kvals)
    with np.errstate(over="ignore", under="ignore"):
        k = float(np.exp(lk))
    delta = np.log(lr_used) - ly
    out["curvature"] = k
    out["extrapolation"] = sorted(set(pred["extrapolation"] + extrapolation(law_k, kvals)))
    out["assumptions"] = list(dict.fromkeys(pred["assumptions"]
                                            + assumptions(law_k, scale, horizon)))
    reason = penalty_reason(law, ratio)
    if reason is None:
        out["penalty"] = float(k * delta**2)
        if getattr(law, "audit_range", None) is None:  # a fit saved by an older scalefit
            out["assumptions"].append(
                "the law holds no record of the LRs its runs tried or where they diverged "
                "(saved by an older scalefit): the penalty assumes the parabola holds this far "
                "from the optimum; refit to check")
    out["penalty_reason"] = reason
    if kd is not None and yd is not None:
        out["curvature_log"] = kd
        if reason is None:
            out["penalty_draws"] = np.exp(kd) * (np.log(lr_used) - yd) ** 2
            out.update(audit_intervals(out["penalty_draws"], kd, level))
        else:
            out["curvature_ci"] = audit_intervals(None, kd, level)["curvature_ci"]
        if pred["sigma_log"] is not None:
            out["expected_penalty_at_optimum"] = float(k * pred["sigma_log"] ** 2)
    return out


def penalty_reason(law, ratio: float) -> str | None:
    """Why the data give no penalty at ``ratio`` = lr / lr_opt (None: they give one)."""
    rng = getattr(law, "audit_range", None) or {}
    div = rng.get("ratio_diverged")
    if div is not None and ratio >= div * (1 - 1e-9):
        return (f"runs at x{div:.3g} the optimum or more diverged in the data (this LR is "
                f"x{ratio:.3g}): expect a run here to diverge")
    tried = rng.get("ratio_tried")
    if tried is not None and not (tried[0] / 1.0001 <= ratio <= tried[1] * 1.0001):
        return (f"the data have no run this far from the optimum (runs tried x{tried[0]:.3g} "
                f"to x{tried[1]:.3g} of it; this LR is x{ratio:.3g}): the loss valley is not "
                "known here")
    return None


def audit_intervals(penalty_draws, curvature_log: np.ndarray, level: float) -> dict:
    with np.errstate(over="ignore", under="ignore"):
        return {"penalty_ci": (None if penalty_draws is None
                               else percentile_ci(penalty_draws, level).tolist()),
                "curvature_ci": np.exp(percentile_ci(curvature_log, level)).tolist()}


def check_transfer(lr_ref: float, horizon_ref: float, horizon_target: float) -> None:
    for name, v in (("lr_ref", lr_ref), ("horizon_ref", horizon_ref),
                    ("horizon_target", horizon_target)):
        if not (np.isfinite(v) and v > 0):
            raise ScalefitInputError(f"{name} must be a finite number > 0 (got {v})")


def carry(lr_ref: float, ratio: float, b: float) -> float:
    """``lr_ref * ratio^b``, computed in logs; refused when it leaves floating point."""
    ln = math.log(lr_ref) + b * math.log(ratio)
    if not (math.isfinite(ln) and abs(ln) <= 700):
        raise ScalefitInputError(
            f"transfer: lr * (to/from)^b = exp({ln:.4g}) is beyond floating point (lr {lr_ref:g}, "
            f"to/from {ratio:.4g}, b {b:.4g}); check the LR and b (a horizon exponent is of "
            "order -0.3)")
    return math.exp(ln)


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
        out.update(lr=carry(lr_ref, ratio, b), b=float(b))
        return out
    if law is None or "horizon" not in law.variables:
        raise ScalefitInputError("the fit has no law in horizon (need sweeps at >= 3 horizons); "
                                 "give b instead")
    bval = law.params["b"]
    dom = getattr(law, "domain", None) or {}
    if "scale" not in law.variables and "scale" in dom and np.isclose(*dom["scale"], rtol=1e-9):
        out["warnings"].append(f"b comes from a law fitted at scale {dom['scale'][0]:g} only: "
                               "it cannot say whether the horizon exponent holds at other "
                               "scales")
    lo, hi = law.value_range("horizon")
    if horizon_target > hi * FAR or horizon_target < lo / FAR:
        out["warnings"].append(
            f"horizon {horizon_target:g} lies beyond the fitted horizons [{lo:g}, {hi:g}] by "
            f"a factor of {max(horizon_target / hi, lo / horizon_target):.3g}")
    out.update(lr=carry(lr_ref, ratio, bval), b=float(bval), b_source="fitted")
    level = law.level if level is None else level
    if law.boot is not None:
        out["b_draws"] = np.asarray(law.boot[:, law.param_names.index("b")])
        out.update(transfer_intervals(lr_ref, ratio, out["b_draws"], level))
    elif level == law.level and law.ci.get("b") is not None and None not in law.ci["b"]:
        ci = list(law.ci["b"])
        out["b_ci"] = ci
        out["lr_ci"] = sorted([carry(lr_ref, ratio, ci[0]), carry(lr_ref, ratio, ci[1])])
    return out


def transfer_intervals(lr_ref: float, ratio: float, b_draws: np.ndarray, level: float) -> dict:
    return {"b_ci": percentile_ci(b_draws, level).tolist(),
            "lr_ci": sorted(percentile_ci(lr_ref * ratio**b_draws, level).tolist())}
