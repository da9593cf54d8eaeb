"""``scalefit.load_fit``: a saved fit (``scalefit fit --json``) back as a ``FitResult``.

A saved fit is data: reading it opens that one file, checks its ``schema_version`` and
the type of every key it uses (``schema.LOADABLE``), and builds the result from it. It
never opens a file the JSON names, never compiles a pattern from it, and never refits.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from pathlib import Path

from ..errors import ScalefitInputError
from ..schema import LOADABLE, READABLE_VERSIONS, validate
from .fit import FitResult

HINT = "give the output of 'scalefit fit --json'"
MAX_BYTES = 256 << 20  # a saved fit (LR or Chinchilla) is refused above this size


def read_json(path, hint: str = HINT, command: str = "scalefit fit RUNS --json FIT.json"):
    """The parsed JSON of one file, or of standard input for ``"-"`` (one-line
    ScalefitInputError: missing, unreadable, larger than ``MAX_BYTES``, a stream that gives
    nothing, not JSON, nested too deeply; NaN and Infinity are refused). Text may be UTF-8
    (with or without a byte-order mark) or UTF-16/32, as for tables. ``hint``/``command``
    say what file to give."""
    from ..readers import decode_text, missing

    try:
        raw = _read_bounded(path, hint)
    except FileNotFoundError:
        why = missing(Path(path))
        todo = f"; write one with '{command}'" if why == "no such file" else ""
        raise ScalefitInputError(f"{path}: {why}{todo}") from None
    except IsADirectoryError:
        raise ScalefitInputError(f"{path}: is a directory, not a FIT.json") from None
    except OSError as e:
        why = missing(Path(path)) if e.errno == errno.ELOOP else f"cannot read: {e.strerror or e}"
        raise ScalefitInputError(f"{path}: {why}") from None
    if not raw.strip():
        raise ScalefitInputError(f"{path}: is empty; {hint}")
    try:
        return json.loads(decode_text(raw, str(path), "json"), parse_constant=_no_constant)
    except ScalefitInputError as e:
        raise ScalefitInputError(f"{e}; {hint}") from None
    except RecursionError:
        raise ScalefitInputError(f"{path}: nested too deeply to be a saved fit; {hint}") from None
    except ValueError as e:
        where = f" (line {e.lineno})" if hasattr(e, "lineno") else ""
        raise ScalefitInputError(f"{path}: not valid JSON{where}; {hint}") from None


def _read_bounded(path, hint: str) -> bytes:
    """The bytes of a saved fit, at most ``MAX_BYTES``: a file, standard input, or a
    stream (timed: a FIFO no program writes is refused, see ``streams``)."""
    from ..streams import Stream, is_stream, stdin_stream

    limit = MAX_BYTES + 1
    if str(path) == "-":
        stream = stdin_stream("the saved fit", "scalefit predict - ... < FIT.json")
        if stream is None:  # a standard input without a file (a test's)
            raw = sys.stdin.buffer.read(limit) if hasattr(sys.stdin, "buffer") else \
                sys.stdin.read(limit).encode("utf-8")
        else:
            raw = stream.read(limit)
    elif is_stream(path):
        with Stream.open(path) as f:
            raw = f.read(limit)
    else:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > MAX_BYTES:
                raise _too_big(path, hint)
            raw = f.read(limit)
    if len(raw) > MAX_BYTES:
        raise _too_big(path, hint)
    return raw


def _too_big(path, hint: str) -> ScalefitInputError:
    return ScalefitInputError(f"{path}: is larger than {MAX_BYTES >> 20} MiB, far more than a "
                              f"saved fit holds (a few MiB with its draws); {hint}")


def read_fit_json(path) -> dict:
    """The checked content of a saved fit (one-line ScalefitInputError naming the key)."""
    return check_fit_json(read_json(path), path)


def check_fit_json(d, path) -> dict:
    """``d``, the parsed JSON of ``path``, checked as a saved fit (``read_fit_json``)."""
    if not isinstance(d, dict) or not {"laws", "settings", "input", "optima"} <= set(d):
        raise ScalefitInputError(f"{path}: not a scalefit fit result (no laws/settings/input/"
                                 f"optima); {HINT}")
    check_version(d, path, READABLE_VERSIONS, "scalefit fit RUNS --json FIT.json")
    problems = validate(d, LOADABLE)
    if problems:
        raise ScalefitInputError(f"{path}: key {_shorten(problems[0])}; {HINT}")
    _check_shapes(d, path)
    return d


def load_fit(path) -> FitResult:
    """A ``FitResult`` from a saved fit: ``predict``/``audit``/``transfer`` give the numbers
    the fit that wrote it gave; ``plot()`` and ``report(dir)`` work without the runs file.

    Raises ScalefitInputError (one line naming the file and the key) on a file that is not
    a saved fit of a known ``schema_version`` or has a key of the wrong type.
    """
    return fit_from_json(read_fit_json(path), path)


def fit_from_json(d: dict, path) -> FitResult:
    """The ``FitResult`` of ``d``, the checked JSON of ``path`` (``check_fit_json``)."""
    try:
        return FitResult.from_dict(d, origin=str(path))
    except ScalefitInputError as e:  # fields that contradict each other, named
        raise ScalefitInputError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ScalefitInputError(f"{path}: malformed fit result ({type(e).__name__}: "
                                 f"{_shorten(str(e))}); {HINT}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def check_version(d: dict, path, readable, command: str, kind: str = "") -> None:
    """The file's ``schema_version`` is one of ``readable`` (one line naming the key, and
    ``command`` to refit with when it is missing); ``kind``: e.g. 'Chinchilla fits of '."""
    v = d.get("schema_version")
    if v is None:
        raise ScalefitInputError(f"{path}: key 'schema_version' is missing: the file comes "
                                 f"from an older scalefit; refit with '{command}'")
    if isinstance(v, bool) or v not in readable:
        raise ScalefitInputError(f"{path}: key 'schema_version' is {_shorten(repr(v), 40)}; "
                                 f"this scalefit reads {kind}version "
                                 f"{', '.join(map(str, readable))}; refit with this version")


def _shorten(text: str, limit: int = 200) -> str:
    from ..render.format import safe_text

    return safe_text(" ".join(text.split()), limit)


def _check_shapes(d: dict, path) -> None:
    """Sizes the schema cannot express: draws rectangular with one column per parameter,
    one runs entry per optimum with as many losses as LRs, a level in (0, 1)."""
    ci = d["settings"]["ci"]
    if not (isinstance(ci, (int, float)) and 0 < ci < 1 and math.isfinite(ci)):
        raise ScalefitInputError(f"{path}: key $.settings.ci: {ci!r} is not a level in (0, 1)")
    for i, law in enumerate(d["laws"]):
        c = law["params"].get("C")
        if isinstance(c, (int, float)) and c < 0:  # C = exp(ln C): never negative
            raise ScalefitInputError(f"{path}: key $.laws[{i}].params.C: {c!r} is negative; "
                                     "a power law's constant is > 0")
    joint = d.get("joint") or {}
    for key, laws in (("laws", d["laws"]), ("joint.laws", joint.get("laws", [])),
                      ("joint.bs_laws", joint.get("bs_laws", []))):
        for i, law in enumerate(laws):
            draws = law.get("draws")
            if draws is not None and any(len(r) != len(law["params"]) for r in draws):
                raise ScalefitInputError(f"{path}: key $.{key}[{i}].draws: every row needs "
                                         f"{len(law['params'])} values (one per parameter)")
    if joint.get("runs") is not None and len(joint["runs"]) != len(joint["optima"]):
        raise ScalefitInputError(f"{path}: key $.joint.runs: {len(joint['runs'])} entries for "
                                 f"{len(joint['optima'])} joint optima")
    runs = d.get("runs")
    if runs is not None:
        if len(runs) != len(d["optima"]):
            raise ScalefitInputError(f"{path}: key $.runs: {len(runs)} entries for "
                                     f"{len(d['optima'])} optima")
        for i, r in enumerate(runs):
            if len(r["lr"]) != len(r["loss"]):
                raise ScalefitInputError(f"{path}: key $.runs[{i}]: lr and loss differ in "
                                         "length")
