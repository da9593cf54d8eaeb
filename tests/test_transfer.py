"""Transfer quality (E, kappa, R_inf, delta_L_inf), horizon transfer, predict and audit."""

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import ExtrapolationWarning, ScalefitInputError, transfer
from scalefit.synthetic import TrueLaw, make_sweeps

SCALES = (1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8)
MUP = TrueLaw(C=0.02, a=-0.05, b=0.0, k0=0.04, kappa=0.0, L_inf=2.0, A=40.0, alpha_s=-0.3)
SP = TrueLaw(C=2.0, a=-0.4, b=0.0, k0=0.04, kappa=0.3, L_inf=2.0, A=40.0, alpha_s=-0.3,
             R_inf=0.03, R_r=0.08, R_rho=-0.5)
SP_EMB = TrueLaw(C=0.05, a=-0.1, b=0.0, k0=0.04, kappa=0.1, L_inf=2.06, A=40.0, alpha_s=-0.3)


def comparison_table():
    return make_sweeps(scales=SCALES, n_lrs=9, seeds=3, noise=0.001, tokens_per_param=20,
                       groups={"mup": MUP, "sp": SP, "sp_emb": SP_EMB}, diverge_above=2.5,
                       lr_scatter=0.0, seed=11)


@pytest.fixture(scope="module")
def comparison():
    return scalefit.fit(comparison_table(), by=["parameterization"], n_boot=400,
                        reference="mup", seed=2)


def group(res, label):
    return next(g for g in res.quality.groups if g["group"]["parameterization"] == label)


def covers(ci, truth):
    return ci is not None and ci[0] <= truth <= ci[1]


def test_fixed_tokens_per_param_is_detected_and_single_law_fitted(comparison):
    assert any("proportional to scale" in n for n in comparison.notes)
    law = comparison.law(group={"parameterization": "sp"})
    assert law.variables == ("scale",)
    assert law.params["a"] == pytest.approx(-0.4, abs=0.03)


def test_kappa_recovered_with_intervals(comparison):
    for label, truth in (("mup", 0.0), ("sp", 0.3), ("sp_emb", 0.1)):
        g = group(comparison, label)
        assert g["kappa"] == pytest.approx(truth, abs=0.06), label
        assert covers(g["kappa_ci"], truth), (label, g["kappa_ci"])
        assert g["lr_exponent"] == pytest.approx({"mup": -0.05, "sp": -0.4,
                                                  "sp_emb": -0.1}[label], abs=0.03)


def test_R_inf_recovered(comparison):
    g = group(comparison, "sp")
    assert g["R_model"] == "power"
    assert g["R_inf"] == pytest.approx(0.03, abs=0.01)
    assert covers(g["R_inf_ci"], 0.03), g["R_inf_ci"]
    assert group(comparison, "mup")["R_inf"] == 0.0


def test_delta_L_inf_recovered(comparison):
    g = group(comparison, "sp_emb")
    assert g["delta_L_inf"] == pytest.approx(0.06, abs=0.02)
    assert covers(g["delta_L_inf_ci"], 0.06), g["delta_L_inf_ci"]
    assert group(comparison, "mup")["delta_L_inf"] == 0.0


def test_E_recovers_known_scatter():
    """E estimates the scatter of optima around the law; the interval covers its realization."""
    df = make_sweeps(scales=SCALES, n_lrs=9, seeds=3, noise=0.001, tokens_per_param=20,
                     groups={"tight": MUP, "loose": MUP}, lr_scatter=0.0, seed=4)
    loose = df["parameterization"] == "loose"
    rng = np.random.default_rng(9)
    shift = dict(zip(SCALES, rng.normal(0, 0.2, len(SCALES)), strict=True))
    df.loc[loose, "lr"] *= np.exp(df.loc[loose, "scale"].map(shift))
    r = scalefit.fit(df, by=["parameterization"], n_boot=400, reference="tight")
    off = np.array([shift[s] for s in SCALES])
    ls = np.log(SCALES)
    X = np.column_stack([np.ones_like(ls), ls])
    resid = off - X @ np.linalg.lstsq(X, off, rcond=None)[0]
    realized = float(np.sqrt(np.mean(resid**2)))
    g_loose, g_tight = group(r, "loose"), group(r, "tight")
    assert covers(g_loose["E_ci"], realized), (g_loose["E_ci"], realized)
    assert g_loose["E"] == pytest.approx(realized, rel=0.2)
    assert g_tight["E"] < 0.03
    assert g_tight["extrapolation_error"] is not None


def test_quality_reads_the_laws_it_reports(comparison, monkeypatch):
    """E, the lr and curvature exponents, the extrapolation error and L_inf are the fit's
    laws' own numbers (issue #27 item 5): quality fits no law of its own when the fit has
    one on its points."""
    for g in comparison.quality.groups:
        key = dict(g["group"])
        lr = next(law for law in comparison.laws if law.target == "lr_opt"
                  and dict(law.group) == key)
        k = next(law for law in comparison.laws if law.target == "curvature"
                 and dict(law.group) == key)
        loss = next(law for law in comparison.laws if law.target == "loss_opt"
                    and dict(law.group) == key)
        assert g["lr_exponent"] == lr.params["a"] and g["E"] == lr.rmse_log
        assert g["lr_exponent_ci"] == list(lr.ci["a"])
        assert g["extrapolation_error"] == lr.extrapolation["error_log"]
        assert g["kappa"] == k.params["a"] and g["kappa_ci"] == list(k.ci["a"])
        assert g["L_inf_identified"] == loss.asymptote["identified"]
        if g["L_inf_identified"]:
            assert g["L_inf"] == loss.params["L_inf"]

    import scalefit.quality as quality

    def refit(*args, **kwargs):
        raise AssertionError("quality refitted a law the fit has")

    monkeypatch.setattr(quality, "power_laws", lambda specs: [refit() for _ in specs])
    monkeypatch.setattr(quality, "loss_laws", lambda items: [refit() for _ in items])
    again = scalefit.fit(comparison_table(), by=["parameterization"], n_boot=50,
                         reference="mup", seed=2)
    assert len(again.quality.groups) == 3


def test_default_reference_is_lowest_asymptote(comparison):
    df = make_sweeps(scales=SCALES, n_lrs=9, seeds=2, noise=0.001, tokens_per_param=20,
                     groups={"a": SP_EMB, "b": MUP}, seed=3)
    r = scalefit.fit(df, by=["parameterization"], n_boot=50)
    assert r.quality.reference == "b"
    with pytest.raises(ScalefitInputError, match="not a group"):
        scalefit.fit(df, by=["parameterization"], n_boot=0, reference="nope")


def test_transfer_rule_exact_arithmetic():
    t = transfer(3e-4, 1e9, 1e11, b=-0.32)
    assert t.lr == pytest.approx(3e-4 * 100 ** -0.32, rel=1e-12)
    assert t.b_source == "given" and t.lr_ci is None
    with pytest.raises(ScalefitInputError):
        transfer(-1, 1e9, 1e10, b=-0.3)
    with pytest.raises(ScalefitInputError, match="give the horizon exponent"):
        transfer(1e-3, 1e9, 1e10)


@pytest.fixture(scope="module")
def horizon_fit():
    tl = TrueLaw(C=0.5, a=-0.35, b=-0.3, k0=0.04, kappa=0.2)
    df = make_sweeps(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9, 4e9, 1.6e10), n_lrs=8,
                     seeds=2, noise=0.002, law=tl, seed=8)
    return tl, scalefit.fit(df, n_boot=300)


def test_transfer_from_fit_and_extrapolation_warning(horizon_fit):
    tl, r = horizon_fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = transfer(1e-3, 1e9, 8e9, fit=r)
    b = r.law().params["b"]
    assert t.b == b and t.lr == pytest.approx(1e-3 * 8 ** b, rel=1e-12)
    assert t.lr_ci[0] <= t.lr <= t.lr_ci[1]
    assert covers(t.b_ci, -0.3)
    with pytest.warns(ExtrapolationWarning, match="factor"):
        far = transfer(1e-3, 1e9, 1e12, fit=r)
    assert far.warnings


def test_predict_and_audit_on_known_laws(horizon_fit):
    tl, r = horizon_fit
    p = r.predict(scale=1e8, horizon=2e9)
    assert p["lr"] == pytest.approx(tl.lr_opt(1e8, 2e9), rel=0.05)
    assert p["lr_ci"][0] <= tl.lr_opt(1e8, 2e9) <= p["lr_ci"][1]
    assert p["extrapolation"] == []
    big = r.predict(scale=7e9, horizon=1e12)
    assert len(big["extrapolation"]) == 2 and "factor" in big["extrapolation"][0]
    lr_true = tl.lr_opt(1e8, 2e9)
    a = r.audit(lr_true * np.e, scale=1e8, horizon=2e9)  # one unit of ln lr too high
    k_true = float(tl.curvature(1e8))
    assert a["ratio"] == pytest.approx(np.e * lr_true / p["lr"], rel=1e-9)
    assert a["penalty"] == pytest.approx(k_true, rel=0.15)
    assert a["penalty_ci"][0] <= k_true <= a["penalty_ci"][1]
    exact = r.audit(p["lr"], scale=1e8, horizon=2e9)
    assert exact["penalty"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ScalefitInputError):
        r.audit(0.0, scale=1e8, horizon=2e9)
    with pytest.raises(ScalefitInputError, match="needs horizon"):
        r.predict(scale=1e8)


def test_regimes_are_groups_like_any_other():
    wd = {"wd0": TrueLaw(C=0.3, a=-0.3), "wd0.1": TrueLaw(C=0.2, a=-0.25)}
    df = make_sweeps(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9,), groups=wd,
                     group_column="weight_decay", seed=1)
    r = scalefit.fit(df, by=["weight_decay"], n_boot=100)
    assert {g["group"]["weight_decay"] for g in r.quality.groups} == {"wd0", "wd0.1"}
    assert r.law(group={"weight_decay": "wd0.1"}).params["a"] == pytest.approx(-0.25, abs=0.03)
    assert isinstance(r.quality.table(), pd.DataFrame)


def test_the_default_reference_is_chosen_by_measured_loss_not_a_fitted_asymptote():
    """Optimal loss falling with no sign of flattening over 4 scales (generated as
    -5 + 10 s^-0.03, positive on the data): the fitted asymptote is negative, which a
    positive loss cannot reach. The default reference is the group with the lowest
    optimal loss at the largest shared scale (a measurement), whatever the asymptotes."""
    rows = []
    for g, shift in (("a", 0.0), ("b", 0.05)):
        for s in (1e6, 4e6, 1.6e7, 6.4e7):
            for lr in np.geomspace(1e-3, 1.6e-2, 5):
                loss = -5.0 + 10.0 * s ** -0.03 + shift + 0.05 * np.log(lr / 4e-3) ** 2
                rows.append(dict(g=g, scale=s, horizon=20 * s, lr=lr, loss=loss))
    res = scalefit.fit(pd.DataFrame(rows), by=["g"], n_boot=0)
    law = res.law("loss_opt", {"g": "a"}, primary=False)
    assert law.params["L_inf"] < 0 and law.params["alpha"] < -0.01  # not at the flat end
    assert any("L_inf below 0" in n for n in law.notes)
    assert res.quality.reference == "a"  # b's loss is 0.05 higher at every scale
    assert any("lowest optimal loss at the largest scale" in n for n in res.quality.notes)
    flipped = pd.DataFrame(rows).assign(g=lambda d: d["g"].map({"a": "b", "b": "a"}))
    assert scalefit.fit(flipped, by=["g"], n_boot=0).quality.reference == "b"


def test_a_negative_beta_is_named_as_a_likely_sign_slip():
    import warnings

    from scalefit.results.decisions import transfer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = transfer(3e-3, 1e10, 1e12, beta=-0.32)
        transfer(3e-3, 1e10, 1e12, beta=0.32)
    assert len(caught) == 1
    assert "beta = -0.32 is negative, so the LR would rise" in str(caught[0].message)
    assert "did you mean --beta 0.32" in str(caught[0].message)
    assert t.rows[0]["lr"] > 3e-3


def test_without_a_scale_column_transfer_quality_says_it_is_not_measured():
    """A horizon-only table split by optimizer: every transfer measure compares groups
    across scale, so the section says why it is empty instead of a table of dashes."""
    df = make_sweeps(scales=(1e8,), horizons=(1e9, 4e9, 1.6e10, 6.4e10), seeds=1,
                     groups={"adam": MUP, "muon": SP}, seed=2).drop(columns=["scale", "lr_true"])
    res = scalefit.fit(df, by="parameterization", n_boot=100, progress=None)
    q = res.quality
    assert q.groups == () or list(q.groups) == []
    assert any("no scale column" in n for n in q.notes)
    text = str(res)
    assert "Transfer quality by parameterization\n" in text and "reference: None" not in text
    assert "not measured: the table has no scale column" in text
    assert scalefit.FitResult.from_dict(res.to_dict()).quality.notes == q.notes
