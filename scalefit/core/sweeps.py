"""Sweeps as arrays: runs indexed by group and LR level, the view every estimator uses.

A group is the set of runs sharing every ``by`` column, the scale and the horizon (the
table edge, ``scalefit.grouping``, assigns the group ids). Within a group, runs are
indexed by *level*: the rank of their LR among the group's distinct LRs that produced a
finite loss. Diverged runs carry no level.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sweeps:
    """Groups and levels of a table of runs, as arrays.

    x: (G, J) ln lr of each level, ascending, NaN-padded.
    run_group, run_level, run_loss: (R,) finite runs in *canonical order* (see below).
    group_start, group_size: (G,) slice of each group in the canonical run arrays.
    rng_order: (G,) group indices in the order their random draws are made.
    x_div: (G,) ln lr of the lowest LR at which a run diverged above the group's highest
    finite level (NaN: none), for ``div_bracketed``; None when not known.
    stream: (G, 4) uint32 words that key each group's own random stream: a hash of its
    canonical content (scale, horizon, sorted finite losses), so that a group's resamples
    depend on nothing else in the table (not on other groups, rows, units or labels).
    run_cluster: (R,) in canonical order, the resampling unit of each run when runs of
    several sweeps are not independent (WSD branches of one stable run: ``branch_of``);
    runs with equal values are drawn together (``core.bootstrap``). None: every run is
    its own unit.

    Canonical order makes resampling independent of row order, of the LR unit, of the
    presence of diverged rows and of group labels: groups draw in the order of
    (scale, horizon, sorted finite losses), runs within a group are sorted by (level,
    loss).
    """

    x: np.ndarray
    run_group: np.ndarray
    run_level: np.ndarray
    run_loss: np.ndarray
    group_start: np.ndarray
    group_size: np.ndarray
    rng_order: np.ndarray
    x_div: np.ndarray | None = None
    stream: np.ndarray | None = None
    run_cluster: np.ndarray | None = None

    @property
    def n_groups(self) -> int:
        return self.x.shape[0]

    @property
    def n_levels(self) -> int:
        return self.x.shape[1]

    def level_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-level run count, loss sum and squared-loss sum of the data itself: (G, J) each."""
        G, J = self.x.shape
        key = self.run_group * J + self.run_level
        n = np.bincount(key, minlength=G * J).reshape(G, J).astype(float)
        s = np.bincount(key, weights=self.run_loss, minlength=G * J).reshape(G, J)
        q = np.bincount(key, weights=self.run_loss**2, minlength=G * J).reshape(G, J)
        return n, s, q


def index_runs(gid: np.ndarray, n_groups: int, lr: np.ndarray, loss: np.ndarray,
               diverged: np.ndarray, order_keys: np.ndarray,
               cluster: np.ndarray | None = None) -> Sweeps:
    """Index runs by group and LR level.

    gid: (R,) group of every run (0..G-1); lr, loss: (R,); diverged: (R,) bool (such runs
    get no level); order_keys: (G, 2) (scale, horizon) of each group (0 where absent), the
    first keys of the canonical draw order; cluster: (R,) int resampling unit of every
    run, or None (``Sweeps.run_cluster``).
    """
    G = int(n_groups)
    finite = ~np.asarray(diverged, bool)
    g = np.asarray(gid)[finite]
    loss = np.asarray(loss, float)[finite]
    x_run = np.log(np.asarray(lr, float)[finite])

    # Levels: rank of each run's LR among its group's distinct finite LRs.
    order = np.lexsort((x_run, g))
    gs, xs = g[order], x_run[order]
    new_level = np.ones(len(gs), dtype=bool)
    new_level[1:] = (gs[1:] != gs[:-1]) | (xs[1:] != xs[:-1])
    level_id = np.cumsum(new_level) - 1  # global level index
    first_level_of_group = np.full(G, 0)
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]]) if len(gs) else np.array([], int)
    first_level_of_group[gs[starts]] = level_id[starts]
    level_in_group = level_id - first_level_of_group[gs]
    levels_per_group = np.bincount(gs[new_level], minlength=G)
    J = int(levels_per_group.max()) if G and len(gs) else 1
    J = max(J, 1)
    x = np.full((G, J), np.nan)
    x[gs[new_level], level_in_group[new_level]] = xs[new_level]
    run_level = np.empty(len(g), dtype=np.int64)
    run_level[order] = level_in_group

    # The lowest diverged LR above each group's highest finite level.
    x_top = np.full(G, -np.inf)
    if len(gs):
        np.maximum.at(x_top, gs, xs)
    dv = np.asarray(diverged, bool)
    g_div = np.asarray(gid)[dv]
    with np.errstate(divide="ignore", invalid="ignore"):
        x_dv = np.log(np.asarray(lr, float)[dv])
    above = np.isfinite(x_dv) & (x_dv > x_top[g_div])
    x_div = np.full(G, np.inf)
    np.minimum.at(x_div, g_div[above], x_dv[above])
    x_div[~np.isfinite(x_div) | ~np.isfinite(x_top)] = np.nan

    # Canonical draw order of groups: by scale, horizon, then their sorted finite losses.
    # (one sort of all runs by group then loss: a mask per group cost G x R)
    by_loss = loss[np.lexsort((loss, g))]
    bounds = np.r_[0, np.cumsum(np.bincount(g, minlength=G))] if len(g) else np.zeros(G + 1, int)
    fingerprints = []
    for k in range(G):
        sel = by_loss[bounds[k]:bounds[k + 1]]
        fingerprints.append((float(order_keys[k, 0]), float(order_keys[k, 1]), len(sel),
                             tuple(sel.round(12))))
    rng_order = np.array(sorted(range(G), key=lambda k: fingerprints[k]), dtype=np.int64)
    stream = np.array([np.frombuffer(hashlib.sha256(repr(f).encode()).digest()[:16],
                                     dtype="<u4") for f in fingerprints],
                      dtype=np.uint32).reshape(G, 4)
    rank = np.empty(G, dtype=np.int64)
    rank[rng_order] = np.arange(G)

    # Canonical run order: by draw rank of the group, then level, then loss.
    corder = np.lexsort((loss, run_level, rank[g]))
    run_group, run_level_c, run_loss = g[corder], run_level[corder], loss[corder]
    group_size = np.bincount(run_group, minlength=G)
    # In canonical order groups are contiguous, ordered by rank.
    start_by_rank = np.r_[0, np.cumsum(group_size[rng_order])[:-1]]
    group_start = np.empty(G, dtype=np.int64)
    group_start[rng_order] = start_by_rank

    return Sweeps(
        x=x,
        run_group=run_group.astype(np.int64),
        run_level=run_level_c.astype(np.int64),
        run_loss=run_loss,
        group_start=group_start,
        group_size=group_size,
        rng_order=rng_order,
        x_div=x_div,
        stream=stream,
        run_cluster=(None if cluster is None
                     else np.asarray(cluster, np.int64)[finite][corder]),
    )
