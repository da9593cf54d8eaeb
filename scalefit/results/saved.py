"""``scalefit.load(path)``: any saved result back as its result object, by its kind.

Every persisted result writes its ``to_dict()`` with ``save(path)`` (atomically,
``files.write_json``); this reads one back. The kind comes from the JSON's ``kind`` key
where the format has one (``curve``, ``backtest``, ``scalefit.next``) and otherwise from
the keys only that kind holds (``profiles``: an IsoFLOP result; ``form`` and ``params``: a
Chinchilla fit; ``laws`` and ``optima``: an LR fit), whose formats predate the key and
stay as they are. A saved fit or Chinchilla fit is checked as ``load_fit`` and
``load_chinchilla`` check it; every problem is one ScalefitInputError naming the file.
"""

from __future__ import annotations

from ..errors import ScalefitInputError
from .chinchilla_file import check_chinchilla_json, chinchilla_from_json
from .load import _shorten, check_fit_json, fit_from_json, read_json

# kind -> (what it is, its name, the command that writes it)
KINDS = {
    "fit": ("an LR fit", "LR fit", "scalefit fit RUNS --json FILE"),
    "chinchilla": ("a Chinchilla fit", "Chinchilla fit", "scalefit chinchilla RUNS --json FILE"),
    "isoflop": ("an IsoFLOP result", "IsoFLOP result", "scalefit isoflop RUNS --json FILE"),
    "curve": ("a curve fit", "curve fit", "scalefit curve RUNS --json FILE"),
    "backtest": ("a backtest", "backtest", "scalefit backtest RUNS --json FILE"),
    "next": ("proposed runs", "proposal of runs", "scalefit next RUNS --budget K --json FILE"),
}
JSON_KIND = {"curve": "curve", "backtest": "backtest", "scalefit.next": "next"}
HINT = ("give the --json output of 'scalefit fit', 'chinchilla', 'isoflop', 'curve', "
        "'backtest' or 'next'")


def kind_of(d) -> str | None:
    """The kind of a saved result's parsed JSON (a key of ``KINDS``), or None."""
    if not isinstance(d, dict):
        return None
    if "kind" in d:
        return JSON_KIND.get(d["kind"]) if isinstance(d["kind"], str) else None
    if "profiles" in d:
        return "isoflop"
    if "form" in d and "params" in d:
        return "chinchilla"
    if "laws" in d and "optima" in d:
        return "fit"
    return None


def load(path, kind: str | None = None):
    """The result saved at ``path`` (``save(path)`` or a command's ``--json``): a
    ``FitResult``, ``ChinchillaResult``, ``IsoflopResult``, ``CurveFit``,
    ``BacktestResult`` or ``Proposals``, as its JSON's kind says. ``kind`` (one of
    ``fit``, ``chinchilla``, ``isoflop``, ``curve``, ``backtest``, ``next``) refuses a
    file of another kind. Raises ScalefitInputError, one line naming the file."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    hint = HINT if kind is None else f"give the output of '{KINDS[kind][2]}'"
    d = read_json(path, hint, KINDS[kind or "fit"][2])
    found = kind_of(d)
    if found is None:
        what = (f"its \"kind\" is {_shorten(repr(d['kind']), 40)}" if isinstance(d, dict)
                and "kind" in d else "no kind and none of the keys of one")
        raise ScalefitInputError(f"{path}: not a saved scalefit result ({what}); {hint}")
    if kind is not None and found != kind:
        raise ScalefitInputError(f"{path}: {KINDS[found][0]} ('{KINDS[found][2]}'), not "
                                 f"{KINDS[kind][0]}; {hint}")
    if found == "fit":
        return fit_from_json(check_fit_json(d, path), path)
    if found == "chinchilla":
        return chinchilla_from_json(check_chinchilla_json(d, path), path)
    try:
        return _READERS[found](d, str(path))
    except ScalefitInputError as e:
        raise ScalefitInputError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise ScalefitInputError(f"{path}: malformed {KINDS[found][1]} ({type(e).__name__}: "
                                 f"{_shorten(str(e))}); give the output of "
                                 f"'{KINDS[found][2]}'") from None


def _isoflop(d, origin):
    from .isoflop import IsoflopResult

    return IsoflopResult.from_dict(d, origin=origin)


def _curve(d, origin):
    from .curves import CurveFit

    return CurveFit.from_dict(d, origin=origin)


def _backtest(d, origin):
    from .backtest import BacktestResult

    return BacktestResult.from_dict(d)


def _next(d, origin):
    from .proposals import Proposals

    return Proposals.from_dict(d)


_READERS = {"isoflop": _isoflop, "curve": _curve, "backtest": _backtest, "next": _next}
