"""The sweeps figure: loss vs learning rate for every sweep, as the fit saw it.

Small multiples, one panel per (scale, horizon), one colour per ``by`` group: the runs,
the fitted parabola (solid over the fit window the result records, dashed beyond), the
optimum with its interval, runs above the axis as open triangles and diverged runs as
crosses at the top edge. Everything comes from the result (its ``runs`` and ``optima``):
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
    MAX_PANELS,
    _colour_of,
    _group_keys,
    _group_label,
    log_axes,
    new_figure,
    si,
    tidy_log,
)


def sweeps_figure(result, max_panels: int = MAX_PANELS) -> Figure:
    """Loss vs LR for every sweep with the fitted parabola and the optimum (see module doc).

    One panel per (scale, horizon), one colour per ``by`` group. The parabola is solid
    over the LRs its fit used (the result's fit window) and dashed beyond them.
    """
    opt = result.optima
    by = list(result.by)
    roles = [r for r in ("scale", "horizon") if r in opt]
    keys = _group_keys(opt, by)
    colours = _colour_of(keys)
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
    height = 2.35 * nrows + 0.85 + 0.22 * leg_rows
    fig = new_figure(width, height, layout=None)  # constrained layout is slow for many panels
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, top=1 - 0.7 / height,
                        bottom=(0.5 + 0.22 * leg_rows) / height, wspace=0.28, hspace=0.45)
    level = result.settings.get("ci", 0.95)
    runs = result.runs or [None] * len(opt)  # per sweep: its runs' lr and loss (NaN: diverged)
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
        for o, r in sweeps:
            key = tuple(o[b] for b in by)
            c = colours.get(key, "k")
            if r is None:
                continue
            diverged = ~np.isfinite(r["loss"])
            lr, loss = np.asarray(r["lr"])[~diverged], np.asarray(r["loss"])[~diverged]
            inside = loss <= top
            # Line2D with markers only: much cheaper to build and draw than scatter.
            ax.plot(lr[inside], loss[inside], ls="none", marker="o", ms=3.2, color=c,
                    alpha=0.75, mew=0, zorder=3)
            if (~inside).any():
                ax.plot(lr[~inside], np.full((~inside).sum(), top), ls="none", marker="^",
                        ms=4.2, mfc="none", mec=c, mew=0.9, zorder=3, clip_on=False)
            div = np.asarray(r["lr"])[diverged]
            if div.size:
                ax.plot(div, np.full(div.size, top), ls="none", marker="x", ms=4.8, color=c,
                        mew=1.2, zorder=4, clip_on=False)
            if o["status"] == "ok" and np.isfinite(o["lr_opt"]) and lr.size:
                _parabola(ax, o, np.unique(lr), top, bottom, c)
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
        ax.tick_params(labelsize=7)
        title = "   ".join(f"{'N' if r == 'scale' else 'D'} = {si(v)}"
                           for r, v in zip(roles, pvals))
        ax.set_title(title or "all runs", fontsize=9)
        if notes:
            ax.text(0.02, 0.03, "\n".join(notes[:4]), transform=ax.transAxes, fontsize=7,
                    va="bottom", color="0.3")
        if i % ncols == 0:
            ax.set_ylabel("loss", fontsize=8)
        if i >= len(panels) - ncols:
            ax.set_xlabel("learning rate", fontsize=8)

    handles = [Line2D([], [], color=colours[k], marker="o", ms=4, lw=1.3,
                      label=_group_label(k, by)) for k in keys if by]
    handles += [
        Line2D([], [], ls="none", marker="*", ms=9, color="0.4", mec="k", mew=0.5,
               label=f"fitted optimum ({level * 100:g}% CI)"),
        Line2D([], [], ls="--", lw=0.9, color="0.4", label="parabola outside its fit window"),
        Line2D([], [], ls="none", marker="^", ms=5, mfc="none", color="0.4",
               label="run above the axis"),
        Line2D([], [], ls="none", marker="x", ms=5, color="0.4", label="diverged run"),
    ]
    fig.legend(handles=handles, loc="lower center", ncols=leg_cols, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    head = "Loss vs learning rate per sweep; the parabola in ln lr is fitted around the best LR"
    if width < 10:
        head = "Loss vs learning rate per sweep\n(parabola in ln lr fitted around the best LR)"
    if n_all > len(panels):
        head += f" (first {len(panels)} of {n_all} panels)"
    fig.suptitle(head, fontsize=11, y=1 - 0.12 / height, va="top")
    return fig


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


def _parabola(ax, o, levels: np.ndarray, top: float, bottom: float, c) -> None:
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

    draw(xa, xb, lw=1.4)
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
