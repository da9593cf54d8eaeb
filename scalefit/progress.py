"""A small progress bar on standard error, for work that takes more than about a second.

No dependency: one line redrawn with ``\\r``. The bar appears only when the stream is a
terminal, only after ``delay`` seconds (quick work prints nothing), and it is erased
when the work ends, so standard error holds nothing but messages and errors.

    with ProgressBar("bootstrap") as bar:
        fit(..., progress=bar)            # the library calls bar(done, total)

A background thread redraws the line a few times a second, so the elapsed time moves
even when the library reports progress in a few large steps. ``resolve`` turns the
``progress`` argument of a library call (``"auto"``, None or a callable) into a callback.
"""

from __future__ import annotations

import sys
import threading
import time

from .options import check

WIDTH = 28


class ProgressBar:
    """Callable ``bar(done, total)``; a context manager that erases the line on exit."""

    def __init__(self, label: str, enabled: bool | None = None, stream=None,
                 delay: float = 1.0, interval: float = 0.2, after: str | None = None):
        self.label = label
        self.after = after  # what runs once done == total (shown with a spinner)
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = _is_terminal(self.stream)
        self.enabled = bool(enabled)
        self.delay = delay
        self.interval = interval
        self.done = 0
        self.total = 0
        self._start = time.monotonic()
        self._drawn = False
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ protocol
    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = int(done), int(total)
        if self.enabled and time.monotonic() - self._start >= self.delay:
            self._draw()

    def __enter__(self) -> ProgressBar:
        self._start = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop redrawing and erase the line (if one was drawn)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        with self._lock:
            if self._drawn:
                self._write("\r" + " " * self._width + "\r")
                self._drawn = False

    # ------------------------------------------------------------------ drawing
    def line(self) -> str:
        """The text of the bar as it would be drawn now."""
        elapsed = time.monotonic() - self._start
        spin = "|/-\\"[int(elapsed / self.interval) % 4]
        if self.after and self.total > 0 and self.done >= self.total:
            return f"{self.label} done, {self.after} {spin} {elapsed:5.1f}s"
        if self.total > 0:
            frac = min(max(self.done / self.total, 0.0), 1.0)
            full = int(round(frac * WIDTH))
            bar = "#" * full + "-" * (WIDTH - full)
            return (f"{self.label} [{bar}] {self.done}/{self.total} "
                    f"{frac * 100:3.0f}% {elapsed:5.1f}s")
        return f"{self.label} {spin} {elapsed:5.1f}s"

    def _draw(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            text = self.line()
            self._width = max(self._width, len(text))
            self._write("\r" + text.ljust(self._width))
            self._drawn = True

    def _tick(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            self._draw()
            self._stop.wait(self.interval)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed or broken stream: progress is optional
            self.enabled = False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def resolve(progress, label: str, after: str | None = None):
    """The progress callback of a library call and the context that closes it.

    ``"auto"``: a ProgressBar on standard error when it is a terminal (silent otherwise);
    ``None``: silence; a callable ``progress(done, total)``: used as it is.
    Returns ``(callback or None, context manager)``.
    """
    import contextlib

    if progress is None:
        return None, contextlib.nullcontext()
    check("progress", progress)
    if isinstance(progress, str):
        bar = ProgressBar(label, after=after)
        return (bar if bar.enabled else None), bar
    return progress, contextlib.nullcontext()
