"""The text of a ``TransferQuality``: E, kappa, R_inf and delta_L_inf per by group."""

from __future__ import annotations

from ..core.frozen import thaw
from .format import fmt, fmt_with_ci, group_label
from .tables import Table, Text

NOT_IDENTIFIED = "not identified"


def quality_table(q, measures) -> Table | Text:
    """The transfer measures of ``q`` (a ``TransferQuality``), one row per group, the
    ``measures`` in the order of the header."""
    where = f" at horizon {fmt(q.horizon)}" if q.horizon is not None else ""
    ref = thaw(q.reference)
    title = f"Transfer quality by {', '.join(q.by)}" + (
        f" (reference: {ref}{where})" if ref is not None else "")
    header = ["group", "lr exponent a", "E (rmse ln lr)", "extrap. err", "kappa",
              "R (mean)", "R_inf", "delta_L_inf"]
    notes = [f"  note: {n}" for n in q.notes]
    if not q.groups:  # nothing measured: the title and why, no empty table
        return Text([title, *notes])
    rows = [[group_label(g["group"], "")] + [_cell(g, m) for m in measures]
            for g in q.groups]
    return Table(header, rows, title=title, notes=notes)


def _cell(g, m: str) -> str:
    """A measure with its interval; an asymptote that is not identified says so."""
    if g.get(m + "_identified") is False and g.get(m) is None:
        return NOT_IDENTIFIED
    return fmt_with_ci(g.get(m), g.get(m + "_ci"))
