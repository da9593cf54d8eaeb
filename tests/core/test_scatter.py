"""core.scatter: the new-point scatter of predictions and the scatter of a law's points
beyond their own noise, against ground truth."""

import numpy as np
import pytest

from scalefit.core.laws import loglinear
from scalefit.core.scatter import (
    excess_scatter,
    new_point_scale,
    scatter_draws,
    with_excess_scatter,
)


def _design(n=8, rng=None):
    s = np.log(np.geomspace(1e6, 1e9, n))
    return np.column_stack([np.ones(n), s])


def _points(rng, X, sigma, tau, B=2000):
    """Targets on the line 1 - 0.3 ln s with per-law scatter tau and per-point measurement
    noise sigma; the draws are the measurement noise around the measured values."""
    truth = X @ np.array([1.0, -0.3])
    ly = truth + rng.normal(0, tau, len(truth)) + rng.normal(0, sigma, len(truth))
    lb = ly + rng.normal(0, sigma, (B, len(truth)))
    return ly, lb


def test_new_point_scale_is_the_textbook_formula():
    X = _design(6)
    z = np.array([[1.0, np.log(1e10)], [1.0, X[:, 1].mean()]])
    scale, dof = new_point_scale(0.1, z, X)
    h = np.array([zz @ np.linalg.inv(X.T @ X) @ zz for zz in z])
    assert dof == 4
    np.testing.assert_allclose(scale, 0.1 * np.sqrt(6 / 4) * np.sqrt(1 + h), rtol=1e-12)
    assert scale[0] > scale[1]  # wider far from the data
    # no usable design: rmse alone, normal
    s2, d2 = new_point_scale(0.1, z, None)
    assert d2 is None and np.all(s2 == 0.1)
    s3, d3 = new_point_scale(0.1, z, X[:2])
    assert d3 is None and np.all(s3 == 0.1)
    # a held exponent leaves its column out of the leverage and the degrees of freedom
    s4, d4 = new_point_scale(0.1, z, X, free=np.array([0]))
    assert d4 == 5
    np.testing.assert_allclose(s4, 0.1 * np.sqrt(6 / 5) * np.sqrt(1 + 1 / 6), rtol=1e-12)


def test_scatter_draws_are_reproducible_and_t_shaped():
    X = _design(5)
    z = np.array([[1.0, np.log(1e9)]])
    a = scatter_draws(0.1, z, X, (20000, 1), seed=3)
    b = scatter_draws(0.1, z, X, (20000, 1), seed=3)
    np.testing.assert_array_equal(a, b)
    scale, dof = new_point_scale(0.1, z, X)
    # Student's t with 3 dof has variance 3: s.d. sqrt(3) times the scale
    assert np.std(a) == pytest.approx(np.sqrt(dof / (dof - 2)) * scale[0], rel=0.15)


@pytest.mark.parametrize("tau", [0.0, 0.05, 0.2])
def test_excess_scatter_recovers_the_planted_scatter(tau):
    rng = np.random.default_rng(0)
    X = _design(10)
    est = []
    for _ in range(300):
        ly, lb = _points(rng, X, 0.02, tau, B=400)
        e = excess_scatter(X, ly, lb)
        assert e["dof"] == 8
        est.append(e["tau2"])
    # tau2 is clipped at 0, so its mean sits a little above a true 0
    if tau == 0:
        assert np.mean(est) < 0.15 * 0.02**2 * 8
    else:
        assert np.mean(est) == pytest.approx(tau**2, rel=0.15)


def test_excess_scatter_without_draws_or_dof():
    X = _design(3)
    ly = np.array([0.0, 0.1, 0.3])
    assert np.isnan(excess_scatter(X, ly, None)["tau2"])
    assert np.isnan(excess_scatter(X[:2], ly[:2], np.zeros((10, 2)))["tau2"])
    lb = np.full((10, 3), np.nan)  # a point without draws
    assert np.isnan(excess_scatter(X, ly, lb)["tau2"])


def test_with_excess_scatter_restores_the_coverage_of_the_slope():
    """A slope's bootstrap interval from measurement noise alone undercovers when the points
    scatter around the law; adding the measured excess brings it back to its level."""
    rng = np.random.default_rng(1)
    X = _design(8)
    plain, fixed = [], []
    for i in range(200):
        ly, lb = _points(rng, X, 0.01, 0.08, B=400)
        for out, draws in ((plain, lb), (fixed, None)):
            if draws is None:
                e = excess_scatter(X, ly, lb)
                draws = with_excess_scatter(lb, e["tau2"], e["dof"], seed=i)
            slope = loglinear(X, draws)[:, 1]
            lo, hi = np.percentile(slope, [2.5, 97.5])
            out.append(lo <= -0.3 <= hi)
    assert np.mean(plain) < 0.5
    assert 0.9 <= np.mean(fixed) <= 1.0


def test_with_excess_scatter_leaves_noise_only_draws_alone():
    lb = np.random.default_rng(0).normal(size=(50, 4))
    assert with_excess_scatter(lb, 0.0, 3) is lb
    assert with_excess_scatter(lb, np.nan, 3) is lb
    a = with_excess_scatter(lb, 0.01, 3, seed=5)
    np.testing.assert_array_equal(a, with_excess_scatter(lb, 0.01, 3, seed=5))


@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_excess_tau2_with_given_variances_recovers_the_planted_scatter(tau):
    """The planner's form (variances given, as the design predicts them): the mean over
    200 laws of 8 points is tau^2 within 25%; without scatter only the bias of max(0, .):
    sigma^2 E[max(0, chi2_6 - 6)] / 6, about 0.2 sigma^2."""
    from scalefit.core.scatter import excess_tau2

    rng = np.random.default_rng(7)
    X, sigma = _design(), 0.05
    est = [excess_tau2(X, _points(rng, X, sigma, tau, B=2)[0], np.full(8, sigma**2))
           for _ in range(200)]
    if tau:
        assert abs(np.mean(est) / tau**2 - 1) < 0.25
    else:
        assert np.mean(est) < 0.3 * sigma**2
    # a point without an optimum is left out; no more points than parameters: 0
    ly = _points(rng, X, sigma, tau, B=2)[0]
    ly[3] = np.nan
    assert np.isfinite(excess_tau2(X, ly, np.full(8, sigma**2)))
    assert excess_tau2(X[:2], ly[:2], np.full(2, sigma**2)) == 0.0


def test_the_planner_carries_the_scatter_of_the_optima():
    """A law whose optima scatter 10% around it beyond their noise: the planner's s.d. of
    the target (``scalefit next``'s "s.d. now") includes tau^2 sum h^2 and so stays near
    the bootstrap's s.d. of the law's prediction (its CI over 2 x 1.96), as it does
    without scatter; without tau^2 it was 15 times too small here (0.0148 against 0.215)."""
    import scalefit
    from scalefit.synthetic import make_sweeps

    ratios = {}
    for scatter in (0.0, 0.1):
        df = make_sweeps(scales=(1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8), horizons=(1e9,),
                         lr_scatter=scatter, noise=0.003, seed=3)
        fit = scalefit.fit(df, n_boot=300, progress=None)
        t = fit.next_runs(3, target_scale=1e9, cost="runs").targets[0]
        boot_sd = np.log(t["lr_ci"][1] / t["lr_ci"][0]) / (2 * 1.96)
        ratios[scatter] = t["sd_now"] / boot_sd
    assert 0.5 < ratios[0.0] < 1.5, ratios
    assert 0.5 < ratios[0.1] < 1.5, ratios
