"""Reports of a fit: report.md and a self-contained report.html, renderings of one Document.

``write_report(result, directory)`` writes, each file atomically (and, inside
``files.all_or_nothing``, all of them or none),

* ``figures/<name>.png`` (200 dpi) and ``figures/<name>.svg`` for every figure of
  ``fit_figures``,
* ``report.md``: the headline (source, columns, uncertainty; per group the law of the
  optimal LR, its exponents with intervals and how far the optimum moves over the data),
  the figures (PNGs linked from ``figures/``), the laws and transfer-quality tables, the
  optimum of every sweep, the notes and the summary as printed,
* ``report.html``: the same Document in one file, figures embedded as base64 PNG, so it
  can be mailed or attached as it is.

The tables are the ones the summary prints (the same Table objects), rendered as
Markdown or HTML; values from the data are made safe by the rendering.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .._version import __version__
from ..files import atomic_write, make_folder, read_output
from . import fit_text
from .tables import Bullets, Document, Heading, Text

CAPTIONS = {
    "sweeps": "Loss vs learning rate for every sweep. Solid line: the quadratic in ln lr "
              "fitted around the best LR (dashed beyond its fit window); star: the fitted "
              "optimum with its bootstrap interval; triangles: runs above the plotted range; "
              "crosses: diverged runs, drawn at the top edge. Groups whose sweeps coincide in "
              "a panel are drawn once and named in a note there.",
    "lr_law": "Optimal learning rate vs scale and vs horizon (log-log), coloured by the other "
              "variable. Lines: the fitted power law at each value of the other variable; "
              "bands: its bootstrap interval; error bars: the interval of each optimum "
              "(an arrow: open-ended, past the LRs tried). Every panel has the same y range, "
              "so slopes compare across groups.",
    "curvature": "Curvature of the loss valley (loss per (ln lr)^2) vs scale: how much loss "
                 "an error in ln lr costs. A rising curvature means transfer errors cost more "
                 "at scale (kappa > 0).",
    "compare": "Comparison of the groups at one horizon. Left: optimal LR vs scale with each "
               "group's law. Right: optimal loss relative to the reference group, with "
               "bootstrap intervals; dashed: the fitted asymptotic ratio R_inf, only where it is "
               "identified.",
}
TITLES = {"sweeps": "LR sweeps", "lr_law": "Optimal learning rate laws",
          "curvature": "Curvature of the loss valley", "compare": "Comparison of groups",
          "joint": "Joint optimum per group (runs over lr and batch size)"}

CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
max-width:1200px;margin:2em auto;padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8}tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#444;font-size:.9em;margin-top:.3em}
pre{background:#f6f8fa;padding:1em;overflow-x:auto;font-size:.8em}
"""


@dataclass(frozen=True)
class FigureBlock:
    """A saved figure in a report: a link in Markdown, an embedded PNG in HTML."""

    name: str
    png: Path
    caption: str | None = None  # None: the fit report's caption of ``name``

    def _caption(self) -> str:
        return CAPTIONS.get(self.name, "") if self.caption is None else self.caption

    def to_text(self) -> str:
        return ""

    def to_markdown(self) -> str:
        return f"![{self.name}](figures/{self.png.name})\n\n{self._caption()}"

    def to_html(self) -> str:
        b64 = base64.b64encode(read_output(self.png)).decode("ascii")
        return (f'<figure><img alt="{html.escape(self.name)}" src="data:image/png;base64,{b64}">'
                f"<figcaption>{html.escape(self._caption())}</figcaption></figure>")


def report_document(result, pngs: dict, command: str | None = None) -> Document:
    """The report as a Document: the headline (per group the law, its exponents and how far
    the optimum moves), the figures, then laws, transfer quality, optima and notes."""
    blocks: list = [Heading("scalefit report", 1), Text([_stamp(command)]),
                    Text(fit_text.headline(result))]
    head = fit_text.headline_table(result)
    if head.rows:
        blocks += [head]
    for name, png in pngs.items():
        blocks += [Heading(TITLES.get(name, name)), FigureBlock(name, png)]
    laws = fit_text.laws_table(result)
    if laws.rows:
        blocks += [Heading("Laws"), laws]
    q = result.quality
    if q is not None and q.groups:  # the table's title names the groups and the reference
        blocks += [Heading("Transfer quality"), q.summary()]
    joint = getattr(result, "joint", None)
    if joint is not None:
        per_bs = [law for law in result.laws if law.primary and law.target == "lr_opt"]
        blocks += [Heading(f"Joint LR x {joint.column}"), joint.summary(per_bs)]
    blocks += [Heading("Optimum of every sweep"), fit_text.optima_table(result, limit=None)]
    if result.notes:
        blocks += [Heading("Notes"), Bullets(result.notes)]
    blocks += [Heading("Summary as printed"), Text(result.summary().to_text().split("\n"),
                                                   pre=True)]
    return Document(blocks)


def write_report(result, directory: str | Path, command: str | None = None,
                 figures: dict | None = None, show=None) -> dict[str, Path]:
    """Write report.md, report.html and figures/ into ``directory``; return their paths.

    ``figures``: name -> Figure (default: ``fit_figures(result, show=show)``); ``show``:
    the labels of the groups the figures draw (the tables hold every group).
    """
    from .figures import fit_figures, save_figure

    out = Path(directory)
    figdir = make_folder(out / "figures", "the report")
    if figures is None:
        figures = fit_figures(result, show=show)
    written: dict[str, Path] = {}
    pngs: dict[str, Path] = {}
    for name, fig in figures.items():
        paths = save_figure(fig, figdir / name)
        for p in paths:
            written[f"{name}.{p.suffix[1:]}"] = p
        pngs[name] = next(p for p in paths if p.suffix == ".png")
    doc = report_document(result, pngs, command)
    written.update(write_document(out, doc, "scalefit report"))
    return written


def write_figure_report(directory: str | Path, fig, name: str, caption: str, page_title: str,
                        heading: str, figure_heading: str, blocks=(),
                        command: str | None = None) -> dict[str, Path]:
    """A report of one figure and the result's blocks: figures/NAME.png|svg, report.md and
    report.html (titled ``page_title``) in ``directory``: ``heading``, the stamp,
    ``figure_heading``, the figure with ``caption``, then ``blocks``; returns their paths."""
    from .figure_kit import save_figure

    out = Path(directory)
    paths = save_figure(fig, make_folder(out / "figures", "the report") / name)
    written = {p.name: p for p in paths}
    png = next(p for p in paths if p.suffix == ".png")
    doc = Document((Heading(heading, 1), Text([_stamp(command)]), Heading(figure_heading),
                    FigureBlock(name, png, caption), *blocks))
    written.update(write_document(out, doc, page_title))
    return written


def write_document(out: Path, doc: Document, title: str) -> dict[str, Path]:
    """``doc`` as ``out``/report.md and a self-contained ``out``/report.html (titled
    ``title``), each written atomically; returns {"report.md": path, "report.html": path}."""
    md = atomic_write(out / "report.md", doc.to_markdown() + "\n", "the report")
    page = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style></head><body>",
            doc.to_html(), "</body></html>"]
    return {"report.md": md,
            "report.html": atomic_write(out / "report.html", "\n".join(page), "the report")}


def _stamp(command: str | None) -> str:
    """The line under a report's title: the version, the time and the command."""
    return f"scalefit {__version__}, {_now()}" + (f": `{command}`" if command else "")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

