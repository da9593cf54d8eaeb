"""Options stored once (scalefit/options.py): one constraint table, one message template,
the same from the Python keywords and from the command line; the value objects
round-trip; the public keywords give the results they gave before the options were
stored once (tests/data/fit_golden.json, written by tests/golden_fit.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

import scalefit
from scalefit import next_runs
from scalefit.cli import main
from scalefit.options import (
    MESSAGE,
    RULES,
    Columns,
    FitOptions,
    PlanOptions,
    check,
    message,
    parse,
)
from scalefit.synthetic import make_sweeps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden_fit  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_sweeps.csv"

BAD = {"count": "x", "real": float("nan"), "choice": "nope", "choices": ["nope"],
       "flag": "yes", "progress": 3, "group": 3, "fix": {"c": 0}}


@pytest.mark.parametrize("key", sorted(RULES))
def test_every_rule_has_the_one_message(key):
    rule = RULES[key]
    bad = BAD[rule.kind]
    with pytest.raises(scalefit.ScalefitInputError) as e:
        check(key, [bad] if rule.many else bad)
    name = f"{key}[0]" if rule.many else key
    assert str(e.value) == message(name, rule, bad)
    assert str(e.value).startswith(f"{name} must be {rule.text} (got ")
    assert "\n" not in str(e.value)


def test_the_template_is_one_format_string():
    assert MESSAGE == "{name} must be {rule} (got {value}){tail}"
    assert message("n_boot", RULES["n_boot"], -1) == \
        "n_boot must be a whole number from 0 to 100000 (got -1)"


@pytest.fixture(scope="module")
def small():
    return make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), seeds=1, seed=5)


@pytest.fixture(scope="module")
def small_fit(small):
    return scalefit.fit(small, n_boot=0, progress=None)


fit = scalefit.fit
CH = ([1e8, 2e8, 4e8, 8e8, 1.6e9], [1e9, 3e9, 1e10, 3e10, 1e11], [3.5, 3.2, 3.0, 2.8, 2.7])

# (call on the table and a fit of it, key of the rule, the option's name in the message,
# the bad value)
CASES = [
    (lambda d, f: fit(d, n_boot=-1), "n_boot", "n_boot", -1),
    (lambda d, f: fit(d, n_boot=2.5), "n_boot", "n_boot", 2.5),
    (lambda d, f: fit(d, ci=1.5), "ci", "ci", 1.5),
    (lambda d, f: fit(d, ci=95), "ci", "ci", 95),
    (lambda d, f: fit(d, seed=-1), "seed", "seed", -1),
    (lambda d, f: fit(d, window=0), "window", "window", 0),
    (lambda d, f: fit(d, include=("good",)), "include", "include", ["good"]),
    (lambda d, f: fit(d, blowup=0.5), "blowup", "blowup", 0.5),
    (lambda d, f: fit(d, blowup="never"), "blowup", "blowup", "never"),
    (lambda d, f: fit(d, diverged_above=1), "diverged_above", "diverged_above", 1),
    (lambda d, f: fit(d, max_misfit=0), "max_misfit", "max_misfit", 0),
    (lambda d, f: fit(d, floor_gap=-1.0), "floor_gap", "floor_gap", -1.0),
    (lambda d, f: fit(d, flat_z=-1.0), "flat_z", "flat_z", -1.0),
    (lambda d, f: fit(d, fix={"c": 0}), "fix", "fix", {"c": 0}),
    (lambda d, f: fit(d, optima_level=2.0), "optima_level", "optima_level", 2.0),
    (lambda d, f: fit(d, missing_loss="drop"), "missing_loss", "missing_loss", "drop"),
    (lambda d, f: fit(d, progress=3), "progress", "progress", 3),
    (lambda d, f: scalefit.load_runs(d, missing_loss="drop"), "missing_loss",
     "missing_loss", "drop"),
    (lambda d, f: scalefit.fit_isoflop(d, budget_tol=2.0), "budget_tol", "budget_tol", 2.0),
    (lambda d, f: scalefit.fit_chinchilla(*CH, huber_delta=0),
     "huber_delta", "huber_delta", 0),
    (lambda d, f: scalefit.fit_chinchilla(*CH, n_boot=1),
     "chinchilla_n_boot", "n_boot", 1),
    (lambda d, f: scalefit.backtest(d, levels=0), "levels", "levels", 0),
    (lambda d, f: f.next_runs(0), "budget", "budget", 0),
    (lambda d, f: f.next_runs(2, cost="dollars"), "cost", "cost", "dollars"),
    (lambda d, f: f.next_runs(2, objective="bias"), "objective", "objective", "bias"),
    (lambda d, f: f.next_runs(2, target_scale=-1.0), "target_scale", "target_scale", -1.0),
    (lambda d, f: f.next_runs(2, new_sweep_lrs=2), "new_sweep_lrs", "new_sweep_lrs", 2),
    (lambda d, f: f.next_runs(2, new_scales=(1e10, 0)), "new_scales", "new_scales[1]", 0),
    (lambda d, f: f.next_runs(2, group="mup"), "group", "group", "mup"),
    (lambda d, f: next_runs(d, 0, n_boot=0), "budget", "budget", 0),
    (lambda d, f: next_runs(d, 2, n_boot=0, window=0), "window", "window", 0),
    (lambda d, f: f.conf_int(level=2.0), "level", "level", 2.0),
    (lambda d, f: f.predict(-1.0, 1e9), "scale", "scale", -1.0),
    (lambda d, f: f.audit(0, 1e10, 1e9), "lr", "lr_used", 0),
    (lambda d, f: f.transfer(1e-3, 1e9, 1e10, level=95), "level", "level", 95),
    (lambda d, f: scalefit.transfer(1e-3, 1e9, -2, b=-0.3), "horizon_target",
     "horizon_target", -2),
    (lambda d, f: scalefit.transfer(1e-3, 1e9, 1e10, b=float("inf")), "b", "b", float("inf")),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_python_keywords_give_the_one_message(i, small, small_fit):
    call, key, name, value = CASES[i]
    with pytest.raises(scalefit.ScalefitInputError) as e:
        call(small, small_fit)
    assert str(e.value) == message(name, RULES[key], value)


# (argv, flag, key of the rule, the text given)
CLI = [
    (["fit", EXAMPLE, "--boot", "many"], "--boot", "n_boot", "many"),
    (["fit", EXAMPLE, "--boot", "-3"], "--boot", "n_boot", "-3"),
    (["fit", EXAMPLE, "--ci", "2"], "--ci", "ci", "2"),
    (["fit", EXAMPLE, "--seed", "-1"], "--seed", "seed", "-1"),
    (["fit", EXAMPLE, "--window", "0"], "--window", "window", "0"),
    (["fit", EXAMPLE, "--blowup", "0.5"], "--blowup", "blowup", "0.5"),
    (["fit", EXAMPLE, "--diverged-above", "1"], "--diverged-above", "diverged_above", "1"),
    (["fit", EXAMPLE, "--max-misfit", "0"], "--max-misfit", "max_misfit", "0"),
    (["fit", EXAMPLE, "--floor-gap", "nan"], "--floor-gap", "floor_gap", "nan"),
    (["fit", EXAMPLE, "--optima-level", "1"], "--optima-level", "optima_level", "1"),
    (["next", EXAMPLE, "--budget", "0"], "--budget", "budget", "0"),
    (["next", EXAMPLE, "--budget", "2", "--target-scale", "-5"], "--target-scale",
     "target_scale", "-5"),
    (["next", EXAMPLE, "--budget", "2", "--new-scale", "7X"], "--new-scale", "new_scales", "7X"),
    (["next", EXAMPLE, "--budget", "2", "--new-sweep-lrs", "2"], "--new-sweep-lrs",
     "new_sweep_lrs", "2"),
    (["chinchilla", EXAMPLE, "--boot", "1"], "--boot", "chinchilla_n_boot", "1"),
    (["chinchilla", EXAMPLE, "--huber-delta", "0"], "--huber-delta", "huber_delta", "0"),
    (["isoflop", EXAMPLE, "--budget-tol", "3"], "--budget-tol", "budget_tol", "3"),
    (["backtest", EXAMPLE, "--axis", "scale", "--levels", "0"], "--levels", "levels", "0"),
    (["transfer", "--lr", "0", "--from", "1B", "--to", "2B", "--b", "-0.3"], "--lr", "lr", "0"),
    (["transfer", "--lr", "1e-3", "--from", "1B", "--to", "-2", "--b", "-0.3"], "--to",
     "horizon_target", "-2"),
    (["transfer", "--lr", "1e-3", "--from", "1B", "--to", "2B", "--b", "inf"], "--b", "b",
     "inf"),
    (["allocate", "fit.json", "--budget", "0"], "--budget", "budgets", "0"),
    (["allocate", "fit.json", "--budget", "1e21", "--ci", "1.5"], "--ci", "level", "1.5"),
]


@pytest.mark.parametrize("argv, flag, key, text", CLI)
def test_the_command_line_gives_the_one_message(capsys, argv, flag, key, text):
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    want = message(flag, RULES[key], text, cli=True)
    assert lines[0] == f"scalefit: error: {want} (see 'scalefit {argv[0]} --help')"


def test_parse_reads_what_the_command_line_allows():
    assert parse("ci", "95", "--ci") == 0.95 and parse("ci", "0.9", "--ci") == 0.9
    assert parse("target_scale", "7B", "--target-scale") == 7e9
    assert parse("blowup", "off", "--blowup") is None and parse("blowup", "1.5", "-") == 1.5
    assert parse("n_boot", "200", "--boot") == 200
    with pytest.raises(scalefit.ScalefitInputError, match=r"^--boot must be .*\(got '2.5'\)"):
        parse("n_boot", "2.5", "--boot")


def test_the_python_api_takes_no_percentage():
    """The command line reads 95 as 95% (its text says so); the keyword takes a level."""
    with pytest.raises(scalefit.ScalefitInputError, match=r"^ci must be a level strictly "
                                                          r"between 0 and 1 \(got 95\)"):
        check("ci", 95)


@pytest.mark.parametrize("obj", [
    Columns(),
    Columns(scale="N", horizon="D", lr="peak_lr", loss="val/loss", by="parameterization",
            status="state", status_ok=["fine"], extract=["run:(?P<x>\\d+)"],
            missing_loss="diverged", keep_duplicates=True),
    FitOptions(),
    FitOptions(n_boot=50, ci=0.9, seed=3, window=3, include="ok", reference="sp",
               diverged_above=2.0, blowup="off", max_misfit=0.3, floor_gap=1.5, flat_z=None,
               fix={"a": 0, "b": -0.3}, optima=False, optima_level=0.9, joint="bs",
               require_optimum=True),
    PlanOptions(3),
    PlanOptions(5, target_scale=7e9, target_horizon=1e12, group={"parameterization": "mup"},
                cost="runs", objective="loss", new_scales=[1e10], new_horizons=(2e12,),
                new_sweeps=False, new_sweep_lrs=7, per_group=True, past=3),
])
def test_options_round_trip(obj):
    d = obj.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON-ready
    again = type(obj).from_dict(json.loads(json.dumps(d)))
    assert again == obj and again.to_dict() == d
    assert hash(again) == hash(obj)  # frozen value objects
    with pytest.raises(AttributeError):
        obj.to_dict = None  # noqa: B010
    with pytest.raises(Exception):  # noqa: B017
        setattr(obj, next(iter(d)), None)


def test_options_are_normalized_and_checked_on_replace():
    o = FitOptions(include="ok", blowup="off", fix={"a": 0})
    assert o.include == ("ok",) and o.blowup is None and o.fix == (("a", 0.0),)
    assert o.fix_dict == {"a": 0.0}
    assert Columns(by="p").by == ("p",) and Columns(by=None).by == ()
    assert PlanOptions(2, group={}).group is None
    assert PlanOptions(2, group={"p": "mup"}).group_dict == {"p": "mup"}
    with pytest.raises(scalefit.ScalefitInputError, match=r"^window must be"):
        o.replace(window=0)
    with pytest.raises(scalefit.ScalefitInputError, match="unknown option"):
        FitOptions.from_dict({"n_boots": 3})


def _close(a, b, path=""):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        assert a == b or math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-12) or (
            math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


def test_keywords_give_the_results_they_gave_before():
    """fit, FitResult.next_runs and next_runs with keywords: the same to_dict as before the
    options were stored once (no algorithm change, the same JSON)."""
    want = json.loads(golden_fit.GOLDEN.read_text())
    got = json.loads(json.dumps(golden_fit.results()))
    assert set(got) == set(want)
    for name in want:
        _close(want[name], got[name], name)


def test_next_runs_refuses_an_unknown_keyword(small):
    with pytest.raises(TypeError, match=r"next_runs\(\) got an unexpected keyword "
                                        r"argument 'n_boots'"):
        next_runs(small, 2, n_boots=3)


def test_the_planners_take_the_options_object(small_fit):
    """FitResult.next_runs hands one PlanOptions to either planner (no positional list in
    two orders): the same proposals as the keywords."""
    from scalefit.planning.proposal_rows import propose_runs

    kw = dict(target_scale=1e10, target_horizon=1e9, cost="runs", objective="loss",
              new_sweep_lrs=4, past=3)
    a = small_fit.next_runs(3, **kw)
    b = propose_runs(small_fit, PlanOptions(3, **kw))
    assert a.to_dict() == b.to_dict()
    assert a.settings["past"] == 3 and a.settings["new_sweep_lrs"] == 4
