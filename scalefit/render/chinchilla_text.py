"""The text of a ``ChinchillaResult`` (``scalefit chinchilla``)."""

from __future__ import annotations

from .._version import __version__
from ..core.chinchilla import FORM, PARAM_NAMES
from .tables import Document, Table, Text


def chinchilla_document(res) -> Document:
    """A ``ChinchillaResult`` as printed: the input, the law and its fit settings, one row
    per parameter with its interval, and whether the optimum and resamples converged."""
    ci = res.conf_int()
    pct = f"{100 * res.ci_level:g}%"
    blocks = []
    if res.input:
        i, cols = res.input, res.input["columns"]
        blocks.append(Text([
            f"scalefit {__version__}: {i['source']}: {i['used']} runs used of {i['rows']} "
            f"({i['diverged']} diverged"
            + (f", {i['excluded']} unfinished left out" if i.get("excluded") else "")
            + f"); N = {cols['scale']}, D = {cols['horizon']}, "
            f"loss = {cols['loss']}", ""]))
    blocks.append(Text([
        "Chinchilla-form loss law",
        f"  {FORM}   (N parameters, D tokens)",
        f"  fit: Huber(delta={res.huber_delta:g}) on ln L_pred - ln L, summed;"
        f" L-BFGS from {res.n_starts} starts",
        f"  points: {res.n_points}   bootstrap resamples: {res.n_boot}"
        f"   objective: {res.objective:.6g}",
        "",
    ]))
    rows = []
    for k in PARAM_NAMES:
        lo, hi = ("-", "-") if ci[k] is None else (f"{ci[k][0]:.5g}", f"{ci[k][1]:.5g}")
        rows.append([k, f"{res.params[k]:.5g}", lo, hi])
    notes = []
    if not res.converged:
        notes.append("  note: the optimum did not pass the Newton stationarity test")
    if res.n_boot and res.n_boot_unconverged:
        notes.append(f"  note: {res.n_boot_unconverged} resamples did not fully converge")
    blocks.append(Table(["param", "estimate", f"{pct} low", f"{pct} high"], rows,
                        notes=notes, align=("l", "r", "r", "r"), min_widths=(6, 12, 12, 12),
                        sep=" "))
    return Document(blocks)
