"""Loss spikes: counted from every step's training loss and written to the results row."""

import math

import numpy as np

from reference_trainer import loop


def test_a_smooth_noisy_curve_has_no_spike():
    rng = np.random.default_rng(0)
    x = 3 * np.exp(-np.arange(2000) / 500) + 2 + 0.03 * rng.standard_normal(2000)
    n, top = loop.spikes(list(x))
    assert n == 0 and 0.9 < top < 1.2


def test_spikes_are_counted_as_episodes():
    x = np.full(400, 2.0)
    x[100:104] = 3.0          # one spike of 4 steps
    x[300] = 2.6              # another, one step
    x[350] = 2.3              # below 1.2 x 2.0: not a spike
    n, top = loop.spikes(list(x))
    assert n == 2 and math.isclose(top, 1.5)


def test_a_non_finite_loss_is_a_spike_and_short_curves_are_not_judged():
    x = [2.0] * 100 + [float("nan")]
    assert loop.spikes(x) == (1, None)
    assert loop.spikes([2.0] * 50) == (0, None)


def test_results_row_carries_the_spike_columns(tmp_path):
    from reference_trainer.config import RunConfig
    from reference_trainer.train import train

    cfg = RunConfig(width=16, depth=1, n_heads=2, seq_len=16, batch_size=2, tokens=32 * 80,
                    eval_tokens=256, device="cpu", lr=3e-3)
    row = train(cfg, quiet=True)
    assert row["loss_spikes"] >= 0 and row["max_loss_ratio"] > 0
