"""One writer at a time: the sweep lock refuses a second sweep on a results file, and
sweeps that share one (--share) train every run once in all through claims."""

import csv
import os
import re
import subprocess
import sys
import time

import pytest
from trainer_helpers import cli_env, run_cli, tiny_flags

from reference_trainer.hosts import HOST
from reference_trainer.results import ResultsFile
from reference_trainer.sweeplock import Claims, SweepBusy, SweepLock


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_sweep_lock_refuses_a_second_sweep_and_lets_sharers_in(tmp_path):
    out = ResultsFile(tmp_path / "runs.csv")
    with SweepLock(out) as first:
        assert first.alone
        with pytest.raises(SweepBusy) as e:
            SweepLock(out).__enter__()
        msg = str(e.value)
        assert msg.startswith(f"{out.path} is being written by sweep pid {os.getpid()} on "
                              f"host {HOST} since ")
        assert msg.endswith("; wait for it or pass --share") and "\n" not in msg
        with SweepLock(out, share=True) as second:
            assert not second.alone
            with pytest.raises(SweepBusy, match=r"\(and 1 more\)"):
                SweepLock(out).__enter__()
        with pytest.raises(SweepBusy):  # the first still holds it
            SweepLock(out).__enter__()
    with SweepLock(out) as again:  # free once every holder has left
        assert again.alone


def test_claims_give_each_run_to_one_sweep_and_die_with_their_holder(tmp_path):
    out = ResultsFile(tmp_path / "runs.csv")
    claims = Claims(out)
    assert claims.take(["a", "b"]) == ["a", "b"]
    assert claims.take(["a", "b", "c"]) == ["a", "b", "c"]  # our own claims stay ours
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(claims.path, "a") as fh:
            fh.write(f"x {HOST} {live.pid} 0\ny {HOST} {dead.pid} 0\nz far-host 1 0\nto")
        assert claims.take(["x", "y", "z", "w"]) == ["y", "w"]  # x, z held; y's holder gone
        out.append({"run_id": "w", "status": "ok"})
        assert claims.take(["w"]) == []  # has a row
    finally:
        live.kill()
        live.wait()
    assert claims.take(["x"]) == ["x"]


def sweep_args(out, *extra):
    return [sys.executable, "-m", "reference_trainer", "sweep",
            *tiny_flags(tokens=32 * 8 * 200), "--lrs", "1e-3,2e-3,4e-3,8e-3",
            "--seeds", "0,1", "--device", "cpu", "--no-batch", "--out", str(out), *extra]


def trained(stderr: str) -> list[str]:
    """run_ids a sweep trained and wrote, from its progress lines."""
    return re.findall(r"\] cpu ([0-9a-f]{12}) .* -> ok", stderr)


def test_a_second_sweep_refuses_or_shares_and_every_run_trains_once(tmp_path):
    out = tmp_path / "runs.csv"
    logs = [open(tmp_path / f"sweep{k}.log", "w+") for k in range(2)]
    first = subprocess.Popen(sweep_args(out), env=cli_env(), stdout=subprocess.DEVNULL,
                             stderr=logs[0])
    try:
        t0 = time.time()
        while not out.exists() and time.time() - t0 < 60 and first.poll() is None:
            time.sleep(0.02)  # the first row: the first sweep holds the lock
        refused = run_cli(*sweep_args(out)[3:], check=False)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.strip() == refused.stderr.strip().splitlines()[0]  # one line
        assert re.fullmatch(rf"reference-trainer sweep: {re.escape(str(out))} is being "
                            rf"written by sweep pid {first.pid} on host {re.escape(HOST)} "
                            r"since [0-9: -]+ UTC; wait for it or pass --share\n",
                            refused.stderr)
        second = subprocess.Popen(sweep_args(out, "--share"), env=cli_env(),
                                  stdout=subprocess.DEVNULL, stderr=logs[1])
        assert second.wait(timeout=120) == 0 and first.wait(timeout=120) == 0
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    err = []
    for f in logs:
        f.seek(0)
        err.append(f.read())
    a, b = trained(err[0]), trained(err[1])
    assert "(sharing it with another sweep)" in err[1]
    assert len(b) >= 1, err[1]  # the second sweep took its share ...
    assert not set(a) & set(b) and len(a) + len(b) == 8  # ... and no run trained twice
    ids = [r["run_id"] for r in read(out)]
    assert sorted(ids) == sorted(a + b)
