"""What every figure shares: figures without pyplot, log axes and tick labels, colours,
group keys, and ``save_figure`` (PNG and SVG, written atomically).

Object-oriented matplotlib only (``Figure`` + ``FigureCanvasAgg``): nothing touches
pyplot's global state, so figures can be made from threads, servers and tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..files import atomic_write
from .format import safe_text

GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
MAX_PANELS = 30
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
                dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (reproducible: no dates in the files),
    each atomically (drawn in memory, then written through a temporary file + rename)."""
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
