"""The text of ``scalefit curve``: the law, its parameters with intervals, each run's fit,
how the intervals and bands were made; and the decisions' documents."""

from __future__ import annotations

from .._version import __version__
from .format import fmt, fmt_ci, group_text
from .tables import Document, Table, Text

PLANS = {"runs": "whole runs resampled with replacement (>= 6 runs in the group)",
         "residual_blocks": "moving blocks of ln residuals within runs (fewer than 6 runs; "
                            "block length ceil(sqrt(points of the run)))"}


def curve_document(result) -> Document:
    s, inp = result.settings, result.input
    law = result.law
    lvl = f"{result.level * 100:g}%"
    head = [f"scalefit {__version__}: {inp['source']}: {inp['runs']} runs, "
            f"{inp['rows_used']} logged losses" + (f", by {', '.join(inp['by'])}"
                                                   if inp["by"] else ""),
            f"law: {law.form}" + (f"  (lambda = {s['lambda']:g}, fixed)" if "lambda" in s
                                  else ""),
            f"fit: Huber (delta {s['huber_delta']:g}) of ln L_pred - ln L, grid of starts, "
            "Levenberg-Marquardt and L-BFGS-B", ""]
    blocks = [Text(head)]
    cis = result.conf_int() if all(g["draws"] is not None for g in result.groups) else {}
    for key, (g, params) in zip(result.params, zip(result.groups, result.params.values())):
        who = f"[{group_text(dict(g['group']))}] " if g["group"] else ""
        rows = [[n, fmt(v, 4), fmt_ci(cis.get(key, {}).get(n))] for n, v in params.items()]
        boot = (f"bootstrap ({s['n_boot']}): {PLANS[g['plan']]}" if g["plan"]
                else "bootstrap: none (n_boot = 0)")
        blocks.append(Table(["parameter", "value", f"{lvl} CI"], rows,
                            title=f"{who}parameters ({boot})"))
        runs = [[r["run"], str(r["n_points"]), f"{r['first_step']}-{r['last_step']}",
                 fmt(r["r2"], 5), fmt(r["rmse"], 3), fmt(r["mean_rel_error"], 3),
                 fmt(r["worst_rel_error"], 3), r["schedule_from"]] for r in g["runs"]]
        blocks.append(Table(["run", "points", "steps", "R2", "RMSE", "mean rel err",
                             "worst rel err", "schedule"], runs,
                            title=f"{who}in-sample fit per run"))
        e, src = result._errors(g)
        blocks.append(Text([f"  prediction bands add ln errors from {src} "
                            f"(RMS {fmt(float((e[e == e] ** 2).mean() ** 0.5), 3)}); they do "
                            "not show the error of extrapolating past the longest run "
                            f"(step {g['range']['step'][1]})", ""]))
    if result.notes:
        blocks.append(Text(["Notes:"] + [f"  - {n}" for n in result.notes]))
    return Document(blocks)


def _warn(res) -> list:
    return [Text(["", "Warnings:"] + [f"  - {w}" for w in res.warnings])] if res.warnings else []


def curveprediction_document(res) -> Document:
    from ..schedule_spec import format_schedule

    v, lvl = res.values, f"{res.level * 100:g}%"
    has = "lo" in v
    idx = sorted(set(range(0, len(res.steps), max(1, len(res.steps) // 12)))
                 | {len(res.steps) - 1})
    rows = [[str(int(res.steps[i])), fmt(v["loss"][i], 4)]
            + ([fmt_ci((v["mean_lo"][i], v["mean_hi"][i])), fmt_ci((v["lo"][i], v["hi"][i]))]
               if has else []) for i in idx]
    head = ["step", "loss"] + ([f"curve {lvl}", f"observed {lvl}"] if has else [])
    notes = [f"  observed-loss band: the curve's draws times exp(ln error from "
             f"{res.band_source})"] if has else []
    return Document([Table(head, rows, title=f"predicted curve of {format_schedule(res.schedule)}",
                           notes=notes), *_warn(res)])


def schedulecomparison_document(res) -> Document:
    from ..schedule_spec import format_schedule

    v = res.values
    lines = [f"a: {format_schedule(res.a)}  ends at {fmt(v['loss_a'], 4)}",
             f"b: {format_schedule(res.b)}  ends at {fmt(v['loss_b'], 4)}",
             f"b - a = {fmt(v['diff'], 3)}"
             + (f"  {res.level * 100:g}% CI {fmt_ci((v['diff_lo'], v['diff_hi']))}; b ends "
                f"lower in {100 * v['p_b_lower']:.0f}% of the bootstrap draws"
                if "diff_lo" in v else "  (no bootstrap draws: no interval)")]
    return Document([Text(lines), *_warn(res)])


def wsdbranches_document(res) -> Document:
    v = res.values
    has = "lo" in v
    rows = [[str(int(v["branch"][i])), str(int(v["horizon"][i])), fmt(v["loss_at_branch"][i], 4),
             fmt(v["loss"][i], 4)] + ([fmt_ci((v["lo"][i], v["hi"][i]))] if has else [])
            for i in range(len(v["branch"]))]
    head = ["branch step", "horizon", "loss at branch", "loss after cooldown"] + (
        [f"{res.level * 100:g}% CI"] if has else [])
    title = (f"WSD branches: cooldown of {res.cooldown_steps} steps ({res.decay_shape}) to "
             f"{res.end_lr:g}")
    return Document([Table(head, rows, title=title), *_warn(res)])
