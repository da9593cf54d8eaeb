"""``scalefit.fit``: table -> sweeps -> optima (with resamples) -> laws -> quality -> FitResult.

The pipeline wires the layers: the table edge reads and checks the runs
(``table.load_runs``) and groups them (``grouping``); the core fits every sweep and its
resamples (``core.optimum``, ``core.bootstrap``) and every law (``core.laws``);
``quality`` measures transfer per ``by`` group; the result is built complete, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .core.bootstrap import BootSweeps, bootstrap_sweeps, percentile_ci, pooled_noise_sd
from .core.laws import LawFit, collinear, loss_law, power_law
from .core.optimum import DEFAULT_WINDOW, STATUS_NAMES, fit_sweeps
from .errors import ScalefitInputError
from .grouping import build_sweeps, pooling_hints, sweep_runs
from .progress import resolve
from .quality import transfer_quality
from .results.fit import FitResult
from .results.quality import TransferQuality
from .table import load_runs

STATUS_WHY = {
    "all_diverged": "every run diverged",
    "too_few": "each sweep needs >= 3 distinct LRs with a finite loss",
    "edge": "the best LR is the smallest or largest tried; extend the LR grid past it, or "
            "pass --include-status ok edge",
    "not_convex": "the loss is not convex in ln lr around the best LR",
}


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
) -> FitResult:
    """Fit optimal LRs per sweep and power laws of the optimum, with bootstrap intervals.

    table: path (CSV / Parquet / JSON Lines; ``"-"`` for standard input) or DataFrame, one
        row per run; ``fmt`` names its format when the extension does not.
    scale, horizon, lr, loss: source column names overriding alias matching.
    by: extra columns that split runs into groups (e.g. parameterization).
    n_boot: bootstrap resamples (0 for none); ci: interval level; seed: resampling seed.
    window: half-width in grid steps of the quadratic fit around the best LR.
    include: sweep statuses whose optima enter the laws (default only ``ok``).
    reference: with ``by``, the label of the reference group for transfer measures.
    status: name of a status column (default: ``status``/``state`` when present).
    diverged_above: a run whose loss exceeds this multiple of its sweep's best loss counts
        as diverged (for tables that record exploded runs with a finite loss).
    progress: ``"auto"`` (a bar on standard error when it is a terminal; silent
        otherwise), None, or a ``progress(done, total)`` callback during the bootstrap.
    source: the name of the input in messages and in the result (e.g. the file a
        DataFrame came from).
    extract: ``COL:REGEX`` specs that make columns from the named groups of REGEX
        searched in COL (numbers converted), applied before anything else.
    require_optimum: raise ScalefitInputError when no sweep has an optimum of a status
        in ``include`` (the command line does).
    The result's ``warnings`` name text columns that vary within a sweep without being
    ``by`` columns (their runs are pooled).
    """
    if not 0 < ci < 1:
        raise ScalefitInputError(f"ci must be between 0 and 1 (got {ci}); e.g. 0.95")
    if n_boot < 0:
        raise ScalefitInputError(f"n_boot must be >= 0 (got {n_boot})")
    if window < 1:
        raise ScalefitInputError(f"window must be >= 1 grid step (got {window})")
    bad = set(include) - set(STATUS_NAMES)
    if bad:
        raise ScalefitInputError(f"unknown status in include: {sorted(bad)}; use {STATUS_NAMES}")

    runs = load_runs(table, scale=scale, horizon=horizon, lr=lr, loss=loss, by=by, status=status,
                     source=source, extract=extract, fmt=fmt)
    if diverged_above is not None:
        runs = _mark_exploded(runs, diverged_above)
    groups, sw = build_sweeps(runs)
    n, s, q = sw.level_sums()
    point = fit_sweeps(sw.x, n, s, q, window=window, bounds=True)
    notes = list(runs.notes)
    noise_sd = _parametric_noise(point, notes) if n_boot > 0 else None
    report, bar = resolve(progress, "bootstrap", after="fitting laws")
    with bar:
        boot = (bootstrap_sweeps(sw, n_boot, seed, window, report, noise_sd)
                if n_boot > 0 else None)
        optima, laws, quality = _estimate(groups, sw, point, boot, noise_sd, runs.by, include,
                                          ci, notes, reference)
    inp = {"source": runs.source, "rows": runs.n_rows, "columns": runs.columns,
           "by": list(runs.by), "diverged": runs.n_diverged, "groups": sw.n_groups}
    if runs.extract:
        inp["extract"] = list(runs.extract)
    if fmt:
        inp["format"] = fmt
    result = FitResult(
        optima=optima, laws=laws, input=inp,
        settings={"n_boot": n_boot, "ci": ci, "seed": seed, "window": window,
                  "include": list(include), "diverged_above": diverged_above},
        notes=notes, warnings=pooling_hints(runs), quality=quality, boot=boot,
        runs=sweep_runs(runs, groups),
    )
    if require_optimum:
        check_optimum(result, include)
    return result


def check_optimum(result: FitResult, include) -> None:
    """Raise ScalefitInputError when no sweep has an optimum of a status in ``include``."""
    counts = result.optima["status"].value_counts()
    if any(s in counts.index for s in include):
        return
    parts = [f"{n} {s} ({STATUS_WHY.get(s, s)})" for s, n in counts.items()]
    raise ScalefitInputError(f"{result.input['source']}: no sweep has an optimum: "
                             f"{'; '.join(parts)}")


def _estimate(groups, sw, point, boot, noise_sd, by, include, ci, notes, reference):
    """Optima table, laws and transfer quality from the point fit and the resamples."""
    optima = _optima_table(groups, sw, point, boot, ci)
    if noise_sd is not None:
        optima["boot_kind"] = np.where(np.isfinite(noise_sd) & (noise_sd > 0), "parametric",
                                       "runs")
        no_info = (point.n_window == 3) & ~(np.isfinite(noise_sd) & (noise_sd > 0))
        for col in ("lr_opt", "loss_opt", "curvature"):
            optima.loc[no_info, [col + "_lo", col + "_hi"]] = np.nan
    laws = _fit_laws(optima, boot, by, include, ci, notes)
    quality = None
    if by:
        quality = TransferQuality(**transfer_quality(optima, boot, list(by), ci, reference),
                                  level=ci)
    return optima, laws, quality


def _mark_exploded(runs, factor: float):
    """Count runs whose loss exceeds ``factor`` x their sweep's best loss as diverged."""
    if not (np.isfinite(factor) and factor > 1):
        raise ScalefitInputError(f"diverged_above must be a number > 1 (got {factor})")
    df = runs.data.copy()
    keys = list(runs.by) + [r for r in ("scale", "horizon") if r in df.columns]
    best = df.groupby(keys, dropna=False)["loss"].transform("min") if keys else df["loss"].min()
    exploded = (df["loss"] > factor * best).to_numpy()
    df.loc[exploded, "loss"] = np.nan
    df["diverged"] = df["diverged"].to_numpy() | exploded
    note = (f"{int(exploded.sum())} run(s) with a loss above {factor:g} x their sweep's best "
            "counted as diverged")
    return dataclasses.replace(runs, data=df, notes=(*runs.notes, note))


def _parametric_noise(point, notes: list[str]) -> np.ndarray:
    """Per-group s.d. for parametric resamples of sweeps with no residual degrees of freedom."""
    exact = (point.n_window == 3) & (point.status == 0)
    sd = np.full(point.n_window.shape, np.nan)
    if not exact.any():
        return sd
    pooled = pooled_noise_sd(point)
    if np.isfinite(pooled) and pooled > 0:
        sd[exact] = pooled
        notes.append(
            f"{int(exact.sum())} sweep(s) have exactly 3 runs in their fit (no replicate to "
            f"resample): their resamples add normal noise of s.d. {pooled:.3g}, the pooled "
            "residual s.d. of the other sweeps"
        )
    else:
        notes.append(
            f"{int(exact.sum())} sweep(s) have exactly 3 runs in their fit and no sweep has "
            "replicates to estimate the noise: their intervals are unknown (add seeds or LRs)"
        )
    return sd


def _optima_table(groups: pd.DataFrame, sw, point, boot: BootSweeps | None,
                  ci: float) -> pd.DataFrame:
    """One row per sweep: keys, optimum, curvature and their intervals, status, counts.

    Row j is column j of the resample arrays (the index is 0..G-1)."""
    df = groups.copy()
    G = len(df)
    ok = point.status == 0
    df["lr_opt"] = np.exp(np.where(ok, point.x_opt, np.nan))
    df["loss_opt"] = np.where(ok, point.loss_opt, np.nan)
    df["curvature"] = np.where(ok, point.curvature, np.nan)
    nan2 = np.full((2, G), np.nan)
    if boot is not None:
        x_ci = percentile_ci(boot.x_opt, ci)
        k_ci = percentile_ci(boot.curvature, ci)
        l_ci = percentile_ci(boot.loss_opt, ci)
        valid = np.isfinite(boot.x_opt).mean(0)
    else:
        x_ci = k_ci = l_ci = nan2
        valid = np.full(G, np.nan)
    x_ci = np.where(ok, x_ci, np.nan)
    df["lr_opt_lo"], df["lr_opt_hi"] = np.exp(x_ci[0]), np.exp(x_ci[1])
    df["loss_opt_lo"], df["loss_opt_hi"] = np.where(ok, l_ci, np.nan)
    df["curvature_lo"], df["curvature_hi"] = np.where(ok, k_ci, np.nan)
    df["lr_best"] = np.exp(point.x_best)
    df["status"] = [STATUS_NAMES[c] for c in point.status]
    df["n_window"] = point.n_window.astype(int)
    df["n_lrs"] = np.isfinite(sw.x).sum(1)
    df["fit_rmse"] = point.rmse
    df["lr_window_lo"], df["lr_window_hi"] = np.exp(point.x_window)
    df["boot_valid"] = valid
    return df


def _by_groups(optima: pd.DataFrame, by: tuple[str, ...]):
    if not by:
        yield {}, optima
        return
    for key, sub in optima.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), sub


def _fit_laws(
    optima: pd.DataFrame, boot: BootSweeps | None, by: tuple[str, ...], include, ci: float,
    notes: list[str],
) -> list[LawFit]:
    """Every law the data supports, per ``by`` group: see docs/math.md for the rules."""
    laws: list[LawFit] = []
    has_s, has_d = "scale" in optima, "horizon" in optima
    if not (has_s or has_d):
        return laws
    fixed_ratio_groups: list[str] = []
    for group, sub in _by_groups(optima, by):
        label = _label(group)
        pts = sub[sub["status"].isin(include)]
        # Included non-ok sweeps carry no fitted optimum: their best observed LR stands in.
        pts = pts.assign(lr_opt=pts["lr_opt"].fillna(pts["lr_best"]))
        pts = pts[np.isfinite(pts["lr_opt"])]
        if len(pts) < 3:
            if has_s or has_d:
                notes.append(f"{label}{len(pts)} sweep(s) with an optimum: too few for a law "
                             "(need 3)")
            continue
        s = pts["scale"].to_numpy(float) if has_s else None
        d = pts["horizon"].to_numpy(float) if has_d else None
        vary_s = has_s and np.unique(s).size >= 2
        vary_d = has_d and np.unique(d).size >= 2
        variables: tuple[str, ...] = ()
        fixed_ratio = False
        if vary_s and vary_d:
            if collinear(np.log(s), np.log(d)):
                fixed_ratio = True
                variables = ("scale",)
                fixed_ratio_groups.append(label.strip(" []") or "all runs")
            else:
                variables = ("scale", "horizon")
        elif vary_s:
            variables = ("scale",)
        elif vary_d:
            variables = ("horizon",)
        if not variables:
            continue
        need = len(variables) + 2
        if len(pts) >= need:
            laws += _power_laws(pts, boot, variables, group, ci, primary=True)
        else:
            notes.append(f"{label}{len(pts)} optima: too few for a law in {' and '.join(variables)}"
                         f" (need {need})")
        # Conditional laws: vs scale at each horizon, vs horizon at each scale.
        if len(variables) == 2:
            for var, other in (("scale", "horizon"), ("horizon", "scale")):
                for val, part in pts.groupby(other, sort=True):
                    if part[var].nunique() >= 3:
                        laws += _power_laws(part, boot, (var,), {**group, other: float(val)}, ci,
                                            primary=False, targets=("lr_opt",))
        # Loss laws vs scale: per horizon, or over all points at a fixed ratio / no horizon.
        if vary_s:
            parts = ([(None, pts)] if (fixed_ratio or not has_d)
                     else list(pts.groupby("horizon", sort=True)))
            for val, part in parts:
                if part.loc[np.isfinite(part["loss_opt"]), "scale"].nunique() >= 4:
                    g = group if val is None else {**group, "horizon": float(val)}
                    laws.append(_loss_law(part, boot, g, ci))
    if fixed_ratio_groups:
        where = "" if fixed_ratio_groups == ["all runs"] else f" ({'; '.join(fixed_ratio_groups)})"
        notes.append(f"horizon is proportional to scale (fixed tokens per parameter){where}: "
                     "the joint law is not identifiable; fitting lr_opt vs scale")
    return laws


def _power_laws(pts, boot, variables, group, ci, primary, targets=("lr_opt", "curvature")):
    out = []
    cols = pts.index.to_numpy()
    values = {v: pts[v].to_numpy(float) for v in variables}
    curv = pts["curvature"].to_numpy(float)
    fitted = (pts["status"] == "ok").to_numpy()
    for target in targets:
        keep = np.ones(len(pts), bool) if target == "lr_opt" else fitted
        if keep.sum() < len(variables) + 2:
            continue
        y = pts[target].to_numpy(float)[keep]
        if target == "curvature" and not np.all(y > 0):
            continue
        yb = None
        if boot is not None:
            with np.errstate(over="ignore"):
                if target == "lr_opt":  # best observed LR of each resample for non-ok sweeps
                    yb = np.exp(np.where(fitted, boot.x_opt[:, cols], boot.x_best[:, cols]))
                else:
                    yb = boot.curvature[:, cols[keep]]
                    yb = np.where(yb > 0, yb, np.nan)
        out.append(power_law(target, {v: a[keep] for v, a in values.items()}, y, yb, variables,
                             dict(group), ci, curvature=curv if target == "lr_opt" else None,
                             primary=primary))
    return out


def _loss_law(pts, boot, group, ci) -> LawFit:
    pts = pts[np.isfinite(pts["loss_opt"])]
    cols = pts.index.to_numpy()
    yb = boot.loss_opt[:, cols] if boot is not None else None
    return loss_law(pts["scale"].to_numpy(float), pts["loss_opt"].to_numpy(float), yb,
                    dict(group), ci)


def _label(group: dict) -> str:
    return ("[" + ", ".join(f"{k}={v}" for k, v in group.items()) + "] ") if group else ""
