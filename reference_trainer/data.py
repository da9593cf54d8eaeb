"""Tokens: a byte-level tokenizer, token files, the offline default corpus, batches.

Sources (the ``data`` field):

* ``stdlib``: the Python standard library sources of the running interpreter
  (``sysconfig`` stdlib path, tests and site-packages left out), files in a fixed
  shuffled order, bytes as tokens. Present right after installing; nothing is downloaded.
* ``stdlib-bpeV`` (e.g. ``stdlib-bpe4096``): the same text in a vocabulary of V tokens,
  byte-level BPE (``bpe.py``) trained on the first 2 MB of the training split; train
  and validation text are encoded separately (no token spans the split); the encoding
  is cached on disk after the first load (about half a minute).
* a directory with ``train.bin`` and ``val.bin`` (nanoGPT format: flat uint16 tokens,
  memory-mapped), used as given;
* a single ``.bin`` file: memory-mapped, the last ``val_frac`` of it held out;
* any other file: text, bytes as tokens, the last ``val_frac`` held out.

Train and validation are disjoint ranges of the token stream (or separate files), so
no validation token is ever trained on.
"""

from __future__ import annotations

import functools
import os
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

BYTE_VOCAB = 256
_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "turtledemo",
              "__pycache__", "lib2to3"}


def encode(text: str | bytes) -> np.ndarray:
    """Byte-level tokenizer: UTF-8 bytes -> uint16 tokens in [0, 256)."""
    b = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return np.frombuffer(b, dtype=np.uint8).astype(np.uint16)


def decode(tokens) -> str:
    return bytes(np.asarray(tokens, dtype=np.uint8).tolist()).decode("utf-8", errors="replace")


@dataclass
class Dataset:
    train: np.ndarray  # (N_train,) uint16, possibly a memmap
    val: np.ndarray  # (N_val,) uint16
    vocab_size: int
    name: str


def stdlib_files() -> list[Path]:
    """The standard library's .py files in a fixed order (sorted, then shuffled, seed 0)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS)
        files += [Path(d) / n for n in sorted(names) if n.endswith(".py")]
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    random.Random(0).shuffle(files)
    return files


def _fallback_files() -> list[Path]:
    """This project's own sources: always installed, small."""
    here = Path(__file__).resolve().parent
    return sorted(p for d in (here, here.parent / "scalefit") if d.is_dir()
                  for p in d.rglob("*.py"))


def _split(tokens: np.ndarray, val_frac: float, name: str, vocab: int) -> Dataset:
    n_val = max(1, int(len(tokens) * val_frac))
    return Dataset(train=tokens[:-n_val], val=tokens[-n_val:], vocab_size=vocab, name=name)


def _bin_vocab(*arrays) -> int:
    """Vocabulary of a token file: max token + 1, rounded up to a multiple of 64."""
    top = max(int(a.max()) for a in arrays if len(a)) + 1
    return max(BYTE_VOCAB, -(-top // 64) * 64)


BPE_TRAIN_BYTES = 2_000_000  # the BPE merges of stdlib-bpeV are learned on this prefix


def _stdlib_bytes() -> tuple[bytes, str]:
    import sys

    files = stdlib_files()
    if sum(f.stat().st_size for f in files) < 1_000_000:  # stripped install: no sources
        files = _fallback_files()
    name = f"stdlib:py{sys.version_info.major}.{sys.version_info.minor}"
    return b"".join(f.read_bytes() + b"\n\n" for f in files), name


def _bpe_vocab(source: str) -> int | None:
    """V of 'stdlib-bpeV', None for any other source; ValueError for a bad V."""
    if not source.startswith("stdlib-bpe"):
        return None
    v = source[len("stdlib-bpe"):]
    if not v.isdigit() or not 256 < int(v) <= 65536:
        raise ValueError(f"data {source!r}: expected stdlib-bpeV with 256 < V <= 65536, "
                         "e.g. stdlib-bpe4096")
    return int(v)


@functools.lru_cache(maxsize=4)
def load(source: str = "stdlib", val_frac: float = 0.05) -> Dataset:
    """Load a data source (see module doc). Cached per process: a sweep loads it once."""
    if source == "stdlib":
        raw, name = _stdlib_bytes()
        return _split(encode(raw), val_frac, name, BYTE_VOCAB)
    vocab = _bpe_vocab(source)
    if vocab is not None:
        from . import bpe

        raw, name = _stdlib_bytes()
        n_val = max(1, int(len(raw) * val_frac))  # the byte split of `stdlib`
        train_raw, val_raw = raw[:-n_val], raw[-n_val:]
        head = train_raw[:BPE_TRAIN_BYTES]
        train = bpe.cached_encode(head, train_raw, vocab)
        val = bpe.cached_encode(head, val_raw, vocab)
        return Dataset(train, val, vocab, f"{name}:bpe{vocab}")
    path = Path(source).expanduser()
    if path.is_dir():
        tr, va = path / "train.bin", path / "val.bin"
        if not (tr.is_file() and va.is_file()):
            raise ValueError(f"data directory {path} needs train.bin and val.bin")
        train = np.memmap(tr, dtype=np.uint16, mode="r")
        val = np.memmap(va, dtype=np.uint16, mode="r")
        return Dataset(train, val, _bin_vocab(train, val), str(path))
    if not path.is_file():
        raise ValueError(f"data {source!r}: not 'stdlib', a directory or a file")
    if path.suffix == ".bin":
        tokens = np.memmap(path, dtype=np.uint16, mode="r")
        return _split(tokens, val_frac, str(path), _bin_vocab(tokens))
    return _split(encode(path.read_bytes()), val_frac, str(path), BYTE_VOCAB)


def _windows(tokens: np.ndarray, starts, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows tokens[s : s+T] and tokens[s+1 : s+T+1] -> x, y (len(starts), T) int64."""
    rows = np.stack([np.asarray(tokens[s:s + T + 1], dtype=np.int64) for s in starts])
    rows = torch.from_numpy(rows)
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


class Batches:
    """Random training windows, reproducible from a seed.

    Each step draws the *global* batch of `batch_size` start positions from one
    generator, and process `rank` of `world` keeps its contiguous slice, so a DDP run
    sees exactly the data of the single-process run with the same seed.
    """

    def __init__(self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int,
                 rank: int = 0, world: int = 1):
        if len(tokens) < seq_len + 2:
            raise ValueError(f"training split has {len(tokens)} tokens, fewer than "
                             f"seq_len + 2 = {seq_len + 2}")
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} is not divisible by {world} processes")
        self.tokens, self.T, self.B = tokens, seq_len, batch_size
        self.lo = rank * batch_size // world
        self.hi = (rank + 1) * batch_size // world
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of the next global batch: x, y (B / world, T) int64."""
        starts = torch.randint(0, len(self.tokens) - self.T - 1, (self.B,), generator=self.gen)
        return _windows(self.tokens, starts[self.lo:self.hi].tolist(), self.T)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


def eval_windows(tokens: np.ndarray, seq_len: int, n_tokens: int) -> list[int]:
    """Start positions of consecutive non-overlapping windows covering the first
    `n_tokens` held-out tokens (at least one window)."""
    n = max(1, min(n_tokens, len(tokens) - 1) // seq_len)
    if len(tokens) < seq_len + 1:
        raise ValueError(f"validation split has {len(tokens)} tokens, fewer than "
                         f"seq_len + 1 = {seq_len + 1}; use more data or a larger val_frac")
    return [i * seq_len for i in range(n)]


def eval_batches(tokens, seq_len, n_tokens, batch_size):
    """Yield x, y (<= batch_size, T) over `eval_windows`."""
    starts = eval_windows(tokens, seq_len, n_tokens)
    for i in range(0, len(starts), batch_size):
        yield _windows(tokens, starts[i:i + batch_size], seq_len)
