"""BLAS threads for small, hot numeric loops.

The fits here solve many tiny problems (5x5 systems, 5-dimensional L-BFGS-B); a
multithreaded BLAS makes each call cost milliseconds instead of microseconds on a busy
machine (scipy/scipy#22438). ``single_thread_blas()`` limits BLAS to one thread for the
duration of a ``with`` block through threadpoolctl (a dependency: see pyproject.toml),
so a Python caller gets the speed the command line gets, whatever the environment says.
"""

from __future__ import annotations

import contextlib


def single_thread_blas():
    """A context manager limiting BLAS to one thread (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency; kept working without it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
