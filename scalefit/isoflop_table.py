"""The table edge for IsoFLOP tables: runs with a FLOP budget, a model size N and a loss.

Columns are found by name like the LR-sweep table's (``table.load_runs`` reads and checks
them): N from the scale aliases (``N``, ``params``, ``n_params``, ...), D from the horizon
aliases (``D``, ``tokens``, ...), the loss from the loss aliases, and the FLOPs from
``FLOPS_ALIASES`` (``flops``, ``C``, ``compute``, ``budget``, ...); explicit names
override. ``C = 6 N D`` when there is no FLOP column; ``D = C / (6 N)`` when there is no
tokens column.

**Budgets.** Runs are grouped into profiles by (``by`` columns, budget):

* ``budget_col``: the budget is that column's value (exact groups; a numeric column gives
  the profile's C, a label column the geometric mean of its runs' C);
* otherwise, a FLOP column whose values repeat (at most half as many distinct values as
  rows) is the budget, exact value by value;
* otherwise C (the FLOP column, or 6ND) is binned: sorted, a new budget starts where
  neighbouring values differ by more than ``budget_tol`` (default 10%); a budget is the
  geometric mean of its runs' C. A bin that chains over more than ``(1 + tol)^2`` is
  refused: the runs do not fall into separate budgets.

**Tokens at the optimum.** When every run's D equals ``budget / (6 N)`` within 1% (the
runs lie on the 6ND line of their budget), ``D* = C / (6 N*)``, so D*'s exponent is
exactly ``1 - a``; otherwise D* is read off the profile (``tokens_from = "interpolated"``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .core.allocation import FLOPS_PER_PARAM_TOKEN
from .core.isoflop import budget_bins
from .errors import ScalefitInputError
from .options import check
from .table import (
    ALIASES,
    RunTable,
    _numeric,
    _positive,
    apply_extract,
    load_runs,
    normalize_name,
    read_table,
)

FLOPS_ALIASES = ("flops", "c", "compute", "budget", "flop", "training_flops", "training_flop",
                 "total_flops", "compute_budget", "flops_budget", "budget_flops")
DEFAULT_BUDGET_TOL = 0.10
SIX_ND_TOL = 0.01  # D within 1% of budget / (6 N): the runs lie on their budget's 6ND line
_DUMMY_LR = "__scalefit_lr__"  # the run table wants an lr column; an IsoFLOP table has none


@dataclass(frozen=True)
class IsoflopTable:
    """A validated IsoFLOP table.

    ``runs``: the ``RunTable`` (``scale`` = N, ``horizon`` = D when given, ``loss``,
    ``diverged``, the ``by`` columns); ``data``: one row per run with float columns ``N``,
    ``D``, ``C`` (the run's FLOPs), ``budget`` (its profile's C), ``loss`` (NaN =
    diverged), bool ``diverged`` and the ``by`` columns; ``columns``: role -> source
    column (``flops``, ``params``, ``tokens``, ``loss``, ``status``, ``budget``);
    ``budget_from``: how budgets were formed, in words; ``tokens_from``: ``"6ND"`` or
    ``"interpolated"``; ``notes``: what the edge noticed.
    """

    runs: RunTable
    data: pd.DataFrame
    columns: dict
    budget_from: str
    tokens_from: str
    by: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def source(self) -> str:
        return self.runs.source


def load_isoflop_table(
    table, *, flops: str | None = None, params: str | None = None, tokens: str | None = None,
    loss: str | None = None, by=(), status: str | None = None, budget_col: str | None = None,
    budget_tol: float = DEFAULT_BUDGET_TOL, fmt: str | None = None, extract=(),
    source: str | None = None, missing_loss: str = "skip", keep_duplicates: bool = False,
) -> IsoflopTable:
    """Read and check an IsoFLOP table (path, ``"-"`` or DataFrame); see the module doc."""
    check("budget_tol", budget_tol)
    if isinstance(table, pd.DataFrame):
        df = table
    else:
        source = source or ("<stdin>" if str(table) == "-" else str(table))
        df = read_table(table, fmt)
    if _DUMMY_LR in df.columns:
        df = df.drop(columns=[_DUMMY_LR])
    by = (by,) if isinstance(by, str) else tuple(by)
    if extract:
        df = apply_extract(df, tuple(extract), source or "<DataFrame>")
    params = params or _numeric_alias(df, "scale", "--params", source, exclude=(flops, tokens))
    tokens = tokens or _numeric_alias(df, "horizon", "--tokens", source, exclude=(flops, params))
    runs = load_runs(df.assign(**{_DUMMY_LR: 1.0}), scale=params, horizon=tokens, lr=_DUMMY_LR,
                     loss=loss, by=by, status=status, source=source,
                     missing_loss=missing_loss, keep_duplicates=keep_duplicates)
    if extract:
        runs = dataclasses.replace(runs, extract=tuple(extract))
    src, raw = runs.source, runs.raw
    n_col, d_col = runs.columns.get("scale"), runs.columns.get("horizon")
    if n_col is None:
        raise ScalefitInputError(f"{src}: no N (parameters) column found (looked for N, params, "
                                 "n_params, num_params, param_count, ...); name it with "
                                 "--params COL")
    raw = raw.drop(columns=[_DUMMY_LR])
    c_col = _flops_column(raw, flops, {n_col, d_col, runs.columns["loss"]}, src)
    for name, what in ((c_col, "FLOP"), (budget_col, "budget")):
        if name is not None and name in by:
            raise ScalefitInputError(f"{src}: column {name!r} is the {what} column; it cannot "
                                     "also be a --by column")
    N = runs.data["scale"].to_numpy(float)
    if c_col is not None:
        C = _numeric(raw, c_col, src, "flops")
        _positive(C, c_col, src, "flops")
    elif d_col is not None:
        C = FLOPS_PER_PARAM_TOKEN * N * runs.data["horizon"].to_numpy(float)
    else:
        raise ScalefitInputError(f"{src}: needs a FLOP column (looked for "
                                 f"{', '.join(FLOPS_ALIASES)}) or a tokens column (D, tokens, "
                                 "...) to compute C = 6 N D; name one with --flops COL or "
                                 "--tokens COL")
    D = (runs.data["horizon"].to_numpy(float) if d_col is not None
         else C / (FLOPS_PER_PARAM_TOKEN * N))
    notes = list(runs.notes)
    budget, budget_from = _budgets(raw, C, c_col, budget_col, budget_tol, src, notes)
    ratio = D * FLOPS_PER_PARAM_TOKEN * N / budget
    tokens_from = "6ND" if np.all(np.abs(np.log(ratio)) <= SIX_ND_TOL) else "interpolated"
    if tokens_from == "interpolated":
        off = float(np.max(np.abs(ratio - 1)))
        notes.append(f"D differs from budget / (6 N) by up to {100 * off:.3g}% (FLOPs are not "
                     "6ND, or budgets were binned): D at each optimum is interpolated along "
                     "its profile (ln D linear in ln N), so D's exponent need not be 1 - a")
    data = pd.DataFrame({"N": N, "D": D, "C": C, "budget": budget,
                         "loss": runs.data["loss"].to_numpy(float),
                         "diverged": runs.data["diverged"].to_numpy(bool)})
    for b in by:
        data[b] = runs.data[b].to_numpy()
    columns = {"flops": c_col, "params": n_col, "tokens": d_col, "loss": runs.columns["loss"],
               "status": runs.columns.get("status"), "budget": budget_col}
    return IsoflopTable(runs=runs, data=data, columns=columns, budget_from=budget_from,
                        tokens_from=tokens_from, by=by, notes=tuple(notes))


def _numeric_alias(df: pd.DataFrame, role: str, flag: str, src, exclude=()) -> str | None:
    """The column of ``role`` among its aliases (``table.ALIASES``), numeric columns only (an
    IsoFLOP table may hold labels such as ``param_count = kaplan``); None if there is none."""
    by_norm: dict[str, list[str]] = {}
    for c in df.columns:
        if c not in exclude and c != _DUMMY_LR:
            by_norm.setdefault(normalize_name(c), []).append(c)
    for tier in ALIASES[role]:
        hits = [c for alias in tier for c in by_norm.get(alias, [])
                if pd.to_numeric(df[c], errors="coerce").notna().any()]
        if len(hits) > 1:
            raise ScalefitInputError(f"{src or '<DataFrame>'}: columns "
                                     f"{', '.join(repr(h) for h in hits)} all look like the "
                                     f"{'N (parameters)' if role == 'scale' else 'D (tokens)'}; "
                                     f"choose one with {flag} COL")
        if hits:
            return hits[0]
    return None


def _flops_column(raw: pd.DataFrame, explicit: str | None, used: set, src: str) -> str | None:
    if explicit is not None:
        if explicit not in raw.columns:
            raise ScalefitInputError(f"{src}: column {explicit!r} (given for flops) not found; "
                                     f"columns are: {', '.join(map(str, raw.columns))}")
        return explicit
    hits = [c for c in raw.columns if normalize_name(c) in FLOPS_ALIASES and c not in used
            and c != _DUMMY_LR]
    if len(hits) > 1:
        raise ScalefitInputError(f"{src}: columns {', '.join(repr(h) for h in hits)} all look "
                                 "like the FLOPs; choose one with --flops COL (and give the "
                                 "budget label with --budget-col COL)")
    return hits[0] if hits else None


def _budgets(raw, C, c_col, budget_col, tol, src, notes) -> tuple[np.ndarray, str]:
    """The budget (profile C) of every run, and how it was formed."""
    if budget_col is not None:
        if budget_col not in raw.columns:
            raise ScalefitInputError(f"{src}: column {budget_col!r} (--budget-col) not found; "
                                     f"columns are: {', '.join(map(str, raw.columns))}")
        labels = raw[budget_col]
        if labels.isna().any():
            i = int(np.flatnonzero(labels.isna().to_numpy())[0])
            raise ScalefitInputError(f"{src}: column {budget_col!r} (budget), row {i + 1}: "
                                     "missing; every run needs its budget")
        values = pd.to_numeric(labels, errors="coerce")
        if values.notna().all() and (values > 0).all() and np.isfinite(values).all():
            return values.to_numpy(float), f"column {budget_col} (--budget-col)"
        codes = pd.factorize(labels.astype(str))[0]
        geo = np.exp(pd.Series(np.log(C)).groupby(codes).transform("mean").to_numpy())
        return geo, (f"column {budget_col} (--budget-col; C of a profile: the geometric mean "
                     "of its runs')")
    if c_col is not None and pd.Series(C).nunique() <= len(C) / 2:
        return C, f"column {c_col} ({pd.Series(C).nunique()} values)"
    bins, spread = budget_bins(np.log(C), tol)
    wide = np.flatnonzero(spread > (1 + tol) ** 2)
    what = f"column {c_col}" if c_col is not None else "C = 6 N D"
    if wide.size:
        k = int(wide[0])
        sel = C[bins == k]
        raise ScalefitInputError(
            f"{src}: {what} does not fall into separate budgets: {sel.size} runs chain from "
            f"{sel.min():.4g} to {sel.max():.4g} FLOPs in steps under {100 * tol:g}%; give each "
            "run's budget with --budget-col COL (or a smaller --budget-tol)")
    geo = np.exp(pd.Series(np.log(C)).groupby(bins).transform("mean").to_numpy())
    n_values = pd.Series(C).nunique()
    if n_values > bins.max() + 1:
        notes.append(f"budgets: {what} binned within {100 * tol:g}% ({n_values} distinct "
                     f"values -> {bins.max() + 1} budgets; each budget is the geometric mean "
                     "of its runs' C)")
    return geo, f"{what}, binned within {100 * tol:g}% ({bins.max() + 1} budgets)"
