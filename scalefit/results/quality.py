"""``TransferQuality``: E, kappa, R_inf and delta_L_inf per ``by`` group (docs/math.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable
from ..render.format import group_label
from ..render.quality_text import quality_table
from ..render.tables import Table, Text
from .base import level_or_stored

MEASURES = ("lr_exponent", "E", "extrapolation_error", "kappa", "R_mean", "R_inf",
            "delta_L_inf")


@dataclass(frozen=True)
class TransferQuality:
    """Transfer measures per group of the ``by`` columns, at the fit's interval level.

    ``groups``: one mapping per group: ``group`` (by-column values), each measure of
    ``MEASURES`` with ``<measure>_ci``; ``R_inf``, ``delta_L_inf`` and ``L_inf`` with
    ``<name>_identified`` and ``<name>_reason`` (an asymptote that is not identified is
    None, never a number); and ``L_inf``, ``R_largest`` (+ ``_ci``),
    ``R_model``, ``n_scales``, ``extrapolation_loss_cost``, ``R_curve`` (the loss ratio
    to the reference at each shared scale: ``scale``, ``R``, ``R_ci``). ``reference``:
    the reference group's label; ``horizon``: where groups are compared (None: all).
    The intervals come from the fit's resamples, which this result does not hold:
    ``conf_int`` gives them at the fit's level only.
    """

    by: tuple[str, ...]
    reference: object
    horizon: float | None
    groups: tuple
    notes: tuple[str, ...] = ()
    level: float = 0.95

    def __post_init__(self):
        object.__setattr__(self, "by", tuple(self.by))
        object.__setattr__(self, "groups", freeze(list(self.groups)))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "reference", freeze(self.reference))

    @property
    def params(self) -> dict:
        """group label -> measure -> value."""
        return {group_label(g["group"]): {m: g.get(m) for m in MEASURES} for g in self.groups}

    def conf_int(self, level: float | None = None) -> dict:
        """group label -> measure -> (lo, hi) or None, at the fit's level."""
        level_or_stored(level, self.level, False, "transfer quality")
        return {group_label(g["group"]): {m: g.get(m + "_ci") for m in MEASURES}
                for g in self.groups}

    def table(self):
        """The measures as a DataFrame, one row per group."""
        import pandas as pd

        rows = []
        for g in self.groups:
            row = {**g["group"]}
            for k, v in g.items():
                if k == "group":
                    continue
                if isinstance(v, tuple) and len(v) == 2 and not isinstance(v[0], tuple):
                    row[k + "_lo"], row[k + "_hi"] = v
                elif not isinstance(v, (tuple, dict)) and not hasattr(v, "keys"):
                    row[k] = v
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> Table | Text:
        return quality_table(self, MEASURES)

    def __str__(self) -> str:
        return self.summary().to_text()

    def to_dict(self, draws: bool = True) -> dict:
        """The ``transfer`` key of the JSON result (``draws``: none are held)."""
        return jsonable({"by": list(self.by), "reference": thaw(self.reference),
                         "horizon": self.horizon, "groups": thaw(self.groups),
                         "notes": list(self.notes)})

    @classmethod
    def from_dict(cls, d: dict, level: float = 0.95) -> TransferQuality:
        return cls(by=d["by"], reference=d["reference"], horizon=d.get("horizon"),
                   groups=d["groups"], notes=d.get("notes", []), level=level)
