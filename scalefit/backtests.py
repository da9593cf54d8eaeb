"""Rolling-origin backtests of the laws of lr_opt (``scalefit backtest``, ``scalefit.backtest``).

Fit once on the full table (every sweep's optimum, its interval and its resamples); then
along an ordered axis, for each held-out level in turn, refit the law of lr_opt per ``by``
group on the optima of the smaller levels only (their bootstrap draws give its intervals),
predict every ``ok`` optimum measured at the held-out level, and score the predictions
against two baselines: keep the LR of the largest fitted level, and the law fitted without
its last fitted level (docs/math.md, "Backtests"). The optima are the full fit's: each
sweep's optimum comes from its own runs only, but a sweep with few degrees of freedom
borrows its group's pooled noise, which the held-out sweeps help measure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import backtest as cb
from .core.laws import power_law
from .core.pyvalue import num
from .core.shape import with_fix, with_shapes
from .errors import ScalefitInputError
from .laws import _with_noise, by_groups, fix_for, law_points, law_variables, with_excess
from .options import check
from .results.backtest import BacktestResult

ROLES = ("scale", "horizon")


def resolve_axis(result, axis: str, src=None) -> str:
    """The optima column of ``axis``: a role (scale, horizon), the source column of one
    (e.g. N), or a numeric ``by`` column; anything else is one line naming the choices.
    ``src``: what holds the optima and ``by`` (default the fit; or its joint optima)."""
    cols = dict(result.input.get("columns") or {})
    src = result if src is None else src
    optima = src.optima
    for role in ROLES:
        if axis == role or (cols.get(role) == axis and role in optima):
            if role not in optima or not np.isfinite(optima[role].to_numpy(float)).any():
                raise ScalefitInputError(f"--axis {axis}: the table has no {role} column")
            return role
    by = src.by
    if axis in by:
        v = pd.to_numeric(optima[axis], errors="coerce")
        if v.isna().any() or not (v > 0).all():
            raise ScalefitInputError(f"--axis {axis}: the column is not numeric and > 0 "
                                     "in every sweep; an axis must be ordered")
        return axis
    named = [f"{r} ({cols[r]})" if cols.get(r) and cols[r] != r else r
             for r in ROLES if r in optima and np.isfinite(optima[r].to_numpy(float)).any()]
    extra = [b for b in by if pd.to_numeric(optima[b], errors="coerce").notna().all()]
    choice = ", ".join(named + [f"{b} (--by)" for b in extra]) or "none"
    raise ScalefitInputError(f"--axis {axis}: not an axis of this fit; columns it can use: "
                             f"{choice} (a numeric column must also be a --by column)")


def backtest_fit(result, axis: str = "scale", levels: int | None = None,
                 joint: bool = False) -> BacktestResult:
    """Rolling-origin backtest of ``result``'s lr_opt laws along ``axis``.

    axis: ``scale``, ``horizon`` (or their source column names) or a numeric ``by``
    column; levels: how many of the largest levels to hold out, each in turn (default:
    every level from the 4th smallest up, at most 3). joint: backtest the joint optima of
    a fit with ``joint=COLUMN`` instead: each held-out joint optimum's LR (at its optimal
    batch size) and its batch size (``bs_*`` keys), each from its own law.
    """
    check("levels", levels)
    level = result.level
    seed = int(result.settings.get("seed", 0) or 0)
    fix = None if joint else dict(result.settings.get("fix") or {}) or None
    if joint:
        src, curv, include, xl, yl = _joint_source(result)
    else:
        src, curv, yl = result, "curvature", None
        include = tuple(result.settings.get("include", ("ok",)))
        boot = result.boot
        xl = None
        if boot is not None:
            xl = boot.law_columns  # the columns asked for (no (B, G) copy)
    col = resolve_axis(result, axis, src)
    optima = src.optima
    optima.index = np.arange(len(optima))  # row j = column j of the resamples
    if col in src.by:
        optima[col] = pd.to_numeric(optima[col])
    by = tuple(b for b in src.by if b != col)
    others = [r for r in ROLES if r in optima and r != col
              and np.isfinite(optima[r].to_numpy(float)).any()]
    points, notes, origins_of = [], [], {}
    for group, sub in by_groups(optima, by):
        pts = law_points(sub, include) if not joint else sub[sub["status"] == "ok"]
        meas = sub[(sub["status"] == "ok") & np.isfinite(sub["lr_opt"].to_numpy(float))]
        held_levels = cb.origins(pts[col].to_numpy(float), levels)
        origins_of[_label(group)] = held_levels.tolist()
        if not held_levels.size:
            notes.append(f"{_label(group) or 'all runs'}: {pts[col].nunique()} level(s) of "
                         f"{col} with an optimum: too few to hold one out (need "
                         f"{3 if levels else 4}{'' if levels else ', or --levels'})")
            continue
        for origin in held_levels:
            held = meas[meas[col].to_numpy(float) == origin]
            train = pts[pts[col].to_numpy(float) < origin]
            if held.empty:
                continue
            held_fix = fix_for(fix, group) or None
            law, why = _law(train, col, xl, level, by_col=col in src.by, fix=held_fix)
            if law is None:
                notes.append(f"{_label(group) or 'all runs'}: {col} {origin:g}: {why}")
                continue
            top = train[col].max()
            short = train[train[col] < top]
            law_b, _ = _law(short, col, xl, level, by_col=col in src.by,
                            variables=law.variables, fix=held_fix, exact=True)
            rows = _score(group, origin, col, held, train, law, law_b, others, level, seed,
                          curv=curv)
            if joint:
                bs, _ = _law(train, col, yl, level, by_col=col in src.by,
                             variables=law.variables, target="bs_opt")
                bs_b = None if bs is None else _law(short, col, yl, level, by_col=col in src.by,
                                                     variables=law.variables,
                                                     target="bs_opt", exact=True)[0]
                extra = _score(group, origin, col, held, train, bs, bs_b, others, level, seed,
                               curv="k_bs_floor", target="bs_opt", prefix="bs_") if bs else []
                for r, e in zip(rows, extra or [{}] * len(rows)):
                    r.update({k: v for k, v in e.items() if k.startswith("bs_")})
                    r["bs_law"] = None if bs is None else bs.form
            points += rows
    if fix:
        held = ", ".join(f"{k} = {v:g}" for k, v in fix.items())
        notes.append(f"the laws (and the short baselines) fitted with {held} held, as the "
                     "fit (--fix)")
    if not points:
        raise ScalefitInputError(f"no held-out optimum along {col}: "
                                 + ("; ".join(notes) if notes else "no ok optima"))
    return BacktestResult(points=points, axis=col, level=level, notes=notes,
                          settings={"levels": levels, "seed": seed, "joint": bool(joint),
                                    **({"fix": fix} if fix else {}),
                                    "n_boot": result.settings.get("n_boot"),
                                    "include": list(include)},
                          input={"source": result.input.get("source"), "by": list(by),
                                 "columns": dict(result.input.get("columns") or {})})


def _label(group: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items())


def _joint_source(result):
    """What a joint backtest reads: the fit's joint optima and their resampled logs."""
    j = getattr(result, "joint", None)
    if j is None:
        raise ScalefitInputError("--joint: this fit has no joint optima; fit with "
                                 "--joint COLUMN (e.g. --joint bs)")
    draws = getattr(j, "draws", None)
    xl = None if draws is None else _columns_of(np.asarray(draws["ln_lr"]))
    yl = None if draws is None else _columns_of(np.asarray(draws["ln_bs"]))
    return j, "k_lr", ("ok",), xl, yl


def _columns_of(draws: np.ndarray):
    """``cols -> draws[:, cols]``: resampled logs read as the fit's ``law_columns``."""
    return lambda cols: draws[:, cols]


def _law(train: pd.DataFrame, col: str, xl, level: float, by_col: bool, variables=None,
         target: str = "lr_opt", fix: dict | None = None, exact: bool = False):
    """The power law of ``target`` (lr_opt, or bs_opt of joint optima) on ``train`` (its
    own variables; ``col`` among them), or (None, why); ``xl``: the resampled logs of the
    target, ``cols -> (B, len(cols))`` (``BootSweeps.law_columns``), or None; ``fix``:
    exponents held at values, as the fit held them (``--fix``); ``exact``: as few points as
    parameters will do (the short baseline: a law through its points still forecasts,
    though it has no scatter to measure for a PI)."""
    if variables is None:
        base = law_variables(train) or ()
        if by_col:
            variables = (*base, col) if train[col].nunique() >= 2 else ()
        else:
            variables = base if col in base else ()
    if not variables or any(train[v].nunique() < 2 for v in variables):
        return None, f"the smaller levels do not vary in {col}"
    need = len(variables) + (1 if exact else 2)
    if len(train) < need:
        return None, f"{len(train)} optima below it: too few for a law (need {need})"
    cols = train.index.to_numpy()
    yb = None
    if xl is not None:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            yb = np.exp(xl(cols))
        yb, _ = _with_noise(yb)
    values = {v: train[v].to_numpy(float) for v in variables}
    yb_noise = yb
    yb, _, w = with_excess(values, tuple(variables), train[target].to_numpy(float), yb, target,
                           measured=(train["status"] == "ok").to_numpy())
    exps = {"scale": "a", "horizon": "b", **({} if col in ROLES else {col: "c"})}
    law = power_law(target, values, train[target].to_numpy(float), yb, tuple(variables), {}, level,
                    exponents=exps, weights=w)
    if target == "lr_opt" and np.all(np.isfinite(law.coef())):
        # the shape test the fit makes (on the draws before the excess scatter): a resolved
        # bend averages the predictions, as 'scalefit predict' does
        law = with_shapes([law], [yb_noise], weights=[w])[0]
        if fix:
            law = with_fix(law, fix, yb, train["curvature"].to_numpy(float), w)
    if not np.all(np.isfinite(law.coef())):
        return None, "the law of the smaller levels is not determined"
    return law, None


def _free(law) -> np.ndarray | None:
    """The columns of a law's design its fit estimated (None: all); exponents held by
    ``--fix`` are not."""
    fixed = (law.constraint or {}).get("fixed") or {}
    if not fixed:
        return None
    return np.array([j for j, n in enumerate(law.param_names) if j == 0 or n not in fixed])


def _design(law, rows: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(rows))] + [np.log(rows[v].to_numpy(float))
                                                   for v in law.variables])


def _score(group, origin, col, held, train, law, law_b, others, level, seed,
           curv: str = "curvature", target: str = "lr_opt", prefix: str = "lr_"
           ) -> list[dict]:
    """One row per held-out optimum: the law, its CI/PI, the measurement and both baselines,
    for every held-out point at once. ``target``: the optima column predicted; ``curv``:
    the curvature column that prices an error; ``prefix``: of the keys (``lr_``; ``bs_``
    for the batch size of a joint optimum, whose keys all start with it)."""
    Z = _design(law, held)
    X = _design(law, train)
    p = cb.predict_points(law.coef(), law.boot, law.rmse_log or 0.0, Z, level, seed, X,
                          _free(law), law.shape)
    y = np.log(held[target].to_numpy(float))
    k = held[curv].to_numpy(float)
    err = p["log"] - y
    has_pi = np.all(np.isfinite(p["pi"]), axis=0)
    covered = np.where(has_pi, (p["pi"][0] <= y) & (y <= p["pi"][1]), np.nan)
    # baseline (a): the LR of the largest fitted level, same other coordinates or nearest
    top = train[train[col] == train[col].max()]
    j = cb.nearest(top[others].to_numpy(float), held[others].to_numpy(float))
    keep = np.log(top[target].to_numpy(float))[j]
    keep_from = top.iloc[j]
    # baseline (b): the law without its last fitted level
    if law_b is not None:
        short = train[train[col] < train[col].max()]
        pb = cb.predict_points(law_b.coef(), law_b.boot, law_b.rmse_log or 0.0,
                               _design(law_b, held), level, seed, _design(law_b, short),
                               _free(law_b), law_b.shape)
        eb = pb["log"] - y
        free = _free(law_b)
        k_b = len(law_b.param_names) if free is None else len(free)
        # a law through its points has no residual to measure its scatter: no PI
        hb = np.all(np.isfinite(pb["pi"]), axis=0) & (law_b.n_points > k_b)
        cov_b = np.where(hb, (pb["pi"][0] <= y) & (y <= pb["pi"][1]), np.nan)
    else:
        eb = cov_b = np.full(len(held), np.nan)
    ek = keep - y
    rows = []
    for i in range(len(held)):
        r = held.iloc[i]
        if prefix == "bs_":
            rows.append({
                "bs_pred": float(np.exp(p["log"][i])),
                "bs_pred_ci": _pair(np.exp(p["ci"][:, i])),
                "bs_pred_pi": _pair(np.exp(p["pi"][:, i])),
                "bs_measured": float(r[target]),
                "bs_measured_ci": _pair([r[target + "_lo"], r[target + "_hi"]]),
                "bs_curvature": num(k[i]),
                "bs_ln_error": float(err[i]),
                "bs_covered": None if np.isnan(covered[i]) else bool(covered[i]),
                "bs_loss_cost": num(k[i] * err[i] ** 2),
                "bs_keep": float(np.exp(keep[i])),
                "bs_keep_ln_error": float(ek[i]), "bs_keep_loss_cost": num(k[i] * ek[i] ** 2),
                "bs_short": num(np.exp(eb[i] + y[i])), "bs_short_ln_error": num(eb[i]),
                "bs_short_covered": None if np.isnan(cov_b[i]) else bool(cov_b[i]),
                "bs_short_loss_cost": num(k[i] * eb[i] ** 2)})
            continue
        rows.append({
            "group": dict(group), "axis": col, "origin": float(origin),
            "scale": num(r.get("scale")), "horizon": num(r.get("horizon")),
            **({col: float(r[col])} if col not in ROLES else {}),
            "n_train": int(len(train)), "train_max": float(train[col].max()),
            "law": law.form, "law_params": dict(law.params),
            "shape_averaged": bool((law.shape or {}).get("resolved")),
            "lr_pred": float(np.exp(p["log"][i])),
            "lr_pred_ci": _pair(np.exp(p["ci"][:, i])),
            "lr_pred_pi": _pair(np.exp(p["pi"][:, i])),
            "sigma_log": num(p["sigma"][i]),
            "lr_measured": float(r["lr_opt"]),
            "lr_measured_ci": _pair([r["lr_opt_lo"], r["lr_opt_hi"]]),
            "curvature": num(k[i]),
            "ln_error": float(err[i]),
            "covered": None if np.isnan(covered[i]) else bool(covered[i]),
            "loss_cost": num(k[i] * err[i] ** 2),
            "keep_lr": float(np.exp(keep[i])),
            "keep_from": {o: float(keep_from.iloc[i][o]) for o in [col, *others]},
            "keep_ln_error": float(ek[i]), "keep_loss_cost": num(k[i] * ek[i] ** 2),
            "short_lr": num(np.exp(eb[i] + y[i])), "short_ln_error": num(eb[i]),
            "short_covered": None if np.isnan(cov_b[i]) else bool(cov_b[i]),
            "short_loss_cost": num(k[i] * eb[i] ** 2),
        })
    return rows




def _pair(v):
    a, b = (num(x) for x in v)
    return None if a is None or b is None else [a, b]
