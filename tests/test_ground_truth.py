"""Sweeps generated from known laws: estimates and bootstrap intervals recover the truth."""

import numpy as np
import pytest

import scalefit
from scalefit.synthetic import TrueLaw, make_sweeps

TRUE = TrueLaw(C=0.5, a=-0.35, b=-0.25, k0=0.04, kappa=0.0)
GRID = dict(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9, 4e9, 1.6e10), n_lrs=7, seeds=2,
            noise=0.004, law=TRUE, diverge_above=2.2)


def test_exponents_recovered_with_diverged_runs():
    df = make_sweeps(**GRID, seed=123)
    assert df["loss"].isna().any()  # high-LR runs diverged
    r = scalefit.fit(df, n_boot=500, seed=1)
    assert (r.optima["status"] == "ok").all()
    law = r.law()
    assert law.form == "lr_opt = C * scale^a * horizon^b"
    assert law.params["a"] == pytest.approx(TRUE.a, abs=0.02)
    assert law.params["b"] == pytest.approx(TRUE.b, abs=0.02)
    assert law.params["C"] == pytest.approx(TRUE.C, rel=0.5)
    k = r.optima["curvature"].to_numpy()
    np.testing.assert_allclose(k, TRUE.k0, rtol=0.25)
    lo, hi = law.ci["a"]
    assert lo < law.params["a"] < hi


def test_interval_coverage_over_replications():
    """95% intervals of a and b cover the truth in >= 85% of 50 independent replications."""
    reps = 50
    hits = {"a": 0, "b": 0}
    for rep in range(reps):
        df = make_sweeps(**GRID, seed=1000 + rep)
        law = scalefit.fit(df, n_boot=300, seed=rep).law()
        for name in hits:
            lo, hi = law.ci[name]
            hits[name] += lo <= getattr(TRUE, name) <= hi
    assert hits["a"] >= 0.85 * reps, hits
    assert hits["b"] >= 0.85 * reps, hits
    # and the intervals are not trivially wide: they would miss a 0.1 error in the exponent
    assert hi - lo < 0.1


def test_optimum_interval_coverage_per_sweep():
    """Per-sweep lr_opt intervals cover the true optimum at close to the nominal rate."""
    covered = total = 0
    for rep in range(10):
        df = make_sweeps(**GRID, seed=2000 + rep)
        r = scalefit.fit(df, n_boot=300, seed=rep)
        o = r.optima
        truth = TRUE.lr_opt(o["scale"], o["horizon"])
        covered += int(((o["lr_opt_lo"] <= truth) & (truth <= o["lr_opt_hi"])).sum())
        total += len(o)
    assert covered / total >= 0.8, covered / total


def test_single_variable_laws_and_loss_law():
    tl = TrueLaw(C=0.05, a=-0.5, b=0.0, k0=0.05, L_inf=2.0, A=300.0, alpha_s=-0.4)
    df = make_sweeps(scales=(1e6, 3e6, 1e7, 3e7, 1e8, 3e8), horizons=(1e9,), n_lrs=9, seeds=3,
                     noise=0.002, law=tl, seed=5)
    r = scalefit.fit(df, n_boot=300)
    law = r.law()
    assert law.variables == ("scale",)
    assert law.params["a"] == pytest.approx(-0.5, abs=0.02)
    ll = r.law("loss_opt", primary=False)
    assert ll is not None
    assert ll.params["L_inf"] == pytest.approx(2.0, abs=0.03)
    assert ll.params["alpha"] == pytest.approx(-0.4, abs=0.08)
    lo, hi = ll.ci["alpha"]
    assert lo <= -0.4 <= hi
    ex = law.extrapolation
    assert ex["left_out"] == "scale" and ex["value"] == 3e8
    assert abs(ex["error_log"]) < 0.1


def test_classical_refits_agree_with_the_profile_estimates():
    tl = TrueLaw(C=0.05, a=-0.5, b=0.0, k0=0.05, L_inf=2.0, A=300.0, alpha_s=-0.4)
    df = make_sweeps(scales=(1e6, 3e6, 1e7, 3e7, 1e8, 3e8), horizons=(1e9,), n_lrs=9, seeds=3,
                     noise=0.002, law=tl, seed=5)
    r = scalefit.fit(df, n_boot=50, source="sweeps.csv")
    assert r.input["source"] == "sweeps.csv"
    ll = r.law("loss_opt", primary=False)
    res = ll.lmfit_result()  # lmfit from the profiled estimate lands on the same optimum
    for name in ("L_inf", "alpha"):
        assert res.params[name].value == pytest.approx(ll.params[name], rel=1e-3, abs=1e-4)
    assert res.params["alpha"].stderr > 0
    ols = r.law().statsmodels_result()
    np.testing.assert_allclose(ols.params[1], r.law().params["a"], rtol=1e-10)
    assert ols.bse[1] > 0
