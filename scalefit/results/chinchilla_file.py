"""``scalefit.load_chinchilla``: a saved Chinchilla fit (``scalefit chinchilla --json``) back
as a ``ChinchillaResult``, checked the way ``load_fit`` checks a saved LR fit.

Reading opens that one file and nothing else, checks its ``schema_version`` and the type
of every key it uses (``schema.CHINCHILLA``), the shapes the schema cannot express (a
draw row per resample with 5 values, a level in (0, 1), positive parameters), and builds
the result. Every problem is one ScalefitInputError line naming the file and the key.
"""

from __future__ import annotations

import math

from ..core.chinchilla import FORM
from ..errors import ScalefitInputError
from ..schema import CHINCHILLA, CHINCHILLA_PARAMS, CHINCHILLA_READABLE, validate
from .chinchilla import ChinchillaResult
from .load import _shorten, check_version, read_json

HINT = "give the output of 'scalefit chinchilla RUNS --json FIT.json'"
COMMAND = "scalefit chinchilla RUNS --json FIT.json"


def read_chinchilla_json(path) -> dict:
    """The checked content of a saved Chinchilla fit (one-line errors naming the key)."""
    return check_chinchilla_json(read_json(path, HINT, COMMAND), path)


def check_chinchilla_json(d, path) -> dict:
    """``d``, the parsed JSON of ``path``, checked as a saved Chinchilla fit."""
    if not isinstance(d, dict) or "form" not in d or "params" not in d:
        what = "not a scalefit Chinchilla fit (no form/params)"
        if isinstance(d, dict) and "profiles" in d:
            what = "an IsoFLOP result ('scalefit isoflop'), not a Chinchilla fit"
        elif isinstance(d, dict) and "laws" in d:
            what = "an LR fit ('scalefit fit'), not a Chinchilla fit"
        raise ScalefitInputError(f"{path}: {what}; {HINT}")
    if d["form"] != FORM:
        raise ScalefitInputError(f"{path}: key 'form' is {_shorten(repr(d['form']), 80)}, not "
                                 f"{FORM!r}; {HINT}")
    check_version(d, path, CHINCHILLA_READABLE, COMMAND, kind="Chinchilla fits of ")
    problems = validate(d, CHINCHILLA)
    if problems:
        raise ScalefitInputError(f"{path}: key {_shorten(problems[0])}; {HINT}")
    _check_values(d, path)
    return d


def load_chinchilla(path) -> ChinchillaResult:
    """A ``ChinchillaResult`` from a saved Chinchilla fit: ``allocate``, ``predict`` and
    ``conf_int(level)`` (from the saved draws) work as on the fit that wrote it.

    Raises ScalefitInputError (one line naming the file and the key) on a file that is not
    a saved Chinchilla fit of a known ``schema_version`` or has a key of the wrong type.
    """
    return chinchilla_from_json(read_chinchilla_json(path), path)


def chinchilla_from_json(d: dict, path) -> ChinchillaResult:
    """The ``ChinchillaResult`` of ``d``, the checked JSON of ``path``."""
    try:
        return ChinchillaResult.from_dict(d)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ScalefitInputError(f"{path}: malformed Chinchilla fit ({type(e).__name__}: "
                                 f"{_shorten(str(e))}); {HINT}") from None


def _check_values(d: dict, path) -> None:
    """What the schema cannot say: a level in (0, 1), finite positive parameters (E
    finite), 5 values per draw row, ranges with lo <= hi."""
    lvl = d["ci_level"]
    if not (0 < lvl < 1 and math.isfinite(lvl)):
        raise ScalefitInputError(f"{path}: key $.ci_level: {lvl!r} is not a level in (0, 1)")
    for k in CHINCHILLA_PARAMS:
        v = d["params"][k]
        if not math.isfinite(v) or (k != "E" and v <= 0):
            raise ScalefitInputError(f"{path}: key $.params.{k}: {v!r} is not "
                                     + ("finite" if k == "E" else "a finite number > 0"))
    for i, row in enumerate(d.get("draws") or []):
        if len(row) != len(CHINCHILLA_PARAMS):
            raise ScalefitInputError(f"{path}: key $.draws[{i}]: {len(row)} values; every row "
                                     "needs 5 (E, A, B, alpha, beta)")
        for k, v in zip(CHINCHILLA_PARAMS, row):
            if not math.isfinite(v) or (k != "E" and v <= 0):
                raise ScalefitInputError(f"{path}: key $.draws[{i}] ({k}): {v!r} is not "
                                         + ("finite" if k == "E" else "a finite number > 0"))
    for k, (lo, hi) in (d.get("range") or {}).items():
        if not (0 < lo <= hi and math.isfinite(hi)):
            raise ScalefitInputError(f"{path}: key $.range.{_shorten(k, 40)}: [{lo!r}, {hi!r}] "
                                     "is not a range of positive numbers")
