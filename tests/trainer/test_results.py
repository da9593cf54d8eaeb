"""Results file: O(1) appends, no duplicates, torn lines repaired, safe against kills,
full disks and concurrency; the failure log."""

import csv
import errno
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from reference_trainer import results
from reference_trainer.results import FailureLog, ResultsFile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
    """A row with a new column rewrites the file: temporary file, then os.replace."""
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    f.append(row(0))
    before = path.read_bytes()

    def killed(*a, **k):
        raise SystemExit("killed between write and rename")

    monkeypatch.setattr(results.os, "replace", killed)
    with pytest.raises(SystemExit):
        f.append(row(1, extra="x"))
    monkeypatch.undo()
    assert path.read_bytes() == before  # readers never saw a partial file
    assert list(tmp_path.glob(".runs.csv.*.tmp"))  # the leftover temp file ...
    f.append(row(2, extra="y"))
    assert not list(tmp_path.glob(".runs.csv.*.tmp"))  # ... is cleaned on the next write
    assert [r["run_id"] for r in f.rows()] == ["r000", "r002"]


def test_append_writes_one_line_and_never_rewrites(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    f.append(row(0))
    ino = path.stat().st_ino
    writes = []
    real = results.os.write
    monkeypatch.setattr(results.os, "write", lambda fd, b: writes.append(b) or real(fd, b))
    for i in range(1, 6):
        assert f.append(row(i))
    assert path.stat().st_ino == ino  # appended in place, not replaced
    assert [w.count(b"\n") for w in writes] == [1] * 5 and writes[0].startswith(b"r001,")
    assert path.read_bytes().count(b"\n") == 7  # header + 6 rows


def test_writers_see_each_others_rows(tmp_path):
    a, b = ResultsFile(tmp_path / "runs.csv"), ResultsFile(tmp_path / "runs.csv")
    assert a.append(row(0)) and b.append(row(1))
    assert not a.append(row(1)) and not b.append(row(0))  # read what the other appended
    a.append(row(2, extra="x"))  # rewrites the file (new inode): b reads it anew
    assert not b.append(row(2)) and b.append(row(3))
    assert "r003" in a and a.run_ids() == b.run_ids() == {"r000", "r001", "r002", "r003"}


@pytest.mark.parametrize("tail,fixed", [
    (b"r009,0.01,", "removed"),  # cut inside the row
    (b'r009,0.01,3.5,ok,"{""a"": 1', "removed"),  # cut inside the quoted last field
    (b'r009,0.01,3.5,ok,"{""a"": 1}"', "completed"),  # only the newline is missing
])
def test_a_torn_last_line_is_repaired_before_anything_else(tmp_path, tail, fixed):
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    f.append(row(0, config='{"a": 1}'))
    whole = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(tail)  # a writer killed in the middle of its write
    assert [r["run_id"] for r in ResultsFile(path).rows()] == ["r000"]  # readers skip it
    assert ResultsFile(path).run_ids() == {"r000"}
    assert fixed in ResultsFile(path).repair()
    if fixed == "removed":
        assert path.read_bytes() == whole
    else:
        assert path.read_bytes() == whole + tail + b"\n"
        assert ResultsFile(path).rows()[1]["config"] == '{"a": 1}'
    assert ResultsFile(path).repair() is None
    with open(path, "ab") as fh:
        fh.write(b"r010,")
    assert ResultsFile(path).append(row(11))  # append repairs first, too
    assert path.read_bytes().endswith(b"\n") and b"r010" not in path.read_bytes()


@pytest.mark.parametrize("how", ["short write", "ENOSPC", "fsync EIO"])
def test_a_full_disk_leaves_the_file_as_it_was_and_raises(tmp_path, monkeypatch, how):
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    f.append(row(0))
    before = path.read_bytes()
    real_write, real_fsync = results.os.write, results.os.fsync
    if how == "short write":
        monkeypatch.setattr(results.os, "write", lambda fd, b: real_write(fd, b[:7]))
    elif how == "ENOSPC":
        def full(fd, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(results.os, "write", full)
    else:
        def eio(fd):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        monkeypatch.setattr(results.os, "write", lambda fd, b: real_write(fd, b))
        monkeypatch.setattr(results.os, "fsync", eio)
    with pytest.raises(OSError):
        f.append(row(1))
    monkeypatch.setattr(results.os, "write", real_write)
    monkeypatch.setattr(results.os, "fsync", real_fsync)
    assert path.read_bytes() == before  # no partial line left behind
    assert f.append(row(1)) and [r["run_id"] for r in f.rows()] == ["r000", "r001"]


APPENDER = """
import sys
from reference_trainer.results import ResultsFile
f = ResultsFile(sys.argv[1])
for i in range(int(sys.argv[2]), 10**6):
    row = {"run_id": f"r{i:06d}", "lr": 1e-3, "val_loss": 3.0, "status": "ok",
           "config": '{"pad": "' + "x" * 3000 + '"}'}
    if f.append(row):
        print(row["run_id"], flush=True)  # acknowledged: append returned
"""


def test_killed_writers_lose_and_duplicate_nothing_and_leave_no_partial_line(tmp_path):
    """SIGKILL an appending process at random moments, several times: every row it
    acknowledged is in the file once, every line is whole, and restarts continue."""
    path, rng, acked, start = tmp_path / "runs.csv", random.Random(0), [], 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(start)],
                                stdout=subprocess.PIPE, text=True, env=env)
        t0 = time.time()
        while not path.exists() and time.time() - t0 < 30:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acked += out.split()
        data = path.read_bytes()
        lines = data.split(b"\n")
        assert lines[-1] == b"" or len(lines[-1]) < 3100  # at most one torn line, never mended
        rows = ResultsFile(path).rows()
        ids = [r["run_id"] for r in rows]
        assert len(ids) == len(set(ids))  # no duplicate
        assert set(acked) <= set(ids)  # no acknowledged row lost
        assert all(len(r) == 5 and r["config"].endswith('"}') for r in rows)  # whole rows
        start = len(ids) // 2  # the restart tries rows that are already in, then new ones
    ResultsFile(path).repair()
    text = path.read_bytes()
    assert text.endswith(b"\n")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len({r["run_id"] for r in rows}) >= len(acked) > 0


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


def test_failure_log_records_runs_that_raised(tmp_path, tiny):
    out = ResultsFile(tmp_path / "runs.csv")
    log = FailureLog(out)
    assert log.run_ids() == set()
    cfg = tiny(lr=0.5)
    log.record(cfg, "Traceback ...\nRuntimeError: boom", attempts=2)
    with open(log.path, "a") as fh:
        fh.write('{"run_id": "torn')  # a torn line is skipped
    assert log.run_ids() == {cfg.run_id}
    import json

    entry = json.loads(log.path.read_text().splitlines()[0])
    assert entry["attempts"] == 2 and entry["error"].endswith("boom")
    assert entry["config"]["lr"] == 0.5 and entry["host"]
    assert not out.path.exists()  # no results row for a failed run


def test_a_torn_last_row_is_kept_only_when_it_parses_whole_at_every_cut(tmp_path, tiny):
    """Cut the last row at every offset: the repair keeps it only when all of it is there
    (a config cut inside its JSON is cut off), so that run is trained again."""
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    for i, lr in enumerate((1e-3, 3e-3, 1e-2)):
        cfg = tiny(lr=lr)
        f.append(row(i, run_id=cfg.run_id, config=json.dumps(cfg.identity(), sort_keys=True)))
    data = path.read_bytes()
    whole = data[:data.rstrip(b"\n").rfind(b"\n") + 1]
    last = data[len(whole):-1]  # the last row without its newline
    last_id = last.split(b",")[0].decode()
    kept = []
    for cut in range(len(last) + 1):
        path.write_bytes(whole + last[:cut])
        fixed = ResultsFile(path).repair()
        ids = ResultsFile(path).run_ids()
        if path.read_bytes() == data:
            kept.append(cut)
            assert last_id in ids and "completed" in fixed
        else:
            assert path.read_bytes() == whole and last_id not in ids  # trained again
            assert cut == 0 or "removed" in fixed
    assert kept == [len(last)]  # only the row with every byte but its newline


def test_an_unreadable_row_names_the_file_and_line(tmp_path):
    path = tmp_path / "runs.csv"
    f = ResultsFile(path)
    for i in range(3):
        f.append(row(i, config="{}"))
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"r001,0.002"  # a short row in the middle (line 3)
    path.write_bytes(b"\n".join(lines))
    for read in (lambda: ResultsFile(path).run_ids(), lambda: ResultsFile(path).rows(),
                 lambda: ResultsFile(path).append(row(9))):
        with pytest.raises(results.RowError) as e:
            read()
        assert str(e.value) == f"{path}, line 3: 2 fields where the header has 5; fix or " \
                               "remove the line"
    with pytest.raises(results.RowError, match=r", line 2: column 'config' is not JSON"):
        results.config_of(path, 2, '{"lr": 0.01, "see')
