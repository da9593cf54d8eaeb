"""Which by groups ``group=`` selects: one rule (scalefit/selection.py) for the decisions
(FitResult.law, .groups, predict), the joint fit, both planners of next_runs, the IsoFLOP
laws and the rows of a decision. Before, four selectors answered differently (text only,
text or number, equality or closeness)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import scalefit
from scalefit.selection import matches, same_value, select
from scalefit.synthetic import TrueLaw, make_isoflop, make_joint_sweeps, make_sweeps


@pytest.mark.parametrize("a, b, same", [
    ("mup", "mup", True), ("mup", "sp", False),
    (0.1, "0.1", True),        # documented: {"wd": "0.1"} selects 0.1
    (0.1, "1e-1", True),       # the same number written otherwise
    (64, "64", True), (64, 64.0, True), ("64", 64, True),
    (0.1, 0.1 + 1e-17, True),  # the same float after a round trip
    (0.1, 0.11, False), (1, "one", False), (None, "None", True),
])
def test_a_value_is_the_same_as_text_or_as_a_number(a, b, same):
    assert same_value(a, b) is same and same_value(b, a) is same


def test_matches_needs_every_column():
    g = {"parameterization": "mup", "wd": 0.1}
    assert matches(g, None) and matches(g, {})
    assert matches(g, {"wd": "0.1"}) and matches(g, {"parameterization": "mup", "wd": 0.1})
    assert not matches(g, {"parameterization": "sp"}) and not matches(g, {"bs": 64})
    assert not matches(None, {"wd": 0.1})


def test_select_refuses_an_unknown_column_and_an_empty_selection():
    groups = [{"wd": 0.0}, {"wd": 0.1}]
    assert select(groups, None, ["wd"]) == groups
    assert select(groups, {"wd": "1e-1"}, ["wd"]) == [{"wd": 0.1}]
    with pytest.raises(scalefit.ScalefitInputError) as e:
        select(groups, {"bs": 64}, ["wd"])
    assert str(e.value) == "group bs=64: the fit has no group column 'bs'; its groups are by wd"
    with pytest.raises(scalefit.ScalefitInputError) as e:
        select(groups, {"wd": 0.5}, ["wd"])
    assert str(e.value) == "group wd=0.5: no law for that group; groups with a law: 0.0, 0.1"
    with pytest.raises(scalefit.ScalefitInputError, match="fitted without --by"):
        select([{}], {"wd": 0.1}, [])


@pytest.fixture(scope="module")
def wd_fit():
    df = make_sweeps(groups={0.0: TrueLaw(), 0.1: TrueLaw(a=-0.1)}, group_column="wd",
                     scales=(1e7, 1e8, 1e9), horizons=(1e9,), seeds=1, seed=7)
    return scalefit.fit(df, by="wd", n_boot=0, progress=None)


WANT = [{"wd": 0.1}, {"wd": "0.1"}, {"wd": "1e-1"}, {"wd": 0.1 + 1e-17}]


@pytest.mark.parametrize("want", WANT)
def test_every_decision_selects_the_same_group(wd_fit, want):
    assert wd_fit.groups(want) == [{"wd": 0.1}]
    law = wd_fit.law("lr_opt", want)
    assert law is not None and not isinstance(law, list) and law.group["wd"] == 0.1
    pred = wd_fit.predict(1e10, 1e9, group=want)
    assert [r["group"] for r in pred.rows] == [{"wd": 0.1}]
    every = wd_fit.predict(1e10, 1e9)
    assert len(every.rows) == 2 and every.row(want)["lr"] == pred.rows[0]["lr"]
    audit = wd_fit.audit(1e-3, 1e10, 1e9, group=want)
    assert [r["group"] for r in audit.rows] == [{"wd": 0.1}]


@pytest.mark.parametrize("want", WANT)
def test_the_planner_selects_the_same_group(wd_fit, want):
    props = wd_fit.next_runs(3, group=want, cost="runs")
    assert len(props.runs) and set(props.runs["wd"]) == {0.1}


def test_without_group_every_group_and_law_is_a_list(wd_fit):
    assert wd_fit.groups() == [{"wd": 0.0}, {"wd": 0.1}]
    assert isinstance(wd_fit.law("lr_opt"), list) and wd_fit.law("lr_opt", {"wd": 0.5}) is None


@pytest.mark.parametrize("call", [
    lambda f: f.groups({"bs": 64}),
    lambda f: f.predict(1e10, 1e9, group={"bs": 64}),
    lambda f: f.next_runs(2, group={"bs": 64}),
])
def test_an_unknown_column_is_the_same_line_everywhere(wd_fit, call):
    with pytest.raises(scalefit.ScalefitInputError) as e:
        call(wd_fit)
    assert str(e.value) == "group bs=64: the fit has no group column 'bs'; its groups are by wd"


def test_a_group_that_is_not_there_names_the_groups(wd_fit):
    with pytest.raises(scalefit.ScalefitInputError) as e:
        wd_fit.predict(1e10, 1e9, group={"wd": 0.5})
    assert str(e.value) == "group wd=0.5: no law for that group; groups with a law: 0.0, 0.1"
    with pytest.raises(scalefit.ScalefitInputError) as e:
        wd_fit.next_runs(2, group={"wd": 0.5})
    assert str(e.value) == "group wd=0.5: no sweep of the fit belongs to it; its groups: 0.0, 0.1"


@pytest.fixture(scope="module")
def joint_fit():
    parts = [make_joint_sweeps(scales=(2e8, 4e8, 8e8), horizons=(5e9,), noise=0.003,
                               seed=s).assign(wd=wd) for s, wd in ((11, 0.0), (12, 0.1))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit(pd.concat(parts, ignore_index=True), joint="bs", by="wd",
                            n_boot=0, progress=None)


@pytest.mark.parametrize("want", WANT)
def test_the_joint_fit_and_its_planner_select_the_same_group(joint_fit, want):
    """The joint planner compared text only: {"wd": "1e-1"} selected nothing there."""
    j = joint_fit.joint
    assert j.groups(want) == [{"wd": 0.1}]
    assert not isinstance(j.law("lr_opt", want), list)
    props = joint_fit.next_runs(3, group=want, cost="runs")
    assert len(props.runs) and set(props.runs["wd"]) == {0.1}


def test_the_joint_fit_refuses_an_unknown_column(joint_fit):
    with pytest.raises(scalefit.ScalefitInputError) as e:
        joint_fit.joint.groups({"lr": 1})
    assert str(e.value) == ("group lr=1: the joint fit has no group column 'lr'; its groups "
                            "are by wd")
    with pytest.raises(scalefit.ScalefitInputError, match="has no group column 'lr'"):
        joint_fit.next_runs(2, group={"lr": 1})


def test_isoflop_laws_select_by_the_same_rule():
    """IsoflopResult.law compared text only: {"rep": 1.0} missed the group rep = 1."""
    df = pd.concat([make_isoflop(seed=s).assign(rep=s) for s in (1, 2)], ignore_index=True)
    res = scalefit.fit_isoflop(df, by="rep", n_boot=0, progress=None)
    for want in ({"rep": 1}, {"rep": "1"}, {"rep": 1.0}):
        law = res.law("N_opt", want)
        assert not isinstance(law, list) and law.group["rep"] == 1
    assert isinstance(res.law("N_opt"), list)
    with pytest.raises(scalefit.ScalefitInputError, match="no law of N_opt"):
        res.law("N_opt", {"rep": 3})


def test_exact_text_wins_over_the_same_number_written_differently():
    """Labels "0" and "00" are two groups (found by the label-renaming property test)."""
    from scalefit.selection import select

    groups = [{"p": "0"}, {"p": "00"}]
    assert select(groups, {"p": "0"}, ["p"]) == [{"p": "0"}]
    assert select(groups, {"p": "00"}, ["p"]) == [{"p": "00"}]
    assert select(groups, {"p": 0}, ["p"]) == [{"p": "0"}]  # str(0) == "0"
    assert select(groups, {"p": 0.0}, ["p"]) == groups  # no exact text: both as numbers
