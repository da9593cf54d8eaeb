"""``save(path)`` on every persisted result and ``scalefit.load(path)``: each kind round
trips (the same JSON again, the same summary), a file of another kind or of no kind is one
ScalefitInputError naming the file."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import ScalefitInputError
from scalefit.synthetic import TrueLaw, make_isoflop, make_sweeps


def _sweeps():
    return make_sweeps(scales=(1e7, 4e7, 1.6e8, 6.4e8), horizons=(1e9, 4e9), n_lrs=7,
                       seeds=1, law=TrueLaw(a=-0.3, b=-0.2), noise=0.004, seed=2)


def _curve_table():
    from scalefit.core.curve_data import curve_data
    from scalefit.core.curve_laws import MPL
    from scalefit.core.schedules import build_schedule
    from scalefit.schedule_spec import parse_schedule

    law, rows = MPL(), []
    truth = np.array([3.04, 0.52, 0.51, 364.0, 2.07, 0.58, 0.64])
    for name, text in {"cos": "cosine:total=3000,warmup=200,peak=3e-4,end=3e-5",
                       "const": "constant:total=3000,warmup=200,peak=3e-4"}.items():
        eta = build_schedule(parse_schedule(text))
        steps = np.arange(256, eta.size, 64)
        y = law.predict(law.to_theta(truth), curve_data([eta], [steps]))[0]
        rows.append(pd.DataFrame({"run": name, "step": steps, "lr": eta[steps], "loss": y,
                                  "schedule": text}))
    return pd.concat(rows, ignore_index=True)


def _chinchilla():
    rng = np.random.default_rng(1)
    n = np.geomspace(1e7, 1e9, 6).repeat(3)
    d = np.tile([1e9, 4e9, 1.6e10], 6)
    loss = (1.8 + 400 * n ** -0.33 + 2000 * d ** -0.35) * np.exp(rng.normal(0, 0.005, n.size))
    return scalefit.fit_chinchilla(n, d, loss, n_boot=20, n_refine=3, progress=None)


@pytest.fixture(scope="module")
def results():
    fit = scalefit.fit(_sweeps(), n_boot=30, seed=1, progress=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "fit": fit,
            "chinchilla": _chinchilla(),
            "isoflop": scalefit.fit_isoflop(make_isoflop(seed=1), n_boot=30, progress=None),
            "curve": scalefit.fit_curves(_curve_table(), n_boot=0, progress=None),
            "backtest": fit.backtest(axis="scale", levels=1),
            "next": fit.next_runs(3, cost="runs"),
        }


KINDS = ["fit", "chinchilla", "isoflop", "curve", "backtest", "next"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_result_saves_and_loads_back_as_itself(results, kind, tmp_path):
    res = results[kind]
    path = tmp_path / f"{kind}.json"
    assert res.save(path) is not None and path.exists()
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temporary left
    back = scalefit.load(path)
    assert type(back) is type(res)
    assert json.loads(json.dumps(back.to_dict())) == json.loads(path.read_text())
    assert str(back) == str(res)
    assert type(scalefit.load(path, kind=kind)) is type(res)


@pytest.mark.parametrize("kind,other", [("fit", "chinchilla"), ("isoflop", "fit"),
                                        ("next", "backtest"), ("curve", "isoflop")])
def test_a_file_of_another_kind_is_one_line_naming_the_file(results, kind, other, tmp_path):
    path = tmp_path / f"{kind}.json"
    results[kind].save(path)
    with pytest.raises(ScalefitInputError) as e:
        scalefit.load(path, kind=other)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg and f"scalefit {kind} " in msg, msg


@pytest.mark.parametrize("obj,needle", [
    ({"kind": "fitt"}, "its \"kind\" is 'fitt'"),
    ({"a": 1}, "no kind and none of the keys"),
    ([1, 2], "no kind"),
])
def test_a_file_of_no_known_kind_is_refused(tmp_path, obj, needle):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ScalefitInputError, match="not a saved scalefit result") as e:
        scalefit.load(path)
    assert str(e.value).startswith(f"{path}: ") and needle in str(e.value)


def test_a_malformed_result_of_a_known_kind_names_the_file(results, tmp_path):
    d = results["backtest"].to_dict()
    del d["points"]
    path = tmp_path / "bt.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ScalefitInputError, match=rf"^{path}: .*points"):
        scalefit.load(path)
    with pytest.raises(ValueError, match="kind must be one of"):
        scalefit.load(path, kind="bogus")
    with pytest.raises(ScalefitInputError, match="no such file"):
        scalefit.load(tmp_path / "missing.json")
