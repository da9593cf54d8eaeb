"""The report of a ``BacktestResult``: report.md and a self-contained report.html with the
predicted-vs-measured figure, the held-out points and the scores (``scalefit backtest
--report DIR``, ``BacktestResult.report``), written as a fit's report is."""

from __future__ import annotations

from pathlib import Path

from .._version import __version__
from ..files import make_folder
from .backtest_text import backtest_document
from .figure_kit import save_figure
from .report import FigureBlock, _now, write_document
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
    blocks = [Heading(f"scalefit backtest along {res.axis}", 1), Text([stamp]),
              Heading("Predicted vs measured"), FigureBlock("backtest", png, CAPTION),
              *backtest_document(res).blocks]
    written.update(write_document(out, Document(tuple(blocks)), "scalefit backtest"))
    return written
