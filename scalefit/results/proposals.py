"""``Proposals``: the runs worth training next, from ``FitResult.next_runs``; immutable.

One row per proposed run (its sweep: by-group, scale, horizon; its LR; why, in one line;
what it is expected to gain) and one row per target (what the runs are for: the law's
predicted optimum at the target scale/horizon per by group, or a sweep's own optimum, with
its current interval and its predicted s.d. now and after the runs). ``runs`` is a
DataFrame; ``scalefit.next`` writes it as a table the reference trainer trains as it is.
"""

from __future__ import annotations

import math

from .._version import __version__
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable
from ..options import check
from ..render.format import fmt, fmt_ci, group_label
from ..render.tables import Document, Table, Text
from .base import Immutable

KIND = {"variance": "precision", "new_sweep": "new sweep"}
Z95 = 1.959963984540054


class Proposals(Immutable):
    """Runs to train next. ``runs``: DataFrame (a copy), one row per run: the by columns,
    ``scale``, ``horizon``, ``lr``, ``kind`` (``rule``: the sweep's status asks for it;
    ``precision``: it cuts the target's variance most per unit cost; ``new sweep``: a
    sweep at a scale/horizon the data lack), ``rule`` (the status rule or ``variance``),
    ``status`` (of its sweep), ``reason`` (one line), ``gain`` (expected reduction of the
    weighted target variance, (ln lr)^2; null for a rule run whose sweep has no optimum),
    ``sd_after`` (predicted s.d. of ln lr_opt of the target after the runs chosen so
    far), ``cost`` (relative cost of the run). ``targets``: list of dicts, one per target:
    ``target`` (``law`` or ``sweep``), ``group``, ``scale``, ``horizon``, ``lr`` (current
    estimate), ``lr_ci`` (its current bootstrap interval, at ``level``), ``sd_now`` and
    ``sd_after`` (predicted s.d. of ln lr_opt before and after the proposed runs; the
    delta method of docs/math.md section 11), ``loss_cost_now``/``loss_cost_after``
    (expected loss cost of the estimate: curvature x variance), ``runs`` (how many runs
    are for it). ``settings``, ``notes``, ``level``.
    """

    __slots__ = ("_runs", "targets", "settings", "notes", "level", "by")

    def __init__(self, runs, targets, settings: dict, notes=(), level: float = 0.95,
                 by=()):
        import pandas as pd

        values = {"_runs": pd.DataFrame(runs).copy(), "targets": freeze(list(targets)),
                  "settings": freeze(settings), "notes": tuple(notes), "level": float(level),
                  "by": tuple(by)}
        self._set(values)

    @property
    def runs(self):
        return self._runs.copy()

    def __len__(self) -> int:
        return len(self._runs)

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Target label -> predicted s.d. of ln lr_opt after the proposed runs."""
        return {_label(t): t.get("sd_after") for t in self.targets}

    def conf_int(self, level: float | None = None) -> dict:
        """Target label -> the interval of lr_opt the proposed runs are expected to leave:
        the current estimate times exp(+-z sd_after) (normal in ln lr, any level)."""
        from statistics import NormalDist

        lvl = self.level if level is None else check("level", level)
        z = NormalDist().inv_cdf(0.5 + lvl / 2)
        out = {}
        for t in self.targets:
            sd, lr = t.get("sd_after"), t.get("lr")
            ok = sd is not None and lr is not None and math.isfinite(sd) and lr > 0
            out[_label(t)] = (lr * math.exp(-z * sd), lr * math.exp(z * sd)) if ok else None
        return out

    def summary(self) -> Document:
        s = self.settings
        k = len(self._runs)
        head = (f"Next runs: {k} of a budget of {s['budget']}"
                + (" per group" if s.get("per_group") else "")
                + f" ({_what(s)}; cost of a run: {s['cost_text']})")
        rows = []
        by = list(self.by)
        for _, r in self._runs.iterrows():
            rows.append([*(fmt(r[b]) if isinstance(r[b], float) else str(r[b]) for b in by),
                         fmt(r.get("scale")), fmt(r.get("horizon")),
                         fmt(r["lr"]), fmt(r.get("cost")), r["kind"], r["reason"]])
        header = [*by, "scale", "horizon", "lr", "cost", "kind", "why"]
        blocks = [Text([head])]
        if rows:
            blocks.append(Table(header, rows))
        else:
            blocks.append(Text(["  no run to propose (see the notes)"]))
        trows = []
        lvl = f"{self.level * 100:g}%"
        shown = [t for t in self.targets if t["target"] == "law" or t.get("runs")]
        for t in shown:
            trows.append([_label(t), fmt(t.get("lr")), fmt_ci(t.get("lr_ci")) or "-",
                          _sd(t.get("sd_now"), s), _sd(t.get("sd_after"), s),
                          fmt(t.get("loss_cost_now")), fmt(t.get("loss_cost_after")),
                          str(t.get("runs", 0))])
        if trows:
            title = ("Target: ln lr_opt predicted by the law" if s.get("target") == "law"
                     else "Targets: the optima of the sweeps that get runs")
            if s.get("joint"):
                title = ("Target: the joint optimum predicted by the joint laws"
                         if s.get("target") == "law"
                         else "Targets: the joint optima of the surfaces that get runs")
            blocks.append(Table(["target", "lr_opt", f"{lvl} CI now", "s.d. now",
                                 "s.d. after", "loss cost now", "after", "runs"], trows,
                                title=title,
                                notes=[f"  (s.d. of {_sd_of(s)} predicted by the delta method "
                                       "from the current fit; loss cost = "
                                       + ("tr(K C), K the valley's curvature matrix, C the "
                                          "optimum's covariance" if s.get("joint")
                                          else "curvature x variance")
                                       + ": what the estimate's uncertainty costs on average"
                                       + ("; -: not predictable, the surface or sweep would "
                                          "not be ok after the runs at their predicted losses"
                                          if any(t.get("sd_after") is None for t in shown)
                                          else "") + ")"]))
        if self.notes:
            blocks.append(Text(["Notes:", *(f"  - {n}" for n in self.notes)]))
        return Document(blocks)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        return f"<Proposals {len(self._runs)} runs, budget {self.settings['budget']}>"

    def _repr_markdown_(self) -> str:
        return self.summary().to_markdown()

    def to_dict(self, draws: bool = True) -> dict:
        """JSON-ready: the runs, the targets, the settings and notes (no draws are held)."""
        runs = self._runs.to_dict("records")  # jsonable: numpy -> Python, NaN/inf -> null
        return jsonable({"kind": "scalefit.next", "version": __version__,
                         "settings": thaw(self.settings), "ci_level": self.level,
                         "by": list(self.by), "runs": runs, "targets": thaw(self.targets),
                         "notes": list(self.notes)})

    @classmethod
    def from_dict(cls, d: dict) -> Proposals:
        targets = []
        for t in d["targets"]:
            t = dict(t)
            if t.get("lr_ci") is not None:
                t["lr_ci"] = tuple(t["lr_ci"])
            targets.append(t)
        return cls(runs=d["runs"], targets=targets, settings=d["settings"],
                   notes=d.get("notes", []), level=d.get("ci_level", 0.95), by=d.get("by", []))


def _what(s: dict) -> str:
    col = s.get("joint")
    if s.get("target") == "law":
        at = ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", s.get("target_scale")),
                                                       ("horizon", s.get("target_horizon")))
                       if v is not None)
        what = f"the optimal LR and {col}" if col else "the optimal LR"
        return f"target: {what} predicted at {at}"
    if col:
        return f"target: the joint optimum (lr*, {col}*) of every LR x {col} surface"
    return "target: the optimal LR of every sweep"


def _sd_of(s: dict) -> str:
    col = s.get("joint")
    return f"(ln lr*, ln {col}*): sqrt(Var + Var)" if col else "ln lr_opt"


def _sd(v, s) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return fmt(v) + ("*" if s.get("relative") else "")


def _label(t: dict) -> str:
    g = group_label(t.get("group"), empty="")
    if t["target"] == "law":
        return g or "all"
    where = f"scale {fmt(t.get('scale'))}" if t.get("scale") is not None else ""
    if t.get("horizon") is not None:
        where += (", " if where else "") + f"horizon {fmt(t.get('horizon'))}"
    return ", ".join(x for x in (g, where) if x) or "sweep"
