"""``scalefit.fit_isoflop``: IsoFLOP profiles (Chinchilla Approach 2) with the LR-sweep estimator.

An IsoFLOP profile is a sweep: runs at one FLOP budget C (and one value of every ``by``
column), swept over model size N. So the optimum N* of every profile is the same
windowed parabola, with the same statuses and the same run bootstrap, as the optimal LR
of an LR sweep, in ``x = ln N`` instead of ``ln lr`` (``core.sweeps``, ``core.optimum``,
``core.bootstrap``). Then, per ``by`` group, power laws of the optima in C with the
same log-linear machinery as the LR laws (``core.laws.power_law``: bootstrap draws of the
optima, leave-largest-out):

    N* = k C^a,   D* = k' C^b,   D*/N* = k'' C^c,   L* = L_inf + A C^alpha.

D* at each profile is ``C / (6 N*)`` when the runs lie on their budget's 6ND line (then
b = 1 - a and c = 1 - 2a exactly, resample by resample), otherwise ln D read off the
profile at N* (``isoflop_table``, ``core.isoflop.interp_levels``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from .core.allocation import FLOPS_PER_PARAM_TOKEN
from .core.bootstrap import THIN_WINDOW, censored_interval, percentile_ci, tried_range
from .core.isoflop import interp_levels
from .core.laws import LawFit, power_law
from .core.losslaws import loss_law
from .core.noise import group_noise
from .core.optimum import DEFAULT_WINDOW, STATUS_NAMES, fit_sweeps
from .core.scatter import excess_note, excess_scatter, with_excess_scatter
from .errors import ScalefitInputError
from .grouping import pooling_hints
from .isoflop_table import DEFAULT_BUDGET_TOL, IsoflopTable, load_isoflop_table
from .options import FitOptions
from .progress import resolve
from .results.isoflop import IsoflopResult
from .row_checks import mid_schedule_rows
from .sweep_set import SweepSet, build, group_runs

WHY = {
    "all_diverged": "every run diverged",
    "too_few": "each profile needs >= 3 distinct N with a finite loss",
    "edge": "the best N is the smallest or largest of its profile; add model sizes beyond "
            "it, or pass --include-status ok edge",
    "not_convex": "the loss is not convex in ln N around the best N",
    "bad_fit": "the parabola does not describe the runs in its window",
    "off_grid": "the parabola's vertex lies outside the model sizes it was fitted on",
}
# One note per non-ok profile status a fit shows: what it means, and what to do.
PROFILE_NOTES = {
    "all_diverged": "every run diverged",
    "too_few": "fewer than 3 distinct N with a finite loss: no parabola",
    "edge": "the best N is the smallest or largest of the profile, so the optimum is not "
            "bracketed; add model sizes beyond it",
    "not_convex": "the loss is not convex in ln N around the best N",
    "bad_fit": "the parabola does not describe the runs in its window of {n} model sizes "
               "around the best N (a run off the curve, or, on a dense grid of sizes, a "
               "window too narrow for the valley to rise above the noise: --window widens "
               "it); see docs/math.md section 1",
    "off_grid": "the parabola's vertex lies outside the model sizes it was fitted on (an "
                "extrapolation, not an estimate); see best_N",
}
# Laws of the optima in C: target -> exponent name (coefficient k).
TARGETS = {"N_opt": "a", "D_opt": "b", "tokens_per_param": "c"}


def fit_isoflop(
    table, flops: str | None = None, params: str | None = None, tokens: str | None = None,
    loss: str | None = None, by=(), budget_col: str | None = None,
    budget_tol: float = DEFAULT_BUDGET_TOL, n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0, window: int = DEFAULT_WINDOW, include=("ok",), status: str | None = None,
    progress: Callable[[int, int], None] | str | None = "auto", source: str | None = None,
    extract=(), fmt: str | None = None, require_optimum: bool = False,
    missing_loss: str = "skip", keep_duplicates: bool = False,
) -> IsoflopResult:
    """IsoFLOP analysis (Approach 2): the optimal N of every profile, then N*, D*, D*/N*
    and the loss at the optimum as laws of the budget C, all with bootstrap intervals.

    table: path (CSV / Parquet / JSON Lines; ``"-"`` for stdin) or DataFrame, one row per
        run; ``flops``, ``params``, ``tokens``, ``loss``: column names overriding the
        aliases (``flops``/``C``/``compute``/``budget``; ``N``/``params``/``n_params``;
        ``D``/``tokens``; ``loss``/``val_loss``/...). C = 6 N D without a FLOP column.
    by: columns that split profiles into groups (a law per group).
    budget_col: the column holding each run's budget (exact groups); otherwise a
        repeating FLOP column, else C binned within ``budget_tol`` (relative).
    n_boot, ci, seed, window, include, status, progress, source, extract, fmt,
        require_optimum, missing_loss, keep_duplicates: as for ``scalefit.fit`` (the
        window is in steps of the N grid).
    """
    opts = FitOptions(n_boot=n_boot, ci=ci, seed=seed, window=window, include=include)
    n_boot, ci, seed, window, include = (opts.n_boot, opts.ci, opts.seed, opts.window,
                                         opts.include)
    t = load_isoflop_table(table, flops=flops, params=params, tokens=tokens, loss=loss, by=by,
                           status=status, budget_col=budget_col, budget_tol=budget_tol,
                           fmt=fmt, extract=extract, source=source,
                           missing_loss=missing_loss, keep_duplicates=keep_duplicates)
    ss = _profile_set(t)
    groups, gid, sw = ss.groups, ss.gid, ss.sweeps
    G = len(groups)
    data = t.data
    point = fit_sweeps(sw.x, ss.n, ss.s, ss.q, window=window, bounds=True)
    notes = list(t.notes)
    noise_sd = _parametric_noise(point, notes, ss.key) if n_boot > 0 else None
    ss = ss.replace(point=point, plan=None if noise_sd is None else {"sd": noise_sd})
    report, bar = resolve(progress, "bootstrap", after="fitting laws")
    with bar:
        boot = ss.resample(n_boot, seed, window, report).boot if n_boot else None
    ln_d_levels = _level_means(sw, gid, np.log(data["N"].to_numpy()),
                               np.log(data["D"].to_numpy()), data["diverged"])
    budget = groups["budget"].to_numpy(float)
    to_ln_d = (lambda x: np.log(budget / FLOPS_PER_PARAM_TOKEN) - x) if t.tokens_from == "6ND" \
        else (lambda x: interp_levels(sw.x, ln_d_levels, x))
    draws = law_draws = None
    tried = tried_range(sw.x)
    if boot is not None:
        x_b, best = boot.x_opt, boot.x_best  # x_best: made from level indices once
        draws = {"ln_N": x_b, "ln_D": to_ln_d(x_b), "loss": boot.loss_opt,
                 "best_ln_N": best, "best_ln_D": to_ln_d(best)}
        # the laws learn from resampled optima clamped to the sizes each profile tried, as
        # the LR laws do: a nearly flat resampled parabola puts its vertex anywhere
        x_law = np.clip(x_b, *tried)
        law_draws = {**draws, "ln_N": x_law, "ln_D": to_ln_d(x_law)}
    profiles = _profile_table(groups, sw, point, draws, to_ln_d, noise_sd, ci, tried)
    if t.tokens_from == "6ND":
        notes.append("every run lies on its budget's 6ND line: D_opt = C / (6 N_opt) at every "
                     "profile and resample, so D_opt's exponent is b = 1 - a exactly")
    notes += profile_status_notes(profiles, include, window)
    _open_note(profiles, notes)
    laws = _fit_laws(profiles, law_draws, t.by, include, ci, notes, seed)
    hint_runs = dataclasses.replace(
        t.runs, raw=t.runs.raw.assign(_budget=data["budget"].to_numpy()),
        columns={**{k: v for k, v in t.columns.items() if v}, "scale": "_budget",
                 "horizon": None})
    inp = {"source": t.source, "rows": int(len(data)), "columns": dict(t.columns),
           "by": list(t.by), "diverged": int(data["diverged"].sum()), "profiles": G,
           "budgets": t.budget_from, "tokens_from": t.tokens_from}
    if t.runs.extract:
        inp["extract"] = list(t.runs.extract)
    result = IsoflopResult(
        profiles=profiles, laws=laws, input=inp,
        settings={"n_boot": int(n_boot), "ci": float(ci), "seed": int(seed),
                  "window": int(window), "include": list(include),
                  "budget_tol": float(budget_tol)},
        notes=notes, runs=list(ss.per_sweep), draws=draws,
        warnings=[*t.runs.warnings,
                  *filter(None, [mid_schedule_rows(t.runs.raw, t.runs.columns, t.runs.rows)]),
                  *[h.replace("within sweeps", "within profiles")
                    for h in pooling_hints(hint_runs)]])
    if require_optimum:
        counts = profiles["status"].value_counts()
        if not any(st in counts.index for st in include):
            parts = [f"{k} {st} ({WHY.get(st, st)})" for st, k in counts.items()]
            raise ScalefitInputError(f"{t.source}: no IsoFLOP profile has an optimum: "
                                     f"{'; '.join(parts)}")
    return result


def _profile_set(t: IsoflopTable) -> SweepSet:
    """The profiles of ``t`` as sweeps whose levels are model sizes N: grouped by the ``by``
    columns and the budget (sorted), their draws ordered by budget."""
    groups, gid = group_runs(t.data, list(t.by) + ["budget"])
    order_keys = np.column_stack([groups["budget"].to_numpy(float), np.zeros(len(groups))])
    return build(t.data, groups, gid, t.by, "N", order_keys)


def _level_means(sw, gid, ln_n, values, diverged) -> np.ndarray:
    """Mean of ``values`` over the finite runs at each level (distinct N) of each profile:
    (G, J), aligned with ``sw.x``."""
    G, J = sw.x.shape
    keep = ~np.asarray(diverged, bool)
    g, ln_n, values = gid[keep], np.asarray(ln_n)[keep], np.asarray(values)[keep]
    level = np.zeros(g.size, dtype=np.int64)
    for k in range(G):  # the level of a run: the rank of its ln N among its profile's levels
        sel = g == k
        level[sel] = np.searchsorted(sw.x[k, np.isfinite(sw.x[k])], ln_n[sel])
    key = g * J + np.clip(level, 0, J - 1)
    cnt = np.bincount(key, minlength=G * J).reshape(G, J)
    tot = np.bincount(key, weights=values, minlength=G * J).reshape(G, J)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.where(cnt > 0, cnt, 1), np.nan)


def _parametric_noise(point, notes: list[str], key: np.ndarray) -> np.ndarray:
    """Per-profile s.d. for parametric resamples of ok profiles with 3 or 4 runs in the fit
    (``THIN_WINDOW``, as for LR sweeps): the noise of the profile's own ``by`` group
    (``core.noise.group_noise``: its ok profiles with residual degrees of freedom, robust
    to an aberrant one), never another group's. Resampling the 4 runs of a thin window
    instead drops a point next to the minimum in about a third of the resamples and moves
    the window: on Porian et al.'s profiles that put N* of a 4-run profile at 1/80 of its
    estimate (docs/math.md section 9)."""
    thin = (point.n_window <= THIN_WINDOW) & (point.status == 0)
    exact = thin & (point.n_window == 3)
    sd = np.full(point.n_window.shape, np.nan)
    if not thin.any():
        return sd
    noise = group_noise(point.n_window, point.rmse, point.status, key)
    has = thin & np.isfinite(noise.sd) & (noise.sd > 0)
    sd[has] = noise.sd[has]
    if has.any():
        vals = ", ".join(f"{v:.3g}" for v in dict.fromkeys(noise.sd[has].tolist()))
        notes.append(f"{int(has.sum())} profile(s) have 3 or 4 runs in their fit (at most one "
                     "residual degree of freedom: resampling their runs cannot show the "
                     f"noise): their resamples add normal noise of s.d. {vals}, the residual "
                     "s.d. of the other profiles of their own group")
    if (exact & ~has).any():
        notes.append(f"{int((exact & ~has).sum())} profile(s) have exactly 3 runs in their fit "
                     "and no profile of their group has residual noise to estimate it from: "
                     "their intervals are unknown (add model sizes)")
    return sd


def _profile_table(groups, sw, point, draws, to_ln_d, noise_sd, ci, tried) -> pd.DataFrame:
    """One row per profile: optimum N*, D*, D*/N*, loss with intervals, status, counts.
    ``tried``: (x_min, x_max) (G,), the smallest and largest ln N of each profile. An
    interval of N*, D* or D*/N* that runs past the range its profile tried is open there
    (``<col>_ci_open``; the bound NaN; ``N_tried_lo/hi``, ``D_tried_lo/hi``,
    ``tokens_per_param_tried_lo/hi`` the ranges), as lr_opt's."""
    df = groups.copy()
    ok = point.status == 0
    x = np.where(ok, point.x_opt, np.nan)
    ln_d = to_ln_d(x)
    df["N_opt"], df["D_opt"] = np.exp(x), np.exp(ln_d)
    df["tokens_per_param"] = np.exp(ln_d - x)
    df["loss_opt"] = np.where(ok, point.loss_opt, np.nan)
    df["curvature"] = np.where(ok, point.curvature, np.nan)
    no_info = point.n_window == 3
    if noise_sd is not None:
        no_info &= ~(np.isfinite(noise_sd) & (noise_sd > 0))
    keep = ok & ~no_info
    if draws is not None:
        # intervals of N*, D*, D*/N* from their logs (as lr_opt's of an LR sweep)
        resampled = {"N_opt": draws["ln_N"], "D_opt": draws["ln_D"],
                     "tokens_per_param": draws["ln_D"] - draws["ln_N"], "loss_opt": draws["loss"]}
    x_min, x_max = tried
    d_min, d_max = to_ln_d(x_min), to_ln_d(x_max)  # ln D at the smallest and largest N
    ranges = {"N_opt": (x_min, x_max),
              "D_opt": tuple(np.sort(np.stack([d_min, d_max]), axis=0)),
              "tokens_per_param": tuple(np.sort(np.stack([d_min - x_min, d_max - x_max]),
                                                axis=0))}
    for col in ("N_opt", "D_opt", "tokens_per_param", "loss_opt"):
        lo_hi = (np.full((2, len(df)), np.nan) if draws is None
                 else np.where(keep, percentile_ci(resampled[col], ci), np.nan))
        if col == "loss_opt":
            df[col + "_lo"], df[col + "_hi"] = lo_hi
            continue
        lo_hi, open_ = censored_interval(lo_hi, *ranges[col])
        df[col + "_lo"], df[col + "_hi"] = np.exp(lo_hi)
        df[col + "_ci_open"] = np.where(keep, open_, "")
        tried_col = col.removesuffix("_opt")  # N_tried_lo, D_tried_lo, tokens_per_param_...
        df[tried_col + "_tried_lo"], df[tried_col + "_tried_hi"] = np.exp(ranges[col])
    df["N_best"] = np.exp(point.x_best)
    df["D_best"] = np.exp(to_ln_d(point.x_best))
    df["status"] = [STATUS_NAMES[c] for c in point.status]
    df["n_levels"] = np.isfinite(sw.x).sum(1)
    df["n_window"] = point.n_window.astype(int)
    df["fit_rmse"] = point.rmse
    df["N_window_lo"], df["N_window_hi"] = np.exp(point.x_window)
    df["boot_valid"] = (np.isfinite(draws["ln_N"]).mean(0) if draws is not None
                        else np.full(len(df), np.nan))
    if noise_sd is not None:
        df["boot_kind"] = np.where(np.isfinite(noise_sd) & (noise_sd > 0), "parametric", "runs")
    return df


def profile_status_notes(profiles: pd.DataFrame, include, window: int) -> list[str]:
    """One note per non-ok status present: how many profiles, what it means, and whether
    they enter the laws (``include``) with their best observed N."""
    counts = profiles["status"].value_counts()
    out = []
    for st in STATUS_NAMES[1:]:
        if st not in counts.index or st not in PROFILE_NOTES:
            continue
        line = (f"{counts[st]} profile(s) {st}: "
                + PROFILE_NOTES[st].format(n=2 * int(window) + 1))
        if st in include:
            line += "; included: they enter the laws with their best N (a grid point)"
        else:
            line += f"; they do not enter the laws (--include-status ok {st} adds them)"
        out.append(line)
    return out


def _open_note(profiles: pd.DataFrame, notes: list[str]) -> None:
    """A note on the optimum intervals that run past the model sizes their profile tried."""
    n_open = int((profiles["N_opt_ci_open"] != "").sum())
    if n_open:
        notes.append(f"{n_open} optimum interval(s) run past the model sizes their profile "
                     "tried: shown open-ended (< or > the smallest or largest tried, for N, D "
                     "and D/N); the laws clamp such resamples to the sizes tried")


def _fit_laws(profiles, draws, by, include, ci, notes, seed: int = 0) -> list[LawFit]:
    """Per ``by`` group: N*, D*, D*/N* as power laws of C, their draws carrying the scatter
    of the optima around the law beyond their own noise (``core.scatter``); the loss at the
    optimum vs C."""
    laws: list[LawFit] = []
    groups = [({}, profiles)] if not by else [
        (dict(zip(by, k if isinstance(k, tuple) else (k,))), sub)
        for k, sub in profiles.groupby(list(by), sort=True, dropna=False)]
    for group, sub in groups:
        label = ("[" + ", ".join(f"{k}={v}" for k, v in group.items()) + "] ") if group else ""
        pts = sub[sub["status"].isin(include)]
        fitted = (pts["status"] == "ok").to_numpy()
        # an included non-ok profile has no fitted optimum: its best observed N stands in
        y = {"N_opt": np.where(fitted, pts["N_opt"], pts["N_best"]),
             "D_opt": np.where(fitted, pts["D_opt"], pts["D_best"])}
        y["tokens_per_param"] = y["D_opt"] / y["N_opt"]
        use = np.isfinite(y["N_opt"]) & np.isfinite(y["D_opt"])
        if use.sum() < 3 or pts["budget"].to_numpy()[use].min() == pts["budget"].max():
            notes.append(f"{label}{int(use.sum())} profile(s) with an optimum: too few for a law "
                         "in C (need 3 budgets)")
            continue
        cols = pts.index.to_numpy()[use]
        C = pts["budget"].to_numpy(float)[use]
        boot = None
        X = np.column_stack([np.ones(len(C)), np.log(C)])
        info = excess_scatter(X, np.log(y["N_opt"][use]), None)
        if draws is not None:
            f = fitted[use]
            ln_n = np.where(f, draws["ln_N"][:, cols], draws["best_ln_N"][:, cols])
            ln_d = np.where(f, draws["ln_D"][:, cols], draws["best_ln_D"][:, cols])
            # the scatter of N* around its law beyond the noise: one shift eps per optimum
            # and resample, which moves ln D* by -eps along the budget's iso-FLOP line
            info = excess_scatter(X, np.log(y["N_opt"][use]), ln_n)
            eps = with_excess_scatter(ln_n, info["tau2"], info["dof"], [seed, len(laws)]) - ln_n
            ln_n, ln_d = ln_n + eps, ln_d - eps
            with np.errstate(over="ignore", invalid="ignore"):
                boot = {"N_opt": np.exp(ln_n), "D_opt": np.exp(ln_d),
                        "tokens_per_param": np.exp(ln_d - ln_n)}
        for target, exponent in TARGETS.items():
            yb = None if boot is None else boot[target]
            law = power_law(target, {"C": C}, y[target][use], yb, ("C",), dict(group),
                            ci, primary=True, exponents={"C": exponent}, coef_name="k")
            extra = [n for n in (excess_note(info, "N_opt"),
                                 None if yb is None else skew_note(law, exponent, C, yb)) if n]
            laws.append(dataclasses.replace(law, notes=(*law.notes, *extra)) if extra else law)
        finite = np.isfinite(pts["loss_opt"].to_numpy(float)[use])
        if finite.sum() >= 4:
            lb = None if draws is None else draws["loss"][:, cols[finite]]
            laws.append(loss_law(C[finite], pts["loss_opt"].to_numpy(float)[use][finite], lb,
                                 dict(group), ci, variable="C"))
        else:
            notes.append(f"{label}{int(finite.sum())} fitted optima: too few for the loss law "
                         "in C (need 4)")
    return laws


def skew_note(law: LawFit, exponent: str, C: np.ndarray, yb: np.ndarray,
              ratio: float = 3.0) -> str | None:
    """Why an exponent's interval is skewed (one side more than ``ratio`` times the other):
    the budgets whose optima have skewed intervals of their own, in the same direction on
    the law's ln scale (e.g. the largest budgets' profiles with few model sizes past their
    minimum). None when the interval is not skewed or has no such budgets."""
    ci, est = law.ci.get(exponent), law.params.get(exponent)
    if ci is None or est is None or not np.all(np.isfinite([ci[0], ci[1], est])):
        return None
    up, down = ci[1] - est, est - ci[0]
    if min(up, down) <= 0 or max(up, down) < ratio * min(up, down):
        return None
    ly = np.log(np.asarray(law.points[law.target], float))
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = percentile_ci(np.log(yb), law.level)
    # each point's pull on the slope: its least-squares weight times its own skew
    u = np.log(C) - np.log(C).mean()
    pull = u / (u @ u) * ((hi - ly) - (ly - lo)) * (1.0 if up > down else -1.0)
    pull = np.where(np.isfinite(pull), pull, 0.0)
    order = np.argsort(-pull)
    top = [i for i in order[:3] if pull[i] > 0.25 * pull[order[0]] > 0]
    if not top:
        return None
    where = ", ".join(f"C = {C[i]:.3g} ([{np.exp(lo[i]):.3g}, {np.exp(hi[i]):.3g}] around "
                      f"{np.exp(ly[i]):.3g})" for i in sorted(top))
    side = "upper" if up > down else "lower"
    return (f"{exponent}'s interval is lopsided ({side} side {max(up, down) / min(up, down):.0f}x "
            f"the other), mostly from the optima at {where}: their own resampled optima spread "
            "far to one side (a flat or one-sided valley, often at the edge of the sizes "
            "tried); more model sizes around them would narrow it")
