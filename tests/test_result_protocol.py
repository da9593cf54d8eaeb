"""The result protocol: load_fit round trips, every group without `group`, conf_int at any
level, immutability, and results built complete (never mutated afterwards)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scalefit
from scalefit.synthetic import TrueLaw, make_sweeps

GROUPS = {"mup": TrueLaw(C=0.5, a=-0.05, b=-0.3), "sp": TrueLaw(C=50, a=-0.35, b=-0.3,
                                                                 kappa=0.2, L_inf=2.05)}


def table(groups=True, seed=3):
    return make_sweeps(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9, 4e9, 1.6e10), n_lrs=7,
                       seeds=2, groups=GROUPS if groups else None,
                       law=None if groups else GROUPS["sp"], diverge_above=1.8, seed=seed)


@pytest.fixture(scope="module")
def grouped():
    return scalefit.fit(table(), by=["parameterization"], n_boot=200, seed=4)


@pytest.fixture(scope="module")
def single():
    return scalefit.fit(table(groups=False), n_boot=200, seed=5)


def numbers(obj):
    """Every number in a JSON-like object, in order (None as NaN)."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k in sorted(x):
                walk(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out.append(float(x))
        elif x is None:
            out.append(np.nan)
    walk(obj)
    return np.array(out)


@pytest.mark.parametrize("which", ["grouped", "single"])
def test_load_fit_reproduces_predict_audit_transfer(which, request, tmp_path):
    res = request.getfixturevalue(which)
    path = tmp_path / "fit.json"
    res.save(path)
    back = scalefit.load_fit(path)
    assert isinstance(back, scalefit.FitResult) and back.origin == str(path)
    for scale, horizon in ((1e8, 2e9), (7e9, 1e12)):
        a, b = res.predict(scale, horizon), back.predict(scale, horizon)
        assert len(a) == len(b) == (2 if which == "grouped" else 1)
        np.testing.assert_allclose(numbers(b.to_dict(draws=True)["predictions"]),
                                   numbers(a.to_dict(draws=True)["predictions"]),
                                   rtol=1e-12, atol=0)
        a, b = res.audit(3e-4, scale, horizon), back.audit(3e-4, scale, horizon)
        np.testing.assert_allclose(numbers(b.to_dict(draws=True)["audits"]),
                                   numbers(a.to_dict(draws=True)["audits"]), rtol=1e-12, atol=0)
    with pytest.warns(scalefit.ExtrapolationWarning):
        a, b = res.transfer(1e-3, 1e9, 1e11), back.transfer(1e-3, 1e9, 1e11)
    np.testing.assert_allclose([r["lr_ci"] for r in b], [r["lr_ci"] for r in a], rtol=1e-12)
    # the summary of the loaded fit is the summary of the fit
    assert back.summary().to_text() == res.summary().to_text()
    assert back.summary(view="compare").to_text() == res.summary(view="compare").to_text()
    # and its JSON is the same JSON again
    assert json.loads(json.dumps(back.to_dict())) == json.loads(path.read_text())


def test_draws_are_saved_at_full_precision(grouped, tmp_path):
    d = grouped.to_dict()
    law = grouped.law("lr_opt", {"parameterization": "sp"})
    saved = next(x for x in d["laws"] if x["primary"] and x["target"] == "lr_opt"
                 and x["group"] == {"parameterization": "sp"})
    draws = np.array([[np.nan if v is None else v for v in r] for r in saved["draws"]])
    np.testing.assert_array_equal(draws, law.boot)  # bit for bit, NaN rows kept
    assert d["schema_version"] == 2


def test_without_group_every_group(grouped):
    laws = grouped.law("lr_opt")
    assert isinstance(laws, list) and len(laws) == 2
    assert {law.group["parameterization"] for law in laws} == {"mup", "sp"}
    assert grouped.law("lr_opt", {"parameterization": "mup"}).group == {"parameterization": "mup"}
    p = grouped.predict(scale=1e8, horizon=2e9)
    a = grouped.audit(3e-4, scale=1e8, horizon=2e9)
    for res in (p, a):
        assert [r["group"]["parameterization"] for r in res.rows] == ["mup", "sp"]
    one = grouped.predict(scale=1e8, horizon=2e9, group={"parameterization": "sp"})
    assert len(one) == 1 and one["lr"] == p.rows[1]["lr"]
    with pytest.raises(KeyError, match="2 groups"):
        p["lr"]
    tq = grouped.quality
    assert set(tq.params) == {"mup", "sp"}


def test_conf_int_at_any_level(grouped, tmp_path):
    law = grouped.law("lr_opt", {"parameterization": "mup"})
    at95, at80 = law.conf_int(), law.conf_int(0.8)
    assert at95["a"] == tuple(law.ci["a"])
    assert at80["a"][0] > at95["a"][0] and at80["a"][1] < at95["a"][1]
    p = grouped.predict(scale=1e8, horizon=2e9)
    wide, narrow = p.conf_int(0.99)["mup"]["lr_ci"], p.conf_int(0.5)["mup"]["lr_ci"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]
    assert grouped.conf_int(0.9).keys() == grouped.params.keys()
    # without draws only the fit's level exists
    grouped.save(tmp_path / "nodraws.json", draws=False)
    bare = scalefit.load_fit(tmp_path / "nodraws.json")
    assert bare.law("lr_opt", {"parameterization": "mup"}).conf_int()["a"] == at95["a"]
    with pytest.raises(ValueError, match="no bootstrap draws"):
        bare.law("lr_opt", {"parameterization": "mup"}).conf_int(0.8)
    assert bare.predict(scale=1e8, horizon=2e9).rows[0]["lr_ci"] is None


def test_chinchilla_result_round_trip_and_levels():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e9, 8).repeat(3)
    d = np.tile([1e9, 4e9, 1.6e10], 8)
    loss = (1.8 + 400 * n ** -0.33 + 2000 * d ** -0.35) * np.exp(rng.normal(0, 0.005, n.size))
    r = scalefit.fit_chinchilla(n, d, loss, n_boot=40, n_refine=3, progress=None)
    back = scalefit.ChinchillaResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.params == r.params and back.conf_int() == r.conf_int()
    np.testing.assert_array_equal(back.boot_params, r.boot_params)
    lo80, lo95 = r.conf_int(0.8)["alpha"][0], r.conf_int()["alpha"][0]
    assert lo80 > lo95
    assert str(back.summary()) == str(r.summary())


def test_results_are_immutable(grouped):
    with pytest.raises(AttributeError):
        grouped.notes = ()
    with pytest.raises(TypeError):
        grouped.input["source"] = "x"
    law = grouped.laws[0]
    with pytest.raises(AttributeError):
        law.primary = False
    with pytest.raises(TypeError):
        law.params["C"] = 1.0
    with pytest.raises(ValueError):
        law.boot[0, 0] = 1.0
    opt = grouped.optima
    opt.loc[:, "lr_opt"] = 0.0  # a copy: the result is unchanged
    assert (grouped.optima["lr_opt"] > 0).all()
    assert "_g" not in grouped.optima.columns
    p = grouped.predict(scale=1e8, horizon=2e9)
    with pytest.raises(TypeError):
        p.rows[0]["lr"] = 1.0


def test_optima_rows_are_bootstrap_columns(grouped):
    opt = grouped.optima
    assert list(opt.index) == list(range(len(opt)))
    assert grouped.boot.x_opt.shape[1] == len(opt)
    ok = (opt["status"] == "ok").to_numpy()
    lo = np.exp(np.nanpercentile(grouped.boot.x_opt[:, ok], 2.5, axis=0))
    # the fit made lr_opt_lo from the float64 draws; it keeps them as float32 deviations
    # from each sweep's optimum (within 2^-24 of the deviation): 1.4e-9 apart here
    np.testing.assert_allclose(lo, opt.loc[ok, "lr_opt_lo"], rtol=1e-7)
