"""Bootstrap of a curve-law fit, and bands for predicted curves.

Two resampling plans, chosen by the number of runs in the group:

* ``runs`` (at least ``MIN_RUNS_RESAMPLE`` = 6 runs): whole runs are drawn with replacement
  (a run's observations enter with its multiplicity) and the law is refitted. The runs are
  the independent units: observations within a run are strongly autocorrelated.
* ``residual_blocks`` (fewer runs): a moving-block bootstrap of the ln residuals within
  each run: blocks of ``ceil(sqrt(n_r))`` consecutive residuals (``n_r`` observations of
  the run), drawn with replacement and laid end to end, are added to the fitted ln curve,
  and the law is refitted. Blocks keep the residuals' autocorrelation (on the Multi-Power
  Law data, lag-10 correlations of 0.4); with few runs it is the only resampling left, and
  it cannot show how far the runs' schedules leave the law (misspecification).

Refits start at the full-data optimum and run together (``curve_fit.lm_batch``).

Bands: for each draw the law predicts the curve; percentiles over draws give the band of
the mean curve. The *prediction* band, for the losses a run would log, adds to each draw an
ln error drawn from the errors the law makes on a schedule it has not seen: with 3 or more
runs, the leave-one-run-out errors (the law fitted without a run, predicting it; as in a
jackknife+ / cross-conformal interval, the runs are the exchangeable units); with fewer,
the fit's own residuals (which cannot show the error of a new schedule; said in the output).
Neither shows the error of extrapolating beyond the longest run fitted: for steps beyond it
the band adds the *leave-future-out* errors (``lfo_errors``): the law refitted on every run
cut at a share of the longest step fitted (1/3 and 1/2) predicts the rest of the runs, and
each error is kept with its ratio of steps (step over the cut). A step r times the longest
fitted step draws from the errors at ratios near r (within a factor 1.25); past the largest
ratio measured (3), from the errors at the largest ratios, and the output says the band can
no longer be checked there.
"""

from __future__ import annotations

import math

import numpy as np

from .curve_data import CurveData, subset
from .curve_fit import DEFAULT_DELTA, fit_law, lm_batch, predict_draws

MIN_RUNS_RESAMPLE = 6
_BATCH_PAIRS = 3_000_000


def block_length(n: int) -> int:
    """Moving-block length for a run of ``n`` observations: ceil(sqrt(n))."""
    return max(1, math.ceil(math.sqrt(n)))


def residual_block_indices(run: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """(n_boot, n) indices of resampled residuals: per run, moving blocks of consecutive
    observations of that run, concatenated and cut to the run's length."""
    n = run.size
    out = np.empty((n_boot, n), np.int64)
    for r in np.unique(run):
        pos = np.flatnonzero(run == r)
        m = pos.size
        L = min(block_length(m), m)
        nb = math.ceil(m / L)
        starts = rng.integers(0, m - L + 1, size=(n_boot, nb))
        idx = (starts[:, :, None] + np.arange(L)).reshape(n_boot, nb * L)[:, :m]
        out[:, pos] = pos[idx]
    return out


def bootstrap_law(law, data: CurveData, loss, theta_hat, n_boot: int, seed,
                  delta=DEFAULT_DELTA, plan: str = "auto", progress=None) -> dict:
    """Refit ``n_boot`` resamples. Returns ``thetas`` (n_boot, k), ``plan`` ("runs" or
    ``"residual_blocks"``), ``block_lengths`` (per run; residual plan), ``n_unconverged``,
    ``residuals`` (n,) ln residuals of the full fit."""
    rng = np.random.default_rng(seed)
    ln_loss = np.log(np.asarray(loss, float))
    ln_fit = np.log(predict_draws(law, theta_hat[None], data)[0])
    resid = ln_loss - ln_fit
    R = int(data.run.max()) + 1
    if plan == "auto":
        plan = "runs" if R >= MIN_RUNS_RESAMPLE else "residual_blocks"
    if plan == "runs":
        picks = rng.integers(0, R, size=(n_boot, R))
        counts = np.stack([np.bincount(p, minlength=R) for p in picks]).astype(float)
        weights, ln_targets = counts[:, data.run], None
    elif plan == "residual_blocks":
        idx = residual_block_indices(data.run, n_boot, rng)
        weights, ln_targets = None, ln_fit[None, :] + resid[idx]
    else:
        raise ValueError(f"unknown bootstrap plan {plan!r}")
    per = max(1, _BATCH_PAIRS // max(data.pairs.shape[1], 1))
    thetas = np.empty((n_boot, theta_hat.size))
    n_bad = 0
    for lo in range(0, n_boot, per):
        b = min(per, n_boot - lo)
        ln_b = ln_loss if ln_targets is None else ln_targets[lo:lo + b]
        w_b = None if weights is None else weights[lo:lo + b]
        th, _, conv = lm_batch(law, np.repeat(theta_hat[None], b, axis=0), data, ln_b, delta,
                               w_b)
        thetas[lo:lo + b] = th
        n_bad += int((~conv).sum())
        if progress is not None:
            progress(lo + b, n_boot)
    lengths = ([block_length(int((data.run == r).sum())) for r in range(R)]
               if plan == "residual_blocks" else None)
    return {"thetas": thetas, "plan": plan, "block_lengths": lengths,
            "n_unconverged": n_bad, "residuals": resid}


def bands(law, thetas, data: CurveData, residuals, level: float, seed) -> dict:
    """Percentile bands on ``data`` (the curves to predict) from parameter draws (B, k):
    ``mean_lo``/``mean_hi`` (the law's curve) and ``lo``/``hi`` (an observed loss: each
    draw times exp of an ln residual drawn from ``residuals``). Each (n,)."""
    draws = predict_draws(law, thetas, data)  # (B, n)
    q = 100.0 * np.array([(1 - level) / 2, (1 + level) / 2])
    with np.errstate(invalid="ignore"):
        mean = np.nanpercentile(draws, q, axis=0)
        rng = np.random.default_rng(seed)
        noisy = draws * np.exp(rng.choice(np.asarray(residuals, float), size=draws.shape))
        obs = np.nanpercentile(noisy, q, axis=0)
    return {"mean_lo": mean[0], "mean_hi": mean[1], "lo": obs[0], "hi": obs[1],
            "draws": draws}


def loro_errors(law, data: CurveData, loss, delta=DEFAULT_DELTA, n_refine: int = 3):
    """Leave-one-run-out ln errors (n,): each run predicted by the law fitted to the others
    (NaN for all when there are fewer than 3 runs)."""
    ln_loss = np.log(np.asarray(loss, float))
    out = np.full(data.n, np.nan)
    R = int(data.run.max()) + 1
    if R < 3:
        return out
    for r in range(R):
        held = data.run == r
        fit = fit_law(law, subset(data, ~held), np.exp(ln_loss[~held]), delta, n_refine)
        pred = predict_draws(law, fit["theta"][None], subset(data, held))[0]
        out[held] = ln_loss[held] - np.log(pred)
    return out


LFO_CUTS = (1 / 3, 1 / 2)  # shares of the longest fitted step at which the runs are cut


def lfo_errors(law, data: CurveData, loss, delta=DEFAULT_DELTA, cuts=LFO_CUTS,
               n_refine: int = 3) -> dict | None:
    """Leave-future-out ln errors: for each cut c (a share of the longest step fitted), the
    law fitted to every observation at a step <= c predicts those after it. Returns
    {"ratio": (m,) step / c, "error": (m,) ln observed - ln predicted} over all cuts, or
    None when no cut leaves both more observations than 2 + the law's parameters before it
    and some after it (or no refit converges to a finite curve)."""
    ln_loss = np.log(np.asarray(loss, float))
    top = float(data.step.max())
    ratio, error = [], []
    for share in cuts:
        cut = share * top
        before = data.step <= cut
        if before.sum() < len(law.param_names) + 2 or before.all():
            continue
        try:
            fit = fit_law(law, subset(data, before), np.exp(ln_loss[before]), delta, n_refine)
        except RuntimeError:
            continue
        pred = predict_draws(law, fit["theta"][None], subset(data, ~before))[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            e = ln_loss[~before] - np.log(pred)
        ok = np.isfinite(e)
        ratio.append(data.step[~before][ok] / cut)
        error.append(e[ok])
    if not ratio or not np.concatenate(ratio).size:
        return None
    return {"ratio": np.concatenate(ratio), "error": np.concatenate(error)}


def beyond_errors(lfo: dict, ratios: np.ndarray, size: int, rng) -> tuple[np.ndarray, bool]:
    """Draws (size, n) of the leave-future-out error at each step ratio of ``ratios`` (n,)
    (step over the longest fitted step; 0 at ratios <= 1): from the errors measured at
    ratios within a factor 1.25 of it, or past the largest ratio measured, from those at
    the top fifth of the measured ratios. Returns (draws, whether any step lies past the
    largest ratio measured)."""
    r_m, e_m = np.asarray(lfo["ratio"], float), np.asarray(lfo["error"], float)
    ratios = np.asarray(ratios, float)
    out = np.zeros((size, ratios.size))
    top = r_m.max()
    past = False
    for j, r in enumerate(ratios):
        if r <= 1.0:
            continue
        pool = e_m[(r_m >= r / 1.25) & (r_m <= r * 1.25)]
        if r > top or pool.size == 0:
            past |= r > top * 1.05
            pool = e_m[r_m >= 1 + 0.8 * (top - 1)]
        out[:, j] = rng.choice(pool, size=size)
    return out, past
