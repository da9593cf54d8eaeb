"""Messy sweeps (issue 12): every failure seen on real data, reproduced synthetically, and the
behaviour that replaces it. Each test fails on the code before the issue."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ExtrapolationWarning, ScalefitInputError
from scalefit.schema import validate
from scalefit.synthetic import TrueLaw, make_sweeps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data" / "synthetic_sweeps.csv"


def fit(df, **kw):
    kw.setdefault("n_boot", 200)
    return scalefit.fit(df, progress=None, **kw)


def blowup_table(seed=0) -> pd.DataFrame:
    """1-D LR sweeps at four scales; runs above ~2.5x the optimum blew up but were logged
    with ordinary losses (4.8-7.8 against 2.9-3.5), as in the issue's W&B export."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, s in enumerate([1.3e8, 3.5e8, 7.6e8, 1.2e9]):
        opt = 3e-3 * (s / 1.3e8) ** -0.3
        lrs = 3e-3 * 2.0 ** np.arange(-3, 4) * 1.1
        loss = 3.4 - 0.15 * i + 0.02 * np.log(lrs / opt) ** 2 + rng.normal(0, 0.003, lrs.size)
        blown = lrs > opt * 2.5
        loss[blown] = rng.uniform(4.8, 7.8, blown.sum())
        rows += [dict(scale=s, horizon=2.6e10, lr=a, loss=b) for a, b in zip(lrs, loss)]
    return pd.DataFrame(rows)


def ok_optima_are_honest(r):
    """Every ok optimum lies inside the LRs it was fitted on and not below every loss."""
    o = r.optima[r.optima["status"] == "ok"]
    assert (o["lr_opt"] >= o["lr_window_lo"] * (1 - 1e-9)).all()
    assert (o["lr_opt"] <= o["lr_window_hi"] * (1 + 1e-9)).all()
    spread = (o["loss_best"] - o["loss_opt"]) / o["loss_best"]
    assert (spread < 0.05).all()


# ------------------------------------------------------------------ 1. finite blow-ups


def test_finite_blowups_are_marked_diverged_and_counted():
    df = blowup_table()
    r = fit(df)
    n_blown = int((df["loss"] > 4).sum())
    assert r.input["diverged"] == r.input["marked_diverged"] == n_blown
    note = next(n for n in r.notes if n.startswith("blow-up rule"))
    assert f"{n_blown} run(s) in 4 sweep(s)" in note and "--blowup off" in note
    assert "--diverged-above" in note
    ok_optima_are_honest(r)
    assert not r.optima["status"].isin(["ok", "div_bracketed"]).eq(False).any()


def test_blowups_left_in_are_never_ok_and_the_note_names_the_flags():
    r = fit(blowup_table(), blowup="off")
    assert r.input["diverged"] == 0
    assert (r.optima["status"] != "ok").all()  # the parabolas the blow-ups drag down
    assert (r.optima["status"] == "bad_fit").all()
    note = next(n for n in r.notes if "bad_fit" in n)
    assert "--blowup FACTOR" in note and "--diverged-above X" in note
    assert r.law() is None


def test_blowup_factor_and_diverged_above_replace_the_rule():
    df = blowup_table()
    assert fit(df, blowup=10, n_boot=0).input["diverged"] == 0
    r = fit(df, diverged_above=1.3, n_boot=0)
    assert r.input["diverged"] == int((df["loss"] > 4).sum())
    assert not any(n.startswith("blow-up rule") for n in r.notes)
    with pytest.raises(ScalefitInputError, match="blowup"):
        fit(df, blowup=0.9, n_boot=0)


def test_blowup_rule_leaves_healthy_walls_alone():
    # synthetic example: walls up to 1.18 x the best within the grid, NaN divergences
    r = fit(EXAMPLE, by="parameterization", n_boot=0)
    assert r.input["marked_diverged"] == 0 and (r.optima["status"] == "ok").all()


# ------------------------------------------------------------------ 2. no replicates


def no_replicates(seed=1):
    return make_sweeps(scales=(1e8, 3e8, 1e9, 3e9), horizons=(2e10,), n_lrs=3, seeds=1,
                       noise=0.003, seed=seed)


def test_no_replicates_means_no_interval_anywhere(tmp_path):
    r = fit(no_replicates())
    o = r.optima
    assert (o["status"] == "ok").all() and (o["boot_kind"] == "none").all()
    assert o["lr_opt_lo"].isna().all()
    law = r.law()
    assert law.ci == {"C": None, "a": None} and law.boot is None
    assert any(n.startswith("no interval") for n in law.notes)
    p = r.predict(scale=1e10, horizon=2e10)
    assert p["lr_ci"] is None and p["lr_pi"] is None
    a = r.audit(3e-7, scale=1e10, horizon=2e10)
    assert a["penalty_ci"] is None and a["lr_ci"] is None
    assert "no intervals" in str(p) and "add seeds or LRs" in str(p)
    path = tmp_path / "fit.json"
    r.save(path)
    d = json.loads(path.read_text())
    assert all(x["lr_opt_ci"] is None for x in d["optima"])
    assert scalefit.load_fit(path).predict(scale=1e10, horizon=2e10)["lr_ci"] is None


# ------------------------------------------------------------------ 3. noise across groups


def two_groups():
    law = TrueLaw(C=0.02, a=-0.3, b=-0.2)
    kw = dict(scales=(1e8, 3e8, 1e9), horizons=(2e10, 4e10, 8e10), n_lrs=7, seeds=2)
    a = make_sweeps(noise=0.002, groups={"A": law}, seed=5, **kw)
    b = make_sweeps(noise=0.05, groups={"B": law}, seed=6, **kw)
    return a, b


def test_group_intervals_do_not_change_when_another_group_is_added():
    a, b = two_groups()
    alone = fit(a, by="parameterization")
    both = fit(pd.concat([a, b]), by="parameterization")
    g = {"parameterization": "A"}
    assert alone.law("lr_opt", g).ci == both.law("lr_opt", g).ci
    oa = alone.optima
    ob = both.optima[both.optima["parameterization"] == "A"].reset_index(drop=True)
    for col in ("lr_opt_lo", "lr_opt_hi", "curvature_lo", "curvature_hi"):
        np.testing.assert_array_equal(oa[col].to_numpy(), ob[col].to_numpy())
    # and group B's noise is ten times A's: its interval of b is much wider
    wa = np.diff(both.law("lr_opt", g).ci["b"])[0]
    wb = np.diff(both.law("lr_opt", {"parameterization": "B"}).ci["b"])[0]
    assert wb > 3 * wa


def test_parametric_noise_comes_from_the_same_group_only():
    # group A: one run at each of 3 LRs (no noise of its own); group B has replicates
    a = no_replicates().assign(parameterization="A")
    b = make_sweeps(scales=(1e8, 3e8, 1e9), horizons=(2e10,), n_lrs=7, seeds=2, noise=0.05,
                    groups={"B": TrueLaw()}, seed=2)
    r = fit(pd.concat([a, b]), by="parameterization")
    oa = r.optima[r.optima["parameterization"] == "A"]
    assert (oa["boot_kind"] == "none").all() and oa["lr_opt_lo"].isna().all()
    assert r.law("lr_opt", {"parameterization": "A"}).ci["a"] is None
    assert r.law("lr_opt", {"parameterization": "B"}).ci["a"] is not None
    # with a replicated sweep in group A, A's exact sweeps borrow A's noise, labelled so
    extra = make_sweeps(scales=(3e9,), horizons=(2e10,), n_lrs=7, seeds=2, noise=0.003,
                        seed=9).assign(parameterization="A", horizon=2e10)
    r2 = fit(pd.concat([a[a["scale"] < 3e9], extra, b]), by="parameterization")
    kinds = r2.optima.query("parameterization == 'A'")["boot_kind"]
    assert (kinds.iloc[:3] == "parametric (noise of 1 sweeps of the same group)").all()
    assert any("their own group (parameterization=A: s.d." in n for n in r2.notes)


# ------------------------------------------------------------------ 4. missing variables


def one_scale():
    return make_sweeps(scales=(1.2e8,), horizons=(2.5e9, 5e9, 1e10, 2e10), n_lrs=9, seeds=2,
                       noise=0.003, diverge_above=1.2, seed=2)


def test_law_at_one_scale_warns_when_asked_at_another(tmp_path):
    r = fit(one_scale())
    law = r.law()
    assert law.variables == ("horizon",) and law.domain["scale"] == (1.2e8, 1.2e8)
    for scale in (1.2e9, 1e12):
        with pytest.warns(ExtrapolationWarning, match="fitted at scale 1.2e\\+08 only"):
            p = r.predict(scale=scale, horizon=1e10)
        assert "assumes it does not" in str(p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = r.predict(horizon=1e10)  # holds the fitted scale: said, not warned
    assert "note: the law was fitted at scale 1.2e+08 only" in str(p)
    path = tmp_path / "fit.json"
    r.save(path)
    with pytest.warns(ExtrapolationWarning):
        scalefit.load_fit(path).predict(scale=1e12, horizon=1e10)


def test_audit_gives_no_penalty_where_runs_diverged_or_were_never_tried():
    r = fit(one_scale())
    lr = r.predict(horizon=1e10)["lr"]
    rng = r.law().audit_range
    assert 2 < rng["ratio_diverged"] < 4.5
    near = r.audit(lr * 2, horizon=1e10)
    assert near["penalty"] > 0 and near["penalty_reason"] is None
    for factor in (rng["ratio_diverged"] * 1.01, 39.0):
        a = r.audit(lr * factor, horizon=1e10)
        assert a["penalty"] is None and a["penalty_ci"] is None
        assert "diverged in the data" in a["penalty_reason"]
        assert "no penalty: runs at x" in str(a)
    low = r.audit(lr * rng["ratio_tried"][0] / 3, horizon=1e10)
    assert low["penalty"] is None and "no run this far" in low["penalty_reason"]


def test_transfer_says_when_b_comes_from_one_scale():
    with pytest.warns(ExtrapolationWarning, match="fitted at scale 1.2e\\+08 only"):
        fit(one_scale()).transfer(1e-3, 1e10, 2e10)


# ------------------------------------------------------------------ 5. pooled numeric column


def test_numeric_column_varying_within_sweeps_warns():
    frames = []
    for bs, law in ((32, TrueLaw(C=0.02)), (256, TrueLaw(C=0.06))):
        frames.append(make_sweeps(scales=(1e8, 3e8, 1e9), horizons=(1e10,), n_lrs=7, seeds=2,
                                  law=law, seed=bs).assign(bs=bs))
    df = pd.concat(frames, ignore_index=True).drop(columns="lr_true")
    df["steps"] = np.arange(len(df)) % 7  # a measurement: not warned about
    df["lr_x2"] = df["lr"] * 2  # one value per LR: derived from it
    r = fit(df, n_boot=0)
    (hint,) = r.warnings
    assert hint.startswith("column 'bs' (2 values: 32, 256) varies within sweeps")
    assert "add --by bs" in hint
    assert fit(df, by="bs", n_boot=0).warnings == ()


# ------------------------------------------------------------------ 6. heavy tails


def test_optimum_interval_is_open_ended_beyond_the_tried_lrs(tmp_path):
    rng = np.random.default_rng(0)
    lrs = np.repeat(2.0 ** np.arange(-9, -3), 2)
    # a flat valley whose noisy minimum sits near the top of the grid
    loss = 3 + 0.004 * (np.log(lrs) - np.log(2.0**-4.6)) ** 2 + rng.normal(0, 0.003, lrs.size)
    r = fit(pd.DataFrame({"lr": lrs, "loss": loss}), n_boot=300)
    o = r.optima.iloc[0]
    assert o["status"] == "ok" and o["lr_opt_ci_open"] in ("high", "both")
    assert np.isnan(o["lr_opt_hi"])
    assert "> 0.0625]" in str(r.summary())
    d = r.to_dict()["optima"][0]
    assert d["lr_opt_ci"][1] is None and d["lr_opt_ci_open"] == o["lr_opt_ci_open"]
    assert validate(r.to_dict()) == []
    path = tmp_path / "f.json"
    r.save(path)
    assert scalefit.load_fit(path).optima["lr_opt_ci_open"].iloc[0] == o["lr_opt_ci_open"]
    # the laws' draws are clamped to the tried LRs
    x = r.boot.x_law[:, 0]
    assert np.nanmax(x) <= np.log(2.0**-4) + 1e-12 and np.nanmax(r.boot.x_opt[:, 0]) > np.log(
        2.0**-4)


# ------------------------------------------------------------------ 7. bracketed by divergence


def test_divergence_brackets_an_optimum():
    lrs = [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]
    df = pd.DataFrame({"scale": 1e8, "lr": lrs, "loss": [3.2, 3.1, 3.05, np.nan, np.nan]})
    two = pd.DataFrame({"scale": 2e8, "lr": lrs[1:4], "loss": [3.0, 2.95, np.nan]})
    r = fit(pd.concat([df, two]), n_boot=0)
    o = r.optima.set_index("scale")
    assert (o["status"] == "div_bracketed").all()
    for s in (1e8, 2e8):
        np.testing.assert_allclose(o.loc[s, ["lr_opt", "lr_opt_lo", "lr_opt_hi"]].to_numpy(float),
                                   [4e-3, 2e-3, 8e-3], rtol=1e-12)
    assert np.isnan(o.loc[1e8, "curvature"])
    assert any("div_bracketed" in n and "do not enter the laws" in n for n in r.notes)
    # without the diverged run above, the same sweep is only an edge
    assert fit(df.dropna(), n_boot=0).optima["status"].iloc[0] == "edge"


def test_bracketed_optima_enter_laws_when_asked_with_the_bracket_as_noise():
    frames = []
    for i, s in enumerate([1e8, 3e8, 1e9, 3e9]):
        opt = 8e-3 * 2.0 ** -i
        lrs = opt * 2.0 ** np.arange(-3, 2)
        loss = 3 - 0.1 * i + 0.05 * np.log(lrs / opt) ** 2
        loss[-1] = np.nan  # the run above the optimum diverged
        frames.append(pd.DataFrame({"scale": s, "lr": lrs, "loss": loss}))
    df = pd.concat(frames)
    assert fit(df).law() is None  # div_bracketed sweeps stay out by default
    r = fit(df, include=("ok", "div_bracketed"))
    law = r.law()
    assert law.n_points == 4 and law.ci["a"] is not None
    assert law.params["a"] == pytest.approx(-np.log(2) / np.log(3), rel=0.05)
    assert any("they enter the laws (included)" in n for n in r.notes)


def test_single_lr_sweeps_never_enter_laws():
    rows = [dict(scale=s, lr=1e-3 * f, loss=3.0) for s, f in ((1e8, 1), (2e8, 2), (4e8, 4))]
    r = fit(pd.DataFrame(rows), include=("ok", "too_few"), n_boot=0)
    assert r.law() is None
    assert any("single LR" in n for n in r.notes)


# ------------------------------------------------------------------ 8. unfinished runs


def test_unknown_statuses_are_excluded_counted_and_named(tmp_path):
    df = make_sweeps(scales=(1e8, 3e8, 1e9), horizons=(1e10,), n_lrs=7, seeds=2, seed=3)
    df["state"] = "finished"
    clean = fit(df, n_boot=0)
    partial = df.iloc[[5, 6, 20]].assign(loss=lambda d: d["loss"] + 0.8,
                                         state=["running", "running", "killed"])
    messy = pd.concat([df, partial], ignore_index=True)
    r = fit(messy, n_boot=0)
    assert r.input["excluded"] == 3 and r.input["excluded_status"] == {"running": 2, "killed": 1}
    note = next(n for n in r.notes if "excluded as unfinished" in n)
    assert note.startswith("3 runs excluded as unfinished (status running: 2, killed: 1)")
    assert "--status-ok" in note
    np.testing.assert_allclose(r.optima["curvature"], clean.optima["curvature"], rtol=1e-12)
    kept = fit(messy, n_boot=0, status_ok=("running", "killed"))
    assert kept.input["excluded"] == 0
    assert not np.allclose(kept.optima["curvature"], clean.optima["curvature"])
    # failed/crashed runs are not divergences any more
    p = tmp_path / "r.csv"
    messy.assign(state=messy["state"].replace({"killed": "crashed"})).to_csv(p, index=False)
    assert scalefit.load_runs(p).n_diverged == 0


def test_copied_runs_are_named():
    df = make_sweeps(scales=(1e8, 3e8, 1e9), horizons=(1e10,), n_lrs=7, seeds=1, seed=4)
    copies = pd.concat([df, df[df["scale"] == 1e8].iloc[2:5]], ignore_index=True)
    assert not any("repeat another run" in n for n in fit(df, n_boot=0).notes)
    # exact copies of a row are counted once, with one warning naming them
    once = fit(copies, n_boot=0)
    assert once.input["duplicates"] == 3 and once.input["rows"] == len(copies)
    assert any("3 rows repeat an earlier row exactly (rows 22, 23, 24)" in w
               for w in once.warnings)
    assert not any("repeat another run" in n for n in once.notes)
    kept = fit(copies, n_boot=0, keep_duplicates=True)
    note = next(n for n in kept.notes if "repeat another run" in n)
    assert note.startswith("3 run(s) in 1 sweep(s) repeat another run exactly")


# ------------------------------------------------------------------ 9. tables of optima

BJORCK_125M = pd.DataFrame({
    "model": "125M", "N": 1.25e8, "tokens": np.array([25, 50, 100, 200, 400, 800]) * 1e9,
    "lr_star": [1.34e-3, 1.02e-3, 6.60e-4, 4.12e-4, 2.51e-4, 1.98e-4]})


def test_bjorck_table_of_optima_gives_its_horizon_exponent(tmp_path):
    r = fit(BJORCK_125M)
    law = r.law()
    assert r.input["kind"] == "optima" and law.variables == ("horizon",)
    assert law.params["b"] == pytest.approx(-0.587, abs=5e-4)
    assert law.ci["b"] is None  # the table carries no uncertainty
    assert any("point estimates only" in n for n in r.notes)
    assert validate(r.to_dict()) == []
    path = tmp_path / "optima.csv"
    BJORCK_125M.rename(columns={"lr_star": "best_lr"}).to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "scalefit", "fit", str(path), "-q"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "b = -0.587" in out.stdout and "a table of optima" in out.stdout


def test_optima_with_intervals_or_replicates_give_law_intervals():
    d = BJORCK_125M.rename(columns={"lr_star": "lr_opt"})
    with_ci = fit(d.assign(lr_opt_lo=d["lr_opt"] / 1.25, lr_opt_hi=d["lr_opt"] * 1.25))
    lo, hi = with_ci.law().ci["b"]
    assert lo < -0.587 < hi and hi - lo < 0.3
    reps = pd.concat([d.assign(lr_opt=d["lr_opt"] * f) for f in (0.9, 1.0, 1.1)])
    r = fit(reps)
    assert r.law().params["b"] == pytest.approx(-0.587, abs=5e-4)
    assert r.law().ci["b"] is not None and (r.optima["n_runs"] == 3).all()
    with pytest.raises(ScalefitInputError, match="does not hold the optimum"):
        fit(d.assign(lr_opt_lo=d["lr_opt"] * 2, lr_opt_hi=d["lr_opt"] * 3))


# ------------------------------------------------------------------ 10. small items


def test_law_constant_that_underflows_keeps_ln_c(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for s in (1e8, 3e8, 1e9):
        for d, f in ((1e10, 1.0), (1.01e10, 1.5)):  # horizons 1% apart: b ~ +40
            opt = 1e-3 * f * (s / 1e8) ** -0.3
            for lr in opt * 2.0 ** (np.arange(7) - 3 + rng.uniform(-0.4, 0.4)):
                rows += [dict(scale=s, horizon=d, lr=lr, seed=k,
                              loss=3 + 0.05 * np.log(lr / opt) ** 2 + rng.normal(0, 0.002))
                         for k in range(2)]
    r = fit(pd.DataFrame(rows), n_boot=50)
    law = r.law()
    assert law.params["C"] == 0.0 and law.log_C < -700
    assert "C = exp(" in str(law)
    p = r.predict(scale=3e8, horizon=1.005e10)
    assert 5e-4 < p["lr"] < 2e-3
    a = r.audit(1e-3, scale=3e8, horizon=1.005e10)
    assert np.isfinite(a["ratio"]) and a["penalty"] is not None
    path = tmp_path / "f.json"
    r.save(path)
    assert scalefit.load_fit(path).predict(scale=3e8, horizon=1.005e10)["lr"] == pytest.approx(
        p["lr"], rel=1e-12)


def test_timestamp_column_is_not_a_learning_rate(tmp_path):
    df = pd.DataFrame({"lr": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                       "loss": [3.0, 2.9, 3.1]})
    df.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ScalefitInputError, match="holds dates or times"):
        scalefit.load_runs(tmp_path / "t.parquet")
    with pytest.raises(ScalefitInputError, match="dates or times"):
        scalefit.load_runs(pd.DataFrame({"lr": [1e-3, 2e-3, 4e-3], "loss": [3, 2, 3],
                                         "N": pd.to_timedelta([1, 2, 3], unit="s")}), scale="N")


def test_one_column_cannot_play_two_roles():
    df = pd.DataFrame({"lr": [1e-3, 2e-3, 4e-3], "loss": [3.0, 2.9, 3.1]})
    with pytest.raises(ScalefitInputError, match="given for both scale and lr"):
        scalefit.load_runs(df, scale="lr", lr="lr")


def run_cli(*args, stdin=None, shell=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if shell:
        return subprocess.run(shell, shell=True, executable="/bin/bash", capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=180)
    return subprocess.run([sys.executable, "-m", "scalefit", *map(str, args)], input=stdin,
                          capture_output=True, cwd=ROOT, env=env, timeout=180)


HEAD = "60 sweeps (60 ok)"


@pytest.mark.parametrize("fmt", ["jsonl", "json", "tsv", "parquet"])
def test_stdin_honours_format(tmp_path, fmt):
    df = pd.read_csv(EXAMPLE)
    path = tmp_path / f"runs.{fmt}"
    {"jsonl": lambda: df.to_json(path, orient="records", lines=True),
     "json": lambda: df.to_json(path, orient="records"),
     "tsv": lambda: df.to_csv(path, sep="\t", index=False),
     "parquet": lambda: df.to_parquet(path)}[fmt]()
    out = run_cli("fit", "-", "--format", fmt, "--by", "parameterization", "--boot", 0, "-q",
                  stdin=path.read_bytes())
    assert out.returncode == 0, out.stderr
    assert HEAD in out.stdout.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="bash process substitution and FIFOs")
def test_streams_are_read_not_called_empty(tmp_path):
    py = f"{sys.executable} -m scalefit fit"
    args = "--by parameterization --boot 0 -q"
    fifo = tmp_path / "runs.fifo"
    os.mkfifo(fifo)
    for cmd in (f"{py} <(cat {EXAMPLE}) {args}", f"cat {EXAMPLE} | {py} /dev/stdin {args}",
                f"(cat {EXAMPLE} > {fifo} &); {py} {fifo} {args}"):
        out = run_cli(shell=cmd)
        assert out.returncode == 0 and HEAD in out.stdout, (cmd, out.stderr)
    out = run_cli(shell=f"printf '' | {py} /dev/stdin {args}")
    assert out.returncode == 2 and "the input is empty" in out.stderr


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-8-sig"])
def test_utf16_and_utf32_tables_are_read(tmp_path, encoding):
    path = tmp_path / "runs.csv"
    pd.read_csv(EXAMPLE).to_csv(path, index=False, encoding=encoding)
    r = fit(path, by="parameterization", n_boot=0)
    assert r.input["groups"] == 60 and (r.optima["status"] == "ok").all()


def test_undecodable_text_names_its_encoding(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfel\x00r\x00\xd8")  # UTF-16 with a truncated character
    with pytest.raises(ScalefitInputError, match="cannot decode as UTF-16-LE"):
        scalefit.load_runs(path)
    path.write_bytes(b"lr,loss\n1e-3,\xe9\n")
    with pytest.raises(ScalefitInputError, match="cannot decode as UTF-8"):
        scalefit.load_runs(path)


# ------------------------------------------------------------------ real data


def test_steplaw_pooled_without_by_warns_about_batch_size(datasets):
    r = fit(datasets / "steplaw" / "dense_lr_bs_loss.csv", n_boot=0)
    assert any(w.startswith("column 'bs' (") and "add --by bs" in w for w in r.warnings)
    ok_optima_are_honest(r)
    assert r.input["marked_diverged"] > 100  # blown-up runs logged with finite losses
    grouped = fit(datasets / "steplaw" / "dense_lr_bs_loss.csv", by="bs", n_boot=0)
    assert not any("'bs'" in w for w in grouped.warnings)
    assert (grouped.optima["status"] == "ok").sum() >= 140


def test_misfitting_coarse_sweeps_get_honest_statuses(datasets):
    path = datasets / "misfitting-scaling_laws" / "scaling_results_last_ckpt_only.csv"
    r = fit(path, scale="N_no_emb", horizon="train_tokens", lr="peak_lr")
    ok_optima_are_honest(r)
    o = r.optima
    counts = o["status"].value_counts()
    head = str(r.summary()).splitlines()[0]
    assert ", ".join(f"{counts[s]} {s}" for s in counts.index) in head
    # open-ended where the resampled optima run off the three LRs tried, never 1e13
    ok = o[o["status"] == "ok"]
    assert (ok["lr_opt_hi"].dropna() <= ok["lr_tried_hi"].max()).all()
    assert (ok["lr_opt_ci_open"] != "").any()
    assert validate(r.to_dict()) == []


def _with_checkpoints(seed=0):
    """Final rows of synthetic sweeps (step = total_steps = 1000) plus, for every run, two
    checkpoints before its schedule ended (steps 250 and 500, their tokens as the horizon,
    their loss higher): what a table of training histories with a tokens-seen column holds."""
    df = make_sweeps(n_lrs=7, seeds=1, seed=seed).drop(columns="lr_true")
    final = df.assign(current_steps=1000, total_steps=1000)
    mids = [df.assign(horizon=df["horizon"] * f, loss=df["loss"] + 0.3 * (1 - f),
                      current_steps=int(1000 * f), total_steps=1000) for f in (0.25, 0.5)]
    return final, pd.concat([final, *mids], ignore_index=True)


def test_checkpoints_before_the_schedule_ended_are_named():
    final, mixed = _with_checkpoints()
    res = scalefit.fit(mixed, n_boot=0, progress=None)
    (w,) = [w for w in res.warnings if "checkpoints taken before" in w]
    n_mid = int((mixed["current_steps"] < mixed["total_steps"]).sum())
    assert w.startswith(f"{n_mid} of {len(mixed)} rows") and "'current_steps' < 'total_steps'" in w
    assert f"rows {len(final) + 1}, {len(final) + 2}" in w and "scalefit curve" in w
    assert not any("checkpoints taken" in w
                   for w in scalefit.fit(final, n_boot=0, progress=None).warnings)
    # a progress fraction alone says the same; a fraction column is not a step count
    frac = mixed.drop(columns=["current_steps", "total_steps"]).assign(
        portion_steps_elapsed=mixed["current_steps"] / 1000)
    (w,) = [w for w in scalefit.fit(frac, n_boot=0, progress=None).warnings
            if "checkpoints taken" in w]
    assert "'portion_steps_elapsed' < 1" in w
    done = final.assign(portion_steps_elapsed=1.0)
    assert not any("checkpoints taken" in w
                   for w in scalefit.fit(done, n_boot=0, progress=None).warnings)
    # a count of something else below the total is no checkpoint (warmup, eval steps)
    other = final.drop(columns="current_steps").assign(warmup_steps=100, eval_steps=250)
    assert not any("checkpoints taken" in w
                   for w in scalefit.fit(other, n_boot=0, progress=None).warnings)
