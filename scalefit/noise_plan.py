"""Where a sweep's noise comes from, per ``by`` group (docs/math.md section 2): the group's
robust noise (``core.noise``), the parametric plan of thin sweeps, the ``flat`` rule's
yardstick, and the notes that name aberrant and flat sweeps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.bootstrap import THIN_WINDOW
from .core.noise import FLAT_MIN_DF, flat_valleys, group_noise, replicate_noise


def flat_statuses(sw, n, s, q, point, noise, key, z):
    """The flat rule (``core.noise.flat_valleys``) with its yardstick: the group's robust
    replicate s.d., else its residual noise where that pools ``FLAT_MIN_DF`` or more degrees
    of freedom (a few parabola residuals are mostly lack of fit: no test then); an aberrant
    sweep's own residual s.d."""
    rep = replicate_noise(sw.x, n, s, q, point.x_window, point.status, key, noise.aberrant)
    resid = np.where(noise.df >= FLAT_MIN_DF, noise.sd, np.nan)
    sd = np.where(np.isfinite(rep), rep, resid)
    sd = np.where(noise.aberrant, noise.ratio * noise.sd, sd)
    return flat_valleys(sw.x, n, s, point.status, sd, z, point.x_window)


def by_key(groups: pd.DataFrame, by) -> np.ndarray:
    """(G,) integer id of each sweep's ``by`` group (0 for all without ``by``)."""
    if not by:
        return np.zeros(len(groups), np.int64)
    return pd.factorize(by_labels(groups, by))[0].astype(np.int64)


def by_labels(groups: pd.DataFrame, by) -> np.ndarray:
    """(G,) each sweep's ``by`` values as text, joined by \\x1f (one key per by group)."""
    key = groups[by[0]].astype(str).to_numpy(object)
    for col in list(by)[1:]:
        key = key + "\x1f" + groups[col].astype(str).to_numpy(object)
    return key


def noise_plan(point, n, groups, by, notes: list[str], noise=None) -> dict:
    """Where each sweep's resampled noise comes from: ``sd`` (G,) of the parametric
    resample (NaN: resample runs), ``kind`` (G,) its label, ``known`` (G,) whether the
    sweep carries measured noise at all.

    A sweep with two or more residual degrees of freedom (5 or more runs in its fit)
    resamples its runs; so does a sweep without an ok parabola that has replicates or more
    than 3 finite runs (only its best LR is used, where a law includes it). An ok sweep
    with 3 or 4 runs in its fit (``THIN_WINDOW``) gets normal noise of its own ``by``
    group's noise (``core.noise.group_noise``: the ok sweeps with residual degrees of
    freedom, robust to an aberrant one; never another group's); with none, a sweep of 3
    runs carries no noise: its optimum and every law that uses it have no interval.
    """
    G = len(point.status)
    thin = (point.n_window <= THIN_WINDOW) & (point.status == 0)
    exact = thin & (point.n_window == 3)
    runs_ok = ((point.n_window > 3) | (n >= 2).any(-1) | (n.sum(-1) > 3)) & ~exact
    sd = np.full(G, np.nan)
    kind = np.where(runs_ok, "runs", "none").astype(object)
    key = by_labels(groups, by) if by else np.zeros(G, dtype=object)
    used, missing = [], []
    if noise is None:
        noise = group_noise(point.n_window, point.rmse, point.status, by_key(groups, by))
    for k in dict.fromkeys(key[thin]):
        members = key == k
        first = int(np.flatnonzero(members)[0])
        pooled, m = float(noise.sd[first]), int(noise.n_used[first])
        sel = thin & members
        label = _label(dict(zip(by, groups.loc[np.flatnonzero(members)[0], list(by)]))
                       ) if by else ""
        if np.isfinite(pooled) and pooled > 0:
            sd[sel] = pooled
            kind[sel] = f"parametric (noise of {m} sweeps of the same group)"
            if noise.source[first] == "other":
                kind[sel] = f"parametric (noise of {m} non-ok sweeps of the same group)"
            used.append(f"{label.strip(' []') + ': ' if by else ''}s.d. {pooled:.3g} from {m} "
                        "sweep(s)")
        elif (sel & exact).any():
            missing.append((label.strip(" []") or "all", int((sel & exact).sum())))
    if used:
        n_par = sum(str(k).startswith("parametric") for k in kind)
        notes.append(f"{n_par} sweep(s) have 3 or 4 runs in their fit (at most one residual "
                     "degree of freedom: resampling their runs cannot show the noise): their "
                     "resamples add normal noise of the pooled residual s.d. of the sweeps of "
                     f"their own group ({'; '.join(used)})")
    if missing:
        where = (" (" + "; ".join(f"{lab}: {c}" for lab, c in missing) + ")") if by else ""
        notes.append(f"no interval for {sum(c for _, c in missing)} optimum(s){where} or for "
                     "any law that uses them: they have exactly 3 runs in their fit and no "
                     "sweep of their group has replicates; add seeds or LRs")
    known = kind != "none"
    return {"sd": sd, "kind": kind.astype(str), "known": known}


def noise_notes(optima: pd.DataFrame, by) -> list[str]:
    """Name the sweeps whose runs disagree with their own parabola far more than their
    group's noise (``core.noise``): they are left out of the group's noise."""
    if "aberrant" not in optima:
        return []
    bad = optima["aberrant"].fillna(False).to_numpy(bool)
    if not bad.any():
        return []
    parts = [f"{sweep_name(optima.iloc[j], by)} (residual s.d. "
             f"{optima['noise_ratio'].iloc[j]:.3g} x the group's)" for j in np.flatnonzero(bad)]
    return [f"{int(bad.sum())} sweep(s) disagree with their own parabola far more than their "
            "group's noise (mixed run families? repeated LRs with very different losses?), so "
            f"their residuals are left out of the group's noise: {'; '.join(parts)}"]


def sweep_name(row, by) -> str:
    """A sweep named by its by values, scale and horizon."""
    parts = [f"{b}={row[b]}" for b in by]
    for k in ("scale", "horizon"):
        if k in row.index and row[k] == row[k]:
            parts.append(f"{k} {row[k]:.3g}")
    return " ".join(parts) if parts else "the sweep"


def sweep_names(optima: pd.DataFrame, mask, by, limit: int = 6) -> str:
    """Up to ``limit`` sweeps named, then how many more."""
    idx = np.flatnonzero(np.asarray(mask, bool))
    names = [sweep_name(optima.iloc[j], by) for j in idx[:limit]]
    more = f"; and {len(idx) - limit} more" if len(idx) > limit else ""
    return "; ".join(names) + more


def _label(group: dict) -> str:
    return ("[" + ", ".join(f"{k}={v}" for k, v in group.items()) + "] ") if group else ""
