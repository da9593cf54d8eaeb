"""The curves file (`--curves-every K`): one line per logged step beside the results,
written with the run's row, never torn or duplicated, and read by `scalefit curve`."""

import csv
import os

import pytest

from reference_trainer import sweep
from reference_trainer.batched_train import train_batch
from reference_trainer.results import CURVE_COLUMNS, CURVE_KEY, ResultsFile, curves_path
from reference_trainer.train import train


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_curves_path_sits_beside_the_results(tmp_path):
    assert curves_path(tmp_path / "runs.csv") == tmp_path / "runs.curves.csv"
    assert curves_path(tmp_path / "runs") == tmp_path / "runs.curves.csv"


def test_curve_lines_of_a_run_and_its_row_are_unchanged(tiny):
    cfg = tiny(lr=1e-2, curves_every=3)
    row = train(cfg, quiet=True)
    plain = train(cfg.replace(curves_every=0), quiet=True)
    lines = row.pop(CURVE_KEY)
    assert row["val_loss"] == plain["val_loss"]  # measuring the curve changes nothing
    assert [r["step"] for r in lines] == [2, 5, cfg.steps - 1]
    assert all(set(r) == set(CURVE_COLUMNS) for r in lines)
    assert lines[-1]["val_loss"] == row["val_loss"]
    assert lines[0]["tokens"] == 3 * cfg.tokens_per_step
    assert all(r["val_loss"] is not None for r in lines)


def test_batched_curves_equal_single_runs(tiny):
    cfgs = [tiny(lr=lr, curves_every=2) for lr in (3e-3, 1e-2)]
    rows = train_batch(cfgs, quiet=True)
    for cfg, row in zip(cfgs, rows, strict=True):
        single = train(cfg, quiet=True)[CURVE_KEY]
        batched = row[CURVE_KEY]
        assert [r["step"] for r in batched] == [r["step"] for r in single]
        for a, b in zip(batched, single, strict=True):
            assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-4)
            assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-4)
            assert a["lr"] == pytest.approx(b["lr"])


def _line(run_id, step):
    return {"run_id": run_id, "step": step, "tokens": 8, "lr": 1e-3, "train_loss": 2.0,
            "val_loss": 2.1}


def _row(run_id):
    return {"run_id": run_id, "lr": 1e-3, "val_loss": 2.0, "config": "{}"}


def test_lines_of_runs_without_a_row_are_cut_and_never_duplicated(tmp_path):
    out = ResultsFile(tmp_path / "runs.csv")
    assert out.append(_row("a"), [_line("a", 0), _line("a", 1)])
    # a writer killed after its curve lines, before its row (and mid-line)
    with open(out.curves_path, "ab") as fh:
        fh.write(b"b,0,8,0.001,2.0,2.1\nb,1,8,0.0")
    assert out.repair() is not None
    assert [r["run_id"] for r in _read(out.curves_path)] == ["a", "a"]
    # the same run trained again: its lines once, with its row
    with open(out.curves_path, "ab") as fh:
        fh.write(b"b,0,8,0.001,2.0,2.1\n")
    assert out.append(_row("b"), [_line("b", 0), _line("b", 1)])
    assert not out.append(_row("b"), [_line("b", 0)])
    assert [(r["run_id"], r["step"]) for r in _read(out.curves_path)] == [
        ("a", "0"), ("a", "1"), ("b", "0"), ("b", "1")]
    assert [r["run_id"] for r in out.rows()] == ["a", "b"]


def test_cut_reads_back_past_many_chunks(tmp_path):
    out = ResultsFile(tmp_path / "runs.csv")
    assert out.append(_row("a"), [_line("a", i) for i in range(5)])
    with open(out.curves_path, "ab") as fh:  # an orphan block longer than a read chunk
        fh.write(b"".join(f"b,{i},8,0.001,2.0,2.1\n".encode() for i in range(10_000)))
    size = os.path.getsize(out.curves_path)
    out.repair()
    assert os.path.getsize(out.curves_path) < size
    assert [r["run_id"] for r in _read(out.curves_path)] == ["a"] * 5


def test_sweep_writes_curves_read_by_scalefit_curve(tmp_path, tiny):
    pytest.importorskip("pandas")
    from scalefit.curve_table import load_curve_table

    runs = [tiny(lr=lr, curves_every=1) for lr in (3e-3, 1e-2)]
    out = tmp_path / "runs.csv"
    counts = sweep.run(runs, out, ["cpu"], batch=False)
    assert counts["ok"] == 2
    lines = _read(curves_path(out))
    assert list(lines[0]) == CURVE_COLUMNS
    assert len(lines) == 2 * runs[0].steps
    again = sweep.run(runs, out, ["cpu"], batch=False)  # resumed: nothing new
    assert again["skipped"] == 2 and len(_read(curves_path(out))) == len(lines)
    table = load_curve_table(curves_path(out))
    assert {r.name for r in table.runs} == {c.run_id for c in runs}
    assert table.columns["loss"] == "train_loss"
    for r in table.runs:
        assert r.schedule_from == "logged" and len(r.steps) == runs[0].steps
    val = load_curve_table(curves_path(out), loss="val_loss")
    final = {r["run_id"]: float(r["val_loss"]) for r in ResultsFile(out).rows()}
    assert {r.name: r.loss[-1] for r in val.runs} == pytest.approx(final)


@pytest.mark.parametrize("schedule", ["cosine", "wsd"])
def test_curves_logged_every_k_steps_read_with_the_trainers_warmup(tmp_path, tiny, schedule):
    """Logged every 3 steps, the trainer's curve is read from a description with
    warmup_from=step (its warmup starts at lr / W): every logged LR agrees; the default
    convention (warmup from 0) is refused with the hint."""
    pytest.importorskip("pandas")
    from scalefit.curve_table import load_curve_table
    from scalefit.errors import ScalefitInputError

    cfg = tiny(lr=1e-2, tokens=32 * 8 * 20, curves_every=3, warmup_tokens=0, warmup_frac=0.25,
               schedule=schedule)
    assert cfg.warmup_steps >= 3 and cfg.steps % 3  # logged warmup steps, and a last step
    out = tmp_path / "runs.csv"
    assert sweep.run([cfg], out, ["cpu"], batch=False)["ok"] == 1
    end = cfg.lr * cfg.min_lr_frac
    desc = (f"{schedule}:total={cfg.steps},warmup={cfg.warmup_steps},peak={cfg.lr:g},"
            f"end={end:g}" + (f",decay_start={cfg.decay_start}" if schedule == "wsd" else ""))
    table = load_curve_table(curves_path(out), schedules={"*": desc + ",warmup_from=step"})
    (run,) = table.runs
    assert run.schedule_from == "description" and run.steps[-1] == cfg.steps - 1
    assert len(run.steps) == cfg.steps // 3 + 1
    with pytest.raises(ScalefitInputError, match="warmup_from=step"):
        load_curve_table(curves_path(out), schedules={"*": desc})
