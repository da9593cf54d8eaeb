"""core.bootstrap against plain loops: resample sums, percentile intervals, pooled noise."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit.core import bootstrap as bs
from scalefit.core.bootstrap import (
    bootstrap_sweeps,
    bracket_draws,
    censored_interval,
    group_rng,
    level_sum_blocks,
    percentile_ci,
    pooled_noise_sd,
)
from scalefit.core.optimum import BAD_FIT, OK, SweepFit, fit_sweeps
from scalefit.core.sweeps import index_runs

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tables(draw, max_groups=3):
    """Ragged groups of runs on a ln-lr grid (some diverged, some groups empty)."""
    G = draw(st.integers(1, max_groups))
    gid, lr, loss, div = [], [], [], []
    for g in range(G):
        k = draw(st.integers(0, 7))
        centre = draw(st.integers(-3, 3))
        for _ in range(k):
            j = draw(st.integers(-4, 4))
            gid.append(g)
            lr.append(1e-3 * math.exp(0.5 * j))
            loss.append(2.0 + 0.05 * (j - centre) ** 2 + draw(st.floats(-0.02, 0.02)))
            div.append(draw(st.integers(0, 6)) == 0)
    loss = np.array(loss, float)
    div = np.array(div, bool)
    loss[div] = np.nan
    return np.array(gid, np.int64), G, np.array(lr, float), loss, div


def _index(t):
    gid, G, lr, loss, div = t
    return index_runs(gid, G, lr, loss, div, np.zeros((G, 2)))


def reference_sums(sw, n_boot, seed, noise_sd=None):
    """Resample b of group g: m uniforms u from the group's stream, runs floor(u * m) of the
    group's canonical runs (or, with noise_sd, every run once, its loss plus sd * normal)."""
    G, J = sw.x.shape
    n = np.zeros((n_boot, G, J))
    s = np.zeros((n_boot, G, J))
    for g in range(G):
        m = int(sw.group_size[g])
        if m == 0:
            continue
        a = int(sw.group_start[g])
        levels = sw.run_level[a:a + m]
        losses = sw.run_loss[a:a + m]
        u = group_rng(sw, seed, g).random((n_boot, m))
        sd = 0.0 if noise_sd is None else float(noise_sd[g])
        z = group_rng(sw, seed, g, 1).standard_normal((n_boot, m)) if sd > 0 else None
        for b in range(n_boot):
            for i in range(m):
                pick = i if z is not None else int(math.floor(u[b, i] * m))
                n[b, g, levels[pick]] += 1
                s[b, g, levels[pick]] += losses[pick] + (z[b, i] * sd if z is not None else 0)
    return n, s


def _blocks(sw, n_boot, seed, noise_sd=None):
    out = list(level_sum_blocks(sw, n_boot, seed, noise_sd))
    return (np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out]),
            np.concatenate([o[2] for o in out]))


@SETTINGS
@given(tables(), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_level_sum_blocks_match_a_loop_over_resamples(t, n_boot, seed):
    sw = _index(t)
    if len(sw.run_loss) == 0:
        return
    n, s, q = _blocks(sw, n_boot, seed)
    n_ref, s_ref = reference_sums(sw, n_boot, seed)
    np.testing.assert_array_equal(n, n_ref)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-12)
    # every resample keeps each group's run count
    np.testing.assert_array_equal(n.sum(-1), np.broadcast_to(sw.group_size, n.shape[:2]))
    assert np.all(q >= s * s / np.maximum(n, 1) - 1e-9)


@SETTINGS
@given(tables(), st.integers(1, 40), st.integers(0, 2**32 - 1), st.booleans())
def test_level_major_sums_and_fits_are_the_same_to_the_bit(t, n_boot, seed, parametric):
    """``levels_first`` sums are the (b, G, J) sums with the level axis first, and the
    bootstrap's level-major fit gives what ``fit_sweeps`` gives on the (b, G, J) sums."""
    sw = _index(t)
    if len(sw.run_loss) == 0:
        return
    sd = np.full(sw.n_groups, 0.01) if parametric else None
    for (n, s, q), (nl, sl, ql) in zip(level_sum_blocks(sw, n_boot, seed, sd),
                                       level_sum_blocks(sw, n_boot, seed, sd,
                                                        levels_first=True)):
        for a, b in ((n, nl), (s, sl), (q, ql)):
            np.testing.assert_array_equal(np.moveaxis(a, -1, 0), b)
    n, s, _ = _blocks(sw, n_boot, seed, sd)
    f = fit_sweeps(sw.x, n, s, None, window=2, rules=False)
    boot = bootstrap_sweeps(sw, n_boot, seed, 2, noise_sd=sd)
    valid = np.isfinite(f.x_opt)
    np.testing.assert_array_equal(boot.x_opt, np.where(valid, f.x_opt, np.nan))
    np.testing.assert_array_equal(boot.curvature, np.where(valid, f.curvature, np.nan))
    np.testing.assert_array_equal(boot.x_best, f.x_best)


@settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(0, 1000), st.integers(1, 7))
def test_blocks_concatenate_to_one_stream(t, seed, block):
    """Smaller blocks and chunks give the same resamples as one big draw."""
    sw = _index(t)
    if len(sw.run_loss) == 0:
        return
    n1, s1, _ = _blocks(sw, 23, seed)
    old = bs._BLOCK_RESAMPLES, bs._CHUNK_DRAWS
    try:
        bs._BLOCK_RESAMPLES = block
        bs._CHUNK_DRAWS = max(1, block * len(sw.run_loss))
        n2, s2, _ = _blocks(sw, 23, seed)
    finally:
        bs._BLOCK_RESAMPLES, bs._CHUNK_DRAWS = old
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_array_equal(s1, s2)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_groups=6), st.integers(0, 1000), st.integers(1, 9), st.booleans())
def test_parts_of_groups_give_the_bits_of_one_pass(t, seed, part_runs, parametric):
    """Resampling the groups in parts (a large table) gives every sweep the draws and fits
    of one pass over all groups, to the bit (each group draws from its own stream)."""
    sw = _index(t)
    sd = np.linspace(0.0, 0.02, sw.n_groups) if parametric else None
    one = bootstrap_sweeps(sw, 17, seed, 2, noise_sd=sd)
    old = bs._PART_RUNS
    calls = []
    try:
        bs._PART_RUNS = part_runs
        parts = bootstrap_sweeps(sw, 17, seed, 2, noise_sd=sd,
                                 progress=lambda d, n: calls.append((d, n)))
    finally:
        bs._PART_RUNS = old
    for k in ("x_opt", "loss_opt", "curvature", "x_best"):
        np.testing.assert_array_equal(getattr(parts, k), getattr(one, k))
    assert calls[-1][0] == calls[-1][1] and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


@SETTINGS
@given(tables(), st.integers(1, 20), st.integers(0, 1000),
       st.lists(st.floats(0.0, 0.1), min_size=3, max_size=3))
def test_parametric_resample_keeps_lrs_and_adds_normal_noise(t, n_boot, seed, sd):
    sw = _index(t)
    if len(sw.run_loss) == 0:
        return
    noise_sd = np.array(sd[:sw.n_groups])
    n, s, _ = _blocks(sw, n_boot, seed, noise_sd)
    n_ref, s_ref = reference_sums(sw, n_boot, seed, noise_sd)
    np.testing.assert_array_equal(n, n_ref)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-12)
    data_n, _, _ = sw.level_sums()
    for g in np.flatnonzero(noise_sd > 0):
        np.testing.assert_array_equal(n[:, g], np.broadcast_to(data_n[g], n[:, g].shape))


@SETTINGS
@given(tables(), st.integers(1, 30), st.integers(0, 1000))
def test_bootstrap_sweeps_is_fit_sweeps_on_each_resample(t, n_boot, seed):
    sw = _index(t)
    if len(sw.run_loss) == 0:
        return
    boot = bootstrap_sweeps(sw, n_boot, seed, window=2)
    again = bootstrap_sweeps(sw, n_boot, seed, window=2)
    n_ref, s_ref = reference_sums(sw, n_boot, seed)
    assert boot.x_opt.shape == (n_boot, sw.n_groups)
    for b in range(n_boot):
        f = fit_sweeps(sw.x, n_ref[b], s_ref[b], None, window=2, rules=False)
        np.testing.assert_allclose(boot.x_opt[b], f.x_opt, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(boot.curvature[b], np.where(np.isfinite(f.x_opt),
                                                               f.curvature, np.nan),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(boot.x_best[b], f.x_best)
    # a fixed seed reproduces the draws and their percentile intervals exactly
    np.testing.assert_array_equal(boot.x_opt, again.x_opt)
    np.testing.assert_array_equal(percentile_ci(boot.x_opt), percentile_ci(again.x_opt))


@SETTINGS
@given(tables(max_groups=2), st.integers(0, 1000), st.randoms(use_true_random=False))
def test_resamples_ignore_row_order_and_other_groups(t, seed, rnd):
    gid, G, lr, loss, div = t
    p = list(range(len(gid)))
    rnd.shuffle(p)
    a = bootstrap_sweeps(_index(t), 12, seed, window=2)
    b = bootstrap_sweeps(_index((gid[p], G, lr[p], loss[p], div[p])), 12, seed, window=2)
    np.testing.assert_array_equal(a.x_opt, b.x_opt)
    # a new group added to the table leaves every existing group's resamples alone
    extra = np.arange(5)
    c = bootstrap_sweeps(_index((np.r_[gid, np.full(5, G)], G + 1,
                                 np.r_[lr, 1e-3 * np.exp(0.5 * extra)],
                                 np.r_[loss, 3.0 + 0.1 * (extra - 2.0) ** 2],
                                 np.r_[div, np.zeros(5, bool)])), 12, seed, window=2)
    np.testing.assert_array_equal(a.x_opt, c.x_opt[:, :G])
    np.testing.assert_array_equal(a.x_best, c.x_best[:, :G])


finite_or_not = st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0])


@settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(finite_or_not, min_size=3, max_size=3), min_size=0, max_size=30),
       st.floats(0.01, 0.999))
def test_percentile_ci_is_numpys_linear_percentile_ignoring_nonfinite(rows, level):
    a = np.array(rows, float).reshape(len(rows), 3)
    got = percentile_ci(a, level)
    assert got.shape == (2, 3)
    alpha = (1 - level) / 2
    for c in range(3):
        col = a[:, c][np.isfinite(a[:, c])]
        if len(col) < 2:
            assert np.isnan(got[:, c]).all()
        else:
            want = np.percentile(col, [100 * alpha, 100 * (1 - alpha)])
            np.testing.assert_allclose(got[:, c], want, rtol=1e-12, atol=1e-9)
            assert got[0, c] <= got[1, c]
    # along another axis: the transposed samples give the same interval
    np.testing.assert_array_equal(percentile_ci(a.T, level, axis=1), got)


@SETTINGS
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 9), st.booleans(),
                          st.booleans()), min_size=1, max_size=6))
def test_pooled_noise_sd_is_root_pooled_sse_over_df(rows):
    rmse = np.array([r[0] for r in rows])
    n_window = np.array([r[1] for r in rows], float)
    status = np.array([BAD_FIT if r[2] else OK for r in rows], np.int8)
    members = np.array([r[3] for r in rows])
    nan = np.full(len(rows), np.nan)
    fit = SweepFit(x_opt=nan, loss_opt=nan, curvature=nan, x_best=nan, status=status,
                   n_window=n_window, levels_window=nan, rmse=rmse)
    sse = df = used = 0
    for r, n, st_, m in zip(rmse, n_window, status, members):
        if n > 3 and st_ != BAD_FIT and m:
            sse += r * r * n  # rmse is sqrt(sse / n)
            df += n - 3
            used += 1
    got, k = pooled_noise_sd(fit, members)
    assert k == used
    if used:
        assert math.isclose(got, math.sqrt(sse / df), rel_tol=1e-12, abs_tol=1e-15)
    else:
        assert math.isnan(got)


@SETTINGS
@given(st.lists(st.tuples(st.floats(-8, -2), st.floats(0, 3), st.booleans()), min_size=1,
                max_size=5), st.integers(1, 50), st.integers(0, 1000))
def test_bracket_draws_are_uniform_in_their_bracket_and_reproducible(rows, n_boot, seed):
    lo = np.array([r[0] if r[2] else np.nan for r in rows])
    hi = np.array([r[0] + r[1] for r in rows])
    d = bracket_draws(lo, hi, n_boot, seed)
    assert d.shape == (n_boot, len(rows))
    for g, (a, width, has) in enumerate(rows):
        if has:
            assert np.all((d[:, g] >= a) & (d[:, g] <= a + width))
            u = np.random.default_rng([seed, g, 2]).random(n_boot)
            np.testing.assert_allclose(d[:, g], a + u * width, rtol=1e-12, atol=1e-12)
        else:
            assert np.isnan(d[:, g]).all()
    np.testing.assert_array_equal(d, bracket_draws(lo, hi, n_boot, seed))


@SETTINGS
@given(st.lists(st.tuples(st.floats(-10, 0), st.floats(0, 5), st.floats(-8, -2),
                          st.floats(0, 4)), min_size=1, max_size=6))
def test_censored_interval_opens_the_ends_beyond_the_grid(rows):
    ci = np.array([[r[0] for r in rows], [r[0] + r[1] for r in rows]])
    x_min = np.array([r[2] for r in rows])
    x_max = x_min + np.array([r[3] for r in rows])
    out, open_ = censored_interval(ci, x_min, x_max)
    for g in range(len(rows)):
        lo_open, hi_open = ci[0, g] < x_min[g], ci[1, g] > x_max[g]
        want = {(True, True): "both", (True, False): "low", (False, True): "high",
                (False, False): ""}[(lo_open, hi_open)]
        assert open_[g] == want
        assert (np.isnan(out[0, g]) if lo_open else out[0, g] == ci[0, g])
        assert (np.isnan(out[1, g]) if hi_open else out[1, g] == ci[1, g])
