"""core.laws and core.losslaws against numpy.linalg.lstsq per law and the textbook formulas."""

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scalefit.core.laws import fit_stats, leave_largest_out, loglinear, power_law
from scalefit.core.losslaws import loss_law, loss_law_profile, loss_law_profiles

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def lstsq_reference(X, y, w=None):
    """Weighted least squares of one target by numpy.linalg.lstsq on the present points;
    None where they do not determine the fit (too few points, or rank-deficient)."""
    present = np.isfinite(y) & (np.ones_like(y, bool) if w is None else w > 0)
    Xp, yp = X[present], y[present]
    if w is not None:
        r = np.sqrt(w[present])
        Xp, yp = Xp * r[:, None], yp * r
    if len(yp) < X.shape[1] or np.linalg.matrix_rank(Xp) < X.shape[1]:
        return None
    if np.linalg.cond(Xp) > 1e6:
        return "ill"
    return np.linalg.lstsq(Xp, yp, rcond=None)[0]


@st.composite
def regressions(draw):
    P = draw(st.integers(1, 8))
    k = draw(st.integers(1, 3))
    B = draw(st.integers(1, 4))
    X = np.ones((P, k))
    for c in range(1, k):
        # ln scale or ln horizon: far from 0, so centring matters
        X[:, c] = [draw(st.floats(10.0, 25.0)) for _ in range(P)]
    Y = np.array([[draw(st.floats(-5, 5) | st.just(np.nan)) for _ in range(P)]
                  for _ in range(B)])
    W = (np.array([[draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])) for _ in range(P)]
                   for _ in range(B)]) if draw(st.booleans()) else None)
    return X, Y, W


@settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
@given(regressions())
def test_loglinear_matches_lstsq_per_row(r):
    X, Y, W = r
    coef = loglinear(X, Y, W)
    assert coef.shape == (Y.shape[0], X.shape[1])
    for b in range(Y.shape[0]):
        ref = lstsq_reference(X, Y[b], None if W is None else W[b])
        if ref is None:
            assert np.isnan(coef[b]).all()
        elif isinstance(ref, str):
            continue  # nearly singular: either answer is acceptable
        else:
            pred, pred_ref = X @ coef[b], X @ ref  # compare fitted values (well determined)
            np.testing.assert_allclose(pred, pred_ref, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(regressions(), st.integers(9, 60), st.integers(0, 2**32 - 1))
def test_loglinear_of_many_rows_is_row_by_row(r, B, seed):
    """From 9 rows on, rows sharing their present points share one normal matrix and one
    solve: the same fit as each row alone (to rounding), singular patterns NaN alike."""
    X, Y, _ = r
    rng = np.random.default_rng(seed)
    Y = Y[rng.integers(0, len(Y), B)] + rng.normal(0, 0.1, (B, X.shape[0]))
    coef = loglinear(X, Y)
    alone = np.array([loglinear(X, row[None])[0] for row in Y])
    np.testing.assert_array_equal(np.isnan(coef), np.isnan(alone))
    np.testing.assert_allclose(coef, alone, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(st.floats(-3, 3), st.floats(-1.5, 0.5), st.floats(-0.8, 0.2),
       st.lists(st.tuples(st.floats(1e6, 1e10), st.floats(1e8, 1e11)), min_size=4,
                max_size=10, unique_by=lambda t: round(math.log(t[0]), 3)))
def test_power_law_recovers_exponents_of_exact_points(log_c, a, b, pts):
    s = np.array([p[0] for p in pts])
    h = np.array([p[1] for p in pts])
    Z = np.column_stack([np.ones(len(s)), np.log(s), np.log(h)])
    assume(np.linalg.cond(Z - np.r_[0, Z[:, 1:].mean(0)]) < 1e4)
    y = np.exp(log_c + a * np.log(s) + b * np.log(h))
    law = power_law("lr_opt", {"scale": s, "horizon": h}, y, None, ("scale", "horizon"), {},
                    0.95)
    assert math.isclose(law.params["a"], a, abs_tol=1e-6)
    assert math.isclose(law.params["b"], b, abs_tol=1e-6)
    assert math.isclose(law.log_C, log_c, abs_tol=1e-4)
    assert law.rmse_log < 1e-8
    # predict at its own points returns the fitted values (here: the points themselves)
    for i in range(len(s)):
        ly, draws = law.predict_log({"scale": s[i], "horizon": h[i]})
        assert math.isclose(ly, math.log(y[i]), abs_tol=1e-6)
        assert draws is None
    curve, band = law.curve({"scale": s, "horizon": h})
    np.testing.assert_allclose(curve, y, rtol=1e-6)
    assert band is None


@SETTINGS
@given(st.lists(st.tuples(st.floats(1e6, 1e10), st.floats(-0.3, 0.3)), min_size=3,
                max_size=9, unique_by=lambda t: round(math.log(t[0]), 2)),
       st.integers(0, 2**31 - 1), st.integers(0, 30))
def test_power_law_point_fit_predictions_and_draws_match_lstsq(pts, seed, n_boot):
    s = np.array([p[0] for p in pts])
    y = 1e-3 * (s / 1e8) ** -0.3 * np.exp([p[1] for p in pts])
    rng = np.random.default_rng(seed)
    y_boot = y * np.exp(rng.normal(0, 0.1, (n_boot, len(y)))) if n_boot else None
    law = power_law("lr_opt", {"scale": s}, y, y_boot, ("scale",), {"g": 1}, 0.9)
    X = np.column_stack([np.ones(len(s)), np.log(s)])
    ref = np.linalg.lstsq(X, np.log(y), rcond=None)[0]
    assert math.isclose(law.params["a"], ref[1], rel_tol=1e-7, abs_tol=1e-9)
    assert math.isclose(law.log_C, ref[0], rel_tol=1e-7, abs_tol=1e-7)
    fitted = X @ ref
    resid = np.log(y) - fitted
    ss_tot = ((np.log(y) - np.log(y).mean()) ** 2).sum()
    assert math.isclose(law.rmse_log, math.sqrt((resid**2).mean()), rel_tol=1e-6,
                        abs_tol=1e-12)
    if ss_tot > 1e-12:
        assert math.isclose(law.r2_log, 1 - (resid**2).sum() / ss_tot, rel_tol=1e-6,
                            abs_tol=1e-9)
    for i in range(len(s)):  # predict at its own points returns the fitted values
        ly, draws = law.predict_log({"scale": s[i]})
        assert math.isclose(ly, fitted[i], abs_tol=1e-7)
        if n_boot:
            want = np.array([np.linalg.lstsq(X, np.log(yb), rcond=None)[0] for yb in y_boot])
            np.testing.assert_allclose(draws, want @ X[i], atol=1e-7)
    if n_boot >= 2:
        want = np.array([np.linalg.lstsq(X, np.log(yb), rcond=None)[0][1] for yb in y_boot])
        np.testing.assert_allclose(law.ci["a"], np.percentile(want, [5, 95]), atol=1e-7)
        assert law.boot.shape == (n_boot, 2)


@SETTINGS
@given(st.lists(st.floats(-2, 2), min_size=2, max_size=10), st.floats(-1, 1), st.floats(-1, 1))
def test_fit_stats_is_r2_and_rmse(ys, c0, c1):
    y = np.array(ys)
    X = np.column_stack([np.ones(len(y)), np.arange(len(y), dtype=float)])
    r2, rmse = fit_stats(X, y, np.array([c0, c1]))
    resid = [yi - (c0 + c1 * i) for i, yi in enumerate(ys)]
    mean = sum(ys) / len(ys)
    ss_tot = sum((yi - mean) ** 2 for yi in ys)
    ss_res = sum(r * r for r in resid)
    assert math.isclose(rmse, math.sqrt(ss_res / len(ys)), rel_tol=1e-9, abs_tol=1e-12)
    if ss_tot > 1e-9:
        assert math.isclose(r2, 1 - ss_res / ss_tot, rel_tol=1e-7, abs_tol=1e-7)


@SETTINGS
@given(st.lists(st.floats(-0.2, 0.2), min_size=5, max_size=9), st.integers(0, 20))
def test_leave_largest_out_is_lstsq_without_the_largest_scale(noise, n_boot):
    P = len(noise)
    s = np.geomspace(1e6, 1e9, P)
    ly = np.log(1e-3) - 0.3 * np.log(s / 1e6) + np.array(noise)
    X = np.column_stack([np.ones(P), np.log(s)])
    rng = np.random.default_rng(P)
    y_boot = np.exp(ly + rng.normal(0, 0.05, (n_boot, P))) if n_boot else None
    curv = np.full(P, 0.2)
    out = leave_largest_out(X, ly, ("scale",), {"scale": s}, y_boot, curv, 0.9)
    ref = np.linalg.lstsq(X[:-1], ly[:-1], rcond=None)[0]
    err = X[-1] @ ref - ly[-1]
    assert out["left_out"] == "scale" and out["n_left_out"] == 1 and out["value"] == s[-1]
    assert math.isclose(out["error_log"], err, abs_tol=1e-9)
    assert math.isclose(out["rmse_log"], abs(err), abs_tol=1e-9)
    assert math.isclose(out["loss_cost"], 0.2 * err**2, rel_tol=1e-7, abs_tol=1e-12)
    if n_boot >= 2:
        eb = [X[-1] @ np.linalg.lstsq(X[:-1], np.log(yb[:-1]), rcond=None)[0]
              - np.log(yb[-1]) for yb in y_boot]
        np.testing.assert_allclose(out["error_log_ci"], np.percentile(eb, [5, 95]), atol=1e-8)


@SETTINGS
@given(st.floats(0.5, 3.0), st.floats(-1.2, -0.1), st.floats(0.3, 3.0), st.integers(5, 9),
       st.floats(1e5, 1e7), st.floats(100, 1e4))
def test_loss_law_recovers_exact_points(L_inf, alpha, excess, P, s_min, span):
    """y = L_inf + A s^alpha exactly: the profile finds (L_inf, A, alpha)."""
    s = np.geomspace(s_min, s_min * span, P)
    A = excess / s_min**alpha  # the law's excess loss at the smallest scale is `excess`
    y = L_inf + A * s**alpha
    assume(y[-1] - L_inf > 0.02 * excess)  # the points still decay at the far end
    law = loss_law(s, y, None, {}, 0.95)
    assert math.isclose(law.params["alpha"], alpha, abs_tol=2e-3)
    assert math.isclose(law.params["L_inf"], L_inf, rel_tol=1e-2, abs_tol=1e-2)
    pred = law.params["L_inf"] + law.params["A"] * s ** law.params["alpha"]
    np.testing.assert_allclose(pred, y, rtol=1e-4)  # predict at its own points
    assert law.rmse_log < 1e-3 * excess


@SETTINGS
@given(st.lists(st.tuples(st.floats(-1.0, -0.2), st.lists(st.floats(-0.05, 0.05)
                                                          | st.just(np.nan),
                                                          min_size=6, max_size=6)),
                min_size=1, max_size=4))
def test_loss_law_profile_rows_are_fitted_independently(rows):
    """Each row of a stack (NaN: absent) gets the fit it gets alone."""
    s = np.geomspace(1e6, 1e9, 6)
    Y = np.array([2.0 + 1.5 * (s / 1e6) ** a + np.array(e) for a, e in rows])
    assume(np.all(np.isfinite(Y).sum(1) >= 3))
    stacked = loss_law_profile(s, Y)
    for b in range(len(Y)):
        alone = loss_law_profile(s, Y[b:b + 1])
        for got, want in zip(stacked, alone):
            np.testing.assert_allclose(got[b], want[0], rtol=1e-9, atol=1e-12)


def test_loss_law_profiles_give_each_problem_its_own_numbers_to_the_bit():
    """Batched problems of 3 to 12 points (from 8 on numpy sums a row pairwise), with
    absent points and rows no decreasing law fits, get what each gets alone."""
    rng = np.random.default_rng(0)
    problems = []
    for t in range(24):
        P, B = 3 + t % 10, (1, 5, 40)[t % 3]
        s = np.sort(rng.choice(np.geomspace(1e6, 1e10, 40), P, replace=False))
        Y = 2 + 3 * (s / s[0]) ** rng.uniform(-1, -0.1) + rng.normal(0, 0.01, (B, P))
        Y[rng.random((B, P)) < 0.1] = np.nan
        problems.append((s, -Y if t % 7 == 0 else Y))
    for positive in (True, False):
        batched = loss_law_profiles(problems, positive=positive)
        for (s, Y), got in zip(problems, batched):
            for a, b in zip(got, loss_law_profile(s, Y, positive=positive)):
                assert np.array_equal(a, b, equal_nan=True)
            for b, row in enumerate(Y):  # alone, row by row (sums of one row)
                single = loss_law_profile(s, row[None], positive=positive)
                assert all(np.array_equal(a[b:b + 1], c, equal_nan=True)
                           for a, c in zip(got, single))


def test_loss_law_profile_gives_no_fit_to_fewer_than_three_points():
    s = np.geomspace(1e6, 1e9, 6)
    Y = np.array([[2.65625, 2.0, np.nan, np.nan, np.nan, np.nan],
                  [np.nan, 2.5, np.nan, 2.2, np.nan, np.nan]])
    L, A, alpha, _ = loss_law_profile(s, Y)
    assert np.isnan(alpha).all() and np.isnan(L).all() and np.isnan(A).all()


@SETTINGS
@given(st.lists(st.floats(-0.01, 0.01) | st.just(np.nan), min_size=7, max_size=7),
       st.floats(-0.9, -0.2))
def test_loss_law_profile_ignores_absent_points(noise, alpha):
    """Absent (NaN) points weigh nothing: the fit reaches the least squares of the present
    points alone, whose minimum is found by an independent dense profile over alpha."""
    s = np.geomspace(1e6, 1e9, 7)
    y = 2.0 + 1.5 * (s / 1e6) ** alpha + np.array(noise)
    keep = np.isfinite(y)
    assume(keep.sum() >= 5)
    L, A, al, _ = (v[0] for v in loss_law_profile(s, y[None, :]))
    assert np.isfinite(al)

    def sse_at(a):  # the textbook profile: for fixed alpha, lstsq in (L_inf, A)
        Z = np.column_stack([np.ones(keep.sum()), s[keep] ** a])
        c, *_ = np.linalg.lstsq(Z, y[keep], rcond=None)
        return float(((Z @ c - y[keep]) ** 2).sum()), c

    # the same profile on a dense grid at once: simple regression of y on z = s^alpha
    z = (s[keep] / 1e6)[None, :] ** np.linspace(-4.0, -0.005, 20000)[:, None]
    yk = y[keep][None, :]
    zc, yc = z - z.mean(1, keepdims=True), yk - yk.mean()
    slope = (zc * yc).sum(1) / (zc * zc).sum(1)
    best = float(((yc - slope[:, None] * zc) ** 2).sum(1)[slope > 0].min())
    got = float(((L + A * s[keep] ** al - y[keep]) ** 2).sum())
    assert got <= best * (1 + 1e-3) + 1e-12
    assert math.isclose(got, sse_at(al)[0], rel_tol=1e-6, abs_tol=1e-12)
