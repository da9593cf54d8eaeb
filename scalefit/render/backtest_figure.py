"""The figure of a ``BacktestResult``: predicted vs measured optimum, with the PIs."""

from __future__ import annotations

import numpy as np

from .figure_kit import new_figure, save_figure, tidy_log
from .format import group_label


def backtest_figure(res, path=None):
    """Predicted lr_opt (with its PI) against the measured one (with its CI), one colour per
    group, the line of equality; saved as ``path`` (PNG + SVG) when given."""
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    lo_all, hi_all = [], []
    for i, g in enumerate(res.groups()):
        pts = [p for p in res.points if dict(p["group"]) == g]
        m = np.array([p["lr_measured"] for p in pts])
        y = np.array([p["lr_pred"] for p in pts])
        pi = np.array([p["lr_pred_pi"] or [np.nan, np.nan] for p in pts]).T
        ci = np.array([p["lr_measured_ci"] or [np.nan, np.nan] for p in pts]).T
        ax.errorbar(m, y, yerr=np.abs(pi - y), xerr=np.abs(ci - m), fmt="o", ms=4,
                    capsize=2, color=f"C{i % 10}", label=group_label(g) if g else None)
        lo_all += [np.nanmin([m.min(), y.min(), *pi[0]])]
        hi_all += [np.nanmax([m.max(), y.max(), *pi[1]])]
    lo, hi = min(lo_all) / 1.2, max(hi_all) * 1.2
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    tidy_log(ax, "x")
    tidy_log(ax, "y")
    ax.set_xlabel("measured lr_opt (full data)")
    ax.set_ylabel(f"predicted lr_opt ({res.level * 100:g}% PI)")
    ax.set_title(f"Backtest along {res.axis}: {len(res.points)} held-out optima", fontsize=10)
    if len(res.groups()) > 1:
        ax.legend(fontsize=7, ncol=2)
    if path is not None:
        save_figure(fig, str(path).rsplit(".", 1)[0] if str(path).endswith((".png", ".svg"))
                    else path)
    return fig
