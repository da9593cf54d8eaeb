"""What every figure shares: figures without pyplot, log axes and tick labels, colours,
group keys, the groups a figure shows (``shown_groups``), and ``save_figure`` (200 dpi
PNG and SVG, written atomically).

Object-oriented matplotlib only (``Figure`` + ``FigureCanvasAgg``): nothing touches
pyplot's global state, so figures can be made from threads, servers and tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import ScalefitInputError
from ..files import atomic_write
from .format import safe_text

# A qualitative palette (tab10's colours, then black): unrelated groups never get a light
# and a dark shade of one hue. Past these, colours repeat with other markers and dashes.
GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#000000")
GROUP_MARKERS = ("o", "s", "^", "D", "v", "P")
GROUP_DASHES = ("-", "--", "-.", ":")
MAX_PANELS = 30
# Groups a figure draws when none are chosen: figures that overlay the groups in one panel
# (sweeps, compare) stay readable with a few; figures with a panel per group take more.
MAX_OVERLAID = 6
MAX_GROUP_PANELS = 12
DPI = 200
ROLE_LABEL = {"scale": "scale", "horizon": "horizon (tokens)", "lr": "learning rate"}


# ---------------------------------------------------------------- helpers


def interval_bars(ax, x, y, lo, hi, open_=None, edge_lo=None, edge_hi=None,
                  color="k", **kw) -> None:
    """Points (x, y) with their intervals [lo, hi] (arrays (n,)), each point on its own:
    a finite, closed end is a bar with a cap; an open end (``open_[i]`` 'low', 'high' or
    'both': the interval ran past the LRs tried) is an arrow from the point to the edge
    of the LRs tried (``edge_lo`` / ``edge_hi``), pointing on; an end with no finite value
    and no edge is not drawn. One point without an interval never hides the others'.
    ``kw`` goes to ``errorbar`` (fmt, ms, label, zorder, ...)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    open_ = [""] * n if open_ is None else [o if isinstance(o, str) else "" for o in open_]
    e_lo = np.full(n, np.nan) if edge_lo is None else np.asarray(edge_lo, float)
    e_hi = np.full(n, np.nan) if edge_hi is None else np.asarray(edge_hi, float)
    down = np.where(np.isfinite(lo) & ~np.isin(open_, ("low", "both")), y - lo, 0.0)
    up = np.where(np.isfinite(hi) & ~np.isin(open_, ("high", "both")), hi - y, 0.0)
    ax.errorbar(x, y, yerr=np.abs(np.vstack([down, up])), color=color, ecolor=color,
                elinewidth=1, capsize=2, **kw)
    arrow = dict(arrowstyle="-|>", color=color, lw=1, shrinkA=0, shrinkB=0,
                 mutation_scale=7)
    for i in range(n):
        for side, end in (("low", e_lo[i] if np.isfinite(e_lo[i]) else lo[i]),
                          ("high", e_hi[i] if np.isfinite(e_hi[i]) else hi[i])):
            if open_[i] in (side, "both") and np.isfinite(end) and end > 0:
                ax.annotate("", xy=(x[i], end), xytext=(x[i], y[i]), arrowprops=arrow,
                            zorder=kw.get("zorder", 3))
                ax.plot([x[i]], [end], alpha=0)  # the axis reaches the arrow's head


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
                dpi: int = DPI) -> list[Path]:
    """Write ``fig`` as ``stem.png`` (``dpi``, default 200, recorded in the file) and
    ``stem.svg`` (reproducible: no dates in the files), each atomically (drawn in memory,
    then written through a temporary file + rename)."""
    import io

    out = []
    stem = Path(stem)
    for ext in formats:
        path = stem.with_suffix("." + ext)
        meta = {"Date": None} if ext == "svg" else ({"Software": None} if ext == "png" else None)
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi, metadata=meta)
        out.append(atomic_write(path, buf.getvalue(), "the figure"))
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


def plain(text, limit: int = 60) -> str:
    """Text from the data as a figure shows it: control characters escaped (an SVG cannot
    hold them), cut to ``limit`` characters, '$' escaped so matplotlib never parses it as
    mathtext (a label such as '$\\frac{$' made drawing fail)."""
    return safe_text(text, limit).replace("$", r"\$")


def _group_label(key: tuple, by: list[str]) -> str:
    if not by:
        return "all runs"
    if len(by) == 1:
        return plain(key[0])
    return ", ".join(f"{plain(b, 30)}={plain(v, 30)}" for b, v in zip(by, key))


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
    """Colours of the groups: ordered (viridis) for one numeric column, else the
    qualitative ``GROUP_COLOURS`` in order (repeating past them: see ``_style_of``)."""
    from matplotlib import colormaps

    if keys and all(len(k) == 1 and _is_number(k[0]) for k in keys) and len(keys) > 3:
        vals = np.array([float(k[0]) for k in keys])
        t = np.log(vals) if np.all(vals > 0) else vals
        t = (t - t.min()) / (np.ptp(t) or 1.0)
        cmap = colormaps["viridis"]
        return {k: cmap(0.05 + 0.85 * ti) for k, ti in zip(keys, t)}
    return {k: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, k in enumerate(keys)}


def _style_of(keys: list[tuple]) -> dict:
    """key -> (colour, marker, linestyle): distinct for every group; the first
    ``len(GROUP_COLOURS)`` groups differ by colour, later ones also by marker and dashes."""
    colours = _colour_of(keys)
    n = len(GROUP_COLOURS)
    return {k: (colours[k], GROUP_MARKERS[(i // n) % len(GROUP_MARKERS)],
                GROUP_DASHES[(i // n) % len(GROUP_DASHES)]) for i, k in enumerate(keys)}


def group_labels(result) -> dict:
    """label -> key of every group of the fit, as ``--show`` and ``plot(show=)`` take them:
    the value for one ``by`` column, 'col=value, col=value' for several."""
    by = list(result.by)
    return {_raw_label(k, by): k for k in _group_keys(result.optima, by)} if by else {}


def _raw_label(key: tuple, by: list[str]) -> str:
    return str(key[0]) if len(by) == 1 else ", ".join(f"{b}={v}" for b, v in zip(by, key))


def select_groups(result, show) -> list[tuple]:
    """The keys of the groups named in ``show`` (labels, in that order); a label that is not
    a group is a one-line ``ScalefitInputError`` naming the groups."""
    labels = group_labels(result)
    if isinstance(show, str):
        show = [show]
    if not labels:
        raise ScalefitInputError("show chooses groups, and this fit has none (it needs --by)")
    squash = {lab.replace(" ", ""): key for lab, key in labels.items()}
    keys = []
    for lab in show:
        key = labels.get(str(lab), squash.get(str(lab).replace(" ", "")))
        if key is None:
            raise ScalefitInputError(f"show: {safe_text(lab, 80)!r} is not a group; the groups "
                                     f"are: {', '.join(safe_text(x, 80) for x in labels)}")
        if key not in keys:
            keys.append(key)
    return keys


def shown_groups(result, show=None, limit: int = MAX_OVERLAID) -> tuple[list[tuple], str]:
    """The keys of the groups a figure draws and a note ('' when every group is drawn).

    ``show``: labels chosen by the user (every one drawn, in that order). Without it, at
    most ``limit`` groups, the reference first, then the others in the fit's order; the
    note says how many were left out and how to choose them."""
    by = list(result.by)
    keys = _group_keys(result.optima, by)
    if show is not None:
        return select_groups(result, show), ""
    if not by or len(keys) <= limit:
        return keys, ""
    ref = _reference_key(result, keys)
    first = ([ref] if ref is not None else []) + [k for k in keys if k != ref]
    left = first[limit:]
    names = ", ".join(_group_label(k, by) for k in left[:2]) + (", ..." if len(left) > 2 else "")
    note = (f"{limit} of {len(keys)} groups shown ({len(left)} left out: {names}); choose "
            "with --show LABEL ... or plot(show=[...])")
    return first[:limit], note


def _reference_key(result, keys: list[tuple]):
    q = getattr(result, "quality", None)
    ref = getattr(q, "reference", None)
    if ref is None:
        return None
    by = list(result.by)
    want = tuple(ref[b] for b in by) if hasattr(ref, "keys") else (ref,)
    return next((k for k in keys if all(_same(a, b) for a, b in zip(k, want))), None)


def figure_note(fig: Figure, note: str, y_inch: float = 0.08) -> None:
    """A note at the bottom of the figure (e.g. the groups left out), on one line when the
    figure is wide enough (the caller leaves 0.25 inch), else cut at a word."""
    if note:
        chars = int(fig.get_figwidth() * 16)
        text = note if len(note) <= chars else note[:chars - 3].rsplit(" ", 1)[0] + " ..."
        fig.text(0.5, y_inch / fig.get_figheight(), text, ha="center", va="bottom",
                 fontsize=8, color="0.25")


def corner_note(ax, text: str, avoid_legend: bool = False) -> None:
    """``text`` in the corner of ``ax`` with the fewest drawn points (the data stay
    visible), on a light box; the upper left is left to a legend when ``avoid_legend``."""
    pts = [np.column_stack([line.get_xdata(), line.get_ydata()]) for line in ax.get_lines()
           if len(line.get_xdata())]
    xy = np.concatenate(pts).astype(float) if pts else np.empty((0, 2))
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    ax_xy = ax.transAxes.inverted().transform(ax.transData.transform(xy)) if len(xy) \
        else np.empty((0, 2))
    corners = [(0.02, 0.03, "left", "bottom"), (0.98, 0.03, "right", "bottom"),
               (0.98, 0.97, "right", "top"), (0.02, 0.97, "left", "top")]
    if avoid_legend:
        corners = corners[:3]

    def crowd(c):
        x, y, ha, va = c
        inx = ax_xy[:, 0] < 0.6 if ha == "left" else ax_xy[:, 0] > 0.4
        iny = ax_xy[:, 1] < 0.3 if va == "bottom" else ax_xy[:, 1] > 0.7
        return int(np.sum(inx & iny))

    x, y, ha, va = min(corners, key=crowd)
    ax.text(x, y, text, transform=ax.transAxes, fontsize=7.5, ha=ha, va=va, color="0.15",
            zorder=7, bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.85))


def coincident(signatures) -> list[list[int]]:
    """Indices of equal (hashable) signatures, as lists of two or more, first-seen order."""
    seen: dict = {}
    for i, sig in enumerate(signatures):
        seen.setdefault(sig, []).append(i)
    return [ix for ix in seen.values() if len(ix) >= 2]


def coincide_text(names: list[str], width: int = 48, where: str = "here") -> str:
    """'sp, mup and sp_emb coincide here', wrapped to ``width`` characters."""
    import textwrap

    shown = names if len(names) <= 6 else names[:5] + [f"{len(names) - 5} more"]
    text = (", ".join(shown[:-1]) + " and " + shown[-1]) + f" coincide {where}"
    return "\n".join(textwrap.wrap(text, width))


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and bool(np.isfinite(v))


def _legend(ax, **kw) -> None:
    """A legend only when something carries a label (no matplotlib warning otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


VALUE_SPAN = (0.05, 0.85)  # the part of the colour map continuous values are spread over


def _values_colours(values, cmap_name: str = "viridis") -> dict:
    """Colours for the distinct values of a continuous variable, spaced in log."""
    from matplotlib import colormaps

    vals = sorted({float(v) for v in values if np.isfinite(v)})
    cmap = colormaps[cmap_name]
    if len(vals) <= 1:
        return {v: cmap(0.35) for v in vals}
    lv = np.log(vals)
    t = (lv - lv.min()) / (lv.max() - lv.min())
    lo, hi = VALUE_SPAN
    return {v: cmap(lo + (hi - lo) * ti) for v, ti in zip(vals, t)}


def values_colour_bar(fig, values, label: str, cmap_name: str = "viridis") -> None:
    """A colour bar (log scale) beside every panel of ``fig`` for the values coloured by
    ``_values_colours``: the same part of the same map, the same log spacing."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, LogNorm

    vals = sorted(values)
    cmap = ListedColormap(colormaps[cmap_name](np.linspace(*VALUE_SPAN, 256)))
    bar = fig.colorbar(ScalarMappable(norm=LogNorm(vals[0], vals[-1]), cmap=cmap),
                       ax=fig.axes, shrink=0.6, pad=0.01)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


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
    """The group's primary law of ``target`` held by the result (None if it has none)."""
    for law in result.laws:
        if law.target == target and law.primary and _law_matches(law, by, key):
            return law
    return None


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
    return base if col in (None, role) else f"{base}: {plain(col)}"


def _message_figure(text: str) -> Figure:
    fig = new_figure(6, 2.2)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11)
    ax.set_axis_off()
    return fig


# ---------------------------------------------------------------- sweeps
