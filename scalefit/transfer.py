"""Transfer quality (E, kappa, R_inf) per group, and decisions: horizon transfer, prediction, audit.

Definitions (the project's own operationalization of Kalra & Barkeshli 2026 and Bjorck
et al. 2025; see docs/math.md). Per group of the ``by`` columns, on its *scale series*
(ok optima at one horizon, or all of them when the horizon is fixed per scale):

* ``E``: RMSE of ``ln lr_opt`` around its power law in scale; beside it the
  leave-largest-out extrapolation error in ln lr.
* ``kappa``: exponent of curvature vs scale, ``k(s) ~ s^kappa``.
* ``R_inf``: with a reference group, ``R(s) = L*_p(s) / L*_ref(s) - 1`` at shared
  scales, fitted as ``R_inf + r s^rho`` (rho < 0); ``delta_L_inf``: difference of the
  asymptotes of ``loss_opt = L_inf + A s^alpha``.

Every interval comes from the same bootstrap resamples as the optima.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .bootstrap import percentile_ci
from .errors import ScalefitInputError
from .laws import _jsonable, collinear, leave_largest_out, loglinear, loss_law_profile

FAR = 4.0  # extrapolation beyond the data by more than this factor gets a warning


class ExtrapolationWarning(UserWarning):
    """A prediction lies far outside the range of the fitted data."""


# ---------------------------------------------------------------- transfer quality


@dataclass
class TransferQuality:
    """Transfer measures per group; ``groups`` is a list of dicts (see ``to_dict``)."""

    by: list[str]
    reference: object
    horizon: float | None
    groups: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return _jsonable({"by": self.by, "reference": self.reference, "horizon": self.horizon,
                          "groups": self.groups, "notes": self.notes})

    def table(self) -> pd.DataFrame:
        """The measures as a DataFrame, one row per group."""
        rows = []
        for g in self.groups:
            row = {**g["group"]}
            for k, v in g.items():
                if k == "group":
                    continue
                if isinstance(v, list) and len(v) == 2:
                    row[k + "_lo"], row[k + "_hi"] = v
                elif not isinstance(v, (list, dict)):
                    row[k] = v
            rows.append(row)
        return pd.DataFrame(rows)

    def summary_lines(self) -> list[str]:
        from .result import _table, fmt, fmt_ci

        where = (f" at horizon {fmt(self.horizon)}" if self.horizon is not None
                 else "")
        lines = [f"Transfer quality by {', '.join(self.by)} (reference: {self.reference}{where})"]
        header = ["group", "lr exponent a", "E (rmse ln lr)", "extrap. err", "kappa", "R_inf",
                  "delta_L_inf"]
        rows = []
        for g in self.groups:
            label = "/".join(str(v) for v in g["group"].values())

            def cell(key, g=g):
                return f"{fmt(g.get(key))} {fmt_ci(g.get(key + '_ci'))}".strip()

            rows.append([label, cell("lr_exponent"), cell("E"), cell("extrapolation_error"),
                         cell("kappa"), cell("R_inf"), cell("delta_L_inf")])
        lines += _table(header, rows)
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def transfer_quality(result, reference=None) -> TransferQuality:
    """E, kappa, R_inf and delta_L_inf for every ``by`` group of a FitResult."""
    by = result.by
    opt = result.optima
    ci = result.settings["ci"]
    boot = result.boot
    notes: list[str] = []
    ok = opt[opt["status"] == "ok"]
    labels = _group_labels(opt, by)
    if len(labels) < 1:
        return TransferQuality(by, reference, None, [], ["no groups"])

    horizon = _common_horizon(ok, notes)
    series = {}
    for lab, key in labels.items():
        sub = ok[_match(ok, by, key)]
        if horizon is not None:
            sub = sub[np.isclose(sub["horizon"], horizon)]
        series[lab] = sub.sort_values("scale") if "scale" in sub else sub

    # Loss asymptote per group: needed to choose a default reference.
    L_inf = {lab: _loss_asymptote(s, boot) for lab, s in series.items()}
    n_ok = {lab: len(s) for lab, s in series.items()}
    ref = _choose_reference(reference, labels, L_inf, notes, n_ok)

    groups = []
    for lab, key in labels.items():
        s = series[lab]
        g: dict = {"group": key}
        g.update(_lr_measures(s, boot, ci, notes, lab))
        g.update(_kappa(s, boot, ci, notes, lab))
        g.update(_ratio_measures(s, series[ref], boot, ci, notes, lab, lab == ref))
        d = _delta(L_inf[lab], L_inf[ref], ci) if lab != ref else (0.0, [0.0, 0.0])
        g["L_inf"] = L_inf[lab][0]
        g["delta_L_inf"], g["delta_L_inf_ci"] = d
        groups.append(g)
    return TransferQuality(by, labels[ref] if len(by) > 1 else ref, horizon, groups, notes)


def _group_labels(opt: pd.DataFrame, by: list[str]) -> dict:
    """label -> group dict; the label is the value itself for one by column, else a tuple."""
    out = {}
    for _, r in opt[by].drop_duplicates().iterrows():
        key = {b: (r[b].item() if isinstance(r[b], np.generic) else r[b]) for b in by}
        lab = key[by[0]] if len(by) == 1 else tuple(key.values())
        out[lab] = key
    return out


def _match(df: pd.DataFrame, by: list[str], key: dict) -> np.ndarray:
    m = np.ones(len(df), dtype=bool)
    for b in by:
        m &= (df[b] == key[b]).to_numpy()
    return m


def _common_horizon(ok: pd.DataFrame, notes: list[str]) -> float | None:
    """The horizon at which groups are compared, or None (no horizon, or fixed per scale)."""
    if "horizon" not in ok or ok["horizon"].nunique() <= 1:
        return None
    if "scale" in ok and collinear(np.log(ok["scale"]), np.log(ok["horizon"])):
        return None  # horizon fixed per scale (fixed tokens per parameter): use every point
    if "scale" in ok:
        counts = ok.groupby("horizon")["scale"].nunique()
    else:
        counts = ok["horizon"].value_counts()
    best = counts[counts == counts.max()].index.max()
    notes.append(f"groups compared at horizon {best:g} (the horizon with the most scales)")
    return float(best)


def _loss_asymptote(s: pd.DataFrame, boot) -> tuple[float, np.ndarray | None]:
    if "scale" not in s or s["scale"].nunique() < 4:
        return np.nan, None
    L, _, _, at_bound = loss_law_profile(s["scale"].to_numpy(), s["loss_opt"].to_numpy()[None])
    draws = None
    if boot is not None:
        draws = loss_law_profile(s["scale"].to_numpy(), boot.loss_opt[:, s["_g"].to_numpy()])[0]
    # Not identified: alpha at its flat end, or an asymptote below 0 for a positive loss
    # (the points fall without flattening); such a fit cannot pick the reference.
    bad = at_bound[0] or (L[0] < 0 and (s["loss_opt"] > 0).all())
    return (float(L[0]) if not bad else np.nan), draws


def _choose_reference(reference, labels: dict, L_inf: dict, notes: list[str], n_ok: dict):
    if reference is not None:
        for lab in labels:
            if str(lab) == str(reference) or lab == reference:
                return lab
        raise ScalefitInputError(
            f"reference {reference!r} is not a group; groups are: "
            f"{', '.join(map(str, labels))}"
        )
    finite = {k: v[0] for k, v in L_inf.items() if np.isfinite(v[0])}
    if finite:
        ref = min(finite, key=finite.get)
        notes.append(f"reference {ref}: the group with the lowest fitted asymptotic loss")
        return ref
    ref = max(labels, key=lambda k: n_ok.get(k, 0))
    notes.append(f"reference {ref}: no group has an identified loss asymptote (needs 4 scales "
                 "and a law that flattens), so the group with the most usable optima")
    return ref


def _lr_measures(s, boot, ci, notes, lab) -> dict:
    out = {"lr_exponent": None, "lr_exponent_ci": None, "E": None, "E_ci": None,
           "extrapolation_error": None, "extrapolation_error_ci": None,
           "extrapolation_loss_cost": None, "n_scales": int(s["scale"].nunique())
           if "scale" in s else 0}
    if "scale" not in s or s["scale"].nunique() < 3:
        notes.append(f"{lab}: fewer than 3 scales with an ok optimum: no E, kappa")
        return out
    ls = np.log(s["scale"].to_numpy())
    X = np.column_stack([np.ones_like(ls), ls])
    ly = np.log(s["lr_opt"].to_numpy())
    coef = loglinear(X, ly[None])[0]
    resid = ly - X @ coef
    out["lr_exponent"] = float(coef[1])
    out["E"] = float(np.sqrt(np.mean(resid**2)))
    yb = None
    if boot is not None:
        yb = boot.x_opt[:, s["_g"].to_numpy()]
        cb = loglinear(X, yb)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            eb = np.sqrt(np.nanmean((yb - cb @ X.T) ** 2, axis=1))
        out["lr_exponent_ci"] = percentile_ci(cb[:, 1], ci).tolist()
        out["E_ci"] = percentile_ci(eb, ci).tolist()
    ex = leave_largest_out(X, ly, ("scale",), {"scale": s["scale"].to_numpy()},
                           None if yb is None else np.exp(yb), s["curvature"].to_numpy(), ci)
    if ex is not None:
        out["extrapolation_error"] = ex["error_log"]
        out["extrapolation_error_ci"] = ex["error_log_ci"]
        out["extrapolation_loss_cost"] = ex["loss_cost"]
    return out


def _kappa(s, boot, ci, notes, lab) -> dict:
    out = {"kappa": None, "kappa_ci": None}
    if "scale" not in s or s["scale"].nunique() < 3:
        return out
    ls = np.log(s["scale"].to_numpy())
    X = np.column_stack([np.ones_like(ls), ls])
    out["kappa"] = float(loglinear(X, np.log(s["curvature"].to_numpy())[None])[0, 1])
    if boot is not None:
        kb = boot.curvature[:, s["_g"].to_numpy()]
        with np.errstate(invalid="ignore", divide="ignore"):
            cb = loglinear(X, np.log(np.where(kb > 0, kb, np.nan)))
        out["kappa_ci"] = percentile_ci(cb[:, 1], ci).tolist()
    return out


def _ratio_measures(s, ref, boot, ci, notes, lab, is_ref) -> dict:
    out = {"R_inf": None, "R_inf_ci": None, "R_largest": None, "R_largest_ci": None}
    if is_ref:
        out.update(R_inf=0.0, R_inf_ci=[0.0, 0.0], R_largest=0.0, R_largest_ci=[0.0, 0.0])
        return out
    if "scale" not in s:
        return out
    m = pd.merge(s[["scale", "loss_opt", "_g"]], ref[["scale", "loss_opt", "_g"]], on="scale",
                 suffixes=("", "_ref"))
    if len(m) == 0:
        notes.append(f"{lab}: no scale shared with the reference: no R")
        return out
    R = m["loss_opt"].to_numpy() / m["loss_opt_ref"].to_numpy() - 1
    Rb = None
    if boot is not None:
        Rb = boot.loss_opt[:, m["_g"].to_numpy()] / boot.loss_opt[:, m["_g_ref"].to_numpy()] - 1
    out["R_largest"] = float(R[-1])
    if Rb is not None:
        out["R_largest_ci"] = percentile_ci(Rb[:, -1], ci).tolist()
    if len(m) < 4:
        notes.append(f"{lab}: {len(m)} scales shared with the reference: R_inf needs 4")
        return out
    sc = m["scale"].to_numpy()
    R_inf, power, pval = ratio_asymptote(sc, R[None])
    out["R_model"] = "power" if power[0] else "constant"
    if not np.isfinite(R_inf[0]):
        notes.append(f"{lab}: R(s) could not be fitted: R_inf unknown (see R_largest)")
        return out
    if not power[0]:
        notes.append(f"{lab}: R(s) shows no significant power-law trend over these scales "
                     f"(F-test p = {pval[0]:.2g}): R_inf is the mean ratio")
    out["R_inf"] = float(R_inf[0])
    if Rb is not None:
        out["R_inf_ci"] = percentile_ci(ratio_asymptote(sc, Rb)[0], ci).tolist()
    return out


def ratio_asymptote(s: np.ndarray, R: np.ndarray, level: float = 0.05):
    """Asymptote of ``R(s) = R_inf + r s^rho`` (rho < 0) for every row of R (B, P).

    The power form is kept only where it beats a constant by an F-test at ``level`` and
    its exponent is not at the flat end of the search; otherwise R_inf is the mean of R.
    Returns (R_inf, used_power, p_value), each (B,).
    """
    from scipy.special import fdtrc

    L, A, alpha, flat = loss_law_profile(s, R, positive=False)
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


def _delta(p, ref, ci):
    if not (np.isfinite(p[0]) and np.isfinite(ref[0])):
        return None, None
    d = p[0] - ref[0]
    dci = None
    if p[1] is not None and ref[1] is not None:
        dci = percentile_ci(p[1] - ref[1], ci).tolist()
    return float(d), dci


# ---------------------------------------------------------------- horizon transfer


@dataclass
class Transfer:
    """A learning rate carried from one token horizon to another."""

    lr: float
    lr_ci: list[float] | None
    b: float
    b_ci: list[float] | None
    b_source: str
    lr_ref: float
    horizon_ref: float
    horizon_target: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return _jsonable(self.__dict__)

    def __str__(self) -> str:
        from .result import fmt, fmt_ci

        lines = [f"lr = {fmt(self.lr)} {fmt_ci(self.lr_ci)} at horizon {fmt(self.horizon_target)}"
                 f" (from lr {fmt(self.lr_ref)} at {fmt(self.horizon_ref)}, b = {fmt(self.b)}"
                 f" {fmt_ci(self.b_ci)}, {self.b_source})"]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def transfer(lr_ref: float, horizon_ref: float, horizon_target: float, b: float | None = None,
             fit=None, group: dict | None = None, ci: float | None = None) -> Transfer:
    """Carry ``lr_ref`` tuned at ``horizon_ref`` tokens to ``horizon_target`` tokens.

    ``lr = lr_ref * (horizon_target / horizon_ref)^b`` with the signed horizon exponent
    ``b`` given (Bjorck et al.'s beta = 0.32 is ``b = -0.32``) or taken, with its
    interval, from a FitResult's primary lr law (``fit``; ``group`` picks the by-group).
    Warns (``ExtrapolationWarning``) when the target lies beyond the fitted horizons by
    more than a factor of 4.
    """
    for name, v in (("lr_ref", lr_ref), ("horizon_ref", horizon_ref),
                    ("horizon_target", horizon_target)):
        if not (np.isfinite(v) and v > 0):
            raise ScalefitInputError(f"{name} must be a finite number > 0 (got {v})")
    ratio = horizon_target / horizon_ref
    warn: list[str] = []
    if b is not None:
        lr = lr_ref * ratio**b
        return Transfer(lr, None, float(b), None, "given", lr_ref, horizon_ref, horizon_target)
    if fit is None:
        raise ScalefitInputError("give the horizon exponent b (e.g. b=-0.32) or a fit with a "
                                 "horizon law")
    law = fit.law("lr_opt", group)
    if law is None or "horizon" not in law.variables:
        raise ScalefitInputError("the fit has no law in horizon (need sweeps at >= 3 horizons); "
                                 "give b instead")
    bval = law.params["b"]
    i = law.param_names.index("b")
    h = law.points["horizon"]
    lo, hi = float(np.min(h)), float(np.max(h))
    if horizon_target > hi * FAR or horizon_target < lo / FAR:
        msg = (f"horizon {horizon_target:g} lies beyond the fitted horizons [{lo:g}, {hi:g}] by "
               f"a factor of {max(horizon_target / hi, lo / horizon_target):.3g}")
        warn.append(msg)
        warnings.warn(msg, ExtrapolationWarning, stacklevel=2)
    lr = lr_ref * ratio**bval
    lr_ci = b_ci = None
    if law.boot is not None:
        level = ci or fit.settings["ci"]
        bb = law.boot[:, i]
        b_ci = percentile_ci(bb, level).tolist()
        lr_ci = sorted(percentile_ci(lr_ref * ratio**bb, level).tolist())
    return Transfer(float(lr), lr_ci, float(bval), b_ci, "fitted", lr_ref, horizon_ref,
                    horizon_target, warn)


# ---------------------------------------------------------------- predict and audit


def _extrapolation(law, values: dict) -> list[str]:
    """Describe how far ``values`` lie outside the law's data, one string per variable."""
    out = []
    for v in law.variables:
        pts = law.points[v]
        lo, hi = float(np.min(pts)), float(np.max(pts))
        x = float(values[v])
        if x > hi * 1.0001 or x < lo / 1.0001:
            factor = x / hi if x > hi else lo / x
            out.append(f"{v} {x:g} is outside the fitted range [{lo:g}, {hi:g}] by a factor of "
                       f"{factor:.3g}")
    return out


def _needed(law, scale, horizon) -> dict:
    vals = {"scale": scale, "horizon": horizon}
    missing = [v for v in law.variables if vals[v] is None]
    if missing:
        raise ScalefitInputError(f"the law {law.form} needs {', '.join(missing)}")
    for v in law.variables:
        if not (np.isfinite(vals[v]) and vals[v] > 0):
            raise ScalefitInputError(f"{v} must be a finite number > 0 (got {vals[v]})")
    return {v: vals[v] for v in law.variables}


def predict(fit, scale=None, horizon=None, group=None) -> dict:
    """Predicted optimal LR with its interval from a FitResult's primary lr law.

    Returns a dict: ``lr``, ``lr_ci`` (interval of the law's mean), ``lr_pi`` (adds the
    scatter of optima around the law, ``rmse_log``), ``sigma_log`` (robust s.d. of ln lr
    behind ``lr_pi``: half the 16-84% range), ``law``, ``extrapolation`` notes.
    """
    law = fit.law("lr_opt", group)
    if law is None:
        raise ScalefitInputError("the fit has no law of lr_opt for that group")
    vals = _needed(law, scale, horizon)
    ly, draws = law.predict_log(vals)
    level = fit.settings["ci"]
    out = {"lr": float(np.exp(ly)), "lr_ci": None, "lr_pi": None, "sigma_log": None,
           "law": law.form, "group": law.group, "scale": scale, "horizon": horizon,
           "extrapolation": _extrapolation(law, vals)}
    if draws is not None:
        out["lr_ci"] = np.exp(percentile_ci(draws, level)).tolist()
        # Prediction interval: law draws plus the scatter of optima around the law.
        rng = np.random.default_rng(fit.settings.get("seed", 0))
        total = draws + rng.normal(0.0, law.rmse_log or 0.0, draws.shape)
        out["lr_pi"] = np.exp(percentile_ci(total, level)).tolist()
        q16, q84 = percentile_ci(total, 0.6827)
        out["sigma_log"] = float((q84 - q16) / 2)  # robust s.d. of ln lr at the target
    return _jsonable(out)


def audit(fit, lr_used: float, scale=None, horizon=None, group=None) -> dict:
    """Expected loss penalty of training at ``lr_used`` instead of the predicted optimum.

    ``penalty = k(s) * (ln lr_used - ln lr*)^2`` with ``k`` extrapolated by its own law;
    the interval combines the bootstrap draws of both laws (paired by resample).
    Also ``expected_penalty_at_optimum``: ``k * sigma^2``, what even the predicted LR
    costs on average given the law's uncertainty.
    """
    if not (np.isfinite(lr_used) and lr_used > 0):
        raise ScalefitInputError(f"lr must be a finite number > 0 (got {lr_used})")
    pred = predict(fit, scale=scale, horizon=horizon, group=group)
    law_k = fit.law("curvature", group)
    out = {**pred, "lr_used": float(lr_used), "ratio": float(lr_used / pred["lr"]),
           "penalty": None, "penalty_ci": None, "curvature": None, "curvature_ci": None,
           "expected_penalty_at_optimum": None}
    if law_k is None:
        out["extrapolation"] = pred["extrapolation"] + ["no curvature law: penalty unknown"]
        return out
    law = fit.law("lr_opt", group)
    vals = _needed(law, scale, horizon)
    kvals = _needed(law_k, scale, horizon)
    lk, kd = law_k.predict_log(kvals)
    ly, yd = law.predict_log(vals)
    k = float(np.exp(lk))
    delta = np.log(lr_used) - ly
    out["curvature"] = k
    out["penalty"] = float(k * delta**2)
    out["extrapolation"] = sorted(set(pred["extrapolation"] + _extrapolation(law_k, kvals)))
    if kd is not None and yd is not None:
        level = fit.settings["ci"]
        pen = np.exp(kd) * (np.log(lr_used) - yd) ** 2
        out["penalty_ci"] = percentile_ci(pen, level).tolist()
        out["curvature_ci"] = np.exp(percentile_ci(kd, level)).tolist()
        if pred["sigma_log"] is not None:
            out["expected_penalty_at_optimum"] = float(k * pred["sigma_log"] ** 2)
    return _jsonable(out)
