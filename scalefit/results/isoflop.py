"""``IsoflopResult``: IsoFLOP profiles, their optima and the compute-optimal laws in C.

Immutable, with the result protocol (``params``, ``conf_int(level)``, ``summary()``,
``to_dict()``, ``from_dict()``), ``law(target, group)``, ``allocate(C)`` (Approach 2:
N*, D*, D*/N* and loss at new budgets from the laws' draws), ``plot()`` and ``save()``.
The laws are ``core.laws.LawFit`` objects in the variable ``C`` (the budget, FLOPs):
``N_opt = k * C^a``, ``D_opt = k * C^b``, ``tokens_per_param = k * C^c`` and
``loss_opt = L_inf + A * C^alpha``; their draws are (ln k, exponent) per resample.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._version import __version__
from ..core.allocation import power_law_allocation
from ..core.bootstrap import percentile_ci
from ..core.frozen import freeze
from ..core.laws import LawFit
from ..core.pyvalue import jsonable, num, py_item
from ..errors import ExtrapolationWarning, ScalefitInputError
from ..render.format import group_label
from ..schema import ISOFLOP_SCHEMA_VERSION
from ..selection import matching
from .allocation import Allocation, check_budgets
from .base import Immutable, draws_from_json, draws_to_json, level_or_stored

PROFILE_KEYS = ("budget", "n_runs", "n_diverged", "N_opt", "N_opt_lo", "N_opt_hi", "D_opt",
                "D_opt_lo", "D_opt_hi", "tokens_per_param", "tokens_per_param_lo",
                "tokens_per_param_hi", "loss_opt", "loss_opt_lo", "loss_opt_hi", "curvature",
                "N_best", "D_best", "status", "n_levels", "n_window", "fit_rmse",
                "N_window_lo", "N_window_hi", "boot_valid", "boot_kind", "N_opt_ci_open",
                "D_opt_ci_open", "tokens_per_param_ci_open", "N_tried_lo", "N_tried_hi",
                "D_tried_lo", "D_tried_hi", "tokens_per_param_tried_lo",
                "tokens_per_param_tried_hi")
OPEN_KEYS = ("N_opt_ci_open", "D_opt_ci_open", "tokens_per_param_ci_open")
INT_KEYS = ("n_runs", "n_diverged", "n_levels", "n_window")


class IsoflopResult(Immutable):
    """An IsoFLOP analysis (``scalefit.fit_isoflop``); immutable.

    ``profiles``: DataFrame, one row per profile (``by`` columns, ``budget`` C, N*, D*,
    D*/N*, loss at the optimum with ``_lo``/``_hi`` intervals, ``curvature`` per (ln N)^2,
    ``status``, best observed N, counts); ``laws``: the ``LawFit`` objects; ``input``,
    ``settings``, ``notes``, ``warnings`` (pooling hints); ``runs``: per profile the runs'
    ``N`` and ``loss`` (NaN = diverged), for figures; ``draws``: the resampled optima
    (``ln_N``, ``ln_D``, ``loss``: (B, profiles); in memory only); ``origin``: the file a
    loaded result came from.
    """

    __slots__ = ("_profiles", "laws", "input", "settings", "notes", "warnings", "runs", "draws",
                 "origin")

    def __init__(self, profiles: pd.DataFrame, laws, input: dict, settings: dict, notes=(),
                 warnings=(), runs=None, draws=None, origin: str | None = None):
        values = {"_profiles": profiles.copy(), "laws": tuple(laws), "input": freeze(input),
                  "settings": freeze(settings), "notes": tuple(notes),
                  "warnings": tuple(warnings), "runs": None if runs is None else freeze(runs),
                  "draws": None if draws is None else freeze(draws), "origin": origin}
        self._set(values)

    @property
    def profiles(self) -> pd.DataFrame:
        """One row per profile (a copy)."""
        return self._profiles.copy()

    @property
    def by(self) -> list[str]:
        return list(self.input["by"])

    @property
    def level(self) -> float:
        return float(self.settings["ci"])

    def law(self, target: str = "N_opt", group: dict | None = None):
        """The law of ``target`` (``N_opt``, ``D_opt``, ``tokens_per_param``, ``loss_opt``)
        for ``group``; a list when the selection matches several groups."""
        hit = matching([law for law in self.laws if law.target == target], group,
                       lambda law: law.group)
        if not hit:
            raise ScalefitInputError(f"no law of {target}" + (f" for {group}" if group else "")
                                     + "; it needs optima at 3 or more budgets (4 for the loss)")
        return hit[0] if len(hit) == 1 else hit

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Every law's parameters, keyed by ``"target [group]"``."""
        return {_key(law): dict(law.params) for law in self.laws}

    def conf_int(self, level: float | None = None) -> dict:
        """Every law's intervals at ``level`` (default the fit's), keyed as ``params``."""
        has = any(law.boot is not None for law in self.laws)
        lvl = level_or_stored(level, self.level, has, "this IsoFLOP fit")
        out = {}
        for law in self.laws:
            if law.boot is None or lvl == self.level:
                out[_key(law)] = {k: (None if v is None else tuple(v)) for k, v in law.ci.items()}
                continue
            lo_hi = percentile_ci(law.boot, lvl)
            iv = {n: (float(lo_hi[0, i]), float(lo_hi[1, i]))
                  for i, n in enumerate(law.param_names)}
            if law.target != "loss_opt":
                k = law.param_names[0]
                iv[k] = (float(np.exp(lo_hi[0, 0])), float(np.exp(lo_hi[1, 0])))
            out[_key(law)] = iv
        return out

    def allocate(self, budgets, group: dict | None = None,
                 level: float | None = None) -> Allocation:
        """Compute-optimal N*, D*, D*/N* and loss at ``budgets`` (FLOPs) from the group's
        laws (Approach 2), with intervals from the laws' paired bootstrap draws."""
        c = check_budgets(budgets)
        n_law = self.law("N_opt", group)
        if isinstance(n_law, list):
            raise ScalefitInputError(f"{len(n_law)} groups have laws; choose one with group="
                                     f"{{...}} (e.g. {dict(n_law[0].group)})")
        g = dict(n_law.group)
        d_law = self.law("D_opt", g)
        loss = [law for law in self.laws if law.target == "loss_opt" and dict(law.group) == g]
        l_law = loss[0] if loss else None
        has = n_law.boot is not None
        lvl = level_or_stored(level, self.level, has, "this IsoFLOP fit")
        point = power_law_allocation(n_law.coef(), d_law.coef(), c,
                                     None if l_law is None else _loss_coef(l_law))
        draws = None
        if has:
            draws = power_law_allocation(n_law.boot, d_law.boot, c,
                                         None if l_law is None or l_law.boot is None
                                         else l_law.boot)
        sel = self._profiles
        for k, v in g.items():
            sel = sel[sel[k].astype(str) == str(v)]
        sel = sel[sel["status"] == "ok"]
        rng = {"C": list(n_law.value_range("C"))}
        if len(sel):
            rng["N"] = [float(sel["N_opt"].min()), float(sel["N_opt"].max())]
            rng["D"] = [float(sel["D_opt"].min()), float(sel["D_opt"].max())]
        src = (f"intervals: the {len(n_law.boot)} bootstrap draws of the laws" if has else
               "point estimates only: the fit has no bootstrap draws")
        law = f"{n_law.form}; {d_law.form}" + (f"; {l_law.form}" if l_law else "")
        result = Allocation.build(c, point, draws, lvl, method="isoflop", law=law,
                                  group=g or None, data_range=rng, interval_source=src)
        for m in result.messages():
            warnings.warn(m, ExtrapolationWarning, stacklevel=2)
        return result

    def summary(self):
        """A Document: what ``scalefit isoflop`` prints."""
        from ..render.isoflop_text import isoflop_document

        return isoflop_document(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        n_ok = int((self._profiles["status"] == "ok").sum())
        return (f"<IsoflopResult {len(self._profiles)} profiles ({n_ok} ok), "
                f"{len(self.laws)} laws, n_boot={self.settings['n_boot']}>")

    def _repr_markdown_(self) -> str:
        return self.summary().to_markdown()

    def plot(self, which=None) -> dict:
        """Figures by name: ``profiles`` (loss vs N per budget, with parabolas and optima)
        and ``law`` (N* and D* vs C with the laws and their bands)."""
        from ..render.isoflop_figures import isoflop_figures

        return isoflop_figures(self, which)

    def save_figures(self, directory) -> dict:
        """Write the figures as PNG and SVG into ``directory`` (atomically): name -> path."""
        from pathlib import Path

        from ..files import make_folder
        from ..render.figure_kit import save_figure

        out = make_folder(Path(directory), "--figures")
        paths = {}
        for name, fig in self.plot().items():
            for fmt_, p in zip(("png", "svg"), save_figure(fig, out / f"isoflop_{name}")):
                paths[f"isoflop_{name}.{fmt_}"] = str(p)
        return paths

    # ------------------------------------------------------------------ JSON
    def save(self, path, draws: bool = True):
        """Write ``to_dict()`` as JSON to ``path`` atomically (never over the table read)."""
        from ..files import check_outputs, write_json

        source = self.input.get("source") if self.origin is None else None
        check_outputs(str(path), None, [source] if source and not str(source).startswith("<")
                      else [])
        return write_json(path, self.to_dict(draws=draws))

    def to_dict(self, draws: bool = True) -> dict:
        """JSON-ready (docs/json-schema.md); ``draws``: the laws' bootstrap draws."""
        runs = None
        if self.runs is not None:
            runs = [{"N": [float(v) for v in r["N"]],
                     "loss": [None if not np.isfinite(v) else float(v) for v in r["loss"]]}
                    for r in self.runs]
        return {
            "schema_version": ISOFLOP_SCHEMA_VERSION, "version": __version__,
            "input": jsonable(self.input), "settings": jsonable(self.settings),
            "profiles": [self._profile_dict(r) for _, r in self._profiles.iterrows()],
            "laws": [law_to_dict(law, draws) for law in self.laws],
            "notes": list(self.notes), "warnings": list(self.warnings), "runs": runs,
        }

    def _profile_dict(self, r: pd.Series) -> dict:
        out = {"group": {b: py_item(r[b]) for b in self.by}}
        for k in PROFILE_KEYS:
            if k not in r:
                continue
            v = r[k]
            if k in OPEN_KEYS:  # "low", "high", "both"; null when closed
                out[k] = v if isinstance(v, str) and v else None
                continue
            out[k] = (int(v) if k in INT_KEYS else v if isinstance(v, str) or v is None
                      else num(v))
        return out

    @classmethod
    def from_dict(cls, d: dict, origin: str | None = None) -> IsoflopResult:
        by = list(d["input"].get("by", []))
        rows = [{**{b: p["group"][b] for b in by},
                 **{k: ("" if k in OPEN_KEYS and v is None else
                        np.nan if v is None and k not in ("status", "boot_kind") else v)
                    for k, v in p.items() if k != "group"}} for p in d["profiles"]]
        profiles = pd.DataFrame(rows, columns=by + [k for k in PROFILE_KEYS
                                                    if any(k in r for r in rows)])
        level = float(d["settings"]["ci"])
        runs = None
        if d.get("runs") is not None:
            runs = [{"N": np.array(r["N"], float),
                     "loss": np.array([np.nan if v is None else v for v in r["loss"]], float)}
                    for r in d["runs"]]
        return cls(profiles=profiles, laws=[law_from_dict(x, level) for x in d["laws"]],
                   input=d["input"], settings=d["settings"], notes=d.get("notes", []),
                   warnings=d.get("warnings", []), runs=runs, origin=origin)


def law_to_dict(law: LawFit, draws: bool = True) -> dict:
    """One law of an IsoFLOP fit as JSON (its points' range stands in for the points)."""
    loss = law.target == "loss_opt"
    out = {"group": jsonable(law.group), "target": law.target, "form": law.form,
           "variables": list(law.variables), "params": jsonable(law.params),
           "ci": jsonable(law.ci), ("r2" if loss else "r2_log"): num(law.r2_log),
           ("rmse" if loss else "rmse_log"): num(law.rmse_log), "n_points": int(law.n_points),
           "extrapolation": jsonable(law.extrapolation), "notes": list(law.notes),
           "range": {v: list(law.value_range(v)) for v in law.variables}}
    if draws and law.boot is not None:
        out["draws"] = draws_to_json(law.boot)
    return out


def law_from_dict(d: dict, level: float) -> LawFit:
    params = {k: (np.nan if v is None else v) for k, v in d["params"].items()}
    return LawFit(
        target=d["target"], form=d["form"], variables=tuple(d["variables"]),
        group=dict(d["group"]), params=params,
        ci={k: (None if v is None else tuple(np.nan if x is None else x for x in v))
            for k, v in (d.get("ci") or {}).items()},
        r2_log=_nan(d.get("r2_log", d.get("r2"))), rmse_log=_nan(d.get("rmse_log", d.get("rmse"))),
        n_points=d["n_points"], param_names=tuple(params), primary=True,
        extrapolation=d.get("extrapolation"), notes=tuple(d.get("notes", [])),
        boot=draws_from_json(d.get("draws")),
        points={v: np.array(r, float) for v, r in (d.get("range") or {}).items()} or None,
        level=level)


def _loss_coef(law: LawFit) -> np.ndarray:
    return np.array([law.params["L_inf"], law.params["A"], law.params["alpha"]], float)


def _key(law: LawFit) -> str:
    return law.target + (f" [{group_label(law.group)}]" if law.group else "")


def _nan(v):
    return np.nan if v is None else v
