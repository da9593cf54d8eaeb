"""Bad input to ``scalefit``: exit status 2 and exactly one line on stderr that names the
problem (file, column, row), never a traceback, nothing misleading on stdout.

The cases from the issue run through the real entry point (``python -m scalefit``);
further cases call ``scalefit.cli.main`` in this process, which is faster and runs the
same code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scalefit.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "data" / "synthetic_sweeps.csv"

GOOD = "scale,horizon,lr,loss\n" + "".join(
    f"1e8,1e9,{lr},{2 + (i - 2) ** 2 * 0.1}\n" for i, lr in enumerate([1e-4, 3e-4, 1e-3, 3e-3,
                                                                        1e-2]))

# name -> (file content, substrings the one error line must contain)
CASES = {
    "empty": ("", ["empty"]),
    "header_only": ("scale,horizon,lr,loss\n", ["header but no rows"]),
    "missing_lr": ("scale,horizon,loss\n1e8,1e9,2.0\n", ["no lr column", "--lr COL"]),
    "missing_loss": ("scale,horizon,lr\n1e8,1e9,1e-3\n", ["no loss column", "--loss COL"]),
    "non_numeric": (GOOD + "1e8,1e9,fast,2.5\n", ["column 'lr'", "row 6", "'fast'",
                                                  "not a number"]),
    "non_numeric_loss": (GOOD + "1e8,1e9,2e-2,n/a?\n", ["column 'loss'", "row 6"]),
    "negative_lr": (GOOD + "1e8,1e9,-3e-4,2.5\n", ["column 'lr'", "row 6", "-0.0003", "> 0"]),
    "zero_lr": (GOOD.replace("0.0001,", "0,"), ["column 'lr'", "row 1", "> 0"]),
    "all_diverged": ("scale,lr,loss\n" + "".join(f"{s},{lr},nan\n" for s in (1e7, 1e8, 1e9)
                                                 for lr in (1e-4, 1e-3, 1e-2)),
                     ["no sweep has an optimum", "3 all_diverged", "every run diverged"]),
    "one_lr_per_sweep": ("scale,lr,loss\n" + "".join(f"{s},1e-3,{2 + i / 10}\n"
                                                     for i, s in enumerate((1e7, 3e7, 1e8,
                                                                            3e8))),
                         ["no sweep has an optimum", "4 too_few", ">= 3 distinct LRs"]),
    "binary": (bytes(range(256)) * 8, ["binary"]),
    "ragged_rows": ("scale,lr,loss\n1e8,1e-3,2.0\n1e8,2e-3,2.1,7,8\n", ["malformed CSV",
                                                                        "line 3", "5 fields",
                                                                        "header has 3"]),
    "huge_exponent": (GOOD + "1e8,1e9,1e400,2.5\n", ["column 'lr'", "row 6", "inf"]),
    "column_twice": ("scale,lr,lr,loss\n1e8,1e-3,1e-3,2.0\n", ["'lr'", "more than once"]),
}


def scalefit(*args):
    return subprocess.run([sys.executable, "-m", "scalefit", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(rc, out, err, *needles):
    assert rc == 2, f"exit {rc}; stderr: {err!r}"
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("scalefit: error: ")
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    assert out == "", f"nothing should be printed on stdout, got: {out!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_table(tmp_path, name):
    content, needles = CASES[name]
    path = tmp_path / f"{name}.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    proc = scalefit("fit", path, "--boot", 10)
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, str(path), *needles)


def test_the_good_table_fits(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    proc = scalefit("fit", path, "--boot", 10)
    assert proc.returncode == 0, proc.stderr
    assert "1 sweep (1 ok)" in proc.stdout


# ---------------------------------------------------------------- more cases, in process


def run(capsys, *args):
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def fit_json(tmp_path_factory):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("fit") / "fit.json"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["fit", str(EXAMPLE), "--by", "parameterization", "--boot", "0", "--json",
                   str(out), "-q"])
    assert rc == 0
    return out


@pytest.mark.parametrize("args,needles", [
    (["fit", "{tmp}/missing.csv"], ["missing.csv: no such file"]),
    (["fit", "{tmp}"], ["is a directory"]),
    (["fit", EXAMPLE, "--loss", "val/loss"], ["column 'val/loss' (given for loss) not found",
                                              "did you mean 'loss'?"]),
    (["fit", EXAMPLE, "--loss", "xyz"], ["column 'xyz' (given for loss) not found",
                                         "columns are: parameterization"]),
    (["fitt", EXAMPLE], ["invalid choice: 'fitt'", "did you mean fit?"]),
    (["fit", EXAMPLE, "--boots", "3"], ["unrecognized arguments: --boots", "did you mean --boot"]),
    (["fit", EXAMPLE, "--by", "wd"], ["group column 'wd' (--by) not found"]),
    (["fit", EXAMPLE, "--extract", "nope:(?P<x>.)"], ["column 'nope' (given to --extract)"]),
    (["fit", EXAMPLE, "--extract", "parameterization:(?P<x>"], ["bad regular expression"]),
    (["fit", EXAMPLE, "--extract", "parameterization:^sp(?P<x>.*)"],
     ["column 'parameterization', row 1: 'mup' does not match"]),
    (["fit", EXAMPLE, "--ci", "2"], ["--ci must be", "(got '2')", "0.95 or 95"]),
    (["fit", EXAMPLE, "--boot", "many"], ["--boot must be a whole number", "(got 'many')"]),
    (["fit", EXAMPLE, "--window", "0"], ["--window must be", "from 1 to"]),
    (["fit", EXAMPLE, "--reference", "mup"], ["--reference needs --by"]),
    (["fit", EXAMPLE, "--json", "{tmp}/no/such/dir/fit.json"], ["does not exist"]),
    (["fit", EXAMPLE, "--report", "{tmp}/report.html"], ["--report takes a folder"]),
    (["fit", EXAMPLE, "--report", "{json}"], ["exists and is not a folder"]),
    (["fit"], ["give the table of runs"]),
    (["fitt", EXAMPLE], ["invalid choice: 'fitt'"]),
    (["compare", EXAMPLE], ["--by"]),
    (["predict", "{tmp}/missing.json", "--scale", "1e9"], ["missing.json: no such file"]),
    (["predict", EXAMPLE, "--scale", "1e9"], ["not valid JSON"]),
    (["predict", "{json}", "--scale", "7B"], ["needs --horizon D"]),
    (["predict", "{json}", "--scale", "7B", "--horizon", "1T", "--group", "parameterization=x"],
     ["no law for that group", "mup, sp, sp_emb"]),
    (["predict", "{json}", "--scale", "7X", "--horizon", "1T"], ["--scale must be"]),
    (["audit", "{json}", "--lr", "0", "--scale", "7B", "--horizon", "1T"], ["--lr must be"]),
    (["transfer", "--lr", "1e-3", "--from", "1B", "--to", "2B"], ["--b --beta --fit"]),
    (["transfer", "--lr", "1e-3", "--from", "1B", "--to", "-2"], ["--to must be"]),
    (["chinchilla", "{tmp}/nohorizon.csv"], ["no D (tokens) column", "--horizon COL"]),
    (["chinchilla", EXAMPLE, "--boot", "1"], ["--boot must be 0"]),
])
def test_bad_usage(tmp_path, capsys, fit_json, args, needles):
    (tmp_path / "nohorizon.csv").write_text("N,loss\n" + "".join(f"{10 ** k},{3 - k / 10}\n"
                                                                 for k in range(6, 12)))
    args = [str(a).replace("{tmp}", str(tmp_path)).replace("{json}", str(fit_json))
            for a in args]
    rc, out, err = run(capsys, *args)
    assert_one_line_error(rc, out, err, *needles)


def test_fit_json_not_a_fit(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": 1}))
    rc, out, err = run(capsys, "predict", path, "--scale", "1e9")
    assert_one_line_error(rc, out, err, "not a scalefit fit result")


def test_debug_shows_the_traceback(capsys):
    rc = main(["fit", "/no/such.csv", "--debug"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" in err
    assert err.strip().splitlines()[-1] == "scalefit: error: /no/such.csv: no such file"
