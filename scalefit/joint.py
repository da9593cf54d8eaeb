"""The joint LR x batch-size part of ``scalefit.fit(..., joint="bs")``: wiring, no new math.

The pipeline fits the 1-D LR sweeps of every batch size (``--by bs``: the blow-up rule,
the statuses and the run bootstrap per (group, batch size) sweep). This module then

* gathers those sweeps into one LR x batch-size grid per (``by`` group, scale, horizon)
  and fits the quadratic surface of ``core.joint`` on the same resamples;
* fits, per ``by`` group, the laws of the joint optima (``lr_opt``, ``bs_opt``) and of
  the valley's curvature (``k_lr``, ``lr_bs_slope``, ``k_bs_floor``) on the joint groups,
  and the batch-size-aware LR law ``lr_opt = C * scale^a * horizon^b * bs^c`` on the 1-D
  optima of every batch size;
* states the horizon (and scale) exponent of lr* at a fixed batch size and along the
  optimal batch size side by side, per resample (docs/math.md section 10).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .core.bootstrap import censored_interval, percentile_ci
from .core.joint import (
    N_COEF,
    STATUS_NAMES,
    BootSurfaces,
    along_optimal,
    bootstrap_surfaces,
    fit_surfaces,
    index_cells,
    valley,
)
from .core.laws import LawFit, power_law
from .core.pyvalue import py_item
from .errors import ScalefitInputError
from .grouping import _factorize
from .laws import _label, law_variables, with_excess
from .laws import _with_noise as laws_with_noise
from .options import FitOptions
from .render.format import name_list, quote
from .results.joint import JointFit

# Laws of the joint optima and of the valley's curvature: target -> (what it is, log-linear?)
TARGETS = ("lr_opt", "bs_opt", "k_lr", "lr_bs_slope", "k_bs_floor")
STATUS_NOTES = {
    "edge_lr": "the best cell's LR is the smallest or largest with a finite loss at its batch "
               "size: the optimum is not bracketed in LR; extend the LR grid there",
    "edge_bs": "the best cell's batch size is the smallest or largest with a finite loss at "
               "its LR: the optimum is not bracketed in batch size; extend the batch sizes",
    "too_few": "fewer than 3 LRs or 3 batch sizes with a finite loss (or cells that do not "
               "determine the 6 coefficients of the surface)",
    "not_convex": "the surface is not convex around the best cell",
    "saddle": "the surface is a saddle around the best cell (it curves up in one direction, "
              "down in another)",
    "bad_fit": "the surface does not describe the runs in its window (cell means off it by "
               "more than {pct} of the valley's depth, or it dips below every loss observed "
               "there by more than {gap} x the variation at the valley's floor)",
    "off_grid": "the surface's optimum lies outside the LRs or batch sizes it was fitted on",
    "all_diverged": "every run diverged",
}


def with_joint(by, column: str | None) -> tuple:
    """The ``by`` columns of the 1-D sweeps: ``by`` and, for a joint fit, the joint column."""
    by = (by,) if isinstance(by, str) else tuple(by)
    if column is None:
        return by
    if column in by:
        raise ScalefitInputError(f"--joint {column} is also a --by column; give it once")
    return (*by, column)


def progress_part(report, part: int, parts: int):
    """A progress callback for one of ``parts`` equal passes of the bootstrap."""
    if report is None or parts == 1:
        return report
    return lambda done, total: report(part * total + done, parts * total)


def check_present(df: pd.DataFrame, column: str, src) -> None:
    """The joint column is a column of the table (one line naming the columns there are)."""
    if column not in df.columns:
        raise ScalefitInputError(f"{src}: --joint column {quote(column, 60)} not found; "
                                 f"columns are: {name_list(df.columns)}")


def check_column(runs, column: str) -> None:
    """The joint column holds a finite number > 0 for every run (one line naming a row)."""
    values = pd.to_numeric(runs.data[column], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScalefitInputError(
            f"{runs.source}: --joint {column}: every value must be a number > 0 (row {i + 1} "
            f"has {quote(str(runs.data[column].iloc[i]), 60)}); the joint column is a "
            "hyperparameter swept with the LR, e.g. the batch size")


def fit_joint(ss, optima1: pd.DataFrame, opts: FitOptions, progress=None) -> tuple:
    """The joint part of a fit whose 1-D sweeps are split by ``opts.joint`` (module doc).

    ss: the pipeline's 1-D sweeps (``sweep_set.SweepSet``, grouped by ``by`` + the joint
    column: point fit, noise plan, resamples with ``x_law``, runs); optima1: their optima
    table. ``opts.include``: the 1-D statuses that enter the batch-size-aware law.
    Returns (JointFit, the surfaces as fitted: {"keys", "table" (one row per surface),
    "X", "Y" (levels), "n", "s", "q" (cell sums), "point" (``core.joint.SurfaceFit``)},
    which the planner of a joint fit reads instead of fitting them again).
    """
    column, ci, window, n_boot = opts.joint, opts.ci, opts.window, opts.n_boot
    groups, sw, plan, boot1, per_sweep = ss.groups, ss.sweeps, ss.plan, ss.boot, ss.per_sweep
    by = [b for b in ss.by if b != column]
    roles = [r for r in ("scale", "horizon") if r in groups.columns]
    keys = by + roles
    if keys:
        sweep_group, jgroups = _factorize(groups, keys)
    else:
        sweep_group, jgroups = np.zeros(len(groups), np.int64), pd.DataFrame(index=[0])
    G = len(jgroups)
    bs = groups[column].to_numpy(float)
    cells = index_cells(sw.x, sweep_group, np.log(bs), G)
    cn, cs, cq = cells.cell_sums(ss.n, ss.s, ss.q)
    point = fit_surfaces(cells.x, cells.y, cn, cs, cq, window=window,
                         max_misfit=opts.max_misfit, gap_sd=opts.floor_gap)
    notes: list[str] = []
    known = point.n_window > N_COEF
    boot = None
    if n_boot > 0:
        boot = bootstrap_surfaces(sw, cells, n_boot, opts.seed, window, plan["sd"], progress)
        boot = BootSurfaces(**{f.name: np.where(known[None, :], getattr(boot, f.name), np.nan)
                               for f in dataclasses.fields(BootSurfaces)
                               if getattr(boot, f.name) is not None})
        blind = (~known & (point.status == 0)).sum()
        if blind:
            notes.append(f"no interval for {int(blind)} joint optimum(s): their surface has "
                         "exactly 6 runs in its window (no residual to resample)")
    jruns = _joint_runs(per_sweep, sweep_group, bs, G)
    optima = _optima_table(jgroups, cells, point, boot, ci, jruns, n_boot > 0)
    if boot is not None:
        boot = _law_draws(boot, optima)
    laws, bs_laws, exps = [], [], []
    for group, idx in _by_groups(optima, by):
        laws += _joint_laws(optima.loc[idx], boot, group, ci, jruns, notes)
        sub1 = optima1
        for k, v in group.items():
            sub1 = sub1[sub1[k].astype(str) == str(v)]
        law_bs = _bs_aware_law(sub1, boot1, column, group, opts.include, ci, notes)
        if law_bs is not None:
            bs_laws.append(law_bs)
        exps += _exponents(group, laws, law_bs, ci)
    notes += _status_notes(optima, opts.max_misfit, opts.floor_gap)
    surfaces = {"keys": keys, "table": jgroups, "X": cells.x, "Y": cells.y, "n": cn, "s": cs,
                "q": cq, "point": point}
    return JointFit(column=column, by=by, optima=optima, laws=laws, bs_laws=bs_laws,
                    exponents=exps, notes=notes, runs=jruns, level=ci,
                    draws=None if boot is None else {"ln_lr": boot.x_law, "ln_bs": boot.y_law}
                    ), surfaces


def _by_groups(optima: pd.DataFrame, by: list[str]):
    if not by:
        yield {}, optima.index
        return
    for key, sub in optima.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, (py_item(v) for v in key))), sub.index


def _joint_runs(per_sweep, sweep_group, bs, G) -> list[dict]:
    """Every run of every joint group: ``lr``, ``bs``, ``loss`` (NaN = diverged)."""
    out = [{"lr": [], "bs": [], "loss": []} for _ in range(G)]
    for j, r in enumerate(per_sweep):
        g = out[int(sweep_group[j])]
        g["lr"].append(np.asarray(r["lr"], float))
        g["loss"].append(np.asarray(r["loss"], float))
        g["bs"].append(np.full(len(r["lr"]), bs[j]))
    return [{k: np.concatenate(v) if v else np.zeros(0) for k, v in g.items()} for g in out]


def _optima_table(jgroups, cells, point, boot, ci, jruns, has_boot) -> pd.DataFrame:
    """One row per joint group: keys, optimum (lr, bs) with intervals, loss, curvature
    matrix, valley slope, status, counts (row j is column j of the resamples)."""
    df = jgroups.copy()
    G = len(df)
    ok = point.status == 0
    x_min, x_max = np.nanmin(cells.x, 1), np.nanmax(cells.x, 1)
    y_min, y_max = np.nanmin(cells.y, 1), np.nanmax(cells.y, 1)
    df["n_runs"] = [len(r["lr"]) for r in jruns]
    df["n_diverged"] = [int((~np.isfinite(r["loss"])).sum()) for r in jruns]
    slope, k_floor = valley(point.k_xx, point.k_xy, point.k_yy)
    nan = np.full(G, np.nan)
    df["lr_opt"] = np.exp(np.where(ok, point.x_opt, nan))
    df["bs_opt"] = np.exp(np.where(ok, point.y_opt, nan))
    df["loss_opt"] = np.where(ok, point.loss_opt, nan)
    for name, v in (("k_lr", point.k_xx), ("k_lr_bs", point.k_xy), ("k_bs", point.k_yy),
                    ("lr_bs_slope", slope), ("k_bs_floor", k_floor)):
        df[name] = np.where(ok, v, nan)
    if has_boot and boot is not None:
        bslope, bfloor = valley(boot.k_xx, boot.k_xy, boot.k_yy)
        draws = {"x": boot.x_opt, "y": boot.y_opt, "loss_opt": boot.loss_opt,
                 "k_lr": boot.k_xx, "k_lr_bs": boot.k_xy, "k_bs": boot.k_yy,
                 "lr_bs_slope": bslope, "k_bs_floor": bfloor}
        cis = {k: np.where(ok, percentile_ci(v, ci), np.nan) for k, v in draws.items()}
        valid = np.isfinite(boot.x_opt).mean(0)
    else:
        cis = {k: np.full((2, G), np.nan) for k in ("x", "y", "loss_opt", "k_lr", "k_lr_bs",
                                                     "k_bs", "lr_bs_slope", "k_bs_floor")}
        valid = nan
    x_ci, x_open = censored_interval(cis["x"], x_min, x_max)
    y_ci, y_open = censored_interval(cis["y"], y_min, y_max)
    df["lr_opt_lo"], df["lr_opt_hi"] = np.exp(x_ci)
    df["lr_opt_ci_open"] = np.where(ok, x_open, "")
    df["bs_opt_lo"], df["bs_opt_hi"] = np.exp(y_ci)
    df["bs_opt_ci_open"] = np.where(ok, y_open, "")
    for k in ("loss_opt", "k_lr", "k_lr_bs", "k_bs", "lr_bs_slope", "k_bs_floor"):
        df[f"{k}_lo"], df[f"{k}_hi"] = cis[k]
    df["lr_best"], df["bs_best"] = np.exp(point.x_best), np.exp(point.y_best)
    df["loss_best"] = point.loss_best
    df["status"] = [STATUS_NAMES[c] for c in point.status]
    df["n_window"] = point.n_window.astype(int)
    df["n_cells"] = point.cells_window.astype(int)
    df["n_lrs"] = np.isfinite(cells.x).sum(1)
    df["n_bss"] = np.isfinite(cells.y).sum(1)
    df["fit_rmse"], df["misfit"] = point.rmse, point.misfit
    df["lr_window_lo"], df["lr_window_hi"] = np.exp(point.x_window)
    df["bs_window_lo"], df["bs_window_hi"] = np.exp(point.y_window)
    df["lr_tried_lo"], df["lr_tried_hi"] = np.exp(x_min), np.exp(x_max)
    df["bs_tried_lo"], df["bs_tried_hi"] = np.exp(y_min), np.exp(y_max)
    df["boot_valid"] = valid
    return df.reset_index(drop=True)


def _law_draws(boot: BootSurfaces, optima: pd.DataFrame) -> BootSurfaces:
    """Resampled optima as the laws use them: clamped to the LRs and batch sizes the group
    tried (as for LR sweeps: a law never learns from a vertex the grid does not show)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.clip(boot.x_opt, np.log(optima["lr_tried_lo"].to_numpy(float)),
                    np.log(optima["lr_tried_hi"].to_numpy(float)))
        y = np.clip(boot.y_opt, np.log(optima["bs_tried_lo"].to_numpy(float)),
                    np.log(optima["bs_tried_hi"].to_numpy(float)))
    return dataclasses.replace(boot, x_law=x, y_law=y)


def _with_noise(yb):
    """``laws._with_noise`` (no interval from some points alone), None passed through."""
    return (None, []) if yb is None else laws_with_noise(yb)


def _joint_laws(sub: pd.DataFrame, boot, group: dict, ci: float, jruns, notes) -> list[LawFit]:
    """Laws of the joint optima and of the valley's curvature over the ok joint groups."""
    pts = sub[sub["status"] == "ok"]
    label = _label(group)
    variables = law_variables(pts)
    if variables is None or len(pts) < len(variables) + 2:
        notes.append(f"{label}{len(pts)} ok joint optima: too few for a law "
                     f"(need {len(variables or ('scale',)) + 2} at distinct scales or horizons)")
        return []
    if variables == ("scale",) and "horizon" in pts and pts["horizon"].nunique() > 1:
        notes.append(f"{label}joint laws: horizon is proportional to scale; fitting in scale")
    cols = pts.index.to_numpy()
    vals = {v: pts[v].to_numpy(float) for v in variables}
    dom = {v: (float(pts[v].min()), float(pts[v].max())) for v in ("scale", "horizon")
           if v in pts}
    slope_b = None
    if boot is not None:
        slope_b, floor_b = valley(boot.k_xx, boot.k_xy, boot.k_yy)
    out = []
    for target in TARGETS:
        y = pts[target].to_numpy(float)
        yb = None
        if boot is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                yb = {"lr_opt": np.exp(boot.x_law), "bs_opt": np.exp(boot.y_law),
                      "k_lr": boot.k_xx, "k_bs_floor": floor_b,
                      "lr_bs_slope": np.exp(slope_b)}[target][:, cols]
                if target in ("k_lr", "k_bs_floor"):
                    yb = np.where(yb > 0, yb, np.nan)
        yb, law_notes = _with_noise(yb)
        linear = target == "lr_bs_slope"
        y_fit = np.exp(y) if linear else y
        yb, extra, w = with_excess(vals, variables, y_fit, yb, target)
        law = power_law(target, vals, y_fit, yb, variables, dict(group),
                        ci, primary=True, domain=dom, notes=(*law_notes, *extra), weights=w)
        if linear:
            law = _as_linear(law)
        if target == "lr_opt":
            law = dataclasses.replace(law, audit_range=_audit_range(pts, jruns))
        out.append(law)
    return out


def _as_linear(law: LawFit) -> LawFit:
    """A law fitted as ``ln(exp y)`` log-linear, written as the linear law it is:
    ``y = s0 + a ln scale + b ln horizon`` (the coefficient is s0 = ln C)."""
    names = ("s0", *law.param_names[1:])
    params = {"s0": law.log_C, **{n: law.params[n] for n in names[1:]}}
    ci = dict(law.ci)
    c = ci.pop(law.param_names[0], None)
    if law.boot is not None and len(law.boot):
        lo_hi = percentile_ci(law.boot[:, 0], law.level)
        c = [float(lo_hi[0]), float(lo_hi[1])]
    elif c is not None:
        c = [float(np.log(v)) if v and v > 0 else None for v in c]
    ci = {"s0": c, **{n: ci.get(n) for n in names[1:]}}
    terms = " + ".join(f"{n} * ln {v}" for n, v in zip(names[1:], law.variables))
    return dataclasses.replace(law, form=f"{law.target} = s0 + {terms}", params=params, ci=ci,
                               param_names=names)


def _audit_range(pts: pd.DataFrame, jruns) -> dict:
    """Where the law's runs lie relative to their group's valley: ``ratio_tried`` (min, max)
    of lr / lr*(bs) over finite runs, where lr*(bs) = lr* (bs / bs*)^slope is the best LR at
    the run's batch size; ``ratio_diverged``: the smallest such ratio above the valley at
    which a run diverged; ``bs_ratio_tried``: (min, max) of bs / bs* over finite runs."""
    r_lo, r_hi, b_lo, b_hi, div = np.inf, -np.inf, np.inf, -np.inf, np.inf
    for j, row in pts.iterrows():
        r = jruns[j]
        x, y, loss = np.log(r["lr"]), np.log(r["bs"]), r["loss"]
        dy = y - np.log(row["bs_opt"])
        ratio = x - (np.log(row["lr_opt"]) + row["lr_bs_slope"] * dy)
        fin = np.isfinite(loss)
        if fin.any():
            r_lo, r_hi = min(r_lo, ratio[fin].min()), max(r_hi, ratio[fin].max())
            b_lo, b_hi = min(b_lo, dy[fin].min()), max(b_hi, dy[fin].max())
        above = ~fin & (ratio > 0)
        if above.any():
            div = min(div, ratio[above].min())
    return {"ratio_tried": [float(np.exp(r_lo)), float(np.exp(r_hi))] if r_lo < np.inf else None,
            "ratio_diverged": float(np.exp(div)) if div < np.inf else None,
            "bs_ratio_tried": ([float(np.exp(b_lo)), float(np.exp(b_hi))] if b_lo < np.inf
                               else None)}


def _bs_aware_law(opt1: pd.DataFrame, boot1, column: str, group: dict, include, ci,
                  notes) -> LawFit | None:
    """``lr_opt = C * scale^a * horizon^b * bs^c`` from the 1-D optima of every batch size."""
    label = _label(group)
    pts = opt1[opt1["status"].isin(include)]
    pts = pts.assign(lr_opt=pts["lr_opt"].fillna(pts["lr_best"]))
    pts = pts[np.isfinite(pts["lr_opt"]) & (pts["n_lrs"] >= 2)]
    base = law_variables(pts) or ()
    if pts[column].nunique() < 2:
        notes.append(f"{label}batch-size-aware LR law: the ok LR sweeps have one batch size")
        return None
    variables = (*base, "bs")
    if len(pts) < len(variables) + 2:
        notes.append(f"{label}{len(pts)} LR sweeps with an optimum: too few for the "
                     "batch-size-aware LR law")
        return None
    vals = {v: pts[v].to_numpy(float) for v in base}
    vals["bs"] = pts[column].to_numpy(float)
    yb = None
    if boot1 is not None:
        with np.errstate(over="ignore", under="ignore"):
            yb = np.exp(boot1.law_columns(pts.index.to_numpy()))
    yb, law_notes = _with_noise(yb)
    yb, extra, w = with_excess(vals, variables, pts["lr_opt"].to_numpy(float), yb, "lr_opt|bs",
                               measured=(pts["status"] == "ok").to_numpy())
    dom = {v: (float(pts[v].min()), float(pts[v].max())) for v in ("scale", "horizon")
           if v in pts}
    dom["bs"] = (float(vals["bs"].min()), float(vals["bs"].max()))
    return power_law("lr_opt", vals, pts["lr_opt"].to_numpy(float), yb, variables,
                     dict(group), ci, exponents={"scale": "a", "horizon": "b", "bs": "c"},
                     primary=True, domain=dom, notes=(*law_notes, *extra),
                     curvature=pts["curvature"].to_numpy(float), weights=w)


def _exponents(group: dict, laws: list[LawFit], law_bs: LawFit | None, ci: float) -> list[dict]:
    """Per variable (scale, horizon) both laws vary in: the exponent of lr* at a fixed batch
    size (``fixed_bs``: the batch-size-aware law), along the optimal batch size (``along``:
    fixed_bs + c * the batch-size law's exponent, per resample), from the joint optima's lr
    law (``joint``), and the batch-size law's own (``bs_law``)."""
    mine = {law.target: law for law in laws if law.group == group}
    lr_j, bs_j = mine.get("lr_opt"), mine.get("bs_opt")
    if law_bs is None or lr_j is None or bs_j is None:
        return []
    out = []
    for var, name in (("scale", "a"), ("horizon", "b")):
        if not (var in law_bs.variables and var in lr_j.variables):
            continue
        fixed, c = law_bs.params[name], law_bs.params["c"]
        row = {"group": dict(group), "variable": var, "fixed_bs": fixed,
               "fixed_bs_ci": law_bs.ci.get(name), "c": c, "c_ci": law_bs.ci.get("c"),
               "bs_law": bs_j.params[name], "bs_law_ci": bs_j.ci.get(name),
               "along": float(along_optimal(fixed, c, bs_j.params[name])), "along_ci": None,
               "joint": lr_j.params[name], "joint_ci": lr_j.ci.get(name), "along_draws": None}
        if law_bs.boot is not None and bs_j.boot is not None:
            i, k = law_bs.param_names.index(name), law_bs.param_names.index("c")
            draws = along_optimal(law_bs.boot[:, i], law_bs.boot[:, k],
                                  bs_j.boot[:, bs_j.param_names.index(name)])
            row["along_draws"] = draws
            row["along_ci"] = [float(v) for v in percentile_ci(draws, ci)]
        out.append(row)
    return out


def _status_notes(optima: pd.DataFrame, max_misfit: float, floor_gap: float) -> list[str]:
    counts = optima["status"].value_counts()
    out = []
    for st in STATUS_NAMES[1:]:
        if st in counts.index:
            why = STATUS_NOTES[st].format(pct=f"{max_misfit:.0%}", gap=f"{floor_gap:g}")
            out.append(f"{counts[st]} joint group(s) {st}: {why}; only ok joint optima enter "
                       "the joint laws")
    return out

