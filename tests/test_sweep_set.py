"""The sweeps built once (``scalefit.sweep_set``): what the fit holds and its one selection rule."""

from pathlib import Path

import numpy as np
import pytest

import scalefit
from scalefit.errors import ScalefitInputError
from scalefit.sweep_set import lr_sweeps
from scalefit.table import load_runs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_sweeps.csv"


@pytest.fixture(scope="module")
def fit():
    return scalefit.fit(EXAMPLE, by="parameterization", n_boot=50, progress=None)


def test_the_fit_holds_the_sweeps_it_fitted(fit):
    ss = fit.sweep_set
    opt = fit.optima
    assert ss.n_sweeps == len(opt) == ss.sweeps.n_groups
    for col in ("parameterization", "scale", "horizon", "n_runs", "n_diverged"):
        assert list(ss.groups[col]) == list(opt[col])
    # the runs the figures show are the set's, row j of the optima is sweep j
    assert len(fit.runs) == ss.n_sweeps
    for a, b in zip(fit.runs, ss.per_sweep):
        np.testing.assert_array_equal(a["lr"], b["lr"])
    # the resamples the laws used are the set's own (x_law), one column per sweep
    assert ss.boot is fit.boot and ss.boot.x_law.shape == (50, ss.n_sweeps)
    # level sums: every finite run once
    assert ss.n.sum() == np.isfinite(np.concatenate([r["loss"] for r in fit.runs])).sum()


def test_select_is_the_one_group_rule(fit):
    ss = fit.sweep_set
    mup = ss.select({"parameterization": "mup"})
    assert mup.tolist() == (fit.optima["parameterization"] == "mup").tolist()
    assert ss.select(None).all()
    with pytest.raises(ScalefitInputError, match="no sweep of that group"):
        ss.select({"parameterization": "nope"})
    with pytest.raises(ScalefitInputError, match="no group column 'width'"):
        ss.select({"width": 3})


def test_a_loaded_fit_has_no_sweep_set(fit, tmp_path):
    path = tmp_path / "fit.json"
    fit.save(path)
    assert scalefit.load_fit(path).sweep_set is None


def test_groups_are_in_sorted_key_order_and_ids_match_rows():
    runs = load_runs(EXAMPLE, by=("parameterization",))
    ss = lr_sweeps(runs)
    keys = ss.groups[["parameterization", "scale", "horizon"]]
    assert keys.equals(keys.sort_values(list(keys.columns)).reset_index(drop=True))
    data = runs.data
    for col in ("parameterization", "scale", "horizon"):
        assert (ss.groups[col].to_numpy()[ss.gid] == data[col].to_numpy()).all()


def test_planning_reads_the_held_sweeps_and_a_loaded_fit_rebuilds_the_same(fit, tmp_path):
    """``next`` plans from the sweeps the fit built (no second point fit); a fit read back
    from JSON rebuilds them from its runs: the same design, to rounding."""
    from scalefit.planning.plan import design_of

    path = tmp_path / "fit.json"
    fit.save(path)
    loaded = scalefit.load_fit(path)
    held, info = design_of(fit)
    rebuilt, info2 = design_of(loaded)
    np.testing.assert_array_equal(held.x, rebuilt.x)
    np.testing.assert_array_equal(held.n, rebuilt.n)
    np.testing.assert_allclose(held.s, rebuilt.s, rtol=1e-12)
    np.testing.assert_allclose(held.x_opt, rebuilt.x_opt, rtol=1e-9)
    np.testing.assert_allclose(held.sigma, rebuilt.sigma, rtol=1e-9)
    np.testing.assert_array_equal(held.status, rebuilt.status)
    np.testing.assert_array_equal(info["x_low"], info2["x_low"])
    a = fit.next_runs(4, cost="runs").runs
    b = loaded.next_runs(4, cost="runs").runs
    np.testing.assert_allclose(a["lr"].to_numpy(float), b["lr"].to_numpy(float))


def test_next_reads_checks_and_fits_the_table_once(monkeypatch):
    """``scalefit next``: one parse, one check of the runs, one point fit of the sweeps
    (the planner reads the fit's SweepSet; before, the table was checked twice and every
    sweep fitted twice)."""
    import scalefit.pipeline as pipeline
    import scalefit.planning.next as planning_next
    import scalefit.planning.plan as plan

    calls = {"read_input": 0, "read_runs": 0, "fit_sweeps": 0}

    def counted(name, f):
        def g(*a, **k):
            calls[name] += 1
            return f(*a, **k)
        return g

    monkeypatch.setattr(planning_next, "read_input", counted("read_input",
                                                             planning_next.read_input))
    monkeypatch.setattr(pipeline, "read_runs", counted("read_runs", pipeline.read_runs))
    monkeypatch.setattr(pipeline, "fit_sweeps", counted("fit_sweeps", pipeline.fit_sweeps))
    monkeypatch.setattr(plan, "fit_sweeps", counted("fit_sweeps", plan.fit_sweeps))
    res, props, todo = scalefit.next_runs(EXAMPLE, 4, by="parameterization", n_boot=50,
                                          progress=None)
    assert calls == {"read_input": 1, "read_runs": 1, "fit_sweeps": 1}
    assert len(todo) == 4


def test_the_joint_planner_reads_the_surfaces_the_joint_fit_fitted(monkeypatch, tmp_path):
    """``next`` on a ``--joint`` fit: no second fit of the LR x batch-size surfaces (the
    planner takes them from ``SweepSet.surfaces``); a fit read from JSON refits them from
    its runs and proposes the same runs."""
    import scalefit.planning.joint_plan as joint_plan
    from scalefit.synthetic import make_joint_sweeps

    df = make_joint_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), seed=2)
    fit = scalefit.fit(df, joint="bs", n_boot=30, progress=None)
    assert fit.sweep_set.surfaces is not None
    calls = []
    real = joint_plan.fit_surfaces
    monkeypatch.setattr(joint_plan, "fit_surfaces", lambda *a, **k: calls.append(1) or
                        real(*a, **k))
    held = fit.next_runs(5, cost="runs").runs
    assert calls == []
    path = tmp_path / "fit.json"
    fit.save(path)
    loaded = scalefit.load_fit(path).next_runs(5, cost="runs").runs
    assert calls == [1]
    np.testing.assert_allclose(held["lr"].to_numpy(float), loaded["lr"].to_numpy(float))
    np.testing.assert_allclose(held["bs"].to_numpy(float), loaded["bs"].to_numpy(float))
