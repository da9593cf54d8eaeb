"""The per-sweep estimator: exact recovery, window rules and statuses."""

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.core.optimum import EDGE, OK, fit_sweeps


def sweep(lrs, losses, **cols):
    return pd.DataFrame({"lr": lrs, "loss": losses, **cols})


def test_noiseless_quadratic_is_recovered_exactly():
    x_star, k, L0 = np.log(3e-3), 0.07, 2.5
    lrs = 3e-3 * 2.0 ** np.arange(-4, 4) * 1.3
    loss = L0 + k * (np.log(lrs) - x_star) ** 2
    r = scalefit.fit(sweep(lrs, loss), n_boot=0)
    row = r.optima.iloc[0]
    assert row["status"] == "ok"
    assert row["lr_opt"] == pytest.approx(3e-3, rel=1e-9)
    assert row["curvature"] == pytest.approx(k, rel=1e-9)
    assert row["loss_opt"] == pytest.approx(L0, rel=1e-12)


def test_all_seeds_enter_the_fit_and_window_counts_runs():
    lrs = np.repeat(2.0 ** np.arange(-10, -1), 3)
    loss = 3 + 0.05 * (np.log(lrs) - np.log(2.0**-6)) ** 2
    r = scalefit.fit(sweep(lrs, loss + np.tile([-0.01, 0, 0.01], 9)), n_boot=0)
    assert r.optima["n_window"].iloc[0] == 15  # 5 levels x 3 seeds
    assert r.optima["lr_opt"].iloc[0] == pytest.approx(2.0**-6, rel=1e-9)


@pytest.mark.parametrize("best_at", ["smallest", "largest"])
def test_edge_status_and_excluded_from_laws(best_at):
    frames = []
    for i, s in enumerate([1e6, 4e6, 1.6e7, 6.4e7]):
        lrs = 2.0 ** np.arange(-12, -4)
        opt = 2.0**-8 * (2.0 ** (-0.5 * i))
        loss = 3 - 0.1 * i + 0.05 * (np.log(lrs) - np.log(opt)) ** 2
        if i == 2:  # this sweep is monotone: its best LR is at one end
            loss = 3 + (0.1 if best_at == "smallest" else -0.1) * np.log(lrs)
        frames.append(sweep(lrs, loss, scale=s))
    r = scalefit.fit(pd.concat(frames), n_boot=50)
    st = r.optima.set_index("scale")["status"]
    assert st[1.6e7] == "edge"
    assert (st.drop(1.6e7) == "ok").all()
    assert np.isnan(r.optima.set_index("scale").loc[1.6e7, "lr_opt"])
    law = r.law()
    assert law.n_points == 3  # the edge sweep stays out of the law
    assert law.params["a"] == pytest.approx(-0.5 / np.log(4) * np.log(2), abs=1e-6)


def test_too_few_and_all_diverged_and_not_convex():
    df = pd.concat([
        sweep([1e-3, 2e-3], [2.0, 1.9], arch="two_lrs"),
        sweep([1e-3, 2e-3, 4e-3], [np.nan, np.inf, np.nan], arch="all_nan"),
        sweep([1e-3, 2e-3, 4e-3, 8e-3], [2.0, 2.2, 2.1, 2.3], arch="concave"),
        sweep([1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2], [2.0, 1.9, 1.85, 1.9, np.nan], arch="fine"),
    ])
    r = scalefit.fit(df, by=["arch"], n_boot=20)
    st = r.optima.set_index("arch")["status"]
    assert st["two_lrs"] == "too_few"
    assert st["all_nan"] == "all_diverged"
    assert st["fine"] == "ok"
    assert st["concave"] in ("edge", "not_convex")
    assert r.optima.set_index("arch").loc["all_nan", "n_diverged"] == 3
    assert r.input["diverged"] == 4


def test_not_convex_when_best_inside_but_parabola_opens_down():
    # best observed in the interior, but the window is fitted by a downward parabola
    x = np.arange(7.0)
    loss = np.array([2.0, 1.0, 0.9, 0.85, 0.9, 1.0, 2.0])
    n = np.ones((1, 7))
    f = fit_sweeps(x[None], n, (loss)[None], window=1)
    assert f.status[0] == OK
    loss2 = np.array([0.5, 0.95, 0.9, 0.85, 0.9, 0.95, 0.5])
    f2 = fit_sweeps(x[None], n, loss2[None], window=1)
    assert f2.status[0] == EDGE  # the best observed LR is at the end
    loss3 = np.array([1.0, 0.71, 0.9, 0.70, 0.9, 0.71, 1.0])  # W-shaped around the best
    f3 = fit_sweeps(x[None], n, loss3[None], window=2)
    assert f3.status[0] == 3  # not_convex


def test_window_widens_to_bracket_the_best():
    # levels 4 and 5 absent: window of 2 around level 3 would hold only one side
    x = np.arange(9.0)
    loss = 1 + 0.1 * (x - 3.4) ** 2
    n = np.array([[1, 1, 1, 1, 0, 0, 1, 1, 1.0]])
    f = fit_sweeps(x[None], n, (loss * n[0])[None], window=2)
    assert f.status[0] == OK
    # the nearest level above the best is 6, so the radius grows to 3: levels 0, 1, 2, 3, 6
    assert f.levels_window[0] == 5
    assert f.x_opt[0] == pytest.approx(3.4)


def test_include_edge_sweeps_uses_their_best_observed_lr():
    frames = []
    for i, s in enumerate([1e6, 4e6, 1.6e7, 6.4e7]):
        lrs = 2.0 ** np.arange(-12, -4)
        loss = 3 + 0.05 * (np.log(lrs) - np.log(2.0**-8 * 2.0 ** (-0.5 * i))) ** 2
        if i == 3:
            loss = 3 - 0.1 * np.log(lrs)  # best at the largest LR: edge
        frames.append(sweep(lrs, loss, scale=s))
    df = pd.concat(frames)
    ok_only = scalefit.fit(df, n_boot=30).law()
    with_edge = scalefit.fit(df, n_boot=30, include=("ok", "edge")).law()
    assert ok_only.n_points == 3 and with_edge.n_points == 4
    assert with_edge.points["lr_opt"][-1] == 2.0**-5  # the best observed LR stands in
    assert all(np.isfinite(with_edge.ci["a"]))


def test_diverged_above_marks_exploded_finite_losses():
    lrs = 2.0 ** np.arange(-12, -4)
    loss = 3 + 0.05 * (np.log(lrs) - np.log(2.0**-9)) ** 2
    loss[-2:] = [12.0, 59.0]  # exploded runs recorded with a finite loss
    plain = scalefit.fit(sweep(lrs, loss), n_boot=0, blowup=None)
    marked = scalefit.fit(sweep(lrs, loss), n_boot=0, diverged_above=2.0)
    assert plain.optima["n_diverged"].iloc[0] == 0
    assert marked.optima["n_diverged"].iloc[0] == 2 and marked.input["diverged"] == 2
    assert marked.optima["lr_opt"].iloc[0] == pytest.approx(2.0**-9, rel=1e-9)
    assert any("above 2 x" in n for n in marked.notes)
    with pytest.raises(scalefit.ScalefitInputError):
        scalefit.fit(sweep(lrs, loss), n_boot=0, diverged_above=0.5)
