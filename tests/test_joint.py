"""The joint LR x batch-size fit (issue 14): surface estimator, statuses, laws, exponents side by
side, predict/audit with a batch size, JSON round trip, command line, and Step Law's table."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.core import joint as cj
from scalefit.errors import ScalefitInputError
from scalefit.schema import validate
from scalefit.synthetic import JointTruth, make_joint_sweeps

STEPLAW = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "steplaw" / \
    "dense_lr_bs_loss.csv"


def _grid(f, xs, ys, seeds=1, noise=0.0, seed=0):
    """Per-cell sums (1, J, K) of the losses f(x, y) on the grid xs x ys."""
    rng = np.random.default_rng(seed)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    loss = f(X, Y)[..., None] + rng.normal(0, noise, (*X.shape, seeds))
    n = np.full(X.shape, float(seeds))[None]
    return (np.asarray(xs, float)[None], np.asarray(ys, float)[None], n,
            loss.sum(-1)[None], (loss ** 2).sum(-1)[None])


def _bowl(x0=0.0, y0=0.0, kxx=1.0, kxy=-0.3, kyy=0.8):
    return lambda x, y: 2 + kxx * (x - x0) ** 2 + 2 * kxy * (x - x0) * (y - y0) + \
        kyy * (y - y0) ** 2


def _status(fit):
    return cj.STATUS_NAMES[int(fit.status[0])]


def test_exact_quadratic_recovered():
    xs, ys = np.linspace(-1, 1, 7), np.linspace(-1.2, 1.2, 6)
    f = fit_surfaces = cj.fit_surfaces(*_grid(_bowl(0.1, -0.2), xs, ys))
    assert _status(f) == "ok"
    assert f.x_opt[0] == pytest.approx(0.1, abs=1e-9)
    assert f.y_opt[0] == pytest.approx(-0.2, abs=1e-9)
    assert (f.k_xx[0], f.k_xy[0], f.k_yy[0]) == pytest.approx((1.0, -0.3, 0.8), abs=1e-9)
    assert f.loss_opt[0] == pytest.approx(2.0, abs=1e-9)
    assert fit_surfaces.n_window[0] == 25  # a 5 x 5 box around the best cell


@pytest.mark.parametrize("case, expect", [
    ("lr beyond the grid", "edge_lr"),
    ("bs beyond the grid", "edge_bs"),
    ("two batch sizes", "too_few"),
    ("saddle", "saddle"),
    ("concave", "not_convex"),
    ("all diverged", "all_diverged"),
])
def test_statuses(case, expect):
    xs, ys = np.linspace(-1, 1, 7), np.linspace(-1, 1, 6)
    if case == "lr beyond the grid":
        args = _grid(_bowl(x0=2.5), xs, ys)
    elif case == "bs beyond the grid":
        args = _grid(_bowl(y0=-2.5, kxy=0.0), xs, ys)
    elif case == "two batch sizes":
        args = _grid(_bowl(), xs, ys[:2])
    elif case == "saddle":  # pure noise on a flat surface: the quadratic takes any shape
        args = _grid(lambda x, y: 2 + 0 * x, xs, ys, noise=0.01, seed=5)
    elif case == "concave":
        args = _grid(lambda x, y: 2 + 0 * x, xs, ys, noise=0.01, seed=59)
    else:
        x, y, n, s, q = _grid(_bowl(), xs, ys)
        args = (x, y, np.zeros_like(n), np.zeros_like(s), np.zeros_like(q))
    assert _status(cj.fit_surfaces(*args)) == expect


def test_bad_fit_and_off_grid():
    xs, ys = np.linspace(-1, 1, 7), np.linspace(-1, 1, 6)
    # a valley with a strong quartic term along its floor is not a quadratic: the surface
    # dips below every cell near its optimum
    f = cj.fit_surfaces(*_grid(lambda x, y: 2 + x * x + y * y + 3 * x * y + 2 * (x - y) ** 4,
                               xs, ys))
    assert _status(f) == "bad_fit"
    # noise on a flat surface can put a convex vertex outside the window: off_grid, no optimum
    f = cj.fit_surfaces(*_grid(lambda x, y: 2 + 0 * x, xs, ys, noise=0.01, seed=30))
    assert _status(f) == "off_grid"
    lo, hi = f.x_window[:, 0]
    ylo, yhi = f.y_window[:, 0]
    assert not (lo <= f.x_opt[0] <= hi and ylo <= f.y_opt[0] <= yhi)


def test_ok_optimum_inside_the_grid_it_was_fitted_on():
    df = make_joint_sweeps(reps=5, noise=0.004, seed=3)
    r = scalefit.fit(df, joint="bs", by="rep", n_boot=0, progress=None)
    o = r.joint.optima
    ok = o[o["status"] == "ok"]
    assert len(ok) > 0
    assert (ok["lr_opt"] >= ok["lr_window_lo"] * (1 - 1e-12)).all()
    assert (ok["lr_opt"] <= ok["lr_window_hi"] * (1 + 1e-12)).all()
    assert (ok["bs_opt"] >= ok["bs_window_lo"] * (1 - 1e-12)).all()
    assert (ok["bs_opt"] <= ok["bs_window_hi"] * (1 + 1e-12)).all()


def test_valley_penalty_is_the_quadratic_form():
    rng = np.random.default_rng(0)
    for _ in range(20):
        kxx, kyy = rng.uniform(0.1, 1, 2)
        kxy = rng.uniform(-1, 1) * math.sqrt(kxx * kyy) * 0.99
        dx, dy = rng.normal(size=2)
        slope, floor = cj.valley(kxx, kxy, kyy)
        total, p_lr, p_bs = cj.penalty(dx, dy, kxx, slope, floor)
        assert total == pytest.approx(kxx * dx * dx + 2 * kxy * dx * dy + kyy * dy * dy)
        assert p_lr >= 0 and p_bs >= 0


@pytest.mark.slow
def test_ground_truth_exponents_and_coverage():
    """50 replications of a 4 x 3 (scale, horizon) design, 7 LRs x 6 batch sizes per grid,
    a tilted valley and noise: exponents recovered and 95% intervals cover the truth in at
    least 85% of the replications (docs/math.md section 10 records the numbers)."""
    tl = JointTruth()
    df = make_joint_sweeps(reps=50, seed=7, truth=tl)
    r = scalefit.fit(df, joint="bs", by="rep", n_boot=200, progress=None)
    assert (r.joint.optima["status"] == "ok").mean() > 0.95
    fixed = tl.fixed_bs_exponents()
    checks = [(r.joint.laws, "lr_opt", "a", tl.a_lr), (r.joint.laws, "lr_opt", "b", tl.b_lr),
              (r.joint.laws, "bs_opt", "a", tl.a_bs), (r.joint.laws, "bs_opt", "b", tl.b_bs),
              (r.joint.bs_laws, "lr_opt", "a", fixed["a"]),
              (r.joint.bs_laws, "lr_opt", "b", fixed["b"]),
              (r.joint.bs_laws, "lr_opt", "c", fixed["c"])]
    for pool, target, p, true in checks:
        laws = [law for law in pool if law.target == target]
        assert len(laws) == 50
        est = np.array([law.params[p] for law in laws])
        assert abs(est.mean() - true) < 0.02, (target, p, est.mean(), true)
        cover = np.mean([law.ci[p][0] <= true <= law.ci[p][1] for law in laws])
        assert cover >= 0.85, (target, p, cover)
    along = [e for e in r.joint.exponents if e["variable"] == "horizon"]
    assert len(along) == 50
    assert np.mean([e["along_ci"][0] <= tl.b_lr <= e["along_ci"][1] for e in along]) >= 0.85
    assert abs(np.mean([e["along"] for e in along]) - tl.b_lr) < 0.02


@pytest.fixture(scope="module")
def joint_fit():
    df = make_joint_sweeps(noise=0.003, seed=11)
    return scalefit.fit(df, joint="bs", n_boot=200, progress=None)


def test_exponents_side_by_side(joint_fit):
    rows = {e["variable"]: e for e in joint_fit.joint.exponents}
    assert set(rows) == {"scale", "horizon"}
    h = rows["horizon"]
    assert h["along"] == pytest.approx(h["fixed_bs"] + h["c"] * h["bs_law"])
    assert h["along_ci"][0] < h["along"] < h["along_ci"][1]
    assert len(h["along_draws"]) == 200
    text = str(joint_fit)
    assert "at a fixed bs" in text and "along bs*" in text and "Joint laws" in text


def test_json_round_trip_reproduces_predict_and_audit(joint_fit, tmp_path):
    path = tmp_path / "joint.json"
    joint_fit.save(path)
    d = json.loads(path.read_text())
    assert validate(d) == []
    assert d["input"]["joint"] == "bs" and d["joint"]["column"] == "bs"
    loaded = scalefit.load_fit(path)
    for kw in ({"scale": 5e8, "horizon": 3e10}, {"scale": 5e8, "horizon": 3e10, "bs": 64}):
        a, b = joint_fit.predict(**kw), loaded.predict(**kw)
        for key in ("lr", "lr_ci", "lr_pi", "bs_opt", "bs_opt_ci", "lr_at_bs", "lr_at_bs_ci",
                    "lr_valley", "lr_valley_ci"):
            np.testing.assert_allclose(np.array(a[key], float), np.array(b[key], float),
                                       rtol=1e-12, atol=0)
    for kw in ({"bs": 64}, {}):
        lr = float(joint_fit.predict(5e8, 3e10)["lr"]) * 1.3
        a = joint_fit.audit(lr, 5e8, 3e10, **kw)
        b = loaded.audit(lr, 5e8, 3e10, **kw)
        assert a["penalty"] is not None
        for key in ("penalty", "penalty_ci", "penalty_lr", "penalty_bs", "lr_valley"):
            np.testing.assert_allclose(np.array(a[key], float), np.array(b[key], float),
                                       rtol=1e-12, atol=0)
    assert str(loaded.joint) == str(joint_fit.joint)


def test_audit_says_why_there_is_no_penalty(joint_fit):
    a = joint_fit.audit(1.0, 5e8, 3e10, bs=64)  # far above every LR tried
    assert a["penalty"] is None and "no run this far" in a["penalty_reason"]
    p = joint_fit.predict(5e8, 3e10)
    a = joint_fit.audit(p["lr"], 5e8, 3e10)  # at the optimum, bs = bs*
    assert a["penalty"] == pytest.approx(0.0, abs=1e-12) and not a["bs_given"]


def test_bs_without_a_joint_fit_is_refused():
    df = make_joint_sweeps(noise=0.003, seed=2)
    r = scalefit.fit(df, by="bs", n_boot=0, progress=None)
    with pytest.raises(ScalefitInputError, match="joint"):
        r.predict(5e8, 3e10, bs=64)


def test_joint_column_must_be_numeric():
    df = make_joint_sweeps(noise=0.003, seed=2)
    df["bs"] = df["bs"].astype(object)
    df.loc[3, "bs"] = "big"
    with pytest.raises(ScalefitInputError, match="row 4"):
        scalefit.fit(df, joint="bs", n_boot=0, progress=None)
    with pytest.raises(ScalefitInputError, match="also a --by"):
        scalefit.fit(df, joint="bs", by="bs", n_boot=0, progress=None)


def test_cli_fit_predict_audit(tmp_path):
    csv, out = tmp_path / "grid.csv", tmp_path / "j.json"
    make_joint_sweeps(noise=0.003, seed=5).to_csv(csv, index=False)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "scalefit", *map(str, args)],
                              capture_output=True, text=True)

    r = run("fit", csv, "--joint", "bs", "--boot", "100", "--json", out, "-q")
    assert r.returncode == 0, r.stderr
    assert "Joint optimum per group" in r.stdout and "along bs*" in r.stdout
    r = run("predict", out, "--scale", "5e8", "--horizon", "3e10", "--bs", "64")
    assert r.returncode == 0, r.stderr
    assert "lr at bs 64" in r.stdout
    r = run("audit", out, "--lr", "1e-3", "--scale", "5e8", "--horizon", "3e10", "--bs", "64")
    assert r.returncode == 0, r.stderr
    assert "Joint audit" in r.stdout
    r = run("fit", csv, "--by", "bs", "--boot", "0", "--json", tmp_path / "plain.json", "-q")
    r = run("predict", tmp_path / "plain.json", "--scale", "5e8", "--horizon", "3e10",
            "--group", "bs=64", "--bs", "64")
    assert r.returncode == 2 and "--joint" in r.stderr


@pytest.mark.skipif(not STEPLAW.exists(), reason="needs ../shared/datasets/steplaw")
def test_steplaw_dense_neighbourhood():
    """Step Law's dense table, smooth loss: the joint lr law lands near Step Law's own
    protocol (N^-0.77 D^0.20 on the released rows) and bs* rises with the horizon."""
    df = pd.read_csv(STEPLAW)
    r = scalefit.fit(df, scale="N", horizon="D", loss="smooth loss", joint="bs", n_boot=200,
                     progress=None)
    lr = r.joint.law("lr_opt")
    bs = r.joint.law("bs_opt")
    assert -0.95 < lr.params["a"] < -0.6 and 0.1 < lr.params["b"] < 0.45
    assert bs.params["b"] > 0 and bs.ci["b"][0] > 0
    h = next(e for e in r.joint.exponents if e["variable"] == "horizon")
    assert h["along"] > h["fixed_bs"]
    # Step Law's protocol re-run: every run within 0.25% of its (N, D) minimum, OLS in logs
    g = df.groupby(["N", "D"])["smooth loss"].transform("min")
    near = df[(df["smooth loss"] / g - 1).abs() < 0.0025]
    X = np.column_stack([np.ones(len(near)), np.log(near["N"]), np.log(near["D"])])
    coef = np.linalg.lstsq(X, np.log(near["lr"]), rcond=None)[0]
    assert coef[1] == pytest.approx(-0.77, abs=0.03) and coef[2] == pytest.approx(0.20, abs=0.03)


@pytest.mark.skipif(not STEPLAW.exists(), reason="needs ../shared/datasets/steplaw")
def test_readme_joint_block_is_what_the_example_prints():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    after = readme[readme.index("## A second hyperparameter"):]
    block = after[after.index("```\n") + 4:]
    block = block[:block.index("```")]
    out = subprocess.run([sys.executable, str(root / "examples" / "steplaw_joint.py")],
                         capture_output=True, text=True, check=True).stdout
    pos = 0
    for line in (x for x in block.splitlines() if x.strip() and "..." not in x):
        pos = out.index(line, pos) + len(line)  # every quoted line, in order


def test_joint_figure_and_report(joint_fit, tmp_path):
    figs = joint_fit.plot(["joint"])
    assert set(figs) == {"joint"}
    panels = [ax for ax in figs["joint"].axes if ax.get_title()]
    assert len(panels) == len(joint_fit.joint.optima)
    paths = joint_fit.report(tmp_path / "rep", progress=None)
    assert "joint.png" in paths
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "Joint LR x bs" in md and "along bs*" in md


def test_prediction_at_a_batch_size_says_which_lr_to_use(joint_fit):
    from scalefit.render.format import fmt

    p = joint_fit.predict(5e8, 3e10, bs=64)
    text = str(p.summary())
    at = float(p["lr_at_bs"])
    assert "use: lr at bs 64 = " in text and "the batch-size-aware law" in text
    assert f"= {fmt(at)}," in text
    assert "is a cross-check; they differ by x" in text


def test_group_values_print_in_full():
    """A batch size of 1024 is '1024' in the per-bs table, not '1.02e+03' (one that
    cannot be told from 1020); other values keep the compact format."""
    import numpy as np

    from scalefit.render.format import fmt_level

    assert [fmt_level(v) for v in (1024, 1024.0, np.int64(2048), np.float64(16.0))] == \
        ["1024", "1024", "2048", "16"]
    assert [fmt_level(v) for v in (0.5, 3.14159, "mup", True, float("nan"))] == \
        ["0.5", "3.14", "mup", "True", "-"]
