"""``Allocation``: the compute-optimal model size N* and tokens D* at given budgets.

Made by ``ChinchillaResult.allocate(C)`` (Approach 3: the minimum of the fitted
``L(N, D)`` under ``C = 6 N D``) or ``IsoflopResult.allocate(C)`` (Approach 2: the power
laws of the IsoFLOP optima). One row per budget: N*, D*, tokens per parameter D*/N* and
the predicted loss, each with a percentile interval over the bootstrap draws the result
holds (so ``conf_int(level)`` recomputes them at any level), plus the exponents
``N* ~ C^a``, ``D* ~ C^b``, the fit's data range, and what extrapolates beyond it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.bootstrap import percentile_ci
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable, num
from ..errors import ScalefitInputError
from ..options import check
from ..render.allocation_text import allocation_document
from ..render.format import fmt
from ..render.tables import Document
from .base import draws_from_json, draws_to_json, level_or_stored

QUANTITIES = ("N_opt", "D_opt", "tokens_per_param", "loss")
DRAW_KEYS = ("ln_N", "ln_D", "loss", "a", "b")


def check_budgets(budgets) -> np.ndarray:
    """Budgets as a 1-D float array of finite positive FLOPs (ScalefitInputError otherwise)."""
    try:
        c = np.atleast_1d(np.asarray(budgets, dtype=float))
    except (TypeError, ValueError):
        raise ScalefitInputError(f"budgets must be numbers of FLOPs (got {budgets!r})") from None
    if c.ndim != 1 or c.size == 0:
        raise ScalefitInputError("give one budget or a 1-D list of budgets in FLOPs, e.g. 1e21")
    check("budgets", c.tolist())
    return c


def extrapolation_notes(c: float, n: float, d: float, data_range: dict | None) -> list[str]:
    """How far a budget and its allocation lie outside the fitted data, one note each."""
    out = []
    if not data_range:
        return out
    for name, v, what in (("C", c, "budget C"), ("N", n, "N*"), ("D", d, "D*")):
        rng = data_range.get(name)
        if rng is None or not (math.isfinite(v) and v > 0):
            continue
        lo, hi = rng
        if v > hi * 1.0001:
            out.append(f"{what} {v:.3g} is {v / hi:.3g}x above the largest {name} of the fit "
                       f"({hi:.3g})")
        elif v < lo / 1.0001:
            out.append(f"{what} {v:.3g} is {lo / v:.3g}x below the smallest {name} of the fit "
                       f"({lo:.3g})")
    return out


@dataclass(frozen=True)
class Allocation:
    """Compute-optimal N*, D*, D*/N* and loss per budget; see the module doc.

    Attributes: ``budgets`` (FLOPs), ``rows`` (one dict per budget: ``C``, ``N_opt``,
    ``N_opt_ci``, ``D_opt``, ``D_opt_ci``, ``tokens_per_param``, ``tokens_per_param_ci``,
    ``loss``, ``loss_ci``, ``extrapolation``), ``a``/``a_ci`` and ``b``/``b_ci`` (N* ~ C^a,
    D* ~ C^b), ``level``, ``method`` (``"chinchilla"`` or ``"isoflop"``), ``law`` (the
    form it comes from), ``group`` (an IsoFLOP by-group, or None), ``data_range`` (C, N,
    D ranges of the fitted data, or None), ``interval_source``, ``draws`` (ln N*, ln D*,
    loss per draw and budget; a and b per draw; None without a bootstrap).
    """

    budgets: tuple
    rows: tuple
    a: float
    b: float
    a_ci: tuple | None = None
    b_ci: tuple | None = None
    level: float = 0.95
    method: str = "chinchilla"
    law: str = ""
    group: dict | None = None
    data_range: dict | None = None
    interval_source: str | None = None
    draws: dict | None = None

    def __post_init__(self):
        object.__setattr__(self, "budgets", tuple(float(c) for c in self.budgets))
        for name in ("rows", "group", "data_range", "draws"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, freeze(value))

    @classmethod
    def build(cls, budgets, point: dict, draws: dict | None, level: float, **kw) -> Allocation:
        """From ``core.allocation`` output: ``point`` (one row: arrays (n,), scalars a, b)
        and ``draws`` (the same with a leading draw axis, or None)."""
        budgets = np.asarray(budgets, dtype=float)
        vals = _quantities(point)
        iv = _intervals(draws, level) if draws is not None else None
        rows = []
        for i, c in enumerate(budgets):
            r = {"C": float(c)}
            for q in QUANTITIES:
                r[q] = num(vals[q][i])
                r[q + "_ci"] = None if iv is None else iv[q][i]
            r["extrapolation"] = extrapolation_notes(c, vals["N_opt"][i], vals["D_opt"][i],
                                                     kw.get("data_range"))
            rows.append(r)
        a_ci = b_ci = None
        if iv is not None:
            a_ci, b_ci = iv["a"], iv["b"]
        return cls(budgets=tuple(budgets), rows=tuple(rows), a=num(point["a"]),
                   b=num(point["b"]), a_ci=a_ci, b_ci=b_ci, level=level, draws=draws, **kw)

    # ------------------------------------------------------------------ protocol
    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.rows[key]
        if len(self.rows) != 1:
            raise KeyError(f"{key!r}: this allocation holds {len(self.rows)} budgets; index a "
                           "row (allocation[i][key])")
        return self.rows[0][key]

    @property
    def params(self) -> dict:
        """``a``, ``b``, and per quantity a tuple with one value per budget."""
        return {"a": self.a, "b": self.b,
                **{q: tuple(r[q] for r in self.rows) for q in QUANTITIES}}

    def conf_int(self, level: float | None = None) -> dict:
        """Intervals at ``level`` (default the result's), keyed as ``params``: (lo, hi) for
        ``a`` and ``b``, a tuple of one (lo, hi) per budget for each quantity."""
        lvl = level_or_stored(level, self.level, self.draws is not None, "this allocation")
        if lvl == self.level or self.draws is None:
            return {"a": self.a_ci, "b": self.b_ci,
                    **{q: tuple(r[q + "_ci"] for r in self.rows) for q in QUANTITIES}}
        iv = _intervals(self.draws, lvl)
        return {"a": iv["a"], "b": iv["b"], **{q: tuple(iv[q]) for q in QUANTITIES}}

    def messages(self) -> list[str]:
        """Every extrapolation note, as ``warning: extrapolating`` prints it."""
        return [f"C = {r['C']:.3g}: {e}" for r in self.rows for e in r["extrapolation"]]

    def table(self):
        """The rows as a DataFrame (intervals as ``_lo``/``_hi`` columns)."""
        import pandas as pd

        out = []
        for r in self.rows:
            row = {"C": r["C"]}
            for q in QUANTITIES:
                row[q] = r[q]
                row[q + "_lo"], row[q + "_hi"] = r[q + "_ci"] or (None, None)
            out.append(row)
        return pd.DataFrame(out)

    def summary(self) -> Document:
        return allocation_document(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        return f"<Allocation {self.method}: {len(self.rows)} budget(s), a={fmt(self.a)}>"

    # ------------------------------------------------------------------ JSON
    def to_dict(self, draws: bool = True) -> dict:
        """JSON-ready (docs/json-schema.md); ``draws``: the per-draw values behind the
        intervals (``ln_N``, ``ln_D``, ``loss``: one row per draw, one value per budget)."""
        out = {"method": self.method, "law": self.law, "group": jsonable(self.group),
               "ci_level": float(self.level), "a": self.a, "a_ci": jsonable(self.a_ci),
               "b": self.b, "b_ci": jsonable(self.b_ci),
               "data_range": jsonable(thaw(self.data_range)),
               "interval_source": self.interval_source, "budgets": jsonable(thaw(self.rows))}
        if draws and self.draws is not None:
            out["draws"] = {k: draws_to_json(self.draws[k]) for k in DRAW_KEYS}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Allocation:
        rows = [{k: (tuple(v) if k.endswith("_ci") and v is not None else v)
                 for k, v in r.items()} for r in d["budgets"]]
        draws = d.get("draws")
        if draws is not None:
            draws = {k: draws_from_json(draws[k]) for k in DRAW_KEYS}
        return cls(budgets=tuple(r["C"] for r in rows), rows=tuple(rows), a=d["a"], b=d["b"],
                   a_ci=_pair(d.get("a_ci")), b_ci=_pair(d.get("b_ci")), level=d["ci_level"],
                   method=d["method"], law=d.get("law", ""), group=d.get("group"),
                   data_range=d.get("data_range"), interval_source=d.get("interval_source"),
                   draws=draws)


def _pair(v) -> tuple | None:
    return None if v is None else tuple(v)


def _quantities(v: dict) -> dict:
    """N*, D*, D*/N* and loss from ln N*, ln D*, loss (any leading shape)."""
    ln_n, ln_d = np.asarray(v["ln_N"], float), np.asarray(v["ln_D"], float)
    with np.errstate(over="ignore", invalid="ignore"):
        return {"N_opt": np.exp(ln_n), "D_opt": np.exp(ln_d),
                "tokens_per_param": np.exp(ln_d - ln_n), "loss": np.asarray(v["loss"], float)}


def _intervals(draws: dict, level: float) -> dict:
    """Percentile intervals over the draws: per quantity a list of (lo, hi) per budget."""
    q = _quantities(draws)
    out = {}
    for name in QUANTITIES:
        lo_hi = percentile_ci(q[name], level)  # (2, n)
        out[name] = [None if not np.all(np.isfinite(lo_hi[:, i])) else
                     (float(lo_hi[0, i]), float(lo_hi[1, i])) for i in range(lo_hi.shape[1])]
    for name in ("a", "b"):
        lo, hi = percentile_ci(np.asarray(draws[name], float), level)
        out[name] = (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None
    return out
