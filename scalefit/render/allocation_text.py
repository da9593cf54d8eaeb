"""The text of an ``Allocation`` (compute-optimal N*, D* per budget)."""

from __future__ import annotations

from .format import fmt, fmt_ci, group_text
from .tables import Document, Table, Text


def allocation_document(alloc) -> Document:
    """The allocation ``alloc`` as printed: the law, the exponents, the data range, one
    row per budget (N*, D*, D*/N*, loss with intervals) and the extrapolation warnings."""
    pct = f"{100 * alloc.level:g}%"
    head = ("Compute-optimal allocation (Approach 3: minimum of the fitted L(N, D) at "
            "C = 6 N D)" if alloc.method == "chinchilla" else
            "Compute-optimal allocation (Approach 2: power laws of the IsoFLOP optima)")
    if alloc.group:
        head += f"   [{group_text(alloc.group)}]"
    lines = [head, f"  law: {alloc.law}"]
    if alloc.method == "chinchilla":
        lines.append(f"  N* = G (C/6)^a, D* = (C/6)^b / G:  a = beta / (alpha + beta) = "
                     f"{fmt(alloc.a)} {fmt_ci(alloc.a_ci)}".rstrip()
                     + f",  b = alpha / (alpha + beta) = {fmt(alloc.b)} {fmt_ci(alloc.b_ci)}"
                     .rstrip())
    else:
        lines.append(f"  N* = k C^a, D* = k' C^b:  a = {fmt(alloc.a)} {fmt_ci(alloc.a_ci)}"
                     .rstrip() + f",  b = {fmt(alloc.b)} {fmt_ci(alloc.b_ci)}".rstrip())
    rng = alloc.data_range or {}
    if rng.get("C"):
        extra = ", ".join(f"{k} {fmt(rng[k][0])} to {fmt(rng[k][1])}" for k in ("N", "D")
                          if rng.get(k))
        lines.append(f"  data range of the fit: C {fmt(rng['C'][0])} to {fmt(rng['C'][1])} "
                     f"FLOPs" + (f" ({extra})" if extra else ""))
    else:
        lines.append("  data range of the fit: unknown (not saved with it)")
    rows = [[fmt(r["C"]), fmt(r["N_opt"]), fmt_ci(r["N_opt_ci"]) or "-", fmt(r["D_opt"]),
             fmt_ci(r["D_opt_ci"]) or "-", fmt(r["tokens_per_param"]),
             fmt_ci(r["tokens_per_param_ci"]) or "-", fmt(r["loss"], 4),
             _ci4(r["loss_ci"])] for r in alloc.rows]
    notes = [f"  warning: extrapolating: {m}" for m in alloc.messages()]
    if alloc.interval_source:
        notes.append(f"  ({alloc.interval_source})")
    table = Table(["budget C", "N*", f"{pct} CI", "D*", f"{pct} CI", "D*/N*", f"{pct} CI",
                   "loss", f"{pct} CI"], rows, notes=notes,
                  align=("r",) * 9)
    return Document([Text(lines + [""]), table])


def _ci4(pair) -> str:
    """A loss interval with 4 significant digits (losses differ in the third)."""
    return "-" if not fmt_ci(pair) else f"[{fmt(pair[0], 4)}, {fmt(pair[1], 4)}]"
