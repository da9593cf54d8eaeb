"""New LR x batch-size surfaces for a joint law's target (``next --joint`` with a target).

A law extrapolated to a larger scale or a longer horizon leans hardest on its extreme
points; one more surface beyond them can cut the prediction's error more per unit cost than
any run on the surfaces the data have. Each option is the next point of each variable's
ladder above its largest value (and the values the caller names), crossed with the other
variable's values, as for LR sweeps (docs/math.md section 11). Its design is an
``n_side`` x ``n_side`` block of cells (each side in ``sides`` an option of its own) at the
law's grid steps around the (lr*, bs*) the
joint laws predict there; its expected error is the delta method's for that block on the
valley the joint curvature laws predict there (``surface_error.block_cov``), and its gain
is the fall of the target's error ``sum_s h_s^2 v_s`` when the point joins the law (the
leverages ``h`` recomputed with it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..core import decisions as dec
from ..core.planner import leverage
from ..core.pyvalue import py_scalar
from ..core.surface_error import block_cov, error_of
from ..errors import ScalefitInputError
from ..results.proposals import KIND


@dataclass
class NewSurface:
    """One option: a surface at (scale, horizon) of its law ``key``: cells (x, y) (ln lr,
    ln bs), the predicted optimum (x_pred, y_pred), the target's error before and after
    (``before``, ``after``: sum h^2 v), the cost of all its runs, the leverages ``h`` of the
    law's surfaces and then the new one, the new one's expected vertex covariance ``cov``."""

    key: str
    scale: float | None
    horizon: float | None
    x: np.ndarray
    y: np.ndarray
    x_pred: float
    y_pred: float
    before: float
    after: float
    cost: float
    h: np.ndarray
    cov: np.ndarray

    @property
    def gain(self) -> float:
        return self.before - self.after

    @property
    def score(self) -> float:
        return self.gain / self.cost


def new_surface_options(fit, sf, laws, views, errors, sigma, opts,
                        sides=(3,)) -> list[NewSurface]:
    """Every new-surface option of every law (module docstring). ``laws``: the joint
    planner's laws (members, h, vars, K); ``errors`` (S,): each surface's current error
    (the planner's ``v``); ``sigma`` (S,): run noise; ``opts``: the call's PlanOptions
    (the target, the cost of a run, the new scales and horizons, the objective)."""
    target = {"scale": opts.target_scale, "horizon": opts.target_horizon}
    loss_objective = opts.objective == "loss"
    out = []
    table = sf["table"]
    for key, law in laws.items():
        m, vars_ = law["members"], law["vars"]
        pts = table.iloc[m]
        grp = group_of(sf, m[0])
        z0 = np.array([1.0] + [math.log(float(target[v])) for v in vars_])
        Z = np.column_stack([np.ones(len(m))] + [np.log(pts[v].to_numpy(float))
                                                 for v in vars_])
        tau = law.get("tau_err", 0.0)  # the optima's scatter around the law (joint_plan)
        before = float(np.sum(law["h"] ** 2 * (errors[m] + tau)))
        hx = float(np.median([views[s].hx for s in m]))
        hy = float(np.median([views[s].hy for s in m]))
        sig = float(np.median(sigma[m]))
        mine = table[sf["key"] == key]
        for scale, horizon in _points(mine, pts, vars_, opts.new_scales, opts.new_horizons):
            at = {"scale": scale, "horizon": horizon}
            pred = predict_at(fit, grp, at)
            if pred is None:
                continue
            x0, y0, K = pred
            z = np.array([1.0] + [math.log(at[v_]) for v_ in vars_])
            h = leverage(np.vstack([Z, z]), z0)
            if not np.all(np.isfinite(h)):
                continue
            c = 1.0  # per run, relative to the cheapest surface's (as the planner's costs)
            if opts.cost == "flops":
                c = (scale or 1.0) * (horizon or 1.0) / flops(table).min()
            for n_side in sides:
                cov = block_cov(hx, hy, K, sig, n_side)
                v = float(error_of(cov[None], law["K"][None] if loss_objective else None)[0])
                if not np.isfinite(v):
                    continue
                after = float(np.sum(h[:-1] ** 2 * (errors[m] + tau)) + h[-1] ** 2 * (v + tau))
                xs, ys = _block(sf, m, x0, y0, hx, hy, n_side)
                out.append(NewSurface(key=key, scale=scale, horizon=horizon, x=xs, y=ys,
                                      x_pred=x0, y_pred=y0, before=before, after=after,
                                      cost=c * xs.size, h=h, cov=cov))
    return out


NEW_SIDES = (3, 5, 7)  # a new surface: an n x n block of cells, n one of these


def choose_new(options, instead, k: int, per_group: bool) -> list:
    """The new surfaces to propose: per law at most one, the best per unit cost, where its
    gain per unit cost beats that of the runs the planner would choose instead
    (``instead(n)``: as many as the block has) and its block fits the budget (``k``, per by
    group with ``per_group``)."""
    chosen, left = [], k
    for o in sorted(options, key=lambda o: -o.score):
        if not o.gain > 0 or any(c.key == o.key for c in chosen):
            continue
        if o.score <= instead(o.x.size):
            continue
        if o.x.size > (k if per_group else left):
            continue
        chosen.append(o)
        left -= 0 if per_group else o.x.size
    return chosen


def new_rows(sf, col, o, laws, objective) -> list[dict]:
    base = group_of(sf, laws[o.key]["members"][0])
    if "scale" in sf["roles"]:
        base["scale"] = o.scale
    if "horizon" in sf["roles"]:
        base["horizon"] = o.horizon
    f = math.sqrt if objective == "variance" else float
    what = "the s.d. of" if objective == "variance" else "the expected loss cost of"
    bs = sf["bs_values"]
    where = ", ".join(f"{r} {v:.3g}" for r, v in (("scale", o.scale), ("horizon", o.horizon))
                      if v is not None)
    side = int(round(math.sqrt(o.x.size)))
    reason = (f"a new surface at {where}: {side} x {side} cells around the joint "
              f"laws' (lr*, bs*) = ({math.exp(o.x_pred):.3g}, {math.exp(o.y_pred):.3g}); "
              f"cuts {what} the target {f(o.before):.3g} -> {f(o.after):.3g}")
    rows = []
    for x, y in zip(o.x, o.y):
        rows.append({**base, col: exact_value(bs, math.exp(y), bool(np.all(bs == np.round(bs)))),
                     "lr": exact_value(sf["lr_values"], math.exp(x)), "kind": KIND["new_sweep"],
                     "rule": "new_sweep", "status": "new", "reason": reason,
                     "gain": float(o.gain), "sd_after": None,
                     "cost": float(o.cost / o.x.size)})
    return rows


def exact_value(values, v: float, integer: bool = False) -> float:
    """``v`` as the table has it (a value within 1e-6), else rounded: to an integer where
    every value of the column is one (a batch size), else to 6 significant digits."""
    hit = values[np.isclose(values, v, rtol=1e-6, atol=0)]
    if hit.size:
        return float(hit[0])
    return float(max(1, round(v))) if integer else float(f"{v:.6g}")


def _points(table, pts, vars_, new_scales, new_horizons):
    """(scale, horizon) of the options: each law variable's next ladder point above its
    largest value, and the values given, crossed with the other variable's values; not the
    surfaces the table has."""
    have = {v: np.unique(table[v].to_numpy(float)) for v in ("scale", "horizon") if v in table}
    prop = {v: set() for v in have}
    for v in vars_:
        vals = np.unique(pts[v].to_numpy(float))
        if vals.size >= 2:
            prop[v].add(float(vals.max() * math.exp(float(np.median(np.diff(np.log(vals)))))))
    for v, given in (("scale", new_scales), ("horizon", new_horizons)):
        if v in prop:
            prop[v] |= {float(x) for x in given or ()}
    out = set()
    if "scale" in have and "horizon" in have:
        for s in prop["scale"]:
            out |= {(s, float(d)) for d in have["horizon"]}
        for d in prop["horizon"]:
            out |= {(float(s), d) for s in have["scale"]}
    elif "scale" in have:
        out |= {(s, None) for s in prop["scale"]}
    elif "horizon" in have:
        out |= {(None, d) for d in prop["horizon"]}
    existing = {(r.get("scale"), r.get("horizon")) for _, r in table.iterrows()}
    return sorted((p for p in out if not any(_same(p, e) for e in existing)),
                  key=lambda p: (p[0] or 0.0, p[1] or 0.0))


def _same(p, e) -> bool:
    return all((a is None and b is None) or (a is not None and b is not None
                                             and math.isclose(a, float(b), rel_tol=1e-9))
               for a, b in zip(p, e))


def predict_at(fit, grp, at):
    """(ln lr*, ln bs*, K (2, 2)) the joint laws of ``grp`` predict at ``at`` ({"scale",
    "horizon"}): the optimum and the valley's curvature matrix from the laws of k_lr,
    lr_bs_slope and k_bs_floor (docs/math.md section 10); None where they cannot."""
    j = fit.joint
    if j is None:
        return None
    vals = {}
    try:
        for t in ("lr_opt", "bs_opt", "k_lr", "lr_bs_slope", "k_bs_floor"):
            law = j.law(t, grp or None)
            if law is None or isinstance(law, list):
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vals[t] = float(np.ravel(law.predict_log(dec.needed(
                    law, at.get("scale"), at.get("horizon")))[0])[0])
        k_xx, slope, k_floor = (math.exp(vals["k_lr"]), vals["lr_bs_slope"],
                                math.exp(vals["k_bs_floor"]))
    except (ScalefitInputError, ValueError, KeyError, OverflowError):
        return None
    k_xy = -slope * k_xx
    K = np.array([[k_xx, k_xy], [k_xy, k_floor + k_xy * k_xy / k_xx]])
    if not (np.all(np.isfinite(K)) and np.isfinite(vals["lr_opt"])
            and np.isfinite(vals["bs_opt"])):
        return None
    return vals["lr_opt"], vals["bs_opt"], K


def _block(sf, members, x0, y0, hx, hy, n_side):
    """The block's cells: LRs on the ladder of the law's surfaces' LRs (an existing LR plus
    whole steps) nearest x0, batch sizes among those the table has where they reach y0,
    else on their ladder; ``n_side`` of each, centred."""
    own = np.isin(sf["owner"], members)
    xs_all, ys_all = sf["x"][own], _levels(np.unique(np.round(sf["y"][own], 9)), 0.25 * hy)
    anchor = float(xs_all[0]) if xs_all.size else x0
    centre_x = anchor + hx * round((x0 - anchor) / hx)
    off = np.arange(n_side) - (n_side - 1) / 2
    lx = centre_x + off * hx
    j = int(np.argmin(np.abs(ys_all - y0))) if ys_all.size else -1
    half = (n_side - 1) // 2
    if j >= half and j + half < ys_all.size and abs(ys_all[j] - y0) <= hy:
        ly = ys_all[j - half:j + half + 1]
    else:
        anchor_y = float(ys_all[0]) if ys_all.size else y0
        ly = anchor_y + hy * round((y0 - anchor_y) / hy) + off * hy
    gx, gy = np.meshgrid(lx, ly, indexing="ij")
    return gx.ravel(), gy.ravel()


def _levels(v: np.ndarray, tol: float) -> np.ndarray:
    """Sorted values ``v`` with those within ``tol`` of their neighbour merged: one level
    each, its middle member (surfaces whose batch sizes differ slightly share levels)."""
    if v.size == 0:
        return v
    cut = np.flatnonzero(np.diff(v) > tol) + 1
    return np.array([g[(g.size - 1) // 2] for g in np.split(v, cut)])


def group_of(sf, s: int) -> dict:
    """The by columns' values (plain Python) of surface ``s``."""
    t = sf["table"].iloc[int(s)]
    return {b: py_scalar(t[b]) for b in sf["by"]}


def flops(table) -> np.ndarray:
    """scale x horizon of each surface (the factor 6 of 6ND left out; 1 for a role the
    table lacks)."""
    c = np.ones(len(table))
    for r in ("scale", "horizon"):
        if r in table:
            c = c * table[r].to_numpy(float)
    return c
