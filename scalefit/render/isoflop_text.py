"""The document an ``IsoflopResult`` prints (``scalefit isoflop``): input, profiles, laws."""

from __future__ import annotations

from .._version import __version__
from ..core.pyvalue import py_item
from .format import fmt, fmt_ci, group_text, open_ci
from .law_text import law_text
from .tables import Document, Table, Text

MAX_ROWS = 60


def profiles_table(result, limit: int | None = MAX_ROWS) -> Table:
    """One row per profile: group, budget, N*, D*, D*/N* and loss with intervals, status."""
    prof, by = result.profiles, result.by
    shown = prof if limit is None else prof.head(limit)
    rows = []
    for _, r in shown.iterrows():
        rows.append([str(py_item(r[b])) for b in by]
                    + [fmt(r["budget"]), fmt(r["N_opt"]), open_ci(r, "N_opt", "N"),
                       fmt(r["D_opt"]), open_ci(r, "D_opt", "D"),
                       fmt(r["tokens_per_param"]),
                       open_ci(r, "tokens_per_param", "tokens_per_param"),
                       fmt(r["loss_opt"], 4), f"{int(r['n_runs'])}/{int(r['n_diverged'])}",
                       fmt(r["N_best"]), r["status"]])
    notes = []
    if len(prof) > len(shown):
        notes.append(f"  ... {len(prof) - len(shown)} more profiles (all are in --json)")
    lvl = f"{result.level * 100:g}%"
    return Table(list(by) + ["budget C", "N_opt", "CI", "D_opt", "CI", "D/N", "CI", "loss_opt",
                             "runs/div", "best_N", "status"], rows, notes=notes,
                 title=f"IsoFLOP profiles (quadratic in ln N around the best N; {lvl} CI)")


def laws_text(result) -> Text:
    """Every law with its parameters, intervals, fit statistics and leave-largest-out."""
    lines = [f"Compute-optimal laws in the budget C ({result.level * 100:g}% CI; "
             "exponents signed as in the formula)"]
    for law in result.laws:
        lines += law_text(law).lines
    if not result.laws:
        lines.append("  (none: too few profiles with an optimum)")
    return Text(lines, pre=True)


def headline(result) -> list[str]:
    """'a = 0.5 [0.49, 0.51]' per group: the exponent of N* and the tokens per parameter."""
    out = []
    for law in result.laws:
        if law.target != "N_opt":
            continue
        who = f"[{group_text(law.group)}] " if law.group else ""
        out.append(f"  {who}N_opt ~ C^a with a = {fmt(law.params['a'])} "
                   f"{fmt_ci(law.ci.get('a'))}".rstrip())
    return out


def isoflop_document(result) -> Document:
    s, inp = result.settings, result.input
    prof = result.profiles
    counts = prof["status"].value_counts()
    status = ", ".join(f"{counts[k]} {k}" for k in counts.index)
    cols = "  ".join(f"{k}={v}" for k, v in inp["columns"].items() if v is not None)
    tokens = ("C / (6 N*)" if inp["tokens_from"] == "6ND"
              else "interpolated along the profile (ln D linear in ln N)")
    head = [f"scalefit {__version__}: {inp['source']}: {inp['rows']} runs "
            f"({inp['diverged']} diverged), {inp['profiles']} IsoFLOP profiles ({status})",
            f"columns: {cols}" + (f"   by: {', '.join(inp['by'])}" if inp["by"] else ""),
            f"budgets: {inp['budgets']};  D at the optimum: {tokens}",
            (f"bootstrap: {s['n_boot']} resamples of runs within each profile, "
             f"{s['ci'] * 100:g}% percentile intervals, seed {s['seed']}" if s["n_boot"]
             else "bootstrap: none (n_boot = 0): point estimates only"), ""]
    blocks = [Text(head), profiles_table(result), Text([""]), laws_text(result)]
    top = headline(result)
    if top:
        blocks.append(Text(["", "Headline:"] + top))
    if result.notes:
        blocks.append(Text(["", "Notes:"] + [f"  - {n}" for n in result.notes]))
    return Document(blocks)
