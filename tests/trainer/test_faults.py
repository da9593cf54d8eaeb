"""Fault injection on sweeps: a full disk stops the sweep at once with one line; the
driver killed at random moments loses, duplicates and tears no row; a worker process
that dies fails its runs into the failure log, and the sweep goes on."""

import csv
import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from trainer_helpers import cli_env, run_cli, tiny_flags

from reference_trainer import cli
from reference_trainer.results import ResultsFile


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_full_disk_stops_the_sweep_at_once_with_one_line(tmp_path, monkeypatch, capsys):
    from reference_trainer import train as train_mod

    started = []
    real_train = train_mod.train
    monkeypatch.setattr(train_mod, "train",
                        lambda cfg, **kw: started.append(cfg.run_id) or real_train(cfg, **kw))
    real_append = ResultsFile.append

    def full_after_two(self, row):
        if len(self.run_ids()) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        return real_append(self, row)

    monkeypatch.setattr(ResultsFile, "append", full_after_two)
    out = tmp_path / "runs.csv"
    code = cli.main(["sweep", *tiny_flags(), "--lrs", "1e-3,2e-3,4e-3,8e-3,1.6e-2",
                     "--device", "cpu", "--no-batch", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (f"reference-trainer sweep: cannot write {out}: No space left on device;"
                       " the sweep stopped (rows of runs trained since are lost; they train "
                       "again when it is resumed)")
    assert len(started) == 3  # the run whose row failed was the last one started
    assert len(read(out)) == 2


def test_a_sweep_on_a_really_full_disk(tmp_path):
    """A tiny tmpfs (root only) that fills up after a few rows."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs",
                                            str(mnt)], capture_output=True).returncode:
        pytest.skip("needs root to mount a tmpfs")
    try:
        # 3 pages of 4 KiB left: the sweep lock, the claims, and about 3 rows
        (mnt / "filler").write_bytes(b"x" * (5 * 4096))
        out = mnt / "runs.csv"
        p = run_cli("sweep", *tiny_flags(), "--lrs", "1e-3:6.4e-2:x2", "--device", "cpu",
                    "--no-batch", "--out", out, check=False)
        assert p.returncode == 2, p.stderr
        last = p.stderr.strip().splitlines()[-1]
        assert last.startswith(f"reference-trainer sweep: cannot write {out}: No space left")
        rows = read(out)
        assert 1 <= len(rows) < 7 and out.read_bytes().endswith(b"\n")
        done = len(re.findall(r" -> ok", p.stderr))
        assert done == len(rows)  # every row reported was written, and no run started after
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("mode", [["--no-batch"], ["--max-batch", "3"]])
def test_driver_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path, mode):
    out = tmp_path / "runs.csv"
    args = ["sweep", *tiny_flags(tokens=32 * 8 * 30), "--widths", "32,64",
            "--lrs", "3e-3,1e-2,3e-2", "--seeds", "0,1", "--device", "cpu", "--out", str(out),
            *mode]
    expected = [line.split()[0] for line in
                run_cli(*args, "--dry-run", "--no-probe").stdout.splitlines() if " todo " in line]
    rng, interrupted = random.Random(len(mode)), 0
    for _ in range(3):
        log = tmp_path / "sweep.log"
        with open(log, "w") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "reference_trainer", *args],
                                    env=cli_env(), stdout=subprocess.DEVNULL, stderr=fh)
        n0, k = (len(read(out)) if out.exists() else 0), rng.randint(1, 3)
        t0 = time.time()
        while proc.poll() is None and time.time() - t0 < 60:
            if out.exists() and len(ResultsFile(out).rows()) >= n0 + k:
                break  # k new rows, then a random moment
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        interrupted += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = out.read_bytes()
        assert data.endswith(b"\n")  # 0 partial lines
        rows = read(out)
        assert all(None not in r and len(r) == len(rows[0]) for r in rows)  # whole rows
        ids = [r["run_id"] for r in rows]
        assert len(ids) == len(set(ids))  # 0 duplicated
        reported = re.findall(r"\] cpu(?: \S+)? ([0-9a-f]{12}) ", log.read_text())
        assert set(reported) <= set(ids)  # 0 lost: every row the driver reported is there
    assert interrupted >= 2  # (a try may finish first on a fast machine)
    p = run_cli(*args)
    assert sorted(r["run_id"] for r in read(out)) == sorted(expected)
    assert "sharing" not in p.stderr  # the killed drivers' locks and claims died with them


def test_a_worker_process_that_dies_fails_its_runs_into_the_failure_log(tmp_path):
    # runs of 600 steps: when the first row lands, both workers are still training (with
    # 120-step runs a loaded machine could let the victim finish all its runs first)
    out = tmp_path / "runs.csv"
    args = ["sweep", *tiny_flags(tokens=32 * 8 * 600), "--lrs", "1e-3,2e-3,4e-3,8e-3",
            "--device", "cpu", "--workers", "2", "--no-batch", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "reference_trainer", *args], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        victim, t0 = None, time.time()
        while victim is None and time.time() - t0 < 60:
            kids = [int(t) for t in open(f"/proc/{proc.pid}/task/{proc.pid}/children")
                    .read().split()]
            workers = [k for k in kids if b"spawn_main" in open(f"/proc/{k}/cmdline", "rb")
                       .read()]
            if len(workers) == 2 and out.exists():
                victim = workers[0]
            time.sleep(0.02)
        assert victim, "no worker trained"
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "the worker process on cpu died (exit code -9) while training this run" in err
    failed = [json.loads(line) for line in open(f"{out}.failed")]
    ok = read(out)
    assert len(failed) >= 1 and len(ok) + len(failed) == 4  # every run accounted for
    assert "died" in failed[0]["error"] and not {f["run_id"] for f in failed} & {
        r["run_id"] for r in ok}
    dry = run_cli(*args, "--dry-run", "--no-probe").stdout
    assert dry.count("(failed before: see the .failed log)") == len(failed)
