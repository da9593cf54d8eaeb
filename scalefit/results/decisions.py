"""Decision results: ``Prediction``, ``Audit`` and ``HorizonTransfer``, one row per group.

Each holds one row per ``by`` group (all groups unless one was chosen), the interval
level, where the intervals come from (``interval_source``) and the bootstrap draws behind
them, so ``conf_int(level)`` recomputes them at any level. A result of one row can be
read like that row: ``prediction["lr"]``, ``transfer.lr``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import decisions as dec
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable
from ..errors import ScalefitInputError
from ..options import check
from ..render import decision_text
from ..render.format import fmt, group_label
from ..render.tables import Document, Table
from ..selection import matching
from .base import draws_from_json, draws_to_json, level_or_stored

# Keys of a row that hold draws: in memory always, in to_dict only with draws=True.
DRAW_KEYS = ("draws_log", "total_log", "penalty_draws", "curvature_log", "b_draws")


@dataclass(frozen=True)
class _Rows:
    rows: tuple
    level: float = 0.95
    interval_source: str | None = None
    warning_key = "extrapolation"
    draw_keys = DRAW_KEYS  # keys of a row that hold draws (a subclass may name others)

    def __post_init__(self):
        object.__setattr__(self, "rows", freeze([dict(r) for r in self.rows]))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.rows[key]
        if len(self.rows) != 1:
            raise KeyError(f"{key!r}: this result holds {len(self.rows)} groups; index a row "
                           "(result.rows[i][key]) or choose a group")
        return self.rows[0][key]

    def row(self, group: dict | None = None):
        """The row of ``group`` (by-column values; default: the only row)."""
        if group is None and len(self.rows) == 1:
            return self.rows[0]
        hits = [] if group is None else matching(self.rows, group, lambda r: r["group"])
        if hits:
            return hits[0]
        raise KeyError(f"no row for group {group!r}")

    def messages(self) -> list[str]:
        """Every extrapolation message of the rows (and what their laws assume)."""
        return [w for r in self.rows for key in (self.warning_key, "assumptions")
                for w in (r.get(key) or [])]

    def table(self):
        """The rows as a DataFrame (intervals as ``_lo``/``_hi`` columns)."""
        import pandas as pd

        out = []
        for r in self.rows:
            row = dict(r["group"] or {})
            for k, v in r.items():
                if k in self.draw_keys or k == "group":
                    continue
                if isinstance(v, tuple) and len(v) == 2 and k.endswith(("_ci", "_pi")):
                    row[k + "_lo"], row[k + "_hi"] = v
                elif not isinstance(v, tuple):
                    row[k] = v
            out.append(row)
        return pd.DataFrame(out)

    def _rows_dict(self, draws: bool) -> list[dict]:
        rows = []
        for r in thaw(self.rows):
            for k in self.draw_keys:
                if k in r:
                    v = r.pop(k)
                    if draws and v is not None:
                        r[k] = draws_to_json(v)
            rows.append(r)
        return jsonable(rows)

    @classmethod
    def _rows_from(cls, rows: list[dict]) -> list[dict]:
        return [{k: (draws_from_json(v) if k in cls.draw_keys else v) for k, v in r.items()}
                for r in rows]

    def __str__(self) -> str:
        return self.summary().to_text()


@dataclass(frozen=True)
class Prediction(_Rows):
    """Predicted optimal LR per group at (``scale``, ``horizon``); see ``FitResult.predict``.

    Row keys: ``group``, ``lr``, ``lr_ci`` (interval of the law's mean), ``lr_pi`` (adds
    the scatter of a new optimum around the law; ``pi_scatter`` says which),
    ``sigma_log``, ``law``, ``scale``,
    ``horizon``, ``extrapolation`` (notes on how far the point lies outside the data),
    ``assumptions`` (what the law assumes about the variables it does not vary in: a law
    fitted at one scale cannot say how the optimum moves with scale).
    """

    scale: float | None = None
    horizon: float | None = None

    @property
    def params(self) -> dict:
        return {group_label(r["group"]): r["lr"] for r in self.rows}

    def conf_int(self, level: float | None = None) -> dict:
        """group label -> {"lr_ci": (lo, hi), "lr_pi": (lo, hi)} at ``level``."""
        has = all(r.get("draws_log") is not None for r in self.rows)
        lvl = level_or_stored(level, self.level, has, "this prediction")
        out = {}
        for r in self.rows:
            if lvl == self.level or r.get("draws_log") is None:
                out[group_label(r["group"])] = {"lr_ci": r["lr_ci"], "lr_pi": r["lr_pi"]}
            else:
                iv = dec.prediction_intervals(r["draws_log"], r["total_log"], lvl)
                out[group_label(r["group"])] = {k: tuple(iv[k]) for k in ("lr_ci", "lr_pi")}
        return out

    def summary(self) -> Table:
        return decision_text.prediction_table(self)

    def to_dict(self, draws: bool = True) -> dict:
        return {"scale": self.scale, "horizon": self.horizon,
                "interval_source": self.interval_source, "ci_level": self.level,
                "predictions": self._rows_dict(draws)}

    @classmethod
    def from_dict(cls, d: dict) -> Prediction:
        return cls(rows=cls._rows_from(d["predictions"]), level=d["ci_level"],
                   interval_source=d.get("interval_source"), scale=d.get("scale"),
                   horizon=d.get("horizon"))


@dataclass(frozen=True)
class Audit(_Rows):
    """Loss cost of training at ``lr`` per group; see ``FitResult.audit``.

    Row keys: those of a prediction, and ``lr_used``, ``ratio`` (lr / lr_opt),
    ``penalty`` (expected loss penalty) with ``penalty_ci``, ``curvature`` with
    ``curvature_ci``, ``expected_penalty_at_optimum``, ``penalty_reason`` (why there is
    no penalty: the LR is where the data's runs diverged, or beyond the LRs they tried;
    None when there is one).
    """

    lr: float = float("nan")
    scale: float | None = None
    horizon: float | None = None

    @property
    def params(self) -> dict:
        return {group_label(r["group"]): r["penalty"] for r in self.rows}

    def conf_int(self, level: float | None = None) -> dict:
        """group label -> intervals (``lr_ci``, ``lr_pi``, ``penalty_ci``, ``curvature_ci``)."""
        has = all(r.get("penalty_draws") is not None for r in self.rows)
        lvl = level_or_stored(level, self.level, has, "this audit")
        out = {}
        for r in self.rows:
            keys = ("lr_ci", "lr_pi", "penalty_ci", "curvature_ci")
            if lvl == self.level or r.get("penalty_draws") is None:
                out[group_label(r["group"])] = {k: r[k] for k in keys}
                continue
            iv = {**dec.prediction_intervals(r["draws_log"], r["total_log"], lvl),
                  **dec.audit_intervals(r["penalty_draws"], r["curvature_log"], lvl)}
            out[group_label(r["group"])] = {k: tuple(iv[k]) for k in keys}
        return out

    def summary(self) -> Table:
        return decision_text.audit_table(self)

    def to_dict(self, draws: bool = True) -> dict:
        return {"lr": self.lr, "scale": self.scale, "horizon": self.horizon,
                "interval_source": self.interval_source, "ci_level": self.level,
                "audits": self._rows_dict(draws)}

    @classmethod
    def from_dict(cls, d: dict) -> Audit:
        return cls(rows=cls._rows_from(d["audits"]), level=d["ci_level"],
                   interval_source=d.get("interval_source"), lr=d["lr"], scale=d.get("scale"),
                   horizon=d.get("horizon"))


@dataclass(frozen=True)
class HorizonTransfer(_Rows):
    """A learning rate carried from one token horizon to another, per group.

    ``lr = lr_ref * (horizon_target / horizon_ref)^b``; row keys: ``group`` (None when b
    was given), ``lr``, ``lr_ci``, ``b``, ``b_ci``, ``b_source`` ("given" or "fitted"),
    ``lr_ref``, ``horizon_ref``, ``horizon_target``, ``warnings``. ``beta``: Bjorck et
    al.'s beta when b was given as -beta (for the summary). One row reads as attributes
    (``t.lr``, ``t.b_ci``, ...).
    """

    lr_ref: float = float("nan")
    horizon_ref: float = float("nan")
    horizon_target: float = float("nan")
    beta: float | None = None
    warning_key = "warnings"

    def __getattr__(self, name):
        if name in ("lr", "lr_ci", "b", "b_ci", "b_source", "group"):
            try:
                return self[name]
            except KeyError as e:
                raise AttributeError(str(e)) from None
        raise AttributeError(name)

    @property
    def warnings(self):
        return self["warnings"]

    @property
    def params(self) -> dict:
        return {group_label(r["group"]): {"lr": r["lr"], "b": r["b"]} for r in self.rows}

    def conf_int(self, level: float | None = None) -> dict:
        """group label -> {"lr_ci": ..., "b_ci": ...} at ``level``."""
        has = all(r.get("b_draws") is not None for r in self.rows
                  if r["b_source"] == "fitted")
        lvl = level_or_stored(level, self.level, has, "this transfer")
        out = {}
        for r in self.rows:
            if lvl == self.level or r.get("b_draws") is None:
                out[group_label(r["group"])] = {"lr_ci": r["lr_ci"], "b_ci": r["b_ci"]}
            else:
                ratio = self.horizon_target / self.horizon_ref
                iv = dec.transfer_intervals(self.lr_ref, ratio, r["b_draws"], lvl)
                out[group_label(r["group"])] = {k: tuple(iv[k]) for k in ("lr_ci", "b_ci")}
        return out

    def summary(self) -> Document:
        return decision_text.transfer_document(self)

    def to_dict(self, draws: bool = True) -> dict:
        return {"lr_ref": self.lr_ref, "horizon_ref": self.horizon_ref,
                "horizon_target": self.horizon_target, "interval_source": self.interval_source,
                "transfers": self._rows_dict(draws)}

    @classmethod
    def from_dict(cls, d: dict) -> HorizonTransfer:
        return cls(rows=cls._rows_from(d["transfers"]), interval_source=d.get("interval_source"),
                   lr_ref=d["lr_ref"], horizon_ref=d["horizon_ref"],
                   horizon_target=d["horizon_target"], level=d.get("ci_level", 0.95))


def transfer_row(group, t: dict) -> dict:
    """A HorizonTransfer row from ``core.decisions.horizon_transfer`` output."""
    keys = ("lr", "lr_ci", "b", "b_ci", "b_source", "lr_ref", "horizon_ref", "horizon_target",
            "warnings", "b_draws")
    return {"group": group, **{k: t[k] for k in keys}}



def transfer(lr_ref: float, horizon_ref: float, horizon_target: float, b: float | None = None,
             fit=None, group: dict | None = None, ci: float | None = None,
             beta: float | None = None) -> HorizonTransfer:
    """Carry ``lr_ref`` tuned at ``horizon_ref`` tokens to ``horizon_target`` tokens.

    ``lr = lr_ref * (horizon_target / horizon_ref)^b`` with the signed horizon exponent
    ``b`` given (Bjorck et al.'s beta = 0.32 is ``b = -0.32``, or pass ``beta=0.32``) or
    taken, with its interval at level ``ci``, from a FitResult's primary lr laws
    (``fit``; ``group`` picks a by-group, default every group). Warns
    (``ExtrapolationWarning``) when the target lies beyond the fitted horizons by more
    than a factor of 4.
    """
    check("lr", lr_ref, "lr_ref")
    check("horizon_ref", horizon_ref)
    check("horizon_target", horizon_target)
    check("level", ci, "ci")
    for name, v in (("b", b), ("beta", beta)):
        if v is not None:
            check(name, v)
    if b is None and beta is not None:
        b = -beta
        if beta < 0 and horizon_target > 0 and horizon_ref > 0:
            import warnings

            factor = (horizon_target / horizon_ref) ** b
            way = "rise" if factor > 1 else "fall"
            warnings.warn(f"beta = {fmt(beta)} is negative, so the LR would {way} with the "
                          f"horizon (x{fmt(factor)} here); Bjorck et al.'s beta is "
                          f"positive (lr ~ D^-beta): did you mean --beta {fmt(-beta)} "
                          f"(or --b {fmt(beta)})?", UserWarning, stacklevel=2)
    if b is not None:
        t = dec.horizon_transfer(lr_ref, horizon_ref, horizon_target, b=b)
        return HorizonTransfer(rows=[transfer_row(None, t)], lr_ref=lr_ref,
                               horizon_ref=horizon_ref, horizon_target=horizon_target,
                               beta=beta)
    dec.check_transfer(lr_ref, horizon_ref, horizon_target)
    if fit is None:
        raise ScalefitInputError("give the horizon exponent b (e.g. b=-0.32) or a fit with a "
                                 "horizon law")
    return fit.transfer(lr_ref, horizon_ref, horizon_target, group=group, level=ci)
