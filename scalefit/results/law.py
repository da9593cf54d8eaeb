"""``Law``: one fitted law as a result (the numeric ``core.laws.LawFit`` plus the protocol)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..core.bootstrap import percentile_ci
from ..core.laws import LawFit, design
from ..core.losslaws import ALPHA_GRID
from ..core.pyvalue import jsonable, num
from ..core.shape import SUMMARY_KEYS  # the keys of a shape test the JSON writes
from ..render.law_text import law_text
from ..render.tables import Text
from .base import draws_from_json, draws_to_json, level_or_stored


class Law(LawFit):
    """A fitted law: ``lr_opt = C * scale^a * horizon^b`` (or one variable), the same for
    ``curvature``, or ``loss_opt = L_inf + A * scale^alpha``.

    Attributes (immutable): ``target``, ``form``, ``variables``, ``group``, ``params``
    (name -> value), ``ci`` (name -> (lo, hi) at ``level``), ``r2_log``, ``rmse_log``
    (log space for power laws, loss units for loss laws), ``n_points``, ``param_names``,
    ``primary`` (the law of a ``by`` group in all its variables, not one at a fixed
    horizon or scale), ``extrapolation`` (leave-largest-out), ``notes``, ``boot``
    (bootstrap draws of the parameters, (B, k); ln C for a power law) and ``points``.
    ``predict_log(values)`` and ``curve(values, level)`` evaluate a power law.
    """

    @classmethod
    def of(cls, law: LawFit) -> Law:
        """The result form of a numeric law (no copy of its arrays: a LawFit's values are
        frozen already, so they are taken as they are)."""
        if isinstance(law, cls):
            return law
        new = object.__new__(cls)
        for f in fields(LawFit):
            object.__setattr__(new, f.name, getattr(law, f.name))
        return new

    # ------------------------------------------------------------------ protocol
    def conf_int(self, level: float | None = None) -> dict:
        """Percentile interval per parameter at ``level`` (default: the fit's), from the
        bootstrap draws; without draws, the stored intervals at the fit's level only."""
        lvl = level_or_stored(level, self.level, self.boot is not None, "this law")
        if self.boot is None or lvl == self.level:
            return {k: (None if v is None else tuple(v)) for k, v in self.ci.items()}
        lo_hi = percentile_ci(self.boot, lvl)
        out = {n: (float(lo_hi[0, i]), float(lo_hi[1, i])) for i, n in
               enumerate(self.param_names)}
        if self.target != "loss_opt" and self.param_names[0] == "C":
            out["C"] = (float(np.exp(lo_hi[0, 0])), float(np.exp(lo_hi[1, 0])))
        return out

    def summary(self) -> Text:
        """The law as the fit summary prints it: form, parameters with intervals, fit."""
        return law_text(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def to_dict(self, draws: bool = True) -> dict:
        """JSON-ready dict (docs/json-schema.md); ``draws``: the bootstrap draws, if any."""
        d = {
            "group": jsonable(self.group),
            "target": self.target,
            "form": self.form,
            "params": jsonable(self.params),
            "ci": jsonable(self.ci),
            "r2_log": num(self.r2_log),
            "rmse_log": num(self.rmse_log),
            "n_points": int(self.n_points),
            "primary": bool(self.primary),
            "extrapolation": jsonable(self.extrapolation),
            "notes": list(self.notes),
        }
        if self.target == "loss_opt":  # residuals of a loss law are in loss units
            d["r2"] = d.pop("r2_log")
            d["rmse"] = d.pop("rmse_log")
        if self.target != "loss_opt":
            d["ln_C"] = num(self.coef()[0])
        if self.points is not None:
            d["range"] = {v: list(self.value_range(v)) for v in self.variables}
            full = [v for v in (*self.variables, self.target)
                    if v in self.points and len(self.points[v]) == self.n_points]
            if len(full) == len(self.variables) + 1:  # what leverage and refits need
                d["points"] = {v: [num(x) for x in np.asarray(self.points[v], float)]
                               for v in full}
        if self.weights is not None and "points" in d:
            d["weights"] = [num(x) for x in np.asarray(self.weights, float)]
        if any(v not in ("scale", "horizon") for v in self.variables):
            d["variables"] = list(self.variables)  # a law in another variable (bs) names them
        if self.domain is not None:
            d["domain"] = {k: [float(a), float(b)] for k, (a, b) in self.domain.items()}
        if self.audit_range is not None:
            d["audit_range"] = jsonable(self.audit_range)
        if self.asymptote is not None:
            d["L_inf_identified"] = bool(self.asymptote.get("identified"))
            d["L_inf_reason"] = self.asymptote.get("reason")
        if self.shape is not None:
            d["shape"] = shape_json(self.shape, draws)
        if self.constraint is not None:
            d["constraint"] = jsonable(self.constraint)
        if draws and self.boot is not None:
            d["draws"] = draws_to_json(self.boot)  # (B, k); a power law: ln C, exponents
        return d

    @classmethod
    def from_dict(cls, d: dict, level: float = 0.95, where: str = "$") -> Law:
        """A law from ``to_dict`` output (its ``points``, or in older files its ``range``
        standing in for them). A law
        whose redundant fields disagree (``form`` and ``params``, ``C`` and ``ln_C``) is
        refused: ScalefitInputError naming the key (``where``: the law's JSON path)."""
        params = d["params"]
        variables = _variables(d)
        check_agrees(d, variables, where)
        return cls(
            target=d["target"], form=d["form"], variables=variables, group=dict(d["group"]),
            params={k: (np.nan if v is None else v) for k, v in params.items()},
            ci={k: (None if v is None else tuple(np.nan if x is None else x for x in v))
                for k, v in (d.get("ci") or {}).items()},
            r2_log=_nan(d.get("r2_log", d.get("r2"))),
            rmse_log=_nan(d.get("rmse_log", d.get("rmse"))),
            n_points=d["n_points"], param_names=tuple(params), primary=bool(d.get("primary")),
            extrapolation=d.get("extrapolation"), notes=tuple(d.get("notes", [])),
            boot=draws_from_json(d.get("draws")),
            points=_points(d, variables),
            level=level, log_C=d.get("ln_C"),
            domain={k: tuple(v) for k, v in d["domain"].items()} if d.get("domain") else None,
            audit_range=d.get("audit_range"),
            asymptote=({"identified": bool(d["L_inf_identified"]),
                        "reason": d.get("L_inf_reason")}
                       if d.get("L_inf_identified") is not None else None),
            shape=shape_from_json(d.get("shape"), variables),
            constraint=d.get("constraint"),
            weights=(np.asarray(d["weights"], float) if d.get("weights") is not None
                     and d.get("points") else None),
        )

    # ------------------------------------------------------------------ classical fits
    def lmfit_result(self):
        """A loss law refitted with lmfit from this estimate (``lmfit.MinimizerResult``)."""
        if self.target != "loss_opt":
            raise ValueError("lmfit_result applies to loss laws; see statsmodels_result")
        (var,) = self.variables
        return lmfit_loss_law(self._fitted(var), self._fitted("loss_opt"), self.params)

    def statsmodels_result(self):
        """A power law refitted with statsmodels in log space (classical errors, tests): WLS
        with the law's weights when it has them (``weights``: the same coefficients as the
        law), OLS otherwise."""
        if self.target == "loss_opt":
            raise ValueError("statsmodels_result applies to power laws; see lmfit_result")
        import statsmodels.api as sm

        X = design({v: np.log(self._fitted(v)) for v in self.variables}, self.variables)
        y = np.log(self._fitted(self.target))
        if self.weights is not None and len(self.weights) == len(y):
            return sm.WLS(y, X, weights=np.asarray(self.weights, float)).fit()
        return sm.OLS(y, X).fit()

    def _fitted(self, name: str) -> np.ndarray:
        pts = (self.points or {}).get(name)
        if pts is None or len(pts) != self.n_points:
            raise ValueError("this law holds only the range of its points (read from JSON); "
                             "refit to get the points")
        return np.asarray(pts, float)


def _points(d: dict, variables: tuple) -> dict | None:
    """The law's points from ``points`` when the file holds them (every variable and the
    target, n_points each), else each variable's (min, max) from ``range``."""
    pts = d.get("points") or {}
    names = (*variables, d["target"])
    if all(len(pts.get(v) or ()) == d["n_points"] for v in names):
        return {v: np.array([np.nan if x is None else x for x in pts[v]], float)
                for v in names}
    rng = d.get("range") or {}
    return {v: np.array(rng[v], float) for v in variables if v in rng} or None


def shape_json(shape, draws: bool) -> dict:
    """The shape test as JSON (docs/json-schema.md); with ``draws``, the bent law's draws
    and BIC weights that predictions average with."""
    out = jsonable({k: shape.get(k) for k in SUMMARY_KEYS})
    if shape.get("others"):  # the law's other variables' tests (no draws)
        out["others"] = [jsonable({k: o.get(k) for k in SUMMARY_KEYS}) for o in shape["others"]]
    if draws and shape.get("boot") is not None:
        out["draws"] = draws_to_json(shape["boot"])
        out["weights"] = draws_to_json(shape["weights"])
    return out


def shape_from_json(d, variables) -> dict | None:
    if d is None:
        return None
    out = dict(d)
    out["column"] = 1 + list(variables).index(d["variable"]) if d["variable"] in variables else 1
    if d.get("draws") is not None:
        out["boot"] = draws_from_json(d["draws"])
        out["weights"] = draws_from_json(d.get("weights"))
    out.pop("draws", None)
    if out.get("others"):
        out["others"] = [dict(o) for o in out["others"]]
    return out


def equivalence_rows(laws, margins: dict[str, float]) -> list[dict]:
    """Per primary law of lr_opt and exponent in ``margins``: is it within +-margin of 0 (or
    of the value ``--fix`` held it at, judged on its free interval)? Rows: ``group``,
    ``exponent``, ``value``, ``estimate``, ``ci``, ``margin``, ``verdict``."""
    from ..core.shape import equivalence
    from ..errors import ScalefitInputError
    from ..options import check

    laws = [law for law in laws if law.primary and law.target == "lr_opt"]
    names = {n for law in laws for n in law.param_names[1:]}
    for name, m in margins.items():
        if name not in names:
            raise ScalefitInputError(f"margin {name}: no law of lr_opt has exponent {name!r} "
                                     f"(they have {', '.join(sorted(names)) or 'none'})")
        check("margin", m, f"margin {name}")
    rows = []
    for law in laws:
        fixed = (law.constraint or {}).get("fixed", {})
        for name, m in margins.items():
            if name not in law.param_names[1:]:
                continue
            t = fixed.get(name)
            value, est, ci = ((t["value"], t["free"], t.get("free_ci")) if t else
                              (0.0, law.params[name], law.ci.get(name)))
            rows.append({"group": dict(law.group), "exponent": name, "value": float(value),
                         "estimate": float(est), "ci": None if ci is None else list(ci),
                         "margin": float(m), "verdict": equivalence(ci, m, value)})
    return rows


def _nan(v):
    return np.nan if v is None else v


EXPONENT_OF = {"a": "scale", "b": "horizon"}
LN_TOL = 1e-9  # |ln C - ln_C| allowed, relative to max(1, |ln_C|): float round trips


def _variables(d: dict) -> tuple[str, ...]:
    """The variables of a saved law: named, or read from its exponents (a: scale, b:
    horizon); a loss law's from its range."""
    if d["target"] == "loss_opt":
        return tuple(d.get("range") or ("scale",))[:1]
    if d.get("variables") is not None:
        return tuple(d["variables"])
    return tuple(EXPONENT_OF[p] for p in d["params"] if p in EXPONENT_OF)


def expected_form(target: str, names, variables) -> str:
    """The form a law of ``target`` with parameters ``names`` in ``variables`` prints."""
    if target == "loss_opt":
        return f"loss_opt = L_inf + A * {variables[0]}^alpha"
    if names[0] == "s0":  # a linear law in the logs (joint.py's _as_linear)
        return f"{target} = s0 + " + " + ".join(f"{n} * ln {v}" for n, v in
                                                zip(names[1:], variables))
    return f"{target} = {names[0]} * " + " * ".join(f"{v}^{n}" for v, n in
                                                    zip(variables, names[1:]))


def check_agrees(d: dict, variables, where: str = "$") -> None:
    """Refuse a saved law that contradicts itself: a ``form`` other than the one its
    parameters and variables give, parameters that are not those of its form, a ``C``
    that is not exp(``ln_C``). One ScalefitInputError line naming the key."""
    from ..errors import ScalefitInputError

    names = list(d["params"])
    loss = d["target"] == "loss_opt"
    if names != ["L_inf", "A", "alpha"] if loss else len(variables) != len(names) - 1:
        raise ScalefitInputError(
            f"key {where}.params: {', '.join(names) or 'none'} are not the parameters of "
            f"{d['form']!r}; the law was edited by hand or damaged: refit")
    form = expected_form(d["target"], names, variables)
    if d["form"] != form:
        raise ScalefitInputError(
            f"key {where}.form: {d['form']!r} is not the law its params give ({form!r}); "
            "the law was edited by hand or damaged: restore it or refit")
    if not loss and d.get("ln_C") is not None:
        c = d["params"][names[0]]
        if names[0] == "s0":  # s0 is ln C itself
            c = None if c is None or c > 709.78 else float(np.exp(c))
        _check_ln_c(c, d["ln_C"], f"{where}.params.{names[0]}", names[0])


def _check_ln_c(c, ln_c: float, key: str, name: str) -> None:
    """``c`` (None: beyond floating point) must be exp(``ln_c``)."""
    from ..errors import ScalefitInputError

    if c is None or c == 0:
        fine = ln_c > 709.78 if c is None else ln_c < -745.13  # over-/underflows
    else:
        fine = c > 0 and abs(np.log(c) - ln_c) <= LN_TOL * max(1.0, abs(ln_c))
    if not fine:
        with np.errstate(over="ignore"):
            exact = f"{np.exp(ln_c):.10g}"
        raise ScalefitInputError(
            f"key {key}: {c!r} disagrees with ln_{name} = {ln_c!r} ({name} = exp(ln {name}) "
            f"= {exact}); predictions use ln_{name}: edit both, or refit")


def lmfit_loss_law(s: np.ndarray, y: np.ndarray, start):
    """lmfit fit of ``y = L_inf + A s^alpha`` (A > 0, alpha in the search range) from ``start``.

    Returns the ``lmfit.MinimizerResult`` (``params`` with ``A`` in original units,
    ``stderr``, ``correl``, ``fit_report``) for users who want classical errors.
    """
    import lmfit

    p = lmfit.Parameters()
    p.add("L_inf", value=start["L_inf"])
    p.add("A", value=start["A"], min=0)
    p.add("alpha", value=start["alpha"], min=float(ALPHA_GRID[0]), max=float(ALPHA_GRID[-1]))

    def resid(par):
        return par["L_inf"].value + par["A"].value * s ** par["alpha"].value - y

    return lmfit.minimize(resid, p, method="least_squares")
