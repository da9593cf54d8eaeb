"""``FitResult``: optima, laws and transfer quality of ``scalefit.fit``; immutable.

Decisions (``predict``, ``audit``, ``transfer``) work on its primary laws and return
``Prediction`` / ``Audit`` / ``HorizonTransfer`` results with one row per ``by`` group.
``to_dict`` is the JSON contract (docs/json-schema.md); ``from_dict`` and
``scalefit.load_fit`` read it back, with what predictions, audits, figures and the
report need, and nothing that makes the reader open another file.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._version import __version__
from ..core import decisions as dec
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable, py_scalar
from ..errors import ExtrapolationWarning, ScalefitInputError
from ..options import check
from ..render import fit_text
from ..render.format import group_label, group_text
from ..schema import SCHEMA_VERSION
from ..selection import matching, select
from .base import Immutable, draws_from_json, level_or_stored
from .decisions import Audit, HorizonTransfer, Prediction, transfer_row
from .joint import JointFit
from .law import Law, equivalence_rows
from .quality import TransferQuality


class FitResult(Immutable):
    """The result of ``scalefit.fit``.

    ``optima``: DataFrame (a copy on each access), one row per sweep: the ``by``
    columns, ``scale``, ``horizon``, ``n_runs``, ``n_diverged``, ``lr_opt`` with
    ``lr_opt_lo``/``lr_opt_hi``, ``loss_opt``, ``curvature`` (loss per (ln lr)^2) with
    intervals, ``lr_best`` (best observed LR), ``status``, ``n_window`` (runs in the
    quadratic fit), ``n_lrs`` (distinct finite LRs), ``fit_rmse``, ``lr_window_lo`` /
    ``lr_window_hi`` (the LRs the quadratic was fitted on) and ``boot_valid`` (share of
    resamples with a convex fit). Row ``j`` is column ``j`` of ``boot``.
    ``laws``: tuple of ``Law``; ``quality``: ``TransferQuality`` with ``by`` (or None);
    ``input``, ``settings``: what was fitted and how; ``notes``: what the fit noticed;
    ``warnings``: pooling hints (text columns that vary within a sweep);
    ``boot``: the resampled optima (``core.bootstrap.BootSweeps``, its ``x_opt``,
    ``loss_opt`` and ``curvature`` kept as float32 deviations from the point fit, read
    back as float64; None after ``load_fit``); ``runs``: per sweep, its runs' ``lr``
    and ``loss`` (NaN = diverged);
    ``origin``: the file it was read from (None for a fit made here); ``joint``: the
    joint LR x batch-size part (``results.joint.JointFit``) of a fit with ``joint=COLUMN``
    (its 1-D optima and laws are then those of every batch size), else None;
    ``sweep_set``: the sweeps as the fit built them (``scalefit.sweep_set.SweepSet``: level
    sums, point fits, noise plan, resamples), which planning reads instead of rebuilding;
    None after ``load_fit`` (not part of the JSON).
    """

    __slots__ = ("_optima", "laws", "quality", "input", "settings", "notes", "warnings",
                 "boot", "runs", "origin", "joint", "sweep_set")

    _immutable_hint = "; build a new one"

    def __init__(self, optima: pd.DataFrame, laws, input: dict, settings: dict, notes=(),
                 warnings=(), quality: TransferQuality | None = None, boot=None, runs=None,
                 origin: str | None = None, joint: JointFit | None = None, sweep_set=None):
        values = {"_optima": optima.copy(), "laws": tuple(Law.of(x) for x in laws),
                  "quality": quality, "input": freeze(input), "settings": freeze(settings),
                  "notes": tuple(notes), "warnings": tuple(warnings), "boot": boot,
                  "runs": None if runs is None else freeze(list(runs)), "origin": origin,
                  "joint": joint, "sweep_set": sweep_set}
        self._set(values)

    @property
    def optima(self) -> pd.DataFrame:
        return self._optima.copy()

    @property
    def by(self) -> list[str]:
        return list(self.input.get("by", []))

    @property
    def level(self) -> float:
        return float(self.settings["ci"])

    # ------------------------------------------------------------------ laws
    def law(self, target: str = "lr_opt", group: dict | None = None, primary: bool = True):
        """The law of ``target`` for ``group`` (by-column values; the primary one by default).

        Returns the ``Law`` when the selection identifies one, a list of them when it
        matches several (e.g. no ``group`` on a fit with ``by`` groups: one per group),
        None when none.
        """
        hits = matching([law for law in self.laws if law.target == target
                         and (law.primary or not primary)], group, lambda law: law.group)
        return hits[0] if len(hits) == 1 else (hits or None)

    def _primary(self, target: str, group: dict):
        hits = matching([law for law in self.laws if law.target == target and law.primary
                         and set(law.group) == set(group)], group, lambda law: law.group)
        return hits[0] if hits else None

    def groups(self, group: dict | None = None, target: str = "lr_opt") -> list[dict]:
        """The by-groups with a primary law of ``target``, those ``group`` selects only
        (``scalefit.selection``: values compared as text or numbers, so ``{"wd": "0.1"}``
        selects 0.1)."""
        by = self.by
        groups = []
        for law in self.laws:
            if law.target == target and law.primary:
                g = {b: law.group.get(b) for b in by}
                if g not in groups:
                    groups.append(g)
        groups = select(groups, group, by)
        if not groups:
            raise ScalefitInputError(f"the fit has no law of {target}; it needs ok optima at 3 "
                                     "or more scales or horizons")
        return groups

    def _source(self, targets=("lr_opt",)) -> str:
        laws = [law for law in self.laws if law.primary and law.target in targets]
        s = self.settings
        if laws and all(law.boot is not None for law in laws):
            where = (f"saved in {self.origin}" if self.origin else "of this fit")
            return (f"intervals: the bootstrap draws {where} ({s.get('n_boot')} resamples, "
                    f"seed {s.get('seed')})")
        blind = [law for law in laws if law.boot is None and any(
            n.startswith("no interval") for n in law.notes)]
        if blind:
            return ("no intervals: " + blind[0].notes[[n.startswith("no interval")
                                                        for n in blind[0].notes].index(True)]
                    .removeprefix("no interval: "))
        if self.origin and s.get("n_boot"):
            return (f"point estimates only: {self.origin} holds no bootstrap draws; refit "
                    "with resamples to get intervals")
        if s.get("n_boot"):
            return "point estimates only: the laws' optima carry no measured uncertainty"
        return "point estimates only: the fit has no bootstrap (n_boot = 0)"

    # ------------------------------------------------------------------ decisions
    def predict(self, scale=None, horizon=None, group: dict | None = None,
                bs=None) -> Prediction:
        """Optimal LR at (scale, horizon) from each group's primary law of lr_opt, with
        ``lr_ci`` (the law's mean) and ``lr_pi`` (adds the optima's scatter).
        Without ``group``: every group, one row each. A joint fit answers with its joint
        laws (``JointPrediction``: lr* and bs*, and with ``bs`` the best LR at that batch
        size)."""
        _check_point(scale=scale, horizon=horizon, bs=bs)
        seed = self.settings.get("seed", 0)
        if self.joint is not None:
            return self.joint.predict(scale, horizon, bs=bs, group=group, seed=seed)
        _no_bs(bs)
        rows = [dec.predict(self._primary("lr_opt", g), scale, horizon, self.level, seed)
                for g in self.groups(group)]
        _warn_assumptions(rows)
        return Prediction(rows=rows, level=self.level, interval_source=self._source(),
                          scale=scale, horizon=horizon)

    def audit(self, lr_used: float, scale=None, horizon=None,
              group: dict | None = None, bs=None) -> Audit:
        """Predicted optimum and the expected loss penalty of training at ``lr_used``
        (``penalty``, ``penalty_ci``), per group. Without ``group``: every group. A joint
        fit audits (``lr_used``, ``bs``) on its surface laws (``JointAudit``)."""
        _check_point(lr_used=lr_used, scale=scale, horizon=horizon, bs=bs)
        seed = self.settings.get("seed", 0)
        if self.joint is not None:
            return self.joint.audit(lr_used, scale, horizon, bs=bs, group=group, seed=seed)
        _no_bs(bs)
        rows = [dec.audit(self._primary("lr_opt", g), self._primary("curvature", g), lr_used,
                          scale, horizon, self.level, seed) for g in self.groups(group)]
        _warn_assumptions(rows)
        return Audit(rows=rows, level=self.level, lr=float(lr_used), scale=scale,
                     horizon=horizon, interval_source=self._source(("lr_opt", "curvature")))

    def equivalence(self, margins: dict[str, float]) -> list[dict]:
        """Per group's primary law of lr_opt and exponent in ``margins`` (name -> margin):
        the verdict of its interval against 0 (or its ``fix`` value) +- margin: "inside
        +-margin", "outside" or "not resolved" (``core.shape.equivalence``)."""
        return equivalence_rows(self.laws, dict(margins))

    def transfer(self, lr_ref: float, horizon_ref: float, horizon_target: float,
                 group: dict | None = None, level: float | None = None) -> HorizonTransfer:
        """Carry ``lr_ref`` tuned at ``horizon_ref`` tokens to ``horizon_target`` with each
        group's fitted horizon exponent b (and its interval). Without ``group``: every
        group with a law in horizon. Warns (``ExtrapolationWarning``) beyond 4x the data."""
        _check_point(lr_ref=lr_ref, horizon_ref=horizon_ref, horizon_target=horizon_target,
                     level=level)
        groups = self.groups(group)
        rows, errors = [], []
        for g in groups:
            law = self._primary("lr_opt", g)
            try:
                t = dec.horizon_transfer(lr_ref, horizon_ref, horizon_target, law=law,
                                         level=level)
            except ScalefitInputError as e:
                if law is not None and "horizon" in law.variables:  # not a group to skip
                    raise ScalefitInputError((f"{self.origin}: " if self.origin else "")
                                             + f"{group_label(g)}: {e}") from None
                errors.append(f"{group_label(g)}: {e}" if len(groups) > 1 else str(e))
                continue
            rows.append(transfer_row(g, t))
        if not rows:
            raise ScalefitInputError((f"{self.origin}: " if self.origin else "") + errors[0])
        for r in rows:
            for w in r["warnings"]:
                warnings.warn(w, ExtrapolationWarning, stacklevel=2)
        src = (f"intervals from the saved interval of b in {self.origin}" if self.origin
               else None)
        return HorizonTransfer(rows=rows, level=self.level if level is None else level,
                               interval_source=src, lr_ref=lr_ref, horizon_ref=horizon_ref,
                               horizon_target=horizon_target)

    def next_runs(self, k: int, target_scale=None, target_horizon=None,
                  group: dict | None = None, candidates=None, cost: str = "flops",
                  objective: str = "variance", new_scales=(), new_horizons=(),
                  new_sweeps: bool = True, new_sweep_lrs: int = 5, per_group: bool = False,
                  past: int = 2):
        """The ``k`` runs expected to reduce the uncertainty of the target most per unit
        cost (docs/math.md section 11): a ``Proposals`` result, one row per run with its
        reason. Target: the optimal LR each group's law predicts at ``target_scale`` /
        ``target_horizon``, or without them every sweep's own optimum. Sweeps that are not
        ok get the runs their status asks for (past an edge, inside a divergence bracket,
        ...); no run is proposed at or above an LR where a run of its sweep diverged.
        ``candidates``: a DataFrame (by columns, scale, horizon, lr) of the only runs allowed
        (default: each sweep's LR ladder, ``past`` steps beyond its LRs); ``cost``:
        ``flops`` (scale x horizon) or ``runs``; ``objective``: ``variance`` (of ln lr_opt)
        or ``loss`` (curvature x variance: the expected loss cost); ``new_scales``,
        ``new_horizons``: values at which a new sweep may be proposed (besides the next
        point of each variable's ladder; ``new_sweeps=False``: none), each of
        ``new_sweep_lrs`` runs; ``per_group``: ``k`` runs for each by group."""
        from ..options import PlanOptions
        from ..planning.proposal_rows import propose_runs

        plan = PlanOptions(k, target_scale=target_scale, target_horizon=target_horizon,
                           group=group, cost=cost, objective=objective, new_scales=new_scales,
                           new_horizons=new_horizons, new_sweeps=new_sweeps,
                           new_sweep_lrs=new_sweep_lrs, per_group=per_group, past=past)
        return propose_runs(self, plan, candidates)

    def backtest(self, axis: str = "scale", levels: int | None = None, joint: bool = False):
        """Rolling-origin backtest of the lr_opt laws along ``axis`` (scale, horizon or a
        numeric ``by`` column): a ``BacktestResult`` (``scalefit.backtests.backtest_fit``);
        ``joint``: of the joint optima (lr*, bs*) of a fit with ``joint=COLUMN``."""
        from ..backtests import backtest_fit

        return backtest_fit(self, axis=axis, levels=levels, joint=joint)

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Each primary law's parameters, keyed by ``"target [group]"``."""
        return {_key(law): dict(law.params) for law in self.laws if law.primary}

    def conf_int(self, level: float | None = None) -> dict:
        """Each primary law's intervals at ``level`` (default the fit's), keyed as ``params``."""
        level_or_stored(level, self.level, any(law.boot is not None for law in self.laws
                                               if law.primary), "this fit")
        return {_key(law): law.conf_int(level) for law in self.laws if law.primary}

    def summary(self, conditional: bool = False, view: str = "fit"):
        """A Document: ``view="fit"``, what ``scalefit fit`` prints (conditional laws, at one
        fixed horizon or scale, listed only with ``conditional=True``; all of them are in
        ``to_dict()``); ``view="compare"``, what ``scalefit compare`` prints."""
        if view == "compare":
            return fit_text.compare_document(self)
        if view != "fit":
            raise ValueError(f"view must be 'fit' or 'compare' (got {view!r})")
        return fit_text.fit_document(self, conditional)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        n_ok = int((self._optima["status"] == "ok").sum())
        return (f"<FitResult {self.input['groups']} sweeps ({n_ok} ok), {len(self.laws)} laws, "
                f"n_boot={self.settings['n_boot']}>")

    def _repr_markdown_(self) -> str:
        return self.summary().to_markdown()

    def report(self, directory, command: str | None = None, progress="auto",
               show=None) -> dict:
        """Write report.md, report.html and figures/ into ``directory`` (what ``--report``
        writes), every file atomically; returns name -> path. ``show``: the labels of the
        groups the figures draw (what ``--show`` takes)."""
        from ..progress import resolve
        from ..render.report import write_report

        self._check_output(None, directory)
        _, bar = resolve(progress, "report")
        with bar:
            return write_report(self, directory, command=command, show=show)

    def plot(self, which=None, show=None) -> dict:
        """The figures of the fit as matplotlib Figures: name -> Figure (``sweeps``,
        ``lr_law``, ``curvature``, ``compare``, those that apply); ``which``: some names;
        ``show``: the labels of the groups to draw, e.g. ``["sp", "mup"]`` (default: all, up
        to a readable number, with a note naming how many were left out)."""
        from ..render.figures import fit_figures

        return fit_figures(self, which, show=show)

    # ------------------------------------------------------------------ JSON
    def save(self, path, draws: bool = True):
        """Write ``to_dict()`` as JSON to ``path`` atomically (``scalefit.load_fit`` reads it)."""
        from ..files import write_json

        self._check_output(path, None)
        return write_json(path, self.to_dict(draws=draws))

    def _check_output(self, path, directory) -> None:
        """Refuse to write over the table this fit read (a fit made here, not a loaded one:
        the path in a saved fit's JSON is never looked at)."""
        from ..files import check_outputs

        source = self.input.get("source") if self.origin is None else None
        check_outputs(None if path is None else str(path),
                      None if directory is None else str(directory),
                      [source] if source and not str(source).startswith("<") else [])

    def to_dict(self, draws: bool = True) -> dict:
        """The JSON contract of DESIGN section 4 (see docs/json-schema.md).

        ``draws``: the primary laws' bootstrap draws (full precision), which predictions
        and audits from the JSON alone need for their intervals.
        """
        runs = None
        if self.runs is not None:
            runs = [{"lr": jsonable(r["lr"]), "loss": jsonable(r["loss"])} for r in self.runs]
        out = {
            "schema_version": SCHEMA_VERSION,
            "version": __version__,
            "input": thaw(self.input),
            "settings": thaw(self.settings),
            "optima": [self._optimum_dict(r) for _, r in self._optima.iterrows()],
            "laws": [law.to_dict(draws=draws and law.primary) for law in self.laws],
            "transfer": self.quality.to_dict() if self.quality is not None else None,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "runs": runs,
        }
        if self.joint is not None:  # a joint fit only (docs/json-schema.md)
            out["joint"] = self.joint.to_dict(draws=draws)
        return jsonable(out)

    def _optimum_dict(self, r: pd.Series) -> dict:
        def pair(lo, hi):
            if lo not in r or not (np.isfinite(r[lo]) and np.isfinite(r[hi])):
                return None
            return [r[lo], r[hi]]

        def get(key):
            return py_scalar(r[key]) if key in r and not _missing(r[key]) else None

        open_ = get("lr_opt_ci_open") or None
        lr_ci = pair("lr_opt_lo", "lr_opt_hi")
        if open_:  # a bound beyond the tried LRs is null; the other stays
            lr_ci = [None if open_ in ("low", "both") else get("lr_opt_lo"),
                     None if open_ in ("high", "both") else get("lr_opt_hi")]
        return {
            "group": {b: py_scalar(r[b]) for b in self.by},
            "scale": py_scalar(r["scale"]) if "scale" in r else None,
            "horizon": py_scalar(r["horizon"]) if "horizon" in r else None,
            "lr_opt": r["lr_opt"],
            "lr_opt_ci": lr_ci,
            "lr_opt_ci_open": open_,
            "loss_opt": r["loss_opt"],
            "loss_opt_ci": pair("loss_opt_lo", "loss_opt_hi"),
            "curvature": r["curvature"],
            "curvature_ci": pair("curvature_lo", "curvature_hi"),
            "status": r["status"],
            "n_runs": int(r["n_runs"]),
            "n_diverged": int(r["n_diverged"]),
            "lr_best": r["lr_best"],
            "n_lrs": int(r["n_lrs"]),
            "n_window": int(r["n_window"]),
            "fit_rmse": r["fit_rmse"],
            "window": pair("lr_window_lo", "lr_window_hi"),
            "loss_best": get("loss_best"),
            "misfit": get("misfit"),
            "tried": pair("lr_tried_lo", "lr_tried_hi"),
            "lr_diverged": get("lr_diverged"),
            "boot_kind": get("boot_kind"),
            "noise_ratio": get("noise_ratio"),
            "aberrant": bool(r["aberrant"]) if "aberrant" in r and not _missing(r["aberrant"])
            else None,
            "flat_z": get("flat_z"),
        }

    @classmethod
    def from_dict(cls, d: dict, origin: str | None = None) -> FitResult:
        """A FitResult from ``to_dict`` output (checked by ``scalefit.load_fit``)."""
        by = list(d["input"].get("by", []))
        level = float(d["settings"]["ci"])
        rows = []
        for o in d["optima"]:
            r = {**o["group"], **{k: o[k] for k in ("scale", "horizon") if o.get(k) is not None}}
            r.update({k: o.get(k) for k in ("n_runs", "n_diverged", "lr_opt", "loss_opt",
                                            "curvature", "lr_best", "status", "n_window",
                                            "n_lrs", "fit_rmse", "loss_best", "misfit",
                                            "lr_diverged", "noise_ratio", "flat_z")})
            r["aberrant"] = o.get("aberrant")
            for k in ("lr_opt", "loss_opt", "curvature"):
                r[f"{k}_lo"], r[f"{k}_hi"] = o.get(f"{k}_ci") or (None, None)
            r["lr_opt_ci_open"] = o.get("lr_opt_ci_open") or ""
            r["boot_kind"] = o.get("boot_kind") or ""
            r["lr_window_lo"], r["lr_window_hi"] = o.get("window") or (None, None)
            r["lr_tried_lo"], r["lr_tried_hi"] = o.get("tried") or (None, None)
            rows.append(r)
        optima = pd.DataFrame(rows)
        for c in optima.columns:
            if c not in by and c not in ("status", "lr_opt_ci_open", "boot_kind", "aberrant"):
                optima[c] = pd.to_numeric(optima[c], errors="coerce")
        runs = None
        if d.get("runs") is not None:
            runs = [{"lr": draws_from_json(r["lr"]), "loss": draws_from_json(r["loss"])}
                    for r in d["runs"]]
        t = d.get("transfer")
        laws = [Law.from_dict(x, level, f"$.laws[{i}]") for i, x in enumerate(d["laws"])]
        return cls(optima=optima, laws=laws,
                   input=d["input"], settings=d["settings"], notes=d.get("notes", []),
                   warnings=d.get("warnings", []), runs=runs, origin=origin,
                   quality=TransferQuality.from_dict(t, level) if t is not None else None,
                   joint=JointFit.from_dict(d["joint"], level) if d.get("joint") else None)


def _no_bs(bs) -> None:
    if bs is not None:
        raise ScalefitInputError("a batch size (bs) needs a joint fit: fit with joint='bs' "
                                 "(--joint bs)")


def _check_point(**values) -> None:
    """The values of a decision (scale, horizon, LRs, bs, level) by the rules of
    ``scalefit.options`` (the LRs by the rule of ``lr``, named as their keyword)."""
    for name, v in values.items():
        if v is not None:
            check("lr" if name.startswith("lr") else name, v, name)


def _warn_assumptions(rows) -> None:
    """A prediction at a value of a variable its law never saw varied warns loudly."""
    for m in dict.fromkeys(a for r in rows for a in r.get("assumptions") or []):
        if "assumes" in m:
            warnings.warn(m, ExtrapolationWarning, stacklevel=3)


def _key(law) -> str:
    g = group_text(law.group)
    return law.target + (f" [{g}]" if g else "")




def _missing(v) -> bool:
    return v is None or v == "" or (isinstance(v, (float, np.floating)) and not np.isfinite(v))
