"""``CurveFit``: a loss-curve law fitted per group (``scalefit.fit_curves``), and the
decisions it supports: ``predict`` (an unseen schedule, with bands), ``compare`` (two
schedules at their ends, interval on the difference) and ``branches`` (every WSD branch
point). Result protocol: ``params``, ``conf_int(level)``, ``summary()``, ``to_dict()``,
``from_dict()``; ``save(path)``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._version import __version__
from ..core.curve_decisions import compare_ends, predict_curve, wsd_branches
from ..core.curve_laws import make_law
from ..core.frozen import freeze
from ..core.pyvalue import jsonable
from ..core.schedules import ScheduleSpec, build_schedule
from ..errors import ExtrapolationWarning, ScalefitInputError
from .base import Immutable, draws_from_json, draws_to_json, level_or_stored

CURVE_SCHEMA_VERSION = 1


def _spec(schedule) -> ScheduleSpec:
    if isinstance(schedule, ScheduleSpec):
        schedule.check()
        return schedule
    if isinstance(schedule, dict):
        return ScheduleSpec.from_dict(schedule)
    from ..schedule_spec import parse_schedule

    return parse_schedule(schedule)


class CurveFit(Immutable):
    """Fitted curve law per ``by`` group; immutable. ``groups``: one dict per group with
    ``group``, ``theta`` (internal parameter vector), ``runs`` (per run: schedule, points,
    in-sample R^2, RMSE, mean and worst relative error), ``draws`` (bootstrap thetas or
    None), ``plan``, ``residuals`` and ``loro_errors`` (ln), ``lfo_errors`` (None or
    {"ratio", "error"}: leave-future-out ln errors and their ratio of steps beyond the cut,
    ``core.curve_boot.lfo_errors``), ``range`` (steps, LRs).
    ``observed``: per group, per run {run, steps, loss, eta} (the measured curves and the
    LR at every step), kept in memory for the figures; None for a fit read from JSON."""

    __slots__ = ("groups", "input", "settings", "notes", "origin", "observed")

    def __init__(self, groups, input: dict, settings: dict, notes=(), origin=None,
                 observed=None):
        self._set({"groups": tuple(freeze(g) for g in groups), "input": freeze(input),
                   "settings": freeze(settings), "notes": tuple(notes), "origin": origin,
                   "observed": None if observed is None else freeze(observed)})

    @property
    def law(self):
        return make_law(self.settings["law"], lam=self.settings.get("lambda", 0.999))

    @property
    def level(self) -> float:
        return float(self.settings["ci"])

    def group(self, group: dict | None = None) -> dict:
        """The one group matching ``group`` (all of its keys)."""
        hit = [g for g in self.groups if group is None or
               all(str(g["group"].get(k)) == str(v) for k, v in group.items())]
        if len(hit) != 1:
            labels = [dict(g["group"]) for g in self.groups]
            raise ScalefitInputError(f"{len(hit)} groups match {group or '{}'}; choose one of "
                                     f"{labels} with group={{...}}")
        return hit[0]

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Parameters per group label: {label: {name: value}}."""
        law = self.law
        return {_key(g): dict(zip(law.param_names, map(float, law.to_params(g["theta"]))))
                for g in self.groups}

    def conf_int(self, level: float | None = None) -> dict:
        """Percentile intervals of the parameters from the bootstrap draws, per group."""
        has = all(g["draws"] is not None for g in self.groups)
        lvl = level_or_stored(level, self.level, has, "this curve fit")
        law, q = self.law, 100 * np.array([(1 - lvl) / 2, (1 + lvl) / 2])
        out = {}
        for g in self.groups:
            p = np.percentile(law.to_params(np.asarray(g["draws"])), q, axis=0)
            out[_key(g)] = {n: (float(p[0, i]), float(p[1, i]))
                            for i, n in enumerate(law.param_names)}
        return out

    def summary(self):
        from ..render.curve_text import curve_document

        return curve_document(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        return (f"<CurveFit law={self.settings['law']} {len(self.groups)} group(s), "
                f"{self.input['runs']} runs, n_boot={self.settings['n_boot']}>")

    # ------------------------------------------------------------------ decisions
    def _errors(self, g):
        e = g["loro_errors"]
        if e is not None and np.isfinite(np.asarray(e, float)).any():
            return np.asarray(e, float), "leave-one-run-out errors"
        return np.asarray(g["residuals"], float), "the fit's residuals (fewer than 3 runs)"

    def _warn(self, g, spec: ScheduleSpec, last_step: int) -> list[str]:
        msgs = []
        s_lo, s_hi = g["range"]["step"]
        lr_lo, lr_hi = g["range"]["lr"]
        if last_step > 1.05 * s_hi:
            msgs.append(f"step {last_step} is {last_step / s_hi:.3g}x the longest step fitted "
                        f"({s_hi}): the curve is extrapolated along steps")
        eta = build_schedule(spec)
        pos = eta[eta > 0]
        if pos.max() > lr_hi * 1.001 or pos.min() < lr_lo * 0.999:
            msgs.append(f"the schedule's LRs [{pos.min():.3g}, {pos.max():.3g}] leave the LRs "
                        f"fitted [{lr_lo:.3g}, {lr_hi:.3g}]: the curve is extrapolated in LR")
        for m in msgs:
            warnings.warn(m, ExtrapolationWarning, stacklevel=3)
        return msgs

    def predict(self, schedule, steps=None, group: dict | None = None,
                level: float | None = None, seed: int = 0):
        """The curve of ``schedule`` (description text, dict or ``ScheduleSpec``) at
        ``steps`` (default 200 steps from the warmup's end to the last), with the band of
        the curve and of an observed loss."""
        from .curve_decisions import CurvePrediction

        g, spec = self.group(group), _spec(schedule)
        lvl = level_or_stored(level, self.level, g["draws"] is not None, "this curve fit")
        if steps is None:
            steps = np.unique(np.linspace(max(spec.warmup_steps, 1), spec.total_steps - 1,
                                          200).astype(np.int64))
        steps = np.asarray(steps, np.int64)
        if steps.min() < 1 or steps.max() >= spec.total_steps:
            raise ScalefitInputError(f"steps must lie in [1, {spec.total_steps - 1}]")
        errors, source = self._errors(g)
        top = float(g["range"]["step"][1])
        lfo = g.get("lfo_errors")
        beyond = bool(steps.max() > 1.05 * top)
        out = predict_curve(self.law, g["theta"], g["draws"], build_schedule(spec), steps,
                            errors, lvl, seed, lfo=lfo if beyond else None, fitted_top=top)
        msgs = self._warn(g, spec, int(steps.max()))
        past = bool(out.pop("past_measured", False))
        if beyond and g["draws"] is not None:
            if lfo is None:
                source += ("; beyond the longest step fitted nothing measures the extrapolation "
                           "error (no leave-future-out errors): the band is too narrow there")
            else:
                top_ratio = float(np.max(lfo["ratio"]))
                source += ("; beyond the longest step fitted, plus leave-future-out errors at "
                           "the same ratio of steps (the law refitted on the runs cut at 1/3 and "
                           f"1/2 of their steps, measured up to {top_ratio:.3g}x)")
                if past:
                    m = (f"step {int(steps.max())} is {steps.max() / top:.3g}x the longest step "
                         f"fitted, past the {top_ratio:.3g}x at which the extrapolation error "
                         "was measured: the band uses the errors measured there and may be "
                         "too narrow")
                    warnings.warn(m, ExtrapolationWarning, stacklevel=2)
                    msgs.append(m)
        return CurvePrediction(spec, steps, out, lvl, dict(g["group"]), source, msgs)

    def compare(self, schedule_a, schedule_b, group: dict | None = None,
                level: float | None = None):
        """Loss at the end of schedule b minus schedule a, with a paired interval."""
        from .curve_decisions import ScheduleComparison

        g = self.group(group)
        a, b = _spec(schedule_a), _spec(schedule_b)
        lvl = level_or_stored(level, self.level, g["draws"] is not None, "this curve fit")
        out = compare_ends(self.law, g["theta"], g["draws"], build_schedule(a),
                           a.total_steps - 1, build_schedule(b), b.total_steps - 1, lvl)
        msgs = self._warn(g, a, a.total_steps - 1) + self._warn(g, b, b.total_steps - 1)
        return ScheduleComparison(a, b, out, lvl, dict(g["group"]), list(dict.fromkeys(msgs)))

    def branches(self, schedule, cooldown_steps: int, end_lr: float, decay_shape="linear",
                 branch_steps=None, group: dict | None = None, level: float | None = None):
        """Loss at the end of a cooldown branched at each of ``branch_steps`` (default 20
        points over the stable phase) from the warmup-stable run ``schedule``."""
        from .curve_decisions import WsdBranches

        g, spec = self.group(group), _spec(schedule)
        lvl = level_or_stored(level, self.level, g["draws"] is not None, "this curve fit")
        if branch_steps is None:
            branch_steps = np.unique(np.linspace(max(spec.warmup_steps, 1),
                                                 spec.total_steps - 1, 20).astype(np.int64))
        out = wsd_branches(self.law, g["theta"], g["draws"], spec, branch_steps,
                           int(cooldown_steps), float(end_lr), decay_shape, lvl)
        longest = ScheduleSpec(int(out["horizon"].max()), spec.peak_lr, "wsd",
                               spec.warmup_steps, end_lr,
                               int(out["horizon"].max()) - int(cooldown_steps), decay_shape)
        msgs = self._warn(g, longest, int(out["horizon"].max()) - 1)
        return WsdBranches(spec, int(cooldown_steps), float(end_lr), decay_shape, out, lvl,
                           dict(g["group"]), msgs)

    def fitted_curves(self, group: dict | None = None, max_points: int = 400,
                      level: float | None = None) -> list[dict]:
        """Per run of ``group``: ``run``, the measured ``steps`` and ``loss`` (at most
        ``max_points``, evenly thinned), the law's ``fit`` at those steps and, with draws,
        the band of the curve ``mean_lo``/``mean_hi`` (percentiles of the refits' curves at
        ``level``). Needs the measured curves (a fit from ``fit_curves``, not from JSON)."""
        if self.observed is None:
            raise ScalefitInputError("this curve fit has no measured curves (a fit read from "
                                     "JSON keeps none): refit it from the table")
        g = self.group(group)
        gi = next(i for i, h in enumerate(self.groups) if h is g)
        lvl = level_or_stored(level, self.level, g["draws"] is not None, "this curve fit")
        errors, _ = self._errors(g)
        out = []
        for r in self.observed[gi]:
            n = len(r["steps"])
            k = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))
            steps = np.asarray(r["steps"])[k]
            pred = predict_curve(self.law, g["theta"], g["draws"], np.asarray(r["eta"]),
                                 steps, errors, lvl)
            out.append({"run": r["run"], "steps": steps, "loss": np.asarray(r["loss"])[k],
                        "fit": pred["loss"], **{b: pred[b] for b in ("mean_lo", "mean_hi")
                                                if b in pred}})
        return out

    def plot(self, path=None, predictions=()):
        """Measured against fitted curves with the curve's band, the residuals and, given
        ``predictions`` (``CurvePrediction``s), the predicted curves with both bands (a
        matplotlib Figure; ``render/curve_figure.py``); saved to ``path`` (PNG + SVG)."""
        from ..render.curve_figure import curve_figure

        return curve_figure(self, predictions, path)

    def report(self, directory, decisions=(), command: str | None = None) -> dict:
        """Write ``directory``/report.md, report.html (self-contained) and figures/curves
        .png|.svg: the figure, the fit's tables and the ``decisions``' (predict, compare,
        branches). Returns the paths."""
        from ..render.curve_report import write_curve_report

        return write_curve_report(self, directory, decisions, command)

    # ------------------------------------------------------------------ JSON
    def to_dict(self, draws: bool = True) -> dict:
        law = self.law
        groups = []
        for g in self.groups:
            p = law.to_params(g["theta"])
            d = {"group": jsonable(dict(g["group"])),
                 "params": dict(zip(law.param_names, map(float, p))),
                 "ci": None, "objective": float(g["objective"]),
                 "converged": bool(g["converged"]), "runs": jsonable(list(g["runs"])),
                 "bootstrap": g["plan"], "block_lengths": jsonable(g["block_lengths"]),
                 "range": jsonable(dict(g["range"])),
                 "residual_rms": float(np.sqrt(np.mean(np.square(g["residuals"])))),
                 "loro_rms": (None if g["loro_errors"] is None else
                              float(np.sqrt(np.nanmean(np.square(g["loro_errors"]))))),
                 "lfo_rms": (None if g.get("lfo_errors") is None else
                             float(np.sqrt(np.mean(np.square(g["lfo_errors"]["error"])))))}
            if g["draws"] is not None:
                d["ci"] = self.conf_int()[_key(g)]
            if draws:
                d["theta"] = [float(v) for v in g["theta"]]
                d["draws"] = None if g["draws"] is None else draws_to_json(g["draws"])
                d["residuals"] = [float(v) for v in g["residuals"]]
                d["loro_errors"] = (None if g["loro_errors"] is None else
                                    [None if not np.isfinite(v) else float(v)
                                     for v in g["loro_errors"]])
                lfo = g.get("lfo_errors")
                d["lfo_errors"] = (None if lfo is None else
                                   {k: [float(v) for v in lfo[k]] for k in ("ratio", "error")})
            groups.append(d)
        return {"schema_version": CURVE_SCHEMA_VERSION, "version": __version__,
                "kind": "curve", "law": law.name, "form": law.form,
                "param_names": list(law.param_names), "input": jsonable(self.input),
                "settings": jsonable(self.settings), "groups": groups,
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict, origin: str | None = None) -> CurveFit:
        if d.get("kind") != "curve":
            raise ScalefitInputError("not a curve fit (written by 'scalefit curve --json')")
        law = make_law(d["law"], lam=d["settings"].get("lambda", 0.999))
        groups = []
        for g in d["groups"]:
            theta = (np.array(g["theta"], float) if "theta" in g else
                     law.to_theta(np.array([g["params"][n] for n in law.param_names], float)))
            loro = g.get("loro_errors")
            lfo = g.get("lfo_errors")
            groups.append({"group": g["group"], "theta": theta, "objective": g["objective"],
                           "converged": g["converged"], "runs": g["runs"],
                           "draws": draws_from_json(g.get("draws")), "plan": g["bootstrap"],
                           "block_lengths": g.get("block_lengths"),
                           "residuals": np.array(g.get("residuals") or [0.0], float),
                           "loro_errors": None if loro is None else np.array(
                               [np.nan if v is None else v for v in loro], float),
                           "lfo_errors": None if lfo is None else {
                               k: np.array(lfo[k], float) for k in ("ratio", "error")},
                           "range": g["range"], "level": d["settings"]["ci"]})
        return cls(groups, d["input"], d["settings"], d.get("notes", []), origin)

    def save(self, path, draws: bool = True):
        """Write ``to_dict(draws)`` as JSON to ``path`` atomically (``scalefit.load`` reads
        it back)."""
        from ..files import write_json

        return write_json(path, self.to_dict(draws=draws))


def _key(g) -> str:
    grp = dict(g["group"])
    return ", ".join(f"{k}={v}" for k, v in grp.items()) if grp else "all"
