"""``FitResult.next_runs`` for a ``--joint`` fit: from the fit's LR sweeps to the joint
surfaces' planner (``core.surface_design``) and back to ``Proposals`` rows.

Each (by group, scale, horizon) is one surface: the runs of its LR sweeps at every value
of the joint column (after the fit's blow-up rule: a diverged run has no loss). A proposed
run names its batch size (the joint column) beside its LR. docs/math.md section 11.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np
import pandas as pd

from ..core.design import grid_step
from ..core.joint import OK, STATUS_NAMES, fit_surfaces
from ..core.planner import leverage
from ..core.pyvalue import py_scalar
from ..core.scatter import excess_tau2
from ..core.surface_design import SurfacePlanner, SurfaceView
from ..core.surface_error import cells_of, curvature_matrices, error_of, pooled_sigma
from ..errors import ScalefitInputError
from ..laws import law_variables
from ..options import PlanOptions
from ..results.proposals import KIND, Proposals
from ..selection import select
from .joint_new import (
    NEW_SIDES,
    choose_new,
    exact_value,
    flops,
    group_of,
    new_rows,
    new_surface_options,
    predict_at,
)

RULE_TEXT = {
    "too_few": "a quadratic surface needs 3 LRs, 3 batch sizes and 6 cells around the best: "
               "a cell next to the best one",
    "edge_lr_low": "the best LR is the lowest tried at its batch size: an LR below it",
    "edge_lr_high": "the best LR is the highest tried at its batch size: an LR above it",
    "edge_bs_low": "the best batch size is the smallest tried at its LR: a smaller one",
    "edge_bs_high": "the best batch size is the largest tried at its LR: a larger one",
    "not_convex": "the surface is not convex around the best cell: a cell next to it",
    "saddle": "the surface is a saddle around the best cell: a cell next to it",
    "bad_fit": "the surface does not describe its window: a cell next to the best one",
    "off_grid": "the surface's vertex lies outside its window: a cell towards it",
    "off_grid_fill": "the surface's vertex lies outside its window, which has untried cells: "
                     "the one nearest the vertex",
    "all_diverged": "every run diverged: a lower LR",
    "resolution": "the window skips grid levels next to the best cell and its width moves "
                  "the vertex: a missing level",
}


def propose_joint(fit, opts: PlanOptions, candidates=None) -> Proposals:
    """``FitResult.next_runs`` for a fit made with ``joint=`` (module docstring); every
    option but ``new_sweep_lrs`` applies (a new surface is a block of cells)."""
    col = fit.input["joint"]
    k, objective, per_group = opts.budget, opts.objective, opts.per_group
    target_scale, target_horizon = opts.target_scale, opts.target_horizon
    if fit.runs is None:
        raise ScalefitInputError("proposing runs needs the runs of every sweep: fit a table "
                                 "of runs")
    st = fit.settings
    surface = dict(window=int(st.get("window", 2)),
                   max_misfit=float(st.get("max_misfit", 0.25)),
                   gap_sd=float(st.get("floor_gap", 2.0)))
    sf = _surfaces(fit, col)
    S = len(sf["table"])
    held = _held_surfaces(fit, sf)
    if held is not None:  # the surfaces as the joint fit fitted them
        X, Y, n, s, q, point = held
    else:  # a fit read from JSON: rebuilt from the runs it stores
        X, Y, n, s, q = cells_of(sf["x"], sf["y"], sf["loss"], sf["owner"], S)
        point = fit_surfaces(X, Y, n, s, q, **surface)
    views = _views(sf, point, X, Y)
    key = sf["key"]
    sigma, known = pooled_sigma(point, key)
    chosen = _selected(sf["table"], sf["by"], opts.group_dict)
    cand_s, cand_x, cand_y, notes = (_given(sf, candidates, col) if candidates is not None
                                     else _ladder(sf, views, opts.past))
    cand_s, cand_x, cand_y = _below_caps(sf, cand_s, cand_x, cand_y, views)
    keep = chosen[cand_s]
    cand_s, cand_x, cand_y = cand_s[keep], cand_x[keep], cand_y[keep]
    costs = _costs(sf["table"], opts.cost)
    law_mode = opts.law_mode
    weight, laws, wnotes = _weights(sf, point.status, chosen, target_scale, target_horizon,
                                    law_mode)
    notes += wnotes
    K = curvature_matrices(point)  # each surface's own valley
    for law in laws.values():  # a law's surfaces: the valley at the target
        law["K"] = _k_at_target(fit, sf, law, K, target_scale, target_horizon)
        K[law["members"]] = law["K"]
    planner = SurfacePlanner(sf["x"], sf["y"], sf["loss"], sf["owner"], views, cand_s,
                             cand_x, cand_y, weight, costs, sigma,
                             replicates=candidates is None,
                             metric=K if objective == "loss" else None, **surface)
    cov0 = planner.cov  # the vertex covariances now (the planner replaces, never edits, it)
    for law in laws.values():  # the scatter of the law's optima beyond their errors
        law["tau"] = _law_scatter(sf, point, law, cov0)
        law["tau_err"] = float(error_of(law["tau"][None],
                                        law["K"][None] if objective == "loss" else None)[0])
    codes, uniq = pd.factorize(sf["key"])
    news = []
    if law_mode and opts.new_sweeps and candidates is None and laws:
        news = choose_new(new_surface_options(
            fit, sf, laws, views, planner.v, sigma, opts,
            sides=[n for n in NEW_SIDES if n * n <= k]),
            functools.cache(planner.preview_score), int(k), per_group)
    spent = {int(np.flatnonzero(uniq == o.key)[0]): o.x.size for o in news}
    picks = planner.run(int(k), group=codes if per_group else None,
                        spent=spent if per_group else {0: sum(spent.values())})
    rows = [r for o in news for r in new_rows(sf, col, o, laws, objective)]
    rows += [_row(fit, sf, col, planner, pk, costs, law_mode, known, objective)
             for pk in picks]
    by0 = sf["by"]
    runs = pd.DataFrame(rows, columns=[*by0, col, *sf["roles"], "lr", "kind", "rule",
                                       "status", "reason", "gain", "sd_after", "cost"])
    for o in news:
        laws[o.key]["new"] = o
    targets = _targets(fit, sf, picks, (cov0, planner.cov), K, laws, law_mode,
                       target_scale, target_horizon)
    if not known.all():
        notes.append("some surfaces have no measured run noise (no residual in any ok "
                     "surface of their group): their s.d.s are relative (*) and rank runs "
                     "only")
    if len(rows) < k and not per_group:
        why = ("a surface that is not ok gets at most the cells its status asks for per call "
               "(train them and ask again); " if planner.rules else "")
        notes.append(f"{len(rows)} of {k} runs proposed: {why}no other allowed run is "
                     "expected to reduce the target's variance")
    if law_mode and not news and opts.new_sweeps and candidates is None and laws:
        notes.append("no new surface: a block of 3 x 3 cells needs a budget of at least 9"
                     if k < NEW_SIDES[0] ** 2 else
                     "no new surface (a block of 3 x 3 to 7 x 7 cells at the next scale or "
                     "horizon) is expected to cut the target's error more per unit cost than "
                     "the runs on the surfaces the data have")
    settings = {"budget": int(k), "per_group": bool(per_group),
                "target": "law" if law_mode else "sweeps", "target_scale": target_scale,
                "target_horizon": target_horizon, "group": opts.group_dict or {},
                "cost": opts.cost, "cost_text": _COST_TEXT[opts.cost], "objective": objective,
                "candidates": "ladder" if candidates is None else "given", "past": opts.past,
                "new_sweeps": bool(opts.new_sweeps and candidates is None),
                "new_sweep_lrs": None, "relative": bool(not known.all()),
                "joint": col}
    return Proposals(runs, targets, settings, notes, level=fit.level, by=[*by0, col])


_COST_TEXT = {"flops": "scale x horizon (6ND FLOPs up to the factor 6), relative to the "
                       "cheapest surface", "runs": "1 (every run costs the same)"}


def _law_scatter(sf, point, law, cov) -> np.ndarray:
    """diag(tau2 of ln lr*, tau2 of ln bs*) (2, 2): how far the optima of a joint law's
    surfaces scatter around the law beyond their predicted vertex variances
    (``core.scatter.excess_tau2``, as the LR planner does); 0 where it cannot be measured.
    No run on an existing surface reduces it; a new surface, one more point of the law,
    does."""
    m = law["members"]
    pts = sf["table"].iloc[m]
    Z = np.column_stack([np.ones(len(m))] + [np.log(pts[v].to_numpy(float))
                                             for v in law["vars"]])
    return np.diag([excess_tau2(Z, point.x_opt[m], cov[m, 0, 0]),
                    excess_tau2(Z, point.y_opt[m], cov[m, 1, 1])])


def _held_surfaces(fit, sf) -> tuple | None:
    """(X, Y, n, s, q, point) of the surfaces the joint fit fitted (``SweepSet.surfaces``),
    in the order of ``sf["table"]``; None for a fit without them (read from JSON)."""
    held = getattr(getattr(fit, "sweep_set", None), "surfaces", None)
    if held is None or held["point"].coef is not None:
        return None
    keys = held["keys"]
    row = {tuple(str(v) for v in r): i
           for i, r in enumerate(held["table"][keys].itertuples(index=False))} if keys else {}
    perm = (np.array([row[tuple(str(v) for v in r)]
                      for r in sf["table"][keys].itertuples(index=False)], np.int64)
            if keys else np.zeros(1, np.int64))
    point = held["point"]
    point = dataclasses.replace(point, **{
        f.name: np.take(getattr(point, f.name), perm, axis=-1)
        for f in dataclasses.fields(point) if getattr(point, f.name) is not None})
    return (*(held[k][perm] for k in ("X", "Y", "n", "s", "q")), point)


def _surfaces(fit, col) -> dict:
    """The runs of every surface: finite (x, y, loss, owner) and diverged (x, y, owner),
    the surfaces' table (by columns, scale, horizon) and each surface's key (by group)."""
    opt = fit.optima
    by0 = [b for b in fit.by if b != col]
    roles = [r for r in ("scale", "horizon") if r in opt]
    keys = by0 + roles
    lab = (opt[keys].astype(str).agg("\x1f".join, axis=1) if keys
           else pd.Series("", index=opt.index))
    codes, uniq = pd.factorize(lab)
    first = pd.Series(range(len(opt))).groupby(codes).first().to_numpy()
    table = opt.iloc[first][keys].reset_index(drop=True)
    xs, ys, ls, os_, dx, dy, do = [], [], [], [], [], [], []
    for g, r in enumerate(fit.runs):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        y = math.log(float(opt[col].iloc[g]))
        fin = np.isfinite(loss) & (lr > 0)
        xs.append(np.log(lr[fin]))
        ys.append(np.full(fin.sum(), y))
        ls.append(loss[fin])
        os_.append(np.full(fin.sum(), codes[g]))
        bad = ~fin & (lr > 0)
        dx.append(np.log(lr[bad]))
        dy.append(np.full(bad.sum(), y))
        do.append(np.full(bad.sum(), codes[g]))
    by_lab = (table[by0].astype(str).agg("\x1f".join, axis=1).to_numpy() if by0
              else np.full(len(table), ""))
    cat = lambda a, t=float: np.concatenate(a).astype(t) if a else np.zeros(0, t)  # noqa: E731
    return {"x": cat(xs), "y": cat(ys), "loss": cat(ls), "owner": cat(os_, np.int64),
            "dx": cat(dx), "dy": cat(dy), "downer": cat(do, np.int64), "table": table,
            "by": by0, "roles": roles, "key": by_lab,
            "bs_values": np.unique(opt[col].to_numpy(float)),
            "lr_values": np.unique(np.concatenate([np.asarray(r["lr"], float)
                                                   for r in fit.runs]))}


def _views(sf, point, X, Y) -> list[SurfaceView]:
    S = len(sf["table"])
    hx, hy = grid_step(X), grid_step(Y)  # each surface's steps in ln lr and ln bs
    views = []
    for s in range(S):
        m, dm = sf["owner"] == s, sf["downer"] == s
        box = (np.nan,) * 4
        if point.x_window is not None:
            box = (float(point.x_window[0, s]), float(point.x_window[1, s]),
                   float(point.y_window[0, s]), float(point.y_window[1, s]))
        views.append(SurfaceView(
            xs=sf["x"][m], ys=sf["y"][m], x_best=float(point.x_best[s]),
            y_best=float(point.y_best[s]), box=box,
            vertex=(float(point.x_opt[s]), float(point.y_opt[s])),
            hx=float(hx[s]), hy=float(hy[s]),
            x_div=sf["dx"][dm], y_div=sf["dy"][dm]))
    return views


def _ladder(sf, views, past):
    """Every surface's allowed cells: its LR and batch-size levels, ``past`` steps beyond
    each end, crossed (tried cells included: a replicate is a candidate)."""
    out_s, out_x, out_y = [], [], []
    for s, v in enumerate(views):
        xs = np.concatenate([v.xs, v.x_div]) if v.xs.size else v.x_div
        ys = np.concatenate([v.ys, v.y_div]) if v.ys.size else v.y_div
        if xs.size == 0:
            continue
        lx, ly = np.unique(np.round(xs, 9)), np.unique(np.round(ys, 9))
        ext = np.arange(1, past + 1)
        lx = np.concatenate([lx[0] - ext * v.hx, lx, lx[-1] + ext * v.hx])
        ly = np.concatenate([ly[0] - ext * v.hy, ly, ly[-1] + ext * v.hy])
        gx, gy = np.meshgrid(lx, ly, indexing="ij")
        out_s.append(np.full(gx.size, s))
        out_x.append(gx.ravel())
        out_y.append(gy.ravel())
    if not out_s:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), []
    return (np.concatenate(out_s).astype(np.int64), np.concatenate(out_x),
            np.concatenate(out_y), [])


def _given(sf, cand: pd.DataFrame, col):
    """The allowed runs a caller gives (by columns, scale, horizon, lr and the joint
    column), matched to surfaces; a row of no surface is left out (a note counts them)."""
    if col not in cand.columns:
        raise ScalefitInputError(f"the candidates need the --joint column {col!r}")
    keys = sf["by"] + sf["roles"]
    table = sf["table"]
    lab_t = (table[keys].astype(str).agg("\x1f".join, axis=1) if keys
             else pd.Series("", index=table.index))
    index = {v: i for i, v in enumerate(lab_t)}
    c = cand.copy()
    for r in sf["roles"]:  # the same text as the fit's numbers
        c[r] = c[r].astype(float)
        table_vals = table[r].astype(float).to_numpy()
        c[r] = [table[r].iloc[int(np.argmin(np.abs(table_vals - v)))]
                if np.any(np.isclose(table_vals, v, rtol=1e-9)) else v for v in c[r]]
    lab_c = (c[keys].astype(str).agg("\x1f".join, axis=1) if keys
             else pd.Series("", index=c.index))
    s = np.array([index.get(v, -1) for v in lab_c], np.int64)
    ok = s >= 0
    notes = []
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} candidate run(s) match no surface of the fit and "
                     "were left out")
    return (s[ok], np.log(c["lr"].to_numpy(float)[ok]),
            np.log(pd.to_numeric(c[col]).to_numpy(float)[ok]), notes)


def _below_caps(sf, cs, cx, cy, views):
    """Drop candidates at or above the lowest LR that diverged above the best LR of the
    nearest batch size tried (never propose an LR beyond where the data's runs diverged)."""
    keep = np.ones(cs.size, bool)
    for s, v in enumerate(views):
        m = np.flatnonzero(cs == s)
        if m.size == 0 or v.x_div.size == 0:
            continue
        rows = np.unique(np.round(np.concatenate([v.ys, v.y_div]), 9))
        caps = np.full(rows.size, np.inf)
        for i, r in enumerate(rows):
            fin = v.xs[np.abs(v.ys - r) < 1e-6]
            best = fin.max() if fin.size else -np.inf  # conservative: above every finite LR
            if fin.size:
                ls = sf["loss"][(sf["owner"] == s)][np.abs(v.ys - r) < 1e-6]
                best = fin[np.argmin(ls)]
            div = v.x_div[(np.abs(v.y_div - r) < 1e-6) & (v.x_div > best)]
            if div.size:
                caps[i] = div.min()
        near = np.argmin(np.abs(cy[m][:, None] - rows[None, :]), axis=1)
        keep[m] = cx[m] < caps[near] - 1e-9
    return cs[keep], cx[keep], cy[keep]


def _selected(table, by, group) -> np.ndarray:
    """(S,) bool: the surfaces whose by group ``group`` selects (``scalefit.selection``)."""
    rows = [dict(zip(by, r)) for r in table[list(by)].itertuples(index=False)] if by else \
        [{} for _ in range(len(table))]
    chosen = select(rows, group, by, none="no surface of the fit belongs to it",
                    have="its groups")
    return np.array([any(r is c for c in chosen) for r in rows], bool)


def _costs(table, how) -> np.ndarray:
    if how == "runs":
        return np.ones(len(table))
    c = flops(table)
    return c / c.min()


def _weights(sf, status, chosen, target_scale, target_horizon, law_mode):
    """Weight of each surface's error in the objective: 1 per chosen ok surface (its own
    optimum), or with a target the squared leverage of the law of the group's ok surfaces
    at the target (``h_s^2``: the law's prediction is ``h' y``)."""
    S = len(status)
    ok = (status == OK) & chosen
    if not law_mode:
        return ok.astype(float), {}, []
    w, laws, notes = np.zeros(S), {}, []
    table = sf["table"]
    for key in dict.fromkeys(sf["key"][chosen]):
        m = ok & (sf["key"] == key)
        pts = table[m]
        vars_ = law_variables(pts) if len(pts) else None
        if not vars_:
            notes.append("a group has too few ok surfaces for its law: each surface is its "
                         "own target")
            w[m] = 1.0
            continue
        want = {"scale": target_scale, "horizon": target_horizon}
        if any(want[v] is None for v in vars_):
            missing = [v for v in vars_ if want[v] is None]
            raise ScalefitInputError(f"the joint law uses {', '.join(vars_)}: give "
                                     f"--target-{missing[0]}")
        Z = np.column_stack([np.ones(len(pts))] + [np.log(pts[v].to_numpy(float))
                                                   for v in vars_])
        z0 = np.array([1.0] + [math.log(float(want[v])) for v in vars_])
        h = leverage(Z, z0)
        if not np.all(np.isfinite(h)):
            notes.append("a group's law is not determined by its ok surfaces: each surface "
                         "is its own target")
            w[m] = 1.0
            continue
        w[np.flatnonzero(m)] = h * h
        laws[key] = {"members": np.flatnonzero(m), "h": h, "vars": vars_}
    return w, laws, notes


def _row(fit, sf, col, planner, pk, costs, law_mode, known, objective="variance") -> dict:
    s = pk.surface
    t = sf["table"].iloc[s]
    row = {c: py_scalar(t[c]) for c in sf["by"] + sf["roles"]}
    bs = sf["bs_values"]
    row[col] = exact_value(bs, math.exp(pk.y), bool(np.all(bs == np.round(bs))))
    row["lr"] = exact_value(sf["lr_values"], math.exp(pk.x))
    status = STATUS_NAMES[int(planner.status[s])]
    if pk.code == "variance":
        star = "" if known[s] else " (relative: its noise is not measured)"
        what = "the target's" if law_mode else "this surface's"
        # the planner's error: a variance ((ln)^2, shown as an s.d.) or a loss cost
        f = math.sqrt if objective == "variance" else float
        before = f(pk.var_before) if np.isfinite(pk.var_before) else float("nan")
        after = f(pk.var_after) if np.isfinite(pk.var_after) else float("nan")
        quantity = ("the s.d. of" if objective == "variance"
                    else "the expected loss cost of")
        reason = (f"cuts {quantity} {what} joint optimum (ln lr*, ln bs*) "
                  + (f"{f(pk.objective_after + pk.gain):.3g} -> "
                     f"{f(pk.objective_after):.3g}" if law_mode
                     else f"{before:.3g} -> {after:.3g}") + star)
    elif pk.code == "window":
        reason = ("completes the cells around this surface's vertex (2 grid steps each way): "
                  "no single run is expected to help before they are all run")
    else:
        base = pk.code.removesuffix("_near")
        reason = RULE_TEXT.get(base, base)
        if pk.code.endswith("_near"):
            reason += " (none allowed there: the allowed cell nearest the best)"
    sd = pk.sds_after[1] if law_mode else pk.sds_after[0]
    sd = float(sd) if np.isfinite(sd) else None
    kind = "precision" if pk.code == "window" else KIND.get(pk.code, "rule")
    return {**row, "kind": kind, "rule": pk.code, "status": status,
            "reason": reason, "gain": float(pk.gain) if np.isfinite(pk.gain) else None,
            "sd_after": sd, "cost": float(costs[s])}


def _joint_row(fit, t: pd.Series, roles):
    j = fit.joint.optima if fit.joint is not None else None
    if j is None:
        return None
    m = np.ones(len(j), bool)
    for c in t.index:
        if c in j:
            m &= j[c].astype(str).to_numpy() == str(t[c])
    return j[m].iloc[0] if m.any() else None


def _k_at_target(fit, sf, law, K, target_scale, target_horizon) -> np.ndarray:
    """The valley's curvature matrix (2, 2) at the target: what the joint laws predict there
    (``joint_new.predict_at``); else the median of the law's surfaces' own."""
    pred = predict_at(fit, group_of(sf, law["members"][0]),
                      {"scale": target_scale, "horizon": target_horizon})
    return pred[2] if pred is not None else np.nanmedian(K[law["members"]], axis=0)


def _cost(K, cov) -> float | None:
    """E d^T K d = tr(K C): the expected loss cost of a vertex error of covariance C."""
    with np.errstate(invalid="ignore", over="ignore"):
        v = float(np.trace(K @ cov))
    return v if np.isfinite(v) and v >= 0 else None


def _targets(fit, sf, picks, covs, K, laws, law_mode, target_scale, target_horizon):
    out = []
    cov0, cov1 = covs

    def sd(c):
        v = float(np.trace(c))
        return math.sqrt(v) if np.isfinite(v) and v >= 0 else None

    if law_mode:
        for law in laws.values():
            m, h = law["members"], law["h"]
            grp = group_of(sf, m[0])
            lr = ci = None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = fit.joint.predict(scale=target_scale, horizon=target_horizon,
                                             group=grp or None)
                r0 = pred.rows[0]
                lr, ci = r0.get("lr"), r0.get("lr_ci")
                ci = tuple(ci) if ci is not None else None
            except (ValueError, ScalefitInputError, KeyError, IndexError):
                pass
            n_runs = sum(1 for p in picks if p.surface in set(m.tolist()))
            # the law's prediction (ln lr*, ln bs*) = sum_s h_s y_s: covariance
            # sum h_s^2 (C_s + T), T the scatter of the optima around the law
            tau = law.get("tau", np.zeros((2, 2)))
            c0 = np.einsum("s,sij->ij", h * h, cov0[m]) + np.sum(h * h) * tau
            c1 = np.einsum("s,sij->ij", h * h, cov1[m]) + np.sum(h * h) * tau
            if "new" in law:  # the law with the new surface: its leverages change
                o = law["new"]
                c1 = (np.einsum("s,sij->ij", o.h[:-1] ** 2, cov1[m]) + o.h[-1] ** 2 * o.cov
                      + np.sum(o.h ** 2) * tau)
                n_runs += o.x.size
            out.append({"target": "law", "group": grp, "scale": target_scale,
                        "horizon": target_horizon, "lr": lr, "lr_ci": ci,
                        "sd_now": sd(c0), "sd_after": sd(c1),
                        "loss_cost_now": _cost(law["K"], c0),
                        "loss_cost_after": _cost(law["K"], c1), "runs": n_runs})
        return out
    for s in sorted({p.surface for p in picks}):
        t = sf["table"].iloc[s]
        jr = _joint_row(fit, t, sf["roles"])
        ok = jr is not None and jr["status"] == "ok"
        lr = float(jr["lr_opt"]) if ok else None
        ci = ((float(jr["lr_opt_lo"]), float(jr["lr_opt_hi"]))
              if ok and np.isfinite(jr["lr_opt_lo"]) else None)
        out.append({"target": "sweep", "group": group_of(sf, s),
                    "scale": py_scalar(t["scale"]) if "scale" in t else None,
                    "horizon": py_scalar(t["horizon"]) if "horizon" in t else None,
                    "lr": lr, "lr_ci": ci, "sd_now": sd(cov0[s]), "sd_after": sd(cov1[s]),
                    "loss_cost_now": _cost(K[s], cov0[s]),
                    "loss_cost_after": _cost(K[s], cov1[s]),
                    "runs": sum(1 for p in picks if p.surface == s)})
    return out
