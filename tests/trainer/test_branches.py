"""WSD branches: a family of WSD runs trains its stable phase once and branches each
cooldown; every branch's row equals the run trained alone (CPU, bit for bit)."""

import pytest

from reference_trainer import schedule, sweep
from reference_trainer.branches import train_family
from reference_trainer.results import CURVE_KEY, ResultsFile
from reference_trainer.train import train

STEP_TOKENS = 32 * 8  # seq_len x batch_size of TINY


def _wsd(tiny, steps, **kw):
    return tiny(**(dict(schedule="wsd", tokens=steps * STEP_TOKENS,
                        warmup_tokens=2 * STEP_TOKENS, lr=1e-2, curves_every=3) | kw))


def test_wsd_schedule_is_stable_then_a_linear_cooldown(tiny):
    cfg = _wsd(tiny, 10, min_lr_frac=0.0)
    assert (cfg.cooldown_steps, cfg.decay_start) == (2, 8)
    f = [schedule.factor(cfg, i) for i in range(10)]
    assert f == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    longer = _wsd(tiny, 20, min_lr_frac=0.0)
    assert longer.stable_id == cfg.stable_id != _wsd(tiny, 10, seed=1).stable_id
    assert [schedule.factor(longer, i) for i in range(8)] == f[:8]


def test_branches_equal_the_runs_trained_alone(tiny):
    cfgs = [_wsd(tiny, n) for n in (20, 10, 15)]  # decay starts 16, 8, 12
    rows = train_family(cfgs, quiet=True)
    for cfg, row in zip(cfgs, rows, strict=True):
        alone = train(cfg, quiet=True)
        assert row["run_id"] == alone["run_id"] == cfg.run_id
        assert row["branch_of"] == alone["branch_of"] == cfg.stable_id
        assert row["tokens"] == cfg.tokens and row["status"] == "ok"
        for key in ("val_loss", "train_loss", "steps", "loss_spikes", "config"):
            assert row[key] == alone[key], key
        assert row[CURVE_KEY] == alone[CURVE_KEY]


def test_a_family_that_diverges_in_the_stable_phase(tiny):
    cfgs = [_wsd(tiny, n, lr=30.0, diverge_factor=1.01) for n in (10, 20)]
    rows = train_family(cfgs, quiet=True)
    for cfg, row in zip(cfgs, rows, strict=True):
        alone = train(cfg, quiet=True)
        assert row["status"] == alone["status"] == "diverged"
        assert row["steps"] == alone["steps"]
        assert row[CURVE_KEY] == alone[CURVE_KEY]


def test_sweep_trains_a_family_once_and_resumes_the_missing_branches(tmp_path, tiny):
    runs = [_wsd(tiny, n, lr=lr) for lr in (3e-3, 1e-2) for n in (10, 20)]
    assert sweep.plan(runs, 16, n_devices=2) == [[0, 1], [2, 3]]  # a family is one unit
    out = tmp_path / "runs.csv"
    first = sweep.run(runs[:1] + runs[2:], out, ["cpu"])
    assert first["ok"] == 3
    again = sweep.run(runs, out, ["cpu"])  # only the missing branch
    assert again["skipped"] == 3 and again["ok"] == 1
    rows = {r["run_id"]: r for r in ResultsFile(out).rows()}
    assert len(rows) == 4
    for cfg in runs:
        assert rows[cfg.run_id]["branch_of"] == cfg.stable_id
        assert int(rows[cfg.run_id]["tokens"]) == cfg.tokens
    alone = train(runs[1], quiet=True)
    assert float(rows[runs[1].run_id]["val_loss"]) == pytest.approx(alone["val_loss"],
                                                                      abs=1e-12)


def test_branch_horizons_flag_is_the_tokens_axis_of_a_wsd_sweep(tmp_path, capsys):
    from reference_trainer.cli import main

    out = tmp_path / "runs.csv"
    assert main(["sweep", "--schedule", "cosine", "--branch-horizons", "1k", "--out",
                 str(out)]) == 2
    assert "--branch-horizons goes with --schedule wsd" in capsys.readouterr().err
    assert main(["sweep", "--schedule", "wsd", "--branch-horizons", "1k", "--tokens", "2k",
                 "--out", str(out)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["sweep", "--schedule", "wsd", "--branch-horizons", "2560,5120", "--lr",
                 "1e-2", "--width", "32", "--head-dim", "16", "--depth", "1", "--seq-len",
                 "32", "--batch-size", "8", "--eval-tokens", "1024", "--base-width", "32",
                 "--warmup-tokens", "512", "--device", "cpu", "--dry-run", "--no-probe",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tokens=2560" in text and "tokens=5120" in text and "2 runs" in text
