"""Figures of a fit: LR sweeps with their parabolas, laws with bootstrap bands, comparisons.

Object-oriented matplotlib only (``Figure`` + ``FigureCanvasAgg``): nothing touches
pyplot's global state, so figures can be made from threads, servers and tests. Every
function returns a ``Figure``; ``save_figure`` writes it as PNG and SVG.

* ``sweeps_figure``: loss vs LR for every sweep (small multiples, one panel per
  (scale, horizon), one colour per ``by`` group), the fitted parabola, the optimum with
  its interval, runs above the axis as open triangles and diverged runs as crosses at
  the top edge.
* ``law_figure``: ``lr_opt`` (or ``curvature``) vs scale and vs horizon on log-log axes,
  coloured by the other variable, with the fitted law and its bootstrap band.
* ``compare_figure``: the parameterization comparison: ``lr_opt`` vs scale per group,
  and the ratio of optimal losses to the reference group vs scale.

The parabola of a sweep is rebuilt from its optimum: with ``x = ln lr`` the fitted
quadratic is exactly ``L(x) = loss_opt + curvature * (x - ln lr_opt)^2``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
MAX_PANELS = 30
ROLE_LABEL = {"scale": "scale", "horizon": "horizon (tokens)", "lr": "learning rate"}


# ---------------------------------------------------------------- helpers


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A Figure with an Agg canvas attached (no pyplot)."""
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def log_axes(ax, x: bool = True, y: bool = False) -> None:
    """Put the chosen axes on a log scale (call ``tidy_log`` once the data are drawn)."""
    if x:
        ax.set_xscale("log")
    if y:
        ax.set_yscale("log")


def tidy_log(ax, which: str, counts: bool = False) -> None:
    """Readable ticks on a log axis whatever its span; few tick objects, so drawing is fast.

    Spans under ~1 decade get labels at 1, 2, 3, 5 x 10^k; wider ones at 1 (and 3) x 10^k.
    ``counts`` labels like 20M / 2.5B (scale, tokens); otherwise like 3e-4.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    if not (lo > 0 and hi > lo):
        return
    decades = math.log10(hi / lo)
    if decades < 1.1:
        major, minor = (1.0, 2.0, 3.0, 5.0), None
    elif decades < 2.6:
        major, minor = (1.0, 3.0), None
    else:
        major, minor = (1.0,), (3.0,)
    axis.set_major_locator(LogLocator(base=10, subs=major, numticks=12))
    axis.set_minor_locator(LogLocator(base=10, subs=minor, numticks=12) if minor
                           else NullLocator())
    label = si if counts else sci
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: label(v)))
    axis.set_minor_formatter(NullFormatter())


def sci(v) -> str:
    """Compact number for tick labels: 0.0003 -> '3e-4', 0.05 -> '0.05', 12 -> '12'."""
    if v is None or not np.isfinite(v) or v == 0:
        return "0" if v == 0 else "-"
    if 1e-2 <= abs(v) < 1e4:
        return f"{v:.3g}"
    m, e = f"{v:.2e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def save_figure(fig: Figure, stem: str | Path, formats=("png", "svg"),
                dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (reproducible: no dates in the files)."""
    out = []
    stem = Path(stem)
    for ext in formats:
        path = stem.with_suffix("." + ext)
        meta = {"Date": None} if ext == "svg" else ({"Software": None} if ext == "png" else None)
        fig.savefig(path, format=ext, dpi=dpi, metadata=meta)
        out.append(path)
    return out


def si(v) -> str:
    """Compact count: 2e7 -> '20M', 2.5e9 -> '2.5B', 256 -> '256'."""
    if v is None or not np.isfinite(v):
        return "-"
    v = float(v)
    for base, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= base:
            return f"{v / base:.3g}{suffix}"
    return f"{v:.3g}"


def _fmt(v) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    v = float(v)
    return f"{v:.2e}" if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-2) else f"{v:.3g}"


def _group_label(key: tuple, by: list[str]) -> str:
    if not by:
        return "all runs"
    if len(by) == 1:
        return str(key[0])
    return ", ".join(f"{b}={v}" for b, v in zip(by, key))


def _group_keys(optima, by: list[str]) -> list[tuple]:
    if not by:
        return [()]
    keys = optima[by].drop_duplicates()
    return [tuple(r) for r in keys.itertuples(index=False)]


def _select(df, by: list[str], key: tuple):
    m = np.ones(len(df), dtype=bool)
    for b, v in zip(by, key):
        m &= (df[b] == v).to_numpy()
    return df[m]


def _colour_of(keys: list[tuple]) -> dict:
    """Colours of the groups: ordered (viridis) for one numeric column, else categorical."""
    from matplotlib import colormaps

    if keys and all(len(k) == 1 and _is_number(k[0]) for k in keys) and len(keys) > 3:
        vals = np.array([float(k[0]) for k in keys])
        t = np.log(vals) if np.all(vals > 0) else vals
        t = (t - t.min()) / (np.ptp(t) or 1.0)
        cmap = colormaps["viridis"]
        return {k: cmap(0.05 + 0.85 * ti) for k, ti in zip(keys, t)}
    if len(keys) <= len(GROUP_COLOURS):
        return {k: GROUP_COLOURS[i] for i, k in enumerate(keys)}
    cmap = colormaps["tab20"]
    return {k: cmap(i % 20) for i, k in enumerate(keys)}


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and bool(np.isfinite(v))


def _legend(ax, **kw) -> None:
    """A legend only when something carries a label (no matplotlib warning otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def _values_colours(values, cmap_name: str = "viridis") -> dict:
    """Colours for the distinct values of a continuous variable, spaced in log."""
    from matplotlib import colormaps

    vals = sorted({float(v) for v in values if np.isfinite(v)})
    cmap = colormaps[cmap_name]
    if len(vals) <= 1:
        return {v: cmap(0.35) for v in vals}
    lv = np.log(vals)
    t = (lv - lv.min()) / (lv.max() - lv.min())
    return {v: cmap(0.05 + 0.8 * ti) for v, ti in zip(vals, t)}


def _nearest(mapping: dict, v: float):
    return mapping[min(mapping, key=lambda k: abs(math.log(k) - math.log(v)))]


def _law_matches(law, by: list[str], key: tuple) -> bool:
    return all(_same(law.group.get(b), v) for b, v in zip(by, key))


def _same(a, b) -> bool:
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b))
    except (TypeError, ValueError):
        return False


def primary_law(result, target: str, by: list[str], key: tuple):
    for law in result.laws:
        if law.target == target and law.primary and _law_matches(law, by, key):
            return law
    return None


def law_curve(law, values: dict, level: float) -> tuple[np.ndarray, np.ndarray | None]:
    """A power law evaluated on arrays ``values`` (variable -> (n,)): (y, band (2, n) or None)."""
    n = len(next(iter(values.values())))
    Z = np.column_stack([np.ones(n)] + [np.log(np.asarray(values[v], float))
                                        for v in law.variables])
    coef = np.array([math.log(law.params["C"])] + [law.params[p] for p in law.param_names[1:]])
    y = np.exp(Z @ coef)
    band = None
    if law.boot is not None and len(law.boot) >= 10:
        draws = law.boot @ Z.T  # (B, n) in log space
        with np.errstate(all="ignore"):
            lo_hi = np.nanquantile(np.where(np.isfinite(draws), draws, np.nan),
                                   [(1 - level) / 2, (1 + level) / 2], axis=0)
        if np.all(np.isfinite(lo_hi)):
            band = np.exp(lo_hi)
    return y, band


def _grid(v: np.ndarray, pad: float = 1.25, n: int = 60) -> np.ndarray:
    lo, hi = float(np.min(v)), float(np.max(v))
    return np.geomspace(lo / pad, hi * pad, n)


def _law_text(law) -> str:
    parts = []
    for name in law.param_names[1:]:
        ci = law.ci.get(name)
        rng = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci and None not in ci else ""
        parts.append(f"{name} = {law.params[name]:.3g}{rng}")
    return ", ".join(parts)


def axis_label(result, role: str) -> str:
    """'scale (n_params)': the role and, when it differs, the source column."""
    base = ROLE_LABEL.get(role, role)
    col = (result.input.get("columns") or {}).get(role)
    return base if col in (None, role) else f"{base}: {col}"


def _message_figure(text: str) -> Figure:
    fig = new_figure(6, 2.2)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11)
    ax.set_axis_off()
    return fig


# ---------------------------------------------------------------- sweeps


def sweeps_figure(result, runs, max_panels: int = MAX_PANELS) -> Figure:
    """Loss vs LR for every sweep with the fitted parabola and the optimum (see module doc).

    One panel per (scale, horizon), one colour per ``by`` group. The parabola is solid
    over the LRs its fit used (``window`` grid steps around the best LR) and dashed
    beyond them.
    """
    opt = result.optima
    data = runs.data
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
    window = int(result.settings.get("window", 2))
    sweep_cols = by + roles
    # Runs of every sweep, looked up by the sweep's key values.
    run_sets = {(): data} if not sweep_cols else {
        (k if isinstance(k, tuple) else (k,)): g
        for k, g in data.groupby(sweep_cols, sort=False, dropna=False)}
    panel_of = [tuple(r) for r in opt[roles].itertuples(index=False)] if roles else [()] * len(opt)

    for i, pvals in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        rows = [j for j, pv in enumerate(panel_of) if pv == pvals]
        sweeps = []
        for j in rows:
            o = opt.iloc[j]
            rk = tuple(o[c] for c in sweep_cols)
            sweeps.append((o, _lookup(run_sets, rk)))
        finite = np.concatenate([r.loc[~r["diverged"], "loss"].to_numpy() for _, r in sweeps
                                 if r is not None] or [np.array([])])
        top, bottom = _loss_limits(finite, opt["loss_opt"].to_numpy()[rows])
        # x range: the LRs tried, one octave beyond; wider CIs are cut with an arrow
        tried = np.concatenate([r["lr"].to_numpy() for _, r in sweeps if r is not None]
                               or [np.array([])])
        xlim = (tried.min() / 2, tried.max() * 2) if tried.size else None
        notes = []
        for o, r in sweeps:
            key = tuple(o[b] for b in by)
            c = colours.get(key, "k")
            if r is None:
                continue
            ok_runs = r[~r["diverged"]]
            lr, loss = ok_runs["lr"].to_numpy(), ok_runs["loss"].to_numpy()
            inside = loss <= top
            # Line2D with markers only: much cheaper to build and draw than scatter.
            ax.plot(lr[inside], loss[inside], ls="none", marker="o", ms=3.2, color=c,
                    alpha=0.75, mew=0, zorder=3)
            if (~inside).any():
                ax.plot(lr[~inside], np.full((~inside).sum(), top), ls="none", marker="^",
                        ms=4.2, mfc="none", mec=c, mew=0.9, zorder=3, clip_on=False)
            div = r.loc[r["diverged"], "lr"].to_numpy()
            if div.size:
                ax.plot(div, np.full(div.size, top), ls="none", marker="x", ms=4.8, color=c,
                        mew=1.2, zorder=4, clip_on=False)
            if o["status"] == "ok" and np.isfinite(o["lr_opt"]) and lr.size:
                _parabola(ax, o, np.unique(lr), window, top, bottom, c)
                lo, hi = o["lr_opt_lo"], o["lr_opt_hi"]
                if np.isfinite(lo) and np.isfinite(hi):
                    _ci_bar(ax, lo, hi, o["loss_opt"], xlim, c)
                ax.plot([o["lr_opt"]], [o["loss_opt"]], ls="none", marker="*", ms=10, color=c,
                        mec="k", mew=0.5, zorder=6)
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


def _ci_bar(ax, lo: float, hi: float, y: float, xlim, c) -> None:
    """A horizontal interval [lo, hi] at height y; an end beyond `xlim` is cut there and
    drawn as an arrow pointing on."""
    a, b = (lo, hi) if xlim is None else (max(lo, xlim[0]), min(hi, xlim[1]))
    ax.plot([a, b], [y, y], color=c, lw=1.6, zorder=5)
    for x, cut, mark in ((a, a > lo, "<"), (b, b < hi, ">")):
        ax.plot([x], [y], ls="none", marker=mark if cut else "|", ms=5 if cut else 6,
                mew=1.6, color=c, zorder=5, clip_on=False)


def _lookup(run_sets: dict, key: tuple):
    hit = run_sets.get(key)
    if hit is not None:
        return hit
    for k, v in run_sets.items():  # float keys that differ in the last bit
        if len(k) == len(key) and all(_same(a, b) for a, b in zip(k, key)):
            return v
    return None


def _parabola(ax, o, levels: np.ndarray, window: int, top: float, bottom: float, c) -> None:
    """The fitted quadratic: solid over its fit window, dashed beyond, clipped to the axes."""
    x = np.log(levels)
    x0 = math.log(o["lr_opt"])
    jb = int(np.argmin(np.abs(x - math.log(o["lr_best"])))) if np.isfinite(o["lr_best"]) else 0
    lo_j, hi_j = max(0, jb - window), min(len(x) - 1, jb + window)
    while hi_j - lo_j < 2 and (lo_j > 0 or hi_j < len(x) - 1):
        lo_j, hi_j = max(0, lo_j - 1), min(len(x) - 1, hi_j + 1)
    limit = top + 0.02 * (top - bottom)

    def draw(a, b, **kw):
        if b <= a:
            return
        xs = np.linspace(a, b, 80)
        ys = o["loss_opt"] + o["curvature"] * (xs - x0) ** 2
        keep = ys <= limit
        ax.plot(np.exp(xs[keep]), ys[keep], color=c, zorder=2, **kw)

    draw(x[lo_j], x[hi_j], lw=1.4)
    draw(x[0], x[lo_j], lw=0.9, ls="--", alpha=0.6)
    draw(x[hi_j], x[-1], lw=0.9, ls="--", alpha=0.6)


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


def law_figure(result, target: str = "lr_opt", variables=("scale", "horizon")) -> Figure:
    """``target`` (lr_opt or curvature) vs each of ``variables`` per group, law and band.

    Points are the ok optima with their intervals, coloured by the other variable; the
    line is the group's primary law evaluated at each value of the other variable, the
    band its bootstrap interval.
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
    keys = [k for k in _group_keys(opt, by) if len(_select(ok, by, k))]
    level = result.settings.get("ci", 0.95)
    panels = [(k, v) for k in keys for v in variables]
    ncols = len(variables) if len(variables) > 1 else min(3, len(keys))
    nrows = math.ceil(len(panels) / ncols)
    width, height = 4.4 * ncols + 0.4, 3.1 * nrows + 0.9
    fig = new_figure(width, height, layout=None)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, top=1 - 0.85 / height,
                        bottom=0.55 / height, wspace=0.25, hspace=0.5)
    lo_col, hi_col = f"{target}_lo", f"{target}_hi"
    ylabel = "optimal learning rate" if target == "lr_opt" else "curvature (loss per (ln lr)^2)"
    laws = {k: primary_law(result, target, by, k) for k in keys}
    for i, (key, var) in enumerate(panels):
        pts = _select(ok, by, key)
        law = laws[key]
        ax = fig.add_subplot(nrows, ncols, i + 1)
        other = next((v for v in ("scale", "horizon") if v != var and v in pts), None)
        cmap = _values_colours(pts[other]) if other else {}
        for val, sub in (pts.groupby(other, sort=True) if other else [(None, pts)]):
            col = cmap.get(float(val), GROUP_COLOURS[0]) if other else GROUP_COLOURS[0]
            y = sub[target].to_numpy(float)
            yerr = None
            if lo_col in sub and np.all(np.isfinite(sub[[lo_col, hi_col]].to_numpy())):
                yerr = np.abs(np.vstack([y - sub[lo_col], sub[hi_col] - y]))
            lab = f"{'N' if other == 'scale' else 'D'} = {si(val)}" if other else None
            ax.errorbar(sub[var], y, yerr=yerr, fmt="o", ms=4.5, color=col, ecolor=col,
                        elinewidth=1, capsize=2, label=lab, zorder=3)
        if law is not None and var in law.variables:
            xs = _grid(pts[var].to_numpy(float))
            levels = sorted(pts[other].unique()) if len(law.variables) == 2 else [None]
            if len(levels) > 5:  # a readable few lines: spread over the range
                levels = [levels[i] for i in np.unique(np.linspace(0, len(levels) - 1, 5)
                                                       .round().astype(int))]
            alpha = 0.16 if len(levels) <= 2 else 0.09
            for val in levels:
                vals = {var: xs} if val is None else {var: xs, other: np.full_like(xs, val)}
                yl, band = law_curve(law, vals, level)
                col = cmap.get(float(val), "k") if val is not None else "k"
                ax.plot(xs, yl, color=col, lw=1.4, zorder=2)
                if band is not None:
                    ax.fill_between(xs, band[0], band[1], color=col, alpha=alpha, lw=0,
                                    zorder=1)
        log_axes(ax, x=True, y=True)
        tidy_log(ax, "x", counts=True)
        tidy_log(ax, "y")
        ax.grid(True, which="both", alpha=0.2)
        ax.tick_params(labelsize=8)
        ax.set_xlabel(axis_label(result, var), fontsize=9)
        if i % ncols == 0:
            ax.set_ylabel(ylabel, fontsize=9)
        title = _group_label(key, by) if by else ""
        if law is not None and var in law.variables:
            title = (title + ": " if title else "") + _law_text(law)
        ax.set_title(title, fontsize=8.5 if len(title) <= 52 else 7.5)
        if other and pts[other].nunique() <= 8:
            _legend(ax, fontsize=7, frameon=False)
    what = "Optimal learning rate" if target == "lr_opt" else "Curvature of the loss valley"
    form = next((law.form for law in result.laws if law.target == target and law.primary), "")
    fig.suptitle(f"{what}" + (f":  {form}" if form else "")
                 + f"\n(line: fitted law; band: {level * 100:g}% bootstrap interval)",
                 fontsize=10.5, y=1 - 0.1 / height, va="top")
    return fig


# ---------------------------------------------------------------- comparison


def compare_figure(result) -> Figure:
    """lr_opt vs scale per group and the loss_opt ratio to the reference vs scale."""
    opt = result.optima
    by = list(result.by)
    tq = result.transfer
    if not by or tq is None or "scale" not in opt:
        return _message_figure("No comparison: needs --by groups and a scale column.")
    level = result.settings.get("ci", 0.95)
    H = tq.horizon
    ok = opt[(opt["status"] == "ok") & np.isfinite(opt["lr_opt"])]
    if H is not None and "horizon" in ok:
        ok = ok[np.isclose(ok["horizon"], H)]
    keys = [k for k in _group_keys(opt, by) if len(_select(ok, by, k))]
    if not keys:
        return _message_figure("No comparison: no group has an ok optimum.")
    colours = _colour_of(_group_keys(opt, by))
    ref = tq.reference
    ref_key = tuple(ref[b] for b in by) if isinstance(ref, dict) else (ref,)
    ref_key = next((k for k in keys if all(_same(a, b) for a, b in zip(k, ref_key))), None)

    fig = new_figure(10.5, 4.4, layout=None)
    fig.subplots_adjust(left=0.08, right=0.985, top=0.84, bottom=0.12, wspace=0.25)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for key in keys:
        pts = _select(ok, by, key).sort_values("scale")
        c = colours[key]
        y = pts["lr_opt"].to_numpy(float)
        yerr = None
        if np.all(np.isfinite(pts[["lr_opt_lo", "lr_opt_hi"]].to_numpy())):
            yerr = np.abs(np.vstack([y - pts["lr_opt_lo"], pts["lr_opt_hi"] - y]))
        ax1.errorbar(pts["scale"], y, yerr=yerr, fmt="o", ms=5, color=c, capsize=2,
                     label=_group_label(key, by), zorder=3)
        law = primary_law(result, "lr_opt", by, key)
        if law is not None and "scale" in law.variables and len(pts) >= 2:
            xs = _grid(pts["scale"].to_numpy(float))
            vals = {"scale": xs}
            if "horizon" in law.variables:
                if H is None:
                    continue
                vals["horizon"] = np.full_like(xs, H)
            yl, band = law_curve(law, vals, level)
            ax1.plot(xs, yl, color=c, lw=1.4)
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
    ax1.set_title(f"Optimal LR vs scale{at}", fontsize=10)

    ax2.axhline(0.0, color=colours.get(ref_key, "k"), lw=1.2, ls="-")
    R_inf = {tuple(g["group"][b] for b in by): g.get("R_inf") for g in tq.groups}
    if ref_key is not None:
        ref_pts = _select(ok, by, ref_key)[["scale", "loss_opt", "_g"]]
        for key in keys:
            if key == ref_key:
                continue
            pts = _select(ok, by, key)[["scale", "loss_opt", "_g"]]
            m = pts.merge(ref_pts, on="scale", suffixes=("", "_ref")).sort_values("scale")
            if m.empty:
                continue
            c = colours[key]
            R = m["loss_opt"].to_numpy() / m["loss_opt_ref"].to_numpy() - 1
            yerr = None
            if result.boot is not None:
                Rb = (result.boot.loss_opt[:, m["_g"].to_numpy()]
                      / result.boot.loss_opt[:, m["_g_ref"].to_numpy()] - 1)
                with np.errstate(all="ignore"):
                    q = np.nanquantile(Rb, [(1 - level) / 2, (1 + level) / 2], axis=0)
                if np.all(np.isfinite(q)):
                    yerr = np.abs(np.vstack([R - q[0], q[1] - R]))
            ax2.errorbar(m["scale"], R, yerr=yerr, fmt="o-", ms=5, color=c, capsize=2, lw=1,
                         label=_group_label(key, by))
            rinf = next((v for k, v in R_inf.items() if all(_same(a, b) for a, b in zip(k, key))),
                        None)
            if rinf is not None and np.isfinite(rinf):
                ax2.axhline(rinf, color=c, ls="--", lw=1, alpha=0.8)
    ref_name = _group_label(ref_key, by) if ref_key is not None else str(ref)
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
        ax2.set_title(f"Optimal loss relative to {ref_name} (dashed: R_inf)", fontsize=10)
    fig.suptitle(f"Comparison of the {', '.join(by)} groups ({level * 100:g}% bootstrap "
                 "intervals)", fontsize=11)
    return fig


# ---------------------------------------------------------------- all figures of a fit


def fit_figures(result, runs) -> dict[str, Figure]:
    """Every figure that applies to ``result``: name -> Figure (name is the file stem)."""
    figs = {"sweeps": sweeps_figure(result, runs)}
    opt = result.optima
    has_ok = bool((opt["status"] == "ok").any())
    varies = any(v in opt and opt[v].nunique() >= 2 for v in ("scale", "horizon"))
    if has_ok and varies:
        figs["lr_law"] = law_figure(result, "lr_opt")
        if "scale" in opt and opt["scale"].nunique() >= 2:
            figs["curvature"] = law_figure(result, "curvature", variables=("scale",))
    if result.by and result.transfer is not None and "scale" in opt:
        figs["compare"] = compare_figure(result)
    return figs
