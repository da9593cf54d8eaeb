"""``scalefit next`` end to end: the summary, --json, --out (a table of runs to do that
the reference trainer trains as it is), and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalefit.cli import main
from scalefit.synthetic import make_sweeps

REPO = Path(__file__).resolve().parents[1]
PARAM = REPO / "examples" / "data" / "parameterization_cpu.csv"


def run(capsys, *args):
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc, out, err, *needles):
    assert rc == 2, (rc, out, err)
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("scalefit: error: "), err
    assert "Traceback" not in err and out == ""
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def sparse(tmp_path):
    df = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9, 1e10), n_lrs=5, seeds=1,
                     noise=0.004, seed=3).drop(columns="lr_true")
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    return path


def test_next_prints_writes_json_and_a_table_of_runs_to_do(sparse, tmp_path):
    out, js = tmp_path / "next.csv", tmp_path / "next.json"
    p = subprocess.run([sys.executable, "-m", "scalefit", "next", sparse, "--budget", "6",
                        "--target-scale", "1e10", "--target-horizon", "1e10", "--out", out,
                        "--json", js, "--boot", "200"], capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stdout.startswith("Next runs: 6 of a budget of 6 (target: the optimal LR "
                               "predicted at scale 1.00e+10, horizon 1.00e+10")
    assert "Target: ln lr_opt predicted by the law" in p.stdout
    assert f"wrote 6 run(s) to do in {out}" in p.stderr
    todo = pd.read_csv(out)
    assert len(todo) == 6 and todo["loss"].isna().all()
    assert todo["proposal_reason"].str.len().gt(10).all()
    d = json.loads(js.read_text())
    assert d["kind"] == "scalefit.next" and len(d["runs"]) == 6
    np.testing.assert_allclose(todo["lr"], [r["lr"] for r in d["runs"]])
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_runs_to_do_copy_their_sweep_and_carry_the_trainer_config(tmp_path, capsys):
    out = tmp_path / "next.csv"
    rc, stdout, err = run(capsys, "next", PARAM, "--by", "parameterization", "--budget", "8",
                          "--out", out, "--boot", "100", "-q")
    assert rc == 0, err
    todo = pd.read_csv(out)
    runs = pd.read_csv(PARAM)
    assert len(todo) == 8
    for _, t in todo.iterrows():
        cfg = json.loads(t["config"])
        assert cfg["lr"] == t["lr"] and cfg["seed"] == t["seed"]
        same = runs[(runs["parameterization"] == t["parameterization"])
                    & (runs["n_params"] == t["n_params"]) & (runs["tokens"] == t["tokens"])]
        assert len(same)
        # the sweep's own settings, the run's blanked: a new run, not a copy of one
        assert t["width"] == same["width"].iloc[0] and pd.isna(t["val_loss"])
        assert pd.isna(t["run_id"]) and pd.isna(t["status"])
        seeds_there = same.loc[np.isclose(same["lr"], t["lr"]), "seed"]
        assert t["seed"] not in set(seeds_there)
        template = json.loads(same["config"].iloc[0])
        diff = {k for k in cfg if cfg[k] != template.get(k)}
        assert diff <= {"lr", "seed"}


def test_runs_to_do_of_a_trainer_table_without_by_keep_their_arm(tmp_path, capsys):
    """Without --by the fit groups a reference-trainer table by its arms; the rows to do
    come from the same grouping (the table is read once): each keeps its arm's
    parameterization and config, never a blank that the trainer would fill with its
    default (it did before: the rows were copied from a second read grouped without
    the arms)."""
    out = tmp_path / "next.csv"
    rc, _, err = run(capsys, "next", PARAM, "--budget", "6", "--out", out, "--boot", "50",
                     "--cost", "runs", "-q")
    assert rc == 0, err
    todo = pd.read_csv(out)
    runs = pd.read_csv(PARAM)
    assert len(todo) == 6 and todo["parameterization"].notna().all()
    for _, t in todo.iterrows():
        same = runs[(runs["parameterization"] == t["parameterization"])
                    & (runs["n_params"] == t["n_params"])]
        assert len(same)
        cfg, template = json.loads(t["config"]), json.loads(same["config"].iloc[0])
        assert {k for k in cfg if cfg[k] != template.get(k)} <= {"lr", "seed"}


def test_next_reads_stdin_and_candidates_restrict_it(sparse, tmp_path, capsys):
    grid = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9, 1e10), n_lrs=9, seeds=1,
                       noise=0.004, seed=3)[["scale", "horizon", "lr"]]
    cand = tmp_path / "cand.csv"
    grid.to_csv(cand, index=False)
    p = subprocess.run([sys.executable, "-m", "scalefit", "next", "-", "--budget", "5",
                        "--candidates", cand, "--json", "-", "--boot", "50"],
                       input=sparse.read_text(), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    allowed = {round(x, 12) for x in grid["lr"]}
    assert len(d["runs"]) == 5 and all(round(r["lr"], 12) in allowed for r in d["runs"])


BAD = [
    (["--budget", "0"], ["--budget must be a whole number from 1 to 1000"]),
    (["--budget", "x"], ["--budget"]),
    ([], ["--budget"]),
    (["--budget", "2", "--cost", "dollars"], ["--cost", "invalid choice"]),
    (["--budget", "2", "--target-scale", "-5"], ["--target-scale", "> 0"]),
    (["--budget", "2", "--target-scale", "1e10"], ["needs horizon"]),
    (["--budget", "2", "--group", "parameterization=mup"], ["no group column"]),
]


@pytest.mark.parametrize("args, needles", BAD)
def test_bad_usage_is_one_line(sparse, capsys, args, needles):
    one_line_error(*run(capsys, "next", sparse, *args, "--boot", "20"), *needles)


def test_bad_outputs_and_candidates(sparse, tmp_path, capsys):
    one_line_error(*run(capsys, "next", sparse, "--budget", "2", "--out", sparse),
                   "is the input file", "--out")
    one_line_error(*run(capsys, "next", sparse, "--budget", "2", "--out", tmp_path),
                   "is a directory")
    one_line_error(*run(capsys, "next", sparse, "--budget", "2", "--out",
                        tmp_path / "no" / "next.csv"), "does not exist")
    cand = tmp_path / "cand.csv"
    cand.write_text("scale,horizon,lr\n1e7,1e9,1e-3\n1e7,1e9,fast\n")
    one_line_error(*run(capsys, "next", sparse, "--budget", "2", "--candidates", cand),
                   str(cand), "column 'lr'", "row 2", "not a number")
    cand.write_text("scale,horizon,lr\n1e7,1e9,-1e-3\n")
    one_line_error(*run(capsys, "next", sparse, "--budget", "2", "--candidates", cand),
                   "column 'lr'", "row 1", "> 0")
    optima = tmp_path / "optima.csv"
    optima.write_text("scale,lr_opt\n1e7,3e-3\n1e8,2e-3\n1e9,1e-3\n")
    one_line_error(*run(capsys, "next", optima, "--budget", "2"), "table of optima",
                   "no runs")
    assert not (tmp_path / "next.csv").exists()


def test_out_gives_new_seeds_in_a_namespaced_seed_column(tmp_path, capsys):
    """A tracker export's config.seed is the seed column: a replicate at a tried LR gets a
    seed not used there (was: blank, so the stack would train the default seed again)."""
    df = make_sweeps(scales=(1e7, 1e8, 1e9), horizons=(1e9,), n_lrs=5, seeds=2,
                     noise=0.004, seed=3).drop(columns="lr_true")
    df = df.rename(columns={"lr": "config.lr", "seed": "config.seed", "loss": "summary.loss"})
    src, out = tmp_path / "runs.csv", tmp_path / "next.csv"
    df.to_csv(src, index=False)
    rc, _, err = run(capsys, "next", src, "--budget", "4", "--boot", "100",
                     "--no-new-sweeps", "--out", out, "-q")
    assert rc == 0, err
    todo = pd.read_csv(out)
    assert todo["config.seed"].notna().all()
    for _, t in todo.iterrows():
        there = df[np.isclose(df["scale"], t["scale"]) & np.isclose(df["config.lr"],
                                                                   t["config.lr"])]
        assert t["config.seed"] not in set(there["config.seed"])
