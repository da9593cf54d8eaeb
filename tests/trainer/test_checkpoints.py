"""Checkpoint files: loaded with weights_only (a planted pickle runs no code and is
ignored), and temporary files of killed saves removed once no live save can own them."""

import csv
import os
import subprocess
import sys
import time

import pytest
import torch

from reference_trainer import batched_train as bt
from reference_trainer import runtime
from reference_trainer.hosts import HOST
from reference_trainer.train import train


class Planted:
    """Unpickling this calls os.mkdir(path): code run by loading a checkpoint."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_checkpoints_load_with_weights_only(tiny, tmp_path):
    ckpt = tmp_path / "run.pt"
    train(tiny(ckpt_every=3), ckpt_path=str(ckpt), quiet=True)
    st = torch.load(ckpt, weights_only=True)  # model, optimizer, data generator, losses
    assert st["step"] == 6 and isinstance(st["batches"]["gen"], torch.Tensor)
    cfgs = [tiny(lr=lr, tokens=32 * 8 * 12, ckpt_every=4) for lr in (1e-3, 3e-3)]
    real = bt.Path.unlink
    try:
        bt.Path.unlink = lambda self, missing_ok=False: None  # keep the last batch file
        bt.train_batch(cfgs, ckpt_dir=tmp_path, quiet=True)
    finally:
        bt.Path.unlink = real
    (f,) = tmp_path.glob("batch-*.pt")
    st = torch.load(f, weights_only=True)
    assert st["step"] == 8 and set(st["streams"]) == {0}


def test_a_planted_checkpoint_runs_no_code_and_is_ignored(tiny, tmp_path, capsys):
    cfg = tiny(lr=1e-2, ckpt_every=3)
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "run.pt"
    torch.save({"run_id": cfg.run_id, "step": 3, "payload": Planted(str(marker))}, ckpt)
    fresh = train(cfg, quiet=True)
    row = train(cfg, ckpt_path=str(ckpt), quiet=True)
    assert not marker.exists()  # nothing ran
    assert row["val_loss"] == fresh["val_loss"]  # trained from scratch, not resumed
    err = capsys.readouterr().err
    assert f"ignoring checkpoint {ckpt}: it holds more than tensors" in err
    # a batch checkpoint planted in --ckpt-dir: ignored by the batch that would match it
    cfgs = [tiny(lr=lr) for lr in (1e-3, 3e-3)]
    planted = bt.ckpt_file(tmp_path, [c.run_id for c in cfgs])
    torch.save({"run_ids": [c.run_id for c in cfgs], "step": 4, "x": Planted(str(marker))},
               planted)
    assert bt.find_checkpoint(tmp_path, [c.run_id for c in cfgs]) is None
    assert not marker.exists()
    assert "ignoring checkpoint" in capsys.readouterr().err


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temporary_files_of_killed_saves_are_removed(tmp_path):
    target = tmp_path / "run.pt"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / f"run.pt.tmp{dead_pid()}@{HOST}"
        legacy = tmp_path / f"run.pt.tmp{dead_pid()}"  # the name before hosts were added
        other = tmp_path / f"run.pt.tmp{dead_pid()}@another-host"  # can't tell: kept
        for f in (dead, legacy, other):
            f.write_bytes(b"partial")
        unrelated = tmp_path / "notes.txt"
        unrelated.write_text("x")
        runtime.save_atomic(target, {"step": 1})  # cleans the leftovers of its own file
        assert not dead.exists() and not legacy.exists()
        assert other.exists() and unrelated.exists()
        busy = tmp_path / f"run.pt.tmp{live.pid}@{HOST}"  # a save in progress
        busy.write_bytes(b"partial")
        os.utime(busy, (time.time() + 5, time.time() + 5))  # newer than the checkpoint
        old = time.time() - 3600
        os.utime(other, (old, old))  # older than the checkpoint it would replace: stale
        assert runtime.remove_stale_tmp(tmp_path) == [other.name]
        assert busy.exists() and torch.load(target, weights_only=True) == {"step": 1}
    finally:
        live.kill()
        live.wait()
    assert runtime.remove_stale_tmp(tmp_path) == [busy.name]  # its owner is gone now
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "run.pt"]


# ------------------------------------------------- checkpoints that cannot be resumed
def _good_single(tiny, folder):
    cfg = tiny(lr=1e-2, ckpt_every=3)
    ckpt = folder / "good.pt"
    train(cfg, ckpt_path=str(ckpt), quiet=True)  # the file of its last save (step 6)
    return cfg, torch.load(ckpt, weights_only=True)


def _bad_single(good, cfg):
    """Name -> the bad checkpoint (bytes, or a dict to torch.save) of run `cfg`."""
    wrong_shape = {**good, "model": {k: v[..., :1] for k, v in good["model"].items()}}
    opt = {**good["opt"], "state": {0: {**good["opt"]["state"][0], "exp_avg": torch.zeros(3)}}}
    return {
        "corrupt": b"\x80\x02 not a checkpoint",
        "data only": {"run_ids": 5, "step": 0},
        "another run": {**good, "run_id": "0123456789ab"},
        "missing keys": {"run_id": cfg.run_id, "step": 3},
        "bad step": {**good, "step": "6"},
        "wrong shapes": wrong_shape,
        "wrong optimizer state": {**good, "opt": opt},
        "wrong keys": {**good, "model": {"x" + k: v for k, v in good["model"].items()}},
    }


SINGLE_CASES = ["corrupt", "truncated", "data only", "another run", "missing keys",
                "bad step", "wrong shapes", "wrong optimizer state", "wrong keys"]


@pytest.mark.parametrize("case", SINGLE_CASES)
def test_a_single_run_ignores_a_bad_checkpoint_and_trains_from_scratch(tiny, tmp_path,
                                                                        capsys, case):
    cfg, good = _good_single(tiny, tmp_path)
    ckpt = tmp_path / "run.pt"
    if case == "truncated":
        data = (tmp_path / "good.pt").read_bytes()
        ckpt.write_bytes(data[:len(data) // 2])
    else:
        bad = _bad_single(good, cfg)[case]
        ckpt.write_bytes(bad) if isinstance(bad, bytes) else torch.save(bad, ckpt)
    capsys.readouterr()
    fresh = train(cfg, quiet=True)
    row = train(cfg, ckpt_path=str(ckpt), quiet=True)
    assert row["status"] == "ok" and row["val_loss"] == fresh["val_loss"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ignoring checkpoint {ckpt}: "), err
    assert train(cfg, ckpt_path=str(ckpt), quiet=True)["val_loss"] == fresh["val_loss"]


def _good_batch(cfgs, folder):
    real = bt.Path.unlink
    try:
        bt.Path.unlink = lambda self, missing_ok=False: None  # keep the last batch file
        bt.train_batch(cfgs, ckpt_dir=folder, quiet=True)
    finally:
        bt.Path.unlink = real
    (f,) = folder.glob("batch-*.pt")
    return f


BATCH_CASES = ["corrupt", "truncated", "data only", "missing keys", "wrong shapes",
               "broadcast shapes", "bad losses", "bad streams"]


@pytest.mark.parametrize("case", BATCH_CASES)
def test_a_batch_ignores_a_bad_checkpoint_and_trains_from_scratch(tiny, tmp_path, capsys,
                                                                  case):
    cfgs = [tiny(lr=lr, tokens=32 * 8 * 12, ckpt_every=4) for lr in (1e-3, 3e-3)]
    ids = [c.run_id for c in cfgs]
    made = _good_batch(cfgs, tmp_path / "made")
    good = torch.load(made, weights_only=True)
    flat = good["flat"]
    bad = {"corrupt": b"PK\x03\x04 not a checkpoint",
           "truncated": made.read_bytes()[:made.stat().st_size // 2],
           "data only": {"run_ids": 5, "step": 0},
           "missing keys": {"run_ids": ids, "step": 4},
           "wrong shapes": {**good, "flat": flat[:, :10]},
           "broadcast shapes": {**good, "m": good["m"][:, :1]},  # copy_ would broadcast
           "bad losses": {**good, "losses": [[1.0], [2.0]]},
           "bad streams": {**good, "streams": {0: {"gen": torch.zeros(3)}}}}[case]
    ckpt = bt.ckpt_file(tmp_path, ids)
    ckpt.write_bytes(bad) if isinstance(bad, bytes) else torch.save(bad, ckpt)
    capsys.readouterr()
    fresh = bt.train_batch(cfgs, quiet=True)
    rows = bt.train_batch(cfgs, ckpt_dir=tmp_path, quiet=True)
    assert [r["val_loss"] for r in rows] == [r["val_loss"] for r in fresh]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ignoring checkpoint {ckpt}: "), err
    bt.remove_finished_checkpoints(tmp_path, set(ids))  # never raises on a bad file


def test_a_sweep_trains_every_run_of_a_batch_whose_checkpoint_is_bad(tiny, tmp_path):
    from trainer_helpers import run_cli, tiny_flags

    out, ckpts = tmp_path / "runs.csv", tmp_path / "ckpt"
    ckpts.mkdir()
    bad = ckpts / "batch-000000000000.pt"
    torch.save({"run_ids": 5, "step": 0}, bad)
    p = run_cli("sweep", *tiny_flags(), "--lrs", "1e-3,3e-3,1e-2", "--device", "cpu",
                "--batch", "--ckpt-dir", ckpts, "--ckpt-every", "4", "--out", out)
    warned = [ln for ln in p.stderr.splitlines() if "ignoring checkpoint" in ln]
    assert warned == [f"ignoring checkpoint {bad}: not a batch checkpoint of this trainer "
                      "(no list of run ids and step)"]
    with open(out, newline="") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["ok"] * 3
