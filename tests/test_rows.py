"""Every input row accounted for (issue 25): ragged rows, a torn last line, empty losses,
copied rows and run ids, and names shown with invisible characters escaped."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scalefit import fit, load_runs
from scalefit.errors import ScalefitInputError
from scalefit.grouping import pooling_hints
from scalefit.readers import parse_bytes
from scalefit.render.format import group_label, safe_text


def table(extra=None) -> pd.DataFrame:
    rows = []
    for i, s in enumerate((1e7, 1e8, 1e9)):
        opt = 1e-3 * (s / 1e8) ** -0.2
        for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2):
            for seed in (0, 1):
                rows.append({"scale": s, "lr": lr, "seed": seed,
                             "loss": round(3 - 0.1 * i + 0.05 * math.log(lr / opt) ** 2
                                           + 0.003 * (seed - 0.5) * (1 + lr * 100), 6)})
    df = pd.DataFrame(rows)
    return df.assign(**extra) if extra else df


TEXT = table().to_csv(index=False)


def read(text: str, **kw):
    return load_runs(parse_bytes(text.encode(), "r.csv", "csv"), source="r.csv", **kw)


@pytest.mark.parametrize("row, needles", [
    ("1e8,1e-3\n", ("line 32 (row 31)", "2 fields", "header has 4")),
    ("1e8,1e-3,0,2.5,7\n", ("line 32 (row 31)", "5 fields")),
    ("1e8,1e-3,0,2.5,\n", ("a separator at the end",)),
])
def test_a_ragged_row_is_refused_with_its_line(row, needles):
    lines = TEXT.splitlines(keepends=True)
    with pytest.raises(ScalefitInputError) as e:
        read("".join(lines[:31]) + row + "".join(lines[31:]))
    assert all(n in str(e.value) for n in needles), str(e.value)
    assert "r.csv: malformed CSV" in str(e.value)


def test_a_torn_last_line_is_left_out_with_a_note():
    base = read(TEXT)
    lines = TEXT.splitlines(keepends=True)
    without = read("".join(lines[:-1]))
    for cut in (TEXT[:-1], TEXT[:-3], TEXT[:-12], TEXT[: len(TEXT) - len(lines[-1]) + 2]):
        runs = read(cut)
        assert runs.data.equals(without.data)
        assert any("line 31 (row 30), the last, does not end with a line break" in n
                   for n in runs.notes)
    assert read(TEXT + "  ").data.equals(base.data)  # a blank tail is no row
    assert read(TEXT.replace("\n", "\r\n")[:-2]).data.equals(without.data)


def test_a_torn_jsonl_line_is_left_out_and_a_complete_one_kept():
    text = table().to_json(orient="records", lines=True)
    full = load_runs(parse_bytes(text.encode(), "r.jsonl", "jsonl"))
    torn = load_runs(parse_bytes(text.rstrip("\n")[:-5].encode(), "r.jsonl", "jsonl"))
    kept = load_runs(parse_bytes(text.rstrip("\n").encode(), "r.jsonl", "jsonl"))
    assert torn.n_rows == full.n_rows - 1 and kept.n_rows == full.n_rows
    assert any("line 30" in n for n in torn.notes)


def test_an_empty_loss_is_missing_and_nan_is_diverged():
    df = table().astype({"loss": object})
    df.loc[3, "loss"], df.loc[5, "loss"], df.loc[7, "loss"] = "", "nan", "NA"
    runs = read(df.to_csv(index=False))
    assert runs.missing == 2 and runs.n_diverged == 1 and runs.n_rows == 28
    assert any("2 runs with an empty loss (lines 5, 9)" in n for n in runs.notes)
    old = read(df.to_csv(index=False), missing_loss="diverged")
    assert old.missing == 0 and old.n_diverged == 3 and old.n_rows == 30
    with pytest.raises(ScalefitInputError, match="missing_loss"):
        read(TEXT, missing_loss="maybe")


def test_missing_loss_in_a_dataframe_and_jsonl():
    df = table().astype({"loss": object})
    df.loc[2, "loss"], df.loc[4, "loss"] = None, float("nan")
    runs = load_runs(df)
    assert runs.missing == 1 and runs.n_diverged == 1
    assert any("(row 3)" in n for n in runs.notes)
    nullable = table().astype({"loss": "Float64"})
    nullable.loc[2, "loss"] = pd.NA
    assert load_runs(nullable).missing == 1
    text = table().astype({"loss": object}).to_json(orient="records", lines=True)
    text = text.replace('"loss":', '"loss":null,"x":', 1)
    assert load_runs(parse_bytes(text.encode(), "r.jsonl", "jsonl")).missing == 1


def test_a_blank_loss_no_longer_moves_the_optimum():
    df = table()
    clean = fit(df, n_boot=0, progress=None)
    blanked = df.astype({"loss": object})
    blanked.loc[(df["scale"] == 1e8) & (df["lr"] == 3e-3) & (df["seed"] == 0), "loss"] = None
    res = fit(blanked, n_boot=0, progress=None)
    assert list(res.optima["status"]) == list(clean.optima["status"])
    assert res.input["missing_loss"] == 1 and res.input["diverged"] == 0


def test_a_doubled_table_fits_as_the_table():
    df = table()
    one = fit(df, n_boot=60, progress=None, seed=3)
    two = fit(pd.concat([df, df], ignore_index=True), n_boot=60, progress=None, seed=3)
    pd.testing.assert_frame_equal(one.optima, two.optima)
    for a, b in zip(one.laws, two.laws):
        assert a.params == b.params and a.ci == b.ci
    assert two.input["duplicates"] == 30 and two.input["rows"] == 60
    assert sum("30 rows repeat an earlier row exactly (rows 31, 32" in w
               for w in two.warnings) == 1
    kept = fit(pd.concat([df, df], ignore_index=True), n_boot=0, progress=None,
               keep_duplicates=True)
    assert kept.input["duplicates"] == 0 and "kept as separate runs" in " ".join(kept.warnings)


def test_a_run_id_given_twice_with_other_values_is_refused_or_kept():
    df = table().assign(run_id=[f"r{i}" for i in range(30)])
    bad = pd.concat([df, df.iloc[[4]].assign(loss=9.0)], ignore_index=True)
    text = bad.to_csv(index=False)
    with pytest.raises(ScalefitInputError) as e:
        read(text)
    msg = str(e.value)
    assert "run id 'r4' is on line 6 and line 32" in msg and "'loss': " in msg
    assert "--keep-duplicates" in msg
    runs = read(text, keep_duplicates=True)
    assert runs.n_rows == 31 and "'r4' on lines 6 and 32" in runs.warnings[0]
    same = read(pd.concat([df, df.iloc[[4]]]).to_csv(index=False))
    assert same.n_rows == 30 and same.duplicates == 1


@pytest.mark.parametrize("ch", ["\u200b", "\u061c", "\u2028", "\u2029", "\ufeff", "\u00a0",
                                "\u202e", "\ud800", "\x1b"])
def test_invisible_characters_are_shown_escaped(ch):
    shown = safe_text("a" + ch + "b")
    assert shown.isprintable() and shown != "ab" and "\\" in shown
    assert group_label({"p": "a" + ch}) != group_label({"p": "a"})


def test_printable_names_are_unchanged():
    for name in ("参数化", "café", "μP", "a b", "lr*"):
        assert safe_text(name) == name


def test_two_groups_that_differ_by_an_invisible_character_print_apart():
    df = pd.concat([table({"p": "a"}), table({"p": "a\u200b"})], ignore_index=True)
    text = str(fit(df, by="p", n_boot=0, progress=None).summary())
    assert "a\\u200b" in text and "\u200b" not in text


def test_a_lone_surrogate_in_json_is_refused_not_merged():
    rows = [dict(r, p=p) for p in ("a\ud800", "a\ud801") for r in table().to_dict("records")]
    import json
    text = "".join(json.dumps(r) + "\n" for r in rows)
    with pytest.raises(ScalefitInputError, match="line 1: .*lone surrogate"):
        parse_bytes(text.encode(), "r.jsonl", "jsonl")


def test_many_varying_columns_are_one_warning():
    df = table({f"t{i}": np.where(np.arange(30) % 2, "x", "y") for i in range(50)})
    hints = pooling_hints(load_runs(df))
    assert len(hints) == 1 and hints[0].startswith("50 columns vary within sweeps")
    few = pooling_hints(load_runs(table({"t0": np.where(np.arange(30) % 2, "x", "y")})))
    assert len(few) == 1 and "column 't0'" in few[0]


def _valley_rows():
    import numpy as np

    return [dict(scale=w, lr=lr, loss=3 + 0.05 * np.log(lr / 4e-3) ** 2 - 0.1 * np.log(w / 1e6))
            for w in (1e6, 2e6, 4e6) for lr in (1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2)]


def test_parquet_null_loss_is_missing_and_nan_is_diverged(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    import scalefit

    rows = _valley_rows()
    loss = [r["loss"] for r in rows]
    loss[3], loss[7] = float("nan"), None
    t = pa.table({"scale": [r["scale"] for r in rows], "lr": [r["lr"] for r in rows],
                  "loss": pa.array(loss, type=pa.float64())})
    pq.write_table(t, tmp_path / "runs.parquet")
    res = scalefit.fit(tmp_path / "runs.parquet", n_boot=0, progress=None)
    assert (res.input["missing_loss"], res.input["diverged"]) == (1, 1)


def test_json_records_null_loss_is_missing(tmp_path):
    import json

    import scalefit

    rows = _valley_rows()
    rows[7]["loss"] = None
    del rows[9]["loss"]
    (tmp_path / "runs.json").write_text(json.dumps(rows))
    res = scalefit.fit(tmp_path / "runs.json", n_boot=0, progress=None)
    assert (res.input["missing_loss"], res.input["diverged"]) == (2, 0)


def test_nested_json_objects_are_flattened_and_their_nulls_kept_apart(tmp_path):
    """Tracker exports nest runs' values ({"config": {"lr": ...}, "summary": {"eval/loss":
    ...}}): one column per leaf (config.lr, summary.eval/loss), found by the namespaced
    names; a null or absent nested loss is missing, a NaN one diverged, in JSON Lines and
    in JSON records alike."""
    import json

    rows = [{"name": f"r{i}", "config": {"lr": r["lr"], "model": {"n_params": r["scale"]},
                                          "seed": 0},
             "summary": {"eval/loss": r["loss"]}} for i, r in enumerate(_valley_rows())]
    rows[3]["summary"]["eval/loss"] = None
    del rows[5]["summary"]["eval/loss"]
    rows[7]["summary"]["eval/loss"] = float("nan")
    lines = "\n".join(json.dumps(r) for r in rows) + "\n"
    for name, text in (("runs.jsonl", lines), ("runs.json", json.dumps(rows))):
        (tmp_path / name).write_text(text)
        runs = load_runs(tmp_path / name)
        assert {k: runs.columns[k] for k in ("scale", "lr", "loss")} == {
            "scale": "config.model.n_params", "lr": "config.lr", "loss": "summary.eval/loss"}
        assert (runs.missing, runs.n_diverged) == (2, 1), name
        assert "config.seed" in runs.raw.columns


def test_comment_lines_before_the_header_are_left_out_and_lines_keep_their_numbers():
    """'# exported from ...' lines above the header: skipped with a note; an empty loss,
    a torn last line and a ragged row are still named by the file's own line numbers."""
    df = table().astype({"loss": object})
    df.loc[3, "loss"] = ""
    body = df.to_csv(index=False)
    text = "# exported 2026-12-01\n  # project: sweeps\n" + body
    runs = read(text)
    assert runs.data.equals(read(body).data)
    assert any("2 comment lines ('#') before the header left out" in n for n in runs.notes)
    assert any("(line 7)" in n for n in runs.notes)  # row 4 is line 5 of body, 7 of the file
    assert any("line 33 (row 30), the last" in n for n in read(text.rstrip("\n")).notes)
    lines = text.splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",9\n"
    with pytest.raises(ScalefitInputError, match=r"line 6 \(row 3\) has"):
        read("".join(lines))
    semi = read("# a comment\n" + body.replace(",", ";"))  # the separator found past them
    assert semi.data.equals(read(body).data)
