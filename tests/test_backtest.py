"""Rolling-origin backtests (scalefit backtest, FitResult.backtest): ground truth on
synthetic sweeps, JSON round trip, the command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import scalefit
from scalefit.backtests import backtest_fit
from scalefit.core import backtest as cb
from scalefit.errors import ScalefitInputError
from scalefit.results.backtest import BacktestResult
from scalefit.synthetic import TrueLaw, make_sweeps

SCALES = (1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8)


def _fit(seed, lr_scatter=0.05, n_boot=200):
    df = make_sweeps(scales=SCALES, horizons=(1e9, 4e9), seeds=2, noise=0.004,
                     law=TrueLaw(a=-0.3, b=-0.2), lr_scatter=lr_scatter, seed=seed)
    return scalefit.fit(df, n_boot=n_boot, seed=seed, progress=None)


def test_origins_default_and_k():
    lv = np.array([1.0, 2, 3, 4, 5, 6, 7])
    assert cb.origins(lv).tolist() == [5.0, 6.0, 7.0]
    assert cb.origins(lv[:4]).tolist() == [4.0]
    assert cb.origins(lv[:3]).size == 0
    assert cb.origins(lv[:3], k=5).tolist() == [3.0]  # keeps 2 levels to fit on


def test_straight_law_coverage_and_beats_keep():
    covered, errs, keep = [], [], []
    for seed in range(4):
        res = _fit(seed).backtest(axis="scale")
        t = res.table()
        assert set(t["origin"]) == {8e7, 1.6e8, 3.2e8}
        assert (t["train_max"] < t["origin"]).all()  # fitted on the smaller levels only
        covered += t["covered"].tolist()
        errs += t["ln_error"].abs().tolist()
        keep += t["keep_ln_error"].abs().tolist()
    cov = np.mean(covered)
    assert len(covered) == 24
    assert cov >= 0.8, cov  # nominal 95%, 24 points
    assert np.median(errs) < 0.5 * np.median(keep)  # the law beats "keep the LR"
    assert np.median(errs) <= 0.15


def test_scores_and_conf_int():
    res = _fit(0).backtest(axis="scale", levels=2)
    (s,) = res.scores()
    assert s["n_points"] == 4 and s["levels"] == [1.6e8, 3.2e8]
    assert s["beats_keep"] is True
    ci = res.conf_int()["all runs"]["coverage"]
    assert 0 <= ci[0] <= res.params["all runs"]["coverage"] <= ci[1] <= 1


def test_json_round_trip(tmp_path):
    res = _fit(1, n_boot=50).backtest(axis="scale", levels=1)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["kind"] == "backtest" and d["axis"] == "scale"
    back = BacktestResult.from_dict(d)
    assert back.to_dict() == d
    assert str(back) == str(res)
    with pytest.raises(ScalefitInputError):
        BacktestResult.from_dict({"kind": "fit"})


def test_by_column_axis():
    df = make_sweeps(scales=(1e7, 1e8), horizons=(1e9,), seeds=2, noise=0.004, seed=3)
    parts = []
    for w in (1, 2, 4, 8):  # lr_opt ~ w^-0.5 along a numeric --by column
        p = df.copy()
        p["wd"] = w
        p["lr"] = p["lr"] * w ** -0.5
        parts.append(p)
    import pandas as pd
    res = scalefit.backtest(pd.concat(parts), axis="wd", by=["wd"], n_boot=50)
    t = res.table()
    assert set(t["origin"]) == {8.0} and len(t) == 2
    assert t["ln_error"].abs().max() < 0.1


def test_bad_axis_names_columns():
    fit = _fit(0, n_boot=0)
    with pytest.raises(ScalefitInputError, match=r"--axis width: .*scale.*horizon"):
        backtest_fit(fit, axis="width")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(scalefit.__file__)))


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "scalefit", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_cli_smoke_and_bad_axis(tmp_path):
    df = make_sweeps(scales=SCALES, horizons=(1e9,), seeds=2, noise=0.004, seed=0)
    df.to_csv(tmp_path / "runs.csv", index=False)
    r = _cli("backtest", "runs.csv", "--axis", "scale", "--boot", "100", "--json", "bt.json",
             "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Backtest along scale" in r.stdout and "95% PI covers" in r.stdout
    d = json.loads((tmp_path / "bt.json").read_text())
    assert len(d["points"]) == 3 and d["scores"][0]["n_points"] == 3
    r = _cli("backtest", "runs.csv", "--axis", "width", "--boot", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--axis width" in lines[0] and "scale" in lines[0]


def test_steplaw_speed(datasets):
    import time

    t = time.perf_counter()
    res = scalefit.backtest(datasets / "steplaw" / "dense_lr_bs_loss.csv", axis="scale",
                            by=["bs"], scale="N", horizon="D", loss="smooth loss")
    assert time.perf_counter() - t < 15
    assert len(res.points) >= 30


def test_figure(tmp_path):
    res = _fit(0, n_boot=50).backtest(axis="scale", levels=2)
    fig = res.plot(tmp_path / "bt.png")
    assert fig.axes and (tmp_path / "bt.png").exists()


def test_predict_pi_is_the_backtest_pi_and_covers():
    """'scalefit predict' adds the scatter the backtests check (n - k, leverage, t): the same
    interval for the same law and seed, and it covers held-out optima at about its level."""
    from scalefit.core.decisions import law_design, predict

    covered, widths = [], []
    for seed in range(6):
        df = make_sweeps(scales=SCALES, horizons=(1e9, 4e9), seeds=2, noise=0.004,
                         law=TrueLaw(a=-0.3, b=-0.2), lr_scatter=0.05, seed=seed)
        full = scalefit.fit(df, n_boot=100, seed=seed, progress=None).optima
        small = scalefit.fit(df[df["scale"] <= 8e7], n_boot=200, seed=seed, progress=None)
        law = small.law()
        X, free = law_design(law)
        assert X is not None and X.shape == (law.n_points, 3) and free.tolist() == [0, 1, 2]
        for _, row in full[(full["scale"] > 8e7) & (full["status"] == "ok")].iterrows():
            p = predict(law, row["scale"], row["horizon"], seed=seed)
            z = np.array([[1.0, np.log(row["scale"]), np.log(row["horizon"])]])
            ref = cb.predict_points(law.coef(), law.boot, law.rmse_log, z, 0.95, seed, X)
            assert np.allclose(np.log(p["lr_pi"]), ref["pi"][:, 0], rtol=0, atol=1e-12)
            assert p["pi_scatter"].startswith("new point")
            lo, hi = p["lr_pi"]
            covered.append(lo <= row["lr_opt"] <= hi)
            widths.append(np.log(hi / lo))
    assert len(covered) == 24
    assert np.mean(covered) >= 0.85, np.mean(covered)


def test_predict_from_json_keeps_points_for_leverage(tmp_path):
    res = _fit(0)
    path = tmp_path / "fit.json"
    res.save(path)
    loaded = scalefit.load_fit(path)
    a = res.predict(scale=1e9, horizon=2e9).rows[0]
    b = loaded.predict(scale=1e9, horizon=2e9).rows[0]
    assert b["pi_scatter"].startswith("new point")
    assert np.allclose(a["lr_pi"], b["lr_pi"], rtol=1e-12)
    # a file from before the points were stored: rmse alone, and the text says so
    d = json.loads(path.read_text())
    for law in d["laws"]:
        law.pop("points", None)
    path.write_text(json.dumps(d))
    old = scalefit.load_fit(path).predict(scale=1e9, horizon=2e9)
    assert old.rows[0]["pi_scatter"].startswith("rmse_log alone")
    assert "without its points" in str(old.summary())


def test_joint_backtest_predicts_lr_and_bs_of_held_out_joint_optima(tmp_path):
    """Joint optima (lr*, bs*) from a known joint truth: both laws of the smaller scales
    predict the held-out joint optima well inside "keep the largest level's values"."""
    from scalefit.synthetic import make_joint_sweeps

    cov, bcov, err, keep, berr, bkeep = [], [], [], [], [], []
    for seed in range(3):
        df = make_joint_sweeps(scales=(1e8, 2e8, 4e8, 8e8, 1.6e9), horizons=(5e9, 2e10),
                               seed=seed)
        res = scalefit.fit(df, joint="bs", n_boot=200, seed=seed, progress=None)
        bt = res.backtest(axis="scale", joint=True)
        assert bt.settings["joint"] is True
        t = bt.table()
        assert set(t["origin"]) == {8e8, 1.6e9} and len(t) == 4
        cov += t["covered"].tolist()
        bcov += t["bs_covered"].tolist()
        err += t["ln_error"].abs().tolist()
        keep += t["keep_ln_error"].abs().tolist()
        berr += t["bs_ln_error"].abs().tolist()
        bkeep += t["bs_keep_ln_error"].abs().tolist()
        assert {"bs_pred_pi_lo", "bs_measured_ci_hi"} <= set(t.columns)
    assert np.mean(cov) >= 0.75 and np.mean(bcov) >= 0.75, (np.mean(cov), np.mean(bcov))
    assert np.median(err) < 0.5 * np.median(keep)
    assert np.median(berr) < 0.5 * np.median(bkeep)
    (s,) = bt.scores()
    assert s["bs"]["law"]["n"] == 4 and s["bs"]["beats_keep"] is True
    assert "The batch size of the joint optima" in str(bt)
    back = BacktestResult.from_dict(json.loads(json.dumps(bt.to_dict())))
    assert back.to_dict() == bt.to_dict()


def test_joint_backtest_needs_a_joint_fit():
    with pytest.raises(ScalefitInputError, match="--joint"):
        _fit(0).backtest(axis="scale", joint=True)


def test_cli_joint_backtest(tmp_path):
    from scalefit.synthetic import make_joint_sweeps

    path = tmp_path / "joint.csv"
    make_joint_sweeps(scales=(1e8, 2e8, 4e8, 8e8), horizons=(5e9, 2e10), seed=1).to_csv(
        path, index=False)
    out = subprocess.run([sys.executable, "-m", "scalefit", "backtest", str(path), "--joint",
                          "bs", "--axis", "scale", "--boot", "100", "-q", "--json",
                          str(tmp_path / "b.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "law of bs_opt" in out.stdout
    d = json.loads((tmp_path / "b.json").read_text())
    assert all("bs_pred" in p for p in d["points"])


def test_report_md_html_and_figure(tmp_path):
    """--report writes report.md, a self-contained report.html and the figure, all or none."""
    df = make_sweeps(scales=SCALES, horizons=(1e9,), seeds=2, noise=0.004, seed=0)
    df.to_csv(tmp_path / "runs.csv", index=False)
    r = _cli("backtest", "runs.csv", "--axis", "scale", "--boot", "100", "--report", "rep",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = tmp_path / "rep"
    assert {p.name for p in (rep / "figures").iterdir()} == {"backtest.png", "backtest.svg"}
    md = (rep / "report.md").read_text()
    assert "![backtest](figures/backtest.png)" in md and "95% PI covers" in md
    page = (rep / "report.html").read_text()
    assert "data:image/png;base64," in page and "perfect forecast" in page
    assert "wrote" in r.stderr and "report.html" in r.stderr


def test_backtest_holds_the_exponents_the_fit_held():
    """A fit with --fix a=0 (muP's width transfer) is backtested as fitted: every law of the
    smaller levels, the short baseline's too, holds a = 0, and its PI counts one estimated
    parameter (the intercept) in its degrees of freedom; without --fix the axis exponent is
    the law's own a (not renamed)."""
    df = make_sweeps(scales=SCALES, horizons=(1e9,), seeds=2, noise=0.004,
                     law=TrueLaw(a=0.0), lr_scatter=0.05, seed=3)
    free = scalefit.fit(df, n_boot=200, seed=3, progress=None).backtest(axis="scale")
    assert all(set(p["law_params"]) == {"C", "a"} for p in free.points)
    assert any(abs(p["law_params"]["a"]) > 1e-6 for p in free.points)
    held = scalefit.backtest(df, axis="scale", n_boot=200, seed=3, fix={"a": 0.0})
    assert held.settings["fix"] == {"a": 0.0}
    assert all(p["law_params"]["a"] == 0.0 for p in held.points)
    assert any("a = 0 held" in n for n in held.notes)
    t = held.table()
    assert t["covered"].notna().all() and t["short_ln_error"].notna().sum() >= 2
    # the held law predicts each level by the (weighted) mean of the smaller levels' optima
    r = held.points[0]
    assert r["lr_pred"] == pytest.approx(r["law_params"]["C"], rel=1e-12)
    # one free parameter: the PI's t has n - 1 degrees of freedom, and it covers
    assert t["covered"].mean() >= 0.6


def test_cli_backtest_takes_fix(tmp_path):
    df = make_sweeps(scales=SCALES, horizons=(1e9,), seeds=2, noise=0.004,
                     law=TrueLaw(a=0.0), lr_scatter=0.05, seed=3)
    src = tmp_path / "runs.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "bt.json"
    proc = subprocess.run([sys.executable, "-m", "scalefit", "backtest", str(src), "--axis",
                           "scale", "--fix", "a=0", "--boot", "100", "--json", str(out)],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr
    assert "a = 0 held" in proc.stdout
    d = json.loads(out.read_text())
    assert d["settings"]["fix"] == {"a": 0.0}


def test_four_levels_get_the_short_baseline_without_a_pi():
    """With 4 levels the held-out 4th leaves 3 to fit and the short baseline 2: a law
    through its 2 points still forecasts (its error is scored), but it has no residual to
    measure its scatter, so it claims no PI coverage."""
    df = make_sweeps(scales=SCALES[:4], horizons=(1e9,), seeds=2, noise=0.004,
                     law=TrueLaw(a=-0.3), lr_scatter=0.05, seed=5)
    res = scalefit.backtest(df, axis="scale", n_boot=200, seed=5)
    t = res.table()
    assert set(t["origin"]) == {SCALES[3]}
    assert t["short_ln_error"].notna().all()
    assert t["short_covered"].isna().all() and t["covered"].notna().all()
    (s,) = res.scores()
    assert s["beats_short"] is not None


def test_the_verdict_says_in_words_which_forecast_did_better():
    # a straight law that moves: the law beats keeping the LR
    text = str(_fit(0).backtest(axis="scale"))
    verdict = text[text.index("Verdict:"):]
    assert "the law forecast better than keeping the LR" in verdict
    # the bundled horizon study: keeping the LR did better, and the output says so
    res = scalefit.backtest(os.path.join(ROOT, "examples", "data", "token_horizon_cpu.csv"),
                            axis="horizon", n_boot=100)
    (s,) = res.scores()
    assert s["beats_keep"] is False
    verdict = str(res)[str(res).index("Verdict:"):]
    assert "keeping the LR of the largest fitted level forecast better than the law" in verdict
    assert "the LR measured there is the safer choice" in verdict
    # groups: the count of groups that beat both, and the pooled row first
    df = make_sweeps(scales=SCALES, horizons=(1e9,), seeds=2, noise=0.004,
                     groups={"a": TrueLaw(a=-0.3), "b": TrueLaw(a=-0.3, C=0.03)},
                     lr_scatter=0.05, seed=1)
    text = str(scalefit.fit(df, by="parameterization", n_boot=100, progress=None)
               .backtest(axis="scale"))
    assert "per group, the law beats both baselines in" in text and "of 2" in text
