"""core.optimum.fit_sweeps against numpy.polyfit per sweep, plus its invariances."""

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scalefit.core.optimum import (
    ALL_DIVERGED,
    EDGE,
    NOT_CONVEX,
    OK,
    TOO_FEW,
    fit_sweeps,
)
from scalefit.core.sweeps import index_runs

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sweeps(draw, max_groups=3):
    """(x (G, J), runs[g][j] = list of losses): ragged groups, empty levels, ties."""
    G = draw(st.integers(1, max_groups))
    J = draw(st.integers(1, 8))
    x = np.full((G, J), np.nan)
    runs = []
    for g in range(G):
        k = draw(st.integers(0, J))  # levels this group has (the rest: NaN padding)
        x0 = draw(st.floats(-9.0, -3.0))
        h = draw(st.floats(0.2, 1.0))
        x[g, :k] = x0 + h * np.arange(k)
        centre = draw(st.floats(-1.0, k + 1.0))
        curv = draw(st.floats(-0.05, 0.3))
        row = []
        for j in range(J):
            if j >= k:
                row.append([])
                continue
            m = draw(st.integers(0, 3))  # 0: every run at this LR diverged
            base = 2.0 + curv * (j - centre) ** 2
            row.append([base + draw(st.sampled_from([0.0, 0.0, 0.01])
                                    | st.floats(-0.05, 0.05)) for _ in range(m)])
        runs.append(row)
    return x, runs


def sums(runs):
    n = np.array([[len(r) for r in row] for row in runs], float)
    s = np.array([[sum(r) for r in row] for row in runs], float)
    q = np.array([[sum(v * v for v in r) for r in row] for row in runs], float)
    return n, s, q


def reference_one(x, row, window=2, min_levels=3):
    """The estimator of docs/math.md section 1 for one sweep, written as plainly as possible."""
    present = [j for j, r in enumerate(row) if r]
    out = {"present": len(present)}
    if not present:
        out["status"] = ALL_DIVERGED
        return out
    means = {j: sum(row[j]) / len(row[j]) for j in present}
    best = min(present, key=lambda j: (means[j], j))  # lowest mean; the lower LR wins ties
    out["x_best"] = x[best]
    # Widen the window from `window` steps until it holds min_levels levels (or every one
    # there is) and a level on each side of the best where the sweep has one.
    r = window
    while True:
        win = [j for j in present if abs(j - best) <= r]
        enough = len(win) >= min(min_levels, len(present))
        left_ok = not any(j < best for j in present) or any(j < best for j in win)
        right_ok = not any(j > best for j in present) or any(j > best for j in win)
        if enough and left_ok and right_ok:
            break
        r += 1
    xs = [x[j] for j in win for _ in row[j]]
    ys = [v for j in win for v in row[j]]
    out.update(win=win, n_window=len(ys))
    if len(win) >= 3:
        c2, c1, c0 = np.polyfit(np.array(xs) - x[best], ys, 2)
        out.update(c2=c2, c1=c1, c0=c0)
        resid = np.array(ys) - np.polyval([c2, c1, c0], np.array(xs) - x[best])
        out["rmse"] = math.sqrt(float(resid @ resid) / len(ys))
    if len(present) < min_levels:
        out["status"] = TOO_FEW
    elif best in (present[0], present[-1]):
        out["status"] = EDGE
    elif out["c2"] <= 0:
        out["status"] = NOT_CONVEX
    else:
        out["status"] = OK  # before the bad_fit / off_grid rules
    return out


@SETTINGS
@given(sweeps())
def test_fit_sweeps_matches_polyfit_per_sweep(sw):
    x, runs = sw
    n, s, q = sums(runs)
    loose = fit_sweeps(x, n, s, q, rules=False)
    full = fit_sweeps(x, n, s, q)
    for g, row in enumerate(runs):
        ref = reference_one(x[g], row)
        assert loose.status[g] == ref["status"], (g, ref)
        if ref["status"] == ALL_DIVERGED:
            assert np.isnan(full.x_best[g]) and np.isnan(full.x_opt[g])
            continue
        assert full.x_best[g] == ref["x_best"]
        assert full.n_window[g] == ref["n_window"]
        assert full.levels_window[g] == len(ref["win"])
        lo, hi = full.x_window[:, g]
        assert lo == x[g, min(ref["win"])] and hi == x[g, max(ref["win"])]
        if "c2" not in ref:
            assert np.isnan(full.curvature[g])
            continue
        scale = max(1.0, abs(ref["c0"]))
        assert math.isclose(full.curvature[g], ref["c2"], rel_tol=1e-6, abs_tol=1e-8 * scale)
        assert math.isclose(full.rmse[g], ref["rmse"], rel_tol=1e-5, abs_tol=1e-7)
        if ref["c2"] > 1e-3:
            t_opt = -ref["c1"] / (2 * ref["c2"])
            assert math.isclose(full.x_opt[g], ref["x_best"] + t_opt, rel_tol=1e-6,
                                abs_tol=1e-6)
            assert math.isclose(full.loss_opt[g], ref["c0"] - ref["c1"] ** 2 / (4 * ref["c2"]),
                                rel_tol=1e-6, abs_tol=1e-6)
            # The full rules refine OK only; they never overrule the data-count statuses.
            if ref["status"] != OK:
                assert full.status[g] == ref["status"]
        elif ref["c2"] < -1e-8 * scale:
            assert np.isnan(full.x_opt[g])


def _table(x, runs, permute=None):
    gid, lr, loss = [], [], []
    for g, row in enumerate(runs):
        for j, r in enumerate(row):
            for v in r:
                gid.append(g)
                lr.append(math.exp(x[g, j]))
                loss.append(v)
    gid, lr, loss = np.array(gid, np.int64), np.array(lr), np.array(loss)
    if permute is not None:
        p = list(range(len(gid)))
        permute.shuffle(p)
        gid, lr, loss = gid[p], lr[p], loss[p]
    return gid, lr, loss


def _unpack(table, G):
    gid, lr, loss = table
    return gid, G, lr, loss


def _fit(gid, G, lr, loss, rules=True):
    sw = index_runs(gid, G, lr, loss, np.zeros(len(gid), bool), np.zeros((G, 2)))
    n, s, q = sw.level_sums()
    return fit_sweeps(sw.x, n, s, q, rules=rules)


@SETTINGS
@given(sweeps(), st.randoms(use_true_random=False))
def test_permuting_runs_within_sweeps_changes_nothing(sw, rnd):
    x, runs = sw
    G = x.shape[0]
    a = _fit(*_unpack(_table(x, runs), G))
    b = _fit(*_unpack(_table(x, runs, permute=rnd), G))
    np.testing.assert_array_equal(a.status, b.status)
    for name in ("x_opt", "loss_opt", "curvature", "x_best", "rmse", "n_window"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(sweeps(), st.floats(-4.0, 4.0))
def test_scaling_lr_by_c_shifts_ln_lr_opt_by_ln_c(sw, log_c):
    x, runs = sw
    G = x.shape[0]
    gid, lr, loss = _table(x, runs)
    a = _fit(gid, G, lr, loss, rules=False)
    b = _fit(gid, G, lr * math.exp(log_c), loss, rules=False)
    np.testing.assert_array_equal(a.status, b.status)
    ok = np.abs(a.curvature) > 1e-3
    np.testing.assert_allclose(b.x_opt[ok], a.x_opt[ok] + log_c, rtol=0, atol=1e-7)
    np.testing.assert_allclose(b.x_best, a.x_best + log_c, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.curvature, a.curvature, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.loss_opt[ok], a.loss_opt[ok], rtol=1e-7, atol=1e-9)


@SETTINGS
@given(st.floats(-8.0, -2.0), st.floats(0.1, 1.0), st.floats(0.01, 2.0), st.floats(-3.0, 3.0),
       st.floats(0.5, 4.0), st.integers(5, 9), st.floats(0.0, 1.0))
def test_noiseless_parabola_is_recovered(x0, h, c2, t_star, floor, J, where):
    """Losses on an exact parabola with its vertex inside the grid: vertex, floor, curvature."""
    x = (x0 + h * np.arange(J))[None, :]
    x_star = x0 + h * (1 + where * (J - 3))  # strictly inside the grid
    loss = floor + c2 * (x[0] - x_star) ** 2
    f = fit_sweeps(x, np.ones((1, J)), loss[None, :], (loss**2)[None, :])
    assume(f.status[0] != EDGE)
    assert f.status[0] == OK
    assert math.isclose(f.x_opt[0], x_star, abs_tol=1e-7)
    assert math.isclose(f.loss_opt[0], floor, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(f.curvature[0], c2, rel_tol=1e-6)
    assert f.rmse[0] < 1e-6


def test_single_lr_sweep_is_too_few_and_empty_is_all_diverged():
    x = np.array([[-5.0, np.nan, np.nan], [-5.0, -4.0, -3.0]])
    n = np.array([[4.0, 0, 0], [0, 0, 0]])
    s = np.array([[8.0, 0, 0], [0, 0, 0]])
    f = fit_sweeps(x, n, s, s)
    assert f.status.tolist() == [TOO_FEW, ALL_DIVERGED]
    assert f.x_best[0] == -5.0 and np.isnan(f.x_best[1])
    assert np.isnan(f.x_opt).all()


def test_tied_best_levels_pick_the_lower_lr():
    x = np.array([[-6.0, -5.0, -4.0, -3.0, -2.0]])
    loss = np.array([[3.0, 1.0, 2.0, 1.0, 3.0]])
    f = fit_sweeps(x, np.ones_like(loss), loss, loss**2)
    assert f.x_best[0] == -5.0
