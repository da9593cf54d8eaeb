"""The figure of a ``CurveFit``: measured against fitted loss curves, with bands.

One row of panels per ``by`` group (at most ``MAX_GROUP_PANELS``):

* **fitted runs**: each run's measured losses (dots, at most ``MAX_POINTS`` per run) and
  the law's curve at the measured steps, with the band of the curve (the percentile band
  of the bootstrap refits' curves, ``CurveFit.level``);
* **residuals**: ln measured - ln fitted per run against the step (0 dashed): where along
  the run the law misses;
* **predicted schedules** (only with ``predictions``, the group's ``CurvePrediction``s):
  each predicted curve with the band of the curve (dark) and of an observed loss (light:
  the curve's refits times the errors the law makes on runs it has not seen).

Measured curves are kept by ``fit_curves`` in memory only: a fit read from JSON has none,
and ``curve_figure`` says so (refit from the table).
"""

from __future__ import annotations

import numpy as np

from ..errors import ScalefitInputError
from .figure_kit import GROUP_COLOURS, MAX_GROUP_PANELS, new_figure, plain, si
from .format import group_text

MAX_POINTS = 400  # measured points drawn per run (evenly thinned; the fit used them all)
MAX_RUNS = len(GROUP_COLOURS)  # runs drawn per panel; the others are named in a note


def _ylim(ax, values: list[np.ndarray]) -> None:
    """From the lowest value to the 95th percentile (the first steps' losses are far above
    the rest and would flatten every curve)."""
    v = np.concatenate([x[np.isfinite(x)] for x in values if np.size(x)] or [np.zeros(0)])
    if v.size:
        lo, hi = float(v.min()), float(np.percentile(v, 95))
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * abs(hi) or 0.1
        ax.set_ylim(lo - pad, hi + pad)


def curve_figure(fit, predictions=(), path=None):
    """The figure (a matplotlib Figure; module doc); saved as ``path`` (PNG + SVG) when
    given. ``predictions``: ``CurvePrediction``s to draw in their group's row."""
    if fit.observed is None:
        raise ScalefitInputError("this curve fit has no measured curves (a fit read from JSON "
                                 "keeps none): refit it from the table to draw its figure")
    groups = list(zip(fit.groups, fit.observed))[:MAX_GROUP_PANELS]
    preds = [[p for p in predictions if dict(p.group) == dict(g["group"])]
             for g, _ in groups]
    ncol = 3 if any(preds) else 2
    fig = new_figure(4.2 * ncol, 3.4 * len(groups))
    lvl = fit.level
    for row, ((g, _), mine) in enumerate(zip(groups, preds)):
        who = group_text(dict(g["group"])) if g["group"] else ""
        ax = fig.add_subplot(len(groups), ncol, row * ncol + 1)
        res = fig.add_subplot(len(groups), ncol, row * ncol + 2)
        curves = fit.fitted_curves(dict(g["group"]), MAX_POINTS)
        shown, drawn = curves[:MAX_RUNS], []
        for i, r in enumerate(shown):
            c = GROUP_COLOURS[i % len(GROUP_COLOURS)]
            steps, loss = r["steps"], r["loss"]
            ax.plot(steps, loss, ".", ms=2, color=c, alpha=0.5)
            ax.plot(steps, r["fit"], "-", lw=1.2, color=c, label=plain(str(r["run"]), 24))
            if "mean_lo" in r:
                ax.fill_between(steps, r["mean_lo"], r["mean_hi"], color=c, alpha=0.25, lw=0)
            res.plot(steps, np.log(loss) - np.log(r["fit"]), "-", lw=0.8, color=c)
            drawn += [loss, r["fit"]]
        _ylim(ax, drawn)
        res.axhline(0.0, color="0.4", lw=0.8, ls="--")
        band = f", {lvl * 100:g}% band of the curve" if g["draws"] is not None else ""
        ax.set_title(plain(f"{who + ': ' if who else ''}measured (dots) and fitted{band}",
                           70), fontsize=9)
        _step_axis(ax)
        ax.set_ylabel("loss")
        ax.legend(fontsize=7, ncol=2)
        if len(curves) > len(shown):
            ax.text(0.02, 0.02, f"{len(curves) - len(shown)} more runs not drawn",
                    transform=ax.transAxes, fontsize=7, color="0.3")
        res.set_title(plain(f"{who + ': ' if who else ''}residuals, ln measured - ln fitted",
                            70), fontsize=9)
        _step_axis(res)
        res.set_ylabel("ln residual")
        if mine:
            pa = fig.add_subplot(len(groups), ncol, row * ncol + 3)
            _predictions(pa, mine, who, g["range"]["step"][1])
    return _save(fig, path)


def _step_axis(ax) -> None:
    """Steps labelled compactly (24K, 72K): long runs' tick labels do not run together."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: si(v)))
    ax.set_xlabel("step")


def _predictions(ax, preds, who: str, fitted_top=None) -> None:
    from ..schedule_spec import format_schedule

    drawn = []
    for i, p in enumerate(preds):
        c = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        v, s = p.values, np.asarray(p.steps)
        ax.plot(s, v["loss"], "-", lw=1.2, color=c,
                label=plain(format_schedule(p.schedule), 40))
        if "lo" in v:
            ax.fill_between(s, v["lo"], v["hi"], color=c, alpha=0.15, lw=0)
            ax.fill_between(s, v["mean_lo"], v["mean_hi"], color=c, alpha=0.35, lw=0)
            drawn += [v["lo"], v["hi"]]
        drawn.append(v["loss"])
    _ylim(ax, drawn)
    lvl = f"{preds[0].level * 100:g}%"
    ax.set_title(plain(f"{who + ': ' if who else ''}predicted ({lvl}: curve dark, observed "
                       "loss light)", 70), fontsize=9)
    if fitted_top and max(np.max(p.steps) for p in preds) > 1.05 * fitted_top:
        ax.axvline(fitted_top, color="0.4", lw=0.8, ls=":", label="longest step fitted")
    _step_axis(ax)
    ax.set_ylabel("loss")
    ax.legend(fontsize=6)


def _save(fig, path):
    if path is not None:
        from .figure_kit import save_figure

        stem = str(path)
        save_figure(fig, stem.rsplit(".", 1)[0] if stem.endswith((".png", ".svg")) else stem)
    return fig
