"""``FitResult``: optima, laws and transfer measures; prints a summary, serializes to a dict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._version import __version__
from .bootstrap import BootSweeps
from .laws import Law, _jsonable

ROLE_KEYS = ("scale", "horizon")
MAX_SUMMARY_ROWS = 60


@dataclass
class FitResult:
    """The result of ``scalefit.fit``.

    ``optima``: DataFrame, one row per sweep: the ``by`` columns, ``scale``, ``horizon``,
    ``lr_opt`` with ``lr_opt_lo``/``lr_opt_hi``, ``loss_opt``, ``curvature`` (loss per
    (ln lr)^2) with intervals, ``lr_best`` (best observed LR), ``status``, ``n_runs``,
    ``n_diverged``, ``n_window`` (runs in the quadratic fit), ``n_lrs`` (distinct finite
    LRs), ``fit_rmse`` and ``boot_valid`` (share of resamples with a convex fit).
    ``laws``: list of ``Law``; ``transfer``: transfer measures with ``by`` (or None).
    """

    optima: pd.DataFrame
    laws: list[Law]
    input: dict
    settings: dict
    notes: list[str] = field(default_factory=list)
    transfer: object | None = None
    boot: BootSweeps | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ access
    @property
    def by(self) -> list[str]:
        return list(self.input.get("by", []))

    def law(self, target: str = "lr_opt", group: dict | None = None,
            primary: bool = True) -> Law | None:
        """The law of ``target`` for ``group`` (by-column values); the primary one by default."""
        group = group or {}
        for law in self.laws:
            if law.target != target or (primary and not law.primary):
                continue
            if all(_same(law.group.get(k), v) for k, v in group.items()):
                return law
        return None

    def predict(self, scale=None, horizon=None, group: dict | None = None) -> dict:
        """Optimal LR at (scale, horizon) from the primary lr law, with ``lr_ci`` / ``lr_pi``."""
        from .transfer import predict

        return predict(self, scale=scale, horizon=horizon, group=group)

    def audit(self, lr_used: float, scale=None, horizon=None, group: dict | None = None) -> dict:
        """Predicted optimum and the expected loss penalty (``penalty``, ``penalty_ci``)."""
        from .transfer import audit

        return audit(self, lr_used, scale=scale, horizon=horizon, group=group)

    # ------------------------------------------------------------------ output
    def to_dict(self, draws: bool = False) -> dict:
        """The JSON contract of DESIGN section 4 (see docs/json-schema.md).

        ``draws=True`` adds each primary power law's bootstrap draws (key ``draws``), so
        that predictions and audits from the JSON alone carry intervals.
        """
        inp = dict(self.input)
        inp["columns"] = {k: v for k, v in inp["columns"].items()}
        return _jsonable({
            "version": __version__,
            "input": inp,
            "settings": self.settings,
            "optima": [self._optimum_dict(r) for _, r in self.optima.iterrows()],
            "laws": [law.to_dict(draws=draws and law.primary) for law in self.laws],
            "transfer": self.transfer.to_dict() if self.transfer is not None else None,
            "notes": list(self.notes),
        })

    def _optimum_dict(self, r: pd.Series) -> dict:
        def pair(lo, hi):
            return None if not (np.isfinite(r[lo]) and np.isfinite(r[hi])) else [r[lo], r[hi]]

        return {
            "group": {b: _py(r[b]) for b in self.by},
            "scale": _py(r["scale"]) if "scale" in r else None,
            "horizon": _py(r["horizon"]) if "horizon" in r else None,
            "lr_opt": r["lr_opt"],
            "lr_opt_ci": pair("lr_opt_lo", "lr_opt_hi"),
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
        }

    def summary(self, conditional: bool = False) -> str:
        """A readable multi-line report of the optima, laws and transfer measures.

        Conditional laws (at one fixed horizon or scale) are counted but listed only with
        ``conditional=True``; all of them are always in ``to_dict()``.
        """
        lvl = f"{self.settings['ci'] * 100:g}%"
        inp = self.input
        cols = "  ".join(f"{k}={v}" for k, v in inp["columns"].items() if v is not None)
        counts = self.optima["status"].value_counts()
        status_line = ", ".join(f"{counts[s]} {s}" for s in counts.index)
        lines = [
            f"scalefit {__version__}: {inp['source']}: {inp['rows']} runs "
            f"({inp['diverged']} diverged), {inp['groups']} sweeps ({status_line})",
            f"columns: {cols}" + (f"   by: {', '.join(inp['by'])}" if inp["by"] else ""),
            (f"bootstrap: {self.settings['n_boot']} resamples of runs within each sweep, "
             f"{lvl} percentile intervals, seed {self.settings['seed']}")
            if self.settings["n_boot"] else "bootstrap: off (no intervals)",
            "",
            f"Optimal LR per sweep (quadratic in ln lr; curvature = loss per (ln lr)^2; {lvl} CI)",
        ]
        lines += _optima_lines(self.optima, self.by)
        if self.laws:
            shown = [law for law in self.laws if conditional or set(law.group) <= set(self.by)]
            lines += ["", f"Laws ({lvl} CI; exponents signed as in the formula)"]
            for law in shown:
                lines += _law_lines(law)
            hidden = len(self.laws) - len(shown)
            if hidden:
                lines.append(f"  ... and {hidden} conditional laws at a fixed horizon or scale "
                             "(in --json; listed with --all-laws / summary(conditional=True))")
        if self.transfer is not None:
            lines += ["", *self.transfer.summary_lines()]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        n_ok = int((self.optima["status"] == "ok").sum())
        return (f"<FitResult {self.input['groups']} sweeps ({n_ok} ok), {len(self.laws)} laws, "
                f"n_boot={self.settings['n_boot']}>")


def _same(a, b) -> bool:
    try:
        return a == b or (isinstance(a, float) and math.isclose(a, float(b)))
    except (TypeError, ValueError):
        return False


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def fmt(v, digits: int = 3) -> str:
    """Format a number compactly; '-' for missing."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    v = float(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def fmt_ci(pair) -> str:
    if pair is None or any(p is None or not np.isfinite(p) for p in pair):
        return ""
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def _optima_lines(opt: pd.DataFrame, by: list[str]) -> list[str]:
    head = [*by] + [c for c in ROLE_KEYS if c in opt]
    rows = []
    for _, r in opt.head(MAX_SUMMARY_ROWS).iterrows():
        ci = fmt_ci((r["lr_opt_lo"], r["lr_opt_hi"]))
        rows.append(
            [str(_py(r[c])) if c in by else fmt(r[c]) for c in head]
            + [fmt(r["lr_opt"]), ci, fmt(r["loss_opt"], 4), fmt(r["curvature"]),
               f"{int(r['n_runs'])}/{int(r['n_diverged'])}", fmt(r["lr_best"]), r["status"]]
        )
    header = head + ["lr_opt", "CI", "loss_opt", "curvature", "runs/div", "best_lr", "status"]
    lines = _table(header, rows)
    if len(opt) > MAX_SUMMARY_ROWS:
        lines.append(f"  ... {len(opt) - MAX_SUMMARY_ROWS} more sweeps (all are in --json)")
    return lines


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    out = [indent + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()]
    for r in rows:
        out.append(indent + "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
    return out


def _law_lines(law: Law) -> list[str]:
    grp = ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in law.group.items())
    tag = "" if (law.primary or law.target == "loss_opt") else "  (conditional)"
    head = f"  {law.form}" + (f"   [{grp}]" if grp else "") + tag
    parts = []
    for name in law.param_names:
        parts.append(f"{name} = {fmt(law.params.get(name))} {fmt_ci(law.ci.get(name))}".rstrip())
    fit_q = ("R2_log" if law.target != "loss_opt" else "R2", "RMSE_log" if law.target !=
             "loss_opt" else "RMSE")
    stats = (f"{fit_q[0]} {fmt(law.r2_log)}, {fit_q[1]} {fmt(law.rmse_log)}, "
             f"n = {law.n_points}")
    lines = [head, "      " + "; ".join(parts), "      " + stats]
    ex = law.extrapolation
    if ex:
        cost = f", loss cost {fmt(ex['loss_cost'])}" if ex.get("loss_cost") is not None else ""
        lines.append(f"      leave-largest-out ({ex['left_out']} = {fmt(ex['value'])}): error in "
                     f"ln {law.target} {fmt(ex['error_log'])} {fmt_ci(ex.get('error_log_ci'))}"
                     f"{cost}")
    for n in law.notes:
        lines.append(f"      note: {n}")
    return lines
