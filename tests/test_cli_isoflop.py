"""``scalefit isoflop`` and ``scalefit allocate`` on the command line: output, JSON, figures,
and bad input (exit 2, one line on stderr naming the file and the key or column)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scalefit.cli import main
from scalefit.schema import ALLOCATION, ISOFLOP, validate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data" / "synthetic_isoflop.csv"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(code, out, err, *needles):
    assert code == 2, (code, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("scalefit: error: "), err
    assert "Traceback" not in err and out == ""
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def law_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("law") / "law.json"
    assert main(["chinchilla", str(EXAMPLE), "--boot", "100", "--json", str(path), "-q"]) == 0
    return path


def test_isoflop_command(capsys, tmp_path):
    out_json, figs = tmp_path / "iso.json", tmp_path / "figs"
    code, out, err = run(capsys, "isoflop", EXAMPLE, "--boot", 200, "--json", out_json,
                         "--figures", figs)
    assert code == 0, err
    assert "7 IsoFLOP profiles (7 ok)" in out
    assert "budgets: column flops (7 values);  D at the optimum: C / (6 N*)" in out
    assert "N_opt = k * C^a" in out and "loss_opt = L_inf + A * C^alpha" in out
    d = json.loads(out_json.read_text())
    assert validate(d, ISOFLOP) == [] and d["settings"]["n_boot"] == 200
    law = next(x for x in d["laws"] if x["target"] == "N_opt")
    lo, hi = law["ci"]["a"]
    assert lo < 0.4516 < hi  # the generating exponent, in the sidecar synthetic_isoflop.md
    assert sorted(p.name for p in figs.iterdir()) == [
        "isoflop_law.png", "isoflop_law.svg", "isoflop_profiles.png", "isoflop_profiles.svg"]
    assert f"wrote {out_json}" in err


def test_isoflop_options(capsys, tmp_path):
    code, out, _ = run(capsys, "isoflop", EXAMPLE, "--boot", 0, "--params", "N", "--tokens",
                       "D", "--flops", "flops", "--window", 3, "--json", "-")
    assert code == 0
    d = json.loads(out)
    assert d["settings"]["window"] == 3 and d["profiles"][0]["N_opt_lo"] is None
    code, out, _ = run(capsys, "isoflop", EXAMPLE, "--boot", 50, "--budget-col", "flops", "-q")
    assert code == 0 and "column flops (--budget-col)" in out


def test_allocate_command(capsys, law_json, tmp_path):
    out_json = tmp_path / "alloc.json"
    code, out, err = run(capsys, "allocate", law_json, "--budget", "1e20", "--budget",
                         "5.88e23", "--json", out_json)
    assert code == 0, err
    assert "a = beta / (alpha + beta) = 0.4" in out
    assert "data range of the fit: C 1.00e+18 to 1.00e+21 FLOPs" in out
    assert "warning: extrapolating: C = 5.88e+23: budget C 5.88e+23 is 588x above" in out
    assert "C = 1e+20" not in out  # inside the data: no warning
    assert "ExtrapolationWarning" not in err and "extrapolating" not in err  # said once, above
    d = json.loads(out_json.read_text())
    assert validate(d, ALLOCATION) == [] and "draws" not in d
    assert [r["C"] for r in d["budgets"]] == [1e20, 5.88e23]
    code, out, _ = run(capsys, "allocate", law_json, "--budget", "1e21", "--ci", "90")
    assert code == 0 and "90% CI" in out


def test_allocate_budget_suffixes(capsys, law_json):
    code, out, _ = run(capsys, "allocate", law_json, "--budget", "1000T")
    assert code == 0 and "1.00e+15" in out


def test_isoflop_bad_input(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("flops,N,loss\n1e18,abc,3.0\n")
    one_line_error(*run(capsys, "isoflop", bad), str(bad), "column 'N'", "row 1", "'abc'")
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("flops,loss\n1e18,3.0\n")
    one_line_error(*run(capsys, "isoflop", nocol), "no N (parameters) column", "--params COL")
    chain = tmp_path / "chain.csv"
    chain.write_text("flops,N,D,loss\n" + "".join(f"{1e18 * 1.05 ** i},1e8,1e9,3.0\n"
                                                  for i in range(40)))
    one_line_error(*run(capsys, "isoflop", chain, "--boot", 5),
                   "does not fall into separate budgets", "--budget-col COL")
    few = tmp_path / "few.csv"
    few.write_text("flops,N,D,loss\n1e18,1e8,1.6e9,3.0\n1e18,2e8,8e8,3.1\n")
    one_line_error(*run(capsys, "isoflop", few, "--boot", 5),
                   "no IsoFLOP profile has an optimum", "1 too_few")
    one_line_error(*run(capsys, "isoflop", EXAMPLE, "--budget-tol", "2"), "--budget-tol",
                   "relative tolerance")
    one_line_error(*run(capsys, "isoflop", EXAMPLE, "--json", EXAMPLE), "is the input file")


def test_allocate_bad_input(capsys, law_json, tmp_path):
    one_line_error(*run(capsys, "allocate", law_json, "--budget", "-5"), "--budget", "'-5'")
    one_line_error(*run(capsys, "allocate", law_json, "--budget", "lots"), "'lots'")
    one_line_error(*run(capsys, "allocate", tmp_path / "none.json", "--budget", "1e21"),
                   "no such file")
    d = json.loads(law_json.read_text())
    d["params"]["beta"] = None
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(d))
    one_line_error(*run(capsys, "allocate", broken, "--budget", "1e21"), str(broken),
                   "$.params.beta")
    iso = tmp_path / "iso.json"
    assert main(["isoflop", str(EXAMPLE), "--boot", "0", "--json", str(iso), "-q"]) == 0
    capsys.readouterr()
    one_line_error(*run(capsys, "allocate", iso, "--budget", "1e21"), "an IsoFLOP result")
    d = json.loads(law_json.read_text())
    d.pop("draws")
    d["ci"] = None
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(d))
    code, out, _ = run(capsys, "allocate", bare, "--budget", "1e21")
    assert code == 0 and "point estimates only" in out
    one_line_error(*run(capsys, "allocate", bare, "--budget", "1e21", "--ci", "0.9"),
                   "holds no bootstrap draws")
    one_line_error(*run(capsys, "allocate", law_json), "--budget")


def test_real_entry_point_one_line(tmp_path):
    """Through ``python -m scalefit``: a tampered FIT.json exits 2 with one line."""
    path = tmp_path / "law.json"
    path.write_text(json.dumps({"form": "loss = E + A * N^-alpha + B * D^-beta",
                                "params": {"E": 1, "A": 1, "B": 1, "alpha": 1, "beta": 1}}))
    proc = subprocess.run([sys.executable, "-m", "scalefit", "allocate", str(path), "--budget",
                           "1e21"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "'schema_version' is missing" in proc.stderr


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "isoflop" in out and "allocate" in out
    for cmd in ("isoflop", "allocate"):
        assert main([cmd, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


def test_isoflop_counts_copied_rows_once_unless_kept(capsys, tmp_path):
    import pandas as pd

    df = pd.read_csv(EXAMPLE)
    pd.concat([df, df.iloc[:3]]).to_csv(tmp_path / "dup.csv", index=False)
    code, out, err = run(capsys, "isoflop", str(tmp_path / "dup.csv"), "--boot", "0")
    assert code == 0 and f"{len(df)} runs (0 diverged)" in out
    assert "3 rows repeat an earlier row exactly" in err
    code, out, _ = run(capsys, "isoflop", str(tmp_path / "dup.csv"), "--boot", "0",
                       "--keep-duplicates")
    assert code == 0 and f"{len(df) + 3} runs (0 diverged)" in out
