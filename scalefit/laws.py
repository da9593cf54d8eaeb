"""Every law the optima support, per ``by`` group: the one law-fitting step of the pipeline.

``fit_laws`` takes an optima table (one row per sweep, or per point of a table of optima;
row ``j`` is column ``j`` of the resamples) and fits, per ``by`` group, the primary law of
lr_opt and of the curvature, the conditional laws and the loss laws (docs/math.md
section 3). Each law records its domain (the range of every role variable in its data)
and, for lr_opt, the lr / lr_opt range its runs tried and where they diverged, so that
predictions and audits can say what they assume. A law whose points include one without
measured noise gets no interval, and says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.bootstrap import BootSweeps
from .core.laws import LawFit, collinear, design, power_laws
from .core.losslaws import loss_laws
from .core.scatter import carry_excess_scatter, excess_note, precision_weights
from .core.shape import with_fix, with_shapes
from .errors import ScalefitInputError
from .options import fix_key


def by_groups(optima: pd.DataFrame, by: tuple[str, ...]):
    """(group dict, rows) of each ``by`` group of an optima table, in sorted order."""
    if not by:
        yield {}, optima
        return
    for key, sub in optima.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), sub


def fit_laws(
    optima: pd.DataFrame, boot: BootSweeps | None, by: tuple[str, ...], include, ci: float,
    notes: list[str], extra: bool = True, fix: dict | None = None,
) -> list[LawFit]:
    """Every law the data supports, per ``by`` group: see docs/math.md for the rules.
    ``extra``: also the conditional laws and the loss laws (a joint fit's per-batch-size
    groups get the primary laws of lr_opt and curvature only). Every law of lr_opt gets its
    shape test; ``fix`` (exponent -> value) holds exponents of the laws of lr_opt."""
    fitter = LawFitter(by, include, ci, notes, extra=extra, fix=fix)
    fitter.add(optima, boot)
    return fitter.finish()


class LawFitter:
    """``fit_laws`` of an optima table given block by block of whole ``by`` groups, in
    the table's group order (``add``): each block with the resamples of its own rows
    (row labels of the block = its columns in ``boot``), so that the resamples of the
    whole table need not be held at once (``scalefit.estimate``). The laws wait and are
    fitted in batches of at most about ``_BATCH_BYTES`` of draws, as ``fit_laws`` fits
    them, or at ``flush``; ``finish`` returns them all, in group order. ``notes`` gets
    what ``fit_laws`` notes, in the same order."""

    def __init__(self, by: tuple[str, ...], include, ci: float, notes: list[str],
                 extra: bool = True, fix: dict | None = None):
        self.by, self.include, self.ci, self.notes = by, include, ci, notes
        self.extra, self.fix = extra, fix
        self.laws: list = []
        self._power: list[tuple[int, dict]] = []  # (position in laws, what to fit)
        self._loss: list[tuple[int, dict]] = []
        self._fixed_ratio: list[str] = []

    def add(self, optima: pd.DataFrame, boot: BootSweeps | None) -> None:
        """The laws of the ``by`` groups of ``optima`` (whole groups), to be fitted."""
        by, include, ci, notes, extra = self.by, self.include, self.ci, self.notes, self.extra
        power, loss, laws = self._power, self._loss, self.laws
        has_s, has_d = "scale" in optima, "horizon" in optima
        if not (has_s or has_d):
            return
        for group, sub in by_groups(optima, by):
            if _pending_bytes(power, loss) > _BATCH_BYTES:
                self.flush()
            label = _label(group)
            pts = law_points(sub, include, notes, label)
            if len(pts) < 3:
                notes.append(f"{label}{len(pts)} sweep(s) with an optimum: too few for a law "
                             "(need 3)")
                continue
            pts = _arrays(pts)  # the rest reads arrays: pandas per part costs more than fits
            s = pts["scale"] if has_s else None
            d = pts["horizon"] if has_d else None
            vary_s = has_s and np.unique(s).size >= 2
            vary_d = has_d and np.unique(d).size >= 2
            variables: tuple[str, ...] = ()
            fixed_ratio = False
            if vary_s and vary_d:
                if collinear(np.log(s), np.log(d)):
                    fixed_ratio = True
                    variables = ("scale",)
                    self._fixed_ratio.append(label.strip(" []") or "all runs")
                else:
                    variables = ("scale", "horizon")
            elif vary_s:
                variables = ("scale",)
            elif vary_d:
                variables = ("horizon",)
            if not variables:
                continue
            need = len(variables) + 2
            if len(pts["index"]) >= need:
                for item in _power_law_items(pts, boot, variables, group, ci, primary=True):
                    power.append((len(laws), item))
                    laws.append(None)
            else:
                notes.append(f"{label}{len(pts['index'])} optima: too few for a law in "
                             f"{' and '.join(variables)} (need {need})")
            if not extra:
                continue
            # Conditional laws: vs scale at each horizon, vs horizon at each scale.
            if len(variables) == 2:
                for var, other in (("scale", "horizon"), ("horizon", "scale")):
                    for val, part in _parts(pts, other):
                        if _nunique(part[var]) >= 3:
                            for item in _power_law_items(part, boot, (var,),
                                                         {**group, other: float(val)}, ci,
                                                         primary=False, targets=("lr_opt",)):
                                power.append((len(laws), item))
                                laws.append(None)
            # Loss laws vs scale: per horizon, or over all points at a fixed ratio / none.
            if vary_s:
                parts = ([(None, pts)] if (fixed_ratio or not has_d)
                         else _parts(pts, "horizon"))
                for val, part in parts:
                    if _nunique(part["scale"][np.isfinite(part["loss_opt"])]) >= 4:
                        g = group if val is None else {**group, "horizon": float(val)}
                        loss.append((len(laws), _loss_law_item(part, boot, g, ci)))
                        laws.append(None)

    def flush(self) -> None:
        """Fit every law waiting (``_fit_pending``)."""
        _fit_pending(self.laws, self._power, self._loss, self.fix)

    def finish(self) -> list[LawFit]:
        """Every law added, fitted, in group order (and the note on groups whose horizon is
        tied to their scale)."""
        self.flush()
        if self._fixed_ratio:
            where = ("" if self._fixed_ratio == ["all runs"]
                     else f" ({'; '.join(self._fixed_ratio)})")
            self.notes.append("horizon is proportional to scale (fixed tokens per parameter)"
                              f"{where}: the joint law is not identifiable; fitting lr_opt "
                              "vs scale")
        return self.laws


def without_draws(law: LawFit) -> LawFit:
    """The law as a fit keeps it after its intervals are made: a primary law keeps its
    coefficient draws (predictions, audits and the JSON read them); a conditional law or a
    loss law keeps them only where its printed summary reads them (a power law whose C
    under- or overflows: its interval is printed as exp of the draws' ln C percentiles)."""
    if law.primary or law.boot is None:
        return law
    lc = law.log_C
    if law.target != "loss_opt" and lc is not None and np.isfinite(lc) and not -690 < lc < 690:
        return law
    return law.replace(boot=None)


# The laws are fitted in batches of by groups whose draws take at most about this many
# bytes (a million runs' laws at once would hold several GiB of draws and intermediates);
# a batch fits its laws together as before, each law's numbers as alone.
_BATCH_BYTES = 64 * 2**20


def _pending_bytes(power: list, loss: list) -> int:
    """Bytes of the draws the laws waiting to be fitted hold."""
    n = 0
    for _, item in power:
        for k in ("y_boot", "y_boot_noise"):
            n += item[k].nbytes if item[k] is not None else 0
    for _, item in loss:
        n += item["y_boot"].nbytes if item["y_boot"] is not None else 0
    return n


def fix_for(fix: dict | None, group: dict) -> dict:
    """The exponents ``fix`` holds in the laws of ``group`` (by column -> value): the
    entries for every group (``a``), then those whose ``COL=VALUE:`` qualifier matches
    the group (``options.fix_key``, ``in_group``), which win."""
    out, scoped = {}, {}
    for key, value in (fix or {}).items():
        where, name = fix_key(key)
        if not where:
            out[name] = value
        elif in_group(where, group):
            scoped[name] = value
    return {**out, **scoped}


def in_group(where, group: dict) -> bool:
    """True when ``group`` (by column -> value) has every (column, text) of ``where``."""
    return all(c in group and same_value(group[c], v) for c, v in where)


def same_value(x, text: str) -> bool:
    """A by value against the text a ``--fix`` key gives: as text, or as numbers (``bs=256``
    names the group whose bs is 256.0)."""
    if str(x) == text:
        return True
    try:
        return float(x) == float(text)
    except (TypeError, ValueError):
        return False


def check_fix_groups(fix: dict | None, optima: pd.DataFrame, by) -> None:
    """One line (ScalefitInputError) for a ``COL=VALUE:`` key of ``fix`` that names a
    column that is not a ``by`` column or matches no group: a typo would otherwise hold
    nothing, silently."""
    for key in fix or {}:
        where, _ = fix_key(key)
        if not where:
            continue
        for col, _ in where:
            if col not in by:
                raise ScalefitInputError(f"--fix {key}: {col} is not a --by column (by: "
                                         f"{', '.join(by) or 'none'})")
        groups = [g for g, _ in by_groups(optima, tuple(by))]
        if not any(in_group(where, g) for g in groups):
            cols = [c for c, _ in where]
            seen = sorted({", ".join(f"{c}={g[c]}" for c in cols) for g in groups})
            raise ScalefitInputError(f"--fix {key}: no group has "
                                     f"{', '.join(f'{c}={v}' for c, v in where)}; groups: "
                                     f"{'; '.join(seen[:8])}{' ...' if len(seen) > 8 else ''}")


def _fit_pending(laws: list, power: list, loss: list, fix) -> None:
    """Fit the waiting power laws and loss laws (each kind in one search), put each at its
    position in ``laws``, and empty both lists (their draws are freed)."""
    _fit_power_laws(laws, power, fix)
    fitted = loss_laws([item for _, item in loss])  # all waiting loss laws in one search
    for (i, item), law in zip(loss, fitted):
        laws[i] = law.replace(notes=(*law.notes, *item["notes"]))
    power.clear()
    loss.clear()


def law_points(sub: pd.DataFrame, include, notes: list[str] | None = None,
               label: str = "") -> pd.DataFrame:
    """The optima of one by group that enter its laws: statuses in ``include``, an included
    non-ok sweep with its best observed LR standing in for its optimum (never a "sweep" of
    a single LR), finite ``lr_opt`` only."""
    pts = sub[sub["status"].isin(include)]
    single = (pts["n_lrs"] < 2) & ~pts["status"].isin(["ok", "div_bracketed"])
    if single.any():
        if notes is not None:
            notes.append(f"{label}{int(single.sum())} included sweep(s) with a single LR left "
                         "out of the laws: one LR says nothing about the optimum")
        pts = pts[~single]
    pts = pts.assign(lr_opt=pts["lr_opt"].fillna(pts["lr_best"]))
    return pts[np.isfinite(pts["lr_opt"])]


_LAW_COLUMNS = ("scale", "horizon", "lr_opt", "curvature", "lr_tried_lo", "lr_tried_hi",
                "lr_diverged")


def _arrays(pts: pd.DataFrame) -> dict:
    """A law's points as arrays: the numeric columns the laws read, ``loss_opt``,
    ``status`` and ``index`` (the row labels: the points' columns in the resamples)."""
    out = {c: pts[c].to_numpy(float) for c in (*_LAW_COLUMNS, "loss_opt") if c in pts}
    out["status"] = pts["status"].to_numpy()
    out["index"] = pts.index.to_numpy()
    return out


def _parts(arr: dict, column: str) -> list[tuple[float, dict]]:
    """(value, points) per value of ``column``, sorted, rows in order; NaN values left out
    (as ``DataFrame.groupby(column, sort=True)``)."""
    v = arr[column]
    return [(val, {k: a[v == val] for k, a in arr.items()})
            for val in np.unique(v[~np.isnan(v)])]


def _nunique(v: np.ndarray) -> int:
    """Distinct values, NaN not counted (``Series.nunique``)."""
    return int(np.unique(v[~np.isnan(v)]).size)


def _power_law_items(pts: dict, boot, variables, group, ci, primary,
                     targets=("lr_opt", "curvature")) -> list[dict]:
    """The power laws of these points (``_arrays``) to fit: ``spec``
    (``core.laws.power_laws``), and for a law of lr_opt (``shape``: it gets its shape
    test) its draws and the curvatures."""
    out = []
    cols = pts["index"]
    arr = {c: pts[c] for c in _LAW_COLUMNS if c in pts}
    fitted = pts["status"] == "ok"
    for target in targets:
        keep = np.ones(len(cols), bool) if target == "lr_opt" else fitted
        if keep.sum() < len(variables) + 2:
            continue
        y = arr[target][keep]
        if target == "curvature" and not np.all(y > 0):
            continue
        yb, notes = None, []
        if boot is not None:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                if target == "lr_opt":  # see estimate._law_rule
                    yb = np.exp(boot.law_columns(cols))
                else:
                    yb = boot.columns("curvature", cols[keep])
                    yb = np.where(yb > 0, yb, np.nan)
            yb, notes = _with_noise(yb)
        values = {v: arr[v][keep] for v in variables}
        yb_noise = yb  # the shape test adds its own residual scatter to these
        yb, extra, w = with_excess(values, variables, y, yb, target,
                                   measured=(pts["status"] == "ok")[keep])
        notes = [*notes, *extra]
        spec = {"target": target, "values": values, "y": y,
                "y_boot": yb, "variables": variables, "group": dict(group), "ci_level": ci,
                "curvature": arr["curvature"] if target == "lr_opt" else None,
                "primary": primary,
                "domain": _domain({k: v[keep] for k, v in arr.items()}, variables),
                "audit_range": _audit_range(arr) if target == "lr_opt" else None,
                "notes": notes, "weights": w}
        out.append({"spec": spec, "y_boot": yb, "y_boot_noise": yb_noise,
                    "shape": target == "lr_opt", "curvature": arr.get("curvature")})
    return out


def _fit_power_laws(laws: list, power: list[tuple[int, dict]], fix) -> None:
    """Fit the power laws ``power`` (position in ``laws``, item of ``_power_law_items``)
    together (``power_laws``, ``with_shapes``) and put each at its position; ``fix``
    then holds exponents of each law of lr_opt."""
    fitted = power_laws([item["spec"] for _, item in power])
    shaped = [j for j, (_, item) in enumerate(power) if item["shape"]]
    for j, law in zip(shaped, with_shapes([fitted[j] for j in shaped],
                                          [power[j][1]["y_boot_noise"] for j in shaped],
                                          all_draws=False,
                                          weights=[power[j][1]["spec"]["weights"]
                                                   for j in shaped])):
        fitted[j] = law
    for (i, item), law in zip(power, fitted):
        held = fix_for(fix, item["spec"]["group"]) if item["shape"] else {}
        if held:
            law = with_fix(law, held, item["y_boot"], item["curvature"],
                           item["spec"]["weights"])
        laws[i] = law


# The laws whose points are weighted by their precision: those of the optima, the ones the
# backtests check against held-out optima (benchmarks/README.md, "Forecast backtests").
# The laws of the valley (curvature, k_lr, ...) stay unweighted.
WEIGHTED = ("lr_opt", "bs_opt", "lr_opt|bs")


def with_excess(values: dict, variables, y: np.ndarray, yb: np.ndarray | None, target: str,
                measured: np.ndarray | None = None
                ) -> tuple[np.ndarray | None, list[str], np.ndarray | None]:
    """A law's resampled points with the scatter of its points around it beyond their own
    noise added (``core.scatter``: tau^2 on n - k degrees of freedom; the noise seeded by
    the law's content: design, ``target`` and points), the note that says so when the
    points scatter more than 1.5x what their noise explains, and the points' weights in
    the law (``core.scatter.precision_weights``, for the targets in ``WEIGHTED``; None:
    unweighted; ``measured``: the points whose resamples measure their precision, the
    ``ok`` optima; default all)."""
    if yb is None:
        return None, [], None
    X = design({v: np.log(values[v]) for v in variables}, tuple(variables))
    yb, info = carry_excess_scatter(X, y, yb, key=target)
    note = excess_note(info, target)
    w = (precision_weights(X, np.log(y), info.get("v"), measured=measured)
         if target in WEIGHTED else None)
    notes = [note] if note else []
    lean = leaning_note(values, variables, w)
    return yb, notes + ([lean] if lean else []), w


def leaning_note(values: dict, variables, w: np.ndarray | None, share: float = 0.5
                 ) -> str | None:
    """One line when one point carries more than ``share`` of a weighted law's weight (its
    optimum far more precise than the others': the law leans on it), else None."""
    if w is None or len(w) < 3:
        return None
    w = np.asarray(w, float)
    j = int(np.argmax(w))
    s = float(w[j] / w.sum())
    if s <= share:
        return None
    at = ", ".join(f"{v} {float(values[v][j]):.3g}" for v in variables)
    return (f"the optimum at {at} carries {s:.0%} of the law's weight ({w[j] / np.median(w):.1f}x "
            "the median point's: measured far more precisely): the law leans on it")


def _with_noise(yb: np.ndarray):
    """The draws of a law's points, or None with a note when one of them has no measured
    noise (every draw NaN): an interval would come from the other points alone."""
    blind = ~np.isfinite(yb).any(0)
    if not blind.any():
        return yb, []
    return None, [f"no interval: {int(blind.sum())} of its {yb.shape[1]} optima carry no "
                  "measured noise (no replicates in their group, or no valid resample); add "
                  "seeds or LRs"]


def _domain(arr: dict, variables) -> dict:
    """(min, max) of every role variable in a law's points (see ``LawFit.domain``)."""
    dom = {v: (float(arr[v].min()), float(arr[v].max())) for v in ("scale", "horizon")
           if v in arr}
    if ("scale" in variables and "horizon" not in variables and "horizon" in dom
            and dom["horizon"][0] != dom["horizon"][1]):
        r = arr["horizon"] / arr["scale"]
        dom["horizon_per_scale"] = (float(r.min()), float(r.max()))
    return dom


def _audit_range(arr: dict) -> dict | None:
    """lr / lr_opt tried by the finite runs of a law's sweeps, and the lowest at which a
    run diverged above the optimum (``LawFit.audit_range``)."""
    if "lr_tried_lo" not in arr:
        return None
    opt = arr["lr_opt"]
    lo, hi, div = arr["lr_tried_lo"] / opt, arr["lr_tried_hi"] / opt, arr["lr_diverged"] / opt
    tried = ([float(np.nanmin(lo)), float(np.nanmax(hi))]
             if np.isfinite(lo).any() and np.isfinite(hi).any() else None)
    return {"ratio_tried": tried,
            "ratio_diverged": float(np.nanmin(div)) if np.isfinite(div).any() else None}


def _loss_law_item(pts: dict, boot, group, ci) -> dict:
    """A loss law of these points (``_arrays``) to fit (``core.losslaws.loss_laws``), and
    its notes."""
    finite = np.isfinite(pts["loss_opt"])
    cols = pts["index"][finite]
    yb, notes = (boot.columns("loss_opt", cols), []) if boot is not None else (None, [])
    if yb is not None:
        yb, notes = _with_noise(yb)
    return {"s": pts["scale"][finite], "y": pts["loss_opt"][finite],
            "y_boot": yb, "group": dict(group), "ci_level": ci, "notes": notes}


def law_variables(pts: pd.DataFrame) -> tuple[str, ...] | None:
    """The variables a primary law of these points can use: scale and horizon where each
    varies (>= 2 values), scale alone when horizon is tied to it (fixed tokens per
    parameter); None when neither varies."""
    has_s, has_d = "scale" in pts, "horizon" in pts
    vary_s = has_s and pts["scale"].nunique() >= 2
    vary_d = has_d and pts["horizon"].nunique() >= 2
    if vary_s and vary_d:
        if collinear(np.log(pts["scale"].to_numpy(float)), np.log(pts["horizon"].to_numpy(float))):
            return ("scale",)
        return ("scale", "horizon")
    return ("scale",) if vary_s else (("horizon",) if vary_d else None)


def _label(group: dict) -> str:
    return ("[" + ", ".join(f"{k}={v}" for k, v in group.items()) + "] ") if group else ""
