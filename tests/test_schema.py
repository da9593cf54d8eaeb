"""The JSON result follows the documented contract (DESIGN section 4, docs/json-schema.md)."""

import json

import pandas as pd

import scalefit
from scalefit.schema import SCHEMA, validate
from scalefit.synthetic import TrueLaw, make_sweeps


def test_full_result_validates_and_has_contract_keys():
    groups = {"mup": TrueLaw(a=-0.1), "sp": TrueLaw(a=-0.4, L_inf=2.05)}
    df = make_sweeps(scales=(1e7, 3e7, 1e8, 3e8), horizons=(1e9, 4e9), groups=groups,
                     diverge_above=1.8, seed=2)
    d = scalefit.fit(df, by=["parameterization"], n_boot=100, reference="mup").to_dict()
    assert validate(d) == []
    text = json.dumps(d, allow_nan=False)  # null, never NaN
    assert json.loads(text) == d
    o = d["optima"][0]
    for key in ("group", "scale", "horizon", "lr_opt", "lr_opt_ci", "loss_opt", "curvature",
                "curvature_ci", "status", "n_runs", "n_diverged"):
        assert key in o
    assert o["group"] == {"parameterization": "mup"}
    law = d["laws"][0]
    for key in ("group", "target", "form", "params", "ci", "r2_log", "rmse_log", "n_points"):
        assert key in law
    assert law["form"] == "lr_opt = C * scale^a * horizon^b"
    assert set(law["params"]) == {"C", "a", "b"}
    t = d["transfer"]
    assert t["reference"] == "mup" and t["by"] == ["parameterization"]
    for key in ("E", "E_ci", "extrapolation_error", "kappa", "kappa_ci", "R_inf", "R_inf_ci",
                "delta_L_inf", "delta_L_inf_ci"):
        assert key in t["groups"][0]


def test_nulls_where_values_do_not_exist():
    df = pd.DataFrame({"lr": [1e-3, 2e-3, 4e-3, 8e-3], "loss": [3.0, 2.9, 2.95, 3.2]})
    d = scalefit.fit(df, n_boot=0).to_dict()
    assert validate(d) == []
    o = d["optima"][0]
    assert o["scale"] is None and o["horizon"] is None and o["lr_opt_ci"] is None
    assert d["laws"] == [] and d["transfer"] is None


def test_validator_catches_violations():
    assert validate({"version": "x"})  # missing keys
    bad = {"version": "1", "input": {"rows": 1, "columns": {}, "diverged": 0}, "optima": [
        {"group": {}, "scale": None, "horizon": None, "lr_opt": float("nan"), "lr_opt_ci": [1],
         "loss_opt": None, "curvature": None, "curvature_ci": None, "status": "great",
         "n_runs": 1, "n_diverged": 0}], "laws": [], "transfer": None}
    problems = " ".join(validate(bad))
    assert "NaN" in problems and "fewer than 2" in problems and "great" in problems
    assert SCHEMA["required"] == ["version", "input", "optima", "laws", "transfer"]
