"""The results row of one run and the CSV file that collects them.

Writes are atomic: under an exclusive ``flock`` on ``<file>.lock`` the whole table
(old rows + the new one) is written to a temporary file in the same directory,
fsynced, and moved over the old file with ``os.replace``. A reader, or a process
killed at any instant (SIGKILL included), sees either the old or the new file,
never a partial row. The lock also makes appends from several workers safe, and a
row whose ``run_id`` is already present is not written again. Rewriting costs
O(rows) per append, negligible next to a training run.
"""

from __future__ import annotations

import csv
import fcntl
import functools
import json
import math
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

COLUMNS = [
    "run_id", "parameterization", "width", "depth", "heads", "head_dim",
    "n_params", "n_params_total", "tokens", "lr",
    "lr_mult_emb", "lr_mult_hidden", "lr_mult_readout", "lr_mult_norm",
    "emb_mult", "readout_mult", "attn_scale",
    "init_std_emb", "init_std_hidden", "init_std_readout", "base_width",
    "weight_decay", "wd_mode", "wd_transfer", "schedule", "warmup_tokens", "min_lr_frac",
    "grad_clip",
    "batch_size", "seq_len", "norm", "pos", "data", "seed",
    "val_loss", "train_loss", "status", "steps", "wall_time_s", "tokens_per_s",
    "device", "torch_version", "git_rev", "config",
]


_PINNED: list[str] = []  # set by `pin_git_rev` in a sweep's worker processes


def pin_git_rev(rev: str) -> None:
    """Make `git_rev` return `rev` in this process (a sweep worker reports the revision
    its sweep started with, not the tree's state when the worker gets to a row)."""
    _PINNED[:] = [rev]
    git_rev.cache_clear()


@functools.lru_cache(maxsize=1)
def git_rev() -> str:
    """Short commit of the trainer's source tree (+dirty); for a copy of the tree without
    git, the environment variable REFERENCE_TRAINER_GIT_REV; else 'unknown'."""
    if _PINNED:
        return _PINNED[0]
    here = Path(__file__).resolve().parent
    fallback = os.environ.get("REFERENCE_TRAINER_GIT_REV", "").strip() or "unknown"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        if not rev:
            return fallback
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return fallback


def make_row(cfg, tbl, *, n_params: int, n_params_total: int, val_loss: float,
             train_loss: float, status: str, steps: int, wall_time_s: float,
             tokens_per_s: float, device: str, data_name: str) -> dict:
    """One results row (see COLUMNS); val_loss is None unless status == 'ok'."""
    import torch

    r = tbl.rules
    ok = status == "ok" and val_loss is not None and math.isfinite(val_loss)
    return {
        "run_id": cfg.run_id, "parameterization": tbl.name,
        "width": cfg.width, "depth": cfg.depth, "heads": cfg.heads, "head_dim": cfg.d_head,
        "n_params": n_params, "n_params_total": n_params_total,
        "tokens": cfg.steps * cfg.tokens_per_step, "lr": cfg.lr,
        "lr_mult_emb": r["emb"].lr_mult, "lr_mult_hidden": r["hidden"].lr_mult,
        "lr_mult_readout": r["readout"].lr_mult, "lr_mult_norm": r["norm"].lr_mult,
        "emb_mult": r["emb"].mult, "readout_mult": r["readout"].mult,
        "attn_scale": tbl.attn_rule,
        "init_std_emb": r["emb"].init_std, "init_std_hidden": r["hidden"].init_std,
        "init_std_readout": r["readout"].init_std, "base_width": cfg.base_width,
        "weight_decay": cfg.weight_decay, "wd_mode": cfg.wd_mode,
        "wd_transfer": cfg.wd_transfer, "schedule": cfg.schedule,
        "warmup_tokens": cfg.warmup_steps * cfg.tokens_per_step,
        "min_lr_frac": cfg.min_lr_frac, "grad_clip": cfg.grad_clip,
        "batch_size": cfg.batch_size, "seq_len": cfg.seq_len, "norm": cfg.norm,
        "pos": cfg.pos, "data": data_name, "seed": cfg.seed,
        "val_loss": val_loss if ok else None,
        "train_loss": train_loss if train_loss is not None and math.isfinite(train_loss)
        else None,
        "status": "ok" if ok else "diverged", "steps": steps,
        "wall_time_s": round(wall_time_s, 3), "tokens_per_s": round(tokens_per_s, 1),
        "device": device, "torch_version": torch.__version__, "git_rev": git_rev(),
        "config": json.dumps(cfg.identity(), sort_keys=True),
    }


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


class ResultsFile:
    """A CSV of results rows, safe against concurrent writers and kills."""

    def __init__(self, path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self) -> tuple[list[str], list[dict]]:
        if not self.path.exists():
            return [], []
        with open(self.path, newline="") as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or []), list(reader)

    def rows(self) -> list[dict]:
        """All rows as dicts of strings (a consistent snapshot: files are replaced whole)."""
        return self._read()[1]

    def run_ids(self) -> set[str]:
        return {r["run_id"] for r in self.rows()}

    def append(self, row: dict) -> bool:
        """Add `row` atomically; False (and nothing written) if its run_id is present."""
        with self._locked():
            header, rows = self._read()
            if any(r.get("run_id") == row["run_id"] for r in rows):
                return False
            header = header or []
            header += [c for c in row if c not in header]
            # leftovers of a writer killed before os.replace: only lock holders make them
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(header)
                for r in rows:
                    w.writerow([r.get(c, "") or "" for c in header])
                w.writerow([_cell(row.get(c)) for c in header])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return True
