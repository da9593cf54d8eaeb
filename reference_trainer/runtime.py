"""Where a run executes: devices, processes (DDP), autocast, host copies, atomic saves.

Nothing here knows about models or data: `train`, `batched_train`, `coord` and the
benchmarks share it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import torch


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return dev


def setup(device: str) -> Dist:
    """Single process, or one DDP rank when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if world == 1:
        if dev.type == "cuda" and dev.index is not None:
            torch.cuda.set_device(dev)
        return Dist(0, 1, dev)
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, dev)


def autocast(dev: torch.device, dtype: str):
    """bf16 autocast on CUDA (dtype auto/bf16) or on request; otherwise fp32."""
    if dtype == "bf16" or (dtype == "auto" and dev.type == "cuda"):
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def all_mean(x: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        import torch.distributed as dist

        dist.all_reduce(x, op=dist.ReduceOp.SUM)  # gloo has no AVG
        x /= d.world
    return x


def enable_tf32(dev: torch.device) -> None:
    """On CUDA: TF32 for every fp32 matmul (bf16 autocast does the rest)."""
    if dev.type == "cuda":
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True


class HostScalar:
    """A device tensor (0-dim, or the K losses of a batch) copied to the host without
    blocking; `get` / `tolist` wait only for that copy, not for the work queued after
    it (on CPU it is just the tensor)."""

    def __init__(self, t: torch.Tensor):
        self.event = None
        if t.device.type == "cuda":
            self.buf = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            self.buf.copy_(t, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.buf = t

    def _wait(self) -> torch.Tensor:
        if self.event is not None:
            self.event.synchronize()
        return self.buf

    def get(self) -> float:
        return self._wait().item()

    def tolist(self) -> list:
        return self._wait().tolist()


def save_atomic(path, state) -> None:
    """torch.save to a temporary file beside `path`, then rename: a kill never leaves a
    partial checkpoint."""
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
