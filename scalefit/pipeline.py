"""``scalefit.fit``: table -> sweeps -> optima (with resamples) -> laws -> quality -> FitResult.

The pipeline wires the layers: the table edge reads and checks the runs
(``table.load_runs``) and groups them (``grouping``); the core fits every sweep and its
resamples (``core.optimum``, ``core.bootstrap``) and every law (``core.laws``,
``core.losslaws``);
``quality`` measures transfer per ``by`` group; the result is built complete, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .core.noise import FLAT_Z, group_noise
from .core.optimum import DEFAULT_WINDOW, FLAT, GAP_SD, MAX_MISFIT, fit_sweeps
from .errors import ScalefitInputError
from .estimate import estimate
from .fit_notes import status_notes
from .grouping import (
    BLOWUP,
    branch_clusters,
    duplicate_runs,
    flat_sweeps,
    history_hints,
    mark_divergence,
    near_level_hints,
    peaked_sweeps,
    pooling_hints,
    repeated_seed_runs,
    trainer_arms,
)
from .joint import check_column as check_joint_column
from .joint import check_present as check_joint_present
from .joint import fit_joint, progress_part, with_joint
from .laws import check_fix_groups, fit_laws, without_draws
from .noise_plan import flat_statuses, noise_notes, noise_plan
from .optima_table import is_optima_table, load_optima
from .options import Columns, FitOptions, check
from .progress import resolve
from .quality import transfer_quality
from .results.fit import FitResult
from .results.quality import TransferQuality
from .row_checks import mid_schedule_rows
from .statuses import STATUS_WHY
from .sweep_set import SweepSet, group_runs, lr_sweeps, sweep_keys
from .table import apply_extract, read_input, read_runs


def fit(
    table: str | Path | pd.DataFrame,
    scale: str | None = None,
    horizon: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    by: tuple[str, ...] | list[str] | str = (),
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    window: int = DEFAULT_WINDOW,
    include: tuple[str, ...] = ("ok",),
    reference: str | None = None,
    status: str | None = None,
    diverged_above: float | None = None,
    progress: Callable[[int, int], None] | str | None = "auto",
    source: str | None = None,
    extract: tuple[str, ...] | list[str] = (),
    fmt: str | None = None,
    require_optimum: bool = False,
    blowup: float | str | None = BLOWUP,
    status_ok: tuple[str, ...] | list[str] | str = (),
    max_misfit: float = MAX_MISFIT,
    floor_gap: float = GAP_SD,
    optima: bool | None = None,
    optima_level: float = 0.95,
    joint: str | None = None,
    missing_loss: str = "skip", keep_duplicates: bool = False,
    flat_z: float | None = FLAT_Z,
    fix: dict[str, float] | None = None,
    branch_of: str | None = None,
    keep_draws: bool = False,
) -> FitResult:
    """Fit optimal LRs per sweep and power laws of the optimum, with bootstrap intervals.

    table: path (CSV / Parquet / JSON Lines; ``"-"`` for standard input) or DataFrame, one
        row per run; ``fmt`` names its format when the extension does not.
    scale, horizon, lr, loss: source column names overriding alias matching.
    by: extra columns that split runs into groups (e.g. parameterization).
    n_boot: bootstrap resamples (0 for none); ci: interval level; seed: resampling seed.
    window: half-width in grid steps of the quadratic fit around the best LR.
    include: sweep statuses whose optima enter the laws (default only ``ok``); included
        ``div_bracketed`` sweeps enter with their best LR and, in every resample, an
        optimum drawn over their bracket; other non-ok statuses with their best LR (a
        grid point, not an estimate; sweeps with a single LR never).
    reference: with ``by``, the label of the reference group for transfer measures.
    status: name of a status column (default: ``status``/``state`` when present).
    status_ok: status values that also mean a finished run (besides ok, finished,
        completed, success, done, ...); runs with a status that is neither finished nor
        diverged are left out as unfinished, and a note names them.
    blowup: the automatic blow-up rule's factor (default 1.3): a run at an LR above its
        sweep's best whose finite loss exceeds that factor times the best mean loss counts
        as diverged; None (or "off") turns it off.
    diverged_above: a run whose loss exceeds this multiple of its sweep's best loss counts
        as diverged, at any LR (replaces the blow-up rule).
    max_misfit: the ``bad_fit`` threshold: RMS of the level means around the parabola over
        the valley's depth in the window (default 0.25).
    floor_gap: the other ``bad_fit`` threshold: how far (in multiples of the variation at
        the valley's floor) the parabola may dip below every mean loss of its window at
        the tried LR nearest its vertex (default 2).
    optima: the table is a table of optima (one optimal LR per row, no runs): None
        detects it (an optimum column such as ``lr_opt``/``best_lr``/``lr*`` and no loss
        column); optima_level: the level of its ``lr_opt_lo``/``lr_opt_hi`` columns.
    progress: ``"auto"`` (a bar on standard error when it is a terminal; silent
        otherwise), None, or a ``progress(done, total)`` callback during the bootstrap.
    source: the name of the input in messages and in the result (e.g. the file a
        DataFrame came from).
    extract: ``COL:REGEX`` specs that make columns from the named groups of REGEX
        searched in COL (numbers converted), applied before anything else.
    require_optimum: raise ScalefitInputError when no sweep has an optimum of a status
        in ``include`` (the command line does).
    joint: a numeric column swept with the LR (the batch size): LR sweeps per value of it
        (as ``by``), and ``FitResult.joint``: the joint optimum of every (by group, scale,
        horizon) from a quadratic surface in (ln lr, ln bs), laws of both optima, the
        batch-size-aware LR law, exponents side by side (docs/math.md section 10).
    missing_loss, keep_duplicates: empty losses, repeated rows (``load_runs``; counted).
    flat_z: an ok sweep whose loss rises from its best LR towards either end of its LRs by
        less than this many standard errors of its group's noise gets status ``flat``
        (default 2; None turns the rule off).
    fix: exponents of the laws of lr_opt held at values (``{"a": 0}``: no scale
        dependence, as muP width transfer claims); each such law is refitted with them
        held and reports the test of the constraint (``Law.constraint``). A key
        ``"COL=VALUE:a"`` holds it in the groups with that ``by`` value only, over a key
        for every group (``{"parameterization=mup:a": 0, "parameterization=sp:a": -1}``:
        each parameterization at its theory value).
    branch_of: the column naming each run's stable run (default: ``branch_of`` when the
        table has it, as the reference trainer's WSD rows do): runs sharing one are
        branches of one run (cooldowns at several horizons), and the bootstrap resamples
        them together, as one unit across sweeps (a note says so).
    keep_draws: keep every law's bootstrap draws (``Law.boot``); by default only primary
        laws keep theirs (predictions, audits and the JSON read them): a conditional law
        or a loss law has its intervals at the fit's level, made from its draws, but no
        draws for another level, a band or the draws of a prediction.
    The result's ``warnings`` name repeated rows, and columns that vary within a sweep
    without being ``by`` columns (their runs are pooled).
    """
    cols = Columns(scale=scale, horizon=horizon, lr=lr, loss=loss, by=by, status=status,
                   status_ok=status_ok, extract=extract, missing_loss=missing_loss,
                   keep_duplicates=keep_duplicates, branch_of=branch_of)
    opts = FitOptions(n_boot=n_boot, ci=ci, seed=seed, window=window, include=include,
                      reference=reference, diverged_above=diverged_above, blowup=blowup,
                      max_misfit=max_misfit, floor_gap=floor_gap, flat_z=flat_z, fix=fix,
                      optima=optima, optima_level=optima_level, joint=joint,
                      require_optimum=require_optimum, keep_draws=keep_draws)
    return fit_with(table, cols, opts, fmt=fmt, source=source,
                    progress=check("progress", progress))


def fit_with(table, cols: Columns, opts: FitOptions, fmt: str | None = None,
             source: str | None = None, progress="auto") -> FitResult:
    """``fit`` with its options as checked value objects (``scalefit.options``)."""
    df, src = read_input(table, fmt, source)
    if cols.extract:
        df = apply_extract(df, cols.extract, src)
    arms_note = None
    by = cols.by
    if not by:  # the reference trainer's table says which settings make its arms
        by = trainer_arms(df, (cols.scale or "n_params", cols.horizon or "tokens"),
                          joint=opts.joint)
        if by:
            arms_note = (f"reference-trainer results: runs grouped by {', '.join(by)}, the "
                         "settings that differ between its runs at one scale and horizon "
                         "(--by COL chooses the groups yourself)")
    cols = cols.replace(by=with_joint(by, opts.joint))
    if opts.joint is None and is_optima_table(df, lr=cols.lr, loss=cols.loss,
                                              optima=opts.optima):
        return _fit_optima(df, src, cols, opts, fmt)
    if opts.joint is not None:
        check_joint_present(df, opts.joint, src)
    runs = read_runs(df, cols.replace(extract=()), source=src, fmt=fmt)  # made above
    runs = dataclasses.replace(runs, extract=cols.extract)
    if opts.joint is not None:
        check_joint_column(runs, opts.joint)
    groups, gid = group_runs(runs.data, sweep_keys(runs.data, runs.by))  # factorized once
    n_marked = runs.n_diverged
    runs = mark_divergence(runs, opts.diverged_above,
                           None if opts.diverged_above is not None else opts.blowup, gid=gid)
    n_marked = runs.n_diverged - n_marked
    clusters, branch_note = branch_clusters(runs, cols.branch_of)
    ss = _sweep_set(runs, groups, gid, opts, clusters)
    notes = ([arms_note] if arms_note else []) + list(runs.notes)
    if branch_note and opts.n_boot > 0:
        notes.append(branch_note)
    dup = duplicate_runs(runs, gid)
    if dup:
        notes.append(dup)
    ss, flat_z_g = _noise(ss, opts, notes)
    report, bar = resolve(progress, "bootstrap", after="fitting laws")
    parts = 2 if opts.joint is not None else 1  # the joint surfaces redraw the same resamples
    with bar:
        optima, laws, quality, boot = estimate(ss, opts, notes, quality=opts.joint is None,
                                               flat_z=flat_z_g,
                                               progress=progress_part(report, 0, parts))
        ss = ss.replace(boot=boot)
        joint_fit = None
        if opts.joint is not None:
            joint_fit, surfaces = fit_joint(ss, optima, opts, progress_part(report, 1, parts))
            ss = ss.replace(surfaces=surfaces)
    per_sweep, sw = list(ss.per_sweep), ss.sweeps
    notes += status_notes(optima, opts, per_sweep, runs.by)
    notes += noise_notes(optima, runs.by)
    inp = {"source": runs.source, "rows": runs.n_read, "columns": runs.columns,
           "by": list(runs.by), "diverged": runs.n_diverged, "groups": sw.n_groups,
           "excluded": runs.n_excluded, "marked_diverged": n_marked, "missing_loss":
           runs.missing, "duplicates": runs.duplicates}
    if runs.excluded:
        inp["excluded_status"] = dict(runs.excluded)
    if runs.extract:
        inp["extract"] = list(runs.extract)
    if fmt:
        inp["format"] = fmt
    if opts.joint is not None:
        inp["joint"] = opts.joint
    result = FitResult(
        optima=optima, laws=laws, input=inp, settings=_settings(cols, opts), notes=notes,
        warnings=[*runs.warnings, *pooling_hints(runs, cols.branch_of),
                  *filter(None, [mid_schedule_rows(runs.raw, runs.columns, runs.rows)]),
                  *near_level_hints(runs), *(history_hints(runs) or repeated_seed_runs(runs))],
        quality=quality,
        boot=boot, runs=per_sweep, joint=joint_fit, sweep_set=ss,
    )
    if opts.require_optimum:
        check_optimum(result, opts.include)
    return result


def _settings(cols: Columns, opts: FitOptions) -> dict:
    """What ``FitResult.settings`` records of a fit of runs (the JSON's ``settings``)."""
    return {"n_boot": opts.n_boot, "ci": opts.ci, "seed": opts.seed, "window": opts.window,
            "include": list(opts.include), "diverged_above": opts.diverged_above,
            "blowup": opts.blowup, "status_ok": [str(x) for x in cols.status_ok],
            "max_misfit": opts.max_misfit, "floor_gap": opts.floor_gap,
            "missing_loss": cols.missing_loss, "keep_duplicates": cols.keep_duplicates,
            "flat_z": opts.flat_z, **({"fix": opts.fix_dict} if opts.fix else {})}


def _fit_optima(df, src, cols: Columns, opts: FitOptions, fmt) -> FitResult:
    """Laws fitted to a table of optima (``optima_table``): the same law code as sweeps."""
    by, ci, n_boot, fix = cols.by, opts.ci, opts.n_boot, opts.fix_dict
    opt = load_optima(df, src, scale=cols.scale, horizon=cols.horizon, by=by, lr_opt=cols.lr,
                      level=opts.optima_level, n_boot=n_boot, seed=opts.seed, ci=ci)
    optima = opt.optima
    for col, value in OPTIMA_DEFAULTS.items():
        if col not in optima:
            optima[col] = value
    notes = [f"a table of optima: {opt.rows} row(s), {len(optima)} point(s); laws fitted to "
             "these optima as given (no runs, no sweeps)", *opt.notes]
    check_fix_groups(fix, optima, by)
    laws = fit_laws(optima, opt.boot, by, ("ok",), ci, notes, fix=fix)
    if opt.boot is None and n_boot > 0:
        why = ("no interval: the table's optima carry no uncertainty (no interval columns, no "
               "replicate rows)")
        laws = [dataclasses.replace(law, notes=(*law.notes, why)) for law in laws]
    quality = None
    if by:
        quality = TransferQuality(**transfer_quality(optima, opt.boot, list(by), ci,
                                                     opts.reference, laws), level=ci)
    if not opts.keep_draws:
        laws = [without_draws(law) for law in laws]
    inp = {"source": src, "rows": opt.rows, "columns": opt.columns, "by": list(by),
           "diverged": 0, "groups": len(optima), "kind": "optima"}
    if cols.extract:
        inp["extract"] = list(cols.extract)
    if fmt:
        inp["format"] = fmt
    result = FitResult(optima=optima, laws=laws, input=inp,
                       settings={"n_boot": n_boot, "ci": ci, "seed": opts.seed,
                                 "include": ["ok"], "optima_level": opts.optima_level,
                                 **({"fix": fix} if fix else {})},
                       notes=notes, quality=quality, boot=opt.boot, runs=None)
    if opts.require_optimum and not laws:
        why = "; ".join(notes[1:]) or "need 3 or more optima at distinct scales or horizons"
        raise ScalefitInputError(f"{src}: no law could be fitted: {why}")
    return result


OPTIMA_DEFAULTS = {"loss_opt_lo": np.nan, "loss_opt_hi": np.nan, "curvature_lo": np.nan,
                   "curvature_hi": np.nan, "lr_opt_ci_open": "", "loss_best": np.nan,
                   "n_window": 0, "n_lrs": 0, "fit_rmse": np.nan, "misfit": np.nan,
                   "lr_window_lo": np.nan, "lr_window_hi": np.nan, "lr_tried_lo": np.nan,
                   "lr_tried_hi": np.nan, "lr_diverged": np.nan, "boot_valid": np.nan}


def _as_list(v) -> list[str]:
    return [v] if isinstance(v, str) else [str(x) for x in v]


def check_optimum(result: FitResult, include) -> None:
    """Raise ScalefitInputError when no sweep has an optimum of a status in ``include``
    (sweeps whose loss is flat are counted as such, whatever their status says)."""
    status = result.optima["status"]
    if status.isin(include).any():
        return
    flat = flat_sweeps(result.runs or [])
    counts = status[~flat].value_counts() if flat.size else status.value_counts()
    parts = [f"{n} {s} ({STATUS_WHY.get(s, s)})" for s, n in counts.items()]
    if flat.any():
        loss = next(x for x in result.runs[int(np.flatnonzero(flat)[0])]["loss"] if x == x)
        parts.insert(0, f"{int(flat.sum())} flat (every run of the sweep has the same loss, "
                        f"{loss:g}: no valley to locate; check that the loss column, "
                        f"{result.input['columns'].get('loss')!r}, is the loss)")
    sset = result.sweep_set
    near = near_level_hints(sset.runs) if sset is not None and sset.runs is not None else []
    peaked = peaked_sweeps(result.runs or [])
    if peaked.size and peaked.sum() > peaked.size / 2:
        col = result.input["columns"].get("loss")
        near.insert(0, f"{int(peaked.sum())} of {peaked.size} sweeps have their highest loss "
                       f"inside the LR grid and their lowest at an end: is {col!r} a loss "
                       "(lower is better)? For accuracy or reward, give a loss, or the "
                       "metric's negative")
    raise ScalefitInputError(f"{result.input['source']}: no sweep has an optimum: "
                             f"{'; '.join(parts)}{''.join('; ' + h for h in near)}")


def _sweep_set(runs, groups, gid, opts: FitOptions, clusters=None) -> SweepSet:
    """The LR sweeps of ``runs`` with their point fits (statuses before the flat rule);
    ``clusters``: each run's resampling unit (``grouping.branch_clusters``) or None."""
    ss = lr_sweeps(runs, groups, gid, clusters)
    return ss.replace(point=fit_sweeps(ss.sweeps.x, ss.n, ss.s, ss.q, window=opts.window,
                                       x_div=ss.sweeps.x_div, max_misfit=opts.max_misfit,
                                       gap_sd=opts.floor_gap))


def _noise(ss: SweepSet, opts: FitOptions, notes: list[str]):
    """The set with its groups' noise, the ``flat`` statuses and the noise plan; and the
    flat rule's z per sweep (None with the rule off)."""
    point = ss.point
    noise = group_noise(point.n_window, point.rmse, point.status, ss.key)
    flat, flat_z_g = (flat_statuses(ss.sweeps, ss.n, ss.s, ss.q, point, noise, ss.key,
                                    opts.flat_z)
                      if opts.flat_z is not None else (np.zeros(ss.n_sweeps, bool), None))
    if flat.any():
        point = dataclasses.replace(point, status=np.where(flat, FLAT, point.status))
    plan = (noise_plan(point, ss.n, ss.groups, list(ss.by), notes, noise)
            if opts.n_boot > 0 else None)
    return ss.replace(point=point, noise=noise, plan=plan), flat_z_g
