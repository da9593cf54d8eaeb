"""``SweepSet``: the sweeps of a table, built once and held by the result.

A sweep is the runs that share every ``by`` column and the scale and horizon (an LR
sweep), or every ``by`` column and the budget (an IsoFLOP profile, whose levels are model
sizes instead of LRs). Both pipelines build one ``SweepSet``: the group table and each
row's group (factorized once), the core's array view (``core.sweeps.Sweeps``) and its
level sums, the point fit of every sweep, where each sweep's resampled noise comes from
(``noise_plan``) and the resamples. The fit's optima, laws, joint surfaces, figures and
the planner of ``scalefit next`` read it instead of rebuilding it (``FitResult.sweep_set``;
a fit read from JSON has none and rebuilds what it needs from its runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .core.bootstrap import BootSweeps, bootstrap_sweeps
from .core.sweeps import Sweeps, index_runs
from .grouping import _factorize
from .noise_plan import by_key
from .selection import select


@dataclass(frozen=True)
class SweepSet:
    """The sweeps of one table (module docstring); arrays are (G,) or (G, J) unless said.

    groups: one row per sweep in display order (the ``by`` columns, then scale and horizon
    or the budget; ``n_runs``, ``n_diverged``); gid: (R,) the sweep of each row of the
    table's data; by: the ``by`` columns; key: (G,) integer id of each sweep's ``by``
    group; sweeps: the core's arrays (levels in ln lr, or ln N for profiles; canonical
    runs; random streams); n, s, q: finite runs, loss sum and sum of squares per level;
    point: the point fit (``core.optimum.SweepFits``; statuses final, ``flat`` included);
    noise: the robust noise of each sweep's ``by`` group (``core.noise.GroupNoise``);
    plan: the noise plan (``noise_plan.noise_plan``: ``sd``, ``kind``, ``known``; None
    without resamples); boot: the resamples (None without); per_sweep: every run of every
    sweep, ``{level_name: (n,), "loss": (n,)}`` (NaN loss = diverged), for figures;
    runs: the checked run table the sweeps were built from (``table.RunTable``, its
    blow-ups marked; None for IsoFLOP profiles), what ``scalefit next`` copies its rows
    to do from.
    """

    groups: pd.DataFrame
    gid: np.ndarray
    by: tuple
    key: np.ndarray
    sweeps: Sweeps
    n: np.ndarray
    s: np.ndarray
    q: np.ndarray
    point: object = None
    noise: object = None
    plan: dict | None = None
    boot: BootSweeps | None = None
    per_sweep: tuple = ()
    runs: object = None
    surfaces: dict | None = None

    @property
    def n_sweeps(self) -> int:
        return len(self.groups)

    def replace(self, **changes) -> SweepSet:
        return dataclasses.replace(self, **changes)

    def select(self, group: dict | None) -> np.ndarray:
        """(G,) bool: the sweeps of the ``by`` groups that ``group`` selects (the one rule
        of ``scalefit.selection``: values compared as text or numbers); all without it."""
        if not group:
            return np.ones(self.n_sweeps, bool)
        rows = self.groups[list(self.by)].to_dict("records")
        keep = select(rows, group, self.by, none="no sweep of that group",
                      have="groups with sweeps")
        return np.array([r in keep for r in rows], bool)

    def resample(self, n_boot: int, seed: int, window: int, report=None) -> SweepSet:
        """The set with ``n_boot`` resamples of every sweep (``core.bootstrap``), each sweep
        drawing its noise as the plan says (parametric s.d. or its runs)."""
        sd = None if self.plan is None else self.plan["sd"]
        return self.replace(boot=bootstrap_sweeps(self.sweeps, n_boot, seed, window, report, sd))


def sweep_keys(data: pd.DataFrame, by) -> list[str]:
    """The columns that make an LR sweep: the ``by`` columns, scale and horizon."""
    return list(by) + [r for r in ("scale", "horizon") if r in data.columns]


def group_runs(data: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The table of unique ``keys`` (sorted) and each row's index in it: (groups, gid (R,))."""
    if not keys:
        return pd.DataFrame(index=pd.RangeIndex(1)), np.zeros(len(data), dtype=np.int64)
    gid, uniques = _factorize(data, keys)
    return uniques.reset_index(drop=True), gid


def build(data: pd.DataFrame, groups: pd.DataFrame, gid: np.ndarray, by, level: str,
          order_keys: np.ndarray, clusters: np.ndarray | None = None) -> SweepSet:
    """A SweepSet of the rows of ``data`` (columns ``level``, ``loss``, ``diverged``) in the
    groups ``groups`` / ``gid``; ``order_keys`` (G, 2) order the groups' random draws
    (``core.sweeps.index_runs``); ``clusters`` (R,): each row's resampling unit (WSD
    branches of one stable run resample together; None: every run alone). Adds
    ``n_runs``/``n_diverged`` to ``groups``."""
    G = len(groups)
    groups = groups.copy()
    diverged = data["diverged"].to_numpy()
    groups["n_runs"] = np.bincount(gid, minlength=G)
    groups["n_diverged"] = np.bincount(gid, weights=diverged, minlength=G).astype(int)
    sw = index_runs(gid, G, data[level].to_numpy(), data["loss"].to_numpy(), diverged,
                    order_keys, clusters)
    n, s, q = sw.level_sums()
    return SweepSet(groups=groups, gid=gid, by=tuple(by), key=by_key(groups, list(by)),
                    sweeps=sw, n=n, s=s, q=q,
                    per_sweep=tuple(runs_of_sweeps(data, gid, G, level)))


def lr_sweeps(runs, groups: pd.DataFrame | None = None, gid: np.ndarray | None = None,
              clusters: np.ndarray | None = None) -> SweepSet:
    """The LR sweeps of a checked run table (``table.RunTable``; no point fit yet); its
    groups and ids when already factorized (``group_runs``); ``clusters`` as ``build``."""
    data = runs.data
    if gid is None:
        groups, gid = group_runs(data, sweep_keys(data, runs.by))
    order_keys = np.column_stack([groups[r].to_numpy(float) if r in groups else
                                  np.zeros(len(groups)) for r in ("scale", "horizon")])
    return build(data, groups, gid, runs.by, "lr", order_keys, clusters).replace(runs=runs)


def runs_of_sweeps(data: pd.DataFrame, gid: np.ndarray, G: int, level: str) -> list[dict]:
    """Every run of every sweep, for figures: per sweep, its ``level`` column (the LR, or
    N) and ``loss`` (NaN = diverged), in table order."""
    order = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[order], np.arange(G + 1))
    x, loss = data[level].to_numpy(float)[order], data["loss"].to_numpy(float)[order]
    return [{level: x[a:b], "loss": loss[a:b]} for a, b in zip(bounds[:-1], bounds[1:])]
