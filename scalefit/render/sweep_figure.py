"""The sweeps figure: loss vs learning rate for every sweep, as the fit saw it.

Small multiples, one panel per (scale, horizon), one colour per ``by`` group (those
``show`` names, or at most ``MAX_OVERLAID`` with a note saying how many were left out and
how to choose them): the runs,
the fitted parabola (solid over the fit window the result records, dashed beyond), the
optimum with its interval, runs above the axis as open triangles and diverged runs as
crosses at the top edge; groups whose sweeps coincide in a panel (the same runs and
optimum, e.g. every arm at the base width) are drawn once with a note naming them.
Everything comes from the result (its ``runs`` and ``optima``):
with ``x = ln lr`` the fitted quadratic is exactly
``L(x) = loss_opt + curvature * (x - ln lr_opt)^2``.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .figure_kit import (
    MAX_OVERLAID,
    MAX_PANELS,
    _group_label,
    _style_of,
    coincide_text,
    coincident,
    corner_note,
    figure_note,
    log_axes,
    new_figure,
    shown_groups,
    si,
    tidy_log,
)


def sweeps_figure(result, max_panels: int = MAX_PANELS, show=None) -> Figure:
    """Loss vs LR for every sweep with the fitted parabola and the optimum (see module doc).

    One panel per (scale, horizon), one colour per ``by`` group. The parabola is solid
    over the LRs its fit used (the result's fit window) and dashed beyond them. ``show``:
    the labels of the groups to draw (default: all, or the first ``MAX_OVERLAID``).
    """
    by = list(result.by)
    keys, left_out = shown_groups(result, show, MAX_OVERLAID)
    styles = _style_of(keys)
    every = result.optima
    drawn = np.array([tuple(r) in styles for r in every[by].itertuples(index=False)]
                     if by else np.ones(len(every), bool), dtype=bool)
    opt = every[drawn]
    runs_all = result.runs or [None] * len(every)
    roles = [r for r in ("scale", "horizon") if r in opt]
    panels = ([tuple(p) for p in opt[roles].drop_duplicates().sort_values(roles)
               .itertuples(index=False)] if roles else [()])
    n_all = len(panels)
    panels = panels[:max_panels]
    ncols = min(5, max(1, math.ceil(math.sqrt(len(panels)))))
    nrows = math.ceil(len(panels) / ncols)
    n_handles = (len(keys) if by else 0) + 4
    width = max(7.5, 2.9 * ncols + 0.5)
    leg_cols = min(n_handles, max(2, int(width / 2.1)))
    leg_rows = math.ceil(n_handles / leg_cols)
    foot = 0.25 if left_out else 0.0  # the note on the groups left out
    height = 2.35 * nrows + 0.85 + 0.22 * leg_rows + foot
    fig = new_figure(width, height, layout=None)  # constrained layout is slow for many panels
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, top=1 - 0.7 / height,
                        bottom=(0.5 + 0.22 * leg_rows + foot) / height, wspace=0.28,
                        hspace=0.45)
    level = result.settings.get("ci", 0.95)
    # per sweep: its runs' lr and loss (NaN: diverged)
    runs = [r for r, d in zip(runs_all, drawn) if d]
    panel_of = [tuple(r) for r in opt[roles].itertuples(index=False)] if roles else [()] * len(opt)

    for i, pvals in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        rows = [j for j, pv in enumerate(panel_of) if pv == pvals]
        sweeps = [(opt.iloc[j], runs[j]) for j in rows]
        finite = np.concatenate([r["loss"][np.isfinite(r["loss"])] for _, r in sweeps
                                 if r is not None] or [np.array([])])
        top, bottom = _loss_limits(finite, opt["loss_opt"].to_numpy()[rows])
        # x range: the LRs tried, one octave beyond; wider CIs are cut with an arrow
        tried = np.concatenate([np.asarray(r["lr"]) for _, r in sweeps if r is not None]
                               or [np.array([])])
        xlim = (tried.min() / 2, tried.max() * 2) if tried.size else None
        notes = []
        hidden = set()  # sweeps that coincide with one drawn before them
        for same in coincident([_signature(o, r) for o, r in sweeps]) if by else []:
            hidden.update(same[1:])
            notes.append(coincide_text([_group_label(tuple(sweeps[j][0][b] for b in by), by)
                                        for j in same]))
        for n_sweep, (o, r) in enumerate(sweeps):
            key = tuple(o[b] for b in by)
            c, mark, dash = styles.get(key, ("k", "o", "-"))
            if r is None or n_sweep in hidden:
                continue
            diverged = ~np.isfinite(r["loss"])
            lr, loss = np.asarray(r["lr"])[~diverged], np.asarray(r["loss"])[~diverged]
            inside = loss <= top
            # Line2D with markers only: much cheaper to build and draw than scatter.
            ax.plot(lr[inside], loss[inside], ls="none", marker=mark, ms=3.2, color=c,
                    alpha=0.75, mew=0, zorder=3)
            if (~inside).any():
                ax.plot(lr[~inside], np.full((~inside).sum(), top), ls="none", marker="^",
                        ms=4.2, mfc="none", mec=c, mew=0.9, zorder=3, clip_on=False)
            div = np.asarray(r["lr"])[diverged]
            if div.size:
                ax.plot(div, np.full(div.size, top), ls="none", marker="x", ms=4.8, color=c,
                        mew=1.2, zorder=4, clip_on=False)
            if o["status"] == "ok" and np.isfinite(o["lr_opt"]) and lr.size:
                _parabola(ax, o, np.unique(lr), top, bottom, c, dash)
                lo, hi = _open_ends(o, xlim)
                if np.isfinite(lo) and np.isfinite(hi):
                    _ci_bar(ax, lo, hi, o["loss_opt"], xlim, c)
                ax.plot([o["lr_opt"]], [o["loss_opt"]], ls="none", marker="*", ms=10, color=c,
                        mec="k", mew=0.5, zorder=6)
            elif o["status"] == "div_bracketed" and np.isfinite(o.get("loss_best", np.nan)):
                # the best LR, bracketed by the grid: a lower LR and a diverged one
                _ci_bar(ax, o["lr_opt_lo"], o["lr_opt_hi"], o["loss_best"], xlim, c)
                ax.plot([o["lr_opt"]], [o["loss_best"]], ls="none", marker="*", ms=10,
                        mfc="none", mec=c, mew=1.0, zorder=6)
                notes.append((_group_label(key, by) + ": " if by else "") + "div_bracketed")
            elif o["status"] != "ok":
                notes.append((_group_label(key, by) + ": " if by else "") + str(o["status"]))
        log_axes(ax)
        ax.set_ylim(bottom, top)
        if xlim is not None:
            ax.set_xlim(*xlim)
        tidy_log(ax, "x")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.grid(True, which="major", alpha=0.25)
        ax.tick_params(labelsize=8)
        title = "   ".join(f"{'N' if r == 'scale' else 'D'} = {si(v)}"
                           for r, v in zip(roles, pvals))
        ax.set_title(title or "all runs", fontsize=9)
        if notes:
            corner_note(ax, "\n".join(notes[:4]))
        if i % ncols == 0:
            ax.set_ylabel("loss", fontsize=9)
        if i >= len(panels) - ncols:
            ax.set_xlabel("learning rate", fontsize=9)

    handles = [Line2D([], [], color=styles[k][0], marker=styles[k][1], ms=4, lw=1.3,
                      ls=styles[k][2], label=_group_label(k, by)) for k in keys if by]
    handles += [
        Line2D([], [], ls="none", marker="*", ms=9, color="0.4", mec="k", mew=0.5,
               label=f"fitted optimum ({level * 100:g}% CI)"),
        Line2D([], [], ls="--", lw=0.9, color="0.4", label="parabola outside its fit window"),
        Line2D([], [], ls="none", marker="^", ms=5, mfc="none", color="0.4",
               label="run above the axis"),
        Line2D([], [], ls="none", marker="x", ms=5, color="0.4", label="diverged run"),
    ]
    fig.legend(handles=handles, loc="lower center", ncols=leg_cols, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, foot / height))
    head = "Loss vs learning rate per sweep; the parabola in ln lr is fitted around the best LR"
    if width < 10:
        head = "Loss vs learning rate per sweep\n(parabola in ln lr fitted around the best LR)"
    if n_all > len(panels):
        head += f" (first {len(panels)} of {n_all} panels)"
    fig.suptitle(head, fontsize=11, y=1 - 0.12 / height, va="top")
    figure_note(fig, left_out)
    return fig


def _signature(o, r) -> tuple:
    """What a sweep draws, to 6 significant digits (what a figure can tell apart): its
    runs (as a set of (lr, loss) points: their order is not drawn) and its optimum."""
    def digits(v):
        return tuple(f"{x:.6g}" for x in np.ravel(np.asarray(v, float)))

    runs = () if r is None else tuple(sorted(zip(digits(r["lr"]), digits(r["loss"]))))
    optimum = [o.get(c, np.nan) for c in ("lr_opt", "loss_opt", "curvature", "lr_opt_lo",
                                          "lr_opt_hi")]
    return str(o["status"]), digits(optimum), runs


def _open_ends(o, xlim) -> tuple[float, float]:
    """An optimum's interval for drawing: an open end (beyond the LRs tried) runs past the
    axis, so that it is cut there with an arrow."""
    lo, hi = o["lr_opt_lo"], o["lr_opt_hi"]
    open_ = o.get("lr_opt_ci_open") or ""
    if isinstance(open_, str) and open_ and xlim is not None:
        lo = xlim[0] / 10 if open_ in ("low", "both") else lo
        hi = xlim[1] * 10 if open_ in ("high", "both") else hi
    return lo, hi


def _ci_bar(ax, lo: float, hi: float, y: float, xlim, c) -> None:
    """A horizontal interval [lo, hi] at height y; an end beyond `xlim` is cut there and
    drawn as an arrow pointing on."""
    a, b = (lo, hi) if xlim is None else (max(lo, xlim[0]), min(hi, xlim[1]))
    ax.plot([a, b], [y, y], color=c, lw=1.6, zorder=5)
    for x, cut, mark in ((a, a > lo, "<"), (b, b < hi, ">")):
        ax.plot([x], [y], ls="none", marker=mark if cut else "|", ms=5 if cut else 6,
                mew=1.6, color=c, zorder=5, clip_on=False)


def _parabola(ax, o, levels: np.ndarray, top: float, bottom: float, c, dash="-") -> None:
    """The fitted quadratic: solid over its fit window (the LRs it was fitted on, as the
    result records them), dashed beyond, clipped to the axes."""
    x = np.log(levels)
    x0 = math.log(o["lr_opt"])
    lo, hi = o.get("lr_window_lo", np.nan), o.get("lr_window_hi", np.nan)
    xa, xb = (math.log(lo), math.log(hi)) if np.isfinite(lo) and np.isfinite(hi) else (x[0], x[-1])
    limit = top + 0.02 * (top - bottom)

    def draw(a, b, **kw):
        if b <= a:
            return
        xs = np.linspace(a, b, 80)
        ys = o["loss_opt"] + o["curvature"] * (xs - x0) ** 2
        keep = ys <= limit
        ax.plot(np.exp(xs[keep]), ys[keep], color=c, zorder=2, **kw)

    draw(xa, xb, lw=1.4, ls=dash)
    draw(x[0], xa, lw=0.9, ls="--", alpha=0.6)
    draw(xb, x[-1], lw=0.9, ls="--", alpha=0.6)


def _loss_limits(finite: np.ndarray, loss_opt: np.ndarray) -> tuple[float, float]:
    """Y range showing each valley: from the lowest loss to a robust upper quantile."""
    vals = finite[np.isfinite(finite)]
    if vals.size == 0:
        return 1.0, 0.0
    lo = float(np.nanmin(np.r_[vals, loss_opt[np.isfinite(loss_opt)]]))
    q = float(np.quantile(vals, 0.8))
    span = max(q - lo, 1e-3 * max(abs(lo), 1e-12))
    top = min(float(vals.max()), lo + 1.25 * span)
    if top <= lo:
        top = lo + span
    return top + 0.04 * (top - lo), lo - 0.06 * (top - lo)


# ---------------------------------------------------------------- laws
