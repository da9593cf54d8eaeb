"""The text of a ``Proposals`` (``scalefit next``): the runs, the targets, the notes."""

from __future__ import annotations

import math

from .format import fmt, fmt_ci, fmt_level, group_label
from .tables import Document, Table, Text


def proposals_document(props) -> Document:
    """A ``Proposals`` as ``scalefit next`` prints it: the runs with their reasons, the
    targets with their s.d. now and after the runs, the notes."""
    s = props.settings
    runs = props.runs
    k = len(runs)
    head = (f"Next runs: {k} of a budget of {s['budget']}"
            + (" per group" if s.get("per_group") else "")
            + f" ({_what(s)}; cost of a run: {s['cost_text']})")
    rows = []
    by = list(props.by)
    for _, r in runs.iterrows():
        rows.append([*(fmt_level(r[b]) for b in by),
                     fmt(r.get("scale")), fmt(r.get("horizon")),
                     fmt(r["lr"]), fmt(r.get("cost")), r["kind"], r["reason"]])
    header = [*by, "scale", "horizon", "lr", "cost", "kind", "why"]
    blocks = [Text([head])]
    if rows:
        blocks.append(Table(header, rows))
    else:
        blocks.append(Text(["  no run to propose (see the notes)"]))
    trows = []
    lvl = f"{props.level * 100:g}%"
    shown = [t for t in props.targets if t["target"] == "law" or t.get("runs")]
    for t in shown:
        trows.append([target_label(t), fmt(t.get("lr")), fmt_ci(t.get("lr_ci")) or "-",
                      _sd(t.get("sd_now"), s), _sd(t.get("sd_after"), s),
                      fmt(t.get("loss_cost_now")), fmt(t.get("loss_cost_after")),
                      str(t.get("runs", 0))])
    if trows:
        title = ("Target: ln lr_opt predicted by the law" if s.get("target") == "law"
                 else "Targets: the optima of the sweeps that get runs")
        if s.get("joint"):
            title = ("Target: the joint optimum predicted by the joint laws"
                     if s.get("target") == "law"
                     else "Targets: the joint optima of the surfaces that get runs")
        # a law's target is its group: name the group's columns (a bare "2" says nothing)
        first = ("/".join(props.by) if props.by and s.get("target") == "law"
                 and all(t["target"] == "law" for t in shown) else "target")
        blocks.append(Table([first, "lr_opt", f"{lvl} CI now", "s.d. now",
                             "s.d. after", "loss cost now", "after", "runs"], trows,
                            title=title,
                            notes=[f"  (s.d. of {_sd_of(s)} predicted by the delta method "
                                   "from the current fit"
                                   + (", with the optima's scatter around the law"
                                      if s.get("target") == "law" and not s.get("joint")
                                      else "")
                                   + "; loss cost = "
                                   + ("tr(K C), K the valley's curvature matrix, C the "
                                      "optimum's covariance" if s.get("joint")
                                      else "curvature x variance")
                                   + ": what the estimate's uncertainty costs on average"
                                   + ("; -: not predictable, the surface or sweep would "
                                      "not be ok after the runs at their predicted losses"
                                      if any(t.get("sd_after") is None for t in shown)
                                      else "") + ")"]))
    if props.notes:
        blocks.append(Text(["Notes:", *(f"  - {n}" for n in props.notes)]))
    return Document(blocks)


def _what(s: dict) -> str:
    col = s.get("joint")
    if s.get("target") == "law":
        at = ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", s.get("target_scale")),
                                                       ("horizon", s.get("target_horizon")))
                       if v is not None)
        what = f"the optimal LR and {col}" if col else "the optimal LR"
        return f"target: {what} predicted at {at}"
    if col:
        return f"target: the joint optimum (lr*, {col}*) of every LR x {col} surface"
    return "target: the optimal LR of every sweep"


def _sd_of(s: dict) -> str:
    col = s.get("joint")
    return f"(ln lr*, ln {col}*): sqrt(Var + Var)" if col else "ln lr_opt"


def _sd(v, s) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return fmt(v) + ("*" if s.get("relative") else "")


def target_label(t: dict) -> str:
    """A target's name: its group (a law's target), or its sweep's group, scale and horizon."""
    g = group_label(t.get("group"), empty="")
    if t["target"] == "law":
        return g or "all"
    where = f"scale {fmt(t.get('scale'))}" if t.get("scale") is not None else ""
    if t.get("horizon") is not None:
        where += (", " if where else "") + f"horizon {fmt(t.get('horizon'))}"
    return ", ".join(x for x in (g, where) if x) or "sweep"
