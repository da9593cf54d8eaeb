"""A saved fit is data; values from the data never act on a terminal or a report."""

from __future__ import annotations

import builtins
import json
import os
import re
from pathlib import Path

import pytest

import scalefit
from scalefit.cli import main
from scalefit.render.format import safe_text
from scalefit.synthetic import TrueLaw, make_sweeps

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "data" / "synthetic_sweeps.csv"
EVIL = r"Name:(?P<x>(a+)+$)"  # catastrophic backtracking if it were ever applied


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    scalefit.fit(EXAMPLE, by=["parameterization"], n_boot=30, progress=None).save(path)
    return path


def one_error_line(capsys, rc, *needles):
    out, err = capsys.readouterr()
    assert rc == 2, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("scalefit: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("tamper, needles", [
    (lambda d: d.pop("schema_version"), ["'schema_version' is missing"]),
    (lambda d: d.update(schema_version=99), ["'schema_version' is 99"]),
    (lambda d: d.update(schema_version="2"), ["'schema_version' is '2'"]),
    (lambda d: d["laws"][0]["params"].update(C="big"), ["$.laws[0].params.C", "number"]),
    (lambda d: d["settings"].update(ci="0.95"), ["$.settings.ci"]),
    (lambda d: d["optima"][0].update(n_runs=1.5), ["$.optima[0].n_runs", "integer"]),
    (lambda d: d["laws"][0]["draws"][0].append(1.0), ["$.laws[0].draws", "one per parameter"]),
    (lambda d: d["runs"].pop(), ["$.runs"]),
])
def test_a_tampered_fit_is_refused_with_one_line(saved, tmp_path, capsys, tamper, needles):
    d = json.loads(saved.read_text())
    tamper(d)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    rc = main(["predict", str(bad), "--scale", "7B", "--horizon", "1T"])
    line = one_error_line(capsys, rc, str(bad), *needles)
    assert len(line) < 400
    with pytest.raises(scalefit.ScalefitInputError):
        scalefit.load_fit(bad)


def test_a_saved_fit_makes_predict_open_nothing_else(saved, tmp_path, capsys, monkeypatch):
    d = json.loads(saved.read_text())
    d["input"]["source"] = "/etc/passwd"
    d["input"]["extract"] = [EVIL]
    d["input"]["format"] = "csv"
    d["laws"] = [{k: v for k, v in law.items() if k != "draws"} for law in d["laws"]]
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps(d))
    import scalefit.cli.commands  # noqa: F401  (imports done before watching)
    import scalefit.files  # noqa: F401
    import scalefit.results.decisions  # noqa: F401
    import scalefit.results.load  # noqa: F401

    opened, compiled = [], []
    real_open, real_os_open, real_compile = builtins.open, os.open, re.compile
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (opened.append(str(f)),
                                                              real_open(f, *a, **k))[1])
    monkeypatch.setattr(os, "open", lambda f, *a, **k: (opened.append(str(f)),
                                                        real_os_open(f, *a, **k))[1])
    monkeypatch.setattr(re, "compile", lambda p, *a, **k: (compiled.append(p),
                                                           real_compile(p, *a, **k))[1])
    for argv in (["predict", str(crafted), "--scale", "7B", "--horizon", "1T"],
                 ["audit", str(crafted), "--lr", "3e-4", "--scale", "7B", "--horizon", "1T"],
                 ["transfer", "--lr", "1e-3", "--from", "1B", "--to", "2B", "--fit",
                  str(crafted)]):
        assert main(argv) == 0
    monkeypatch.undo()
    assert set(opened) == {str(crafted)}, opened
    assert EVIL not in compiled and EVIL.split(":", 1)[1] not in compiled
    out = capsys.readouterr().out
    assert "point estimates only" in out and "passwd" not in out


def test_control_characters_in_labels_are_shown_not_executed(tmp_path, capsys):
    label = "mup\x1b[31mRED\x07\u202e"
    df = make_sweeps(scales=(1e7, 4e7, 1.6e8), horizons=(1e9,), n_lrs=7, seeds=1,
                     groups={label: TrueLaw(), "sp": TrueLaw(C=2.0, a=-0.4)}, seed=1)
    runs = tmp_path / "runs.csv"
    df.to_csv(runs, index=False)
    rep = tmp_path / "rep"
    rc = main(["compare", str(runs), "--by", "parameterization", "--boot", "20", "--report",
               str(rep), "-q"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    for text in (out, err, (rep / "report.md").read_text(), (rep / "report.html").read_text()):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "mup\\x1b[31mRED\\x07\\u202e" in out
    assert "mup\\x1b[31mRED\\x07\\u202e" in (rep / "report.md").read_text()
    rc = main(["fit", str(runs), "--by", "parameterization", "--boot", "0", "-q"])
    assert "\\x1b[31m" in capsys.readouterr().out


def test_long_cells_are_shortened_in_messages(tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    runs.write_text("lr,loss\n1e-3,2.0\n" + "x" * 5000 + "\x1b[2J,2.1\n")
    rc = main(["fit", str(runs), "--boot", "0"])
    line = one_error_line(capsys, rc, "row 2", "not a number", "...")
    assert len(line) < 400 and "\x1b" not in line


def test_safe_text():
    assert safe_text("plain text: 3e-4 [a, b]") == "plain text: 3e-4 [a, b]"
    assert safe_text("a\x1b[0mb\tc\nd") == "a\\x1b[0mb\\x09c\\x0ad"
    assert safe_text("x" * 300, 50) == "x" * 47 + "..."
