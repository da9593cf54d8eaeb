"""What every result shares: draws in JSON and intervals recomputed from draws.

The protocol (docs/architecture.md): every result is immutable once built and offers
``params``, ``conf_int(level=None)``, ``summary()`` (a ``render.tables`` Table or
Document: prints as text, renders as Markdown and HTML), ``to_dict(draws=True)`` and
``from_dict(d)``. Values become JSON by ``core.pyvalue.jsonable`` (the one converter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..core.pyvalue import jsonable
from ..errors import ScalefitInputError
from ..options import check


class Immutable:
    """A result whose attributes are set once, by ``_set`` in ``__init__``; setting one
    afterwards raises AttributeError (``_immutable_hint`` is added to the message)."""

    __slots__ = ()
    _immutable_hint = ""

    def _set(self, values: dict) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name!r})"
                             f"{self._immutable_hint}")


def draws_to_json(draws) -> list | None:
    """Bootstrap draws at full precision; NaN (a resample without a fit) as null."""
    if draws is None:
        return None
    return jsonable(np.asarray(draws, dtype=float))


def draws_from_json(rows) -> np.ndarray | None:
    """The inverse of ``draws_to_json``: null -> NaN."""
    if rows is None:
        return None
    return np.array([[np.nan if v is None else v for v in r] if isinstance(r, list) else
                     (np.nan if r is None else r) for r in rows], dtype=float)


def level_or_stored(level, fit_level: float, has_draws: bool, what: str) -> float:
    """The level to compute intervals at; refuses another level when no draws are held."""
    if level is None or math.isclose(level, fit_level):
        return fit_level
    check("level", level)
    if not has_draws:
        raise ValueError(f"{what} holds no bootstrap draws: its intervals exist only at the "
                         f"fit's level {fit_level:g} (refit with resamples for another level)")
    return float(level)


def need(d, key: str, where: str):
    """``d[key]``, or a ScalefitInputError naming the missing key."""
    if not isinstance(d, Mapping) or key not in d:
        raise ScalefitInputError(f"{where}: missing key {key!r}")
    return d[key]
