"""``scalefit.fit_chinchilla``: the Chinchilla-form loss law ``loss = E + A N^-alpha + B D^-beta``.

Fitted the way Hoffmann et al. (2022) and Besiroglu et al. (Epoch, 2024) do (the numerics
are in ``core.chinchilla``): Huber loss of the log residuals, L-BFGS from a grid of
starts, a batched Newton polish, bootstrap intervals over points. This module checks
the input at the boundary, limits BLAS to one thread while the hot loops run (so a
Python caller gets the command line's speed), shows progress, and builds the result.
``fit_chinchilla_table`` fits the runs of a table (what ``scalefit chinchilla`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import chinchilla as ch
from .errors import ScalefitInputError
from .options import check
from .progress import resolve
from .results.chinchilla import ChinchillaResult
from .threads import single_thread_blas


def _validate(n, d, loss):
    arrays = []
    for name, what, x in (("n", "parameter counts", n), ("d", "token counts", d),
                          ("loss", "losses", loss)):
        try:
            a = np.asarray(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ScalefitInputError(
                f"{name} must be a 1-D array of numbers ({what}); could not convert: {exc}"
            ) from None
        if a.ndim != 1:
            raise ScalefitInputError(
                f"{name} must be 1-D ({what}, one per run); got shape {a.shape}")
        arrays.append(a)
    lengths = [a.size for a in arrays]
    if len(set(lengths)) != 1:
        raise ScalefitInputError(
            f"n, d and loss must have the same length, one value per run; got {lengths}")
    for name, a in zip(("n", "d", "loss"), arrays, strict=True):
        bad = np.flatnonzero(~(np.isfinite(a) & (a > 0)))
        if bad.size:
            i = int(bad[0])
            raise ScalefitInputError(
                f"{name} must be finite and positive; row {i + 1} is {float(a[i]):g} "
                f"({bad.size} bad row{'s' if bad.size > 1 else ''}); drop those runs (e.g. "
                "diverged ones) or fix them")
    if lengths[0] < ch.MIN_POINTS:
        raise ScalefitInputError(
            f"need at least {ch.MIN_POINTS} runs to fit the 5 parameters of {ch.FORM}; "
            f"got {lengths[0]}; add runs")
    _identified(arrays[0], arrays[1])
    return arrays


def _identified(n: np.ndarray, d: np.ndarray) -> None:
    """Refuse data that cannot identify the law: the loss is E + f(N) + g(D), so only the
    differences of f between model sizes tell A and alpha (two numbers) apart from E: that
    takes 3 or more distinct N; likewise B and beta take 3 or more distinct D."""
    for x, what, term, params in ((n, "model size", "A * N^-alpha", "A and alpha"),
                                  (d, "token count", "B * D^-beta", "B and beta")):
        values = np.unique(x)
        if values.size < 3:
            shown = ", ".join(f"{v:g}" for v in values)
            raise ScalefitInputError(
                f"the runs have {values.size} {what}{'s' if values.size > 1 else ''} "
                f"({shown}): {params} (the term {term}) cannot be told apart from E with fewer "
                f"than 3; the fit needs runs at 3 or more {what}s")


def fit_chinchilla(
    n,
    d,
    loss,
    huber_delta: float = 1e-3,
    n_boot: int = 0,
    seed: int | None = 0,
    ci: float = 0.95,
    progress: Callable[[int, int], None] | str | None = "auto",
    *,
    n_refine: int = 20,
    starts: np.ndarray | None = None,
    input: dict | None = None,
) -> ChinchillaResult:
    """Fit ``loss = E + A * N^-alpha + B * D^-beta`` as Hoffmann et al. / Epoch do.

    n: parameters per run (N), d: training tokens per run (D), loss: final loss; 1-D
    arrays of equal length >= 5, finite and positive. ``huber_delta``: Huber threshold
    on ``ln L_pred - ln L``. ``n_boot``: bootstrap resamples over points (0 = none),
    drawn from ``numpy.random.default_rng(seed)`` (None: fresh entropy, not
    reproducible); ``ci``: interval level. ``progress``: ``"auto"`` (a bar on standard
    error when it is a terminal), None, or ``progress(done, total)``, called as starts
    are refined and resamples converge. ``n_refine``: how many of the best grid starts
    are refined by L-BFGS-B; ``starts``: (k, 5) theta rows (a, b, e, alpha, beta),
    default ``core.chinchilla.epoch_grid()``; ``input``: what the arrays came from (kept
    in the result). BLAS runs on one thread during the fit.
    Raises ScalefitInputError on bad input and ScalefitFitError if the optimizer fails.
    """
    n_arr, d_arr, loss_arr = _validate(n, d, loss)
    check("huber_delta", huber_delta)
    check("chinchilla_n_boot", n_boot, "n_boot")
    if seed is not None:  # None: a random seed
        check("seed", seed)
    check("ci", ci)
    check("progress", progress)
    grid = ch.epoch_grid() if starts is None else np.asarray(starts, dtype=float)
    if grid.ndim != 2 or grid.shape[1] != 5 or grid.shape[0] < 1 or not np.isfinite(grid).all():
        raise ScalefitInputError("starts must be a finite (k, 5) array of (a, b, e, alpha, beta)")
    n_refine = int(min(max(int(n_refine), 1), grid.shape[0]))
    report, bar = resolve(progress, "chinchilla")
    with bar, single_thread_blas():
        fit = ch.fit_points(n_arr, d_arr, loss_arr, float(huber_delta), int(n_boot), seed,
                            float(ci), grid, n_refine, report)
    return ChinchillaResult(
        params=fit["params"], theta=fit["theta"], objective=fit["objective"],
        n_points=n_arr.size, n_starts=int(grid.shape[0]), n_boot=int(n_boot),
        huber_delta=float(huber_delta), ci_level=float(ci),
        seed=None if seed is None else int(seed), boot_params=fit["boot_params"],
        n_boot_fallback=fit["n_boot_fallback"], n_boot_unconverged=fit["n_boot_unconverged"],
        converged=fit["converged"], ci=fit["ci"], input=input,
        data_range={"N": _span(n_arr), "D": _span(d_arr), "C": _span(6.0 * n_arr * d_arr)})


def _span(a: np.ndarray) -> tuple[float, float]:
    return float(a.min()), float(a.max())


def fit_chinchilla_table(table, *, scale: str | None = None, horizon: str | None = None,
                         loss: str | None = None, status: str | None = None,
                         fmt: str | None = None, extract=(), source: str | None = None,
                         status_ok=(), missing_loss: str = "skip",
                         keep_duplicates: bool = False, **kwargs) -> ChinchillaResult:
    """``fit_chinchilla`` on the non-diverged runs of a table of runs (path or DataFrame):
    N from the scale column, D from the horizon column (found by name unless given). Runs
    whose status says they did not finish are left out (``status_ok``: more finished
    values), empty losses (``missing_loss``) and repeated rows (``keep_duplicates``) as
    ``scalefit.load_runs`` says; its warnings are issued as ``UserWarning``."""
    import warnings

    import pandas as pd

    from .table import load_runs, read_table

    if not isinstance(table, pd.DataFrame):
        source = source or ("<stdin>" if str(table) == "-" else str(table))
        table = read_table(table, fmt)
    dummy = "__scalefit_lr__"  # the table edge wants an lr column; a loss law needs none
    runs = load_runs(table.assign(**{dummy: 1.0}), scale=scale, horizon=horizon, lr=dummy,
                     loss=loss, status=status, source=source, extract=extract,
                     status_ok=status_ok, missing_loss=missing_loss,
                     keep_duplicates=keep_duplicates)
    for message in runs.warnings:
        warnings.warn(message, stacklevel=2)
    for role, what, flag in (("scale", "N (parameters)", "--scale"),
                             ("horizon", "D (tokens)", "--horizon")):
        if runs.columns.get(role) is None:
            raise ScalefitInputError(f"{runs.source}: no {what} column found (looked for {role}, "
                                     + ("N, params, n_params" if role == "scale" else
                                        "D, tokens, horizon_tokens")
                                     + f", ...); name it with {flag} COL")
    used = ~runs.data["diverged"].to_numpy(bool)
    data = runs.data[used]
    loss_vals = data["loss"].to_numpy(float)
    if (loss_vals <= 0).any():
        i = int(np.flatnonzero(loss_vals <= 0)[0])
        row = int(runs.rows[used][i]) if runs.rows is not None else i + 1
        raise ScalefitInputError(
            f"{runs.source}: column {runs.columns['loss']!r} (loss), row {row}: "
            f"{loss_vals[i]:g}; the Chinchilla law fits ln loss, so every loss must be > 0: "
            "fix or drop that run")
    cols = {k: v for k, v in runs.columns.items() if k != "lr"}
    info = {"source": runs.source, "rows": runs.n_read,
            "used": int(len(data)), "diverged": runs.n_diverged, "columns": cols}
    if runs.excluded:
        info["excluded"] = runs.n_excluded
    try:
        return fit_chinchilla(data["scale"].to_numpy(), data["horizon"].to_numpy(),
                              data["loss"].to_numpy(), input=info, **kwargs)
    except ScalefitInputError as e:
        raise ScalefitInputError(f"{runs.source}: {e}") from e
