"""Results of the decisions a ``CurveFit`` supports: ``CurvePrediction`` (a schedule's
curve with bands), ``ScheduleComparison`` (two schedules at their ends) and ``WsdBranches``
(the loss at every branch point of a WSD run). Each has ``summary()`` and ``to_dict()``;
``messages()`` are the extrapolation warnings, also in the text."""

from __future__ import annotations

import numpy as np

from ..core.frozen import freeze
from ..core.pyvalue import jsonable
from .base import Immutable


class _Decision(Immutable):
    def messages(self) -> list[str]:
        return list(self.warnings)

    def __str__(self) -> str:
        return self.summary().to_text()

    def summary(self):
        from ..render import curve_text

        return getattr(curve_text, type(self).__name__.lower() + "_document")(self)


class CurvePrediction(_Decision):
    """``schedule`` (ScheduleSpec), ``steps``, ``loss`` and (with draws) ``lo``/``hi`` (an
    observed loss) and ``mean_lo``/``mean_hi`` (the curve); ``band_source``: the ln errors
    the observed-loss band adds."""

    __slots__ = ("schedule", "steps", "values", "level", "group", "band_source", "warnings")

    def __init__(self, schedule, steps, values, level, group, band_source, warnings=()):
        self._set({"schedule": schedule, "steps": freeze(np.asarray(steps)),
                   "values": freeze({k: np.asarray(v, float) for k, v in values.items()}),
                   "level": float(level), "group": freeze(group), "band_source": band_source,
                   "warnings": tuple(warnings)})

    def to_dict(self, draws: bool = False) -> dict:
        return {"kind": "curve_prediction", "schedule": self.schedule.to_dict(),
                "group": jsonable(dict(self.group)), "level": self.level,
                "band_source": self.band_source, "steps": [int(s) for s in self.steps],
                **{k: jsonable(v) for k, v in self.values.items()},
                "warnings": list(self.warnings)}


class ScheduleComparison(_Decision):
    """Schedules ``a`` and ``b``; ``values``: ``loss_a``, ``loss_b``, ``diff`` (b - a) and
    with draws ``diff_lo``, ``diff_hi``, ``p_b_lower``."""

    __slots__ = ("a", "b", "values", "level", "group", "warnings")

    def __init__(self, a, b, values, level, group, warnings=()):
        self._set({"a": a, "b": b, "values": freeze(dict(values)), "level": float(level),
                   "group": freeze(group), "warnings": tuple(warnings)})

    def to_dict(self, draws: bool = False) -> dict:
        return {"kind": "schedule_comparison", "a": self.a.to_dict(), "b": self.b.to_dict(),
                "group": jsonable(dict(self.group)), "level": self.level,
                **jsonable(dict(self.values)), "warnings": list(self.warnings)}


class WsdBranches(_Decision):
    """Branch points of a warmup-stable run: ``values`` ``branch``, ``horizon``, ``loss``
    (after the cooldown), ``loss_at_branch`` and with draws ``lo``/``hi``."""

    __slots__ = ("schedule", "cooldown_steps", "end_lr", "decay_shape", "values", "level",
                 "group", "warnings")

    def __init__(self, schedule, cooldown_steps, end_lr, decay_shape, values, level, group,
                 warnings=()):
        self._set({"schedule": schedule, "cooldown_steps": cooldown_steps, "end_lr": end_lr,
                   "decay_shape": decay_shape,
                   "values": freeze({k: np.asarray(v) for k, v in values.items()}),
                   "level": float(level), "group": freeze(group), "warnings": tuple(warnings)})

    def to_dict(self, draws: bool = False) -> dict:
        return {"kind": "wsd_branches", "stable": self.schedule.to_dict(),
                "cooldown_steps": self.cooldown_steps, "end_lr": self.end_lr,
                "decay_shape": self.decay_shape, "group": jsonable(dict(self.group)),
                "level": self.level, **{k: jsonable(v) for k, v in self.values.items()},
                "warnings": list(self.warnings)}
