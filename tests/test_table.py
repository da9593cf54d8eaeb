"""Loading and validating run tables: aliases, formats, diverged runs, and bad input."""

import numpy as np
import pandas as pd
import pytest

from scalefit import ScalefitInputError
from scalefit.table import load_runs


def write(tmp_path, text, name="runs.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_aliases_and_string_numbers(tmp_path):
    p = write(tmp_path, "N,D,learning_rate,val_loss\n1e6,1e9,3e-4,2.5\n1e6,1e9,\"1e-3\",2.4\n")
    runs = load_runs(p)
    assert runs.columns["scale"] == "N" and runs.columns["horizon"] == "D"
    assert runs.columns["lr"] == "learning_rate" and runs.columns["loss"] == "val_loss"
    np.testing.assert_allclose(runs.data["lr"], [3e-4, 1e-3])


def test_parameter_count_preferred_over_width_and_canonical_over_alias():
    df = pd.DataFrame({"width": [64, 128], "n_params": [1e6, 4e6], "lr": [1e-3, 1e-3],
                       "val_loss": [3.0, 2.9], "train_loss": [2.9, 2.8], "loss": [3.1, 3.0]})
    runs = load_runs(df)
    assert runs.columns["scale"] == "n_params"
    assert runs.columns["loss"] == "loss"


def test_namespaced_tracker_columns_found_when_no_exact_name():
    """W&B-style exports (config./summary. prefixes, eval/ and train/ metrics): the longest
    trailing alias counts, tiers as for plain names, two candidates are refused."""
    df = pd.DataFrame({"config.n_params": [1e6, 4e6], "config.optimizer.lr": [1e-3, 2e-3],
                       "summary.train/loss": [2.9, 2.8], "summary.eval/loss": [3.0, 2.9],
                       "config.lr_schedule": ["cos", "cos"]})
    runs = load_runs(df)
    assert runs.columns == {**runs.columns, "scale": "config.n_params",
                            "lr": "config.optimizer.lr", "loss": "summary.eval/loss"}
    # an exact name wins over a namespaced one
    runs = load_runs(df.assign(lr=[5e-3, 6e-3]))
    assert runs.columns["lr"] == "lr"
    with pytest.raises(ScalefitInputError, match="config.optimizer.lr.*config.scheduler.lr.*"
                                                 "all look like the lr"):
        load_runs(df.assign(**{"config.scheduler.lr": [1e-4, 1e-4]}))
    # a plain name that only ends like an alias is not namespaced
    with pytest.raises(ScalefitInputError, match="no lr column found"):
        load_runs(pd.DataFrame({"warmup_lr": [1e-3, 2e-3], "loss": [3.0, 2.9]}))


def test_counts_with_suffixes_in_scale_and_horizon(tmp_path):
    """'125M', '1.3B', '2T', '500k', '125,000,000' in a size or token column are counts; in
    the LR or the loss they are not numbers; a cell that is neither is refused naming its
    row."""
    p = write(tmp_path, "model,tokens,lr,loss\n125M,2B,1e-3,3.1\n1.3B,2.5e9,1e-3,2.9\n"
                        "350m,2t,1e-3,3.0\n500k,2 B,1e-3,3.3\n")
    runs = load_runs(p, scale="model")
    np.testing.assert_array_equal(runs.data["scale"], [125e6, 1.3e9, 350e6, 500e3])
    np.testing.assert_array_equal(runs.data["horizon"], [2e9, 2.5e9, 2e12, 2e9])
    p = write(tmp_path, 'N,lr,loss\n"125,000,000",1e-3,3\n"1,300,000,000.0",1e-3,3\n')
    np.testing.assert_array_equal(load_runs(p).data["scale"], [125e6, 1.3e9])
    with pytest.raises(ScalefitInputError, match=r"row 1: '12,34' is not a number \(a decimal"):
        load_runs(write(tmp_path, 'N,lr,loss\n"12,34",1e-3,3\n'))
    with pytest.raises(ScalefitInputError, match=r"'lr' \(lr\), row 1: '1M' is not a number"):
        load_runs(write(tmp_path, "N,lr,loss\n1e6,1M,3\n"))
    with pytest.raises(ScalefitInputError, match=r"'N' \(scale\), row 2: '3X' is not a number"):
        load_runs(write(tmp_path, "N,lr,loss\n1M,1e-3,3\n3X,1e-3,3\n"))


def test_a_loss_cell_that_says_diverged_is_a_diverged_run(tmp_path):
    p = write(tmp_path, "lr,loss\n1e-3,2.5\n2e-3,diverged\n4e-3,NaN loss\n8e-3,Exploded\n")
    runs = load_runs(p)
    assert runs.data["diverged"].tolist() == [False, True, True, True]
    with pytest.raises(ScalefitInputError, match=r"row 2: 'crashed' is not a number"):
        load_runs(write(tmp_path, "lr,loss\n1e-3,2.5\n2e-3,crashed\n"))


def test_log10_lrs_are_named_as_such(tmp_path):
    with pytest.raises(ScalefitInputError, match=r"row 1: -3.5; every lr must be a finite "
                                                 r"number > 0 \(the column looks like log10"):
        load_runs(write(tmp_path, "lr,loss\n-3.5,3\n-3,2.9\n-2.5,3.1\n"))
    with pytest.raises(ScalefitInputError) as e:  # one bad LR among good ones: no such hint
        load_runs(write(tmp_path, "lr,loss\n-3,3\n1e-3,2.9\n"))
    assert "looks like log10" not in str(e.value)


def test_explicit_columns_override(tmp_path):
    p = write(tmp_path, "N,params,lr,loss\n1,2,0.1,3\n")
    runs = load_runs(p, scale="params")
    assert runs.columns["scale"] == "params"
    assert runs.data["scale"].iloc[0] == 2


def test_diverged_from_nan_inf_and_status_blank_is_missing(tmp_path):
    p = write(tmp_path, "lr,loss,status\n1e-3,2.5,ok\n2e-3,nan,ok\n4e-3,inf,ok\n8e-3,,ok\n"
                        "1.6e-2,2.9,diverged\n3.2e-2,3.0,EXPLODED\n6.4e-2,3.1,FAILED\n")
    runs = load_runs(p)
    # FAILED is not a divergence: the run did not finish (left out, counted, named); the
    # empty loss is missing (left out, counted, noted), not a divergence
    assert runs.data["diverged"].tolist() == [False, True, True, True, True]
    assert runs.n_diverged == 4 and runs.n_rows == 5 and runs.excluded == (("failed", 1),)
    assert runs.missing == 1 and runs.n_read == 7
    assert any("line 5" in n and "--missing-loss diverged" in n for n in runs.notes)
    old = load_runs(p, missing_loss="diverged")
    assert old.data["diverged"].tolist() == [False, True, True, True, True, True]
    assert old.n_diverged == 5 and old.missing == 0


def test_formats_parquet_jsonl(tmp_path):
    df = pd.DataFrame({"scale": [1e6, 1e6, 1e6], "lr": [1e-3, 2e-3, 4e-3], "loss": [3.0, 2.9, 3.1]})
    df.to_parquet(tmp_path / "r.parquet")
    df.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    for name in ("r.parquet", "r.jsonl"):
        runs = load_runs(tmp_path / name)
        np.testing.assert_allclose(runs.data["loss"], df["loss"])


@pytest.mark.parametrize(
    "text, kwargs, must_contain",
    [
        ("N,D,loss\n1,2,3\n", {}, ["no lr column", "--lr"]),
        ("N,D,lr\n1,2,0.1\n", {}, ["no loss column", "--loss"]),
        ("lr,loss\n0.1,2.0\nabc,2.1\n", {}, ["'lr'", "row 2", "'abc'"]),
        ("lr,loss\n0.1,2.0\n0.2,oops\n", {}, ["'loss'", "row 2", "'oops'"]),
        ("lr,loss\n0.1,2.0\n-0.2,2.1\n", {}, ["'lr'", "row 2", "-0.2", "> 0"]),
        ("lr,loss\n0.1,2.0\n0,2.1\n", {}, ["'lr'", "row 2", "> 0"]),
        ("N,lr,loss\n1,0.1,2.0\n0,0.2,2.1\n", {}, ["'N'", "scale", "row 2"]),
        ("N,D,lr,loss\n1,2,0.1,2.0\n1,-5,0.2,2.1\n", {}, ["'D'", "horizon", "row 2"]),
        ("lr,loss\n0.1,2.0\n1e400,2.1\n", {}, ["'lr'", "row 2", "inf"]),
        ("N,params,lr,loss\n1,1,0.1,2\n", {}, ["'N'", "'params'", "--scale"]),
        ("lr,loss\n", {}, ["no rows"]),
        ("lr,loss\n0.1,2\n", {"by": ["arch"]}, ["'arch'", "not found"]),
        ("lr,loss\n0.1,2\n", {"scale": "width"}, ["'width'", "not found"]),
        ("lr,lr,loss\n0.1,0.2,2\n", {}, ["'lr'", "more than once"]),
        ("lr,loss\n0.1,2\n0.2,2,7\n", {}, ["line 3", "fields"]),
    ],
)
def test_bad_input_names_file_column_and_row(tmp_path, text, kwargs, must_contain):
    p = write(tmp_path, text)
    with pytest.raises(ScalefitInputError) as e:
        load_runs(p, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(p) in msg
    for part in must_contain:
        assert part in msg, (part, msg)


def test_empty_and_binary_files(tmp_path):
    empty = write(tmp_path, "", "empty.csv")
    with pytest.raises(ScalefitInputError, match="empty"):
        load_runs(empty)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00" * 20)
    with pytest.raises(ScalefitInputError, match="binary"):
        load_runs(binary)
    with pytest.raises(ScalefitInputError, match="no such file"):
        load_runs(tmp_path / "missing.csv")


def test_dataframe_source_is_named():
    with pytest.raises(ScalefitInputError, match="<DataFrame>.*'lr'.*row 1"):
        load_runs(pd.DataFrame({"lr": [-1.0], "loss": [2.0]}))
