"""Where a run executes: devices, processes (DDP), autocast, host copies, checkpoint files
(atomic saves, safe loads, leftovers of killed saves).

Nothing here knows about models or data: `train`, `batched_train`, `coord` and the
benchmarks share it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import torch

from .hosts import HOST, pid_alive


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
    """torch.save to a temporary file beside `path` (``<path>.tmp<pid>@<host>``), then
    rename: a kill never leaves a partial checkpoint. Leftovers of earlier killed saves
    of `path` are removed first (`remove_stale_tmp`)."""
    remove_stale_tmp(path)
    tmp = f"{path}.tmp{os.getpid()}@{HOST}"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _tmp_owner(name: str) -> tuple[str, int, str] | None:
    """'<target>.tmp<pid>[@<host>]' -> (target, pid, host); None for any other name."""
    stem, _, host = name.partition("@") if "@" in name else (name, "", HOST)
    target, sep, pid = stem.rpartition(".tmp")
    if not sep or not target or not pid.isdigit():
        return None
    return target, int(pid), host or HOST


def remove_stale_tmp(path_or_dir) -> list[str]:
    """Remove temporary files of killed checkpoint saves: of one checkpoint `path`, or of
    every checkpoint in a directory. Only files that no live save can still own: their
    pid is dead on this host, or they are older than the checkpoint they would replace.
    Returns the names removed."""
    p = os.fspath(path_or_dir)
    folder, only = (p, None) if os.path.isdir(p) else (os.path.dirname(p) or ".",
                                                       os.path.basename(p))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        owner = _tmp_owner(name)
        if owner is None or (only is not None and owner[0] != only):
            continue
        target, pid, host = owner
        f, t = os.path.join(folder, name), os.path.join(folder, target)
        try:
            dead = host == HOST and pid != os.getpid() and not pid_alive(pid)
            older = os.path.exists(t) and os.path.getmtime(f) < os.path.getmtime(t)
            if dead or older:
                os.remove(f)
                removed.append(name)
        except FileNotFoundError:
            continue
    return removed


_IGNORED: set = set()  # (path, reason) already reported by this process


def ignore_checkpoint(path, why: str) -> None:
    """Say once per process that checkpoint `path` is ignored, and why (one line)."""
    if (str(path), why) not in _IGNORED:
        _IGNORED.add((str(path), why))
        log(f"ignoring checkpoint {path}: {why}")


def error_line(e: BaseException) -> str:
    """An exception as one short line: 'KeyError: 'model''."""
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def load_checkpoint(path, map_location="cpu", mmap: bool = False) -> dict | None:
    """A checkpoint written by `save_atomic`, loaded with ``weights_only=True`` (tensors,
    numbers, strings, lists, dicts: no code runs); None, with one line on stderr, when the
    file is unreadable or holds anything else (e.g. a pickle planted to run code)."""
    try:
        st = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - not ours to resume from
        why = ("it holds more than tensors and plain values, so it was not loaded"
               if "weights_only" in str(e).lower() or "weights only" in str(e).lower()
               else f"unreadable ({error_line(e)})")
        ignore_checkpoint(path, why)
        return None
    if not isinstance(st, dict):
        ignore_checkpoint(path, "not a checkpoint of this trainer")
        return None
    return st


def check_progress(step, losses, init_loss, n_steps: int) -> None:
    """Raise ValueError unless a checkpoint's `step`, `losses` (one per step) and
    `init_loss` describe a run of `n_steps` steps in progress."""
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= n_steps:
        raise ValueError(f"step {step!r} is not a step of a {n_steps}-step run")
    if not isinstance(losses, list) or len(losses) != step \
            or not all(isinstance(v, float) for v in losses):
        raise ValueError(f"its losses are not {step} numbers")
    if step and not isinstance(init_loss, float):
        raise ValueError(f"its first loss {init_loss!r} is not a number")
