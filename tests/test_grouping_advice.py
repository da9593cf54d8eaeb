"""Which runs form one sweep: the reference trainer's arms without flags, and pooling
advice that names the one column that explains the others, or --scale / --horizon."""

import numpy as np
import pandas as pd
import pytest

import scalefit


def trainer_like(with_marker: bool = True) -> pd.DataFrame:
    """Two arms (sp, mup) at 3 widths, one horizon: sp's optimum falls as 1/width, muP's
    stays; lr_mult_hidden and init_std_hidden follow from the arm and the width."""
    rng = np.random.default_rng(0)
    rows = []
    for arm in ("sp", "mup"):
        for w in (16, 32, 64):
            m = w / 16
            opt = 0.02 / m if arm == "sp" else 0.02
            for i, lr in enumerate(0.02 * 2.0 ** np.arange(-5, 3)):
                loss = 3 - 0.1 * np.log(m) + 0.05 * np.log(lr / opt) ** 2
                rows.append(dict(run_id=f"{arm}{w}-{i}", parameterization=arm, width=w,
                                 n_params=12 * w * w, tokens=2**19, lr=lr,
                                 lr_mult_hidden=1 / m if arm == "mup" else 1.0,
                                 init_std_hidden=0.125 / m**0.5 if arm == "mup" else 0.125,
                                 val_loss=loss + 0.002 * rng.standard_normal(),
                                 status="ok", config="{}", seed=0))
    df = pd.DataFrame(rows)
    return df if with_marker else df.drop(columns=["run_id", "config"])


def test_trainer_results_are_grouped_by_their_arms_without_flags():
    res = scalefit.fit(trainer_like(), n_boot=0, progress=None)
    assert res.input["by"] == ["parameterization"]
    assert any(n.startswith("reference-trainer results: runs grouped by parameterization")
               for n in res.notes)
    a = {law.group["parameterization"]: law.params["a"] for law in res.laws
         if law.target == "lr_opt" and law.primary}
    assert abs(a["mup"]) < 0.05 and a["sp"] < -0.4          # the arms' own laws
    assert not res.warnings


def test_an_explicit_by_wins():
    res = scalefit.fit(trainer_like(), by=["seed"], n_boot=0, progress=None)
    assert res.input["by"] == ["seed"]
    assert not any("reference-trainer" in n for n in res.notes)


def test_one_warning_names_the_column_that_explains_the_others():
    res = scalefit.fit(trainer_like(with_marker=False), n_boot=0, progress=None)
    assert res.input["by"] == []
    assert len(res.warnings) == 1, res.warnings
    w = res.warnings[0]
    assert w.startswith("column 'parameterization' (2 values: mup, sp) varies within sweeps")
    assert "'lr_mult_hidden', 'init_std_hidden' vary with it" in w
    assert w.endswith("add --by parameterization if they are different sweeps")


def test_a_scale_like_column_gets_the_scale_remedy_quoted():
    df = trainer_like(with_marker=False)
    df = df[df["parameterization"] == "mup"].rename(columns={"n_params": "Model Params"})
    res = scalefit.fit(df[["Model Params", "lr", "val_loss"]], n_boot=0, progress=None)
    assert len(res.warnings) == 1
    assert ("looks like the scale, which no column was taken as; its runs are pooled: add "
            "--scale 'Model Params' if it is the scale, or --by 'Model Params'"
            in res.warnings[0])


def test_by_matches_like_role_names_and_suggests_close_ones():
    import pytest

    from scalefit.errors import ScalefitInputError

    df = trainer_like()
    res = scalefit.fit(df, by=["Parameterization"], n_boot=0, progress=None)
    assert res.input["by"] == ["parameterization"]
    with pytest.raises(ScalefitInputError, match="did you mean 'parameterization'"):
        scalefit.fit(df, by=["paramterization"], n_boot=0, progress=None)
    with pytest.raises(ScalefitInputError, match="not found; columns are: run_id"):
        scalefit.fit(df, by=["zzz"], n_boot=0, progress=None)


def _sweeps(horizon) -> pd.DataFrame:
    """Two scales x 8 LRs x 2 seeds; ``horizon(i)`` gives row i's token count."""
    rng = np.random.default_rng(1)
    rows = []
    for n in (1e7, 1e8):
        opt = 3e-3 * (n / 1e7) ** -0.3
        for lr in 3e-3 * 2.0 ** np.arange(-4, 4):
            for seed in (0, 1):
                rows.append(dict(N=n, lr=lr, seed=seed, tokens=horizon(len(rows)),
                                 loss=3 + 0.1 * np.log(lr / opt) ** 2
                                 + 0.003 * rng.standard_normal()))
    return pd.DataFrame(rows)


def test_token_counts_that_differ_a_little_are_named_as_the_reason_sweeps_split():
    """Tokens counted per run (1e9 plus a few thousand): every run its own sweep; the
    error says why instead of only '32 too_few'."""
    jitter = _sweeps(lambda i: 1e9 + 997 * i)
    with pytest.raises(scalefit.ScalefitInputError,
                       match=r"32 too_few .*horizon column 'tokens': several values lie within "
                             r"1% of a neighbour .* 32 sweep\(s\) at them have fewer than 3 LRs"):
        scalefit.fit(jitter, n_boot=0, progress=None, require_optimum=True)
    # one run stopped a little early: the fit works and warns, naming the values
    one = _sweeps(lambda i: 1e9 - 4096 * (i == 5))
    res = scalefit.fit(one, n_boot=0, progress=None)
    assert [w for w in res.warnings if "1 sweep(s) at them have fewer than 3 LRs" in w
            and "9.999959e+08 and 1e+09" in w]
    # two horizons 0.5% apart, each a full sweep (two designs, not jitter): no warning
    two = pd.concat([_sweeps(lambda i: 1e9), _sweeps(lambda i: 1.005e9)])
    res = scalefit.fit(two, n_boot=0, progress=None)
    assert not [w for w in res.warnings if "within 1%" in w]


def test_a_table_of_training_histories_is_named():
    """Three checkpoints per run read as three replicate runs: warned, naming the step
    column; a step count that follows a --by column (batch size) is not a history."""
    base = _sweeps(lambda i: 1e9)
    hist = pd.concat([base.assign(step=s, loss=base["loss"] + 100 / s) for s in (1000, 2000)])
    res = scalefit.fit(hist, n_boot=0, progress=None)
    assert [w for w in res.warnings if w.startswith("column 'step' differs between rows of one "
                                                    "sweep with the same LR and seed (1000, 2000")]
    assert not [w for w in scalefit.fit(base, n_boot=0, progress=None).warnings
                if "histories" in w]
    bs = pd.concat([base.assign(bs=b, steps=4096 // b) for b in (8, 16)])
    res = scalefit.fit(bs, by=["bs"], n_boot=0, progress=None)
    assert not [w for w in res.warnings if "histories" in w]


def test_a_metric_where_higher_is_better_is_named():
    """Accuracy given as the loss: every sweep's minimum at an end of the grid ('edge'),
    and the error asks whether the column is a loss instead of only 'extend the grid'."""
    acc = _sweeps(lambda i: 1e9).assign(accuracy=lambda d: 1 - d["loss"] / 10)
    with pytest.raises(scalefit.ScalefitInputError,
                       match=r"2 edge .*2 of 2 sweeps have their highest loss inside the LR "
                             r"grid .*is 'accuracy' a loss \(lower is better\)\?"):
        scalefit.fit(acc.drop(columns="loss"), loss="accuracy", n_boot=0, progress=None,
                     require_optimum=True)
    edge = _sweeps(lambda i: 1e9)
    edge = edge[edge["lr"] <= 3e-3 * (edge["N"] / 1e7) ** -0.3 / 1.5]  # the minimum past the grid
    with pytest.raises(scalefit.ScalefitInputError) as e:
        scalefit.fit(edge, n_boot=0, progress=None, require_optimum=True)
    assert "edge" in str(e.value) and "lower is better" not in str(e.value)


def test_one_run_logged_twice_is_named():
    """Two rows alike in every setting, seed included, with different losses (a resumed
    run logged twice): warned, naming both rows; rows that differ in a setting (an init
    scale, a config) or tables without a seed column are not."""
    base = _sweeps(lambda i: 1e9)
    again = base.iloc[[5]].assign(loss=lambda d: d["loss"] + 0.01)
    res = scalefit.fit(pd.concat([base, again]), n_boot=0, progress=None)
    assert [w for w in res.warnings if w.startswith("2 rows equal another row in every "
                                                    "setting, seed included")
            and "rows 6 and 33" in w]
    other = pd.concat([base.assign(init=0.5), again.assign(init=1.0)])
    res = scalefit.fit(other, n_boot=0, progress=None)
    assert not [w for w in res.warnings if "equal another row" in w]
    res = scalefit.fit(pd.concat([base, again]).drop(columns="seed"), n_boot=0, progress=None)
    assert not [w for w in res.warnings if "equal another row" in w]
