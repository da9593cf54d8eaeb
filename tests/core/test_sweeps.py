"""core.sweeps.index_runs against a Python loop over groups, plus its invariances."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit.core.sweeps import index_runs

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tables(draw, min_groups=1, max_groups=4):
    """Ragged groups of runs on a ln-lr grid; some diverged; losses with ties."""
    G = draw(st.integers(min_groups, max_groups))
    gid, lr, loss, div = [], [], [], []
    for g in range(G):
        n = draw(st.integers(0, 9))
        for _ in range(n):
            gid.append(g)
            lr.append(1e-3 * math.exp(0.5 * draw(st.integers(-6, 6))))
            loss.append(draw(st.sampled_from([1.0, 1.25, 2.0])
                             | st.floats(0.5, 5.0, allow_nan=False)))
            div.append(draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else False)
    keys = np.array([[draw(st.sampled_from([1e6, 1e7])), 0.0] for _ in range(G)])
    loss = np.array(loss, float)
    div = np.array(div, bool)
    loss[div] = np.nan  # a diverged run has no finite loss
    return (np.array(gid, np.int64), G, np.array(lr, float), loss, div, keys)


def reference(gid, G, lr, loss, div):
    """Per group: its sorted distinct finite ln lr, and the runs at each one."""
    out = []
    for g in range(G):
        runs = [(math.log(lr[i]), loss[i]) for i in range(len(gid)) if gid[i] == g and not div[i]]
        xs = sorted({x for x, _ in runs})
        per_level = [[y for x, y in runs if x == xl] for xl in xs]
        top = max(xs) if xs else None
        above = [math.log(lr[i]) for i in range(len(gid))
                 if gid[i] == g and div[i] and top is not None and math.log(lr[i]) > top]
        out.append((xs, per_level, min(above) if above else math.nan))
    return out


@SETTINGS
@given(tables())
def test_index_runs_matches_a_loop_over_groups(t):
    gid, G, lr, loss, div, keys = t
    sw = index_runs(gid, G, lr, loss, div, keys)
    ref = reference(gid, G, lr, loss, div)
    n, s, q = sw.level_sums()
    J = max([1] + [len(r[0]) for r in ref])
    assert sw.x.shape == (G, J)
    for g, (xs, per_level, x_div) in enumerate(ref):
        k = len(xs)
        np.testing.assert_array_equal(sw.x[g, :k], xs)
        assert np.all(np.isnan(sw.x[g, k:]))
        assert sw.group_size[g] == sum(len(p) for p in per_level)
        for j, ys in enumerate(per_level):
            assert n[g, j] == len(ys)
            assert math.isclose(s[g, j], sum(ys), rel_tol=1e-12)
            assert math.isclose(q[g, j], sum(y * y for y in ys), rel_tol=1e-12)
        assert np.all(n[g, k:] == 0)
        # the group's finite (ln lr, loss) pairs, as a multiset
        sl = slice(int(sw.group_start[g]), int(sw.group_start[g] + sw.group_size[g]))
        xr, yr = sw.x[g, sw.run_level[sl]], sw.run_loss[sl]
        got = sorted(zip(xr.tolist(), yr.tolist()))
        want = sorted((xl, y) for xl, ys in zip(xs, per_level) for y in ys)
        assert got == want
        if math.isnan(x_div):
            assert np.isnan(sw.x_div[g])
        else:
            assert math.isclose(sw.x_div[g], x_div)
    # Canonical order: groups contiguous in draw order, runs sorted by (level, loss).
    assert sorted(sw.rng_order.tolist()) == list(range(G))
    pos = 0
    for g in sw.rng_order:
        assert sw.group_start[g] == pos
        sl = slice(pos, pos + sw.group_size[g])
        assert np.all(sw.run_group[sl] == g)
        pairs = list(zip(sw.run_level[sl].tolist(), sw.run_loss[sl].tolist()))
        assert pairs == sorted(pairs)
        pos += sw.group_size[g]
    assert pos == len(sw.run_loss) == int((~div).sum())


def _canonical(sw):
    return (sw.x, sw.run_group, sw.run_level, sw.run_loss, sw.group_start, sw.group_size,
            sw.rng_order, sw.stream)


@SETTINGS
@given(tables(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(t, rnd):
    gid, G, lr, loss, div, keys = t
    perm = list(range(len(gid)))
    rnd.shuffle(perm)
    a = index_runs(gid, G, lr, loss, div, keys)
    b = index_runs(gid[perm], G, lr[perm], loss[perm], div[perm], keys)
    for u, v in zip(_canonical(a), _canonical(b)):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.x_div, b.x_div)


@SETTINGS
@given(tables(), st.floats(-5.0, 5.0))
def test_scaling_lr_shifts_ln_lr_and_nothing_else(t, log_c):
    gid, G, lr, loss, div, keys = t
    a = index_runs(gid, G, lr, loss, div, keys)
    b = index_runs(gid, G, lr * math.exp(log_c), loss, div, keys)
    np.testing.assert_allclose(b.x, a.x + log_c, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.x_div, a.x_div + log_c, rtol=0, atol=1e-9)
    for name in ("run_group", "run_level", "run_loss", "group_start", "group_size",
                 "rng_order", "stream"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@SETTINGS
@given(tables(), st.data())
def test_diverged_rows_leave_the_finite_runs_alone(t, data):
    """Adding diverged runs changes only x_div: levels, canonical order and streams stay."""
    gid, G, lr, loss, div, keys = t
    k = data.draw(st.integers(1, 4))
    g_new = np.array([data.draw(st.integers(0, G - 1)) for _ in range(k)], np.int64)
    lr_new = np.array([1e-3 * math.exp(0.5 * data.draw(st.integers(-8, 8))) for _ in range(k)])
    a = index_runs(gid, G, lr, loss, div, keys)
    b = index_runs(np.r_[gid, g_new], G, np.r_[lr, lr_new], np.r_[loss, np.full(k, np.nan)],
                   np.r_[div, np.ones(k, bool)], keys)
    for u, v in zip(_canonical(a), _canonical(b)):
        np.testing.assert_array_equal(u, v)


def test_single_lr_sweep_has_one_level_and_all_diverged_group_none():
    gid = np.array([0, 0, 0, 1, 1])
    lr = np.array([1e-3, 1e-3, 1e-3, 1e-2, 2e-2])
    loss = np.array([2.0, 1.0, 3.0, np.nan, np.nan])
    div = np.array([False, False, False, True, True])
    sw = index_runs(gid, 2, lr, loss, div, np.zeros((2, 2)))
    assert sw.x.shape == (2, 1)
    assert sw.x[0, 0] == math.log(1e-3) and np.isnan(sw.x[1, 0])
    assert sw.group_size.tolist() == [3, 0]
    n, s, _ = sw.level_sums()
    assert n.tolist() == [[3.0], [0.0]] and s[0, 0] == 6.0
    assert np.isnan(sw.x_div).all()  # group 1 has no finite level to be above
