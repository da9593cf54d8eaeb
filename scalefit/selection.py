"""Which by groups ``group=`` selects: one rule for every decision, planner and lookup.

A group (by column -> value) matches ``group={column: value, ...}`` when, for every
column named, it has that column and its value is the wanted one as text or as a number
(within 1e-9, relative): ``{"wd": "0.1"}`` selects wd = 0.1, ``{"width": 64}`` selects
the text "64" and 64.0, ``{"parameterization": "mup"}`` selects mup. Where some groups
match as text exactly, only they are selected (labels "0" and "00" are two groups). ``select`` also
refuses a column that is not a by column of the fit (one line naming its by columns) and
a selection that matches no group (one line naming the groups there are).

Used by ``FitResult.law``, ``.groups`` (predict, audit, transfer), ``JointFit.law`` and
``.groups``, ``IsoflopResult.law``, ``next_runs`` (both planners) and the rows of a
decision (``Prediction.row``). Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import ScalefitInputError


def same_value(a, b) -> bool:
    """``a`` and ``b`` are the same group value: equal as text, or as numbers."""
    if str(a) == str(b):
        return True
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return x == y or (math.isfinite(x) and math.isclose(x, y, rel_tol=1e-9))


def matches(group: Mapping | None, want: Mapping | None) -> bool:
    """``group`` has every column of ``want``, each with the same value (``same_value``)."""
    group = group or {}
    return all(k in group and same_value(group[k], v) for k, v in (want or {}).items())


def exact(group: Mapping | None, want: Mapping | None) -> bool:
    """``group`` has every column of ``want`` with the same text."""
    group = group or {}
    return all(k in group and str(group[k]) == str(v) for k, v in (want or {}).items())


def matching(items, want: Mapping | None, group_of=lambda item: item) -> list:
    """The items whose group (``group_of(item)``) ``want`` selects: those matching as text
    exactly when there are any (labels "0" and "00" are two groups), else those matching
    as text or number (``matches``)."""
    hit = [x for x in items if matches(group_of(x), want)]
    same = [x for x in hit if exact(group_of(x), want)]
    return same or hit


def select(groups, want: Mapping | None, by, where: str = "the fit",
           none: str = "no law for that group", have: str = "groups with a law") -> list:
    """The groups of ``groups`` (mappings) that ``want`` selects, in their order; all of them
    without ``want``. ScalefitInputError for a column of ``want`` that is not in ``by`` and
    for a selection that matches none of ``groups``: "group K=V: {none}; {have}: ...")."""
    want = dict(want or {})
    by = list(by)
    for k, v in want.items():
        if k not in by:
            raise ScalefitInputError(
                f"group {k}={v}: {where} has no group column {k!r}"
                + (f"; its groups are by {', '.join(map(str, by))}" if by else
                   " (it was fitted without --by)"))
    groups = list(groups)
    hit = matching(groups, want)
    if want and groups and not hit:
        asked = ", ".join(f"{k}={v}" for k, v in want.items())
        if len(want) == 1:
            k = next(iter(want))
            shown = ", ".join(dict.fromkeys(str(g.get(k)) for g in groups))
        else:
            shown = "; ".join(dict.fromkeys(", ".join(f"{k}={g.get(k)}" for k in want)
                                            for g in groups))
        raise ScalefitInputError(f"group {asked}: {none}; {have}: {shown}")
    return hit
