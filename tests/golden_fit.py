"""The calls whose results ``tests/data/fit_golden.json`` holds (written before the options
were stored once; ``test_options.py`` checks the same keywords still give the same
results). Public keywords only. Rewrite the file, after a deliberate change of results,
with ``python tests/golden_fit.py``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

import scalefit
from scalefit import next_runs
from scalefit.files import json_text
from scalefit.synthetic import TrueLaw, make_joint_sweeps, make_sweeps

GOLDEN = Path(__file__).resolve().parent / "data" / "fit_golden.json"


def results() -> dict:
    """name -> to_dict (JSON-ready, no draws) of each call."""
    warnings.simplefilter("ignore")
    two = make_sweeps(groups={"sp": TrueLaw(), "mup": TrueLaw(a=-0.1)}, seed=1,
                      diverge_above=1.5, scales=(1e7, 1e8, 1e9), horizons=(1e9, 4e9))
    one = make_sweeps(seed=2, scales=(1e7, 1e8, 1e9), horizons=(1e9, 4e9))
    optima = pd.DataFrame({"scale": [1e7, 1e8, 1e9, 1e10], "lr_opt": [3e-3, 2e-3, 1e-3, 6e-4]})
    joint = make_joint_sweeps(scales=(2e8, 4e8, 8e8), horizons=(5e9,), noise=0.003, seed=4)
    named = one.assign(name=[f"model-{s:.0f}" for s in one["scale"]]).drop(columns="scale")
    extract = ["name:model-(?P<size>\\d+)"]
    out = {
        "default": scalefit.fit(one, n_boot=30, progress=None),
        "extract": scalefit.fit(named, scale="size", extract=extract, n_boot=20,
                                progress=None),
        "by": scalefit.fit(two, by="parameterization", n_boot=30, ci=0.9, seed=3, window=3,
                           include=("ok", "edge"), reference="sp", progress=None,
                           blowup="off", max_misfit=0.3, floor_gap=2.5, flat_z=None,
                           fix={"a": 0}),
        "diverged": scalefit.fit(two, by=["parameterization"], n_boot=20, diverged_above=1.5,
                                 progress=None, status_ok=("fine",), missing_loss="diverged",
                                 keep_duplicates=True),
        "optima": scalefit.fit(optima, n_boot=20, progress=None),
    }
    fit = scalefit.fit(two, by="parameterization", n_boot=20, progress=None)
    out["next_law"] = fit.next_runs(4, target_scale=1e10, target_horizon=4e9,
                                    new_scales=(3e9,), new_sweep_lrs=4, per_group=True)
    out["next_group"] = fit.next_runs(3, group={"parameterization": "mup"}, objective="loss")
    _, props, todo = next_runs(two, 3, target_scale=1e10, target_horizon=4e9, n_boot=20,
                               by="parameterization", window=3)
    out["next_runs"] = props
    _, props, todo_x = next_runs(named, 2, scale="size", extract=extract, n_boot=10)
    out["next_runs_extract"] = props
    jfit = scalefit.fit(joint, joint="bs", n_boot=20, progress=None)
    out["joint"] = jfit
    out["next_joint"] = jfit.next_runs(4, cost="runs", objective="loss")
    d = {k: json.loads(json_text(v.to_dict(draws=False), k)) for k, v in out.items()}
    d["next_runs_todo"] = json.loads(todo.to_json(orient="records"))
    d["next_runs_extract_todo"] = json.loads(todo_x.to_json(orient="records"))
    return d


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(results(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
