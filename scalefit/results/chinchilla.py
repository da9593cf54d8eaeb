"""``ChinchillaResult``: the fit of ``loss = E + A * N^-alpha + B * D^-beta``."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._version import __version__
from ..core.allocation import chinchilla_allocation
from ..core.chinchilla import FORM, PARAM_NAMES, boot_ci
from ..core.frozen import freeze, thaw
from ..errors import ExtrapolationWarning, ScalefitInputError
from ..render.chinchilla_text import chinchilla_document
from ..render.tables import Document
from ..schema import CHINCHILLA_SCHEMA_VERSION
from .allocation import Allocation, check_budgets
from .base import draws_from_json, draws_to_json, level_or_stored


@dataclass(frozen=True, repr=False)
class ChinchillaResult:
    """Fit of ``loss = E + A * N^-alpha + B * D^-beta`` (N parameters, D tokens); immutable.

    Attributes: ``params`` (E, A, B, alpha, beta; exponents positive as written),
    ``theta`` (a, b, e, alpha, beta), ``objective`` (summed Huber loss at the optimum),
    ``n_points``, ``n_starts``, ``n_boot``, ``huber_delta``, ``ci_level``, ``seed``,
    ``boot_params`` ((n_boot, 5) array, columns E, A, B, alpha, beta; None without
    bootstrap), ``n_boot_fallback`` / ``n_boot_unconverged`` (resamples refitted by
    scipy after the batched Newton, and those of them that neither scipy nor the Newton
    test called converged), ``converged`` (the full-data optimum passed the Newton
    stationarity test), ``ci`` (name -> (lo, hi) at ``ci_level``, or None) and
    ``input`` (for a fit of a table: source, rows, used, diverged, columns),
    ``data_range`` (``N``, ``D`` and ``C = 6 N D``: (min, max) over the fitted points, or
    None for a result saved without it). ``allocate(C)`` gives the compute-optimal N*, D*.
    """

    params: dict
    theta: np.ndarray
    objective: float
    n_points: int
    n_starts: int
    n_boot: int
    huber_delta: float
    ci_level: float
    seed: int | None
    boot_params: np.ndarray | None = None
    n_boot_fallback: int = 0
    n_boot_unconverged: int = 0
    converged: bool = True
    ci: dict | None = field(default=None)
    input: dict | None = None
    data_range: dict | None = None

    def __post_init__(self):
        for name in ("params", "theta", "boot_params", "ci", "input", "data_range"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, freeze(value))

    def conf_int(self, level: float | None = None) -> dict:
        """Percentile bootstrap interval per parameter at ``level`` (default: the fit's):
        name -> (lo, hi), or None entries without bootstrap."""
        lvl = level_or_stored(level, self.ci_level, self.boot_params is not None, "this fit")
        if self.ci is None:
            return {k: None for k in PARAM_NAMES}
        if lvl == self.ci_level:
            return {k: tuple(v) for k, v in self.ci.items()}
        return boot_ci(np.asarray(self.boot_params), lvl)

    def predict(self, n, d):
        """Predicted loss at parameters ``n`` and tokens ``d`` (broadcast; positive)."""
        n = np.asarray(n, dtype=float)
        d = np.asarray(d, dtype=float)
        if not (np.all(n > 0) and np.all(d > 0)):
            raise ScalefitInputError(
                "predict(n, d): n (parameters) and d (tokens) must be positive; "
                "pass counts, not logs"
            )
        p = self.params
        out = p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]
        return float(out) if out.ndim == 0 else out

    def to_dict(self, draws: bool = True) -> dict:
        """JSON-serializable dict (``ci`` is null without bootstrap); ``draws``: the
        bootstrap parameter draws (rows E, A, B, alpha, beta); a fit of a table starts
        with ``version`` and ``input``."""
        ci = None
        if self.ci is not None:
            ci = {k: [float(lo), float(hi)] for k, (lo, hi) in self.ci.items()}
        out = {"schema_version": CHINCHILLA_SCHEMA_VERSION}
        if self.input:
            out.update({"version": __version__, "input": thaw(self.input)})
        out.update({
            "form": FORM,
            "params": {k: float(v) for k, v in self.params.items()},
            "ci": ci,
            "ci_level": float(self.ci_level),
            "n_points": int(self.n_points),
            "n_starts": int(self.n_starts),
            "n_boot": int(self.n_boot),
            "huber_delta": float(self.huber_delta),
            "objective": float(self.objective),
        })
        if self.data_range is not None:
            out["range"] = {k: [float(v) for v in lo_hi] for k, lo_hi in self.data_range.items()}
        if draws and self.boot_params is not None:
            out["draws"] = draws_to_json(self.boot_params)
        return out

    def save(self, path, draws: bool = True):
        """Write ``to_dict(draws)`` as JSON to ``path`` atomically (``scalefit.load`` reads
        it back)."""
        from ..files import write_json

        return write_json(path, self.to_dict(draws=draws))

    @classmethod
    def from_dict(cls, d: dict) -> ChinchillaResult:
        p = d["params"]
        theta = [math.log(p["A"]), math.log(p["B"]), math.log(p["E"]), p["alpha"], p["beta"]]
        return cls(params=p, theta=np.array(theta), objective=d["objective"],
                   n_points=d["n_points"], n_starts=d["n_starts"], n_boot=d["n_boot"],
                   huber_delta=d["huber_delta"], ci_level=d["ci_level"], seed=None,
                   boot_params=draws_from_json(d.get("draws")),
                   ci={k: tuple(v) for k, v in d["ci"].items()} if d.get("ci") else None,
                   input=d.get("input"), data_range=d.get("range"))

    def allocate(self, budgets, level: float | None = None) -> Allocation:
        """Compute-optimal model size and tokens at ``budgets`` (FLOPs, one or a list).

        Minimises the fitted loss under ``C = 6 N D``: ``N* = G (C/6)^a``,
        ``D* = (C/6)^b / G`` with ``a = beta / (alpha + beta)``, ``b = 1 - a``,
        ``G = (alpha A / (beta B))^(1 / (alpha + beta))``; returns an ``Allocation`` (N*,
        D*, D*/N*, the predicted loss, a and b), with intervals at ``level`` (default the
        fit's) from every bootstrap draw of the parameters. Warns
        (``ExtrapolationWarning``) for each budget, N* or D* outside the fitted data.
        """
        c = check_budgets(budgets)
        lvl = level_or_stored(level, self.ci_level, self.boot_params is not None, "this fit")
        p = np.array([self.params[k] for k in PARAM_NAMES], dtype=float)
        draws = None
        if self.boot_params is not None and len(self.boot_params):
            draws = chinchilla_allocation(np.asarray(self.boot_params, float), c)
        src = self.input.get("source") if self.input else None
        interval_source = (f"intervals: each of the fit's {len(self.boot_params)} bootstrap "
                           "draws of (E, A, B, alpha, beta) allocated"
                           + (f"; the fit of {src}" if src else "") if draws is not None else
                           "point estimates only: the fit holds no bootstrap draws (fit with "
                           "--boot N for intervals)")
        result = Allocation.build(c, chinchilla_allocation(p, c), draws, lvl,
                                  method="chinchilla", law=FORM + ";  C = 6 N D",
                                  data_range=thaw(self.data_range), interval_source=interval_source)
        for m in result.messages():
            warnings.warn(m, ExtrapolationWarning, stacklevel=2)
        return result

    def summary(self) -> Document:
        """Readable table of estimates, intervals and fit settings."""
        return chinchilla_document(self)

    def __str__(self) -> str:
        return self.summary().to_text()

    def __repr__(self) -> str:
        p = self.params
        return (
            f"ChinchillaResult(E={p['E']:.4g}, A={p['A']:.4g}, B={p['B']:.4g}, "
            f"alpha={p['alpha']:.4g}, beta={p['beta']:.4g}, n_points={self.n_points}, "
            f"n_boot={self.n_boot})"
        )
