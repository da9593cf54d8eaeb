"""``FitResult.next_runs``: from a fit to the runs worth training next (docs/math.md s. 10).

Builds what the planner (``core.planner``) needs from a fit: every sweep's levels (from
the runs the fit holds), its point fit, run noise, grid step and divergence cap
(``core.design.SweepDesign``); the targets (each by group's law at the target scale /
horizon, or every sweep's own optimum); the candidate runs (each sweep's own LR ladder,
or the runs a caller allows); the status rules; new sweeps at new scales or horizons;
the cost of a run. ``proposal_rows.propose`` turns the picks into a ``Proposals`` result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.bootstrap import pooled_noise_sd
from ..core.decisions import needed
from ..core.design import SweepDesign, cubic_terms, design_mse, grid_step, ladder, optimum_mse
from ..core.optimum import DEFAULT_WINDOW, GAP_SD, MAX_MISFIT, OK, STATUS_NAMES, fit_sweeps
from ..core.planner import NewSweep, Planner, Target, rule_runs
from ..errors import ScalefitInputError
from ..laws import by_groups, law_points
from ..options import PlanOptions
from ..selection import select


def design_of(fit) -> tuple[SweepDesign, dict]:
    """The sweeps of ``fit`` as a SweepDesign, and what the texts need (``info``)."""
    if fit.runs is None:
        raise ScalefitInputError("proposing runs needs the runs of every sweep: fit a table of "
                                 "runs (a table of optima, or a fit saved without its runs, "
                                 "has none)")
    st = fit.settings
    optima = fit.optima
    G = len(fit.runs)
    x_low = np.full(G, np.nan)  # the lowest LR at which a run of the sweep diverged
    for g, r in enumerate(fit.runs):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        dv = lr[~np.isfinite(loss) & (lr > 0)]
        if dv.size:
            x_low[g] = np.log(dv.min())
    held = getattr(fit, "sweep_set", None)
    if held is not None and held.point is not None:  # the sweeps as the fit built them
        x, n, s, q, point = held.sweeps.x, held.n, held.s, held.q, held.point
    else:  # a fit read from JSON: rebuilt from the runs it stores
        x, n, s, q, x_div = _level_sums(fit.runs)
        point = fit_sweeps(x, n, s, q, window=int(st.get("window", DEFAULT_WINDOW)),
                           x_div=x_div, max_misfit=float(st.get("max_misfit", MAX_MISFIT)),
                           gap_sd=float(st.get("floor_gap", GAP_SD)))
    status = np.array([STATUS_NAMES.index(v) for v in optima["status"]], np.int8)
    # noise: the pooled residual s.d. of the sweeps of the same by group (as the bootstrap)
    key = _group_keys(optima, fit.by)
    sigma = np.full(G, np.nan)
    pooled_by = {}
    for k in dict.fromkeys(key):
        sd, m = pooled_noise_sd(point, key == k)
        pooled_by[k] = (sd, m)
        sigma[key == k] = sd
    known = np.isfinite(sigma) & (sigma > 0)
    if not known.all():
        everywhere, _ = pooled_noise_sd(point)
        stand_in = everywhere if np.isfinite(everywhere) and everywhere > 0 else 1.0
        sigma = np.where(known, sigma, stand_in)
    # no run at or above the lowest LR where a run of the sweep diverged above its best
    x_cap = np.full(G, np.inf)
    for g, r in enumerate(fit.runs):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        div = np.log(lr[~np.isfinite(loss) & (lr > 0)])
        ref = point.x_best[g]
        above = div[div > ref] if np.isfinite(ref) else div
        if above.size:
            x_cap[g] = above.min()
    # the valley's asymmetry (its cubic term; docs/math.md section 11), per by group
    ok = status == OK
    c3, cubic_sd = cubic_terms(x, n, s, point.x_best, point.curvature, key)
    cubic = np.where(ok, c3, 0.0)
    # the run noise the design assumes: the smaller of the pooled residual s.d. around the
    # window parabolas and around the sweeps' cubics (each includes its own model's lack
    # of fit, so each bounds the noise from above; on an asymmetric valley the parabola's
    # residual is mostly the asymmetry)
    has_cubic = np.isfinite(cubic_sd) & (cubic_sd > 0)
    sigma = np.where(has_cubic, np.fmin(sigma, cubic_sd), sigma)
    known = known | has_cubic
    asym = {}
    for k in dict.fromkeys(key):
        m = (key == k) & ok & (point.curvature > 0)
        asym[k] = float(np.median(cubic[m] / point.curvature[m])) if m.any() else 0.0
    brk = point.bracket if point.bracket is not None else np.full((2, G), np.nan)
    ds = SweepDesign(x=x, n=n, s=s, q=q, status=status, x_best=point.x_best,
                     x_opt=np.where(status == OK, point.x_opt, np.nan),
                     curvature=np.where(status == OK, point.curvature, np.nan),
                     loss_opt=np.where(status == OK, point.loss_opt, np.nan),
                     x_window=point.x_window, sigma=sigma, step=grid_step(x),
                     x_cap=x_cap, bracket=brk, cubic=cubic,
                     window=int(st.get("window", DEFAULT_WINDOW)))
    return ds, {"key": key, "noise_known": known, "pooled": pooled_by, "x_low": x_low,
                "x_vertex": point.x_opt, "asymmetry": asym}


def _level_sums(runs) -> tuple:
    """Level arrays (G, J) of the runs of every sweep (``FitResult.runs``): ln lr, finite
    runs, loss sum, sum of squares; and x_div (G,): the lowest ln lr above the highest
    finite level at which a run diverged (NaN: none) - as ``core.sweeps.index_runs``."""
    G = len(runs)
    xs, ns, ss, qs, x_div = [], [], [], [], np.full(G, np.nan)
    for g, r in enumerate(runs):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        fin = np.isfinite(loss) & (lr > 0)
        ux, inv = np.unique(np.log(lr[fin]), return_inverse=True)
        xs.append(ux)
        ns.append(np.bincount(inv, minlength=ux.size).astype(float))
        ss.append(np.bincount(inv, loss[fin], minlength=ux.size))
        qs.append(np.bincount(inv, loss[fin] ** 2, minlength=ux.size))
        dv = np.log(lr[~fin & (lr > 0)])
        if dv.size:
            above = dv[dv > ux.max()] if ux.size else dv
            x_div[g] = above.min() if above.size else np.nan
    J = max(1, max(x.size for x in xs))
    pad = lambda arrs, fill: np.array([np.pad(a, (0, J - a.size), constant_values=fill)  # noqa: E731
                                       for a in arrs])
    return pad(xs, np.nan), pad(ns, 0.0), pad(ss, 0.0), pad(qs, 0.0), x_div


def _gkey(group: dict) -> str:
    return "\x1f".join(str(v) for v in group.values()) if group else 0


def _group_keys(optima: pd.DataFrame, by) -> np.ndarray:
    if not by:
        return np.zeros(len(optima), dtype=object)
    return optima[list(by)].astype(str).agg("\x1f".join, axis=1).to_numpy()


def run_costs(optima: pd.DataFrame, how: str) -> np.ndarray:
    """Cost of one run of each sweep: ``flops``: scale x horizon (6 N D up to the factor 6;
    a missing column counts as 1), relative to the cheapest sweep; ``runs``: 1."""
    c = np.ones(len(optima))
    if how == "flops":
        for col in ("scale", "horizon"):
            if col in optima:
                c = c * optima[col].to_numpy(float)
        c = c / np.nanmin(c) if np.isfinite(c).any() and np.nanmin(c) > 0 else np.ones(len(c))
    return c


def select_groups(fit, group: dict | None) -> list[tuple[dict, np.ndarray]]:
    """(by-group dict, sweep indices) of the groups ``group`` selects (all by default;
    ``scalefit.selection``)."""
    optima = fit.optima.reset_index(drop=True)
    pairs = [(gd, sub.index.to_numpy()) for gd, sub in by_groups(optima, tuple(fit.by))]
    chosen = select([gd for gd, _ in pairs], group, fit.by,
                    none="no sweep of the fit belongs to it", have="its groups")
    return [(gd, rows) for gd, rows in pairs if any(gd is c for c in chosen)]


@dataclass(frozen=True)
class _Plan:
    """What every target of one call shares: the fit, its sweeps as a design (``ds``,
    ``info``), its optima, the cost of a run of each sweep, the statuses that enter its
    laws, and the options of the call."""

    fit: object
    ds: SweepDesign
    info: dict
    optima: pd.DataFrame
    costs: np.ndarray
    include: tuple
    opts: PlanOptions


def plan(fit, opts: PlanOptions, candidates=None):
    """The planner's picks and what the result needs to describe them (``proposals``)."""
    ds, info = design_of(fit)
    optima = fit.optima.reset_index(drop=True)
    costs = run_costs(optima, opts.cost)
    objective, law_mode = opts.objective, opts.law_mode
    include = tuple(fit.settings.get("include", ("ok",)))
    ctx = _Plan(fit, ds, info, optima, costs, include, opts)
    notes: list[str] = []
    targets: list[Target] = []
    meta: list[dict] = []  # per target: what it is, for the result
    pending, v_typ, news, new_meta = {}, [], [], []
    selected = select_groups(fit, opts.group_dict)
    G = ds.n_sweeps
    quota = np.zeros(G, int)
    for gi, (gd, rows) in enumerate(selected):
        quota[rows] = gi
        law = fit.law("lr_opt", gd) if law_mode else None
        law = law if law is not None and not isinstance(law, list) else None
        if law_mode and law is None:
            notes.append(f"{_who(gd)}no law of lr_opt yet (it needs 3 or more ok optima at "
                         "distinct scales or horizons): proposing runs for its sweeps' own "
                         "optima")
        if law is not None:
            ti = len(targets)
            t, m, pend, vt, ns, nm = _law_target(ctx, gd, rows, law, gi, ti,
                                                 opts.new_sweeps and candidates is None)
            targets.append(t)
            meta.append(m)
            pending.update(pend)
            v_typ.append(vt)
            news += ns
            new_meta += nm
            continue
        for g in rows:
            if ds.status[g] == OK:
                w = ds.curvature[g] if objective == "loss" else 1.0
                targets.append(Target(z0=np.ones(1), Z=np.ones((1, 1)),
                                      members=np.array([g]), fixed=np.array([np.nan]),
                                      weight=float(w), group=gi))
                meta.append({"kind": "sweep", "sweep": int(g), "group": gd})
                v_typ.append(np.nan)
    sel = np.concatenate([r for _, r in selected])
    allowed, exact_lr = None, {}
    if candidates is None:
        cg, cx = ladder(ds, opts.past)
    else:
        cg, cx, allowed, n_off, exact_lr = _given_candidates(candidates, optima, fit.by, ds)
        if n_off:
            notes.append(f"{n_off} candidate run(s) belong to no sweep of the fit (new scales or "
                         "horizons are not taken from candidates) and were left out")
    in_sel = np.isin(cg, sel)
    cg, cx = cg[in_sel], cx[in_sel]
    rules = {}
    for g in sel:
        if ds.status[g] != OK:
            a = None if allowed is None else allowed.get(int(g), np.zeros(0))
            rules[int(g)] = rule_runs(ds, int(g), a)
    planner = Planner(ds, targets, cg, cx, costs, rules, pending=pending,
                      v_typical=np.array(v_typ) if v_typ else None, new=news,
                      sweep_group=quota)
    before = [planner.target_var(i) for i in range(len(targets))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        picks = planner.run(opts.budget, per_group=opts.per_group)
    after = [planner.target_var(i) for i in range(len(targets))]
    return {"ds": ds, "info": info, "picks": picks, "targets": targets, "meta": meta,
            "before": before, "after": after, "planner": planner, "notes": notes,
            "rules": rules, "new_meta": new_meta, "costs": costs, "optima": optima,
            "law_mode": law_mode, "selected": selected,
            "new_costs": [ns.cost for ns in news], "exact_lr": exact_lr}


def _who(gd: dict) -> str:
    return ("[" + ", ".join(f"{k}={v}" for k, v in gd.items()) + "] ") if gd else ""


def _law_target(ctx: _Plan, gd, rows, law, gi, ti, allow_new):
    """The target of one by group's law: its points, leverage inputs, pending sweeps, the
    variance a fixed sweep would bring, and new-sweep options."""
    fit, ds, optima, opts = ctx.fit, ctx.ds, ctx.optima, ctx.opts
    sub = optima.loc[rows]
    pts = law_points(sub, ctx.include)
    members = pts.index.to_numpy()
    vals = needed(law, opts.target_scale, opts.target_horizon)
    z0 = np.array([1.0] + [np.log(vals[v]) for v in law.variables])
    Z = np.column_stack([np.ones(len(pts))] + [np.log(pts[v].to_numpy(float))
                                                for v in law.variables])
    fixed = np.full(len(pts), np.nan)
    for p, g in enumerate(members):
        if ds.status[g] == STATUS_NAMES.index("div_bracketed"):
            fixed[p] = (ds.bracket[1, g] - ds.bracket[0, g]) ** 2 / 12.0
        elif ds.status[g] != OK:
            fixed[p] = ds.step[g] ** 2 / 12.0
    weight, k_target = 1.0, _curvature_at(fit, gd, vals, ds, members)
    if opts.objective == "loss":
        weight = k_target
    ok_members = members[np.isnan(fixed)]
    v_ok = optimum_mse(ds, ok_members) if ok_members.size else np.zeros(0)
    v_ok = v_ok[np.isfinite(v_ok)]
    v_typ = float(np.median(v_ok)) if v_ok.size else np.nan
    pend = {}
    for g in rows:
        if g not in set(members.tolist()) and ds.status[g] != OK:
            z = np.array([1.0] + [np.log(float(optima.at[g, v])) for v in law.variables])
            if np.all(np.isfinite(z)):
                pend[int(g)] = (ti, z)
    t = Target(z0=z0, Z=Z, members=members, fixed=fixed, weight=float(weight), group=gi)
    meta = {"kind": "law", "group": gd, "law": law, "values": vals, "k_target": k_target}
    news, nmeta = ([], [])
    if allow_new:
        news, nmeta = _new_sweeps(ctx, rows, members, law, ti)
    return t, meta, pend, v_typ, news, nmeta


def _curvature_at(fit, gd, vals, ds, members) -> float:
    """The valley's curvature at the target: the group's curvature law there, else the
    median curvature of its ok sweeps."""
    law = fit.law("curvature", gd)
    if law is not None and not isinstance(law, list):
        try:
            return float(np.exp(law.predict_log(needed(law, vals.get("scale"),
                                                        vals.get("horizon")))[0]))
        except ScalefitInputError:
            pass
    k = ds.curvature[members]
    k = k[np.isfinite(k) & (k > 0)]
    return float(np.median(k)) if k.size else np.nan


def _new_sweeps(ctx: _Plan, rows, members, law, ti):
    """New sweeps for a law: the next point of each variable's own ladder above its largest
    value (and the values the caller names), at the other variable's values."""
    fit, ds, optima, opts = ctx.fit, ctx.ds, ctx.optima, ctx.opts
    n_new = opts.new_sweep_lrs
    dom = law.domain or {}
    have = {v: np.unique(optima.loc[rows, v].to_numpy(float)) for v in ("scale", "horizon")
            if v in optima}
    proposals = {v: set() for v in have}
    for v in law.variables:
        vals = np.unique(optima.loc[members, v].to_numpy(float))
        if vals.size >= 2:
            ratio = float(np.exp(np.median(np.diff(np.log(vals)))))
            proposals[v].add(float(vals.max() * ratio))
    for v, given in (("scale", opts.new_scales), ("horizon", opts.new_horizons)):
        if v in proposals:
            proposals[v] |= {float(x) for x in given or ()}
    points = set()
    if law.variables == ("scale", "horizon"):
        for s in proposals["scale"]:
            points |= {(s, d) for d in set(have["horizon"]) | proposals["horizon"]}
        for d in proposals["horizon"]:
            points |= {(s, d) for s in have["scale"]}
    elif law.variables == ("scale",):
        ratio = dom.get("horizon_per_scale")
        fixed_d = have.get("horizon")
        for s in proposals["scale"]:
            if ratio is not None:
                points.add((s, s * float(np.sqrt(ratio[0] * ratio[1]))))
            elif fixed_d is not None and fixed_d.size == 1:
                points.add((s, float(fixed_d[0])))
            elif fixed_d is None:
                points.add((s, None))
    elif law.variables == ("horizon",):
        fixed_s = have.get("scale")
        for d in proposals["horizon"]:
            if fixed_s is not None and fixed_s.size == 1:
                points.add((float(fixed_s[0]), d))
            elif fixed_s is None:
                points.add((None, d))
    existing = {(float(optima.at[g, "scale"]) if "scale" in optima else None,
                 float(optima.at[g, "horizon"]) if "horizon" in optima else None) for g in rows}
    h = float(np.median(ds.step[members])) if members.size else np.log(2.0)
    sig = float(np.median(ds.sigma[members])) if members.size else np.nan
    cap = (law.audit_range or {}).get("ratio_diverged")
    scale_cost = _cost_scale(optima, ctx.costs)
    news, meta = [], []
    for s, d in sorted(points, key=lambda p: (p[0] or 0, p[1] or 0)):
        if any(_close(s, e[0]) and _close(d, e[1]) for e in existing):
            continue
        at = {"scale": s, "horizon": d}
        x_pred = law.predict_log({v: at[v] for v in law.variables})[0]
        k = _curvature_at(fit, law.group, {v: at[v] for v in ("scale", "horizon")
                                           if at[v] is not None}, ds, members)
        u = (np.arange(n_new) - (n_new - 1) / 2) * h
        if cap is not None and np.isfinite(cap):
            while u.max() >= np.log(cap) - 1e-9:
                u = u - h
        a = ctx.info["asymmetry"].get(_gkey(law.group), 0.0)
        var = design_mse(u, k, sig, ds.window, a * k if np.isfinite(k) else 0.0)
        if not np.isfinite(var):
            continue
        z = np.array([1.0] + [np.log(at[v]) for v in law.variables])
        c = (s or 1.0) * (d or 1.0) / scale_cost if opts.cost == "flops" else 1.0
        news.append(NewSweep(target=ti, z=z, var=var, n_runs=n_new, cost=c,
                             lrs=tuple(x_pred + u)))
        meta.append({"scale": s, "horizon": d, "lr_pred": float(np.exp(x_pred)),
                     "group": dict(law.group), "n": n_new})
    return news, meta


def _cost_scale(optima, costs) -> float:
    """The divisor that made ``run_costs`` relative (scale x horizon of the cheapest)."""
    raw = np.ones(len(optima))
    for col in ("scale", "horizon"):
        if col in optima:
            raw = raw * optima[col].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = raw / costs
    r = r[np.isfinite(r) & (r > 0)]
    return float(np.median(r)) if r.size else 1.0


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.isclose(a, b, rtol=1e-6))


def _given_candidates(cand: pd.DataFrame, optima: pd.DataFrame, by, ds: SweepDesign):
    """Candidate runs given by the caller (columns: the by columns, scale / horizon where
    the fit has them, lr) mapped to sweeps: (g, x, allowed per sweep, rows left out)."""
    cand = pd.DataFrame(cand)
    keys = list(by) + [c for c in ("scale", "horizon") if c in optima]
    missing = [c for c in keys + ["lr"] if c not in cand]
    if missing:
        raise ScalefitInputError(f"candidates: missing column(s) {', '.join(missing)} (they "
                                 f"need {', '.join(keys + ['lr'])})")
    index = {_key(optima.loc[g, keys]): g for g in range(len(optima))}
    gs = np.array([index.get(_key(r), -1) for _, r in cand[keys].iterrows()], np.int64)
    lr = cand["lr"].to_numpy(float)
    ok = (gs >= 0) & np.isfinite(lr) & (lr > 0)
    g, x = gs[ok], np.log(lr[ok])
    below = x < ds.x_cap[g] - 1e-9
    g, x = g[below], x[below]
    allowed = {int(k): np.unique(x[g == k]) for k in np.unique(g)}
    exact = {int(k): np.unique(lr[ok][below][g == k]) for k in np.unique(g)}
    return g, x, allowed, int((gs < 0).sum()), exact


def _key(row) -> tuple:
    return tuple(f"{float(v):.12g}" if isinstance(v, (int, float, np.number)) else str(v)
                 for v in row)
