"""scalefit: hyperparameter transfer for LLM training.

Optimal learning rates per sweep, power laws of the optimum across scale and token
horizon, transfer quality, all with bootstrap intervals. Public names are imported
lazily so that `scalefit --help` stays fast.
"""

from ._version import __version__
from .errors import ScalefitFitError, ScalefitInputError

_LAZY = {
    "fit": ("scalefit.api", "fit"),
    "FitResult": ("scalefit.result", "FitResult"),
    "load_runs": ("scalefit.io", "load_runs"),
    "RunTable": ("scalefit.io", "RunTable"),
    "fit_chinchilla": ("scalefit.chinchilla", "fit_chinchilla"),
    "ChinchillaResult": ("scalefit.chinchilla", "ChinchillaResult"),
    "transfer": ("scalefit.transfer", "transfer"),
}

__all__ = ["__version__", "ScalefitInputError", "ScalefitFitError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalefit' has no attribute {name!r}")
