"""The contract every run of ``scalefit`` keeps, whatever its input (docs/cli.md, "Bad input"):

* exit status 0 or 2, never 1 (1 is a bug in scalefit, not a fault of the input);
* on exit 2: exactly one line on standard error, ``scalefit: error: ...``, of bounded
  length, and nothing on standard output;
* never a traceback;
* nothing from the data acts on the terminal: no control characters (other than the
  newline) and no bidirectional overrides on standard output or standard error, nor in
  the reports, figures (SVG) and JSON a successful run writes;
* after a failure every file that existed before is byte-identical and no file was
  added (no partial output, no temporary file left behind); after a success the inputs
  are unchanged.

``run_inprocess`` calls ``scalefit.cli.main`` in this process (fast); ``run_process`` runs
``python -m scalefit`` (real pipes, FIFOs, stdin bytes, special files).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from scalefit.cli import main

# What may not reach a terminal: C0 controls except the newline, DEL, C1 controls, the
# bidirectional overrides, isolates and marks (U+061C too), and invisible characters that
# make one name print as another (zero-width spaces and joiners, word joiner, BOM, soft
# hyphen, line and paragraph separators).
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u202a-\u202e"
                     "\u2028\u2029\u2060\u2066-\u2069\ufeff]")
MAX_LINE = 1200  # characters of one error line: huge cells must be shortened
MAX_OUT = 4000  # characters of a line of output (a table row of shortened cells)


def run_inprocess(argv: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``scalefit.cli.main(argv)`` run here."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in argv])
    finally:
        sys.stdin = old_stdin
    return rc, out.getvalue(), err.getvalue()


def run_process(argv: list[str], stdin: bytes | None = None, timeout: float = 60,
                cwd=None, shell: str | None = None) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m scalefit argv`` (or of a bash line
    ``shell`` in which the function ``sf`` runs it)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "scalefit", *map(str, argv)]
    if shell is not None:
        cmd = ["bash", "-c", f'sf() {{ {shlex.quote(sys.executable)} -m scalefit "$@"; }}; '
               + shell]
    proc = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True,
                          timeout=timeout, cwd=cwd, env=env)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: regular files by content, other entries as None."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink() or not p.is_file() or rel.startswith("ro/"):
                out[rel] = None
            else:
                out[rel] = p.read_bytes() if p.stat().st_size < 64 << 20 else b"<large>"
    return out


def check(rc: int, out: str, err: str, before: dict, after: dict, expect=None,
          needles=(), inputs=(), shows=()) -> None:
    """Assert the contract (module doc) for one run; ``expect``: the exit status it must
    have (0 or 2; None: either), ``needles``: text the error line must hold, ``shows``:
    text standard output must hold after a success."""
    assert rc in (0, 2), f"exit {rc}; stderr: {err[-2000:]!r}"
    assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
    for stream, text in (("stdout", out), ("stderr", err)):
        m = CONTROL.search(text)
        assert m is None, f"{stream} holds the control character {m.group(0)!r}: " \
                          f"{text[max(0, m.start() - 60): m.start() + 60]!r}"
    if expect is not None:
        assert rc == expect, f"exit {rc}, expected {expect}; stderr: {err[-2000:]!r}"
    if rc == 2:
        lines = err.rstrip("\n").split("\n")
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err[:2000]!r}"
        line = lines[0]
        assert line.startswith("scalefit: error: "), line[:500]
        assert len(line) <= MAX_LINE, f"error line of {len(line)} characters: {line[:300]!r}"
        assert "internal error" not in line, line
        assert out == "", f"stdout not empty after a failure: {out[:500]!r}"
        for n in needles:
            assert n in line, f"{n!r} not in {line!r}"
        changed = sorted(k for k in before if before[k] != after.get(k, b"<gone>"))
        added = sorted(set(after) - set(before))
        assert not changed, f"files changed by a failed run: {changed}"
        assert not added, f"files left by a failed run: {added}"
    else:
        for line in err.rstrip("\n").split("\n") if err.strip() else []:
            assert len(line) <= MAX_LINE, f"stderr line of {len(line)} characters"
            assert line.startswith("scalefit: ") and not line.startswith("scalefit: error"), \
                line[:500]
        widest = max(map(len, out.split("\n")))
        assert widest <= MAX_OUT or out.lstrip().startswith("{"), \
            f"a line of {widest} characters on stdout"
        for name in inputs:
            assert before.get(name) == after.get(name), f"the input {name} was changed"
        for text in shows:
            assert text in out, f"{text!r} not in the output: {out[:500]!r}"
        for name in sorted(set(after) - set(inputs)):
            if name.endswith((".svg", ".md", ".html", ".json")) and after[name] != before.get(
                    name):
                text = after[name].decode("utf-8").replace("\n", "").replace("\t", "")
                m = CONTROL.search(text.replace("\r", ""))
                assert m is None, f"{name} holds the control character {m.group(0)!r}"
