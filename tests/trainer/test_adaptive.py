"""``sweep --from-csv`` (the runs ``scalefit next --out`` writes, trained as they are) and
``sweep --adaptive`` (propose with scalefit, train, repeat), on tiny CPU models."""

import csv
import json
import re
import subprocess
import sys

import pytest
from trainer_helpers import ROOT, cli_env, run_cli, tiny_flags

from reference_trainer import cli

GRID = [*tiny_flags(tokens=2048), "--param", "mup", "--widths", "32,64", "--lrs",
        "3e-3,1e-2,3e-2", "--seeds", "0", "--device", "cpu"]


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "runs.csv"
    run_cli("sweep", *GRID, "--out", out)
    return out


def test_scalefit_next_out_is_trained_as_it_is(trained, tmp_path):
    out = tmp_path / "runs.csv"
    out.write_bytes(trained.read_bytes())
    todo = tmp_path / "next.csv"
    p = subprocess.run([sys.executable, "-m", "scalefit", "next", out, "--budget", "3",
                        "--out", todo, "--boot", "50", "-q"], capture_output=True, text=True,
                       env=cli_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    proposed = rows(todo)
    before = {r["run_id"] for r in rows(out)}
    run_cli("sweep", "--from-csv", todo, "--out", out, "--device", "cpu")
    new = [r for r in rows(out) if r["run_id"] not in before]
    assert len(new) == 3
    got = sorted((float(r["lr"]), int(r["seed"]), int(r["width"])) for r in new)
    want = sorted((float(r["lr"]), int(r["seed"]), int(r["width"])) for r in proposed)
    assert got == want
    # the runs are the sweep's own except for lr and seed
    base = json.loads(rows(trained)[0]["config"])
    for r in new:
        cfg = json.loads(r["config"])
        assert {k for k in cfg if cfg[k] != base.get(k)} <= {"lr", "seed", "width"}
    # listed runs already in the file are skipped
    again = run_cli("sweep", "--from-csv", todo, "--out", out, "--device", "cpu")
    assert "all already in" in again.stderr


def test_from_csv_without_config_reads_setting_columns(tmp_path):
    table = tmp_path / "runs_to_do.csv"
    t = dict(tiny_flags_dict(), lr="0.01", parameterization="sp")
    with open(table, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(t))
        w.writeheader()
        w.writerow(t)
        w.writerow({**t, "lr": "0.02"})
    out = tmp_path / "runs.csv"
    run_cli("sweep", "--from-csv", table, "--out", out, "--device", "cpu", "--seed", "3")
    got = rows(out)
    assert sorted(float(r["lr"]) for r in got) == [0.01, 0.02]
    assert {r["parameterization"] for r in got} == {"sp"} and {r["seed"] for r in got} == {"3"}


def tiny_flags_dict():
    f = tiny_flags(tokens=2048)
    return {f[i][2:].replace("-", "_"): f[i + 1] for i in range(0, len(f), 2)}


@pytest.mark.parametrize("content, needles", [
    ('config\n"{""lr"": 0.01, ""width"": 32}"\n"{not json"\n',
     ["column 'config', row 2", "not JSON"]),
    ('config,lr\n"",0.01\n', ["column 'config', row 1", "empty", "width and depth"]),
    ('config\n"{""lr"": 0.01, ""colour"": 3}"\n', ["row 1", "unknown setting", "colour"]),
    ('config\n"{""lr"": -1}"\n', ["row 1", "lr must be positive"]),
    ("width,depth\n32,1\n", ["no config column and no lr column"]),
])
def test_from_csv_bad_rows_one_line(tmp_path, capsys, content, needles):
    table = tmp_path / "bad.csv"
    table.write_text(content)
    rc = cli.main(["sweep", "--from-csv", str(table), "--out", str(tmp_path / "o.csv"),
                   "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("reference-trainer sweep: error:")
    for n in needles:
        assert n in err[0], (n, err[0])


def test_adaptive_trains_the_grid_then_the_proposed_runs(tmp_path):
    out = tmp_path / "runs.csv"
    p = run_cli("sweep", *GRID, "--out", out, "--adaptive", "1", "--budget", "2",
                timeout=300)
    assert "adaptive round 1/1: target interval spans" in p.stderr
    assert "Next runs: 2 of a budget of 2" in p.stderr
    assert "adaptive sweep: 1 round(s), 8 run(s) trained" in p.stderr
    assert len(rows(out)) == 8
    # continuing the file (no grid), stopping as soon as the interval is finite and
    # narrower than the factor: each round trained adds 2 rows
    q = run_cli("sweep", "--out", out, "--device", "cpu", "--adaptive", "3", "--budget", "2",
                "--until", "1e6", timeout=300)
    assert "stopped: until" in q.stderr
    m = re.search(r"adaptive: (\d) round\(s\), (\d+) run\(s\) trained; target interval "
                  r"spans x([0-9.e+]+)", q.stderr)
    assert m and int(m.group(1)) < 3 and float(m.group(3)) <= 1e6
    assert len(rows(out)) == 8 + 2 * int(m.group(1)) == 8 + int(m.group(2))


def test_adaptive_joint_proposes_batch_sizes(tmp_path):
    """--joint batch_size: a 3 LR x 3 batch-size grid, then one round of 2 proposed cells,
    each trained at the batch size its proposal names."""
    out = tmp_path / "runs.csv"
    grid = [*tiny_flags(tokens=2048), "--param", "mup", "--widths", "32", "--lrs",
            "3e-3,1e-2,3e-2", "--batch-size", "4,8,16", "--seeds", "0", "--device", "cpu"]
    p = run_cli("sweep", *grid, "--out", out, "--adaptive", "1", "--budget", "2",
                "--joint", "batch_size", timeout=300)
    assert "Next runs: 2 of a budget of 2" in p.stderr
    assert "adaptive sweep: 1 round(s), 11 run(s) trained" in p.stderr
    new = rows(out)[9:]
    assert len(new) == 2
    for r in new:
        cfg = json.loads(r["config"])
        assert int(r["batch_size"]) == cfg["batch_size"]
    lines = p.stderr.splitlines()
    head = lines[[i for i, line in enumerate(lines) if line.startswith("Next runs")][0] + 1]
    assert head.split()[:2] == ["batch_size", "scale"]  # the table names each run's cell


@pytest.mark.parametrize("args, needle", [
    (["--joint", "batch_size"], "go with --adaptive"),
    (["--budget", "2"], "go with --adaptive"),
    (["--adaptive", "2"], "--budget K >= 1"),
    (["--adaptive", "1", "--budget", "2", "--until", "0.5"], "factor > 1"),
    (["--adaptive", "1", "--budget", "2"], "holds no runs and no grid was given"),
    (["--from-csv", "x.csv", "--lrs", "1e-3,2e-3"], "takes one value here"),
])
def test_adaptive_misuse_is_one_line(tmp_path, capsys, args, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["sweep", "--out", str(tmp_path / "empty.csv"), "--device", "cpu", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err


def test_trainer_does_not_import_scalefit_and_says_when_it_is_missing(tmp_path, capsys,
                                                                     monkeypatch):
    code = ("import sys, reference_trainer.cli, reference_trainer.adaptive, "
            "reference_trainer.runlist, reference_trainer.sweep; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scalefit'))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=cli_env(), cwd=ROOT, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout + p.stderr
    monkeypatch.setitem(sys.modules, "scalefit", None)  # as if not installed
    rc = cli.main(["sweep", *GRID, "--out", str(tmp_path / "r.csv"), "--adaptive", "1",
                   "--budget", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "--adaptive needs scalefit" in err and "pip install" in err
    assert not (tmp_path / "r.csv").exists()  # nothing trained before the check


def test_a_new_surface_cell_is_trained_at_its_batch_size(tmp_path, monkeypatch):
    """A proposed new surface at a new scale has no config to copy: the trainer builds the
    model shape nearest the scale and sets the cell's batch size and LR."""
    import dataclasses

    import pandas as pd

    from reference_trainer import adaptive
    from reference_trainer.build import non_embedding_params
    from reference_trainer.config import RunConfig

    base = RunConfig(width=64, batch_size=8)
    out = tmp_path / "runs.csv"
    pd.DataFrame([{"n_params": non_embedding_params(base), "tokens": base.tokens,
                   "lr": base.lr, "batch_size": 8, "val_loss": 3.0,
                   "config": json.dumps(dataclasses.asdict(base))}]).to_csv(out, index=False)
    target = non_embedding_params(base.replace(width=128))
    runs = pd.DataFrame([{"scale": float(target), "horizon": float(base.tokens),
                          "batch_size": 32.0, "lr": 2e-3, "kind": "new sweep"}])
    todo = pd.DataFrame([{"config": None, "proposal_reason": "a new surface"}])

    def next_runs(df, budget, **kw):
        assert kw["joint"] == "batch_size"
        return None, type("P", (), {"runs": runs})(), todo

    monkeypatch.setattr(adaptive, "_scalefit", lambda: (pd, next_runs))
    _, _, cfgs, skipped = adaptive.propose(out, 1, target_scale=1e9, joint="batch_size")
    assert not skipped and len(cfgs) == 1
    assert (cfgs[0].width, cfgs[0].batch_size, cfgs[0].lr) == (128, 32, 2e-3)


def _edit_row(src, dst, line, **cells):
    """Copy results file `src` to `dst` with the row at `line` (1-based, header 1) edited."""
    with open(src, newline="") as fh:
        table = list(csv.reader(fh))
    header = table[0]
    for k, v in cells.items():
        table[line - 1][header.index(k)] = v
    with open(dst, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


@pytest.mark.parametrize("cells,needle", [
    ({"config": '{"lr": 0.01, "wid'}, "line 3: column 'config' is not JSON"),
    ({"config": "[1, 2]"}, "line 3: column 'config' is not a JSON object"),
    ({"val_loss": "3.1.4"}, "line 3: column 'val_loss': '3.1.4' is not a number"),
])
def test_adaptive_names_the_file_and_line_of_a_bad_row(trained, tmp_path, capsys, cells,
                                                       needle):
    out = tmp_path / "runs.csv"
    _edit_row(trained, out, 3, **cells)
    rc = cli.main(["sweep", "--out", str(out), "--device", "cpu", "--adaptive", "1",
                   "--budget", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"reference-trainer sweep: error: {out}, {needle}"), err


def test_a_row_torn_inside_its_config_is_trained_again(trained, tmp_path):
    """A last line cut just after a quote inside its config JSON (which parses as a
    complete CSV row) is cut off by the next sweep, and its run trained again."""
    out = tmp_path / "runs.csv"
    data = trained.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    last = data[start:-1]
    cut = last.index(b'"{""') + 3  # '"{"': the cut closes the quoted field, config '{'
    out.write_bytes(data[:start] + last[:cut])
    p = run_cli("sweep", *GRID, "--out", out)
    assert f"{out}: removed a partial last line ({cut} bytes)" in p.stderr
    assert "1 to train" in p.stderr
    assert sorted(r["run_id"] for r in rows(out)) == sorted(r["run_id"] for r in rows(trained))
