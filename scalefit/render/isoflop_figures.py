"""IsoFLOP figures, drawn only from what an ``IsoflopResult`` holds.

* ``profiles``: loss vs N, one panel per ``by`` group, one colour per budget (viridis,
  spaced in log C): the runs, the fitted parabola ``L = loss_opt + curvature (ln N -
  ln N*)^2`` (solid over its fit window, dashed a little beyond), the optimum with its
  interval, diverged runs as crosses at the top.
* ``law``: N* and D* vs C on log axes, one colour per group: the optima with their
  intervals (hollow: not ``ok``, not in the law), the laws and their bootstrap bands.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .figure_kit import (
    MAX_PANELS,
    _grid,
    _group_keys,
    _group_label,
    _law_matches,
    _select,
    _values_colours,
    interval_bars,
    log_axes,
    new_figure,
    plain,
    tidy_log,
    values_colour_bar,
)


def isoflop_figures(result, which=None) -> dict[str, Figure]:
    """name -> Figure for ``which`` (default both: ``profiles``, ``law``)."""
    names = ("profiles", "law") if which is None else tuple(
        [which] if isinstance(which, str) else which)
    bad = set(names) - {"profiles", "law"}
    if bad:
        raise ValueError(f"unknown figure {sorted(bad)}; choose from profiles, law")
    makers = {"profiles": profiles_figure, "law": law_figure}
    return {n: makers[n](result) for n in names}


def _panels(n: int) -> tuple[int, int]:
    ncols = min(3, max(1, n))
    return ncols, math.ceil(n / ncols)


def _short(key: tuple, by: list[str]) -> str:
    """A panel title: the group's values joined by '/' (the columns are in the suptitle)."""
    return _group_label(key, by) if len(by) <= 1 else "/".join(plain(v, 30) for v in key)


def _heading(text: str, by: list[str], n_all: int, n_shown: int) -> str:
    if len(by) > 1:
        text += f"\npanels: {'/'.join(plain(b, 30) for b in by)}"
    if n_all > n_shown:
        text += f" (first {n_shown} of {n_all} groups)"
    return text


def profiles_figure(result, max_panels: int = MAX_PANELS) -> Figure:
    """Loss vs N for every profile, with its parabola and optimum (see module doc)."""
    prof, by = result.profiles, result.by
    all_keys = _group_keys(prof, by)
    keys = all_keys[:max_panels]
    colours = _values_colours(prof["budget"].to_numpy(float), "viridis")
    runs = result.runs or [None] * len(prof)
    ncols, nrows = _panels(len(keys))
    fig = new_figure(max(6.0, 4.2 * ncols + 0.6), 3.3 * nrows + 1.2)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sub = _select(prof, by, key)
        mine = [runs[j] for j in sub.index if runs[j] is not None]
        finite = np.concatenate([np.asarray(r["loss"])[np.isfinite(r["loss"])] for r in mine]
                                or [np.zeros(0)])
        tried = np.concatenate([np.asarray(r["N"], float) for r in mine] or [np.zeros(0)])
        top = _top(finite, [(runs[j], o) for j, o in sub.iterrows()])
        for j, o in sub.iterrows():
            c = colours.get(float(o["budget"]), "k")
            r = runs[j]
            if r is not None:
                n, loss = np.asarray(r["N"], float), np.asarray(r["loss"], float)
                ok = np.isfinite(loss)
                ax.plot(n[ok & (loss <= top)], loss[ok & (loss <= top)], ls="none", marker="o",
                        ms=3.2, color=c, alpha=0.8, mew=0, zorder=3)
                if (~ok).any():
                    ax.plot(n[~ok], np.full((~ok).sum(), top), ls="none", marker="x", ms=4.5,
                            color=c, mew=1.1, zorder=4, clip_on=False)
            if o["status"] == "ok" and np.isfinite(o["N_opt"]):
                _parabola(ax, o, c)
                lo, hi = o["N_opt_lo"], o["N_opt_hi"]
                open_ = o.get("N_opt_ci_open") or ""
                if not isinstance(open_, str):
                    open_ = ""
                # an open end runs to the edge of the sizes tried, with an arrow head there
                ends = [o.get("N_tried_lo", np.nan) if open_ in ("low", "both") else lo,
                        o.get("N_tried_hi", np.nan) if open_ in ("high", "both") else hi]
                if np.all(np.isfinite(ends)):
                    ax.plot(ends, [o["loss_opt"]] * 2, color=c, lw=1.6, alpha=0.9, zorder=5,
                            solid_capstyle="butt")
                    for side, end in (("low", ends[0]), ("high", ends[1])):
                        if open_ in (side, "both"):
                            ax.plot([end], [o["loss_opt"]], ls="none", color=c, zorder=5,
                                    marker="<" if side == "low" else ">", ms=5)
                ax.plot([o["N_opt"]], [o["loss_opt"]], ls="none", marker="*", ms=10, color=c,
                        mec="k", mew=0.5, zorder=6)
        log_axes(ax)
        if finite.size:
            span = top - finite.min()
            ax.set_ylim(finite.min() - 0.05 * span, top)
        if tried.size:  # the model sizes tried; wider intervals are cut at the edge
            ax.set_xlim(tried.min() / 1.5, tried.max() * 1.5)
        tidy_log(ax, "x", counts=True)
        ax.grid(True, which="major", alpha=0.25)
        ax.tick_params(labelsize=7)
        ax.set_title(_short(key, by), fontsize=9)
        ax.set_xlabel("model size N (parameters)", fontsize=8)
        if i % ncols == 0:
            ax.set_ylabel("loss", fontsize=8)
    handles = [Line2D([], [], color=c, marker="o", ms=4, lw=1.2, label=f"C = {v:.3g}")
               for v, c in sorted(colours.items())]
    if len(handles) > MAX_BUDGET_KEYS:  # too many to list: a colour bar of every budget
        values_colour_bar(fig, colours, "budget C (FLOPs)")
        handles = []
    handles.append(Line2D([], [], ls="none", marker="*", ms=9, color="0.4", mec="k", mew=0.5,
                          label=f"N* ({result.level * 100:g}% CI)"))
    fig.legend(handles=handles, loc="outside lower center",
               ncols=min(len(handles), 4 if ncols == 1 else 6),
               fontsize=7, frameon=False)
    fig.suptitle(_heading("IsoFLOP profiles: loss vs N per budget,\nparabola in ln N around "
                          "the best N", by, len(all_keys), len(keys)), fontsize=10)
    return fig


MAX_BUDGET_KEYS = 15  # budgets listed in the legend; more get a colour bar


def law_figure(result, max_panels: int = MAX_PANELS) -> Figure:
    """N* and D* vs the budget C with the laws and their bands, a panel per group."""
    prof, by = result.profiles, result.by
    all_keys = _group_keys(prof, by)
    keys = all_keys[:max_panels]
    ncols, nrows = _panels(len(keys))
    fig = new_figure(max(6.0, 4.2 * ncols + 0.6), 3.4 * nrows + 0.9)
    colours = {"N_opt": "#1f77b4", "D_opt": "#d62728"}
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sub = _select(prof, by, key)
        ok = (sub["status"] == "ok").to_numpy()
        x = sub["budget"].to_numpy(float)
        shown = []
        for target, marker in (("N_opt", "o"), ("D_opt", "s")):
            c = colours[target]
            y = sub[target].to_numpy(float)
            lo, hi = sub[target + "_lo"].to_numpy(float), sub[target + "_hi"].to_numpy(float)
            # an end past the sizes tried is an arrow to the edge tried, as lr_opt's
            tried = target.removesuffix("_opt")
            edges = {f"edge_{e}": sub[f"{tried}_tried_{e}"].to_numpy(float)[ok]
                     for e in ("lo", "hi") if f"{tried}_tried_{e}" in sub}
            opened = (sub[target + "_ci_open"].to_numpy()[ok]
                      if target + "_ci_open" in sub else None)
            interval_bars(ax, x[ok], y[ok], lo[ok], hi[ok], opened, color=c, fmt=marker,
                          ms=4, **edges)
            best = sub[target.replace("_opt", "_best")].to_numpy(float)
            ax.plot(x[~ok], best[~ok], ls="none", marker=marker, ms=5, mfc="none", mec=c)
            shown.append(np.r_[y[ok], best[~ok]])
            law = next((law for law in result.laws if law.target == target
                        and _law_matches(law, by, key)), None)
            if law is None:
                continue
            grid = _grid(np.asarray(law.value_range("C")), pad=1.5)
            line, band = law.curve({"C": grid})
            name = "a" if target == "N_opt" else "b"
            ci = law.ci.get(name)
            lab = (f"{'N*' if target == 'N_opt' else 'D*'} ~ C^{name}, {name} = "
                   f"{law.params[name]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]"
                                                 if ci and None not in ci else ""))
            ax.plot(grid, line, color=c, lw=1.3, label=lab)
            if band is not None:
                ax.fill_between(grid, band[0], band[1], color=c, alpha=0.18, lw=0)
        log_axes(ax, x=True, y=True)
        vals = np.concatenate(shown)
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:  # the optima, not the widest interval, set the axis
            ax.set_ylim(vals.min() / 3, vals.max() * 3)
        tidy_log(ax, "x")
        tidy_log(ax, "y", counts=True)
        ax.grid(True, which="major", alpha=0.25)
        ax.tick_params(labelsize=7)
        ax.set_title(_short(key, by), fontsize=9)
        ax.set_xlabel("compute budget C (FLOPs)", fontsize=8)
        if i % ncols == 0:
            ax.set_ylabel("N* (circles), D* (squares)", fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(_heading(f"Compute-optimal N* and D* vs C ({result.level * 100:g}% intervals "
                          "and bands;\nhollow: profiles not ok, best observed N)", by,
                          len(all_keys), len(keys)), fontsize=10)
    return fig


def _top(finite: np.ndarray, profiles) -> float:
    """The top of the loss axis: the highest run inside any profile's fit window, plus a
    margin, so every valley shows (runs far from their optimum may leave the axis)."""
    if not finite.size:
        return 1.0
    inside = [np.asarray(r["loss"], float)[(np.asarray(r["N"]) >= o["N_window_lo"] / 1.001)
                                           & (np.asarray(r["N"]) <= o["N_window_hi"] * 1.001)]
              for r, o in profiles if r is not None and np.isfinite(o["N_window_lo"])]
    inside = np.concatenate(inside or [np.zeros(0)])
    inside = inside[np.isfinite(inside)]
    hi = float(inside.max()) if inside.size else float(np.quantile(finite, 0.8))
    lo = float(finite.min())
    return hi + 0.15 * (hi - lo) if hi > lo else lo + 1.0


def _parabola(ax, o, c) -> None:
    """L = loss_opt + curvature (ln N - ln N*)^2 over the fit window (and a little beyond)."""
    lo, hi = o["N_window_lo"], o["N_window_hi"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return
    x0, k = math.log(o["N_opt"]), o["curvature"]
    pad = 0.25 * (math.log(hi) - math.log(lo))
    for a, b, ls in ((math.log(lo), math.log(hi), "-"), (math.log(lo) - pad, math.log(lo), "--"),
                     (math.log(hi), math.log(hi) + pad, "--")):
        x = np.linspace(a, b, 40)
        ax.plot(np.exp(x), o["loss_opt"] + k * (x - x0) ** 2, color=c, lw=1.1, ls=ls, alpha=0.85,
                zorder=2)
