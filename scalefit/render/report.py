"""Reports of a fit: Markdown and self-contained HTML with the figures.

``write_report(result, runs, directory)`` writes

* ``figures/<name>.png`` and ``figures/<name>.svg`` for every figure of ``plots.fit_figures``,
* ``report.md``: the summary, tables of laws, transfer quality and optima, with the PNGs
  linked from ``figures/``,
* ``report.html``: the same in one file, figures embedded as base64 PNG, so it can be
  mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone
from pathlib import Path

from ._version import __version__

CAPTIONS = {
    "sweeps": "Loss vs learning rate for every sweep. Solid line: the quadratic in ln lr "
              "fitted around the best LR (dashed beyond its fit window); star: the fitted "
              "optimum with its bootstrap interval; triangles: runs above the plotted range; "
              "crosses: diverged runs, drawn at the top edge.",
    "lr_law": "Optimal learning rate vs scale and vs horizon (log-log), coloured by the other "
              "variable. Lines: the fitted power law at each value of the other variable; "
              "bands: its bootstrap interval; error bars: the interval of each optimum.",
    "curvature": "Curvature of the loss valley (loss per (ln lr)^2) vs scale: how much loss "
                 "an error in ln lr costs. A rising curvature means transfer errors cost more "
                 "at scale (kappa > 0).",
    "compare": "Comparison of the groups at one horizon. Left: optimal LR vs scale with each "
               "group's law. Right: optimal loss relative to the reference group, with "
               "bootstrap intervals; dashed: the fitted asymptotic ratio R_inf.",
}
TITLES = {"sweeps": "LR sweeps", "lr_law": "Optimal learning rate laws",
          "curvature": "Curvature of the loss valley", "compare": "Comparison of groups"}


def _f(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def _ci(pair) -> str:
    if not pair or any(p is None for p in pair):
        return ""
    return f"[{_f(pair[0])}, {_f(pair[1])}]"


def _group_text(group: dict) -> str:
    return ", ".join(f"{k}={_f(v) if isinstance(v, float) else v}" for k, v in group.items())


# ---------------------------------------------------------------- tables (shared by md / html)


def law_rows(d: dict) -> tuple[list[str], list[list[str]]]:
    """Primary laws: one row each, parameters with intervals."""
    header = ["group", "law", "parameters (CI)", "fit", "n"]
    rows = []
    for law in d["laws"]:
        if not law.get("primary"):
            continue
        params = "; ".join(f"{k} = {_f(v)} {_ci(law['ci'].get(k))}".strip()
                           for k, v in law["params"].items())
        if law["target"] == "loss_opt":
            fit_q = f"R2 {_f(law.get('r2'))}, RMSE {_f(law.get('rmse'))}"
        else:
            fit_q = f"R2_log {_f(law.get('r2_log'))}, RMSE_log {_f(law.get('rmse_log'))}"
        rows.append([_group_text(law["group"]) or "all", law["form"], params, fit_q,
                     str(law["n_points"])])
    return header, rows


def transfer_rows(d: dict) -> tuple[list[str], list[list[str]]]:
    t = d.get("transfer")
    header = ["group", "lr exponent a", "E (rmse ln lr)", "extrapolation error", "kappa",
              "R_inf", "delta L_inf"]
    if not t:
        return header, []
    rows = []
    for g in t["groups"]:
        def cell(k, g=g):
            return f"{_f(g.get(k))} {_ci(g.get(k + '_ci'))}".strip()

        rows.append(["/".join(str(v) for v in g["group"].values()), cell("lr_exponent"),
                     cell("E"), cell("extrapolation_error"), cell("kappa"), cell("R_inf"),
                     cell("delta_L_inf")])
    return header, rows


def optima_rows(d: dict) -> tuple[list[str], list[list[str]]]:
    by = d["input"].get("by", [])
    header = [*by, "scale", "horizon", "lr_opt", "CI", "loss_opt", "curvature", "runs/div",
              "status"]
    rows = []
    for o in d["optima"]:
        rows.append([str(o["group"].get(b)) for b in by]
                    + [_f(o["scale"]), _f(o["horizon"]), _f(o["lr_opt"]), _ci(o["lr_opt_ci"]),
                       _f(o["loss_opt"], 4), _f(o["curvature"]),
                       f"{o['n_runs']}/{o['n_diverged']}", o["status"]])
    return header, rows


def _md_table(header, rows) -> list[str]:
    def esc(x):
        return str(x).replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "---|" * len(header)]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return out


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- writer


def write_report(result, runs, directory: str | Path, command: str | None = None,
                 figures: dict | None = None) -> dict[str, Path]:
    """Write report.md, report.html and figures/ into ``directory``; return their paths.

    ``figures``: name -> Figure (default: ``plots.fit_figures(result, runs)``).
    """
    from . import plots

    out = Path(directory)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    if figures is None:
        figures = plots.fit_figures(result, runs)
    written: dict[str, Path] = {}
    pngs: dict[str, Path] = {}
    for name, fig in figures.items():
        paths = plots.save_figure(fig, figdir / name)
        for p in paths:
            written[f"{name}.{p.suffix[1:]}"] = p
        pngs[name] = next(p for p in paths if p.suffix == ".png")
    d = result.to_dict()
    summary = result.summary()
    md = render_markdown(d, summary, {k: f"figures/{p.name}" for k, p in pngs.items()}, command)
    (out / "report.md").write_text(md, encoding="utf-8")
    page = render_html(d, summary, {k: p.read_bytes() for k, p in pngs.items()}, command)
    (out / "report.html").write_text(page, encoding="utf-8")
    written["report.md"] = out / "report.md"
    written["report.html"] = out / "report.html"
    return written


def _headline(d: dict) -> list[str]:
    inp = d["input"]
    counts: dict[str, int] = {}
    for o in d["optima"]:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    cols = ", ".join(f"{k} = `{v}`" for k, v in inp["columns"].items() if v is not None)
    s = d["settings"]
    boot = (f"{s['n_boot']} bootstrap resamples of runs within each sweep, "
            f"{s['ci'] * 100:g}% percentile intervals, seed {s['seed']}"
            if s.get("n_boot") else "no bootstrap (no intervals)")
    return [
        f"Source: `{inp.get('source')}`: {inp['rows']} runs ({inp['diverged']} diverged), "
        f"{inp.get('groups', len(d['optima']))} sweeps ({status}).",
        f"Columns: {cols}" + (f"; groups by {', '.join(inp['by'])}" if inp.get("by") else "")
        + ".",
        f"Uncertainty: {boot}.",
    ]


def render_markdown(d: dict, summary: str, figure_paths: dict[str, str],
                    command: str | None = None) -> str:
    lines = ["# scalefit report", ""]
    lines += [f"scalefit {__version__}, {_now()}" + (f": `{command}`" if command else ""), ""]
    lines += _headline(d) + [""]
    header, rows = law_rows(d)
    if rows:
        lines += ["## Laws", "", *_md_table(header, rows), ""]
    header, rows = transfer_rows(d)
    if rows:
        t = d["transfer"]
        lines += ["## Transfer quality", "",
                  f"Groups by {', '.join(t['by'])}; reference `{t['reference']}`"
                  + (f", compared at horizon {_f(t['horizon'])}" if t.get("horizon") else "")
                  + ".", "", *_md_table(header, rows), ""]
    for name, rel in figure_paths.items():
        lines += [f"## {TITLES.get(name, name)}", "", f"![{name}]({rel})", "",
                  CAPTIONS.get(name, ""), ""]
    header, rows = optima_rows(d)
    lines += ["## Optimum of every sweep", "", *_md_table(header, rows), ""]
    if d.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in d["notes"]] + [""]
    lines += ["## Summary as printed", "", "```", summary, "```", ""]
    return "\n".join(lines)


CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
max-width:1200px;margin:2em auto;padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.92em}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8}tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#444;font-size:.9em;margin-top:.3em}
pre{background:#f6f8fa;padding:1em;overflow-x:auto;font-size:.8em}
details summary{cursor:pointer;color:#0b5cad}
"""


def render_html(d: dict, summary: str, figure_png: dict[str, bytes],
                command: str | None = None) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>scalefit report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>scalefit report</h1>",
             f'<p class="meta">scalefit {esc(__version__)}, {esc(_now())}'
             + (f": <code>{esc(command)}</code>" if command else "") + "</p>"]
    parts += [f"<p>{esc(line).replace('`', '')}</p>" for line in _headline(d)]
    header, rows = law_rows(d)
    if rows:
        parts += ["<h2>Laws</h2>", _html_table(header, rows)]
    header, rows = transfer_rows(d)
    if rows:
        t = d["transfer"]
        parts += ["<h2>Transfer quality</h2>",
                  f"<p>Groups by {esc(', '.join(t['by']))}; reference "
                  f"<b>{esc(str(t['reference']))}</b>"
                  + (f", compared at horizon {_f(t['horizon'])}" if t.get("horizon") else "")
                  + ".</p>", _html_table(header, rows)]
    for name, png in figure_png.items():
        b64 = base64.b64encode(png).decode("ascii")
        parts += [f"<h2>{esc(TITLES.get(name, name))}</h2>",
                  f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{b64}">'
                  f"<figcaption>{esc(CAPTIONS.get(name, ''))}</figcaption></figure>"]
    header, rows = optima_rows(d)
    parts += ["<h2>Optimum of every sweep</h2>", "<details open><summary>"
              f"{len(rows)} sweeps</summary>", _html_table(header, rows), "</details>"]
    if d.get("notes"):
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(n)}</li>" for n in d["notes"]] + ["</ul>"]
    parts += ["<h2>Summary as printed</h2>", "<details><summary>show</summary>",
              f"<pre>{esc(summary)}</pre></details>", "</body></html>"]
    return "\n".join(parts)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
