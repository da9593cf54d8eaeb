"""Checkpoint files: loaded with weights_only (a planted pickle runs no code and is
ignored), and temporary files of killed saves removed once no live save can own them."""

import os
import subprocess
import sys
import time

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
