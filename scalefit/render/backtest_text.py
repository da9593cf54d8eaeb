"""The text of a ``BacktestResult``: held-out points, then scores per law against the
baselines."""

from __future__ import annotations

from .format import fmt, fmt_ci, group_label
from .tables import Document, Table, Text


def _share(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _err(v) -> str:
    return "-" if v is None else f"{v:+.3f}"


def _yes(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


def backtest_document(res) -> Document:
    lvl = f"{res.level * 100:g}%"
    ax = res.axis
    grouped = bool(res.input.get("by"))
    others = [c for c in ("scale", "horizon") if c != ax
              and any(p.get(c) is not None for p in res.points)]
    header = ((["group"] if grouped else []) + [ax] + others
              + ["lr_opt pred", f"{lvl} PI", "measured", f"{lvl} CI", "ln err", "in PI",
                 "cost", "keep err", "short err"])
    rows = []
    for p in res.points:
        rows.append(([group_label(p["group"])] if grouped else [])
                    + [fmt(p.get(ax))] + [fmt(p.get(c)) for c in others]
                    + [fmt(p["lr_pred"]), fmt_ci(p["lr_pred_pi"]) or "-", fmt(p["lr_measured"]),
                       fmt_ci(p["lr_measured_ci"]) or "-", _err(p["ln_error"]),
                       _yes(p["covered"]), fmt(p["loss_cost"]), _err(p["keep_ln_error"]),
                       _err(p["short_ln_error"])])
    points = Table(header, rows, title=f"Backtest along {ax}: each held-out level predicted by "
                   f"the law of the smaller levels ({len(res.points)} held-out optima)",
                   align=("l",) * (len(header) - 8) + ("r",) * 8)
    all_scores = res.scores()
    srows = []
    for s in all_scores:
        law, keep, short = s["law"], s["keep"], s["short"]
        srows.append(["all (pooled)" if s["pooled"] else group_label(s["group"]),
                      str(s["n_points"]), str(len(s["levels"])),
                      f"{_share(law['coverage'])} ({law['n_covered']}/{law['n_with_pi']})",
                      fmt(law["median_abs_ln_error"]), fmt(keep["median_abs_ln_error"]),
                      fmt(short["median_abs_ln_error"]), fmt(law["mean_loss_cost"]),
                      fmt(keep["mean_loss_cost"]), fmt(short["mean_loss_cost"]),
                      _yes(s["beats_keep"]) + "/" + _yes(s["beats_short"])])
    scores = Table(["law", "points", "levels", f"{lvl} PI covers", "med|err|",
                    "keep",
                    "short", "mean cost", "keep", "short", "beats"], srows,
                   title="Scores (|err|: |ln predicted - ln measured|; cost: curvature x err^2, "
                         "in loss)",
                   align=("l",) + ("r",) * 9 + ("l",),
                   notes=("  PI: the law's bootstrap draws plus the scatter of a new point of "
                          "its least-squares fit (over n - k, with leverage, Student's t), "
                          "as 'scalefit predict' gives it;",
                          "  keep: the LR of the largest fitted level (same other coordinates, "
                          "else the nearest); short: the law without its last fitted level;",
                          "  beats: the law's median |err| is below keep's / short's"))
    blocks = [points, Text(("",)), scores, Text(("",) + _verdict(all_scores, ax))]
    if any("bs_pred" in p for p in res.points):
        blocks += [Text(("",)), _bs_table(res, all_scores, grouped, ax, others, lvl)]
    if res.notes:
        blocks += [Text(("",) + tuple(f"note: {n}" for n in res.notes))]
    return Document(tuple(blocks))


def _verdict(scores: list[dict], ax: str) -> tuple[str, ...]:
    """What the scores say, in words: the law against each baseline over all held-out
    optima (the pooled row, or the one law), then how many groups it beats both in."""
    top = scores[-1]
    law, keep, short = top["law"], top["keep"], top["short"]
    m = law["median_abs_ln_error"]
    lines = ["Verdict:"]
    if top["beats_keep"] is False:
        lines.append(
            f"  keeping the LR of the largest fitted level forecast better than the law "
            f"(median |err| {fmt(keep['median_abs_ln_error'])} against {fmt(m)}; mean cost "
            f"{fmt(keep['mean_loss_cost'])} against {fmt(law['mean_loss_cost'])}): on these "
            f"held-out optima the law did not help (its form may miss how lr_opt moves along "
            f"{ax}: a bend, a dependence on another column; or too few points to tell); near "
            "the data, the LR measured there is the safer choice")
    elif top["beats_keep"]:
        lines.append(f"  the law forecast better than keeping the LR of the largest fitted "
                     f"level (median |err| {fmt(m)} against "
                     f"{fmt(keep['median_abs_ln_error'])})")
    if top["beats_short"] is False:
        lines.append(f"  the law without its last level did better (median |err| "
                     f"{fmt(short['median_abs_ln_error'])} against {fmt(m)}): the last level "
                     "pulled the law off (a bend, or a noisy level)")
    per = [x for x in scores if not x["pooled"]]
    if len(per) > 1:
        both = sum(1 for x in per if x["beats_keep"] and x["beats_short"])
        lines.append(f"  per group, the law beats both baselines in {both} of {len(per)}; a "
                     "group's few held-out optima make its comparison noisy: read the pooled "
                     "row first")
    return tuple(lines) if len(lines) > 1 else ()


def _bs_table(res, scores: list[dict], grouped: bool, ax: str, others: list,
              lvl: str) -> Table:
    """The batch size of each held-out joint optimum: predicted by the law of bs_opt of the
    smaller levels, and the scores of that law against the same baselines."""
    rows = []
    for p in res.points:
        if "bs_pred" not in p:
            continue
        rows.append(([group_label(p["group"])] if grouped else [])
                    + [fmt(p.get(ax))] + [fmt(p.get(c)) for c in others]
                    + [fmt(p["bs_pred"]), fmt_ci(p["bs_pred_pi"]) or "-",
                       fmt(p["bs_measured"]), fmt_ci(p["bs_measured_ci"]) or "-",
                       _err(p["bs_ln_error"]), _yes(p["bs_covered"]),
                       _err(p["bs_keep_ln_error"]), _err(p["bs_short_ln_error"])])
    notes = []
    for s in scores:
        b = s.get("bs")
        if b is None:
            continue
        who = "all (pooled)" if s["pooled"] else group_label(s["group"])
        notes.append(f"  {who}: {lvl} PI covers {_share(b['law']['coverage'])} "
                     f"({b['law']['n_covered']}/{b['law']['n_with_pi']}); med|err| "
                     f"{fmt(b['law']['median_abs_ln_error'])} (keep "
                     f"{fmt(b['keep']['median_abs_ln_error'])}, short "
                     f"{fmt(b['short']['median_abs_ln_error'])}); beats "
                     f"{_yes(b['beats_keep'])}/{_yes(b['beats_short'])}")
    header = ((["group"] if grouped else []) + [ax] + others
              + ["bs_opt pred", f"{lvl} PI", "measured", f"{lvl} CI", "ln err", "in PI",
                 "keep err", "short err"])
    return Table(header, rows, title="The batch size of the joint optima (law of bs_opt)",
                 align=("l",) * (len(header) - 8) + ("r",) * 8, notes=tuple(notes))
