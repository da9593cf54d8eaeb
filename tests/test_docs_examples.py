"""The command examples in docs/cli.md that run on bundled data print what the docs quote.

Every block line ``$ scalefit ... examples/data/...`` is run (in a scratch folder that
sees ``examples/``); each quoted line after it, up to the next command or the end of the
block, must be printed (lines with ``...`` are elisions and skipped)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"


def examples() -> list[tuple[int, str, list[str]]]:
    lines = DOC.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("$ scalefit ") and "examples/data/" in line:
            j = i + 1
            while j < len(lines) and not lines[j].startswith(("```", "$ ")):
                j += 1
            quoted = [x.rstrip() for x in lines[i + 1:j] if x.strip() and "..." not in x]
            out.append((i + 1, line[2:], quoted))
    return out


EXAMPLES = examples()


def test_there_are_examples_to_check():
    assert len(EXAMPLES) >= 4 and sum(len(q) for _, _, q in EXAMPLES) >= 50


@pytest.mark.parametrize("lineno,cmd,quoted", EXAMPLES,
                         ids=[f"cli.md:{n}" for n, _, _ in EXAMPLES])
def test_docs_example_prints_what_is_quoted(lineno, cmd, quoted, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    argv = shlex.split(cmd)[1:]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "scalefit", *argv], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    printed = [x.rstrip() for x in (p.stdout + p.stderr).splitlines()]
    missing = [q for q in quoted if q not in printed]
    assert not missing, f"docs/cli.md line {lineno}: not printed:\n" + "\n".join(missing)
