"""Training: determinism, checkpoint/resume, accumulation, divergence, schedule, decay."""

import math

import pytest
import torch

from reference_trainer import optim, schedule
from reference_trainer import train as train_mod
from reference_trainer.build import build_model
from reference_trainer.train import train


def test_same_seed_same_loss_to_the_last_bit(tiny):
    a, b = train(tiny(seed=3), quiet=True), train(tiny(seed=3), quiet=True)
    assert a["status"] == "ok"
    assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]
    c = train(tiny(seed=4), quiet=True)
    assert c["val_loss"] != a["val_loss"]


def test_resume_from_checkpoint_is_bitwise_identical(tiny, tmp_path, monkeypatch):
    cfg = tiny(ckpt_every=3, lr=1e-2)
    full = train(cfg, quiet=True)
    ckpt = tmp_path / "run.pt"
    calls = {"n": 0}
    real = optim.apply_schedule

    def dies_at_step_5(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # killed after the checkpoint at step 3
        return real(*a, **k)

    monkeypatch.setattr(train_mod.optim, "apply_schedule", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ckpt_path=str(ckpt), quiet=True)
    assert ckpt.exists()
    monkeypatch.setattr(train_mod.optim, "apply_schedule", real)
    resumed = train(cfg, ckpt_path=str(ckpt), quiet=True)
    assert resumed["val_loss"] == full["val_loss"]
    assert resumed["train_loss"] == full["train_loss"]
    assert resumed["steps"] == full["steps"] == cfg.steps


def test_checkpoint_of_another_run_is_ignored(tiny, tmp_path):
    ckpt = tmp_path / "run.pt"
    train(tiny(ckpt_every=2, lr=3e-3), ckpt_path=str(ckpt), quiet=True)
    assert ckpt.exists()  # last checkpoint (step 6 of 8) stays
    fresh = train(tiny(lr=1e-2), quiet=True)
    other = train(tiny(lr=1e-2), ckpt_path=str(ckpt), quiet=True)
    assert other["val_loss"] == fresh["val_loss"]


def test_evaluation_during_training_is_logged_and_changes_nothing(tiny, capsys):
    plain = train(tiny(lr=1e-2), quiet=True)
    logged = train(tiny(lr=1e-2, eval_every=3))
    assert logged["val_loss"] == plain["val_loss"]
    err = capsys.readouterr().err
    assert "step 3/8 val_loss" in err and "step 6/8 val_loss" in err


def test_gradient_accumulation_matches_full_batch(tiny):
    a = train(tiny(lr=1e-2), quiet=True)
    b = train(tiny(lr=1e-2, micro_batch_size=2), quiet=True)
    assert a["run_id"] == b["run_id"]
    assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)


def test_forced_divergence_stops_early(tiny):
    row = train(tiny(lr=1e3, tokens=32 * 8 * 50), quiet=True)
    assert row["status"] == "diverged"
    assert row["val_loss"] is None
    assert row["steps"] < 50


@pytest.mark.parametrize("kw", [dict(pos="rope"), dict(norm="layer", bias=True),
                                dict(n_heads=1), dict(schedule="linear", wd_mode="independent",
                                                      weight_decay=0.1)])
def test_variants_train(tiny, kw):
    row = train(tiny(lr=1e-2, **kw), quiet=True)
    assert row["status"] == "ok" and math.isfinite(row["val_loss"])
    assert row["val_loss"] < math.log(256)


def test_row_counts_and_multipliers(tiny):
    cfg = tiny(param="mup", width=64, base_width=32, depth=2)
    row = train(cfg, quiet=True)
    C, L, V, T = 64, 2, 256, cfg.seq_len
    assert row["n_params"] == L * (12 * C * C + 2 * C) + C  # blocks + final norm
    assert row["n_params_total"] == row["n_params"] + 2 * V * C + T * C
    assert row["lr_mult_hidden"] == 0.5 and row["readout_mult"] == 0.5
    assert row["lr_mult_emb"] == 1.0 and row["attn_scale"] == "1/d_head"
    assert row["tokens"] == cfg.tokens and row["steps"] == cfg.steps


# ------------------------------------------------------------------------- schedule
def test_schedule_shape():
    n, w = 100, 10
    f = [schedule.lr_factor(i, n, w, "cosine", 0.1) for i in range(n + 1)]
    assert f[0] == pytest.approx(0.1) and f[w - 1] == 1.0 and f[w] == 1.0
    assert all(a >= b for a, b in zip(f[w:], f[w + 1:], strict=False))
    assert f[w + 45] == pytest.approx(0.55)  # half way through the decay
    assert f[n] == pytest.approx(0.1)  # the floor is reached at the horizon, not before
    lin = [schedule.lr_factor(i, n, w, "linear", 0.0) for i in range(n + 1)]
    assert lin[w + 45] == pytest.approx(0.5) and lin[n] == 0.0
    assert schedule.lr_factor(50, n, w, "constant") == 1.0


def test_optimizer_groups_scale_and_never_set_absolutely(tiny):
    cfg = tiny(param="mup", width=64, base_width=32, lr=2e-3)
    model, tbl = build_model(cfg, 256)
    opt = optim.build(model, tbl, cfg)
    for g in opt.param_groups:
        assert g["lr_scale"] == pytest.approx(2e-3 * tbl.rules[g["tensor_type"]].lr_mult)
    opt.param_groups[0]["lr_scale"] *= 3  # e.g. a per-model LR: the schedule follows it
    optim.apply_schedule(opt, 0.5, "coupled")
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(g["lr_scale"] * 0.5)


@pytest.mark.parametrize("mode", ["coupled", "independent"])
def test_weight_decay_modes(tiny, mode):
    cfg = tiny(width=64, base_width=32, param="mup", lr=1e-2, weight_decay=0.1, wd_mode=mode)
    model, tbl = build_model(cfg, 256)
    opt = optim.build(model, tbl, cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # Adam's update is 0: only the decay acts
    factor = 0.25
    optim.apply_schedule(opt, factor, mode)
    opt.step()
    groups = {id(p): g for g in opt.param_groups for p in g["params"]}
    for n, p in model.named_parameters():
        g = groups[id(p)]
        if g["tensor_type"] == "norm":
            assert torch.equal(p, before[n])
            continue
        rate = 0.1 * factor if mode == "independent" else g["lr_scale"] * factor * 0.1
        torch.testing.assert_close(p.detach(), before[n] * (1 - rate), rtol=1e-6, atol=0)
