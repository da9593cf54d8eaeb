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
