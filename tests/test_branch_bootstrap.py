"""WSD branches (``branch_of``): the bootstrap resamples the branches of one stable run
together, as one unit across the sweeps of their horizons (a cluster bootstrap)."""

import numpy as np
import pandas as pd

import scalefit
from scalefit.core.bootstrap import level_sum_blocks
from scalefit.core.sweeps import index_runs
from scalefit.errors import ScalefitInputError

HORIZONS = [1e6 * 2**k for k in range(6)]
LRS = np.exp(np.linspace(np.log(1e-3), np.log(1.6e-2), 7))
X0, B = np.log(4e-3), -0.3  # ln lr_opt at the first horizon, and its horizon exponent


def table(seed: int, offset_sd: float = 0.02, noise_sd: float = 0.001) -> pd.DataFrame:
    """Two seeds per LR, each a stable run branched at every horizon: its loss carries one
    random offset shared by all its branches (the stable phase they share) plus a little
    noise of its own."""
    rng = np.random.default_rng(seed)
    rows = []
    for lr in LRS:
        for s in range(2):
            offset = rng.normal(0, offset_sd)
            for h in HORIZONS:
                x = np.log(lr) - (X0 + B * np.log(h / HORIZONS[0]))
                rows.append({"lr": lr, "tokens": h, "n_params": 1e6, "seed": s,
                             "branch_of": f"stable-{lr:.4g}-{s}",
                             "val_loss": 3 + 0.05 * x * x + offset + rng.normal(0, noise_sd)})
    return pd.DataFrame(rows)


def test_a_resample_draws_every_branch_of_a_stable_run_together():
    # two sweeps (horizons), the same 5 stable runs in each, one run per LR
    gid = np.repeat([0, 1], 5)
    lr = np.tile(np.exp(np.arange(5.0)), 2)
    loss = np.r_[np.arange(5.0), np.arange(5.0) + 10]
    sw = index_runs(gid, 2, lr, loss, np.zeros(10, bool), np.array([[1, 1], [1, 2]]),
                    cluster=np.tile(np.arange(5), 2))
    for n, _s, _ in level_sum_blocks(sw, 60, seed=0):
        assert np.array_equal(n[:, 0], n[:, 1])  # the same draws in both sweeps
        assert np.all(n.sum(-1) == 5)
        assert (n > 1).any()  # with replacement
    plain = index_runs(gid, 2, lr, loss, np.zeros(10, bool), np.array([[1, 1], [1, 2]]))
    n = np.concatenate([b[0] for b in level_sum_blocks(plain, 60, seed=0)])
    assert not np.array_equal(n[:, 0], n[:, 1])  # independent draws per sweep


def test_the_column_is_read_and_said_and_unique_values_change_nothing():
    df = table(1)
    r = scalefit.fit(df, n_boot=50, progress=None)
    assert sum(n.startswith("branches: 84 runs are branches of 14 stable runs")
               for n in r.notes) == 1
    plain = scalefit.fit(df.drop(columns="branch_of"), n_boot=50, progress=None)
    assert not any(n.startswith("branches:") for n in plain.notes)
    alone = scalefit.fit(df.assign(branch_of=[f"r{i}" for i in range(len(df))]), n_boot=50,
                         progress=None)  # no two runs share one: the plain bootstrap
    np.testing.assert_array_equal(alone.optima["lr_opt_lo"], plain.optima["lr_opt_lo"])
    renamed = scalefit.fit(df.rename(columns={"branch_of": "stem"}), n_boot=50,
                           progress=None, branch_of="stem")
    np.testing.assert_array_equal(renamed.optima["lr_opt_lo"], r.optima["lr_opt_lo"])
    # the stable-run column varies within every sweep by design: no "forgotten --by" warning
    assert not any("branch_of" in w for w in r.warnings)
    assert not any("stem" in w for w in renamed.warnings)
    try:
        scalefit.fit(df, n_boot=10, progress=None, branch_of="nope")
    except ScalefitInputError as e:
        assert "'nope'" in str(e)
    else:
        raise AssertionError("a missing --branch-of column must be refused")


def test_cluster_intervals_are_wider_and_cover_closer_to_nominal():
    """Branches share their stable run's offset, so the optima of all horizons move
    together: resampling them as independent runs overstates how much the law of the
    optimum averages out, and its interval undercovers."""
    mid = float(np.exp(np.mean(np.log(HORIZONS))))
    truth = np.exp(X0 + B * np.log(mid / HORIZONS[0]))
    covered, width = {True: [], False: []}, {True: [], False: []}
    for seed in range(40):
        df = table(100 + seed)
        out = {}
        try:
            for clustered in (True, False):
                r = scalefit.fit(df if clustered else df.drop(columns="branch_of"),
                                 n_boot=100, progress=None)
                out[clustered] = r.predict(horizon=mid).rows[0]["lr_ci"]
        except ScalefitInputError:  # a draw with too few ok sweeps for a law
            continue
        for clustered, (lo, hi) in out.items():
            covered[clustered].append(lo <= truth <= hi)
            width[clustered].append(np.log(hi / lo))
    assert len(covered[True]) >= 30
    assert np.median(width[True]) > 1.3 * np.median(width[False])
    cover = {k: np.mean(v) for k, v in covered.items()}
    assert abs(cover[True] - 0.95) < abs(cover[False] - 0.95)
    assert cover[False] < 0.9 <= cover[True]
