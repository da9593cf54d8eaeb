"""core.decisions against the textbook formulas on laws fitted by core.laws."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit.core.decisions import (
    audit,
    carry,
    extrapolation,
    horizon_transfer,
    penalty_reason,
    predict,
)
from scalefit.core.laws import power_law
from scalefit.errors import ScalefitInputError

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def make_law(target, a, b, log_c, n_boot, seed, noise=0.05, audit_range=None):
    """A law of ``target`` in scale and horizon, fitted to noisy points, with draws."""
    rng = np.random.default_rng(seed)
    s = np.repeat(np.geomspace(1e6, 1e8, 4), 2)
    h = np.tile([1e9, 4e9], 4) * (1 + 0.3 * np.arange(8) / 8)
    ly = log_c + a * np.log(s) + b * np.log(h) + rng.normal(0, noise, 8)
    y_boot = (np.exp(ly + rng.normal(0, noise, (n_boot, 8))) if n_boot else None)
    return power_law(target, {"scale": s, "horizon": h}, np.exp(ly), y_boot,
                     ("scale", "horizon"), {}, 0.9, audit_range=audit_range)


laws = st.tuples(st.floats(-0.6, 0.0), st.floats(-0.5, 0.0), st.floats(-3.0, 3.0),
                 st.integers(0, 40), st.integers(0, 10**6))
where = st.tuples(st.floats(1e5, 1e9), st.floats(1e8, 1e11))


@SETTINGS
@given(laws, where, st.floats(0.5, 0.99), st.integers(0, 100))
def test_predict_is_the_law_and_its_draws(lw, at, level, seed):
    a, b, log_c, n_boot, lseed = lw
    law = make_law("lr_opt", a, b, log_c, n_boot, lseed)
    s, h = at
    out = predict(law, s, h, level=level, seed=seed)
    z = np.array([1.0, math.log(s), math.log(h)])
    ly = law.log_C + law.params["a"] * z[1] + law.params["b"] * z[2]
    assert math.isclose(math.log(out["lr"]), ly, rel_tol=1e-12, abs_tol=1e-12)
    if n_boot == 0:
        assert out["lr_ci"] is None and out["draws_log"] is None
        return
    draws = law.boot @ z
    np.testing.assert_allclose(out["draws_log"], draws, rtol=1e-12, atol=1e-12)
    # the scatter of a new point of the OLS law: s sqrt(1 + h) t_{n-k}, s^2 = RSS / (n - k)
    X = np.column_stack([np.ones(8), np.log(law.points["scale"]), np.log(law.points["horizon"])])
    resid = np.log(law.points["lr_opt"]) - X @ law.coef()
    s2 = resid @ resid / (8 - 3)
    lev = z @ np.linalg.inv(X.T @ X) @ z
    t = np.random.default_rng(seed).standard_t(8 - 3, (n_boot, 1))[:, 0]
    total = draws + t * math.sqrt(s2 * (1 + lev))
    np.testing.assert_allclose(out["total_log"], total, rtol=1e-12, atol=1e-12)
    if n_boot >= 2:
        q = 100 * (1 - level) / 2
        np.testing.assert_allclose(out["lr_ci"], np.exp(np.percentile(draws, [q, 100 - q])),
                                   rtol=1e-9)
        np.testing.assert_allclose(out["lr_pi"], np.exp(np.percentile(total, [q, 100 - q])),
                                   rtol=1e-9)
        p16, p84 = np.percentile(total, [100 * (1 - 0.6827) / 2, 100 * (1 + 0.6827) / 2])
        assert math.isclose(out["sigma_log"], (p84 - p16) / 2, rel_tol=1e-9, abs_tol=1e-12)
    # the same seed gives the same intervals
    again = predict(law, s, h, level=level, seed=seed)
    np.testing.assert_array_equal(again["lr_pi"], out["lr_pi"])  # NaN with 1 draw
    np.testing.assert_array_equal(again["lr_ci"], out["lr_ci"])
    if n_boot == 1:
        assert np.isnan(out["lr_ci"]).all()  # one draw makes no interval


@SETTINGS
@given(laws, st.floats(0.02, 0.5), where, st.floats(-2.0, 2.0))
def test_audit_penalty_is_curvature_times_squared_log_distance(lw, k0, at, log_ratio):
    a, b, log_c, n_boot, lseed = lw
    rng = {"ratio_tried": [math.exp(-2.5), math.exp(2.5)], "ratio_diverged": None}
    law = make_law("lr_opt", a, b, log_c, n_boot, lseed, audit_range=rng)
    law_k = make_law("curvature", 0.1, 0.0, math.log(k0) - 0.1 * math.log(1e7) - 0.0,
                     n_boot, lseed + 1)
    s, h = at
    ly, yd = law.predict_log({"scale": s, "horizon": h})
    lk, kd = law_k.predict_log({"scale": s, "horizon": h})
    lr_used = math.exp(ly + log_ratio)
    out = audit(law, law_k, lr_used, s, h, level=0.9)
    delta = math.log(lr_used) - ly
    assert math.isclose(out["ratio"], math.exp(delta), rel_tol=1e-9)
    assert math.isclose(out["curvature"], math.exp(lk), rel_tol=1e-12)
    assert out["penalty_reason"] is None
    assert math.isclose(out["penalty"], math.exp(lk) * delta**2, rel_tol=1e-7, abs_tol=1e-15)
    if n_boot:
        want = np.exp(kd) * (math.log(lr_used) - yd) ** 2
        np.testing.assert_allclose(out["penalty_draws"], want, rtol=1e-9, atol=1e-15)
        if n_boot >= 2:
            np.testing.assert_allclose(out["penalty_ci"], np.percentile(want, [5, 95]),
                                       rtol=1e-9, atol=1e-15)
            np.testing.assert_allclose(out["curvature_ci"],
                                       np.exp(np.percentile(kd, [5, 95])), rtol=1e-9)
            assert math.isclose(out["expected_penalty_at_optimum"],
                                math.exp(lk) * out["sigma_log"] ** 2, rel_tol=1e-9)


@SETTINGS
@given(st.floats(0.05, 0.9), st.floats(1.1, 20.0), st.one_of(st.none(), st.floats(1.0, 30.0)),
       st.floats(-4.0, 4.0), st.sampled_from(["free", "lo", "hi", "div"]))
def test_penalty_reason_refuses_beyond_the_tried_and_diverged_lrs(lo, hi, div, log_ratio,
                                                                  near):
    class Law:
        audit_range = {"ratio_tried": [lo, hi], "ratio_diverged": div}

    # near an edge: within 1% of it either side, where a wrong tolerance shows
    anchor = {"free": None, "lo": lo, "hi": hi, "div": div}[near]
    ratio = math.exp(log_ratio) if anchor is None else anchor * math.exp(log_ratio / 400)
    reason = penalty_reason(Law, ratio)
    beyond_div = div is not None and ratio >= div * (1 - 1e-9)
    outside = not (lo / 1.0001 <= ratio <= hi * 1.0001)
    assert (reason is None) == (not beyond_div and not outside)
    if beyond_div:
        assert "diverged" in reason
    elif outside:
        assert "no run this far" in reason


@SETTINGS
@given(laws, st.floats(1e-5, 1e-1), st.floats(1e8, 1e11), st.floats(1e7, 1e12),
       st.floats(0.5, 0.99), st.sampled_from(["free", "lo", "hi"]), st.floats(-0.01, 0.01))
def test_horizon_transfer_is_lr_times_ratio_to_the_b(lw, lr_ref, h_ref, h_to, level, near,
                                                     eps):
    a, b, log_c, n_boot, lseed = lw
    law = make_law("lr_opt", a, b, log_c, n_boot, lseed)
    lo, hi = law.value_range("horizon")
    if near != "free":  # near the factor-4 edge of the fitted horizons, either side
        h_to = (hi * 4 if near == "hi" else lo / 4) * math.exp(eps)
    ratio = h_to / h_ref
    out = horizon_transfer(lr_ref, h_ref, h_to, law=law, level=level)
    assert out["b"] == law.params["b"] and out["b_source"] == "fitted"
    assert math.isclose(out["lr"], lr_ref * ratio ** law.params["b"], rel_tol=1e-9)
    assert bool(out["warnings"]) == (h_to > 4 * hi or h_to < lo / 4)
    if n_boot >= 2:
        bd = law.boot[:, law.param_names.index("b")]
        q = 100 * (1 - level) / 2
        np.testing.assert_allclose(out["b_ci"], np.percentile(bd, [q, 100 - q]), rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(out["lr_ci"],
                                   sorted(np.percentile(lr_ref * ratio**bd, [q, 100 - q])),
                                   rtol=1e-9)
        assert out["lr_ci"][0] <= out["lr_ci"][1]
    given_b = horizon_transfer(lr_ref, h_ref, h_to, b=-0.3)
    assert math.isclose(given_b["lr"], lr_ref * ratio**-0.3, rel_tol=1e-12)


@SETTINGS
@given(st.floats(1e-300, 1e300), st.floats(1e-6, 1e6), st.floats(-5.0, 5.0))
def test_carry_is_lr_times_ratio_to_the_b_or_refuses(lr, ratio, b):
    ln = math.log(lr) + b * math.log(ratio)
    if abs(ln) <= 700:
        assert math.isclose(carry(lr, ratio, b), math.exp(ln), rel_tol=1e-12)
    else:
        with pytest.raises(ScalefitInputError):
            carry(lr, ratio, b)


@SETTINGS
@given(laws, where)
def test_extrapolation_notes_exactly_the_variables_outside_the_data(lw, at):
    a, b, log_c, _, lseed = lw
    law = make_law("lr_opt", a, b, log_c, 0, lseed)
    s, h = at
    notes = extrapolation(law, {"scale": s, "horizon": h})
    for v, x in (("scale", s), ("horizon", h)):
        lo, hi = law.value_range(v)
        outside = x > hi * 1.0001 or x < lo / 1.0001
        assert any(n.startswith(f"{v} ") for n in notes) == outside
