"""The report of a ``BacktestResult``: report.md and a self-contained report.html with the
predicted-vs-measured figure, the held-out points and the scores (``scalefit backtest
--report DIR``, ``BacktestResult.report``), written as a fit's report is."""

from __future__ import annotations

from pathlib import Path

from .backtest_text import backtest_document
from .report import write_figure_report

CAPTION = ("Predicted against measured optimal LR of every held-out sweep (log-log): the "
           "law fitted on the smaller levels only, with its 95% prediction interval; the "
           "diagonal is a perfect forecast.")


def write_backtest_report(res, directory: str | Path, command: str | None = None
                          ) -> dict[str, Path]:
    """Write report.md, report.html and figures/backtest.png|svg into ``directory``;
    return their paths."""
    return write_figure_report(directory, res.plot(), "backtest", CAPTION, "scalefit backtest",
                               f"scalefit backtest along {res.axis}", "Predicted vs measured",
                               backtest_document(res).blocks, command)
