"""Coordinate check: after a few Adam steps at a high LR, activations grow with width
under SP and stay flat under muP (slope of log2 mean|h| against log2 width)."""

import pytest

from reference_trainer.coord import coord_check

WIDTHS = (64, 128, 256, 512)
KW = dict(widths=WIDTHS, steps=4, lr=1e-2, seeds=(0, 1, 2), depth=2, head_dim=32)


@pytest.fixture(scope="module")
def slopes():
    return {p: coord_check(p, **KW) for p in ("sp", "mup")}


def _hidden_and_output(res):
    return {k: v for k, v in res.slopes.items() if k != "emb"}


def test_sp_activations_grow_with_width(slopes):
    s = _hidden_and_output(slopes["sp"])
    assert set(s) == {"attn.0", "mlp.0", "attn.1", "mlp.1", "logits"}
    bad = {k: v for k, v in s.items() if not v > 0.5}
    assert not bad, f"SP layers not growing with width: {bad}\n{slopes['sp'].summary()}"


def test_mup_activations_flat_across_width(slopes):
    s = slopes["mup"].slopes  # embedding included: flat in both
    bad = {k: v for k, v in s.items() if not abs(v) < 0.25}
    assert not bad, f"muP layers not flat: {bad}\n{slopes['mup'].summary()}"


def test_embedding_flat_under_sp_too(slopes):
    assert abs(slopes["sp"].slopes["emb"]) < 0.25


def test_verdicts_per_tensor_type():
    from reference_trainer.coord import CoordResult

    widths = [16, 32, 64]
    res = CoordResult(widths=widths, scales={
        "emb": [1.0, 1.0, 1.0], "attn.0": [1.0, 2.0, 4.0], "mlp.0": [1.0, 1.9, 4.1],
        "logits": [1.0, 0.5, 0.25]})
    v = res.verdicts()
    assert v["emb"][1] == "flat" and v["hidden"][1] == "grows" and v["readout"][1] == "shrinks"
    assert v["hidden"][0] == pytest.approx(1.0, abs=0.05)
    assert "hidden grows" in res.summary()


def test_check_in_the_training_configuration():
    """As trained (warmup, schedule over the horizon, clipping): the hidden layers still
    grow with width under SP and stay flat under muP."""
    kw = dict(widths=(32, 64, 128), steps=8, lr=3e-2, depth=1, head_dim=16, as_trained=True,
              tokens=64 * 8 * 256, warmup_tokens=64 * 8 * 4, init_rel=0.5, attn_norm="base",
              grad_clip=1.0)
    sp, mup = coord_check("sp", **kw), coord_check("mup", **kw)
    assert sp.verdicts()["hidden"][1] == "grows", sp.summary()
    assert mup.verdicts()["hidden"][1] == "flat", mup.summary()
    assert mup.verdicts()["emb"][1] == "flat"


def test_coord_command_prints_verdicts_and_expect_flat_sets_the_exit_status(capsys):
    from reference_trainer.cli import main

    argv = ["coord", "--widths", "32,64,128", "--depth", "1", "--head-dim", "16",
            "--steps", "6", "--lr", "3e-2", "--seeds", "0", "--as-trained",
            "--set", "tokens=131072", "--set", "warmup_tokens=2048", "--set", "init_rel=0.5"]
    assert main(argv + ["--param", "sp", "--expect-flat"]) == 1  # SP's hidden layers grow
    out = capsys.readouterr().out
    assert "as trained" in out and "hidden grows" in out
    assert main(argv + ["--param", "sp"]) == 0  # without --expect-flat: a report only
    assert main(argv + ["--param", "sp", "--set", "nonsense=1"]) == 2
