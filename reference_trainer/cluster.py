"""Sweeps on a Ray cluster (``reference-trainer sweep --ray ADDRESS``): a pool of Ray tasks.

The driver (the sweep's process) keeps the grid, the claims and the results file; each
batch of runs is one Ray task asking for what it needs (one GPU, or one CPU) that
trains the batch with `worker.run_batch` wherever Ray places it and returns the rows;
the driver appends them. Workers never touch the results file.

Failures: a task whose worker process or node dies is run again by Ray, elsewhere when
the node is gone (``max_retries``); with ``--ckpt-dir`` on a path every node sees, the
retry resumes from the last checkpoint. A run that raised comes back with its error,
and the driver submits it once more (`sweep.Driver`, retries=1); after a second
failure it is logged in ``<file>.failed``. A batch returns its rows when it ends.

Ray is imported only here, and only for ``--ray`` (``pip install -e ".[cluster]"``).
"""

from __future__ import annotations

import dataclasses
import logging

from .config import RunConfig
from .hosts import HOST
from .worker import run_batch

MAX_RETRIES = 3  # Ray's re-runs of a task whose worker or node died


def train_task(batch: list, device: str, ckpt_dir, verbose: bool, rev: str):
    """The Ray task: train `batch` = [(index, RunConfig fields)] on `device` (cpu, or
    cuda: the GPU Ray assigned). Returns (host, [(index, row, error)])."""
    import ray
    import torch

    from .results import pin_git_rev

    pin_git_rev(rev)  # rows name the code the sweep started with
    if device == "cpu":  # as many threads as CPUs given to the task
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))
    items = [(i, RunConfig(**fields).replace(device=device)) for i, fields in batch]
    outcomes: list = []
    run_batch(items, ckpt_dir, verbose, lambda i, row, err: outcomes.append((i, row, err)))
    return HOST, outcomes


def connect(address: str, verbose: bool = False):
    """Join the Ray cluster at `address` (host:port; auto: the one of RAY_ADDRESS or the
    one running on this machine) or start one here (local). Returns the ray module."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install -e \".[cluster]\" (or pip install "
                         "ray)") from None
    kw = {"logging_level": logging.WARNING, "log_to_driver": verbose}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **kw)
        else:
            ray.init(address=address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"--ray {address}: cannot join a Ray cluster ({first})") from None
    return ray


class RayPool:
    """Batches as Ray tasks (see `pools` for the four calls)."""

    def __init__(self, address: str, device: str, ckpt_dir, verbose: bool, rev: str):
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device {device} with --ray: give auto, cpu or cuda (Ray "
                             "assigns the GPUs)")
        self.ray = ray = connect(address, verbose)
        gpus = ray.cluster_resources().get("GPU", 0)
        if device == "cuda" and not gpus:
            ray.shutdown()
            raise ValueError("--device cuda: the Ray cluster has no GPU")
        self.address = address
        self.device = "cuda" if device != "cpu" and gpus else "cpu"
        self.resource = "GPU" if self.device == "cuda" else "CPU"
        need = {"num_gpus": 1} if self.device == "cuda" else {"num_cpus": 1}
        self.task = ray.remote(max_retries=MAX_RETRIES, **need)(train_task)
        self.args = (self.device, ckpt_dir, verbose, rev)
        self.refs: dict = {}  # ObjectRef -> (token, run indices)

    def slots(self) -> int:
        """One task per GPU (or CPU) of the cluster's live nodes."""
        return int(self.ray.cluster_resources().get(self.resource, 0))

    def describe(self) -> str:
        return f"Ray cluster {self.address} ({self.slots()} {self.resource}s, one per task)"

    def submit(self, token, items) -> None:
        batch = [(i, dataclasses.asdict(c)) for i, c in items]
        self.refs[self.task.remote(batch, *self.args)] = (token, [i for i, _ in items])

    def wait(self, on_run) -> list:
        ray = self.ray
        ready: list = []
        while not ready:
            ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=1.0)
        ended = []
        for ref in ready:
            token, runs = self.refs.pop(ref)
            host, outcomes, err = "?", [], "the task returned no outcome for this run"
            try:
                host, outcomes = ray.get(ref)
            except ray.exceptions.RayError as e:  # its worker or node died too often, ...
                err = f"{type(e).__name__}: {e}"
            where = f"{host} {self.device}"
            for i, row, e in outcomes:
                on_run(i, row, e, where)
            got = {o[0] for o in outcomes}
            for i in runs:
                if i not in got:
                    on_run(i, None, err, where)
            ended.append(token)
        return ended

    def close(self) -> None:
        for ref in self.refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone
                pass
        self.refs.clear()
        self.ray.shutdown()
