"""``--fix NAME=X`` (fit, compare, backtest) and ``--margin NAME=M`` (compare): exponents of
the laws of lr_opt held at a value, and the equivalence margin per exponent (argparse only)."""

from __future__ import annotations

import argparse
import math

FIX = ("hold an exponent of the laws of lr_opt at X (a: scale, b: horizon; repeatable) and "
       "test that constraint, e.g. --fix a=0; COL=VALUE:NAME=X holds it in the groups with "
       "that --by value only, e.g. --fix parameterization=sp:a=-1")
MARGIN = ("per group: is exponent NAME within +-X of 0 (or of its --fix value)? (repeatable), "
          "e.g. --margin a=0.1")


def named(text: str) -> tuple[str, float]:
    """``NAME=NUMBER`` -> (name, finite number); ``COL=VALUE:NAME=NUMBER`` -> (the
    qualified name ``COL=VALUE:NAME``, number), for ``--fix`` in some groups only."""
    where, colon, rest = text.rpartition(":")
    if colon:
        name, v = named(rest)
        return f"{where}:{name}", v
    name, _, value = text.partition("=")
    try:
        v = float(value)
    except ValueError:
        v = math.nan
    if not name.strip() or not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=NUMBER, e.g. a=0")
    return name.strip(), v


def add_law_options(p: dict) -> None:
    """Add --fix to ``fit``, ``compare`` and ``backtest``, --margin to ``compare``."""
    for name, opt, what in (("fit", "--fix", FIX), ("compare", "--fix", FIX),
                            ("backtest", "--fix", FIX), ("compare", "--margin", MARGIN)):
        p[name].add_argument(opt, metavar="NAME=X", type=named, action="append", default=[],
                             help=what)
