"""A fit's memory at a million runs (issue 29 item 3), checked on small tables: the sweeps
resampled in blocks of whole ``by`` groups give the numbers of one pass, conditional and
loss laws keep their draws only on request, and the resamples the result keeps compactly
were used in float64 for every interval."""

import math

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import estimate
from scalefit.core.bootstrap import bootstrap_sweeps, percentile_ci
from scalefit.core.laws import LawFit
from scalefit.core.resamples import CompactDraws
from scalefit.laws import without_draws

SCALES = np.geomspace(1e7, 1e9, 5)
HORIZONS = np.geomspace(1e9, 1.6e10, 3)


def _table(families: int = 6, seed: int = 0) -> pd.DataFrame:
    """families x 5 scales x 3 horizons sweeps of 6 LRs x 2 seeds (the memory benchmark's
    table, smaller); family 2's largest scale has one seed only at one LR (a sweep with
    a parametric resample is not needed: every group has replicates)."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(families):
        for s in SCALES:
            for d in HORIZONS:
                x_star = (np.log(0.5) - 0.2 * np.log(s / 1e8) - 0.3 * np.log(d / 1e10)
                          + rng.normal(0, 0.05))
                centre = x_star + rng.uniform(-0.5, 0.5) * np.log(2.0)
                for x in centre + (np.arange(6) - 2.5) * np.log(2.0):
                    for seed_ in (0, 1):
                        loss = (2.0 + 0.5 * (s / 1e8) ** -0.1 + 0.02 * (x - x_star) ** 2
                                + f * 0.002 + rng.normal(0, 0.005))
                        rows.append(dict(family=f, scale=s, horizon=d, lr=np.exp(x),
                                         loss=loss, seed=seed_))
    return pd.DataFrame(rows)


TABLE = _table()


def _fit(block_runs=None, monkeypatch=None, **kw):
    if block_runs is not None:
        monkeypatch.setattr(estimate, "_BLOCK_RUNS", block_runs)
    kw = {"by": "family", "n_boot": 40, "seed": 3, "progress": None, **kw}
    return scalefit.fit(TABLE, **kw)


def _numbers(r) -> dict:
    out = {"dict": r.to_dict(draws=True),
           "text": r.summary(conditional=True).to_text(),
           "compare": r.summary(view="compare").to_text(),
           "law_draws": [None if law.boot is None else np.asarray(law.boot) for law in r.laws]}
    for k in ("x_opt", "loss_opt", "curvature", "x_law", "x_best"):
        out[k] = getattr(r.boot, k)
    return out


def _differences(x, y, path="", out=None) -> list:
    """(path, relative difference) of every number of two JSON-like values that differ
    (a path with None: they differ otherwise)."""
    out = [] if out is None else out
    if isinstance(x, dict):
        if list(x) != list(y):
            out.append((path, None))
        else:
            for k in x:
                _differences(x[k], y[k], f"{path}.{k}", out)
    elif isinstance(x, (list, tuple)):
        if len(x) != len(y):
            out.append((path, None))
        else:
            for i, (u, v) in enumerate(zip(x, y)):
                _differences(u, v, f"{path}[{i}]", out)
    elif isinstance(x, float) and isinstance(y, float):
        if not (x == y or (math.isnan(x) and math.isnan(y))):
            out.append((path, abs(x - y) / max(abs(x), abs(y))))
    elif x != y:
        out.append((path, None))
    return out


@pytest.mark.parametrize("reference", [None, 0, 5])
def test_blocks_of_groups_give_the_numbers_of_one_pass(monkeypatch, reference):
    """One group per block (the reference's series resampled on its own before the first
    group is measured when it is in a later block): every resample, optimum and interval
    as one pass gives them, to the bit; the laws and transfer measures to rounding (the
    laws of a block are solved together, one pass solves more of them at once: BLAS may
    round their last bits differently), and every printed line the same."""
    one = _numbers(_fit(keep_draws=True, reference=reference))
    calls = []
    real = estimate._block_boot
    monkeypatch.setattr(estimate, "_block_boot",
                        lambda ss, cols, *a: calls.append(cols) or real(ss, cols, *a))
    blocks = _numbers(_fit(200, monkeypatch, keep_draws=True, reference=reference))
    # a block per family, and the reference's series on its own when it is not in the first
    assert len(calls) == 6 + (reference == 5) and all(c is not None for c in calls)
    for k in ("x_opt", "loss_opt", "curvature", "x_law", "x_best"):
        np.testing.assert_array_equal(one[k], blocks[k], err_msg=k)
    a, b = one["dict"], blocks["dict"]
    assert a["optima"] == b["optima"]  # intervals included, to the bit
    diffs = _differences(a, b)
    assert all(rel is not None for _, rel in diffs), [d for d in diffs if d[1] is None][:3]
    assert max((rel for _, rel in diffs), default=0.0) < 1e-9  # the reference tests' REL
    assert len(one["law_draws"]) == len(blocks["law_draws"])
    for x, y in zip(one["law_draws"], blocks["law_draws"]):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    ok = one["text"] == blocks["text"] and one["compare"] == blocks["compare"]
    assert ok  # (not compared by pytest's diff: the texts are long)


def test_conditional_and_loss_laws_keep_their_draws_only_on_request():
    kept, r = _fit(keep_draws=True), _fit()
    assert [law.primary for law in r.laws] == [law.primary for law in kept.laws]
    assert any(not law.primary for law in r.laws)
    for a, b in zip(r.laws, kept.laws):
        assert a.params == b.params and a.ci == b.ci and a.form == b.form
        assert b.boot is not None
        if a.primary:
            np.testing.assert_array_equal(a.boot, b.boot)
        else:
            assert a.boot is None
    # what the fit prints and writes (primary laws' draws only) is the same
    assert r.summary(conditional=True).to_text() == kept.summary(conditional=True).to_text()
    assert r.to_dict(draws=True) == kept.to_dict(draws=True)
    # readers of the primary laws' draws give the same numbers
    for a, b in ((r.predict(3e8, 4e9), kept.predict(3e8, 4e9)),
                 (r.audit(3e-3, 3e8, 4e9), kept.audit(3e-3, 3e8, 4e9))):
        assert a.to_dict() == b.to_dict()
    # a conditional law's interval at another level needs its draws: kept on request
    cond = [i for i, law in enumerate(r.laws) if not law.primary and law.target == "lr_opt"]
    assert kept.laws[cond[0]].conf_int(0.8)["a"] is not None
    assert r.laws[cond[0]].conf_int()["a"] == kept.laws[cond[0]].conf_int()["a"]
    with pytest.raises(ValueError, match="no bootstrap draws"):
        r.laws[cond[0]].conf_int(0.8)


def test_a_law_keeps_the_draws_its_summary_reads():
    draws = np.zeros((5, 2))
    base = dict(form="lr_opt = C * scale^a", variables=("scale",), group={}, params={},
                ci={}, r2_log=None, rmse_log=None, n_points=3, param_names=("C", "a"),
                boot=draws)
    assert without_draws(LawFit(target="lr_opt", log_C=1.0, **base)).boot is None
    assert without_draws(LawFit(target="lr_opt", log_C=1.0, primary=True, **base)).boot \
        is not None
    # a C that underflows is printed as exp of its draws' ln C percentiles
    assert without_draws(LawFit(target="lr_opt", log_C=-800.0, **base)).boot is not None
    assert without_draws(LawFit(target="loss_opt", **base)).boot is None


def test_compact_draws_read_back_within_float32_of_their_deviation():
    rng = np.random.default_rng(0)
    values = 2.0 + rng.normal(0, 0.01, (50, 4))
    values[3, 1] = np.nan
    centre = np.array([2.0, np.nan, 2.01, 1.99])
    c = CompactDraws.empty(50, 6)
    c.put([0, 2, 4, 5], values, centre)
    back = c.columns([0, 2, 4, 5])
    assert c.dev.dtype == np.float32 and c.shape == (50, 6)
    assert np.isnan(back[3, 1]) and np.isnan(values[3, 1])
    dev = np.abs(values - np.nan_to_num(centre))
    ok = np.isfinite(values)
    assert (np.abs(back - values)[ok] <= dev[ok] * 2.0**-24 + 1e-15).all()
    np.testing.assert_array_equal(c.full()[:, [0, 2, 4, 5]], back)


def test_the_fit_keeps_resamples_compactly_after_using_them_in_float64():
    r = _fit()
    ss, boot, opt = r.sweep_set, r.boot, r.optima
    assert all(boot.compact(k) for k in ("x_opt", "loss_opt", "curvature"))
    # the float64 resamples, as the fit drew them
    ref = bootstrap_sweeps(ss.sweeps, 40, 3, r.settings["window"], noise_sd=ss.plan["sd"])
    known = ss.plan["known"]
    ok = (opt["status"] == "ok").to_numpy()
    for name, col in (("loss_opt", "loss_opt"), ("curvature", "curvature"),
                      ("x_opt", None)):
        f64 = np.where(known, getattr(ref, name), np.nan)
        if col is not None:  # the intervals come from the float64 draws, to the bit
            lo_hi = percentile_ci(f64, 0.95)
            np.testing.assert_array_equal(opt[f"{col}_lo"], np.where(ok, lo_hi[0], np.nan))
            np.testing.assert_array_equal(opt[f"{col}_hi"], np.where(ok, lo_hi[1], np.nan))
        kept = getattr(boot, name)
        centre = getattr(ss.point, name)
        bound = np.abs(f64 - np.where(np.isfinite(centre), centre, 0.0)) * 2.0**-24 + 1e-15
        assert np.array_equal(np.isnan(kept), np.isnan(f64))
        fin = np.isfinite(f64)
        assert (np.abs(kept - f64)[fin] <= bound[fin]).all()
        np.testing.assert_array_equal(boot.columns(name, [4, 1]), kept[:, [4, 1]])
    np.testing.assert_array_equal(opt["boot_valid"], np.isfinite(np.where(known, ref.x_opt,
                                                                          np.nan)).mean(0))
