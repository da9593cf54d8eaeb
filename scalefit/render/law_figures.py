"""Law figures: the optimum (or curvature) against scale and horizon with each group's
law and its bootstrap band, and the comparison of groups (optimal LR vs scale, optimal
loss relative to the reference). Curves, bands and loss ratios come from the result's
laws (``Law.curve``) and transfer quality (``R_curve``); nothing is refitted here.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .figure_kit import (
    GROUP_COLOURS,
    MAX_GROUP_PANELS,
    MAX_OVERLAID,
    _grid,
    _group_keys,
    _group_label,
    _law_text,
    _legend,
    _message_figure,
    _same,
    _select,
    _style_of,
    _values_colours,
    axis_label,
    coincide_text,
    coincident,
    figure_note,
    interval_bars,
    log_axes,
    new_figure,
    plain,
    primary_law,
    shown_groups,
    si,
    tidy_log,
)


def _bars(ax, pts, var: str, target: str, colour, **kw) -> None:
    """The optima `pts` of `target` against `var` with their intervals: open-ended ones
    (lr_opt past the LRs tried) as arrows to the grid's edge, every finite one as a bar."""
    nan = np.full(len(pts), np.nan)
    col = lambda name: pts[name].to_numpy(float) if name in pts else nan  # noqa: E731
    open_ = pts[f"{target}_ci_open"].tolist() if f"{target}_ci_open" in pts else None
    edges = {}
    if target == "lr_opt":
        edges = dict(edge_lo=col("lr_tried_lo"), edge_hi=col("lr_tried_hi"))
    interval_bars(ax, pts[var].to_numpy(float), pts[target].to_numpy(float),
                  col(f"{target}_lo"), col(f"{target}_hi"), open_, color=colour, **edges, **kw)


def law_figure(result, target: str = "lr_opt", variables=("scale", "horizon"),
               show=None) -> Figure:
    """``target`` (lr_opt or curvature) vs each of ``variables`` per group, law and band.

    Points are the ok optima with their intervals, coloured by the other variable; the
    line is the group's primary law evaluated at each value of the other variable, the
    band its bootstrap interval. Every panel has the same y range, so that slopes compare
    across groups. ``show``: the labels of the groups to draw (default: all, or the first
    ``MAX_GROUP_PANELS`` with a note).
    """
    opt = result.optima
    by = list(result.by)
    ok = opt[(opt["status"] == "ok") & np.isfinite(opt[target])]
    if target == "curvature":
        ok = ok[ok["curvature"] > 0]
    variables = [v for v in variables if v in ok and ok[v].nunique() >= 2]
    if ok.empty or not variables:
        return _message_figure(f"No {target} law to draw: it needs ok optima at two or more "
                               "scales or horizons.")
    chosen, left_out = shown_groups(result, show, MAX_GROUP_PANELS)
    keys = [k for k in chosen if len(_select(ok, by, k))]
    if not keys:
        return _message_figure(f"No {target} law to draw: no group shown has ok optima.")
    level = result.settings.get("ci", 0.95)
    panels = [(k, v) for k in keys for v in variables]
    ncols = len(variables) if len(variables) > 1 else min(3, len(keys))
    nrows = math.ceil(len(panels) / ncols)
    foot = 0.25 if left_out else 0.0
    width, height = 4.0 * ncols + 0.5, 2.9 * nrows + 0.9 + foot
    fig = new_figure(width, height, layout=None)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, top=1 - 0.85 / height,
                        bottom=(0.55 + foot) / height, wspace=0.25, hspace=0.5)
    ylabel = "optimal learning rate" if target == "lr_opt" else "curvature (loss per (ln lr)^2)"
    laws = {k: primary_law(result, target, by, k) for k in keys}
    # one colour per value of the other variable across every panel, one legend for all
    others = {v: _values_colours(ok[v]) for v in ("scale", "horizon") if v in ok}
    axes = []
    for i, (key, var) in enumerate(panels):
        pts = _select(ok, by, key)
        law = laws[key]
        ax = fig.add_subplot(nrows, ncols, i + 1)
        axes.append(ax)
        other = next((v for v in ("scale", "horizon") if v != var and v in pts), None)
        cmap = others.get(other, {})
        for val, sub in (pts.groupby(other, sort=True) if other else [(None, pts)]):
            col = cmap.get(float(val), GROUP_COLOURS[0]) if other else GROUP_COLOURS[0]
            lab = f"{'N' if other == 'scale' else 'D'} = {si(val)}" if other else None
            _bars(ax, sub, var, target, col, fmt="o", ms=4.5, label=lab, zorder=3)
        if law is not None and var in law.variables:
            xs = _grid(pts[var].to_numpy(float))
            levels = sorted(pts[other].unique()) if len(law.variables) == 2 else [None]
            if len(levels) > 5:  # a readable few lines: spread over the range
                levels = [levels[i] for i in np.unique(np.linspace(0, len(levels) - 1, 5)
                                                       .round().astype(int))]
            alpha = 0.16 if len(levels) <= 2 else 0.09
            for val in levels:
                vals = {var: xs} if val is None else {var: xs, other: np.full_like(xs, val)}
                yl, band = law.curve(vals, level)
                col = cmap.get(float(val), "k") if val is not None else "k"
                ax.plot(xs, yl, color=col, lw=1.4, zorder=2)
                if band is not None:
                    ax.fill_between(xs, band[0], band[1], color=col, alpha=alpha, lw=0,
                                    zorder=1)
        log_axes(ax, x=True, y=True)
        tidy_log(ax, "x", counts=True)
        ax.grid(True, which="both", alpha=0.2)
        ax.tick_params(labelsize=8)
        ax.set_xlabel(axis_label(result, var), fontsize=9)
        if i % ncols == 0:
            ax.set_ylabel(ylabel, fontsize=9)
        title = _group_label(key, by) if by else ""
        if law is not None and var in law.variables:
            title = (title + ": " if title else "") + _law_text(law)
        ax.set_title(title, fontsize=8.5 if len(title) <= 52 else 7.5)
        # a legend of the other variable's values only where they vary, in one panel
        if i < ncols and other and ok[other].nunique() >= 2 and len(cmap) <= 8:
            # over the points it may cover: a light box keeps both readable; two columns
            # keep a long list short
            _legend(ax, fontsize=7.5, frameon=True, framealpha=0.8, edgecolor="none",
                    ncols=2 if len(cmap) > 4 else 1)
    _share_log_y(axes)
    what = "Optimal learning rate" if target == "lr_opt" else "Curvature of the loss valley"
    form = next((law.form for law in result.laws if law.target == target and law.primary), "")
    fixed = [f"{'N' if v == 'scale' else 'D'} = {si(ok[v].iloc[0])}"
             for v in ("scale", "horizon") if v in ok and ok[v].nunique() == 1]
    at = f" at {', '.join(fixed)}" if fixed else ""
    fig.suptitle(f"{what}" + (f":  {form}" if form else "") + at
                 + f"\n(line: fitted law; band: {level * 100:g}% bootstrap interval; "
                 "one y range in every panel)",
                 fontsize=10.5, y=1 - 0.1 / height, va="top")
    figure_note(fig, left_out)
    return fig


def _share_log_y(axes) -> None:
    """One y range (the union of the panels') on every log-y panel, so that slopes compare."""
    lims = np.array([ax.get_ylim() for ax in axes], float)
    lims = lims[np.all(np.isfinite(lims) & (lims > 0), axis=1)]
    if not len(lims):
        return
    lo, hi = float(lims[:, 0].min()), float(lims[:, 1].max())
    for ax in axes:
        ax.set_ylim(lo, hi)
        tidy_log(ax, "y")


# ---------------------------------------------------------------- comparison


def compare_figure(result, show=None) -> Figure:
    """lr_opt vs scale per group and the loss_opt ratio to the reference vs scale.

    ``show``: the labels of the groups to draw (default: all, or the first
    ``MAX_OVERLAID``, the reference first, with a note); optima that coincide at a scale
    (e.g. every arm at the base width) are named in a note."""
    opt = result.optima
    by = list(result.by)
    tq = result.quality
    if not by or tq is None or "scale" not in opt:
        return _message_figure("No comparison: needs --by groups and a scale column.")
    level = result.settings.get("ci", 0.95)
    H = tq.horizon
    ok = opt[(opt["status"] == "ok") & np.isfinite(opt["lr_opt"])]
    if H is not None and "horizon" in ok:
        ok = ok[np.isclose(ok["horizon"], H)]
    chosen, left_out = shown_groups(result, show, MAX_OVERLAID)
    keys = [k for k in chosen if len(_select(ok, by, k))]
    if not keys:
        return _message_figure("No comparison: no group shown has an ok optimum.")
    styles = _style_of(chosen)
    colours = {k: st[0] for k, st in styles.items()}
    ref = tq.reference
    ref_key = tuple(ref[b] for b in by) if hasattr(ref, "keys") else (ref,)
    every = _group_keys(opt, by)  # the reference, drawn or not, names the ratios' baseline
    ref_key = next((k for k in every if all(_same(a, b) for a, b in zip(k, ref_key))), None)

    same = _coinciding_optima(ok, by, keys)[:2]  # named under the left panel's title
    foot = 0.25 if left_out else 0.0
    head = 0.95 + 0.16 * sum(s.count("\n") + 1 for s in same)
    height = 4.15 + head + foot
    fig = new_figure(10.5, height, layout=None)
    fig.subplots_adjust(left=0.08, right=0.985, top=1 - head / height,
                        bottom=(0.53 + foot) / height, wspace=0.25)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for key in keys:
        pts = _select(ok, by, key).sort_values("scale")
        c, mark, dash = styles[key]
        _bars(ax1, pts, "scale", "lr_opt", c, fmt=mark, ms=5, label=_group_label(key, by),
              zorder=3)
        law = primary_law(result, "lr_opt", by, key)
        if law is not None and "scale" in law.variables and len(pts) >= 2:
            xs = _grid(pts["scale"].to_numpy(float))
            vals = {"scale": xs}
            if "horizon" in law.variables:
                if H is None:
                    continue
                vals["horizon"] = np.full_like(xs, H)
            yl, band = law.curve(vals, level)
            ax1.plot(xs, yl, color=c, lw=1.4, ls=dash)
            if band is not None:
                ax1.fill_between(xs, band[0], band[1], color=c, alpha=0.14, lw=0)
    log_axes(ax1, x=True, y=True)
    tidy_log(ax1, "x", counts=True)
    tidy_log(ax1, "y")
    ax1.set_xlabel(axis_label(result, "scale"), fontsize=9)
    ax1.set_ylabel("optimal learning rate", fontsize=9)
    ax1.grid(True, which="both", alpha=0.2)
    _legend(ax1, fontsize=8, frameon=False, ncols=1 if len(keys) <= 8 else 2)
    at = f" at D = {si(H)}" if H is not None else ""
    ax1.set_title(f"Optimal LR vs scale{at}", fontsize=10, pad=6 + 11.5 * sum(
        s.count("\n") + 1 for s in same))
    if same:  # under the title: no data or legend hides it
        ax1.text(0.5, 1.015, "\n".join(same), transform=ax1.transAxes, ha="center",
                 va="bottom", fontsize=8, color="0.2")

    ax2.axhline(0.0, color=colours.get(ref_key, "k"), lw=1.2, ls="-")
    quality = {tuple(g["group"][b] for b in by): g for g in tq.groups}
    if ref_key is not None:
        for key in keys:
            g = next((v for k, v in quality.items() if all(_same(a, b) for a, b in zip(k, key))),
                     None)
            curve = None if (key == ref_key or g is None) else g.get("R_curve")
            if not curve or not len(curve["scale"]):
                continue
            c, mark, dash = styles[key]
            R = np.array([np.nan if v is None else v for v in curve["R"]], float)
            q = np.full((2, len(R)), np.nan)
            if curve.get("R_ci") is not None:  # each point's own interval, where it has one
                q = np.array([[np.nan if v is None else v for v in p] for p in curve["R_ci"]],
                             float).T
            interval_bars(ax2, curve["scale"], R, q[0], q[1], color=c, fmt=mark, ls=dash,
                          ms=5, lw=1, label=_group_label(key, by))
            rinf = g.get("R_inf")
            if rinf is not None and np.isfinite(rinf):
                ax2.axhline(rinf, color=c, ls="--", lw=1, alpha=0.8)
    ref_name = _group_label(ref_key, by) if ref_key is not None else plain(ref)
    if not ax2.containers:  # no group shares a scale with the reference
        ax2.clear()
        ax2.set_axis_off()
        where = f" at D = {si(H)}" if H is not None else ""
        ax2.text(0.5, 0.5, f"No group shares a scale with the reference ({ref_name}){where}\n"
                 "with an ok optimum: no loss ratio to show.", ha="center", va="center",
                 fontsize=9, color="0.3", transform=ax2.transAxes)
    else:
        log_axes(ax2)
        tidy_log(ax2, "x", counts=True)
        ax2.set_xlabel(axis_label(result, "scale"), fontsize=9)
        ax2.set_ylabel("loss_opt / loss_opt(reference) - 1", fontsize=9)
        ax2.grid(True, which="both", alpha=0.2)
        if len(keys) > 1:
            _legend(ax2, fontsize=8, frameon=False, ncols=1 if len(keys) <= 8 else 2)
        n_ni = sum(g.get("R_inf_identified") is False for g in tq.groups)
        ni = f"; R_inf not identified for {n_ni} group(s)" if n_ni else ""
        ax2.set_title(f"Optimal loss relative to {ref_name}\n(dashed: R_inf{ni})", fontsize=10)
    fig.suptitle(f"Comparison of the {', '.join(plain(b, 30) for b in by)} groups "
                 f"({level * 100:g}% bootstrap intervals)", fontsize=11)
    figure_note(fig, left_out)
    return fig


def _coinciding_optima(ok, by: list[str], keys: list[tuple]) -> list[str]:
    """'at N = 3.12K: sp, mup and sp_emb coincide here', for every scale where two or more
    groups' optima (lr_opt and its interval) are the same point."""
    out = []
    for scale, at in ok.groupby("scale", sort=True):
        rows = [(key, _select(at, by, key)) for key in keys]
        rows = [(key, r.iloc[0]) for key, r in rows if len(r)]
        sigs = [tuple(f"{r.get(c, np.nan):.9g}" for c in ("lr_opt", "lr_opt_lo", "lr_opt_hi"))
                for _, r in rows]
        for same in coincident(sigs):
            names = [_group_label(rows[j][0], by) for j in same]
            out.append(coincide_text(names, width=80, where=f"at N = {si(scale)}"))
    return out


# ---------------------------------------------------------------- all figures of a fit
