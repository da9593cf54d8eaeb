"""Invariances of the whole fit (point estimates and bootstrap intervals), by hypothesis."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.synthetic import TrueLaw, make_sweeps

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def table(seed: int) -> pd.DataFrame:
    groups = {"mup": TrueLaw(C=0.3, a=-0.1, b=-0.3), "sp": TrueLaw(C=3.0, a=-0.45, b=-0.3)}
    return make_sweeps(scales=(1e7, 4e7, 1.6e8), horizons=(1e9, 4e9), n_lrs=6, seeds=2,
                       noise=0.004, groups=groups, diverge_above=1.5, seed=seed)


def run(df: pd.DataFrame, **kw):
    return scalefit.fit(df, by=["parameterization"], n_boot=40, seed=3, **kw)


def numbers(result, drop_keys=()):
    """Every number of the JSON result except the named keys, in a canonical order."""
    d = result.to_dict()
    d["optima"] = sorted(d["optima"], key=lambda o: (str(o["group"]), o["scale"], o["horizon"]))
    out = []

    def walk(x, key=None):
        if key in drop_keys:
            return
        if isinstance(x, dict):
            for k in sorted(x):
                walk(x[k], k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out.append(float(x))
        elif x is None:
            out.append(np.nan)
    walk({k: d[k] for k in ("optima", "laws", "transfer")})
    return np.array(out)


@SETTINGS
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_invariant_to_row_order(seed, perm_seed):
    df = table(seed)
    shuffled = df.sample(frac=1.0, random_state=perm_seed).reset_index(drop=True)
    np.testing.assert_allclose(numbers(run(df)), numbers(run(shuffled)), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), log_factor=st.floats(-5, 5))
def test_lr_unit_changes_only_C_and_lrs(seed, log_factor):
    df = table(seed)
    factor = float(np.exp(log_factor))
    a, b = run(df), run(df.assign(lr=df["lr"] * factor))
    for col in ("lr_opt", "lr_opt_lo", "lr_opt_hi", "lr_best"):
        np.testing.assert_allclose(b.optima[col], a.optima[col] * factor, rtol=1e-8)
    for col in ("loss_opt", "curvature", "curvature_lo", "curvature_hi", "status"):
        pd.testing.assert_series_equal(a.optima[col], b.optima[col], rtol=1e-8)
    for la, lb in zip(a.laws, b.laws, strict=True):
        for name in la.params:
            scale = factor if (la.target == "lr_opt" and name == "C") else 1.0
            assert np.isclose(lb.params[name], la.params[name] * scale, rtol=1e-6, atol=1e-10)
            if la.ci[name] is not None:
                np.testing.assert_allclose(lb.ci[name], np.array(la.ci[name]) * scale,
                                           rtol=1e-6, atol=1e-10)
    keep = ("E", "kappa", "R_inf", "delta_L_inf")
    for ga, gb in zip(a.quality.groups, b.quality.groups, strict=True):
        for k in keep:
            assert (ga[k] is None and gb[k] is None) or np.isclose(ga[k], gb[k], rtol=1e-6,
                                                                   atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), n_extra=st.integers(1, 20), where=st.integers(0, 10_000))
def test_adding_diverged_rows_changes_only_diverged_counts(seed, n_extra, where):
    df = table(seed)
    rng = np.random.default_rng(where)
    extra = df.sample(n_extra, random_state=where).assign(loss=np.nan)
    extra["lr"] = extra["lr"] * np.exp(rng.uniform(0, 3, n_extra))  # new, higher LRs too
    more = pd.concat([df, extra], ignore_index=True)
    a, b = run(df), run(more)
    # where runs diverged (the lowest diverged LR above each optimum, and its ratio in the
    # laws' audit range) is diverged-run information too
    keys = ("n_diverged", "n_runs", "diverged", "rows", "lr_diverged", "ratio_diverged")
    np.testing.assert_allclose(numbers(a, keys), numbers(b, keys), rtol=1e-9, atol=1e-12)
    assert b.input["diverged"] == a.input["diverged"] + n_extra
    assert b.optima["n_diverged"].sum() == a.optima["n_diverged"].sum() + n_extra


@SETTINGS
@given(seed=st.integers(0, 10_000), names=st.lists(st.text(min_size=1, max_size=8),
                                                   min_size=2, max_size=2, unique=True))
def test_renaming_group_labels_changes_nothing_else(seed, names):
    df = table(seed)
    mapping = {"mup": names[0], "sp": names[1]}
    a = run(df, reference="mup")
    b = run(df.assign(parameterization=df["parameterization"].map(mapping)),
            reference=names[0])
    by_label = {o["group"]["parameterization"]: o for o in b.to_dict()["optima"]}
    for o in a.to_dict()["optima"]:
        ob = [x for x in b.to_dict()["optima"]
              if x["group"]["parameterization"] == mapping[o["group"]["parameterization"]]
              and x["scale"] == o["scale"] and x["horizon"] == o["horizon"]][0]
        for k in ("lr_opt", "lr_opt_ci", "curvature", "curvature_ci", "loss_opt", "status"):
            assert ob[k] == o[k], k
    assert len(by_label) == 2
    for la in a.laws:
        lb = b.law(la.target, {"parameterization": mapping[la.group["parameterization"]],
                               **{k: v for k, v in la.group.items() if k != "parameterization"}},
                   primary=la.primary)
        assert lb is not None
        assert lb.params == la.params and lb.ci == la.ci
