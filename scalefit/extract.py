"""``--extract COL:REGEX``: columns made from the named groups of a regex searched in a text
column (a W&B run name holding the width and the LR, ...).

A regex comes from the command line, so it is treated as hostile input: a pattern ``re``
refuses (a syntax error, a repeat count too large such as ``a{4294967296}``, groups nested
too deeply) is one ``ScalefitInputError`` line, and matching a column stops after
``EXTRACT_SECONDS`` (plus 0.1 ms a row): a pattern that backtracks without end, such as
``(a+)+$`` on a long cell, is refused with the row it was stuck on instead of hanging.
The limit is a ``SIGALRM`` timer (the regex engine checks for signals while it
backtracks), so it holds in the main thread of a process on systems that have one (the
command line, a script); elsewhere matching runs without a limit.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time

import pandas as pd

from .errors import ScalefitInputError
from .render.format import name_list, quote

EXTRACT_SECONDS = 10.0  # matching one --extract regex over a column: this, + 0.1 ms a row


class _TooSlow(Exception):
    """Raised in the main thread when matching an --extract regex runs past its time."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise ``_TooSlow`` in this thread after ``seconds`` of wall time (SIGALRM: the regex
    engine checks for signals while it backtracks). Where there is no SIGALRM, or off the
    main thread, there is no limit. A timer already set by the caller is restored."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise _TooSlow

    old = signal.signal(signal.SIGALRM, stop)
    before, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    t0 = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if before > 0:
            signal.setitimer(signal.ITIMER_REAL, max(before - (time.monotonic() - t0), 1e-3),
                             interval)


def compile_extract(spec: str, pattern: str) -> re.Pattern:
    """The compiled regex of an --extract spec; one line on any pattern ``re`` refuses
    (syntax, a repeat count too large, groups nested too deeply)."""
    try:
        return re.compile(pattern)
    except re.error as e:
        why = str(e)
    except OverflowError:
        why = "a repeat count is too large"
    except RecursionError:
        why = "it nests groups too deeply"
    except (ValueError, MemoryError) as e:
        why = str(e) or type(e).__name__
    raise ScalefitInputError(f"--extract {quote(spec)}: bad regular expression: {why}")


def apply_extract(df: pd.DataFrame, specs, src: str) -> pd.DataFrame:
    """Add the named groups of each ``COL:REGEX`` as columns (numbers converted).

    The regex is searched (``re.search``) in the text of COL; every row must match.
    Matching one column stops after ``EXTRACT_SECONDS`` (plus 0.1 ms a row), so a regex
    that backtracks without end (``(a+)+$``) is refused with the row it was stuck on.
    """
    df = df.copy()
    for spec in specs:
        col, pattern = _split_extract(spec, [str(c) for c in df.columns], src)
        rx = compile_extract(spec, pattern)
        names = list(rx.groupindex)
        if not names:
            raise ScalefitInputError(f"--extract {quote(spec)}: the regex has no named group; "
                                     "write (?P<name>...) around each value to extract")
        clash = [n for n in names if n in df.columns]
        if clash:
            raise ScalefitInputError(f"--extract {quote(spec)}: {src} already has a column "
                                     f"{clash[0]!r}; rename the group")
        values = df[col]
        found = {n: [] for n in names}
        misses = []
        cells = values.tolist()
        limit = EXTRACT_SECONDS + 1e-4 * len(cells)
        i = 0
        try:
            with _time_limit(limit):
                for i, v in enumerate(cells):
                    m = (None if v is None or (isinstance(v, float) and v != v)
                         else rx.search(str(v)))
                    if m is None:
                        misses.append(i)
                        continue
                    for n in names:
                        found[n].append(m.group(n))
        except _TooSlow:
            raise ScalefitInputError(
                f"{src}: column {quote(col, 60)}, row {i + 1}: --extract regex {quote(pattern)} "
                f"was still matching after {limit:.3g} s (a repeat inside a repeat, such as "
                "(a+)+, can backtrack without end); simplify the regex") from None
        if misses:
            i = misses[0]
            more = f" ({len(misses)} of {len(values)} rows do not match)" if len(misses) > 1 else ""
            raise ScalefitInputError(f"{src}: column {quote(col, 60)}, row {i + 1}: "
                                     f"{quote(values.iloc[i])} does not match --extract regex "
                                     f"{quote(pattern)}{more}")
        for n in names:
            raw = pd.Series(found[n], index=df.index, dtype=object)
            num = pd.to_numeric(raw, errors="coerce")
            df[n] = num if num.notna().sum() == raw.notna().sum() else raw
    return df


def _split_extract(spec: str, columns: list[str], src: str) -> tuple[str, str]:
    if ":" not in spec:
        raise ScalefitInputError(f"--extract {quote(spec)}: expected COL:REGEX, e.g. "
                                 "'Name:_lr(?P<lr>[0-9.e+-]+)_'")
    # The column name may itself hold ':'; take the shortest prefix that is a column.
    for m in re.finditer(":", spec):
        if spec[: m.start()] in columns:
            return spec[: m.start()], spec[m.end():]
    col = spec.split(":", 1)[0]
    raise ScalefitInputError(f"{src}: column {quote(col, 60)} (given to --extract) not found; "
                             f"columns are: {name_list(columns)}")
