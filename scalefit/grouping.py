"""Runs -> sweeps: the table edge's last step before the numeric core.

``build_sweeps`` groups a validated ``RunTable`` into sweeps (runs sharing every ``by``
column, the scale and the horizon): the table of groups (``by`` columns, ``scale``,
``horizon``, ``n_runs``, ``n_diverged``; one row per sweep in display order) and the
core's array view (``core.sweeps.Sweeps``). ``pooling_hints`` names text columns that
vary within a sweep without being ``--by`` columns (a likely forgotten ``--by``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.sweeps import Sweeps, index_runs
from .table import RunTable

# Where-and-with-what columns of the reference trainer's rows: they may differ within a
# sweep (a sweep extended later, on another machine) without being experimental factors.
PROVENANCE = {"git_rev": "code revisions", "torch_version": "torch versions",
              "device": "devices"}


def build_sweeps(runs: RunTable) -> tuple[pd.DataFrame, Sweeps]:
    """The groups table and the array view of the runs of ``runs``."""
    df = runs.data
    keys = list(runs.by) + [r for r in ("scale", "horizon") if r in df.columns]
    if keys:
        # Stable, label-sorted display order; `sort=True` sorts by the key values.
        gid, uniques = _factorize(df, keys)
        groups = uniques.reset_index(drop=True)
    else:
        gid = np.zeros(len(df), dtype=np.int64)
        groups = pd.DataFrame(index=pd.RangeIndex(1))
    G = len(groups)
    diverged = df["diverged"].to_numpy()
    groups["n_runs"] = np.bincount(gid, minlength=G)
    groups["n_diverged"] = np.bincount(gid, weights=diverged, minlength=G).astype(int)
    order_keys = np.column_stack([groups[r].to_numpy(float) if r in groups else np.zeros(G)
                                  for r in ("scale", "horizon")])
    sw = index_runs(gid, G, df["lr"].to_numpy(), df["loss"].to_numpy(), diverged, order_keys)
    return groups, sw


def sweep_runs(runs: RunTable, groups: pd.DataFrame) -> list[dict]:
    """Every run of every sweep, for figures: per group, ``lr`` and ``loss`` (NaN = diverged)."""
    df = runs.data
    keys = list(runs.by) + [r for r in ("scale", "horizon") if r in df.columns]
    if not keys:
        return [{"lr": df["lr"].to_numpy(float), "loss": df["loss"].to_numpy(float)}]
    gid, _ = _factorize(df, keys)
    order = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[order], np.arange(len(groups) + 1))
    lr, loss = df["lr"].to_numpy(float)[order], df["loss"].to_numpy(float)[order]
    return [{"lr": lr[a:b], "loss": loss[a:b]} for a, b in zip(bounds[:-1], bounds[1:])]


def _factorize(df: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group ids in sorted key order and the table of unique keys."""
    sub = df[keys]
    uniques = sub.drop_duplicates()
    try:
        uniques = uniques.sort_values(keys, kind="mergesort")
    except TypeError:  # mixed label types in a by column: sort by their text
        uniques = uniques.sort_values(keys, key=lambda c: c.astype(str), kind="mergesort")
    uniques = uniques.reset_index(drop=True)
    index = pd.MultiIndex.from_frame(uniques.astype(object))
    gid = index.get_indexer(pd.MultiIndex.from_frame(sub.astype(object)))
    return gid.astype(np.int64), uniques


def pooling_hints(runs: RunTable) -> list[str]:
    """Text columns that vary within a sweep but are not --by columns (likely a forgotten --by).

    Runs that differ in such a column (e.g. parameterization) are pooled into one sweep.
    Columns with a value per run (run names) and the status column are ignored.
    """
    df = runs.raw
    if df is None:
        return []
    cols = runs.columns
    used = {c for c in cols.values() if c} | set(runs.by)
    keys = [cols[r] for r in ("scale", "horizon") if cols.get(r)] + list(runs.by)
    hints = []
    for col in df.columns:
        if col in used or str(col).startswith("_"):
            continue
        values = df[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        n = values.nunique(dropna=True)
        if not 2 <= n <= 20 or n > len(df) / 2:
            continue
        varies = (values.nunique() > 1 if not keys
                  else bool((df.groupby(keys, dropna=False)[col].nunique() > 1).any()))
        if varies:
            shown = ", ".join(map(str, sorted(values.dropna().unique(), key=str)[:5]))
            what = f"column {col!r} ({n} values: {shown}{', ...' if n > 5 else ''})"
            if col in PROVENANCE:
                hints.append(f"{what} differs within sweeps: runs from different "
                             f"{PROVENANCE[col]} are pooled (as when a sweep was extended "
                             "later); check that nothing that changes results differs")
            else:
                hints.append(f"{what} varies within sweeps but is not a --by column, so its "
                             f"runs are pooled; add --by {col} if they are different sweeps")
    return hints
