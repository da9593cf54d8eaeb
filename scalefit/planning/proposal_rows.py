"""The rows of ``Proposals``: each pick of the planner as a run with a one-line reason, each
target with its interval now and its predicted s.d. before and after the runs."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..core import decisions as dec
from ..core.pyvalue import py_scalar
from ..options import PlanOptions
from ..render.format import fmt, group_text, name_list
from ..results.proposals import KIND, Proposals
from .plan import plan

COST_TEXT = {"flops": "scale x horizon (6ND FLOPs up to the factor 6), relative to the "
                      "cheapest sweep", "runs": "1 (every run costs the same)"}


def propose_runs(fit, opts: PlanOptions, candidates=None) -> Proposals:
    """``FitResult.next_runs`` (see its docstring) with its options as a checked
    ``PlanOptions``: the joint surfaces' planner for a fit made with ``joint=``."""
    if fit.input.get("joint"):
        from .joint_plan import propose_joint

        return propose_joint(fit, opts, candidates)
    return propose(fit, opts, candidates)


def propose(fit, opts: PlanOptions, candidates=None) -> Proposals:
    """The runs of a fit's LR sweeps (``planning.plan``) as a ``Proposals`` result."""
    k, per_group = opts.budget, opts.per_group
    p = plan(fit, opts, candidates)
    ds, info, optima = p["ds"], p["info"], p["optima"]
    by = list(fit.by)
    relative = False
    rows = []
    for pk in p["picks"]:
        if pk.sweep >= 0:
            g = pk.sweep
            row = {b: py_scalar(optima.at[g, b]) for b in by}
            for v in ("scale", "horizon"):
                if v in optima:
                    row[v] = float(optima.at[g, v])
            status = str(optima.at[g, "status"])
            known = bool(info["noise_known"][g])
            relative |= not known and pk.code == "variance"
            reason = (_precision(pk, ds, g, p["law_mode"], known,
                                 p["targets"][pk.target].weight) if pk.code == "variance"
                      else _rule(pk.code, ds, info, g, pk.x))
            c = float(p["costs"][g])
        else:
            m = p["new_meta"][pk.new]
            row = {b: py_scalar(m["group"].get(b)) for b in by}
            for v in ("scale", "horizon"):
                if v in optima:
                    row[v] = m[v]
            status = "new"
            sd_b = math.sqrt(pk.target_after + pk.gain / max(p["targets"][pk.target].weight,
                                                              1e-300))
            reason = (f"new sweep ({m['n']} LRs around the law's "
                      f"{fmt(m['lr_pred'])}): cuts the target's s.d. of ln lr_opt "
                      f"{sd_b:.3g} -> {math.sqrt(pk.target_after):.3g}")
            c = p["new_costs"][pk.new]
        sd_after = math.sqrt(pk.target_after) if np.isfinite(pk.target_after) else None
        rows.append({**row, "lr": _lr_value(fit, pk, p["exact_lr"]),
                     "kind": KIND.get(pk.code, "rule"),
                     "rule": pk.code, "status": status, "reason": reason,
                     "gain": float(pk.gain) if np.isfinite(pk.gain) else None,
                     "sd_after": sd_after, "cost": c})
    targets = _targets(fit, p)
    notes = list(p["notes"]) + _notes(fit, p, rows, k, per_group, relative)
    cols = [*by, *[v for v in ("scale", "horizon") if v in optima], "lr", "kind", "rule",
            "status", "reason", "gain", "sd_after", "cost"]
    import pandas as pd

    runs = pd.DataFrame(rows, columns=cols)
    settings = {"budget": int(k), "per_group": bool(per_group),
                "target": "law" if p["law_mode"] else "sweeps",
                "target_scale": opts.target_scale, "target_horizon": opts.target_horizon,
                "group": opts.group_dict or {}, "cost": opts.cost,
                "cost_text": COST_TEXT[opts.cost], "objective": opts.objective,
                "candidates": "ladder" if candidates is None else "given", "past": opts.past,
                "new_sweeps": bool(opts.new_sweeps), "new_sweep_lrs": opts.new_sweep_lrs,
                "relative": relative}
    return Proposals(runs, targets, settings, notes, level=fit.level, by=by)


def _lr_value(fit, pk, exact: dict) -> float:
    """The LR of a pick: exactly the value of the candidate or of the sweep's run it stands
    for (a replicate must land on the same level), else rounded to 6 significant digits."""
    lr = float(np.exp(pk.x))
    if pk.sweep >= 0:
        known = np.concatenate([np.asarray(exact.get(pk.sweep, ()), float),
                                np.unique(np.asarray(fit.runs[pk.sweep]["lr"], float))])
        hit = known[np.isclose(known, lr, rtol=1e-9, atol=0)]
        if hit.size:
            return float(hit[0])
    return float(f"{lr:.6g}")


def _precision(pk, ds, g, law_mode, known, weight) -> str:
    before, after = math.sqrt(pk.var_before), math.sqrt(pk.var_after)
    lv = ds.x[g][np.isfinite(ds.x[g])]
    rep = " (a replicate of a tried LR)" if np.any(np.isclose(lv, pk.x, atol=1e-9)) else ""
    if law_mode:
        t_before = math.sqrt(pk.target_after + pk.gain / max(weight, 1e-300))
        t_after = math.sqrt(pk.target_after)
        if not known:
            return (f"carries {pk.share:.0%} of the target's variance; cuts the target's s.d. "
                    f"by {1 - t_after / t_before:.0%} (its noise is not measured){rep}")
        return (f"carries {pk.share:.0%} of the target's variance; cuts the target's s.d. of "
                f"ln lr_opt {t_before:.3g} -> {t_after:.3g}{rep}")
    if not known:
        return (f"cuts the s.d. of this sweep's ln lr_opt by {1 - after / before:.0%} (its "
                f"noise is not measured){rep}")
    return f"cuts the s.d. of this sweep's ln lr_opt {before:.3g} -> {after:.3g}{rep}"


def _rule(code, ds, info, g, x) -> str:
    lv = ds.x[g][np.isfinite(ds.x[g])]
    e = lambda v: fmt(float(np.exp(v)))  # noqa: E731
    cap = ds.x_cap[g]
    below_cap = f" (below {e(cap)}, where a run diverged)" if np.isfinite(cap) else ""
    if code == "edge_low":
        return (f"best LR {e(ds.x_best[g])} is the lowest tried: the optimum is not "
                "bracketed; an LR below it")
    if code == "edge_high":
        return (f"best LR {e(ds.x_best[g])} is the highest tried: the optimum is not "
                f"bracketed; an LR above it{below_cap}")
    if code in ("edge_low_inside", "edge_high_inside"):
        side = "lowest" if code == "edge_low_inside" else "highest"
        return (f"best LR {e(ds.x_best[g])} is the {side} tried and no LR past it is allowed: "
                "the allowed LR nearest it")
    if code == "too_few":
        return f"only {lv.size} LR(s) with a finite loss: a parabola needs 3"
    if code == "bracket":
        lo, hi = ds.bracket[:, g]
        return (f"optimum bracketed by {e(lo)} and the diverged {e(hi)}: an LR inside the "
                "bracket")
    if code == "bad_fit":
        lo, hi = ds.x_window[:, g]
        return (f"the parabola does not describe its window [{e(lo)}, {e(hi)}]: an LR next to "
                f"the best {e(ds.x_best[g])}")
    if code == "off_grid":
        return (f"the parabola's vertex {e(info['x_vertex'][g])} lies outside the LRs it was "
                "fitted on: an LR towards it")
    if code == "not_convex":
        return (f"the loss is not convex around the best LR {e(ds.x_best[g])}: an LR beyond "
                "the window")
    if code == "flat":
        return (f"the valley around the best LR {e(ds.x_best[g])} is no deeper than the noise "
                f"can resolve: an LR past the ends of the grid{below_cap}, or a replicate")
    if code == "all_diverged":
        return f"every run diverged: an LR below the lowest tried ({e(info['x_low'][g])})"
    return code


def _targets(fit, p) -> list[dict]:
    out = []
    count: dict[int, int] = {}
    for pk in p["picks"]:
        count[pk.target] = count.get(pk.target, 0) + 1
    optima = p["optima"]
    for ti, m in enumerate(p["meta"]):
        var0, var1 = p["before"][ti], p["after"][ti]
        sd0 = math.sqrt(var0) if np.isfinite(var0) else None
        sd1 = math.sqrt(var1) if np.isfinite(var1) else None
        if m["kind"] == "law":
            vals = m["values"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pr = dec.predict(m["law"], vals.get("scale"), vals.get("horizon"), fit.level,
                                 fit.settings.get("seed", 0))
            k = m["k_target"]
            out.append({"target": "law", "group": dict(m["group"]),
                        "scale": vals.get("scale"), "horizon": vals.get("horizon"),
                        "lr": pr["lr"], "lr_ci": pr["lr_ci"], "sd_now": sd0, "sd_after": sd1,
                        "loss_cost_now": _mul(k, var0), "loss_cost_after": _mul(k, var1),
                        "runs": count.get(ti, 0), "law": m["law"].form,
                        "extrapolation": list(pr["extrapolation"])})
            continue
        g = m["sweep"]
        lo, hi = optima.at[g, "lr_opt_lo"], optima.at[g, "lr_opt_hi"]
        ci = (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None
        k = float(optima.at[g, "curvature"])
        out.append({"target": "sweep", "group": {b: py_scalar(optima.at[g, b]) for b in fit.by},
                    "scale": float(optima.at[g, "scale"]) if "scale" in optima else None,
                    "horizon": float(optima.at[g, "horizon"]) if "horizon" in optima else None,
                    "lr": float(optima.at[g, "lr_opt"]), "lr_ci": ci, "sd_now": sd0,
                    "sd_after": sd1, "loss_cost_now": _mul(k, var0),
                    "loss_cost_after": _mul(k, var1), "runs": count.get(ti, 0)})
    return out


def _notes(fit, p, rows, k, per_group, relative) -> list[str]:
    notes = []
    info, optima = p["info"], p["optima"]
    for key, (sd, _) in info["pooled"].items():
        if not (np.isfinite(sd) and sd > 0):
            label = _group_of(fit, optima, info["key"] == key)
            notes.append(f"{label}no sweep has residual degrees of freedom (every window fit "
                         "has exactly 3 runs), so its run noise is unknown: its precision runs "
                         "are ranked with a stand-in noise and their s.d.s are relative (*)")
    blocked = [g for g, (code, xs) in p["rules"].items() if code and not xs]
    if blocked:
        notes.append(f"{len(blocked)} sweep(s) not ok have no LR their rule could use (every "
                     "candidate is at or above an LR where their runs diverged, or none is "
                     "allowed)")
    n_rule = sum(r["kind"] == "rule" for r in rows)
    if n_rule:
        notes.append(f"{n_rule} run(s) come from the status rules of sweeps that are not ok "
                     "(docs/math.md section 1): until such a sweep is ok it has no optimum to "
                     "sharpen")
    want = k if not per_group else k * len(p["selected"])
    if len(rows) < want:
        notes.append(f"{len(rows)} run(s) proposed of a budget of {want}: no other candidate "
                     "is expected to reduce the target's variance")
    same: dict[str, list[str]] = {}  # one note per extrapolation, naming its groups
    laws = [t for t in p["meta"] if t["kind"] == "law"]
    for t in laws:
        for e in dec.extrapolation(t["law"], t["values"]):
            same.setdefault(e, []).append(group_text(t["group"]))
    for e, who in same.items():
        named = [w for w in who if w]
        tag = ("" if not named else f"[{named[0]}] " if len(named) == 1 else
               "[every group] " if len(named) == len(laws) > 1 else
               f"[{len(named)} groups: {name_list(named, limit=4)}] ")
        notes.append(f"{tag}the target extrapolates: {e}")
    return notes


def _group_of(fit, optima, mask) -> str:
    if not fit.by:
        return ""
    first = int(np.flatnonzero(mask)[0])
    return "[" + group_text({b: optima.at[first, b] for b in fit.by}) + "] "


def _mul(k, var):
    return float(k * var) if k is not None and np.isfinite(k) and np.isfinite(var) else None
