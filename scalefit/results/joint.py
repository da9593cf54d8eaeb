"""``JointFit``: the joint LR x batch-size part of a fit (``FitResult.joint``); immutable.

It holds the joint optimum of every (``by`` group, scale, horizon), the laws of the joint
optima and of the valley's curvature, the batch-size-aware LR law, and the exponents of lr*
at a fixed batch size and along the optimal one. ``predict`` and ``audit`` take a batch
size; ``to_dict`` / ``from_dict`` are its JSON (docs/json-schema.md, key ``joint``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..core import decisions as dec
from ..core import joint as cj
from ..core.bootstrap import percentile_ci
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable, py_scalar
from ..errors import ExtrapolationWarning, ScalefitInputError
from ..options import check
from ..render import joint_text
from ..selection import matching, select
from .base import Immutable, draws_from_json, draws_to_json
from .decisions import _Rows
from .law import Law

# Optima columns that are text, not numbers.
TEXT_COLUMNS = ("status", "lr_opt_ci_open", "bs_opt_ci_open")


class JointFit(Immutable):
    """Joint optima and laws of a fit with ``joint=COLUMN`` (see the module doc).

    ``column``: the joint column (the batch size); ``by``: the ``by`` columns of the
    joint groups (the fit's, without ``column``); ``optima``: DataFrame (a copy on each
    access), one row per joint group: keys, ``lr_opt``, ``bs_opt`` (in the column's units)
    with intervals (``_lo``/``_hi``, open ends in ``lr_opt_ci_open``/``bs_opt_ci_open``),
    ``loss_opt``, the curvature matrix ``k_lr``, ``k_lr_bs``, ``k_bs`` (loss per (ln lr)^2,
    per ln lr ln bs, per (ln bs)^2), the valley's ``lr_bs_slope`` and ``k_bs_floor``, each
    with an interval, ``status``, counts and the grid tried; ``laws``: ``Law`` of
    ``lr_opt``, ``bs_opt``, ``k_lr``, ``lr_bs_slope``, ``k_bs_floor`` per by group;
    ``bs_laws``: the batch-size-aware LR law per by group; ``exponents``: rows of the
    exponents side by side; ``notes``; ``runs``: per joint group ``lr``, ``bs``, ``loss``;
    ``draws``: the resampled optima as the laws use them, ``{"ln_lr", "ln_bs"}`` each
    (B, joint groups) in optima row order, or None (no resamples, or read from JSON:
    backtests of the joint optima need them).
    """

    __slots__ = ("column", "by", "_optima", "laws", "bs_laws", "exponents", "notes", "runs",
                 "level", "draws")

    def __init__(self, column: str, by, optima: pd.DataFrame, laws, bs_laws, exponents,
                 notes=(), runs=None, level: float = 0.95, draws=None):
        values = {"column": column, "by": tuple(by), "_optima": optima.copy(),
                  "laws": tuple(Law.of(x) for x in laws),
                  "bs_laws": tuple(Law.of(x) for x in bs_laws),
                  "exponents": freeze([dict(e) for e in exponents]), "notes": tuple(notes),
                  "runs": None if runs is None else freeze(list(runs)), "level": float(level),
                  "draws": None if draws is None else freeze(dict(draws))}
        self._set(values)

    @property
    def optima(self) -> pd.DataFrame:
        return self._optima.copy()

    def __repr__(self) -> str:
        n_ok = int((self._optima["status"] == "ok").sum())
        return f"<JointFit {self.column}: {len(self._optima)} groups ({n_ok} ok), " \
               f"{len(self.laws)} laws>"

    # ------------------------------------------------------------------ laws
    def law(self, target: str = "lr_opt", group: dict | None = None):
        """The joint law of ``target`` (``lr_opt``, ``bs_opt``, ``k_lr``, ``lr_bs_slope``,
        ``k_bs_floor``; ``lr_opt_bs`` for the batch-size-aware LR law) for ``group``: the
        Law when one matches, a list when several, None when none."""
        pool = self.bs_laws if target == "lr_opt_bs" else self.laws
        tgt = "lr_opt" if target == "lr_opt_bs" else target
        hits = matching([law for law in pool if law.target == tgt], group,
                        lambda law: law.group)
        return hits[0] if len(hits) == 1 else (hits or None)

    def _one(self, pool, target, group):
        for law in pool:
            if law.target == target and law.group == group:
                return law
        return None

    def groups(self, group: dict | None = None) -> list[dict]:
        """The by-groups with a joint law of lr_opt (those ``group`` selects only:
        ``scalefit.selection``)."""
        out = [dict(law.group) for law in self.laws if law.target == "lr_opt"]
        out = select(out, group, self.by, where="the joint fit")
        if not out:
            raise ScalefitInputError("the joint fit has no law of lr_opt for that group; it "
                                     "needs ok joint optima at 3 or more scales or horizons")
        return out

    # ------------------------------------------------------------------ decisions
    def predict(self, scale=None, horizon=None, bs=None, group: dict | None = None,
                seed: int = 0) -> JointPrediction:
        """lr* and bs* at (scale, horizon) from the joint laws, per by group; with ``bs``
        also the best LR at that batch size: from the batch-size-aware law (``lr_at_bs``)
        and along the surface's valley (``lr_valley``)."""
        check("bs", bs)
        rows = [self._predict_row(g, scale, horizon, bs, seed) for g in self.groups(group)]
        _warn(rows)
        return JointPrediction(rows=rows, level=self.level, scale=scale, horizon=horizon,
                               bs=bs, column=self.column)

    def _predict_row(self, g, scale, horizon, bs, seed) -> dict:
        lr_law, bs_law = self._one(self.laws, "lr_opt", g), self._one(self.laws, "bs_opt", g)
        p = dec.predict(lr_law, scale, horizon, self.level, seed)
        q = dec.predict(bs_law, scale, horizon, self.level, seed + 1)
        row = {"group": g, "scale": scale, "horizon": horizon, "bs": bs,
               "lr": p["lr"], "lr_ci": p["lr_ci"], "lr_pi": p["lr_pi"],
               "bs_opt": q["lr"], "bs_opt_ci": q["lr_ci"], "bs_opt_pi": q["lr_pi"],
               "law": lr_law.form, "bs_law": bs_law.form,
               "extrapolation": sorted(set(p["extrapolation"] + q["extrapolation"])),
               "assumptions": list(dict.fromkeys(p["assumptions"] + q["assumptions"])),
               "draws_log": p["draws_log"], "bs_draws_log": q["draws_log"],
               "lr_at_bs": None, "lr_at_bs_ci": None, "lr_at_bs_pi": None, "bs_aware_law": None,
               "lr_valley": None, "lr_valley_ci": None, "at_bs_draws_log": None,
               "valley_draws_log": None}
        if bs is None:
            return row
        law_c = self._one(self.bs_laws, "lr_opt", g)
        if law_c is not None:
            vals = {"scale": scale, "horizon": horizon, "bs": bs}
            missing = [v for v in law_c.variables if vals[v] is None]
            if missing:
                raise ScalefitInputError(f"the law {law_c.form} needs {', '.join(missing)}")
            r = cj.predict_at(law_c, vals, self.level, seed + 2)
            row.update(lr_at_bs=r["value"], lr_at_bs_ci=r["ci"], lr_at_bs_pi=r["pi"],
                       bs_aware_law=law_c.form, at_bs_draws_log=r["draws_log"])
            row["extrapolation"] = sorted(set(row["extrapolation"]
                                              + dec.extrapolation(law_c, {k: vals[k] for k in
                                                                          law_c.variables})))
        slope = self._one(self.laws, "lr_bs_slope", g)
        s_val, s_draws = slope.predict_log(dec.needed(slope, scale, horizon))
        ly, ly_d = lr_law.predict_log(dec.needed(lr_law, scale, horizon))
        lb, lb_d = bs_law.predict_log(dec.needed(bs_law, scale, horizon))
        row["lr_valley"] = float(np.exp(ly + s_val * (math.log(bs) - lb)))
        if ly_d is not None and lb_d is not None and s_draws is not None:
            d = ly_d + s_draws * (math.log(bs) - lb_d)
            row["valley_draws_log"] = d
            row["lr_valley_ci"] = np.exp(cj_ci(d, self.level)).tolist()
        return row

    def audit(self, lr_used: float, scale=None, horizon=None, bs=None,
              group: dict | None = None, seed: int = 0) -> JointAudit:
        """The loss cost of training at (``lr_used``, ``bs``) instead of the joint optimum,
        per by group: ``penalty = k_lr (d_lr - slope d_bs)^2 + k_bs_floor d_bs^2`` with
        d = the errors in ln lr and ln bs, each curvature term from its own law; without
        ``bs``, at the predicted bs*. No penalty where the data cannot give one (beyond the
        LRs or batch sizes tried, or where runs diverged): ``penalty_reason`` says why."""
        check("lr", lr_used)
        pred = self.predict(scale, horizon, None, group, seed)
        rows = []
        for row in pred.rows:
            rows.append(self._audit_row(dict(thaw(row)), lr_used, scale, horizon, bs))
        return JointAudit(rows=rows, level=self.level, lr=float(lr_used), scale=scale,
                          horizon=horizon, bs=bs, column=self.column)

    def _audit_row(self, row, lr_used, scale, horizon, bs) -> dict:
        g = row["group"]
        laws = {t: self._one(self.laws, t, g) for t in cj_targets()}
        vals = {t: laws[t].predict_log(dec.needed(laws[t], scale, horizon)) for t in laws}
        ly, lb = vals["lr_opt"][0], vals["bs_opt"][0]
        bs_used = float(bs) if bs is not None else float(np.exp(lb))
        dx, dy = math.log(lr_used) - ly, math.log(bs_used) - lb
        slope = vals["lr_bs_slope"][0]
        k_lr, k_floor = float(np.exp(vals["k_lr"][0])), float(np.exp(vals["k_bs_floor"][0]))
        total, p_lr, p_bs = cj.penalty(dx, dy, k_lr, slope, k_floor)
        ratio, bs_ratio = math.exp(dx - slope * dy), math.exp(dy)
        reason = cj.penalty_reason(laws["lr_opt"].audit_range, ratio, bs_ratio)
        row.update(lr_used=float(lr_used), bs_used=bs_used, bs_given=bs is not None,
                   lr_valley=float(np.exp(ly + slope * dy)), ratio=ratio, bs_ratio=bs_ratio,
                   k_lr=k_lr, lr_bs_slope=float(slope), k_bs_floor=k_floor,
                   penalty=None if reason else float(total),
                   penalty_lr=None if reason else float(p_lr),
                   penalty_bs=None if reason else float(p_bs),
                   penalty_ci=None, penalty_reason=reason, penalty_draws=None)
        for t in ("k_lr", "lr_bs_slope", "k_bs_floor"):
            row["extrapolation"] = sorted(set(row["extrapolation"] + dec.extrapolation(
                laws[t], dec.needed(laws[t], scale, horizon))))
        draws = [vals[t][1] for t in cj_targets()]
        if reason is None and all(d is not None for d in draws):
            dl, db, dk, ds, df = draws
            ddx = math.log(lr_used) - dl
            ddy = (math.log(bs_used) - db) if bs is not None else np.zeros_like(db)
            pd_ = cj.penalty(ddx, ddy, np.exp(dk), ds, np.exp(df))[0]
            row["penalty_draws"] = pd_
            row["penalty_ci"] = cj_ci(pd_, self.level).tolist()
        for k in ("draws_log", "bs_draws_log", "at_bs_draws_log", "valley_draws_log"):
            row.pop(k, None)
        return row

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Each joint and batch-size-aware law's parameters by ``"target [group]"``."""
        return {_key(law, p): dict(law.params) for p, pool in (("", self.laws),
                                                                ("bs-aware ", self.bs_laws))
                for law in pool}

    def conf_int(self, level: float | None = None) -> dict:
        return {_key(law, p): law.conf_int(level) for p, pool in (("", self.laws),
                                                                  ("bs-aware ", self.bs_laws))
                for law in pool}

    def summary(self, per_bs_laws=()):
        """The joint part of the fit summary (a Document)."""
        return joint_text.joint_document(self, per_bs_laws)

    def __str__(self) -> str:
        return self.summary().to_text()

    def to_dict(self, draws: bool = True) -> dict:
        """JSON-ready (docs/json-schema.md, ``joint``); ``draws``: the laws' bootstrap draws."""
        opt = []
        for _, r in self._optima.iterrows():
            d = {"group": {b: py_scalar(r[b]) for b in self.by},
                 "scale": py_scalar(r["scale"]) if "scale" in r else None,
                 "horizon": py_scalar(r["horizon"]) if "horizon" in r else None}
            for c in self._optima.columns:
                if c not in self.by and c not in ("scale", "horizon"):
                    d[c] = py_scalar(r[c]) if c in TEXT_COLUMNS else r[c]
            for c in TEXT_COLUMNS[1:]:
                d[c] = d.get(c) or None
            opt.append(d)
        exps = []
        for e in thaw(self.exponents):
            e.pop("along_draws", None)
            exps.append(e)
        runs = None
        if self.runs is not None:
            runs = [{k: jsonable(r[k]) for k in ("lr", "bs", "loss")} for r in self.runs]
        return jsonable({"column": self.column, "by": list(self.by), "optima": opt,
                         "laws": [law.to_dict(draws=draws) for law in self.laws],
                         "bs_laws": [law.to_dict(draws=draws) for law in self.bs_laws],
                         "exponents": exps, "notes": list(self.notes), "runs": runs})

    @classmethod
    def from_dict(cls, d: dict, level: float) -> JointFit:
        rows = []
        for o in d["optima"]:
            r = {**o["group"], **{k: o[k] for k in ("scale", "horizon") if o.get(k) is not None}}
            r.update({k: v for k, v in o.items() if k not in ("group", "scale", "horizon")})
            rows.append(r)
        optima = pd.DataFrame(rows)
        for c in optima.columns:
            if c in TEXT_COLUMNS:
                optima[c] = optima[c].fillna("")
            elif c not in d["by"]:
                optima[c] = pd.to_numeric(optima[c], errors="coerce")
        runs = None
        if d.get("runs") is not None:
            runs = [{k: draws_from_json(r[k]) for k in ("lr", "bs", "loss")} for r in d["runs"]]
        return cls(column=d["column"], by=d["by"], optima=optima,
                   laws=[Law.from_dict(x, level, f"$.joint.laws[{i}]")
                         for i, x in enumerate(d["laws"])],
                   bs_laws=[Law.from_dict(x, level, f"$.joint.bs_laws[{i}]")
                            for i, x in enumerate(d["bs_laws"])],
                   exponents=d.get("exponents", []), notes=d.get("notes", []), runs=runs,
                   level=level)


def cj_targets():
    return ("lr_opt", "bs_opt", "k_lr", "lr_bs_slope", "k_bs_floor")


def cj_ci(draws, level):
    return percentile_ci(draws, level)


def _key(law, prefix="") -> str:
    g = ", ".join(f"{k}={v}" for k, v in law.group.items())
    return prefix + law.target + (f" [{g}]" if g else "")


def _warn(rows) -> None:
    for m in dict.fromkeys(a for r in rows for a in r.get("assumptions") or []):
        if "assumes" in m:
            warnings.warn(m, ExtrapolationWarning, stacklevel=3)


class JointPrediction(_Rows):
    """lr* and bs* per by group at (scale, horizon) from a joint fit; with ``bs``, the best
    LR at that batch size. Row keys: ``group``, ``lr``/``lr_ci``/``lr_pi``, ``bs_opt``/
    ``bs_opt_ci``/``bs_opt_pi``, ``lr_at_bs``/``lr_at_bs_ci``/``lr_at_bs_pi`` (the
    batch-size-aware law), ``lr_valley``/``lr_valley_ci`` (along the surface's valley:
    lr* (bs / bs*)^slope), the laws' forms, ``extrapolation``, ``assumptions``."""

    draw_keys = ("draws_log", "bs_draws_log", "at_bs_draws_log", "valley_draws_log")

    def __init__(self, rows, level=0.95, interval_source=None, scale=None, horizon=None,
                 bs=None, column="bs"):
        super().__init__(rows=rows, level=level, interval_source=interval_source)
        for k, v in (("scale", scale), ("horizon", horizon), ("bs", bs), ("column", column)):
            object.__setattr__(self, k, v)

    @property
    def params(self) -> dict:
        return {joint_text.label(r["group"]): {"lr": r["lr"], "bs_opt": r["bs_opt"],
                                               "lr_at_bs": r["lr_at_bs"]} for r in self.rows}

    def conf_int(self, level: float | None = None) -> dict:
        if level is not None and not math.isclose(level, self.level):
            raise ValueError("a joint prediction holds its intervals at the fit's level only")
        return {joint_text.label(r["group"]): {k: r[k] for k in ("lr_ci", "lr_pi", "bs_opt_ci",
                                                                 "lr_at_bs_ci", "lr_valley_ci")}
                for r in self.rows}

    def summary(self):
        return joint_text.prediction_table(self)

    def to_dict(self, draws: bool = True) -> dict:
        return {"scale": self.scale, "horizon": self.horizon, "bs": self.bs,
                "column": self.column, "ci_level": self.level,
                "predictions": self._rows_dict(draws)}

    @classmethod
    def from_dict(cls, d: dict) -> JointPrediction:
        return cls(rows=cls._rows_from(d["predictions"]), level=d["ci_level"],
                   scale=d.get("scale"), horizon=d.get("horizon"), bs=d.get("bs"),
                   column=d.get("column", "bs"))


class JointAudit(_Rows):
    """The loss cost of (lr, bs) per by group from a joint fit. Row keys: those of a joint
    prediction and ``lr_used``, ``bs_used`` (``bs_given`` False: the predicted bs*),
    ``lr_valley`` (the best LR at ``bs_used``), ``ratio`` (lr / lr_valley), ``bs_ratio``
    (bs / bs*), ``penalty`` with ``penalty_ci``, its parts ``penalty_lr`` (the LR's distance
    from the valley) and ``penalty_bs`` (the batch size with the LR re-optimized), the
    curvature terms ``k_lr``, ``lr_bs_slope``, ``k_bs_floor``, and ``penalty_reason``."""

    draw_keys = ("penalty_draws",)

    def __init__(self, rows, level=0.95, interval_source=None, lr=float("nan"), scale=None,
                 horizon=None, bs=None, column="bs"):
        super().__init__(rows=rows, level=level, interval_source=interval_source)
        for k, v in (("lr", lr), ("scale", scale), ("horizon", horizon), ("bs", bs),
                     ("column", column)):
            object.__setattr__(self, k, v)

    @property
    def params(self) -> dict:
        return {joint_text.label(r["group"]): r["penalty"] for r in self.rows}

    def conf_int(self, level: float | None = None) -> dict:
        if level is None or math.isclose(level, self.level):
            return {joint_text.label(r["group"]): {"penalty_ci": r["penalty_ci"]}
                    for r in self.rows}
        if not all(r.get("penalty_draws") is not None for r in self.rows):
            raise ValueError("this audit holds no bootstrap draws: intervals at the fit's "
                             "level only")
        return {joint_text.label(r["group"]): {"penalty_ci": tuple(
            cj_ci(r["penalty_draws"], level).tolist())} for r in self.rows}

    def summary(self):
        return joint_text.audit_table(self)

    def to_dict(self, draws: bool = True) -> dict:
        return {"lr": self.lr, "scale": self.scale, "horizon": self.horizon, "bs": self.bs,
                "column": self.column, "ci_level": self.level, "audits": self._rows_dict(draws)}

    @classmethod
    def from_dict(cls, d: dict) -> JointAudit:
        return cls(rows=cls._rows_from(d["audits"]), level=d["ci_level"], lr=d["lr"],
                   scale=d.get("scale"), horizon=d.get("horizon"), bs=d.get("bs"),
                   column=d.get("column", "bs"))


__all__ = ["JointFit", "JointPrediction", "JointAudit", "draws_to_json"]
