"""Helpers shared by the reference-trainer tests (a module name no other suite uses)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a model that trains in well under a second on one CPU thread
TINY = dict(width=32, depth=1, head_dim=16, seq_len=32, batch_size=8, tokens=32 * 8 * 8,
            eval_tokens=1024, base_width=32)


def cli_env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def run_cli(*args, timeout=120, check=True, **kw) -> subprocess.CompletedProcess:
    """`python -m reference_trainer ARGS` in a subprocess."""
    p = subprocess.run([sys.executable, "-m", "reference_trainer", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout,
                       env=kw.pop("env", None) or cli_env(), cwd=kw.pop("cwd", None), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def tiny_flags(**kw) -> list[str]:
    out = []
    for k, v in (TINY | kw).items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out
