"""Reading a stream (a FIFO, a pipe, ``<(...)``, a device, standard input) without hanging
and without end: every read of a stream named by its path waits at most ``wait_seconds()``
for its next byte (a FIFO no program writes is refused, not waited on forever), and a
read can be bounded in size (a FIT.json read from ``/dev/zero`` is refused at its limit).

``SCALEFIT_STREAM_WAIT`` (seconds, default 60) sets the wait, for a writer that is slow
to start. Standard input (``-``) is waited on as long as it takes (a pipe's writer is
the program before it), but a terminal is refused: scalefit reads files, not typing.
"""

from __future__ import annotations

import os
import select
import stat
import sys

from .errors import ScalefitInputError

WAIT_SECONDS = 60.0
CHUNK = 1 << 20


def wait_seconds() -> float:
    """How long a stream may give no byte: ``SCALEFIT_STREAM_WAIT`` or 60 s."""
    try:
        wait = float(os.environ.get("SCALEFIT_STREAM_WAIT", WAIT_SECONDS))
    except ValueError:
        return WAIT_SECONDS
    return wait if wait > 0 else WAIT_SECONDS


def is_stream(path) -> bool:
    """Whether ``path`` names something other than a regular file or a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


class Stream:
    """A stream opened for a timed, bounded read: ``read(n)`` gives up to ``n`` bytes
    (``None``: to its end), fewer only at the end. ``src`` names it in messages; ``wait``:
    seconds without a byte before a one-line refusal (None: no limit)."""

    def __init__(self, fd: int, src: str, wait: float | None, own: bool):
        self.fd, self.src, self.wait, self.own = fd, src, wait, own
        self.done = False

    @classmethod
    def open(cls, path, src: str | None = None) -> Stream:
        """A stream named by its path, opened without waiting for a writer."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        return cls(fd, src or str(path), wait_seconds(), own=True)

    def read(self, n: int | None = None) -> bytes:
        chunks, total = [], 0
        while not self.done and (n is None or total < n):
            size = CHUNK if n is None else min(CHUNK, n - total)
            part = self._read_some(size)
            if not part:
                self.done = True
                break
            chunks.append(part)
            total += len(part)
        return b"".join(chunks)

    def _read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes as soon as some are there; b"" at the end."""
        if self.wait is None:
            return os.read(self.fd, size)
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            if not poller.poll(self.wait * 1000):  # no byte, no end: no writer?
                raise ScalefitInputError(
                    f"{self.src}: no data came for {self.wait:g} s (a FIFO no program writes "
                    "to?); start the program that writes it first, give a file, or set "
                    "SCALEFIT_STREAM_WAIT to wait longer")
            try:
                return os.read(self.fd, size)
            except BlockingIOError:
                continue

    def close(self) -> None:
        if self.own:
            os.close(self.fd)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stdin_stream(what: str = "the table", example: str = "cat runs.csv | scalefit fit -"
                 ) -> Stream | None:
    """Standard input as a Stream (None when it has no file descriptor: a test's
    replacement); one line when it is closed or a terminal."""
    if sys.stdin is None or sys.stdin.closed:
        raise ScalefitInputError(f"<stdin>: standard input is closed; pipe {what} in "
                                 f"({example}) or give its file")
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):
        return None
    if os.isatty(fd):
        raise ScalefitInputError(f"<stdin>: standard input is a terminal; pipe {what} in "
                                 f"({example}) or give its file")
    return Stream(fd, "<stdin>", None, own=False)
