"""scalefit: hyperparameter transfer for LLM training.

Optimal learning rates per sweep, power laws of the optimum across scale and token
horizon, transfer quality, all with bootstrap intervals. Public names are imported
lazily so that `scalefit --help` stays fast. No submodule carries a public name, so
importing any part of the package never replaces one of these (docs/architecture.md).
"""

from .interrupt import guard_start

guard_start()  # the scalefit command: Ctrl-C during its imports is one line, exit 130

from ._version import __version__  # noqa: E402
from .errors import ExtrapolationWarning, ScalefitFitError, ScalefitInputError  # noqa: E402

_LAZY = {
    "fit": ("scalefit.pipeline", "fit"),
    "load": ("scalefit.results.saved", "load"),
    "load_fit": ("scalefit.results.load", "load_fit"),
    "FitResult": ("scalefit.results.fit", "FitResult"),
    "Law": ("scalefit.results.law", "Law"),
    "transfer": ("scalefit.results.decisions", "transfer"),
    "load_runs": ("scalefit.table", "load_runs"),
    "RunTable": ("scalefit.table", "RunTable"),
    "fit_chinchilla": ("scalefit.chinchilla", "fit_chinchilla"),
    "ChinchillaResult": ("scalefit.results.chinchilla", "ChinchillaResult"),
    "load_chinchilla": ("scalefit.results.chinchilla_file", "load_chinchilla"),
    "fit_isoflop": ("scalefit.isoflop", "fit_isoflop"),
    "IsoflopResult": ("scalefit.results.isoflop", "IsoflopResult"),
    "Allocation": ("scalefit.results.allocation", "Allocation"),
    "Proposals": ("scalefit.results.proposals", "Proposals"),
    "next_runs": ("scalefit.planning.next", "next_runs"),
    "backtest": ("scalefit.backtest_table", "backtest"),
    "BacktestResult": ("scalefit.results.backtest", "BacktestResult"),
    "fit_curves": ("scalefit.curves", "fit_curves"),
    "CurveFit": ("scalefit.results.curves", "CurveFit"),
}

__all__ = ["__version__", "ScalefitInputError", "ScalefitFitError", "ExtrapolationWarning",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalefit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
