"""``BacktestResult``: a rolling-origin backtest of the laws of lr_opt (``scalefit backtest``).

One row per held-out optimum (``points``) and, computed from them, one score per ``by``
group and pooled (``scores``): coverage of the prediction intervals, median |ln error|,
mean loss cost, and the same for the two baselines. JSON: docs/json-schema.md, "backtest".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._version import __version__
from ..core import backtest as cb
from ..core.frozen import freeze, thaw
from ..core.pyvalue import jsonable
from ..errors import ScalefitInputError
from ..options import check
from .base import Immutable

KIND = "backtest"


class BacktestResult(Immutable):
    """``points``: tuple of dicts, one per held-out optimum (keys in docs/json-schema.md);
    ``axis``: the ordered column; ``level``: the PI level; ``notes``: origins skipped and
    why; ``settings``, ``input``: how it was made."""

    __slots__ = ("points", "axis", "level", "notes", "settings", "input")

    def __init__(self, points, axis: str, level: float, notes=(), settings=None, input=None):
        self._set({"points": freeze([dict(p) for p in points]), "axis": axis,
                   "level": float(level), "notes": tuple(notes),
                   "settings": freeze(dict(settings or {})), "input": freeze(dict(input or {}))})

    # ------------------------------------------------------------------ views
    def table(self) -> pd.DataFrame:
        """The held-out points as a DataFrame (intervals as ``_lo``/``_hi`` columns)."""
        out = []
        for p in thaw(self.points):
            row = dict(p.pop("group"))
            p.pop("law_params", None)
            p.pop("keep_from", None)
            for k in ("lr_pred_ci", "lr_pred_pi", "lr_measured_ci", "bs_pred_ci", "bs_pred_pi",
                      "bs_measured_ci"):
                if k.startswith("bs_") and k not in p:
                    continue
                v = p.pop(k, None)
                row[k + "_lo"], row[k + "_hi"] = (v if v is not None else (np.nan, np.nan))
            row.update(p)
            out.append(row)
        return pd.DataFrame(out)

    def groups(self) -> list[dict]:
        seen = []
        for p in self.points:
            g = dict(p["group"])
            if g not in seen:
                seen.append(g)
        return seen

    def scores(self) -> list[dict]:
        """Per group (and ``pooled`` over all groups when there are several): ``n_points``,
        ``levels`` (held-out), ``law``, ``keep`` and ``short`` scores (``coverage``,
        ``median_abs_ln_error``, ``mean_loss_cost``, ...; the law's PI is the one
        ``FitResult.predict`` gives), ``beats_keep`` /
        ``beats_short`` (the law's median |ln error| is the smaller; None when a baseline
        has no prediction)."""
        groups = self.groups()
        out = [self._score([p for p in self.points if dict(p["group"]) == g], g)
               for g in groups]
        if len(groups) > 1:
            out.append(self._score(list(self.points), None))
        return out

    @staticmethod
    def _score(pts, group) -> dict:
        def col(key):
            return np.array([np.nan if p.get(key) is None else float(p[key]) for p in pts])

        law = cb.scores(col("ln_error"), col("covered"), col("loss_cost"))
        keep = cb.scores(col("keep_ln_error"), np.full(len(pts), np.nan), col("keep_loss_cost"))
        short = cb.scores(col("short_ln_error"), col("short_covered"), col("short_loss_cost"))
        bs = None
        if any(p.get("bs_ln_error") is not None for p in pts):
            bl = cb.scores(col("bs_ln_error"), col("bs_covered"), col("bs_loss_cost"))
            bk = cb.scores(col("bs_keep_ln_error"), np.full(len(pts), np.nan),
                           col("bs_keep_loss_cost"))
            bsh = cb.scores(col("bs_short_ln_error"), col("bs_short_covered"),
                            col("bs_short_loss_cost"))
            bs = (bl, bk, bsh)

        def beats(base, law=law):
            a, b = law["median_abs_ln_error"], base["median_abs_ln_error"]
            return None if a is None or b is None or base["n"] < law["n"] else bool(a < b)

        if bs is not None:
            bl, bk, bsh = bs
            bs = {"law": bl, "keep": bk, "short": bsh, "beats_keep": beats(bk, bl),
                  "beats_short": beats(bsh, bl)}
        out = {"group": group, "pooled": group is None, "n_points": len(pts),
               "levels": sorted({p["origin"] for p in pts}), "law": law, "keep": keep,
               "short": short, "beats_keep": beats(keep), "beats_short": beats(short)}
        if bs is not None:
            out["bs"] = bs  # a joint backtest: the same scores for the batch size
        return out

    # ------------------------------------------------------------------ protocol
    @property
    def params(self) -> dict:
        """Per group label (``all`` pooled): coverage, median |ln error|, mean loss cost."""
        return {_label(s): {k: s["law"][k] for k in ("coverage", "median_abs_ln_error",
                                                     "mean_loss_cost")}
                for s in self.scores()}

    def conf_int(self, level: float | None = None) -> dict:
        """Per group label: the Clopper-Pearson interval (default at the backtest's level)
        of the PI coverage, from the held-out points covered and counted."""
        from scipy.stats import beta

        lvl = self.level if level is None else check("level", level)
        out = {}
        for s in self.scores():
            k, n = s["law"]["n_covered"], s["law"]["n_with_pi"]
            if n == 0:
                out[_label(s)] = {"coverage": None}
                continue
            a = (1 - lvl) / 2
            lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
            hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
            out[_label(s)] = {"coverage": (lo, hi)}
        return out

    def summary(self):
        from ..render.backtest_text import backtest_document

        return backtest_document(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        return (f"<BacktestResult along {self.axis}: {len(self.points)} held-out optima, "
                f"{len(self.groups())} group(s)>")

    def _repr_markdown_(self) -> str:
        return self.summary().to_markdown()

    def messages(self) -> list[str]:
        return []

    def plot(self, path=None):
        """Predicted vs measured optimum with the prediction intervals (a matplotlib
        Figure); saved to ``path`` (PNG/SVG by extension) when given."""
        from ..render.backtest_figure import backtest_figure

        return backtest_figure(self, path)

    def report(self, directory, command: str | None = None) -> dict:
        """Write ``directory``/report.md, report.html (self-contained) and figures/backtest
        .png|.svg: the figure, the held-out points and the scores. Returns the paths."""
        from ..render.backtest_report import write_backtest_report

        return write_backtest_report(self, directory, command)

    def to_dict(self, draws: bool = True) -> dict:
        return jsonable({"version": __version__, "kind": KIND, "axis": self.axis,
                         "ci_level": self.level, "input": thaw(self.input),
                         "settings": thaw(self.settings), "notes": list(self.notes),
                         "points": thaw(self.points), "scores": self.scores()})

    def save(self, path, draws: bool = True):
        """Write ``to_dict(draws)`` as JSON to ``path`` atomically (``scalefit.load`` reads
        it back)."""
        from ..files import write_json

        return write_json(path, self.to_dict(draws=draws))

    @classmethod
    def from_dict(cls, d: dict) -> BacktestResult:
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise ScalefitInputError("not a backtest result (no \"kind\": \"backtest\")")
        try:
            return cls(points=d["points"], axis=d["axis"], level=d["ci_level"],
                       notes=d.get("notes", ()), settings=d.get("settings"),
                       input=d.get("input"))
        except KeyError as e:
            raise ScalefitInputError(f"backtest result: missing key {e}") from None


def _label(score: dict) -> str:
    g = score["group"]
    if g is None:
        return "all"
    return ", ".join(f"{k}={v}" for k, v in g.items()) or "all runs"


def fmt_share(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.0f}%"
