"""Sweeps on a real Ray cluster on this machine: a head and worker nodes as separate
processes on 127.0.0.1. The rows equal those of the same sweep run locally, and a node
killed while its tasks run costs no run and duplicates none."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from trainer_helpers import ROOT, cli_env, run_cli, tiny_flags

ray = pytest.importorskip("ray")

GRID = [*tiny_flags(tokens=32 * 8 * 24), "--widths", "32,64", "--lrs", "1e-2,3e-2,1e-1",
        "--seeds", "0,1", "--device", "cpu"]  # 12 runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def session_pids(sid: int) -> dict[int, str]:
    """pid -> command line of the live processes of session `sid` (a node: `ray start`
    in a new session, its raylet, agents and workers)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                with open(f"/proc/{d}/cmdline", "rb") as fh:
                    out[int(d)] = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return out


# Ray replaces 127.0.0.1 by this machine's outward address (so that other machines can
# reach a node); a test cluster keeps all its traffic on the loopback interface instead.
LOOPBACK = """
try:
    import ray._private.services as services
    services.node_ip_address_from_perspective = lambda address=None: "127.0.0.1"
except ImportError:
    pass
"""


class Cluster:
    """`ray start --block` processes, each in its own session (killed whole), on 127.0.0.1."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rt-ray-", dir="/tmp")  # short: socket paths
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        site = os.path.join(self.tmp, "site")
        os.mkdir(site)
        with open(os.path.join(site, "sitecustomize.py"), "w") as fh:
            fh.write(LOOPBACK)
        # the same auth mode for every process whatever ~/.ray holds (a token file there
        # turns token auth on for `ray start` but not for a client without it)
        self.env = dict(cli_env(), RAY_USAGE_STATS_ENABLED="0", RAY_ADDRESS="",
                        RAY_AUTH_MODE="disabled", PYTHONPATH=f"{site}{os.pathsep}{ROOT}")

    def start_node(self, head: bool = False) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
               "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
               "--object-store-memory", str(80 * 2**20), "--disable-usage-stats",
               "--dashboard-agent-listen-port", str(free_port())]
        cmd += (["--head", "--port", str(self.port), "--temp-dir", self.tmp,
                 "--include-dashboard=false"] if head else ["--address", self.address])
        log = open(os.path.join(self.tmp, f"node{len(self.nodes)}.log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                             start_new_session=True)
        self.nodes.append(p)
        return p

    def wait_for(self, n_nodes: int, timeout: float = 60) -> None:
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "nodes = [n for n in ray.nodes() if n['Alive']]; "
                 "print(len(nodes), ','.join(sorted({n['NodeManagerAddress'] for n in nodes})))")
        t0 = time.time()
        while time.time() - t0 < timeout:
            if any(p.poll() is not None for p in self.nodes):
                break
            r = subprocess.run([sys.executable, "-c", probe, self.address], env=self.env,
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0 and int(r.stdout.split()[-2]) >= n_nodes:
                assert r.stdout.split()[-1] == "127.0.0.1", r.stdout  # all on the loopback
                return
            time.sleep(0.5)
        logs = "".join(open(os.path.join(self.tmp, f)).read()[-2000:]
                       for f in sorted(os.listdir(self.tmp)) if f.endswith(".log"))
        raise RuntimeError(f"the Ray cluster did not reach {n_nodes} nodes:\n{logs}")

    def kill(self, node: subprocess.Popen) -> None:
        """SIGKILL every process of the node at once."""
        for pid in session_pids(node.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node.wait(timeout=30)

    def stop(self) -> None:
        for p in reversed(self.nodes):
            self.kill(p)
        subprocess.run(["rm", "-rf", self.tmp], check=False)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        c.start_node(head=True)
        c.start_node()
        c.wait_for(2)
        yield c
    finally:
        c.stop()


def sweep_cmd(out, *extra, grid=GRID) -> list[str]:
    return [sys.executable, "-m", "reference_trainer", "sweep", *grid, "--out", str(out),
            *extra]


def test_a_sweep_on_ray_writes_the_rows_of_the_local_sweep(cluster, tmp_path):
    here, there = tmp_path / "local.csv", tmp_path / "ray.csv"
    run_cli(*sweep_cmd(here, "--no-batch")[3:])
    p = run_cli(*sweep_cmd(there, "--no-batch", "--ray", cluster.address)[3:], timeout=180,
                env=cluster.env)
    assert f"Ray cluster {cluster.address} (2 CPUs, one per task)" in p.stderr
    assert "12 ok, 0 diverged, 0 failed" in p.stderr and "[12/12 done, 0 running" in p.stderr
    a, b = ({r["run_id"]: r for r in read(f)} for f in (here, there))
    assert len(a) == 12 and set(a) == set(b) and len(read(there)) == 12
    for rid, x in a.items():
        for col in x:
            if col not in ("wall_time_s", "tokens_per_s"):
                assert x[col] == b[rid][col], (rid, col)  # val_loss to the last digit


def test_a_node_killed_while_its_tasks_run_costs_no_run(cluster, tmp_path):
    """A third node joins; it is killed (raylet, workers, all) while it trains a batch;
    Ray runs the batch again on a live node, resuming from its checkpoint."""
    victim = cluster.start_node()
    cluster.wait_for(3)
    out, ckpt = tmp_path / "runs.csv", tmp_path / "ckpt"
    env = dict(cluster.env, RAY_ADDRESS=cluster.address)
    grid = [*tiny_flags(tokens=32 * 8 * 300), "--lrs", "1e-2,3e-2,1e-1", "--seeds", "0,1",
            "--device", "cpu"]  # 6 runs of 300 steps: a batch of 2 on each node
    sweep = subprocess.Popen(sweep_cmd(out, "--max-batch", "2", "--ray", "auto", "--ckpt-dir",
                                       ckpt, "--ckpt-every", "50", grid=grid),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0, busy = time.time(), False
        while time.time() - t0 < 120 and sweep.poll() is None and not busy:
            busy = any(cmd.startswith("ray::train_task") for cmd in session_pids(victim.pid)
                       .values())
            time.sleep(0.05)
        assert busy, "the extra node never got a task"
        cluster.kill(victim)
        _, err = sweep.communicate(timeout=180)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, err
    assert "6 ok, 0 diverged, 0 failed" in err
    ids = [r["run_id"] for r in read(out)]
    assert len(ids) == 6 and len(set(ids)) == 6  # every run exactly once
    assert not list(ckpt.iterdir())  # checkpoints go once their rows are in


def test_a_run_that_raises_is_tried_again_then_logged_as_failed(cluster, tmp_path):
    out = tmp_path / "runs.csv"
    p = run_cli(*sweep_cmd(out, "--ray", cluster.address, grid=[
        *tiny_flags(), "--data", tmp_path / "missing", "--device", "cpu"])[3:],
        env=cluster.env, check=False, timeout=180)
    assert p.returncode == 1, p.stderr
    assert "trying it again (attempt 2 of 2)" in p.stderr and "0 ok, 0 diverged, 1 failed" in \
        p.stderr
    (entry,) = [json.loads(line) for line in open(f"{out}.failed")]
    assert entry["attempts"] == 2 and "not 'stdlib', a directory or a file" in entry["error"]
    assert not out.exists()  # no row: scalefit never reads it as diverged
