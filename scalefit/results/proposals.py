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
from ..render.proposals_text import proposals_document, target_label
from ..render.tables import Document
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
        return {target_label(t): t.get("sd_after") for t in self.targets}

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
            out[target_label(t)] = (lr * math.exp(-z * sd), lr * math.exp(z * sd)) if ok else None
        return out

    def summary(self) -> Document:
        return proposals_document(self)

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

    def save(self, path, draws: bool = True):
        """Write ``to_dict(draws)`` as JSON to ``path`` atomically (``scalefit.load`` reads
        it back)."""
        from ..files import write_json

        return write_json(path, self.to_dict(draws=draws))

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
