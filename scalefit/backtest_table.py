"""``scalefit.backtest(table, ...)``: fit a table, then backtest its laws (``backtests``)."""

from __future__ import annotations

from .backtests import backtest_fit
from .options import check
from .pipeline import fit
from .results.backtest import BacktestResult


def backtest(table, axis: str = "scale", levels: int | None = None, **fit_options
             ) -> BacktestResult:
    """Fit ``table`` (``scalefit.fit`` with ``fit_options``; no progress bar unless given)
    and backtest its lr_opt laws along ``axis`` (``backtests.backtest_fit``); with
    ``joint=COLUMN`` among the options, its joint optima (lr*, COLUMN*)."""
    check("levels", levels)
    fit_options.setdefault("progress", None)
    return backtest_fit(fit(table, **fit_options), axis=axis, levels=levels,
                        joint=bool(fit_options.get("joint")))
