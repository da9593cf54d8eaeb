"""The joint figure: one panel per joint group (by group, scale, horizon) over (lr, bs).

Each panel draws what the ``JointFit`` holds: every run as a square coloured by its loss
relative to the group's best (diverged runs as crosses), the best observed cell, and for
an ``ok`` group the fitted surface's contours over its fit window (with ``x = ln lr``,
``y = ln bs`` the surface is exactly ``loss_opt + d^T K d``, d the distance from the
optimum), the optimum with its interval bars in lr and bs (an open end is not drawn), and
the valley floor (the best LR at each batch size, slope ``lr_bs_slope``).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .figure_kit import MAX_PANELS, log_axes, new_figure, si


def _title(row, by, column) -> str:
    parts = [f"{b}={row[b]}" for b in by]
    parts += [f"{r[0].upper()} {si(row[r])}" for r in ("scale", "horizon") if r in row]
    return ", ".join(parts) + f"  [{row['status']}]"


def joint_figure(joint, max_panels: int = MAX_PANELS) -> Figure:
    """The runs over (lr, bs) with the fitted optimum per joint group (see module doc)."""
    opt = joint.optima
    n = min(len(opt), max_panels)
    ncols = min(4, max(1, math.ceil(math.sqrt(n))))
    nrows = max(1, math.ceil(n / ncols))
    fig = new_figure(3.2 * ncols + 0.8, 2.9 * nrows + 0.6, layout=None)
    fig.subplots_adjust(left=0.08, right=0.9, top=1 - 0.95 / (2.9 * nrows + 0.6),
                        bottom=0.5 / (2.9 * nrows + 0.6), wspace=0.32, hspace=0.5)
    runs = joint.runs or [None] * len(opt)
    scatter = None
    for i in range(n):
        row = opt.iloc[i]
        ax = fig.add_subplot(nrows, ncols, i + 1)
        log_axes(ax, x=True, y=True)
        r = runs[i]
        if r is not None and len(r["lr"]):
            lr, bs, loss = (np.asarray(r[k], float) for k in ("lr", "bs", "loss"))
            fin = np.isfinite(loss)
            if fin.any():
                rel = loss[fin] / np.nanmin(loss[fin]) - 1
                scatter = ax.scatter(lr[fin], bs[fin], c=np.clip(rel, 0, 0.05), cmap="viridis_r",
                                     marker="s", s=28, vmin=0, vmax=0.05, linewidths=0)
            if (~fin).any():
                ax.scatter(lr[~fin], bs[~fin], marker="x", s=18, c="0.45", linewidths=0.8)
        ax.scatter([row["lr_best"]], [row["bs_best"]], marker="o", s=50, facecolors="none",
                   edgecolors="k", linewidths=1.0, zorder=3)
        if row["status"] == "ok":
            _surface(ax, row)
        ax.set_title(_title(row, joint.by, joint.column), fontsize=8)
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel(joint.column, fontsize=8)
        if i >= n - ncols:
            ax.set_xlabel("learning rate", fontsize=8)
    if scatter is not None:
        cax = fig.add_axes([0.92, 0.25, 0.015, 0.5])
        cb = fig.colorbar(scatter, cax=cax)
        cb.set_label("loss / best - 1 (capped at 5%)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    more = f" (first {n} of {len(opt)})" if len(opt) > n else ""
    fig.suptitle(f"Joint optimum per group{more}: runs (squares; x = diverged), best cell "
                 "(circle),\nfitted surface (contours at +0.5%, 1%, 2% of loss_opt), optimum "
                 "(star) with its intervals, valley floor (dashed)", fontsize=8)
    return fig


def _surface(ax, row) -> None:
    """Contours of loss_opt + d^T K d over the fit window, the optimum with its interval
    bars, and the valley floor ln lr = ln lr* + slope (ln bs - ln bs*)."""
    x0, y0 = math.log(row["lr_opt"]), math.log(row["bs_opt"])
    xs = np.linspace(math.log(row["lr_window_lo"]), math.log(row["lr_window_hi"]), 60)
    ys = np.linspace(math.log(row["bs_window_lo"]), math.log(row["bs_window_hi"]), 60)
    X, Y = np.meshgrid(xs, ys)
    dx, dy = X - x0, Y - y0
    L = row["loss_opt"] + row["k_lr"] * dx * dx + 2 * row["k_lr_bs"] * dx * dy + \
        row["k_bs"] * dy * dy
    levels = row["loss_opt"] * (1 + np.array([0.005, 0.01, 0.02]))
    ax.contour(np.exp(X), np.exp(Y), L, levels=levels, colors="C3", linewidths=0.8)
    ax.plot(np.exp(x0 + row["lr_bs_slope"] * (ys - y0)), np.exp(ys), "--", c="C3", lw=0.8)
    for lo, hi, horizontal in ((row["lr_opt_lo"], row["lr_opt_hi"], True),
                               (row["bs_opt_lo"], row["bs_opt_hi"], False)):
        if np.isfinite(lo) and np.isfinite(hi):
            if horizontal:
                ax.plot([lo, hi], [row["bs_opt"]] * 2, c="C3", lw=1.6)
            else:
                ax.plot([row["lr_opt"]] * 2, [lo, hi], c="C3", lw=1.6)
    ax.scatter([row["lr_opt"]], [row["bs_opt"]], marker="*", s=90, c="C3", zorder=4)
