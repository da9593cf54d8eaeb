"""Output files, written atomically, never over an input.

Every file scalefit writes (the JSON result, report.md, report.html, figures) goes
through ``atomic_write``: the bytes go to a temporary file in the same folder, are
flushed to disk, and the temporary file is renamed over the target (``os.replace``), so
a full disk or a crash leaves either the old file or the new one, never half of one.
``check_outputs`` refuses, before any work, an output that would overwrite an input.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import ScalefitInputError

REPORT_FILES = ("report.md", "report.html")


def atomic_write(path: str | Path, data: bytes | str, what: str = "the file") -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename."""
    path = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise ScalefitInputError(f"{path}: cannot write {what}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def write_json(path: str | Path, obj) -> Path:
    """``obj`` as indented JSON (no NaN), atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, text, "the JSON")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (existing files by identity, else by real path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _input_paths(inputs) -> list[str]:
    return [str(p) for p in inputs if p is not None and str(p) != "-" and os.path.exists(p)]


def check_outputs(json_path: str | None = None, report_dir: str | None = None,
                  inputs=()) -> None:
    """Refuse, before the work, outputs that cannot be written or would overwrite an input.

    ``inputs``: the paths read (a runs table, a FIT.json). The JSON may not be one of them,
    and no file of the report folder (report.md, report.html, figures/*) may be either.
    """
    ins = _input_paths(inputs)
    if json_path and json_path != "-":
        for p in ins:
            if same_file(json_path, p):
                raise ScalefitInputError(f"{json_path}: is the input file; --json would "
                                         "overwrite it; give another file name")
        parent = os.path.dirname(os.path.abspath(json_path))
        if not os.path.isdir(parent):
            raise ScalefitInputError(f"{json_path}: cannot write the JSON: the folder {parent} "
                                     "does not exist")
        if os.path.isdir(json_path):
            raise ScalefitInputError(f"{json_path}: is a directory; --json needs a file name")
    if not report_dir:
        return
    if os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise ScalefitInputError(f"{report_dir}: exists and is not a folder; --report needs a "
                                 "folder (it is created if missing)")
    if (not os.path.isdir(report_dir)
            and os.path.splitext(report_dir)[1].lower() in (".html", ".htm", ".md", ".pdf")):
        raise ScalefitInputError(f"{report_dir}: --report takes a folder (it writes "
                                 "report.html, report.md and figures/ into it), not a file name")
    for p in ins:
        parent = os.path.realpath(os.path.dirname(os.path.abspath(p)))
        rep = os.path.realpath(report_dir)
        inside_figures = parent == os.path.join(rep, "figures")
        if (parent == rep and os.path.basename(p) in REPORT_FILES) or inside_figures:
            raise ScalefitInputError(f"{report_dir}: the report would overwrite the input {p}; "
                                     "give another folder")
