"""The resamples as the laws read them (``BootSweeps.x_law``), made column by column from a
rule instead of stored: the same numbers as the stored array they replace, to the bit."""

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.core.bootstrap import bracket_draws


def _table():
    """Two groups with ok, div_bracketed and edge sweeps; a third without measured noise."""
    rng = np.random.default_rng(1)
    rows = []
    for p in ("a", "b"):
        for i, s in enumerate([1e8, 3e8, 1e9, 3e9]):
            opt = 8e-3 * 2.0 ** -i
            lrs = opt * 2.0 ** np.arange(-3, 3)
            for seed in (0, 1):
                loss = 3 - 0.1 * i + 0.05 * np.log(lrs / opt) ** 2 \
                    + rng.normal(0, 0.003, lrs.size)
                if i == 1:  # the two highest LRs diverged: bracketed
                    loss[-2:] = np.nan
                if i == 2:  # the best LR is the highest: edge
                    loss = 3 - 0.01 * np.log(lrs)
                rows += [dict(p=p, scale=s, lr=a, loss=v, seed=seed) for a, v in zip(lrs, loss)]
    for s in (1e8, 3e8, 1e9):  # one run per LR, three LRs: no noise to resample
        lrs = 1e-3 * 2.0 ** np.arange(3)
        rows += [dict(p="c", scale=s, lr=a, loss=3 + 0.05 * np.log(a / 2e-3) ** 2, seed=0)
                 for a in lrs]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fit():
    return scalefit.fit(_table(), by="p", n_boot=40, progress=None,
                        include=("ok", "div_bracketed", "edge"))


def _stored(r):
    """x_law as the pipeline stored it before (written over x_best, column blocks)."""
    boot, opt, ss = r.boot, r.optima, r.sweep_set
    st = opt["status"].to_numpy()
    x = boot.x_best.copy()
    ok = st == "ok"
    x[:, ok] = np.clip(boot.x_opt[:, ok], np.log(opt["lr_tried_lo"].to_numpy())[ok],
                       np.log(opt["lr_tried_hi"].to_numpy())[ok])
    brk = st == "div_bracketed"
    b = ss.point.bracket
    x[:, brk] = bracket_draws(b[0], b[1], boot.n_boot, r.settings["seed"], ss.sweeps)[:, brk]
    return x


def test_the_statuses_are_all_there(fit):
    st = fit.optima["status"]
    assert set(st) == {"ok", "div_bracketed", "edge"}
    assert not fit.sweep_set.plan["known"].all()


def test_x_law_is_the_stored_array_to_the_bit(fit):
    boot = fit.boot
    want = _stored(fit)
    np.testing.assert_array_equal(boot.x_law, want)
    # no measured noise: NaN, whatever the status; the rest has draws
    known = fit.sweep_set.plan["known"]
    assert np.isnan(want[:, ~known]).all() and np.isfinite(want[:, known]).any(0).all()
    for cols in ([3], [1, 2, 0], np.arange(want.shape[1])[::-1], slice(2, 7)):
        np.testing.assert_array_equal(boot.law_columns(cols), want[:, cols])


def test_best_lrs_are_kept_as_level_indices(fit):
    boot = fit.boot
    assert boot.best_level.dtype == np.int8 and boot.best_level.shape == boot.x_opt.shape
    x = boot.x_best
    levels = fit.sweep_set.sweeps.x
    for j in range(x.shape[1]):
        col = x[:, j]
        assert np.isin(col[np.isfinite(col)], levels[j]).all()
    np.testing.assert_array_equal(boot.x_best_of([4, 1]), x[:, [4, 1]])


def test_the_result_holds_no_float_array_of_x_law_or_x_best(fit):
    boot = fit.boot
    assert boot.law_rule is not None and boot._x_law is None and boot._x_best is None
    assert fit.sweep_set.boot is boot
    with pytest.raises(AttributeError):
        boot.x_opt = None


def test_conditional_laws_keep_shape_draws_only_where_a_prediction_reads_them():
    rng = np.random.default_rng(3)
    rows = []
    for s in np.geomspace(1e7, 1e9, 5):
        for d in np.geomspace(1e9, 8e9, 4):
            x_star = np.log(0.5) - 0.2 * np.log(s / 1e8) - 0.3 * np.log(d / 1e10)
            if d == 1e9:  # a bend in scale at the lowest horizon
                x_star += 0.4 * np.log(s / 1e8) ** 2
            for x in x_star + (np.arange(8) - 3.5) * np.log(2.0):
                for seed in (0, 1):
                    rows.append(dict(scale=s, horizon=d, lr=np.exp(x), seed=seed,
                                     loss=2 + 0.02 * (x - x_star) ** 2
                                     + rng.normal(0, 0.002)))
    r = scalefit.fit(pd.DataFrame(rows), n_boot=60, progress=None)
    shaped = [law for law in r.laws if law.target == "lr_opt" and law.shape is not None
              and law.shape.get("testable")]
    assert any(law.primary for law in shaped) and any(not law.primary for law in shaped)
    kept = {(law.primary, bool(law.shape["resolved"])): "boot" in law.shape for law in shaped}
    assert kept[(False, False)] is False  # conditional, no bend: its draws are not kept
    assert kept[(False, True)] is True  # a resolved bend: predictions average with them
    for law in shaped:
        if law.primary:
            assert law.shape["boot"].shape == (60, 4) and law.shape["weights"].shape == (60,)
