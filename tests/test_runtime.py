"""Library calls limit BLAS threads where it pays and show progress only on a terminal."""

from __future__ import annotations

import contextlib
import io

import numpy as np

import scalefit
import scalefit.chinchilla
from scalefit.progress import ProgressBar, resolve
from scalefit.synthetic import make_sweeps


def chinchilla_data():
    n = np.geomspace(1e7, 1e9, 4).repeat(3)  # 3 token counts: fewer cannot identify B, beta
    d = np.tile([1e9, 3e9, 1e10], 4)
    return n, d, 1.8 + 400 * n ** -0.33 + 2000 * d ** -0.35


def test_fit_chinchilla_runs_on_one_blas_thread(monkeypatch):
    seen = []

    @contextlib.contextmanager
    def spy():
        from threadpoolctl import threadpool_info, threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            seen.append([i["num_threads"] for i in threadpool_info()
                         if i["user_api"] == "blas"])
            yield

    monkeypatch.setattr(scalefit.chinchilla, "single_thread_blas", spy)
    scalefit.fit_chinchilla(*chinchilla_data(), n_refine=2, progress=None)
    assert len(seen) == 1 and all(n == 1 for n in seen[0])


def test_single_thread_blas_limits_threads():
    from threadpoolctl import threadpool_info

    from scalefit.threads import single_thread_blas

    with single_thread_blas():
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")


def test_progress_auto_is_silent_off_a_terminal(capsys):
    df = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), n_lrs=7, seeds=1)
    scalefit.fit(df, n_boot=300)  # progress="auto" by default
    scalefit.fit_chinchilla(*chinchilla_data(), n_refine=2, n_boot=10)
    assert capsys.readouterr().err == ""
    calls = []
    scalefit.fit(df, n_boot=300, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (300, 300)


def test_progress_auto_draws_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    monkeypatch.setattr("sys.stderr", stream)
    callback, bar = resolve("auto", "bootstrap")
    assert isinstance(bar, ProgressBar) and callback is bar and bar.stream is stream
    bar.delay = 0.0
    with bar:
        callback(5, 10)
    assert "bootstrap [" in stream.getvalue() and stream.getvalue().endswith("\r")
    assert resolve(None, "x")[0] is None
