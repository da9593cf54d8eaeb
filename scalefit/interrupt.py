"""Ctrl-C at any moment of a ``scalefit`` command: exit status 130 and one line,
``scalefit: error: interrupted``, never a traceback.

While the command line starts (the package and its modules are imported), SIGINT ends
the process at once with that line (``guard_start``, called first thing by the package
when it runs as the ``scalefit`` command, never when it is imported as a library).
``cli.main`` turns it back into ``KeyboardInterrupt`` for the command itself
(``as_exception``), so outputs being written are rolled back before the line.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys

LINE = b"scalefit: error: interrupted\n"
EXIT = 130
_SEEN = []  # one entry per SIGINT that ``as_exception`` turned into KeyboardInterrupt


def _exit_now(signum, frame) -> None:
    """SIGINT before (or after) the command runs: the line, exit 130, nothing else."""
    with contextlib.suppress(OSError):
        os.write(2, LINE)
    os._exit(EXIT)


def _raise(signum, frame) -> None:
    """SIGINT while the command runs: remember it, then raise KeyboardInterrupt. A library
    that catches the exception inside an import (numpy turns it into ImportError) cannot
    hide the interrupt: ``cli.main`` asks ``was_interrupted`` before calling it a bug."""
    _SEEN.append(signum)
    raise KeyboardInterrupt


def was_interrupted() -> bool:
    """Whether SIGINT arrived while ``as_exception`` was in force."""
    return bool(_SEEN)


def end_command(status: int) -> None:
    """In the ``scalefit`` command, after an interrupt has been reported: flush and end
    the process with ``status`` at once, so nothing during interpreter shutdown (a
    KeyboardInterrupt still pending there) can turn exit 130 into death by SIGINT."""
    if not is_command_line():
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def is_command_line() -> bool:
    """Whether this process is the ``scalefit`` command (the console script or
    ``python -m scalefit``), not a program that imports scalefit."""
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    if re.fullmatch(r"scalefit(-script\.pyw?|\.exe)?", name):
        return True
    orig = list(getattr(sys, "orig_argv", []))
    return "-mscalefit" in orig or any(a == "-m" and b == "scalefit"
                                       for a, b in zip(orig, orig[1:]))


def guard_start() -> None:
    """In the ``scalefit`` command, end the process on SIGINT from now on (imports)."""
    if not is_command_line():
        return
    with contextlib.suppress(ValueError, OSError):  # not the main thread: leave it
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _exit_now)


@contextlib.contextmanager
def as_exception():
    """Inside: SIGINT raises KeyboardInterrupt (where ``guard_start`` had made it end the
    process); after: it ends the process again. Elsewhere nothing changes."""
    ours = signal.getsignal(signal.SIGINT) is _exit_now
    if ours:
        signal.signal(signal.SIGINT, _raise)
    try:
        yield
    finally:
        if ours:
            signal.signal(signal.SIGINT, _exit_now)
