"""Laws of the optima weight each optimum by its precision, 1 / (v_i + tau^2)
(core/scatter.py ``precision_weights``, docs/math.md section 3): ground truth on laws with
known heteroscedastic optima, and the limits (equal noise: the unweighted law)."""

import numpy as np
import pytest

from scalefit.core.laws import design, power_law
from scalefit.core.scatter import paule_mandel, precision_weights
from scalefit.laws import with_excess

SCALES = np.array([1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8, 6.4e8, 1.28e9])
A_TRUE, C_TRUE = -0.3, 0.02


def _law(rng, sd, tau=0.0, B=300, weighted=True):
    """One law of lr_opt on SCALES: optima off the true law by N(0, sd_i^2 + tau^2), their
    resamples spread by sd_i around them (what a sweep's bootstrap measures)."""
    ly_true = np.log(C_TRUE) + A_TRUE * np.log(SCALES)
    ly = ly_true + rng.normal(0, 1, len(SCALES)) * np.sqrt(sd ** 2 + tau ** 2)
    yb = np.exp(ly + rng.normal(0, 1, (B, len(SCALES))) * sd)
    values = {"scale": SCALES}
    yb, _, w = with_excess(values, ("scale",), np.exp(ly), yb, "lr_opt")
    return power_law("lr_opt", values, np.exp(ly), yb, ("scale",), {}, 0.95,
                     weights=w if weighted else None)


def _study(sd, tau=0.0, seeds=150):
    err = {True: [], False: []}
    cover = {True: [], False: []}
    for seed in range(seeds):
        for weighted in (True, False):
            law = _law(np.random.default_rng(seed), sd, tau, weighted=weighted)
            err[weighted].append(law.params["a"] - A_TRUE)
            lo, hi = law.ci["a"]
            cover[weighted].append(lo <= A_TRUE <= hi)
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
    return rms, {k: float(np.mean(v)) for k, v in cover.items()}


def test_precise_optima_count_more_and_the_exponent_is_closer():
    """Half the optima known to 3%, half to 40% (e.g. sweeps whose valley is flat or whose
    grid barely brackets the optimum): the weighted exponent's RMS error is well below the
    unweighted one's (measured: 0.018 against 0.063 over 150 seeds), and its 95% interval
    still covers the true exponent (98%)."""
    sd = np.where(np.arange(len(SCALES)) % 2 == 0, 0.03, 0.4)
    rms, cover = _study(sd)
    assert rms[True] < 0.5 * rms[False], rms
    assert cover[True] >= 0.9, cover


def test_scatter_beyond_the_noise_evens_the_weights():
    """With a scatter of the optima around the law (tau = 0.3) far above their own noise,
    the weights tend to equal: the weighted law is no worse than the unweighted one, and
    its interval covers (measured: RMS 0.0682 against 0.0681, both cover 95%)."""
    sd = np.where(np.arange(len(SCALES)) % 2 == 0, 0.02, 0.06)
    rms, cover = _study(sd, tau=0.3)
    assert rms[True] <= 1.05 * rms[False], rms
    assert cover[True] >= 0.9, cover


def test_equal_noise_gives_the_unweighted_law():
    law_w = _law(np.random.default_rng(3), np.full(len(SCALES), 0.05), B=2000)
    law_u = _law(np.random.default_rng(3), np.full(len(SCALES), 0.05), B=2000, weighted=False)
    assert law_w.weights is not None
    np.testing.assert_allclose(law_w.weights, 1.0, atol=0.15)  # resampled v_i, near equal
    assert law_w.params["a"] == pytest.approx(law_u.params["a"], abs=0.01)
    assert law_u.weights is None


def test_paule_mandel_solves_its_equation():
    rng = np.random.default_rng(0)
    X = design({"scale": np.log(SCALES)}, ("scale",))
    v = rng.uniform(0.001, 0.05, len(SCALES))
    ly = X @ [1.0, -0.3] + rng.normal(0, 1, len(SCALES)) * np.sqrt(v + 0.04)
    t = paule_mandel(X, ly, v)
    assert t > 0
    w = 1 / (v + t)
    coef = np.linalg.lstsq(X * np.sqrt(w)[:, None], ly * np.sqrt(w), rcond=None)[0]
    q = np.sum(w * (ly - X @ coef) ** 2)
    assert q == pytest.approx(len(ly) - 2, rel=1e-6)  # chi2 equals its degrees of freedom
    # points on the law within their noise: no excess
    ly0 = X @ [1.0, -0.3] + rng.normal(0, 1, len(SCALES)) * 1e-4
    assert paule_mandel(X, ly0, np.full(len(SCALES), 0.01)) == 0.0


def test_weights_need_every_point_measured_and_a_degree_of_freedom():
    X = design({"scale": np.log(SCALES)}, ("scale",))
    ly = X @ [1.0, -0.3]
    assert precision_weights(X, ly, None) is None
    assert precision_weights(X, ly, np.r_[np.nan, np.ones(len(SCALES) - 1)]) is None
    assert precision_weights(X[:2], ly[:2], np.ones(2)) is None  # n = k: tau^2 unmeasured
    w = precision_weights(X, ly, np.r_[1e-9, np.full(len(SCALES) - 1, 1e-2)])
    assert w.mean() == pytest.approx(1.0)
    # the floor (an s.d. of 0.01 in logs): a point with no measured noise is not infinite
    assert w[0] / w[1] == pytest.approx(100.0, rel=1e-6)


def test_a_fit_weights_the_optima_laws_only_and_saves_the_weights(tmp_path):
    """In a fit: the lr_opt law is weighted (its weights travel in the JSON and come back),
    the curvature law is not, and without resamples (n_boot=0) nothing is measured to
    weight by, so the laws are unweighted."""
    import json

    import scalefit
    from scalefit.results.law import Law
    from scalefit.synthetic import TrueLaw, make_sweeps

    df = make_sweeps(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9,), seeds=2, noise=0.004,
                     law=TrueLaw(a=-0.3), seed=1)
    res = scalefit.fit(df, n_boot=200, progress=None)
    law = res.law()
    assert law.weights is not None and len(law.weights) == law.n_points
    assert np.mean(law.weights) == pytest.approx(1.0)
    curv = [x for x in res.laws if x.target == "curvature"]
    assert curv and all(x.weights is None for x in curv)
    d = json.loads(json.dumps(law.to_dict()))
    back = Law.from_dict(d)
    np.testing.assert_allclose(back.weights, law.weights, rtol=1e-12)
    assert scalefit.fit(df, n_boot=0, progress=None).law().weights is None


def test_a_point_without_an_optimum_never_outweighs_a_measured_one():
    """An included sweep without an optimum (its best LR standing in) has resamples piled
    at the grid's edge: near-zero spread, which says nothing of its precision. It gets
    the largest measured variance: the smallest weight."""
    X = design({"scale": np.log(SCALES)}, ("scale",))
    ly = X @ [1.0, -0.3] + np.random.default_rng(1).normal(0, 0.05, len(SCALES))
    v = np.full(len(SCALES), 0.01)
    v[2], v[5] = 0.04, 0.0  # point 5: an edge sweep, every resample at its best LR
    measured = np.ones(len(SCALES), bool)
    measured[5] = False
    w = precision_weights(X, ly, v, measured=measured)
    assert w[5] == pytest.approx(w[2]) and w[5] == w.min()
    unmasked = precision_weights(X, ly, v)
    assert unmasked[5] == unmasked.max()  # what the mask prevents
    assert precision_weights(X, ly, v, measured=np.zeros(len(SCALES), bool)) is None


def test_laws_of_one_design_with_their_own_weights_solve_as_alone():
    """Laws sharing a design are solved together, each resample with its own law's weights
    (``_loglinear_per_law``): the same coefficients as each law solved alone, points absent
    from some resamples (NaN) and an undetermined resample (one point left) included."""
    from scalefit.core.laws import loglinear

    rng = np.random.default_rng(0)
    X = design({"scale": np.log(SCALES)}, ("scale",))
    L, B, P = 3, 40, len(SCALES)
    Y = rng.normal(0, 1, (L, B, P)) + (X @ [1.0, -0.3])
    drop = rng.integers(0, 3, (L, B))  # three patterns of absent points
    Y[drop == 1, 0] = np.nan
    Y[drop == 2, 2:4] = np.nan
    Y[0, 0, 1:] = np.nan  # one point: not determined
    W = rng.uniform(0.2, 3.0, (L, P))
    from scalefit.core import laws as core_laws

    assert core_laws._loglinear_per_law(  # the batched path is the one taken here
        np.column_stack([X[:, :1], X[:, 1:] - X[:, 1:].mean(0)]), np.isfinite(Y),
        np.zeros((L, B, 2)), X[:, 1:].mean(0), W) is not None
    together = loglinear(X, Y, W[:, None, :])
    for j in range(L):
        alone = np.stack([loglinear(X, Y[j, b], W[j]) for b in range(B)])
        np.testing.assert_allclose(together[j], alone, rtol=1e-9, atol=1e-12)
    assert np.isnan(together[0, 0]).all()


def test_statsmodels_refit_of_a_weighted_law_is_its_wls():
    pytest.importorskip("statsmodels")
    from scalefit.results.law import Law

    sd = np.where(np.arange(len(SCALES)) % 2 == 0, 0.03, 0.4)
    law = Law.from_dict(Law.of(_law(np.random.default_rng(7), sd)).to_dict())
    assert law.weights is not None and np.ptp(law.weights) > 1  # far from equal
    res = law.statsmodels_result()
    np.testing.assert_allclose(res.params, law.coef(), rtol=1e-9)


def test_a_law_that_leans_on_one_optimum_says_so():
    """One optimum known to 1%, three to 30% and more: it carries most of the weight, and
    the law's notes name it; equal precision: no note."""
    from scalefit.laws import leaning_note

    values = {"scale": SCALES[:4]}
    rng = np.random.default_rng(2)
    ly = np.log(C_TRUE) + A_TRUE * np.log(SCALES[:4]) + rng.normal(0, 0.01, 4)
    sd = np.array([0.3, 0.01, 0.3, 0.4])
    yb = np.exp(ly + rng.normal(0, 1, (400, 4)) * sd)
    _, notes, w = with_excess(values, ("scale",), np.exp(ly), yb, "lr_opt")
    assert w is not None and np.argmax(w) == 1
    assert any("the optimum at scale 2e+07 carries" in n and "leans on it" in n for n in notes)
    assert leaning_note(values, ("scale",), np.ones(4)) is None
    assert leaning_note(values, ("scale",), None) is None
