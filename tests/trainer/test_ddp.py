"""One run over two processes (torchrun, gloo on CPU) equals the single-process run:
every rank takes its slice of the same global batch, gradients are averaged."""

import json
import subprocess
import sys

import pytest
import torch.distributed as dist
from trainer_helpers import cli_env, tiny_flags

from reference_trainer.train import train


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_ddp_two_processes_match_single_process(tiny, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "reference_trainer", "train", *tiny_flags(lr=1e-2), "--device", "cpu",
           "-q", "--out", str(tmp_path / "ddp.csv")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=cli_env(),
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1  # rank 0 reports and writes
    ddp = rows[0]
    single = train(tiny(lr=1e-2), quiet=True)
    assert ddp["run_id"] == single["run_id"] and ddp["device"] == "cpu x2"
    assert ddp["status"] == "ok" and ddp["steps"] == single["steps"]
    assert ddp["val_loss"] == pytest.approx(single["val_loss"], rel=1e-5)
    assert ddp["train_loss"] == pytest.approx(single["train_loss"], rel=1e-5)
