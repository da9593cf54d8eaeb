"""What a joint LR x batch-size fit prints: optima, laws, exponents side by side, decisions.

Nothing is computed here but text, from what a ``JointFit`` (and its predictions and
audits) holds.
"""

from __future__ import annotations

from .format import fmt, fmt_ci, fmt_level, fmt_with_ci, group_label, open_ci
from .tables import Document, Table, Text

MAX_ROWS = 60


def label(group) -> str:
    return group_label(group)


def _open_ci(r, name: str) -> str:
    """An optimum's interval with open ends shown as ``< first tried`` / ``> last tried``."""
    return open_ci(r, name, "lr" if name == "lr_opt" else "bs")


def optima_table(joint, limit: int | None = MAX_ROWS) -> Table:
    opt = joint.optima
    lvl = f"{joint.level * 100:g}%"
    head = [*joint.by] + [c for c in ("scale", "horizon") if c in opt]
    shown = opt if limit is None else opt.head(limit)
    rows = []
    for _, r in shown.iterrows():
        rows.append([str(r[c]) if c in joint.by else fmt(r[c]) for c in head]
                    + [fmt(r["lr_opt"]), _open_ci(r, "lr_opt"), fmt(r["bs_opt"]),
                       _open_ci(r, "bs_opt"), fmt(r["loss_opt"], 4), fmt(r["k_lr"]),
                       fmt(r["k_lr_bs"]), fmt(r["k_bs"]), fmt(r["lr_bs_slope"]),
                       f"{int(r['n_runs'])}/{int(r['n_diverged'])}", r["status"]])
    notes = [f"  ... {len(opt) - len(shown)} more groups (all are in --json)"] \
        if len(opt) > len(shown) else []
    notes.append(f"  (bs in units of the column {joint.column!r}; curvature matrix K: loss = "
                 "loss_opt + k_lr d_lr^2 + 2 k_lr_bs d_lr d_bs + k_bs d_bs^2 in ln units; "
                 "slope = d ln lr* / d ln bs along the valley)")
    return Table(head + ["lr_opt", f"{lvl} CI", "bs_opt", f"{lvl} CI", "loss_opt", "k_lr",
                         "k_lr_bs", "k_bs", "slope", "runs/div", "status"], rows, notes=notes,
                 title=f"Joint optimum per group (quadratic surface in ln lr and ln "
                       f"{joint.column}; {lvl} CI)")


def exponents_table(joint) -> Table | None:
    rows = []
    for e in joint.exponents:
        rows.append([group_label(e["group"]), e["variable"],
                     fmt_with_ci(e["fixed_bs"], e.get("fixed_bs_ci")),
                     fmt_with_ci(e["c"], e.get("c_ci")),
                     fmt_with_ci(e["bs_law"], e.get("bs_law_ci")),
                     fmt_with_ci(e["along"], e.get("along_ci")),
                     fmt_with_ci(e["joint"], e.get("joint_ci"))])
    if not rows:
        return None
    lvl = f"{joint.level * 100:g}%"
    return Table(["group", "exponent of", "at a fixed bs", "c (bs)", "of bs*",
                  "along bs* = fixed + c * of bs*", "joint optima's lr law"], rows,
                 title=f"Exponents of lr*: at a fixed batch size vs along the optimal batch "
                       f"size ({lvl} CI, per resample)",
                 notes=["  (at a fixed bs: lr_opt = C * scale^a * horizon^b * bs^c fitted to "
                        "the 1-D optima of every batch size; along bs*: the same law with bs "
                        "re-optimized, bs* ~ scale^a_bs horizon^b_bs; the last column fits the "
                        "joint optima's lr* directly)"])


def per_bs_table(per_bs_laws, column: str) -> Table | None:
    """The per-batch-size laws (``--by bs``) for comparison: one row per batch size."""
    rows = []
    for law in per_bs_laws:
        rows.append([fmt_level(law.group.get(column)), law.form.replace("lr_opt = ", ""),
                     fmt_with_ci(law.params.get("a"), law.ci.get("a")) if "a" in law.params
                     else "", fmt_with_ci(law.params.get("b"), law.ci.get("b"))
                     if "b" in law.params else "", str(law.n_points)])
    if not rows:
        return None
    return Table([column, "law", "a (scale)", "b (horizon)", "n"], rows,
                 title=f"Per-{column} LR laws (the 1-D optima of each {column} on their own; in "
                       "--json as the fit's laws)")


def joint_document(joint, per_bs_laws=()) -> Document:
    lvl = f"{joint.level * 100:g}%"
    blocks: list = [Text([""]), optima_table(joint)]
    if joint.laws:
        blocks.append(Text(["", f"Joint laws ({lvl} CI; exponents signed as in the formula; "
                                f"bs_opt in units of {joint.column!r})"]))
        blocks += [law.summary() for law in joint.laws]
    if joint.bs_laws:
        blocks.append(Text(["", f"Batch-size-aware LR law (1-D optima of every {joint.column}; "
                                f"{lvl} CI)"]))
        blocks += [law.summary() for law in joint.bs_laws]
    t = exponents_table(joint)
    if t is not None:
        blocks += [Text([""]), t]
    t = per_bs_table(per_bs_laws, joint.column)
    if t is not None:
        blocks += [Text([""]), t]
    if joint.notes:
        blocks.append(Text(["", "Joint notes:"] + [f"  - {n}" for n in joint.notes]))
    return Document(blocks)


def _warnings(rows) -> list[str]:
    seen: dict[str, list[str]] = {}
    for r in rows:
        for e in (r.get("extrapolation") or []):
            seen.setdefault(f"warning: extrapolating: {e}", []).append(group_label(r["group"]))
        for a in (r.get("assumptions") or []):
            seen.setdefault(("warning: " if "assumes" in a else "note: ") + a,
                            []).append(group_label(r["group"]))
    return [f"  {m}" + (f" ({', '.join(g)})" if len(rows) > 1 and len(g) < len(rows) else "")
            for m, g in seen.items()]


def _at(scale, horizon) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", scale), ("horizon", horizon))
                     if v is not None)


def _which_lr(r, column: str, bs: float, named: bool) -> str:
    """Which of the two LRs at a given batch size to use, and why."""
    who = f" [{group_label(r['group'])}]" if named else ""
    at, valley = r.get("lr_at_bs"), r.get("lr_valley")
    if at is None:
        return (f"  use{who}: the LR along the valley, {fmt(valley)} (no batch-size-aware law: "
                "the joint surface's local slope carried from bs_opt)")
    gap = f"; they differ by x{fmt(max(at, valley) / min(at, valley))}" if valley else ""
    return (f"  use{who}: lr at {column} {fmt(bs)} = {fmt(at)}, the batch-size-aware law, "
            f"fitted to the optima measured at every {column} tried; 'along the valley' "
            f"carries the joint optimum along the surface's local slope from {column}_opt "
            f"and is a cross-check{gap}")


def prediction_table(p) -> Table:
    lvl = f"{p.level * 100:g}%"
    head = ["group", "lr_opt", f"{lvl} CI", f"{p.column}_opt", f"{lvl} CI"]
    if p.bs is not None:
        head += [f"lr at {p.column} {fmt(p.bs)}", f"{lvl} CI", "along the valley", f"{lvl} CI"]
    rows = []
    for r in p.rows:
        cells = [group_label(r["group"]), fmt(r["lr"]), fmt_ci(r["lr_ci"]) or "-",
                 fmt(r["bs_opt"]), fmt_ci(r["bs_opt_ci"]) or "-"]
        if p.bs is not None:
            cells += [fmt(r["lr_at_bs"]), fmt_ci(r["lr_at_bs_ci"]) or "-", fmt(r["lr_valley"]),
                      fmt_ci(r["lr_valley_ci"]) or "-"]
        rows.append(cells)
    notes = _warnings(p.rows)
    if p.bs is not None:
        notes += [_which_lr(r, p.column, p.bs, len(p.rows) > 1) for r in p.rows]
    notes.append("  (lr_opt, bs_opt: the joint optima's laws; lr at a batch size: the "
                 "batch-size-aware law lr_opt = C * scale^a * horizon^b * bs^c, and the surface's "
                 "valley lr_opt * (bs / bs_opt)^slope)")
    return Table(head, rows, notes=notes,
                 title=f"Predicted joint optimum at {_at(p.scale, p.horizon)}")


def audit_table(a) -> Table:
    lvl = f"{a.level * 100:g}%"
    rows = []
    for r in a.rows:
        rows.append([group_label(r["group"]), fmt(r["lr"]), fmt(r["bs_opt"]),
                     fmt(r["lr_valley"]), f"x{r['ratio']:.3g}", f"x{r['bs_ratio']:.3g}",
                     fmt(r["penalty"]), fmt_ci(r["penalty_ci"]) or "-", fmt(r["penalty_lr"]),
                     fmt(r["penalty_bs"])])
    notes = _warnings(a.rows)
    for r in a.rows:
        if r.get("penalty_reason"):
            who = f" ({group_label(r['group'])})" if len(a.rows) > 1 else ""
            notes.append(f"  no penalty{who}: {r['penalty_reason']}")
    if any(not r.get("bs_given") for r in a.rows):
        notes.append(f"  (no {a.column} given: audited at the predicted {a.column}_opt)")
    notes.append("  (penalty = k_lr (d_lr - slope d_bs)^2 + k_bs_floor d_bs^2 in ln units: the "
                 "LR's distance from the best LR at this batch size, plus the batch size's own "
                 "cost with the LR re-optimized; each term from its own law)")
    bs_txt = f", {a.column} {fmt(a.bs)}" if a.bs is not None else ""
    return Table(["group", "lr_opt", f"{a.column}_opt", f"best lr at this {a.column}",
                  "lr/best", f"{a.column}/opt", "loss penalty", f"{lvl} CI", "from lr",
                  f"from {a.column}"], rows, notes=notes,
                 title=f"Joint audit: lr {fmt(a.lr)}{bs_txt} at {_at(a.scale, a.horizon)}")
