"""The text of the decision results: ``Prediction``, ``Audit`` and ``HorizonTransfer``
(what ``scalefit predict``, ``audit`` and ``transfer`` print). Each takes the result and
reads its rows and attributes; nothing here imports a result class."""

from __future__ import annotations

from .format import fmt, fmt_ci, group_label
from .tables import Document, Table, Text


def prediction_table(pred) -> Table:
    lvl = f"{pred.level * 100:g}%"
    rows = [[group_label(p["group"]), fmt(p["lr"]), fmt_ci(p["lr_ci"]) or "-",
             fmt_ci(p["lr_pi"]) or "-", p["law"]] for p in pred.rows]
    notes = _notes(pred.rows)
    notes.append("  (CI: interval of the law's mean; PI: adds a new optimum's scatter "
                 "around it, wider far from the data)")
    if any((p.get("pi_scatter") or "").startswith("rmse_log alone") for p in pred.rows):
        notes.append("  (this law was read from a file without its points: the PI adds "
                     "rmse_log alone, without leverage, and is too narrow when it "
                     "extrapolates; refit or save it again)")
    if pred.interval_source:
        notes.append(f"  ({pred.interval_source})")
    return Table(["group", "lr_opt", f"{lvl} CI", f"{lvl} PI", "law"], rows,
                 title=f"Predicted optimal LR at {_at(pred.scale, pred.horizon)}",
                 notes=notes)


def audit_table(audit) -> Table:
    lvl = f"{audit.level * 100:g}%"
    rows = [[group_label(a["group"]), fmt(a["lr"]), fmt_ci(a["lr_ci"]) or "-",
             f"x{a['ratio']:.3g}", fmt(a["penalty"]), fmt_ci(a["penalty_ci"]) or "-",
             fmt(a["curvature"]), fmt(a["expected_penalty_at_optimum"])] for a in audit.rows]
    notes = _notes(audit.rows) + _reason_lines(audit.rows)
    notes.append("  (loss penalty = curvature * (ln lr - ln lr_opt)^2; 'penalty at lr_opt': "
                 "what the law's own uncertainty costs on average)")
    if audit.interval_source:
        notes.append(f"  ({audit.interval_source})")
    return Table(["group", "lr_opt", f"{lvl} CI", "lr/lr_opt", "loss penalty", f"{lvl} CI",
                  "curvature", "penalty at lr_opt"], rows,
                 title=f"LR audit: lr {fmt(audit.lr)} at {_at(audit.scale, audit.horizon)}",
                 notes=notes)


def transfer_document(tr) -> Document:
    ratio = tr.horizon_target / tr.horizon_ref
    lines = [f"LR transfer from {fmt(tr.horizon_ref)} to {fmt(tr.horizon_target)} "
             f"tokens (x{ratio:.3g}): lr * (to/from)^b"]
    for t in tr.rows:
        who = f"{group_label(t['group'])}: " if t["group"] else ""
        src = "given" if t["b_source"] == "given" else "fitted"
        if t["b_source"] == "given" and tr.beta is not None:
            src = f"given as beta = {fmt(tr.beta)}"
        lines.append(f"  {who}lr {fmt(t['lr'])} {fmt_ci(t['lr_ci'])}".rstrip()
                     + f"   (from {fmt(tr.lr_ref)}; b = {fmt(t['b'])} "
                     f"{fmt_ci(t['b_ci'])}".rstrip() + f", {src})")
    lines += _warning_lines(tr.rows, "warnings")
    if tr.interval_source:
        lines.append(f"  ({tr.interval_source})")
    return Document([Text(lines)])


def _warning_lines(rows, key: str, prefix: str = "warning: extrapolating: ") -> list[str]:
    """'warning: extrapolating: ...' once per message, naming the groups when not all."""
    seen: dict[str, list[str]] = {}
    for r in rows:
        for e in r.get(key) or []:
            seen.setdefault(e, []).append(group_label(r.get("group")))
    out = []
    for e, labs in seen.items():
        who = f" ({', '.join(labs)})" if len(rows) > 1 and len(labs) < len(rows) else ""
        out.append(f"  {prefix}{e}{who}")
    return out


def _notes(rows) -> list[str]:
    """Extrapolation warnings, then what the laws assume about the variables they lack."""
    loud = [{"group": r.get("group"), "a": [a for a in r.get("assumptions") or []
                                           if "assumes" in a]} for r in rows]
    said = [{"group": r.get("group"), "a": [a for a in r.get("assumptions") or []
                                           if "assumes" not in a]} for r in rows]
    return (_warning_lines(rows, "extrapolation") + _warning_lines(loud, "a", "warning: ")
            + _warning_lines(said, "a", "note: "))


def _reason_lines(rows) -> list[str]:
    """'no penalty (group): why' for every audit row the data give no penalty for."""
    out = []
    for r in rows:
        why = r.get("penalty_reason")
        if why and "no curvature law" not in why:
            who = f" ({group_label(r['group'])})" if len(rows) > 1 else ""
            out.append(f"  no penalty{who}: {why}")
    return out


def _at(scale, horizon) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in (("scale", scale), ("horizon", horizon))
                     if v is not None)
