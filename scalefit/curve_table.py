"""The table edge for loss curves: (run, step, lr, loss) rows -> one LR schedule and one
observed curve per run.

Columns are found by name (``CURVE_ALIASES``; ``run=``, ``step=``, ``lr=``, ``loss=``
override). The schedule of a run is, in order:

1. the description given for it (``schedules={run: "cosine:total=...,..."}``, the CLI's
   ``--schedule RUN=SPEC``, or ``*`` for every run), or held in a schedule column (one
   description per run, ``scalefit.schedule_spec``), rebuilt at every step; where the table
   logs the LR too, the rebuilt schedule must agree with it (1% relative) or the run is
   refused;
2. else the LR column itself, when the run logs every step from 0 to its last.

A run that logs the LR at some steps only and has no description is refused with the
description to give. Rows with a missing or non-finite loss are dropped (counted in a note).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .column_names import namespaced_alias
from .core.schedules import ScheduleSpec, build_schedule
from .errors import ScalefitInputError
from .schedule_spec import format_schedule, parse_schedule
from .table import _numeric, by_column, nested_by, normalize_name, read_input

CURVE_ALIASES = {
    "run": ("run", "run_id", "run_name", "name", "curve", "file", "id"),
    "step": ("step", "steps", "global_step", "iteration", "iter", "it", "train_step"),
    "lr": ("lr", "learning_rate", "lr_value"),
    "loss": ("loss", "train_loss", "training_loss", "val_loss", "validation_loss", "eval_loss"),
    "schedule": ("schedule", "lr_schedule", "schedule_spec"),
}
LR_TOL = 0.01


def max_lr_gap(n_steps: int) -> int:
    """The widest gap between logged LRs read by linear interpolation: 1% of the run's
    steps (at least 1); wider gaps need a schedule description."""
    return max(1, n_steps // 100)


@dataclass(frozen=True)
class CurveRun:
    """One run: ``name``, ``group`` (the ``by`` values), ``eta`` (LR at every step),
    ``steps`` and ``loss`` (observed, sorted), ``spec`` (the description, or None when the
    LR column gave every step), ``schedule_from`` ("description" or "logged")."""

    name: str
    group: dict
    eta: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    spec: ScheduleSpec | None
    schedule_from: str


@dataclass(frozen=True)
class CurveTable:
    runs: tuple
    columns: dict
    source: str
    by: tuple = ()
    notes: tuple = field(default=())


def _find(df: pd.DataFrame, role: str, explicit: str | None, src: str) -> str | None:
    if explicit:
        if explicit not in df.columns:
            raise ScalefitInputError(f"{src}: column {explicit!r} (given for {role}) not found; "
                                     f"columns are: {', '.join(map(str, df.columns))}")
        return explicit
    norm = {normalize_name(c): c for c in df.columns}
    for alias in CURVE_ALIASES[role]:
        if alias in norm:
            return norm[alias]
    # Tracker histories name metrics under a namespace (trainer/global_step, train/loss):
    # the longest trailing part that is an alias, when no column has an exact name.
    spaced: dict[str, list] = {}
    for c in df.columns:
        name = namespaced_alias(c, CURVE_ALIASES[role])
        if name is not None:
            spaced.setdefault(name, []).append(c)
    for alias in CURVE_ALIASES[role]:
        hits = spaced.get(alias, [])
        if len(hits) > 1:
            raise ScalefitInputError(f"{src}: columns {', '.join(map(repr, hits))} all look like "
                                     f"the {role}; choose one with --{role} COL")
        if hits:
            return hits[0]
    return None


def load_curve_table(table, *, run=None, step=None, lr=None, loss=None, schedule_col=None,
                     schedules=None, by=(), fmt=None, source=None) -> CurveTable:
    """Read and check a table of loss curves (path, ``"-"`` or DataFrame); see the module
    doc. ``schedules``: {run name or "*": description text or ``ScheduleSpec``}."""
    df, src = read_input(table, fmt, source)
    by = (by,) if isinstance(by, str) else tuple(by)
    cols = {r: _find(df, r, e, src) for r, e in
            (("run", run), ("step", step), ("lr", lr), ("loss", loss),
             ("schedule", schedule_col))}
    for role in ("step", "loss"):
        if cols[role] is None:
            raise ScalefitInputError(f"{src}: no {role} column found (looked for "
                                     f"{', '.join(CURVE_ALIASES[role])}); name it with "
                                     f"--{role} COL")
    nested_by(df, by, src)
    by = tuple(by_column(b, df.columns, src) for b in by)
    steps = _numeric(df, cols["step"], src, "step")
    bad = ~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScalefitInputError(f"{src}: column {cols['step']!r} (step), row {i + 1}: "
                                 f"{df[cols['step']].iloc[i]!r} is not a step (a whole number "
                                 ">= 0)")
    losses = _numeric(df, cols["loss"], src, "loss")
    lrs = _numeric(df, cols["lr"], src, "lr") if cols["lr"] else None
    names = (df[cols["run"]].astype(str).to_numpy() if cols["run"]
             else np.full(len(df), "run"))
    given = {str(k): (v if isinstance(v, ScheduleSpec) else parse_schedule(v))
             for k, v in (schedules or {}).items()}
    unknown = set(given) - set(names) - {"*"}
    if unknown:
        raise ScalefitInputError(f"{src}: --schedule names run(s) {', '.join(sorted(unknown))} "
                                 f"that the table does not hold (runs: "
                                 f"{', '.join(sorted(set(names))[:8])})")
    notes, runs = [], []
    dropped = ~(np.isfinite(losses) & (losses > 0))
    if dropped.any():
        notes.append(f"{int(dropped.sum())} row(s) without a finite positive loss left out")
    # a run is one (by values, run name): the same name may recur in another group
    keys = names if not by else np.array(
        ["\x1f".join([*map(str, row), n]) for row, n in zip(df[list(by)].to_numpy(), names)])
    for key in dict.fromkeys(keys):  # runs in table order
        name = names[np.flatnonzero(keys == key)[0]]
        sel = np.flatnonzero((keys == key) & ~dropped)
        if sel.size == 0:
            continue
        order = sel[np.argsort(steps[sel], kind="stable")]
        t = steps[order].astype(np.int64)
        if np.any(np.diff(t) == 0):
            raise ScalefitInputError(f"{src}: run {name!r} logs step {t[1:][np.diff(t) == 0][0]} "
                                     "twice; give one row per (run, step)")
        group = {b: df[b].iloc[order[0]] for b in by}
        spec = given.get(name, given.get("*"))
        if spec is None and cols["schedule"]:
            texts = df[cols["schedule"]].iloc[order].dropna().astype(str).unique()
            if len(texts) > 1:
                raise ScalefitInputError(f"{src}: run {name!r} has {len(texts)} different "
                                         f"schedule descriptions in {cols['schedule']!r}")
            spec = parse_schedule(texts[0]) if len(texts) else None
        every = np.flatnonzero(keys == key)  # rows without a loss may still log the LR
        every = every[np.argsort(steps[every], kind="stable")]
        runs.append(_schedule(name, group, t, losses[order], spec, src,
                              steps[every].astype(np.int64),
                              None if lrs is None else lrs[every]))
    if not runs:
        raise ScalefitInputError(f"{src}: no run has a finite positive loss")
    interp = [r.name for r in runs if r.schedule_from == "interpolated"]
    if interp:
        shown = ", ".join(interp[:4]) + (", ..." if len(interp) > 4 else "")
        notes.append(f"{len(interp)} run(s) ({shown}) log the LR every few steps, not at "
                     "every step: their schedules are read between the logged steps by "
                     "linear interpolation (a --schedule description is exact)")
    return CurveTable(runs=tuple(runs), columns=cols, source=src, by=by, notes=tuple(notes))


def _schedule(name, group, t, loss, spec, src, t_all, lr) -> CurveRun:
    if spec is not None:
        if t[-1] >= spec.total_steps:
            raise ScalefitInputError(f"{src}: run {name!r} logs step {t[-1]} but its schedule "
                                     f"({format_schedule(spec)}) ends at step "
                                     f"{spec.total_steps - 1}")
        eta = build_schedule(spec)
        if lr is not None:
            ok = np.isfinite(lr) & (t_all < eta.size)
            ts, ls = t_all[ok], lr[ok]
            off = np.abs(eta[ts] - ls) > LR_TOL * np.maximum(np.abs(ls), 1e-300)
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise ScalefitInputError(
                    f"{src}: run {name!r}: the schedule {format_schedule(spec)} gives LR "
                    f"{eta[ts[i]]:.4g} at step {ts[i]} but the table logs {ls[i]:.4g}; "
                    "check the description (warmup from 0 at step 0 to the peak at step "
                    "warmup - 1; a warmup that starts at peak / warmup, as the reference "
                    "trainer's, needs warmup_from=step)")
        return CurveRun(name, group, eta, t, loss, spec, "description")
    if lr is not None:
        ok = np.isfinite(lr)
        ts, ls = t_all[ok], lr[ok].astype(float)
        if ts.size > 1 and ts[0] == 0 and ts[-1] >= t[-1]:
            if ts.size != np.unique(ts).size:
                raise ScalefitInputError(f"{src}: run {name!r} logs the LR twice at one step")
            if ts[-1] + 1 == ts.size:
                return CurveRun(name, group, ls, t, loss, None, "logged")
            if np.diff(ts).max() <= max_lr_gap(ts[-1] + 1):
                eta = np.interp(np.arange(ts[-1] + 1), ts, ls)
                return CurveRun(name, group, eta, t, loss, None, "interpolated")
    raise ScalefitInputError(
        f"{src}: run {name!r}: the LR is not logged from step 0 to {t[-1]} at least every "
        f"{max_lr_gap(t[-1] + 1)} step(s) (1% of the run), so its schedule must be described: "
        f"--schedule {name}=cosine:total=T,warmup=W,peak=LR,end=LR (or a 'schedule' column; "
        "shapes: constant, cosine, linear, wsd, piecewise)")
