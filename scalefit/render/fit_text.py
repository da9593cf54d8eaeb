"""The documents a ``FitResult`` prints: the fit summary, the compare view, report tables.

Each function reads a result (its optima, laws and transfer quality) and returns a
Table or Document; nothing is computed here but text.
"""

from __future__ import annotations

from .._version import __version__
from ..core.pyvalue import py_item
from .format import count, fmt, fmt_with_ci, group_label, group_text, open_ci
from .tables import Document, Table, Text

ROLE_KEYS = ("scale", "horizon")
MAX_SUMMARY_ROWS = 60


def _status_line(result) -> str:
    counts = result.optima["status"].value_counts()
    return ", ".join(f"{counts[s]} {s}" for s in counts.index)


def _notes(result) -> list:
    return [Text(["", "Notes:"] + [f"  - {n}" for n in result.notes])] if result.notes else []


def optima_table(result, limit: int | None = MAX_SUMMARY_ROWS) -> Table:
    """One row per sweep: keys, optimum with its interval, curvature, counts, status."""
    opt, by = result.optima, result.by
    lvl = f"{result.settings['ci'] * 100:g}%"
    head = [*by] + [c for c in ROLE_KEYS if c in opt]
    shown = opt if limit is None else opt.head(limit)
    if result.input.get("kind") == "optima":
        return _given_optima(result, opt, shown, head, lvl)
    rows = []
    for _, r in shown.iterrows():
        rows.append([str(py_item(r[c])) if c in by else fmt(r[c]) for c in head]
                    + [fmt(r["lr_opt"]), ci_text(r),
                       fmt(r["loss_opt"], 4), fmt(r["curvature"]),
                       f"{int(r['n_runs'])}/{int(r['n_diverged'])}", fmt(r["lr_best"]),
                       r["status"]])
    notes = []
    if len(opt) > len(shown):
        notes.append(f"  ... {len(opt) - len(shown)} more sweeps (all are in --json)")
    return Table(head + ["lr_opt", "CI", "loss_opt", "curvature", "runs/div", "best_lr",
                         "status"], rows, notes=notes,
                 title=f"Optimal LR per sweep (quadratic in ln lr; curvature = loss per "
                       f"(ln lr)^2; {lvl} CI)")


def _given_optima(result, opt, shown, head, lvl) -> Table:
    """The optima of a table of optima, as given (with the uncertainty they carry)."""
    by = result.by
    rows = [[str(py_item(r[c])) if c in by else fmt(r[c]) for c in head]
            + [fmt(r["lr_opt"]), ci_text(r), fmt(r["loss_opt"], 4), fmt(r["curvature"]),
               str(int(r["n_runs"])), str(r.get("boot_kind") or "-")]
            for _, r in shown.iterrows()]
    notes = ([f"  ... {len(opt) - len(shown)} more points (all are in --json)"]
             if len(opt) > len(shown) else [])
    return Table(head + ["lr_opt", "CI", "loss_opt", "curvature", "rows", "uncertainty"], rows,
                 notes=notes, title=f"Optima as given (a table of optima; {lvl} CI from its "
                                    "replicate rows and interval columns)")


def ci_text(r) -> str:
    """An optimum's interval; an end beyond the LRs its sweep tried shows as open
    (``[< 0.001, 0.02]``)."""
    return open_ci(r, "lr_opt", "lr")


def _runs_text(inp) -> str:
    """'192 runs (4 diverged)', with the unfinished runs left out, or a table of optima."""
    if inp.get("kind") == "optima":
        return (f"{count(inp['rows'], 'optimum', 'optima')} (a table of optima), "
                f"{count(inp['groups'], 'point')}")
    excl = f", {inp['excluded']} excluded as unfinished" if inp.get("excluded") else ""
    if inp.get("missing_loss"):
        excl += f", {inp['missing_loss']} with an empty loss left out"
    if inp.get("duplicates"):
        excl += f", {inp['duplicates']} duplicate rows counted once"
    return (f"{count(inp['rows'], 'run')} ({inp['diverged']} diverged{excl}), "
            f"{count(inp['groups'], 'sweep')}")


def fit_document(result, conditional: bool = False) -> Document:
    """The summary ``scalefit fit`` prints."""
    s, inp = result.settings, result.input
    lvl = f"{s['ci'] * 100:g}%"
    cols = "  ".join(f"{k}={v}" for k, v in inp["columns"].items() if v is not None)
    head = [f"scalefit {__version__}: {inp['source']}: {_runs_text(inp)} "
            f"({_status_line(result)})",
            f"columns: {cols}" + (f"   by: {', '.join(inp['by'])}" if inp["by"] else ""),
            _boot_text(inp, s, lvl), ""]
    blocks: list = [Text(head), optima_table(result)]
    joint = getattr(result, "joint", None)
    if joint is not None:  # the 1-D laws are per batch size: listed compactly in the joint part
        per_bs = [law for law in result.laws if law.primary and law.target == "lr_opt"]
        blocks.append(joint.summary(per_bs))
    elif result.laws:
        by = set(result.by)
        shown = [law for law in result.laws if conditional or set(law.group) <= by]
        blocks.append(Text(["", f"Laws ({lvl} CI; exponents signed as in the formula)"]))
        blocks += [law.summary() for law in shown]
        hidden = len(result.laws) - len(shown)
        if hidden:
            blocks.append(Text([f"  ... and {hidden} conditional laws at a fixed horizon or "
                                "scale (in --json; listed with --all-laws / "
                                "summary(conditional=True))"]))
    if result.quality is not None:
        blocks += [Text([""]), result.quality.summary()]
    return Document(blocks + _notes(result))


def _boot_text(inp, s, lvl) -> str:
    if not s["n_boot"]:
        return "bootstrap: off (no intervals)"
    what = ("the optima's replicate rows and stated intervals" if inp.get("kind") == "optima"
            else "runs within each sweep")
    return (f"bootstrap: {s['n_boot']} resamples of {what}, {lvl} percentile intervals, "
            f"seed {s['seed']}")


def compare_document(result) -> Document:
    """Each group's primary LR law and the transfer-quality table (``scalefit compare``)."""
    inp, s = result.input, result.settings
    lvl = f"{s['ci'] * 100:g}%"
    blocks: list = [Text([f"scalefit {__version__}: {inp['source']}: {_runs_text(inp)} "
                          f"({_status_line(result)}); {lvl} intervals, {s['n_boot']} "
                          "resamples", ""])]
    rows = []
    for law in result.laws:
        if law.target != "lr_opt" or not law.primary:
            continue
        cells = [group_label(law.group), law.form.replace("lr_opt = ", "")]
        cells += [fmt_with_ci(law.params.get(n), law.ci.get(n)) if n in law.params else ""
                  for n in ("a", "b")]
        rows.append(cells + [fmt(law.rmse_log), str(law.n_points)])
    if rows:
        blocks += [Table(["group", "law", "a (scale)", "b (horizon)", "RMSE_log", "n"], rows,
                         title=f"Optimal LR laws per group (lr_opt = C * ...; {lvl} CI)"),
                   Text([""])]
    if result.quality is not None:
        blocks.append(result.quality.summary())
    return Document(blocks + _notes(result))


def equivalence_table(rows, level: float) -> Table:
    """``compare --margin``: per group and exponent, the verdict of its interval against
    value +- margin (an interval that merely contains the value is "not resolved")."""
    lvl = f"{level * 100:g}%"
    cells = [[group_label(r["group"]), r["exponent"], fmt(r["value"]),
              fmt_with_ci(r["estimate"], r["ci"]), f"+-{fmt(r['margin'])}", r["verdict"]]
             for r in rows]
    return Table(["group", "exponent", "value", f"estimate ({lvl} CI)", "margin", "verdict"],
                 cells, title=f"Equivalence: is the {lvl} CI inside value +- margin?",
                 notes=["  (inside: equivalent within the margin; outside: the whole interval "
                        "is beyond it; not resolved: neither, e.g. an interval that contains "
                        "the value but is wider than the margin)"])


def laws_table(result) -> Table:
    """Primary laws, one row each, parameters with intervals (the report's table)."""
    rows = []
    for law in result.laws:
        if not law.primary:
            continue
        params = "; ".join(f"{k} = {fmt_with_ci(v, law.ci.get(k))}" for k, v in
                           law.params.items())
        loss = law.target == "loss_opt"
        fit_q = (f"{'R2' if loss else 'R2_log'} {fmt(law.r2_log)}, "
                 f"{'RMSE' if loss else 'RMSE_log'} {fmt(law.rmse_log)}")
        rows.append([group_text(law.group) or "all", law.form, params, fit_q,
                     str(law.n_points)])
    return Table(["group", "law", "parameters (CI)", "fit", "n"], rows)


def headline(result) -> list[str]:
    """Source, columns and uncertainty in three sentences (the report's opening)."""
    inp, s = result.input, result.settings
    cols = ", ".join(f"{k} = `{v}`" for k, v in inp["columns"].items() if v is not None)
    boot = (f"{s['n_boot']} bootstrap resamples of runs within each sweep, "
            f"{s['ci'] * 100:g}% percentile intervals, seed {s['seed']}"
            if s.get("n_boot") else "no bootstrap (no intervals)")
    return [f"Source: `{inp.get('source')}`: {_runs_text(inp)} ({_status_line(result)}).",
            f"Columns: {cols}" + (f"; groups by {', '.join(inp['by'])}" if inp.get("by")
                                  else "") + ".",
            f"Uncertainty: {boot}."]


FLAT = 1.25  # "flat": the optimum moves by less than this factor over the data


def _moves(law, name: str, var: str) -> str:
    """How far law's exponent `name` moves lr* over its data range of `var`, as a factor
    with its interval, and what that says (moves / flat within FLAT / not resolved)."""
    lo_v, hi_v = law.value_range(var) if law.points is not None else (None, None)
    a, ci = law.params.get(name), law.ci.get(name)
    if not lo_v or not hi_v or hi_v <= lo_v or a is None:
        return "-"
    import math

    span = math.log(hi_v / lo_v)
    factor = f"x{fmt(math.exp(a * span))}"
    if ci is None or None in ci or not all(map(math.isfinite, ci)):
        return f"{factor} over x{fmt(hi_v / lo_v)} in {var} (no interval)"
    f_lo, f_hi = math.exp(ci[0] * span), math.exp(ci[1] * span)
    where = f"{factor} [{fmt(f_lo)}, {fmt(f_hi)}] over x{fmt(hi_v / lo_v)} in {var}"
    if ci[0] > 0 or ci[1] < 0:
        return f"moves: {where}"
    if 1 / FLAT < f_lo and f_hi < FLAT:
        return f"flat within {FLAT:g}x: {where}"
    return f"not resolved: {where}"


def headline_table(result) -> Table:
    """Per group, the law of the optimal LR, its exponents with intervals, and how far the
    optimum moves over the data (the report's first table)."""
    rows = []
    for law in result.laws:
        if law.target != "lr_opt" or not law.primary:
            continue
        exps = "; ".join(f"{n} = {fmt_with_ci(law.params.get(n), law.ci.get(n))}"
                         for n in law.param_names[1:])
        verdicts = "; ".join(_moves(law, n, v)
                             for n, v in zip(law.param_names[1:], law.variables))
        rows.append([group_label(law.group), law.form, exps or "-", verdicts or "-"])
    lvl = f"{result.settings.get('ci', 0.95) * 100:g}%"
    return Table(["group", "law", f"exponents ({lvl} CI)", "over the data"], rows,
                 title=f"The optimal LR per group: its law, and how far it moves over the "
                       f"data (moves: the interval of the exponent excludes 0; flat: the "
                       f"whole interval moves it by less than {FLAT:g}x)")
