"""The CUDA path of the trainer: bf16 autocast, TF32, fused AdamW, torch.compile, batched
training and a sweep on a GPU, NCCL DDP over two GPUs. Skipped without a GPU (CI has
none); run on a GPU machine with `python -m pytest tests/trainer/test_cuda.py`.

Tolerances: bf16 autocast rounds every matmul input to 8 bits of mantissa, so two code
paths that compute the same function (batched bmm vs single mm, compiled vs eager,
GPU vs CPU) agree to about 1e-2 in the loss, not to the last bit as on CPU."""

import json
import subprocess
import sys

import pytest
import torch
from trainer_helpers import cli_env, run_cli

from reference_trainer import batched_train as bt
from reference_trainer import build, optim, train
from reference_trainer.config import RunConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# small, but large enough that a GPU step is not all launch overhead
SMALL = dict(width=128, depth=2, head_dim=32, seq_len=128, batch_size=16, base_width=64,
             tokens=128 * 16 * 40, eval_tokens=2 ** 15, lr=3e-3, device="cuda")


def small(**kw) -> RunConfig:
    return RunConfig(**(SMALL | kw))


def test_bf16_run_trains_with_fused_adamw_and_tf32():
    curves = {}
    row = train.train(small(), quiet=True, losses_out=curves)
    assert row["status"] == "ok" and row["device"] == "cuda:0"
    assert torch.backends.cuda.matmul.allow_tf32  # set by train() for fp32 matmuls
    first, last = curves[row["run_id"]][0], row["train_loss"]
    assert first == pytest.approx(5.55, abs=0.3)  # ln 256: a uniform guess over bytes
    assert last < first - 1.0 and row["val_loss"] < first - 1.0
    cfg = small()
    model, tbl = build.build_model(cfg, 256)
    opt = optim.build(model.cuda(), tbl, cfg, fused=True)
    assert all(g["fused"] for g in opt.param_groups)


def test_gpu_bf16_agrees_with_cpu_fp32():
    """Same seed: the same initial model and data, so the first losses agree to bf16
    precision and the curves stay close over 40 steps."""
    gpu, cpu = {}, {}
    g = train.train(small(), quiet=True, losses_out=gpu)
    c = train.train(small(device="cpu"), quiet=True, losses_out=cpu)
    assert g["run_id"] == c["run_id"]
    assert gpu[g["run_id"]][0] == pytest.approx(cpu[c["run_id"]][0], rel=5e-3)
    assert g["val_loss"] == pytest.approx(c["val_loss"], rel=2e-2)


def test_compile_matches_eager():
    eager, comp = {}, {}
    e = train.train(small(), quiet=True, losses_out=eager)
    c = train.train(small(compile=True), quiet=True, losses_out=comp)
    assert e["run_id"] == c["run_id"]  # compile is not part of a run's identity
    assert comp[c["run_id"]] == pytest.approx(eager[e["run_id"]], rel=2e-2)
    assert c["val_loss"] == pytest.approx(e["val_loss"], rel=1e-2)


@pytest.mark.parametrize("dtype,rtol", [("fp32", 5e-3), ("auto", 2e-2)])
@pytest.mark.parametrize("param", ["sp", "mup", "sp_emb"])
def test_batched_matches_sequential(param, dtype, rtol):
    cfgs = [small(param=param, lr=lr, seed=s, dtype=dtype)
            for lr, s in ((1e-3, 0), (3e-3, 1), (1e-2, 0), (3e-2, 2))]
    bc, sc = {}, {}
    rows = bt.train_batch(cfgs, quiet=True, losses_out=bc)
    seq = [train.train(c, quiet=True, losses_out=sc) for c in cfgs]
    for b, s in zip(rows, seq, strict=True):
        assert b["run_id"] == s["run_id"] and b["device"] == "cuda:0 batch4"
        assert b["status"] == s["status"] == "ok"
        assert bc[b["run_id"]] == pytest.approx(sc[s["run_id"]], rel=rtol)
        assert b["val_loss"] == pytest.approx(s["val_loss"], rel=rtol)


def test_divergence_in_a_cuda_batch_leaves_the_others_alone():
    ok = [small(lr=lr, seed=s) for lr, s in ((1e-3, 0), (3e-3, 1), (1e-2, 2))]
    alone, mixed = {}, {}
    base = bt.train_batch(ok, quiet=True, losses_out=alone)
    rows = bt.train_batch(ok + [small(lr=1e3, seed=3)], quiet=True, losses_out=mixed)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "diverged"]
    assert rows[3]["steps"] < 40 and rows[3]["val_loss"] is None
    for a, b in zip(base, rows[:3], strict=True):
        assert mixed[b["run_id"]] == pytest.approx(alone[a["run_id"]], rel=1e-2)


def test_sweep_on_cuda_is_read_by_scalefit(tmp_path):
    out = tmp_path / "runs.csv"
    run_cli("sweep", "--param", "mup", "--widths", "64,128", "--depth", "2", "--head-dim",
            "32", "--seq-len", "128", "--batch-size", "16", "--tokens", str(128 * 16 * 30),
            "--eval-tokens", "16384", "--lrs", "1e-3,4e-3,1.6e-2", "--device", "cuda",
            "--out", out, timeout=300)
    import pandas as pd

    rows = pd.read_csv(out)
    assert len(rows) == 6 and set(rows["status"]) == {"ok"}
    assert set(rows["device"]) == {"cuda:0 batch3"}
    assert (rows["tokens_per_s"] > 0).all()
    from scalefit import load_runs

    runs = load_runs(out)
    assert runs.n_rows == 6 and runs.data["scale"].nunique() == 2


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL DDP needs two GPUs")
def test_nccl_ddp_two_gpus_matches_single_gpu(tmp_path):
    flags = ["--width", "128", "--depth", "2", "--head-dim", "32", "--seq-len", "128",
             "--batch-size", "16", "--tokens", str(128 * 16 * 20), "--eval-tokens", "16384",
             "--base-width", "64", "--lr", "3e-3", "--device", "cuda", "-q"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "reference_trainer", "train", *flags]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=cli_env(),
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    ddp = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")][0]
    single = json.loads(run_cli("train", *flags, cwd=tmp_path).stdout.splitlines()[-1])
    assert ddp["device"] == "cuda:0 x2" and ddp["run_id"] == single["run_id"]
    assert ddp["val_loss"] == pytest.approx(single["val_loss"], rel=2e-2)
