"""The report of a ``CurveFit``: report.md and a self-contained report.html with the
measured-vs-fitted figure (and the predicted schedules, if any), the parameters, each
run's fit and the decisions (``scalefit curve --report DIR``, ``CurveFit.report``),
written as a fit's report is."""

from __future__ import annotations

from pathlib import Path

from .._version import __version__
from ..files import make_folder
from .figure_kit import save_figure
from .report import FigureBlock, _now, write_document
from .tables import Document, Heading, Text

CAPTION = ("Left: each run's measured losses (dots) and the fitted law's curve at the same "
           "steps (line), with the percentile band of the bootstrap refits' curves. Middle: "
           "ln measured - ln fitted along each run. Right (with --predict): each predicted "
           "schedule's curve, with the band of the curve (dark) and of an observed loss "
           "(light: the refits times the errors the law makes on runs it has not seen). No "
           "band shows the error of extrapolating past the longest run fitted.")


def write_curve_report(fit, directory: str | Path, decisions=(), command: str | None = None
                       ) -> dict[str, Path]:
    """Write report.md, report.html and figures/curves.png|svg into ``directory``; return
    their paths. ``decisions``: the fit's predictions, comparisons and branch tables (the
    predictions are also drawn)."""
    out = Path(directory)
    figdir = make_folder(out / "figures", "the report")
    fig = fit.plot(predictions=[d for d in decisions
                                 if type(d).__name__ == "CurvePrediction"])
    paths = save_figure(fig, figdir / "curves")
    written = {p.name: p for p in paths}
    png = next(p for p in paths if p.suffix == ".png")
    stamp = f"scalefit {__version__}, {_now()}" + (f": `{command}`" if command else "")
    blocks = [Heading(f"scalefit curve: {fit.law.name}", 1), Text([stamp]),
              Heading("Measured vs fitted"), FigureBlock("curves", png, CAPTION),
              Heading("Fit"), *fit.summary().blocks]
    for d in decisions:
        blocks += [Heading(_title(d)), *d.summary().blocks]
    written.update(write_document(out, Document(tuple(blocks)), "scalefit curve"))
    return written


def _title(decision) -> str:
    return {"CurvePrediction": "Predicted schedule", "ScheduleComparison": "Two schedules "
            "compared", "WsdBranches": "WSD branch points"}.get(type(decision).__name__,
                                                              type(decision).__name__)
