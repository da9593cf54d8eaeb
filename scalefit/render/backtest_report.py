"""The report of a ``BacktestResult``: report.md and a self-contained report.html with the
predicted-vs-measured figure, the held-out points and the scores (``scalefit backtest
--report DIR``, ``BacktestResult.report``), written as a fit's report is."""

from __future__ import annotations

from pathlib import Path

from .._version import __version__
from ..files import atomic_write, make_folder
from .backtest_text import backtest_document
from .figure_kit import save_figure
from .report import CSS, FigureBlock, _now
from .tables import Document, Heading, Text

CAPTION = ("Predicted against measured optimal LR of every held-out sweep (log-log): the "
           "law fitted on the smaller levels only, with its 95% prediction interval; the "
           "diagonal is a perfect forecast.")


def write_backtest_report(res, directory: str | Path, command: str | None = None
                          ) -> dict[str, Path]:
    """Write report.md, report.html and figures/backtest.png|svg into ``directory``;
    return their paths."""
    out = Path(directory)
    figdir = make_folder(out / "figures", "the report")
    fig = res.plot()
    paths = save_figure(fig, figdir / "backtest")
    written = {p.name: p for p in paths}
    png = next(p for p in paths if p.suffix == ".png")
    stamp = f"scalefit {__version__}, {_now()}" + (f": `{command}`" if command else "")
    block = FigureBlock("backtest", png)
    blocks = [Heading(f"scalefit backtest along {res.axis}", 1), Text([stamp]),
              Heading("Predicted vs measured"), _Captioned(block),
              *backtest_document(res).blocks]
    doc = Document(tuple(blocks))
    written["report.md"] = atomic_write(out / "report.md", doc.to_markdown() + "\n",
                                        "the report")
    page = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            "<title>scalefit backtest</title>", f"<style>{CSS}</style></head><body>",
            doc.to_html(), "</body></html>"]
    written["report.html"] = atomic_write(out / "report.html", "\n".join(page),
                                          "the report")
    return written


class _Captioned:
    """The figure with the backtest's own caption (FigureBlock's captions are the fit's)."""

    def __init__(self, block: FigureBlock):
        self.block = block

    def to_text(self) -> str:
        return ""

    def to_markdown(self) -> str:
        return f"![backtest](figures/{self.block.png.name})\n\n{CAPTION}"

    def to_html(self) -> str:
        import html

        return self.block.to_html().replace("<figcaption></figcaption>",
                                            f"<figcaption>{html.escape(CAPTION)}</figcaption>")
