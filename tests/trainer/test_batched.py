"""Batched training (K models of one shape at once) against single runs: the same
losses step by step, per-model LRs, schedules, horizons, decay, clipping, divergence,
checkpoints, and the sweep's batching plan."""

import pytest
import torch

from reference_trainer import batched_train as bt
from reference_trainer.batched import BatchedGPT, batch_key
from reference_trainer.batched_optim import BatchedAdamW
from reference_trainer.sweep import plan
from reference_trainer.train import train

STEPS = 20
SAME = ("run_id", "parameterization", "width", "depth", "heads", "head_dim", "n_params",
        "n_params_total", "tokens", "lr", "lr_mult_emb", "lr_mult_hidden", "lr_mult_readout",
        "lr_mult_norm", "emb_mult", "readout_mult", "attn_scale", "init_std_emb",
        "init_std_hidden", "init_std_readout", "weight_decay", "wd_mode", "schedule",
        "warmup_tokens", "min_lr_frac", "grad_clip", "batch_size", "seq_len", "seed",
        "status", "steps", "config")


def steps(n):
    return 32 * 8 * n  # tokens of n steps of the tiny shape


def run_both(cfgs):
    """(batched rows, curves), (sequential rows, curves)."""
    bc, sc = {}, {}
    rows = bt.train_batch(cfgs, quiet=True, losses_out=bc)
    seq = [train(c, quiet=True, losses_out=sc) for c in cfgs]
    return (rows, bc), (seq, sc)


def assert_same(b, s, rtol=1e-4):
    (rows, bc), (seq, sc) = b, s
    for a, r in zip(rows, seq, strict=True):
        for col in SAME:
            assert a[col] == r[col], (col, a[col], r[col])
        assert bc[a["run_id"]] == pytest.approx(sc[r["run_id"]], rel=rtol)
        if r["status"] == "ok":
            assert a["val_loss"] == pytest.approx(r["val_loss"], rel=rtol)
        else:
            assert a["val_loss"] is None
        assert a["train_loss"] == pytest.approx(r["train_loss"], rel=rtol)
        assert a["device"] == f"cpu batch{len(rows)}"


CASES = {
    # name: (shared settings, per-model settings)
    "sp": (dict(param="sp"), [dict(lr=1e-2, seed=0), dict(lr=3e-3, seed=0),
                              dict(lr=3e-2, seed=1), dict(lr=1e-3, seed=2)]),
    "mup_horizons": (dict(param="mup"), [dict(lr=1e-2, seed=0, tokens=steps(STEPS)),
                                         dict(lr=3e-2, seed=1, tokens=steps(12)),
                                         dict(lr=3e-3, seed=0, tokens=steps(16)),
                                         dict(lr=1e-1, seed=3, tokens=steps(7))]),
    "sp_emb": (dict(param="sp_emb"), [dict(lr=1e-2, seed=0), dict(lr=3e-3, seed=1),
                                      dict(lr=3e-2, seed=2, schedule="linear"),
                                      dict(lr=1e-3, seed=0, warmup_frac=0.3)]),
    # parameterizations mixed in one batch (per-model multipliers and attention scale),
    # per-model weight decay, clipping, schedules; RoPE, LayerNorm with biases
    "mixed": (dict(wd_mode="independent", pos="rope", norm="layer", bias=True),
              [dict(param="sp", lr=1e-2, weight_decay=1e-2, grad_clip=0.5),
               dict(param="mup", lr=3e-2, weight_decay=0.0, grad_clip=0.0),
               dict(param="sp_emb", lr=3e-3, weight_decay=1e-3, schedule="constant"),
               dict(param="mup-attn+emb_lr", lr=1e-2, weight_decay=5e-3, min_lr_frac=0.0,
                    tokens=steps(11), mult_readout=2.0, lr_factor_hidden=0.5)]),
    "coupled_decay": (dict(param="mup", wd_mode="coupled", micro_batch_size=4),
                      [dict(lr=1e-2, weight_decay=0.1), dict(lr=3e-2, weight_decay=0.0),
                       dict(lr=3e-3, weight_decay=0.3, seed=5),
                       dict(lr=1e-2, weight_decay=0.1, readout_zero_init=True)]),
    # the study settings: base init relative to the base width with per-type factors,
    # attention normalised at the base width, decay scaled to transfer, fixed warmup
    "study_options": (dict(base_width=32, wd_mode="coupled", warmup_tokens=steps(3)),
                      [dict(param="mup", lr=1e-2, init_rel=0.5, attn_norm="base",
                            weight_decay=0.1, wd_transfer=True),
                       dict(param="sp", lr=3e-3, init_rel=0.8, init_factor_readout=0.0),
                       dict(param="mup-attn", lr=2e-2, init_factor_hidden=2.0,
                            weight_decay=0.2, wd_transfer=True, seed=1),
                       dict(param="sp_emb", lr=1e-2, attn_norm="base", weight_decay=0.1,
                            wd_transfer=True, tokens=steps(13))]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_batch_of_four_equals_four_single_runs(tiny, case):
    shared, per = CASES[case]
    cfgs = [tiny(**(dict(width=64, tokens=steps(STEPS)) | shared | p)) for p in per]
    assert len({batch_key(c) for c in cfgs}) == 1
    b, s = run_both(cfgs)
    assert_same(b, s)
    assert all(r["status"] == "ok" for r in b[0])
    assert [r["steps"] for r in b[0]] == [c.steps for c in cfgs]


def test_diverging_model_is_frozen_and_leaves_the_others_unchanged(tiny):
    good = [tiny(width=64, param="mup", lr=lr, seed=s, tokens=steps(STEPS))
            for lr, s in ((1e-2, 0), (3e-2, 1), (3e-3, 2))]
    bad = tiny(width=64, param="mup", lr=1e3, seed=0, tokens=steps(STEPS))
    with_bad, curves = {}, {}
    rows = bt.train_batch([good[0], bad, good[1], good[2]], quiet=True, losses_out=with_bad)
    alone = bt.train_batch(good, quiet=True, losses_out=curves)
    for r, a in zip([rows[0], rows[2], rows[3]], alone, strict=True):
        assert r["status"] == "ok" and r["val_loss"] == pytest.approx(a["val_loss"], rel=1e-6)
        assert with_bad[r["run_id"]] == pytest.approx(curves[r["run_id"]], rel=1e-6)
    row = rows[1]
    assert row["status"] == "diverged" and row["val_loss"] is None
    assert row["steps"] < STEPS
    single = train(bad, quiet=True)
    assert single["status"] == "diverged" and single["steps"] == row["steps"]


def test_each_model_starts_from_its_single_run_init(tiny):
    from reference_trainer.build import build_model

    cfgs = [tiny(param=p, seed=s, width=64) for p, s in (("sp", 0), ("mup", 1), ("mup", 0))]
    model = BatchedGPT(cfgs, 256)
    for k, c in enumerate(cfgs):
        single, _ = build_model(c, 256)
        mine = model.gpt(k)
        assert mine.cfg == single.cfg  # forward multipliers and attention scale
        for (n, a), (_, b) in zip(single.named_parameters(), mine.named_parameters(),
                                  strict=True):
            assert torch.equal(a, b), n


def test_sweep_splits_a_batch_that_runs_out_of_memory(tiny, tmp_path, monkeypatch):
    from reference_trainer import sweep

    sizes = []
    real = bt.train_batch

    def small_gpu(cfgs, **kw):
        sizes.append(len(cfgs))
        if len(cfgs) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(cfgs, **kw)

    monkeypatch.setattr(bt, "train_batch", small_gpu)
    runs = [tiny(lr=lr) for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)]
    counts = sweep.run(runs, tmp_path / "runs.csv", ["cpu"], max_batch=8)
    assert counts["ok"] == 5 and counts["failed"] == 0
    assert sizes == [5, 2, 3, 2]  # halves, then halves of the 3 (a run alone: train.train)

    def broken(cfgs, **kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(bt, "train_batch", broken)
    counts = sweep.run([tiny(lr=lr) for lr in (2e-3, 4e-3)], tmp_path / "runs.csv", ["cpu"])
    assert counts["failed"] == 2 and len(sweep.ResultsFile(tmp_path / "runs.csv").rows()) == 5


def test_per_model_gradient_clipping():
    from reference_trainer.config import RunConfig

    cfgs = [RunConfig(width=32, depth=1, head_dim=16, seq_len=16, grad_clip=c, lr=1e-3)
            for c in (1.0, 1.0, 0.0, 0.5)]
    model = BatchedGPT(cfgs, 64)
    opt = BatchedAdamW(model)
    g = torch.randn(model.K, model.N)
    g *= torch.tensor([10.0, 0.5, 10.0, 2.0])[:, None] / g.norm(dim=1, keepdim=True)
    model.grad.copy_(g)
    before = opt.clip_grads()
    assert before.tolist() == pytest.approx([10.0, 0.5, 10.0, 2.0], rel=1e-5)
    assert model.grad.norm(dim=1).tolist() == pytest.approx([1.0, 0.5, 10.0, 0.5], rel=1e-5)


def test_batch_checkpoint_resumes_after_a_kill_with_the_same_losses(tiny, tmp_path,
                                                                    monkeypatch):
    cfgs = [tiny(width=64, lr=lr, seed=s, tokens=steps(n), ckpt_every=4)
            for lr, s, n in ((1e-2, 0, 14), (3e-2, 1, 6), (3e-3, 0, 14))]
    ref_curves = {}
    ref = bt.train_batch(cfgs, quiet=True, losses_out=ref_curves)
    calls = {"n": 0}
    real = bt.BatchedAdamW.step

    def dies_at_step_11(self, factor):
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt  # after the checkpoint at step 8; run 1 has its row
        return real(self, factor)

    written = {}
    monkeypatch.setattr(bt.BatchedAdamW, "step", dies_at_step_11)
    with pytest.raises(KeyboardInterrupt):
        bt.train_batch(cfgs, ckpt_dir=tmp_path, quiet=True,
                       on_row=lambda k, row: written.setdefault(k, row))
    monkeypatch.setattr(bt.BatchedAdamW, "step", real)
    assert list(written) == [1] and len(list(tmp_path.glob("batch-*.pt"))) == 1
    # the sweep resumes with the runs that have no row yet: part of the saved batch
    rest = [cfgs[0], cfgs[2]]
    curves, taken = {}, []
    monkeypatch.setattr(bt.BatchedAdamW, "step",
                        lambda self, f: (taken.append(self.t), real(self, f)))
    resumed = bt.train_batch(rest, ckpt_dir=tmp_path, quiet=True, losses_out=curves)
    assert taken == list(range(8, 14))  # from the checkpoint at step 8, not from scratch
    for r, want in zip(resumed, [ref[0], ref[2]], strict=True):
        assert r["val_loss"] == pytest.approx(want["val_loss"], rel=1e-6)
        assert curves[r["run_id"]] == pytest.approx(ref_curves[r["run_id"]], rel=1e-6)
    assert written[1]["val_loss"] == pytest.approx(ref[1]["val_loss"], rel=1e-6)
    bt.remove_finished_checkpoints(tmp_path, {c.run_id for c in cfgs})
    assert not list(tmp_path.iterdir())


def test_plan_groups_by_shape_caps_k_and_feeds_every_device(tiny):
    runs = [tiny(width=w, lr=lr, tokens=t) for w in (32, 64) for t in (2048, 4096)
            for lr in (1e-3, 3e-3, 1e-2)]
    batches = plan(runs, max_batch=4)
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert [len(b) for b in batches] == [4, 2, 4, 2]  # horizons share a batch, widths not
    for b in batches:
        assert len({runs[i].width for i in b}) == 1
    assert all(len(b) == 1 for b in plan(runs, max_batch=1))
    assert len(plan(runs[:6], max_batch=16, n_devices=4)) == 4
    wide = plan(runs, max_batch=4, max_width=32)  # width 64 > 32: one by one
    assert [len(b) for b in wide] == [4, 2] + [1] * 6
    assert batch_key(tiny(lr=1.0, seed=3, param="sp")) == batch_key(tiny(param="mup"))
    assert batch_key(tiny(batch_size=4)) != batch_key(tiny())


def test_probe_choice_takes_a_larger_k_only_when_10_percent_faster():
    from reference_trainer.sweep import choose_k

    assert choose_k({1: 100.0}) == 1
    assert choose_k({1: 100.0, 4: 109.0}) == 1  # 9% is not enough
    assert choose_k({1: 100.0, 4: 111.0}) == 4
    assert choose_k({1: 100.0, 4: 150.0, 16: 160.0}) == 4  # 16 only 7% over 4
    assert choose_k({1: 100.0, 4: 150.0, 16: 170.0}) == 16
    assert choose_k({1: 100.0, 4: 105.0, 16: 115.0}) == 16  # 15% over the K chosen (1)
    assert choose_k({16: 90.0, 1: 100.0, 4: 80.0}) == 1  # batching slower: one by one
    assert choose_k({1: 100.0, 4: 120.0}, min_gain=1.25) == 1
    with pytest.raises(ValueError):
        choose_k({})


def test_probe_ks_are_capped_at_the_runs_and_max_batch():
    from reference_trainer.sweep import probe_ks_for

    assert probe_ks_for(1, 16) == [] and probe_ks_for(40, 1) == []
    assert probe_ks_for(2, 16) == [1, 2]
    assert probe_ks_for(6, 16) == [1, 4, 6]
    assert probe_ks_for(40, 16) == [1, 4, 16]
    assert probe_ks_for(40, 8) == [1, 4, 8]


def test_cpu_batch_sizes_probe_once_per_shape_and_plan_follows(tiny, monkeypatch, capsys):
    from reference_trainer import sweep

    monkeypatch.setattr(sweep, "_probed", {})
    calls = []

    def fake(cfg, ks):  # width 32: batching pays at K = 4; width 64: it does not
        calls.append((cfg.width, tuple(ks)))
        return {k: (1000.0 * (1 + 0.5 * (k > 1)) if cfg.width == 32 else 1000.0 / k)
                for k in ks}

    runs = [tiny(width=w, lr=lr) for w in (32, 64) for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)]
    runs.append(tiny(width=128))  # one run: nothing to probe
    sizes = sweep.cpu_batch_sizes(runs, 16, probe=fake)
    assert calls == [(32, (1, 4, 5)), (64, (1, 4, 5))]
    assert sorted(sizes.values()) == [1, 4]
    assert sizes[batch_key(runs[0])] == 4 and sizes[batch_key(runs[5])] == 1
    assert [len(b) for b in plan(runs, 16, sizes=sizes)] == [4, 1] + [1] * 5 + [1]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("cpu batch probe: mup w=32 d=1 bs=8 seq=32 (5 runs): model-tokens/s "
                      "K=1 1,000, K=4 1,500, K=5 1,500 -> batches of up to 4")
    assert err[1].endswith("K=5 200 -> one by one")
    # cached for the process: a second sweep of these shapes measures nothing again
    sweep.cpu_batch_sizes(runs[:5], 16, probe=fake)
    assert len(calls) == 2 and capsys.readouterr().err.strip().endswith(
        "(measured earlier) -> batches of up to 4")


def test_cpu_batch_env_and_flags_decide_the_plan(tiny, monkeypatch):
    from reference_trainer import sweep

    runs = [tiny(lr=lr) for lr in (1e-3, 3e-3)]
    monkeypatch.setattr(sweep, "cpu_batch_sizes", lambda todo, mb: {"probed": mb})
    for mode, want in (("off", (1, None, None)), ("on", (16, None, None)),
                       ("width", (16, sweep.CPU_BATCH_MAX_WIDTH, None)),
                       ("auto", (16, None, {"probed": 16})), ("", (16, None, {"probed": 16}))):
        monkeypatch.setenv(sweep.CPU_BATCH_ENV, mode)
        assert sweep.cpu_plan_args(runs, None, 16, cpu_only=True) == want, mode
        # flags force it, and GPUs always batch
        assert sweep.cpu_plan_args(runs, True, 16, cpu_only=True) == (16, None, None)
        assert sweep.cpu_plan_args(runs, False, 16, cpu_only=True) == (1, None, None)
        assert sweep.cpu_plan_args(runs, None, 16, cpu_only=False) == (16, None, None)
    # a sweep on a Ray cluster cannot probe its workers from here: the width rule
    monkeypatch.setenv(sweep.CPU_BATCH_ENV, "auto")
    assert sweep.cpu_plan_args(runs, None, 8, True, can_probe=False) == (8, 64, None)
    monkeypatch.setenv(sweep.CPU_BATCH_ENV, "maybe")
    with pytest.raises(ValueError, match="REFERENCE_TRAINER_CPU_BATCH"):
        sweep.cpu_plan_args(runs, None, 16, cpu_only=True)


def test_probe_ks_times_both_paths(tiny):
    from reference_trainer.estimate import probe_ks

    rates = probe_ks(tiny(), [1, 2], rounds=2, min_s=0.01, steps=1, warmup=1)
    assert set(rates) == {1, 2} and all(r > 0 for r in rates.values())


def test_heartbeat_reports_progress_and_a_batch_eta(monkeypatch):
    from reference_trainer import batched_train as bt
    from reference_trainer.config import RunConfig

    cfgs = [RunConfig(width=16, n_heads=2, tokens=t) for t in (2**16, 2**17)]
    lines = []
    clock = iter([0.0, 30.0, 61.0, 200.0])
    monkeypatch.setattr(bt.time, "perf_counter", lambda: next(clock))
    hb = bt.Heartbeat(cfgs, [100, 200], lines.append, every_s=60)
    hb.step(1, [0, 1])      # t = 30: too soon
    hb.step(2, [0, 1])      # t = 61: 4 model-steps in 61 s
    assert len(lines) == 1 and "step 2/200" in lines[0] and "2 of 2 runs left" in lines[0]
    rate = 4 / 61 * cfgs[0].tokens_per_step
    assert f"{rate:,.0f} tokens/s" in lines[0]
    left = (100 - 2) + (200 - 2)
    assert f"about {left / (4 / 61) / 60:.0f} min left" in lines[0]
    assert hb.model_steps == 4


def test_batched_rows_report_the_batch_throughput(tmp_path):
    from reference_trainer.batched_train import train_batch
    from reference_trainer.config import RunConfig

    base = dict(width=16, depth=1, n_heads=2, seq_len=16, batch_size=2, tokens=32 * 200,
                eval_tokens=64, device="cpu")
    rows = train_batch([RunConfig(lr=lr, **base) for lr in (1e-3, 2e-3, 4e-3)], quiet=True)
    # three models trained together: the machine's rate is 3x one model's share of it
    per_model = rows[0]["steps"] * 32 / rows[0]["wall_time_s"]
    assert rows[0]["tokens_per_s"] > 2 * per_model
