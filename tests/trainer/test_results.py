"""Results file: atomic appends, no duplicates, safe against kills and concurrency."""

import csv
import multiprocessing as mp
import os

import pytest

from reference_trainer import results
from reference_trainer.results import ResultsFile


def row(i, **kw):
    return {"run_id": f"r{i:03d}", "lr": 1e-3 * (i + 1), "val_loss": 3.0 + i / 10,
            "status": "ok"} | kw


def test_append_skip_duplicates_and_blank_nan(tmp_path):
    f = ResultsFile(tmp_path / "runs.csv")
    assert f.append(row(0)) and f.append(row(1, val_loss=None, status="diverged"))
    assert not f.append(row(0, val_loss=9.9))
    rows = f.rows()
    assert [r["run_id"] for r in rows] == ["r000", "r001"]
    assert rows[0]["val_loss"] == "3.0" and rows[1]["val_loss"] == ""
    assert f.run_ids() == {"r000", "r001"}


def test_new_columns_are_added(tmp_path):
    f = ResultsFile(tmp_path / "runs.csv")
    f.append(row(0))
    f.append(row(1, extra="x"))
    with open(tmp_path / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["extra"] == "" and rows[1]["extra"] == "x"


def test_crash_before_replace_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    f.append(row(0))
    before = path.read_bytes()

    def killed(*a, **k):
        raise SystemExit("killed between write and rename")

    monkeypatch.setattr(results.os, "replace", killed)
    with pytest.raises(SystemExit):
        f.append(row(1))
    monkeypatch.undo()
    assert path.read_bytes() == before  # readers never saw a partial file
    assert list(tmp_path.glob(".runs.csv.*.tmp"))  # the leftover temp file ...
    f.append(row(2))
    assert not list(tmp_path.glob(".runs.csv.*.tmp"))  # ... is cleaned on the next write
    assert [r["run_id"] for r in f.rows()] == ["r000", "r002"]


def _writer(path, start):
    f = ResultsFile(path)
    for i in range(start, start + 15):
        f.append(row(i))
        f.append(row(i))  # duplicate attempts from a racing worker


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "runs.csv")
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    procs = [ctx.Process(target=_writer, args=(path, s)) for s in (0, 10, 20)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    ids = [r["run_id"] for r in ResultsFile(path).rows()]
    assert sorted(ids) == [f"r{i:03d}" for i in range(35)]


def test_git_rev_is_a_string():
    assert isinstance(results.git_rev(), str) and results.git_rev()


def test_git_rev_falls_back_to_the_environment(monkeypatch):
    def no_git(*a, **k):
        raise FileNotFoundError("git")

    monkeypatch.setattr(results.subprocess, "run", no_git)
    monkeypatch.setenv("REFERENCE_TRAINER_GIT_REV", "abc123def456")
    results.git_rev.cache_clear()
    try:
        assert results.git_rev() == "abc123def456"
        monkeypatch.delenv("REFERENCE_TRAINER_GIT_REV")
        results.git_rev.cache_clear()
        assert results.git_rev() == "unknown"
    finally:
        results.git_rev.cache_clear()


def test_a_pinned_revision_wins_over_the_tree():
    """Sweep workers report the revision their sweep started with."""
    try:
        results.git_rev()  # cached from the tree first
        results.pin_git_rev("0123456789ab")
        assert results.git_rev() == "0123456789ab"
    finally:
        results._PINNED.clear()
        results.git_rev.cache_clear()
    assert results.git_rev() != "0123456789ab"
