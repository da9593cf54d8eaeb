"""Transfer quality (E, kappa, R_inf) per ``by`` group, from the optima and their resamples.

Definitions (the project's own operationalization of Kalra & Barkeshli 2026 and Bjorck
et al. 2025; see docs/math.md). Per group of the ``by`` columns, on its *scale series*
(ok optima at one horizon, or all of them when the horizon is fixed per scale):

* ``E``: RMSE of ``ln lr_opt`` around its power law in scale; beside it the
  leave-largest-out extrapolation error in ln lr.
* ``kappa``: exponent of curvature vs scale, ``k(s) ~ s^kappa``.
* ``R_inf``: with a reference group, ``R(s) = L*_p(s) / L*_ref(s) - 1`` at shared
  scales, fitted as ``R_inf + r s^rho`` (rho < 0); ``delta_L_inf``: difference of the
  asymptotes of ``loss_opt = L_inf + A s^alpha``.

Every interval comes from the same bootstrap resamples as the optima: row ``j`` of the
optima table is column ``j`` of the resample arrays (``core.bootstrap.BootSweeps``).
``transfer_quality`` returns plain data; the pipeline wraps it in a ``TransferQuality``.

The exponent and RMSE of lr_opt, its extrapolation error, the curvature exponent and the
loss asymptote are read from the fit's laws (``laws``) where one was fitted on exactly a
series' points (a law with exponents held by ``--fix`` is not the free law these measures
need); a series without such a law gets one fitted here the same way (``core.laws``,
``core.losslaws``). What is quality's own: E's interval, the loss ratios R and R_inf, the
reference, delta_L_inf.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .core.bootstrap import percentile_ci
from .core.identify import MAX_AT_BOUND, draws_identified
from .core.laws import LawFit, collinear, loglinear, power_laws
from .core.losslaws import loss_laws
from .core.pyvalue import py_scalar
from .core.quality import ratio_asymptotes
from .errors import ScalefitInputError
from .laws import with_excess


def transfer_quality(optima: pd.DataFrame, boot, by: list[str], ci: float,
                     reference=None, laws=()) -> dict:
    """E, kappa, R_inf and delta_L_inf for every ``by`` group.

    optima: one row per sweep, index = column in ``boot`` (BootSweeps or None); laws: the
    fit's laws (``LawFit``), read where one matches a series (see the module docstring).
    Returns ``by``, ``reference``, ``horizon``, ``groups`` (one dict per group: the
    measures, their intervals, and ``R_curve``: the loss ratio to the reference at each
    shared scale, with its interval) and ``notes``.
    """
    run = TransferRun(optima, by, ci, reference)
    if run.result is None:
        run.reference_draws(boot)
        run.add(list(run.labels), boot, laws)
    return run.finish()


class TransferRun:
    """``transfer_quality`` given the resamples block by block of whole ``by`` groups
    (``scalefit.estimate``), so that those of the whole table need not be held at once.

    Made from the optima alone: the groups, their series, the horizon they are compared
    at and the reference (its notes first, as ``transfer_quality`` writes them).
    ``rows(label)``: the optima rows of a group; ``reference_draws(boot, cols)``: the
    reference's series with its resamples (``cols``: the columns of its series' rows in
    ``boot``; default the row labels), before any group is added; ``add(labels, boot,
    laws, local)``: the measures of those groups from ``boot`` (``local``: the column of
    each optima row in it, default the row labels) and the fit's laws of those groups;
    ``finish``: the dict of ``transfer_quality``, groups and notes in group order. Each
    group's numbers are those of one ``transfer_quality`` of the whole table; the fits
    it makes here for the groups of one ``add`` are solved together.
    """

    def __init__(self, optima: pd.DataFrame, by: list[str], ci: float, reference=None):
        cols = [c for c in (*by, "status", "scale", "horizon", "lr_opt", "loss_opt",
                            "curvature") if c in optima]
        opt = optima[list(dict.fromkeys(cols))]  # the columns read here: filters copy less
        self.by, self.ci, self.opt = by, ci, opt
        self.notes: list[str] = []
        self.result = None
        ok = opt[opt["status"] == "ok"]
        self.labels = _group_labels(opt, by)
        if len(self.labels) < 1:
            self.result = {"by": by, "reference": reference, "horizon": None, "groups": [],
                           "notes": ["no groups"]}
            return
        if "scale" not in opt or not np.isfinite(opt["scale"].to_numpy(float)).any():
            # every measure compares the groups across scale: nothing to measure
            self.result = {"by": by, "reference": reference, "horizon": None, "groups": [],
                           "notes": ["not measured: the table has no scale column (transfer "
                                     "quality compares how each group's optimal LR and loss "
                                     "carry across scale)"]}
            return
        self.horizon = _common_horizon(ok, self.notes)
        self.series = {}
        for lab, key in self.labels.items():
            sub = ok[_match(ok, by, key)]
            if self.horizon is not None:
                sub = sub[np.isclose(sub["horizon"], self.horizon)]
            self.series[lab] = sub.sort_values("scale") if "scale" in sub else sub
        n_ok = {lab: len(s) for lab, s in self.series.items()}
        self.ref = _choose_reference(reference, self.labels, self.series, self.notes, n_ok)
        self._groups: dict = {}
        self._notes: dict = {}
        self._L_inf: dict = {}
        self._ref_bt = self._ref_loss = None

    def rows(self, label) -> np.ndarray:
        """The optima rows (labels) of group ``label``."""
        return self.opt.index.to_numpy()[_match(self.opt, self.by, self.labels[label])]

    def reference_draws(self, boot, cols: np.ndarray | None = None) -> None:
        s = self.series[self.ref]
        cols = s.index.to_numpy() if cols is None else cols
        # A group with an optimum that carries no measured noise gets no intervals (its
        # draws would come from the other optima alone).
        if boot is not None and not _blind(boot, cols):
            self._ref_bt = boot
            self._ref_loss = boot.columns("loss_opt", cols)

    def add(self, labels: list, boot, laws, local: np.ndarray | None = None) -> None:
        series = {lab: self.series[lab] for lab in labels}
        idx = {lab: s.index.to_numpy() if local is None else local[s.index.to_numpy()]
               for lab, s in series.items()}
        ci, ref = self.ci, self.ref
        bt = {lab: (None if boot is None or _blind(boot, idx[lab]) else boot)
              for lab in series}
        found = {lab: _series_laws(laws, self.labels[lab], s, bt[lab])
                 for lab, s in series.items()}
        _fit_missing(found, series, bt, ci, idx)
        # Loss asymptote per group: delta_L_inf is the difference to the reference's.
        L_inf = _loss_asymptotes(series, bt, ci, {lab: f["loss_opt"] for lab, f in
                                                  found.items()}, idx)
        ratios = _ratio_fits(series, ref, self.series[ref], bt, idx,
                             self._ref_loss if self._ref_bt is not None else None)
        for lab in series:
            s, notes = series[lab], []
            g: dict = {"group": self.labels[lab]}
            g.update(_lr_measures(s, bt[lab], ci, notes, lab, found[lab]["lr_opt"], idx[lab]))
            g.update(_kappa(s, bt[lab], ci, notes, lab, found[lab]["curvature"]))
            g.update(_ratio_measures(s, ci, notes, lab, lab == ref, ratios.get(lab)))
            g["L_inf"] = L_inf[lab][0] if L_inf[lab][2] else None
            g["L_inf_identified"], g["L_inf_reason"] = L_inf[lab][2], L_inf[lab][3]
            self._groups[lab], self._notes[lab], self._L_inf[lab] = g, notes, L_inf[lab]

    def finish(self) -> dict:
        if self.result is not None:
            return self.result
        notes, ref, groups = self.notes, self.ref, []
        for lab in self.labels:
            notes += self._notes[lab]
            g = self._groups[lab]
            g.update(_delta(self._L_inf[lab], self._L_inf[ref], self.ci, lab == ref))
            groups.append(g)
        reasons: dict[str, list] = {}
        for g, lab in zip(groups, self.labels):
            if not g["delta_L_inf_identified"]:
                reasons.setdefault(g["delta_L_inf_reason"], []).append(str(lab))
        for why, labs in reasons.items():
            notes.append(f"delta_L_inf not identified for {len(labs)} group(s) "
                         f"({', '.join(labs)}): {why}")
        return {"by": self.by, "reference": self.labels[ref] if len(self.by) > 1 else ref,
                "horizon": self.horizon, "groups": groups, "notes": notes}


def _series_laws(laws, key: dict, s: pd.DataFrame, boot) -> dict:
    """target -> the fit's law in scale fitted on exactly this series' points (same
    sweeps in the same order, at the series' one horizon if the law names one; resamples
    or none alike; no exponent held), or None."""
    out = {"lr_opt": None, "curvature": None, "loss_opt": None}
    if "scale" not in s:
        return out
    horizons = set(s["horizon"].tolist()) if "horizon" in s else set()
    for law in laws:
        t = law.target
        group = dict(law.group)
        h = group.pop("horizon", None)
        if (t not in out or out[t] is not None or law.variables != ("scale",)
                or law.constraint is not None or (law.boot is None) != (boot is None)
                or group != key or (h is not None and horizons != {h}) or law.points is None):
            continue
        pts = law.points
        if (np.array_equal(pts["scale"], s["scale"].to_numpy(float))
                and np.array_equal(pts[t], s[t].to_numpy(float))):
            out[t] = law
    return out


def _blind(boot, cols: np.ndarray) -> bool:
    """True when one of a series' optima (its columns in ``boot``) has no valid resample
    (no measured noise)."""
    return bool((~np.isfinite(boot.law_columns(cols)).any(0)).any())


def _group_labels(opt: pd.DataFrame, by: list[str]) -> dict:
    """label -> group dict; the label is the value itself for one by column, else a tuple."""
    out = {}
    for _, r in opt[by].drop_duplicates().iterrows():
        key = {b: py_scalar(r[b]) for b in by}
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


def _loss_asymptotes(series: dict, bt: dict, ci: float, found: dict, idx: dict) -> dict:
    """label -> (L_inf, its draws, identified, reason) of the group's loss law in scale:
    the fit's law where ``found`` has one, else fitted here (all of them in one search)."""
    out, todo = {}, []
    for lab, s in series.items():
        if "scale" not in s or s["scale"].nunique() < 4:
            out[lab] = (np.nan, None, False, "fewer than 4 scales with an ok optimum")
        elif found.get(lab) is not None:
            out[lab] = _asymptote_of(found[lab])
        else:
            yb = None if bt[lab] is None else bt[lab].columns("loss_opt", idx[lab])
            todo.append((lab, {"s": s["scale"].to_numpy(), "y": s["loss_opt"].to_numpy(),
                               "y_boot": yb, "group": {}, "ci_level": ci}))
    for (lab, _), law in zip(todo, loss_laws([item for _, item in todo])):
        out[lab] = _asymptote_of(law)
    return {lab: out[lab] for lab in series}


def _asymptote_of(law: LawFit):
    """(L_inf, its draws, identified, reason) of a loss law. A fit that is not identified
    cannot pick the reference or give delta_L_inf."""
    ident, why = law.asymptote["identified"], law.asymptote["reason"]
    draws = None if law.boot is None else np.asarray(law.boot)[:, 0]
    return (law.params["L_inf"] if ident else np.nan), draws, ident, why


def _choose_reference(reference, labels: dict, series: dict, notes: list[str], n_ok: dict):
    """The given reference, else the group with the lowest optimal loss at the largest scale
    every group has an ok optimum at (a measured loss, not an extrapolated asymptote)."""
    if reference is not None:
        for lab in labels:
            if str(lab) == str(reference) or lab == reference:
                return lab
        raise ScalefitInputError(
            f"reference {reference!r} is not a group; groups are: "
            f"{', '.join(map(str, labels))}"
        )
    scales = [set(s["scale"]) for s in series.values() if "scale" in s and len(s)]
    shared = set.intersection(*scales) if scales and len(scales) == len(series) else set()
    if shared:
        top = max(shared)
        at = {lab: float(s.loc[s["scale"] == top, "loss_opt"].min())
              for lab, s in series.items()}
        ref = min(at, key=at.get)
        notes.append(f"reference {ref}: the group with the lowest optimal loss at the largest "
                     f"scale all groups share ({top:.3g}); choose one with --reference")
        return ref
    ref = max(labels, key=lambda k: n_ok.get(k, 0))
    notes.append(f"reference {ref}: the groups share no scale at which each has an ok "
                 f"optimum, so the reference is the group with the most ok optima "
                 f"({n_ok.get(ref, 0)}); choose one with --reference")
    return ref


def _fit_missing(found: dict, series: dict, bt: dict, ci: float, idx: dict) -> None:
    """Into ``found``, the laws of lr_opt and curvature in scale of every series with 3 or
    more scales that the fit has none for (fitted here as ``fit_laws`` fits them, all in
    one ``power_laws``); ``idx``: each series' columns in its resamples."""
    todo = []
    for lab, s in series.items():
        if "scale" not in s or s["scale"].nunique() < 3:
            continue
        values, boot, cols = {"scale": s["scale"].to_numpy()}, bt[lab], idx[lab]
        if found[lab]["lr_opt"] is None:
            yb = w = None
            y = s["lr_opt"].to_numpy(float)
            if boot is not None:
                yb, _, w = with_excess(values, ("scale",), y, np.exp(boot.law_columns(cols)),
                                       "lr_opt")
            todo.append((lab, "lr_opt", {
                "target": "lr_opt", "values": values, "y": y,
                "y_boot": yb, "variables": ("scale",), "group": {}, "ci_level": ci,
                "curvature": s["curvature"].to_numpy(), "weights": w}))
        if found[lab]["curvature"] is None:  # e.g. at one horizon of several: no such law
            kb = None
            if boot is not None:
                kb = boot.columns("curvature", cols)
                kb = np.where(kb > 0, kb, np.nan)
                if np.all(s["curvature"].to_numpy(float) > 0):
                    kb, _, _ = with_excess(values, ("scale",), s["curvature"].to_numpy(float),
                                           kb, "curvature")
            todo.append((lab, "curvature", {
                "target": "curvature", "values": values, "y": s["curvature"].to_numpy(),
                "y_boot": kb, "variables": ("scale",), "group": {}, "ci_level": ci}))
    for (lab, target, _), law in zip(todo, power_laws([spec for _, _, spec in todo])):
        found[lab][target] = law


def _lr_measures(s, boot, ci, notes, lab, law: LawFit, cols: np.ndarray) -> dict:
    out = {"lr_exponent": None, "lr_exponent_ci": None, "E": None, "E_ci": None,
           "extrapolation_error": None, "extrapolation_error_ci": None,
           "extrapolation_loss_cost": None, "n_scales": int(s["scale"].nunique())
           if "scale" in s else 0}
    if "scale" not in s or s["scale"].nunique() < 3:
        notes.append(f"{lab}: fewer than 3 scales with an ok optimum: no E, kappa")
        return out
    yb = None
    if boot is not None:
        yb = boot.law_columns(cols)  # clamped to the tried LRs, as the laws
    out["lr_exponent"] = law.params["a"]
    out["E"] = law.rmse_log
    if yb is not None:
        # E's own draws: the resampled points around the law refitted on those same points
        # (the law's draws also carry the points' scatter around it, core/scatter.py, which
        # is what E measures, so they would count it twice)
        X = np.column_stack([np.ones(len(s)), np.log(s["scale"].to_numpy())])
        with np.errstate(invalid="ignore"):
            cb = loglinear(X, yb, law.weights)  # the law's weights (None: unweighted)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            eb = np.sqrt(np.nanmean((yb - cb @ X.T) ** 2, axis=1))
        # a resample with as few points as the law has parameters fits them exactly: its E
        # is 0 by construction, not a measurement (it set the interval's low end to 1e-15)
        eb[np.isfinite(yb).sum(1) <= X.shape[1]] = np.nan
        out["lr_exponent_ci"] = list(law.ci["a"])
        out["E_ci"] = percentile_ci(eb, ci).tolist()
    ex = law.extrapolation
    if ex is not None:
        out["extrapolation_error"] = ex["error_log"]
        out["extrapolation_error_ci"] = (None if ex["error_log_ci"] is None
                                         else list(ex["error_log_ci"]))
        out["extrapolation_loss_cost"] = ex["loss_cost"]
    return out


def _kappa(s, boot, ci, notes, lab, law: LawFit) -> dict:
    out = {"kappa": None, "kappa_ci": None}
    if "scale" not in s or s["scale"].nunique() < 3:
        return out
    out["kappa"] = law.params["a"]
    if boot is not None:
        out["kappa_ci"] = list(law.ci["a"])
    return out


def _shared(s, ref) -> dict:
    """The scales at which a series and the reference both have an ok optimum (as an inner
    join on scale: the series' order, each of its rows with every reference row at its
    scale): the scales, both losses and the positions of their rows in the series (``i``)
    and in the reference's (``j``)."""
    sc, rsc = s["scale"].to_numpy(float), ref["scale"].to_numpy(float)
    pairs = [(i, j) for i, v in enumerate(sc)
             for j in np.flatnonzero((rsc == v) | (np.isnan(rsc) & np.isnan(v)))]
    i, j = (np.array([p[k] for p in pairs], dtype=np.int64) for k in (0, 1))
    return {"scale": s["scale"].to_numpy()[i], "loss_opt": s["loss_opt"].to_numpy(float)[i],
            "loss_opt_ref": ref["loss_opt"].to_numpy(float)[j],
            "i": i, "j": j}


def _ratio_fits(series: dict, ref, ref_series: pd.DataFrame, bt: dict, idx: dict,
                ref_loss: np.ndarray | None) -> dict:
    """label -> the shared scales, R and its resamples, and the fits of R(s) on the point
    and on every resample (``core.quality.ratio_asymptotes``, all groups in one search),
    for every group of ``series`` but the reference with a scale column. ``idx``: each
    series' columns in its resamples; ``ref_loss``: the resampled optimal losses of the
    reference's series (None: it has none)."""
    out, problems = {}, []
    for lab, s in series.items():
        if lab == ref or "scale" not in s:
            continue
        m = _shared(s, ref_series)
        R = m["loss_opt"] / m["loss_opt_ref"] - 1
        Rb = None
        boot = bt[lab] if ref_loss is not None else None
        if boot is not None:
            Rb = boot.columns("loss_opt", idx[lab][m["i"]]) / ref_loss[:, m["j"]] - 1
        out[lab] = {"m": m, "R": R, "Rb": Rb}
        if len(R) >= 4:
            sc = m["scale"]
            out[lab]["fits"] = len(problems)
            problems += [(sc, R[None])] + ([(sc, Rb)] if Rb is not None else [])
    fits = ratio_asymptotes(problems)
    for r in out.values():
        if "fits" in r:
            i = r["fits"]
            r["fits"] = (fits[i], fits[i + 1] if r["Rb"] is not None else None)
    return out


def _ratio_measures(s, ci, notes, lab, is_ref, fitted=None) -> dict:
    """R at the shared scales, R_largest, R_mean and R_inf of a group, from ``fitted``
    (its entry of ``_ratio_fits``)."""
    out = {"R_inf": None, "R_inf_ci": None, "R_largest": None, "R_largest_ci": None,
           "R_mean": None, "R_mean_ci": None, "R_inf_identified": False, "R_inf_reason": None}
    if is_ref:
        out.update(R_inf=0.0, R_inf_ci=[0.0, 0.0], R_largest=0.0, R_largest_ci=[0.0, 0.0],
                   R_mean=0.0, R_mean_ci=[0.0, 0.0], R_inf_identified=True)
        return out
    if "scale" not in s:
        out["R_inf_reason"] = "no scale column"
        return out
    m, R, Rb = fitted["m"], fitted["R"], fitted["Rb"]
    if len(R) == 0:
        notes.append(f"{lab}: no scale at which both it and the reference have an ok optimum: "
                     "no R")
        out["R_inf_reason"] = "no scale at which both it and the reference have an ok optimum"
        return out
    curve = {"scale": m["scale"].tolist(), "R": R.tolist(), "R_ci": None}
    if Rb is not None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(Rb, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        curve["R_ci"] = q.T.tolist()
    out["R_curve"] = curve
    out["R_largest"] = float(R[-1])
    out["R_mean"] = float(np.mean(R))
    if Rb is not None:
        out["R_largest_ci"] = percentile_ci(Rb[:, -1], ci).tolist()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["R_mean_ci"] = percentile_ci(np.nanmean(Rb, axis=1), ci).tolist()
    if len(R) < 4:
        notes.append(f"{lab}: {len(R)} scales shared with the reference: R_inf needs 4")
        out["R_inf_reason"] = f"{len(R)} shared scale(s), R_inf needs 4"
        return out
    (R_inf, power, pval), draws = fitted["fits"]
    out["R_model"] = "power" if power[0] else "constant"
    if not np.isfinite(R_inf[0]):
        notes.append(f"{lab}: R(s) could not be fitted: R_inf unknown (see R_largest)")
        out["R_inf_reason"] = "R(s) could not be fitted"
        return out
    mean_txt = f"R (mean over shared scales) = {fmt_ci_text(out['R_mean'], out['R_mean_ci'])}"
    if not power[0]:
        why = f"no resolved trend, F-test p = {pval[0]:.2g}"
        out["R_inf_reason"] = why
        notes.append(f"{lab}: {mean_txt}, R_inf not identified ({why})")
        return out
    why = None
    if Rb is not None:
        Rinf_b, power_b, _ = draws
        ok_b = np.isfinite(Rinf_b)
        if ok_b.any() and power_b[ok_b].mean() < 1 - MAX_AT_BOUND:
            why = (f"the trend is resolved in only {power_b[ok_b].mean():.0%} of the "
                   "resamples")
        else:
            _, why = draws_identified(np.where(power_b, Rinf_b, np.nan), None, R, ci, "R_inf")
    if why is not None:
        out["R_inf_reason"] = why
        notes.append(f"{lab}: {mean_txt}, R_inf not identified ({why})")
        return out
    out["R_inf"] = float(R_inf[0])
    out["R_inf_identified"] = True
    if Rb is not None:
        out["R_inf_ci"] = percentile_ci(np.where(power_b, Rinf_b, np.nan), ci).tolist()
    return out


def fmt_ci_text(v, ci) -> str:
    """``v [lo, hi]`` with 3 significant digits (for notes)."""
    if ci is None:
        return f"{v:.3g}"
    return f"{v:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]"


def _delta(p, ref, ci, is_ref: bool) -> dict:
    """delta_L_inf of a group: identified only when both asymptotes are."""
    out = {"delta_L_inf": None, "delta_L_inf_ci": None, "delta_L_inf_identified": False,
           "delta_L_inf_reason": None}
    if not p[2] or not ref[2]:
        who = "this group's" if not p[2] else "the reference's"
        out["delta_L_inf_reason"] = f"{who} L_inf is not identified: {(p if not p[2] else ref)[3]}"
        return out
    out["delta_L_inf_identified"] = True
    if is_ref:
        out.update(delta_L_inf=0.0, delta_L_inf_ci=[0.0, 0.0])
        return out
    out["delta_L_inf"] = float(p[0] - ref[0])
    if p[1] is not None and ref[1] is not None:
        out["delta_L_inf_ci"] = percentile_ci(p[1] - ref[1], ci).tolist()
    return out
