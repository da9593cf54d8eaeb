"""The report of a ``CurveFit``: report.md and a self-contained report.html with the
measured-vs-fitted figure (and the predicted schedules, if any), the parameters, each
run's fit and the decisions (``scalefit curve --report DIR``, ``CurveFit.report``),
written as a fit's report is."""

from __future__ import annotations

from pathlib import Path

from .report import write_figure_report
from .tables import Heading

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
    fig = fit.plot(predictions=[d for d in decisions
                                 if type(d).__name__ == "CurvePrediction"])
    blocks = [Heading("Fit"), *fit.summary().blocks]
    for d in decisions:
        blocks += [Heading(_title(d)), *d.summary().blocks]
    return write_figure_report(directory, fig, "curves", CAPTION, "scalefit curve",
                               f"scalefit curve: {fit.law.name}", "Measured vs fitted", blocks,
                               command)


def _title(decision) -> str:
    return {"CurvePrediction": "Predicted schedule", "ScheduleComparison": "Two schedules "
            "compared", "WsdBranches": "WSD branch points"}.get(type(decision).__name__,
                                                              type(decision).__name__)
