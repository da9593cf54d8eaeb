"""`scalefit next --joint bs`: runs proposed on LR x batch-size surfaces (docs/math.md s. 11)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.cli.main import main as cli_main
from scalefit.core import joint as cj
from scalefit.core.surface_error import cells_of, fit_cells, vertex_variance
from scalefit.synthetic import make_joint_sweeps

KXX, KXY, KYY = 0.03, -0.01, 0.02  # the synthetic truth's valley (JointTruth defaults)


def _fit(df, n_boot=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(df, joint="bs", n_boot=n_boot, progress=None)


def _one_surface(noise=0.002, seed=3):
    df = make_joint_sweeps(scales=(4e8,), horizons=(2e10,), n_lrs=7, n_bs=6, noise=noise,
                           seed=seed)
    return df


def test_delta_method_matches_the_estimators_spread():
    """Predicted s.d. of (ln lr*, ln bs*) on a fixed design against the spread of the joint
    estimator over 300 fresh noise draws of the same runs (true surface, true noise)."""
    rng = np.random.default_rng(0)
    xs, ys = np.linspace(-1.2, 1.2, 7), np.linspace(-1.5, 1.5, 6)
    X, Y = (g.ravel() for g in np.meshgrid(xs, ys, indexing="ij"))
    sigma = 0.004

    def truth(x, y):
        return 2 + KXX * x * x + 2 * KXY * x * y + KYY * y * y

    draws = 300
    loss = truth(X, Y)[None] + rng.normal(0, sigma, (draws, X.size))
    owner = np.repeat(np.arange(draws), X.size)
    cx, cy, n, s, q = cells_of(np.tile(X, draws), np.tile(Y, draws), loss.ravel(), owner, draws)
    fit = fit_cells(cx, cy, n, s, q)
    ok = fit.status == cj.OK
    assert ok.mean() > 0.95
    spread = np.var(fit.x_opt[ok]) + np.var(fit.y_opt[ok])
    # the prediction from the true surface's exact cells
    c1 = cells_of(X, Y, truth(X, Y), np.zeros(X.size, int), 1)
    f1 = fit_cells(*c1)
    v = vertex_variance(c1[0], c1[1], c1[2], f1, np.array([sigma]))[0]
    assert math.sqrt(v) == pytest.approx(math.sqrt(spread), rel=0.2)


def test_ok_surface_gets_precision_runs_that_cut_its_variance():
    df = _one_surface()
    res = _fit(df)
    assert (res.joint.optima["status"] == "ok").all()
    props = res.next_runs(4, cost="runs")
    runs = props.runs
    assert len(runs) == 4
    assert set(runs["kind"]) == {"precision"}
    assert "bs" in runs.columns and runs["bs"].notna().all()
    assert (runs["gain"] > 0).all()
    t = props.targets[0]
    assert t["sd_after"] < t["sd_now"]
    assert props.settings["joint"] == "bs"
    # JSON round trip keeps the batch size
    back = type(props).from_dict(json.loads(json.dumps(props.to_dict())))
    assert back.runs["bs"].tolist() == runs["bs"].tolist()


def test_three_runs_on_one_batch_size_ask_for_new_batch_sizes():
    df = _one_surface()
    bss = np.sort(df["bs"].unique())
    row = df[df["bs"] == bss[3]].sort_values("lr")
    start = row.iloc[[1, 3, 5]]
    res = _fit(start)
    assert res.joint.optima["status"].iloc[0] == "too_few"
    runs = res.next_runs(3, cost="runs").runs
    assert set(runs["rule"]) == {"too_few"}
    assert (runs["kind"] == "rule").all()
    assert runs["bs"].nunique() >= 2 and not np.isclose(runs["bs"], bss[3]).all()


def test_edge_in_lr_goes_past_the_edge_and_never_past_a_diverged_run():
    df = _one_surface()
    lrs = np.sort(df["lr"].unique())
    # keep the LRs above the optimum's neighbourhood only: the best LR is the lowest tried
    sub = df[df["lr"] >= lrs[3]].copy()
    res = _fit(sub)
    assert res.joint.optima["status"].iloc[0] == "edge_lr"
    runs = res.next_runs(2, cost="runs").runs
    assert (runs["rule"] == "edge_lr_low").all()
    assert (runs["lr"] < lrs[3]).all()
    # an LR that diverged caps the proposals of its batch size
    df2 = df.copy()
    top = df2["lr"] == lrs[-1]
    df2.loc[top, "loss"] = np.nan
    res2 = _fit(df2)
    runs2 = res2.next_runs(12, cost="runs").runs
    assert (runs2["lr"] < lrs[-1] * (1 - 1e-9)).all()


def test_candidates_restrict_the_proposals():
    df = _one_surface()
    rng = np.random.default_rng(1)
    hidden = df.sample(frac=0.5, random_state=2)
    shown = df.drop(index=hidden.index)
    res = _fit(shown)
    cand = hidden[["scale", "horizon", "bs", "lr"]]
    runs = res.next_runs(6, candidates=cand, cost="runs").runs
    assert len(runs) > 0
    keys = {(round(b, 6), round(lr, 12)) for b, lr in zip(cand["bs"], cand["lr"])}
    for b, lr in zip(runs["bs"], runs["lr"]):
        assert (round(b, 6), round(lr, 12)) in keys
    # without replicates a cell is proposed once
    assert len({(b, lr) for b, lr in zip(runs["bs"], runs["lr"])}) == len(runs)
    del rng


def test_target_mode_weights_the_surfaces_the_law_leans_on():
    df = make_joint_sweeps(scales=(2e8, 4e8, 8e8), horizons=(5e9, 2e10), noise=0.003, seed=4)
    res = _fit(df, n_boot=50)
    props = res.next_runs(6, target_scale=3.2e9, target_horizon=8e10)
    t = props.targets[0]
    assert t["target"] == "law"
    assert t["sd_after"] < t["sd_now"]
    # extrapolating up in scale: the largest scale carries the most leverage
    assert props.runs["scale"].max() == pytest.approx(8e8)
    assert any("no new surface" in n for n in props.notes)  # 6 runs: below a 3 x 3 block


def test_adaptive_rounds_find_the_true_optimum():
    """From 3 runs on one batch size, 7 rounds of at most 4 proposed runs each (revealed
    from the true surface with noise) end with an ok joint optimum near the truth."""
    truth = make_joint_sweeps(scales=(4e8,), horizons=(2e10,), n_lrs=9, n_bs=8, noise=0.0,
                              seed=5)
    x0, y0 = math.log(truth["lr_true"].iloc[0]), math.log(truth["bs_true"].iloc[0])
    rng = np.random.default_rng(7)
    base = truth["loss"].to_numpy()

    def run(idx):
        out = truth.loc[idx].copy()
        out["loss"] = base[idx] + rng.normal(0, 0.002, len(idx))
        return out

    bss = np.sort(truth["bs"].unique())
    row = truth[truth["bs"] == bss[4]].sort_values("lr")
    shown = run(list(row.index[[2, 4, 6]]))
    for _ in range(7):
        hidden = truth.drop(index=shown.index)
        res = _fit(shown[["scale", "horizon", "lr", "bs", "loss"]])
        runs = res.next_runs(4, candidates=hidden[["scale", "horizon", "bs", "lr"]],
                             cost="runs").runs
        pick = [hidden.index[np.flatnonzero(np.isclose(hidden["bs"], b)
                                            & np.isclose(hidden["lr"], lr))[0]]
                for b, lr in zip(runs["bs"], runs["lr"])]
        shown = pd.concat([shown, run(pick)])
    res = _fit(shown[["scale", "horizon", "lr", "bs", "loss"]])
    o = res.joint.optima.iloc[0]
    assert o["status"] == "ok"
    assert len(shown) <= 31 < len(truth) / 2
    assert abs(math.log(o["lr_opt"]) - x0) < 0.25
    assert abs(math.log(o["bs_opt"]) - y0) < 0.35


def test_cli_next_joint_writes_runs_with_their_batch_size(tmp_path):
    df = _one_surface()
    df = df.drop(columns=["lr_true", "bs_true"])
    df["config"] = [json.dumps({"lr": lr, "batch_size": int(round(b)), "seed": 0})
                    for lr, b in zip(df["lr"], df["bs"])]
    df["batch_size"] = df["bs"].round().astype(int)
    df = df.drop(columns=["bs"])
    src = tmp_path / "runs.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "next.csv"
    rc = cli_main(["next", str(src), "--joint", "batch_size", "--budget", "3", "--cost", "runs",
                   "--boot", "0", "--out", str(out), "--quiet"])
    assert rc == 0
    todo = pd.read_csv(out)
    assert len(todo) == 3
    assert todo["batch_size"].notna().all()
    for _, r in todo.iterrows():
        cfg = json.loads(r["config"])
        assert cfg["batch_size"] == r["batch_size"]
        assert cfg["lr"] == pytest.approx(r["lr"])


def test_joint_refuses_an_unknown_objective():
    res = _fit(_one_surface())
    with pytest.raises(scalefit.ScalefitInputError, match="objective must be"):
        res.next_runs(2, objective="speed")


def test_per_group_gives_each_by_group_its_budget():
    """Two by groups (a muP and an SP-like copy with a tenfold steeper valley): without
    --per-group the budget goes where the error is largest; with it, each gets K."""
    a = make_joint_sweeps(scales=(2e8, 4e8), horizons=(5e9,), noise=0.003, seed=11)
    b = make_joint_sweeps(scales=(2e8, 4e8), horizons=(5e9,), noise=0.003, seed=12)
    b["loss"] = 2.0 + 10 * (b["loss"] - 2.0)
    df = pd.concat([a.assign(param="mup"), b.assign(param="sp")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = scalefit.fit(df, joint="bs", by=["param"], n_boot=0, progress=None)
    both = res.next_runs(5, per_group=True, cost="runs").runs
    assert both.groupby("param").size().to_dict() == {"mup": 5, "sp": 5}
    one = res.next_runs(5, cost="runs").runs
    assert len(one) == 5


def test_the_metric_decides_which_error_the_runs_cut():
    """With metric diag(1, 0) only the error in ln lr* counts, with diag(0, 1) only that in
    ln bs*: the runs each chooses cut their own coordinate's variance more."""
    from scalefit.core.surface_design import SurfacePlanner
    from scalefit.planning import joint_plan as jp

    df = make_joint_sweeps(scales=(4e8,), horizons=(2e10,), n_lrs=9, n_bs=8, noise=0.002,
                           seed=8)
    lrs, bss = np.sort(df["lr"].unique()), np.sort(df["bs"].unique())
    li, bi = np.searchsorted(lrs, df["lr"]), np.searchsorted(bss, df["bs"])
    shown = (np.abs(li - 4) <= 2) & (np.abs(bi - 3.5) <= 2)
    res = _fit(df[shown])
    sf = jp._surfaces(res, "bs")
    X, Y, n, s_, q = cells_of(sf["x"], sf["y"], sf["loss"], sf["owner"], 1)
    views = jp._views(sf, cj.fit_surfaces(X, Y, n, s_, q), X, Y)
    hid = df[~shown]
    after = {}
    for name, m in (("lr", np.diag([1.0, 0.0])), ("bs", np.diag([0.0, 1.0]))):
        pl = SurfacePlanner(sf["x"], sf["y"], sf["loss"], sf["owner"], views,
                            np.zeros(len(hid), int), np.log(hid["lr"].to_numpy()),
                            np.log(hid["bs"].to_numpy()), np.ones(1), np.ones(1),
                            np.full(1, 0.002), replicates=False, metric=m[None])
        assert pl.status[0] == cj.OK and not pl.rules
        picks = pl.run(4)
        assert all(p.code == "variance" for p in picks)
        after[name] = np.diag(pl.cov[0])
    assert after["lr"][0] < after["bs"][0]
    assert after["bs"][1] < after["lr"][1]


def test_objective_loss_reports_and_cuts_the_expected_loss_cost():
    df = make_joint_sweeps(scales=(2e8, 4e8, 8e8), horizons=(5e9, 2e10), noise=0.003, seed=4)
    res = _fit(df, n_boot=50)
    for kw in ({}, {"target_scale": 3.2e9, "target_horizon": 8e10}):
        props = res.next_runs(6, objective="loss", **kw)
        assert len(props.runs) == 6
        prec = props.runs[props.runs["kind"] == "precision"]
        assert prec["reason"].str.contains("expected loss cost").all()
        for t in props.targets:
            if t["runs"]:
                assert 0 < t["loss_cost_after"] < t["loss_cost_now"]
                assert t["sd_after"] < t["sd_now"]
    # variance and loss objectives both report both quantities
    t = res.next_runs(6, target_scale=3.2e9, target_horizon=8e10).targets[0]
    assert t["loss_cost_now"] > 0 and t["sd_now"] > 0


def test_lookahead_completes_the_cells_around_the_vertex():
    """Once no single candidate is expected to help, the planner picks the untried allowed
    cell nearest the vertex within 2 grid steps of it (code ``window``)."""
    from scalefit.planning import joint_plan as jp

    df = make_joint_sweeps(scales=(4e8,), horizons=(2e10,), n_lrs=11, n_bs=9, noise=0.001,
                           seed=6)
    lrs, bss = np.sort(df["lr"].unique()), np.sort(df["bs"].unique())
    li, bi = np.searchsorted(lrs, df["lr"]), np.searchsorted(bss, df["bs"])
    coarse = (li % 2 == 0) & (bi % 2 == 0)
    res = _fit(df[coarse])
    sf = jp._surfaces(res, "bs")
    X, Y, n, s_, q = cells_of(sf["x"], sf["y"], sf["loss"], sf["owner"], 1)
    point = cj.fit_surfaces(X, Y, n, s_, q)
    views = jp._views(sf, point, X, Y)
    hid = df[~coarse]
    from scalefit.core.surface_design import SurfacePlanner

    pl = SurfacePlanner(sf["x"], sf["y"], sf["loss"], sf["owner"], views,
                        np.zeros(len(hid), int), np.log(hid["lr"].to_numpy()),
                        np.log(hid["bs"].to_numpy()), np.ones(1), np.ones(1), np.full(1, 0.001),
                        replicates=False)
    assert pl.status[0] == cj.OK
    assert not pl.rules  # a quadratic valley: no lack of fit, no resolution rule (next test)
    pl.vc[:] = np.inf  # no single run helps
    i = pl._completion()
    assert i >= 0
    xo, yo = pl.fit.x_opt[0], pl.fit.y_opt[0]
    d = np.hypot((pl.cx - xo) / views[0].hx, (pl.cy - yo) / views[0].hy)
    assert d[i] == pytest.approx(d.min())
    assert abs(pl.cx[i] - xo) <= 2 * views[0].hx and abs(pl.cy[i] - yo) <= 2 * views[0].hy
    pick = pl.run(1)[0]
    assert pick.code == "window" and (pick.x, pick.y) == (pl.cx[i], pl.cy[i])


def test_resolution_rule_reaches_the_full_grids_answer():
    """On a surface that is not quadratic (a cubic LR term, a quartic batch-size term), a
    window at every other level of the grid is twice as wide as the full grid's and its
    vertex differs; the planner first asks for the skipped levels next to the best cell
    (``resolution``) and within 3 rounds of 6 runs reaches the full grid's answer."""
    lr = 2e-3 * np.sqrt(2.0) ** np.arange(-5, 6)
    bs = 256 * 2.0 ** np.arange(-4, 5)
    X, Y = np.meshgrid(np.log(lr), np.log(bs), indexing="ij")
    dx, dy = X - math.log(2.3e-3), Y - math.log(300)
    loss = 2.5 + 0.03 * dx**2 + 0.01 * dx**3 + 0.02 * dy**2 - 0.01 * dx * dy + 0.004 * dy**4
    df = pd.DataFrame({"scale": 4e8, "horizon": 2e10, "lr": np.exp(X.ravel()),
                       "bs": np.exp(Y.ravel()), "loss": loss.ravel()})
    full = _fit(df).joint.optima.iloc[0]
    li, bi = np.searchsorted(lr, df["lr"]), np.searchsorted(bs, df["bs"])
    shown = df[(li % 2 == 0) & (bi % 2 == 0)]

    def off(o):
        return (abs(math.log(o["lr_opt"] / full["lr_opt"])),
                abs(math.log(o["bs_opt"] / full["bs_opt"])))

    assert off(_fit(shown).joint.optima.iloc[0])[0] > 0.15  # the coarse window's bias
    for r in range(3):
        hidden = df.drop(index=shown.index)
        runs = _fit(shown).next_runs(6, candidates=hidden[["scale", "horizon", "bs", "lr"]],
                                     cost="runs").runs
        if r == 0:
            res = runs[runs["rule"] == "resolution"]
            best_lr, best_bs = 2e-3, 256.0  # the coarse grid's best cell
            assert len(res) == 4  # one skipped level each side, in lr and in bs
            assert sorted(np.round(np.log2(res["lr"] / best_lr) * 2).astype(int)) == \
                [-1, 0, 0, 1]
            assert sorted(np.round(np.log2(res["bs"] / best_bs)).astype(int)) == [-1, 0, 0, 1]
        pick = [hidden.index[np.flatnonzero(np.isclose(hidden["bs"], b)
                                            & np.isclose(hidden["lr"], x))[0]]
                for b, x in zip(runs["bs"], runs["lr"])]
        shown = pd.concat([shown, df.loc[pick]])
    o = _fit(shown).joint.optima.iloc[0]
    assert o["status"] == "ok"
    assert max(off(o)) < 0.02
    assert len(shown) <= 43 < len(df) / 2


@pytest.mark.parametrize("drop, needle", [("bs", "the --joint column 'bs' not found"),
                                          (None, "row 2")])
def test_cli_candidates_need_a_valid_joint_column(tmp_path, capsys, drop, needle):
    df = _one_surface().drop(columns=["lr_true", "bs_true"])
    src = tmp_path / "runs.csv"
    df.to_csv(src, index=False)
    cand = df[["scale", "horizon", "bs", "lr"]].head(3).copy()
    if drop:
        cand = cand.drop(columns=[drop])
    else:
        cand["bs"] = cand["bs"].astype(object)
        cand.iloc[1, cand.columns.get_loc("bs")] = -4
    cpath = tmp_path / "cand.csv"
    cand.to_csv(cpath, index=False)
    rc = cli_main(["next", str(src), "--joint", "bs", "--budget", "2", "--boot", "0",
                   "--candidates", str(cpath), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err


def _grid_surfaces(G, loss_fn, noise, seed, every=1):
    """G copies of a 9 x 9 grid (ln lr step 0.35, ln bs step 0.69; every ``every``-th
    level), one run per cell with noise ``noise``: cells (X, Y, n, s, q) and the runs."""
    rng = np.random.default_rng(seed)
    xs, ys = 0.35 * np.arange(-4, 5)[::every], 0.69 * np.arange(-4, 5)[::every]
    gx, gy = (g.ravel() for g in np.meshgrid(xs, ys, indexing="ij"))
    x, y = np.tile(gx, G), np.tile(gy, G)
    owner = np.repeat(np.arange(G), gx.size)
    loss = loss_fn(x - 0.1, y + 0.2) + rng.normal(0, noise, x.size)
    return cells_of(x, y, loss, owner, G), (x, y, loss, owner)


def _quadratic(dx, dy):
    return 2.5 + KXX * dx * dx + 2 * KXY * dx * dy + KYY * dy * dy


def _skewed(dx, dy):
    return _quadratic(dx, dy) + 0.01 * dx ** 3 + 0.004 * dy ** 4


def test_lack_of_fit_test_is_calibrated_and_sees_a_skewed_valley():
    from scalefit.core.surface_error import lack_of_fit

    (X, Y, n, s, q), _ = _grid_surfaces(400, _quadratic, 0.003, seed=1)
    fit = fit_cells(X, Y, n, s, q)
    p, sd = lack_of_fit(X, Y, n, s, q, fit)
    assert np.nanmedian(sd) == pytest.approx(0.003, rel=0.1)  # the run noise
    p = p[np.isfinite(p)]
    assert p.size > 350
    assert np.mean(p < 0.01) < 0.03 and np.mean(p < 0.1) < 0.15  # uniform under the null
    (X, Y, n, s, q), _ = _grid_surfaces(20, _skewed, 0.0005, seed=2)
    fit = fit_cells(X, Y, n, s, q)
    assert np.all(lack_of_fit(X, Y, n, s, q, fit)[0] < 0.01)


def test_shift_test_compares_the_grids_window_with_a_coarse_one():
    """Every other level: the estimator's window spans twice the complete grid's. The
    vertex on the runs inside the complete grid's box against the wide window's: rarely
    significant on a quadratic valley with noise, always on a skewed one with little."""
    from scalefit.core.surface_error import shift_p, vertex_covariance

    def p_values(fn, noise, G, seed):
        (X, Y, n, s, q), (x, y, loss, owner) = _grid_surfaces(G, fn, noise, seed, every=2)
        wide = fit_cells(X, Y, n, s, q)
        xb, yb = wide.x_best[owner], wide.y_best[owner]
        keep = (np.abs(x - xb) <= 2 * 0.35 + 1e-6) & (np.abs(y - yb) <= 2 * 0.69 + 1e-6)
        Xn, Yn, nn, sn, qn = cells_of(x[keep], y[keep], loss[keep], owner[keep], G)
        narrow = fit_cells(Xn, Yn, nn, sn, qn, window=10 ** 6)
        cov = vertex_covariance(Xn, Yn, nn, narrow, np.full(G, noise))
        return shift_p(narrow, cov, wide.x_opt, wide.y_opt)

    p = p_values(_quadratic, 0.003, 400, seed=3)
    p = p[np.isfinite(p)]
    assert p.size > 300
    assert np.mean(p < 0.01) < 0.03
    p = p_values(_skewed, 0.0005, 20, seed=4)
    assert np.all(p < 0.01)


def _clustered(seeds):
    """Three close scales (x 1.26), full 7 x 6 grids with ``seeds`` runs per cell: a law
    that extrapolates far from a short lever arm."""
    df = make_joint_sweeps(scales=(2e8, 2.5e8, 3.2e8), horizons=(2e10,), n_lrs=7, n_bs=6,
                           noise=0.003, seeds=seeds, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(df, joint="bs", n_boot=0, progress=None)


def test_a_new_surface_when_it_beats_the_runs_it_replaces():
    """Surfaces already replicated 3 times: more runs there help little, so a block at the
    next scale of the ladder (3.2e8 x 1.26) cuts the law's error at 1e10 more per run."""
    props = _clustered(3).next_runs(50, target_scale=1e10, cost="runs")
    new = props.runs[props.runs["kind"] == "new sweep"]
    assert len(new) in (9, 25, 49) and len(props.runs) == 50
    assert new["scale"].nunique() == 1
    assert new["scale"].iloc[0] == pytest.approx(3.2e8 * (3.2e8 / 2e8) ** 0.5, rel=1e-6)
    side = int(round(math.sqrt(len(new))))
    assert new["lr"].nunique() == side and new["bs"].nunique() == side
    # at the grid's steps (x sqrt 2 in lr, x 2 in bs), though each surface's grid is offset
    assert np.allclose(np.diff(np.log(np.sort(new["lr"].unique()))), math.log(2) / 2, atol=0.01)
    assert np.allclose(np.diff(np.log(np.sort(new["bs"].unique()))), math.log(2), atol=0.15)
    # the block is centred on the joint laws' lr* there (within a grid step)
    lr_mid = float(np.exp(np.median(np.log(new["lr"].unique()))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr_law = _clustered(3).joint.predict(scale=new["scale"].iloc[0]).rows[0]["lr"]
    assert abs(math.log(lr_mid / lr_law)) <= math.log(2 ** 0.5) / 2 + 1e-9
    t = props.targets[0]
    assert t["sd_after"] < t["sd_now"] and t["runs"] == 50
    assert not any("no new surface" in n for n in props.notes)


def test_no_new_surface_when_runs_on_the_data_help_more():
    props = _clustered(1).next_runs(12, target_scale=1e10, cost="runs")
    assert (props.runs["kind"] != "new sweep").all()
    assert any("no new surface" in n for n in props.notes)
    off = _clustered(3).next_runs(50, target_scale=1e10, cost="runs", new_sweeps=False)
    assert (off.runs["kind"] != "new sweep").all()


def test_cli_out_writes_a_new_surfaces_cells(tmp_path):
    df = make_joint_sweeps(scales=(2e8, 2.5e8, 3.2e8), horizons=(2e10,), n_lrs=7, n_bs=6,
                           noise=0.003, seeds=3, seed=4).drop(columns=["lr_true", "bs_true"])
    src, out = tmp_path / "runs.csv", tmp_path / "next.csv"
    df.to_csv(src, index=False)
    rc = cli_main(["next", str(src), "--joint", "bs", "--budget", "30", "--cost", "runs",
                   "--target-scale", "1e10", "--boot", "0", "--out", str(out), "--quiet"])
    assert rc == 0
    got = pd.read_csv(out)
    new = got[got["proposal_kind"] == "new sweep"]
    assert len(new) == 25 and np.allclose(new["scale"], 3.2e8 * 1.6 ** 0.5)
    assert new["loss"].isna().all() and (new["bs"] > 0).all()


def test_joint_targets_carry_the_scatter_of_the_optima_around_the_joint_laws():
    """Surfaces whose optima scatter 15% around the joint laws beyond their noise: the
    target's s.d. carries tau^2 of ln lr* and ln bs* (0.027 without it, near the
    bootstrap's 0.28 of ln lr* alone with it); without scatter nothing changes."""
    import dataclasses

    from scalefit.synthetic import JointTruth

    def table(scatter, seed=4):
        rng = np.random.default_rng(seed)
        frames = []
        for i, s in enumerate((2e8, 4e8, 8e8, 1.6e9, 3.2e9, 6.4e9)):
            shift = np.exp(scatter * rng.standard_normal(2))
            t = dataclasses.replace(JointTruth(), C_lr=2.0 * shift[0], C_bs=0.01 * shift[1])
            frames.append(make_joint_sweeps(scales=(s,), horizons=(2e10,), truth=t,
                                            seed=seed * 10 + i))
        return pd.concat(frames, ignore_index=True)

    out = {}
    for scatter in (0.0, 0.15):
        fit = scalefit.fit(table(scatter), joint="bs", n_boot=200, progress=None)
        t = fit.next_runs(4, target_scale=2e10, target_horizon=2e10, cost="runs").targets[0]
        boot_sd = np.log(t["lr_ci"][1] / t["lr_ci"][0]) / (2 * 1.96)
        out[scatter] = (t["sd_now"], boot_sd)
    assert out[0.15][0] > 5 * out[0.0][0]
    assert 0.5 < out[0.15][0] / out[0.15][1] < 2.0
    assert 0.5 < out[0.0][0] / out[0.0][1] < 2.0
