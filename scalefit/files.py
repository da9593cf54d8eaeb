"""Output files, written atomically, all or nothing, never over an input.

Every file scalefit writes (the JSON result, report.md, report.html, figures) goes
through ``atomic_write``: the bytes go to a temporary file in the same folder, are
flushed to disk, and the temporary file is renamed over the target (``os.replace``), so
a full disk or a crash leaves either the old file or the new one, never half of one.
Inside ``all_or_nothing()`` (what a command's outputs are written in) the renames wait
until every file of the block is written: a failure anywhere (a full disk at the last
figure) removes the temporary files and the folders the block made, and leaves every
old output byte-identical. A target that is a device, a FIFO or a socket (``/dev/full``),
a link in /dev or /proc/PID/fd (``/dev/stdout``, ``/dev/fd/3``) or the file behind
standard output or error is written in place, opened and written, never replaced; a symbolic link
is written through (the file it names is replaced, the link stays). A new file gets the
mode a plain ``open()`` gives (0666 less the umask); a replaced file keeps its mode.
``json_text`` is the one JSON encoder: a value beyond floating point (inf, NaN) becomes
null with a warning naming it. ``check_outputs`` refuses, before any work, an output that
would overwrite an input (by path, link or inode, the file behind standard input
included), two outputs naming one file, and an output that cannot be written.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import re
import stat
import tempfile
import warnings
from pathlib import Path

from .errors import ScalefitInputError

REPORT_FILES = ("report.md", "report.html")
# The outputs of the all_or_nothing block being run: target -> temporary file, and the
# folders it created (deepest last).
_STAGE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scalefit_outputs",
                                                                     default=None)


def _special(path: Path) -> bool:
    """Whether ``path`` is a device, FIFO or socket (written in place, never replaced)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or \
        stat.S_ISSOCK(mode)


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _std_fd(path: Path) -> int | None:
    """1 or 2 when ``path`` is the file behind standard output or error, else None."""
    try:
        target = _identity(os.stat(path))
    except OSError:
        return None
    for fd in (1, 2):
        try:
            if _identity(os.fstat(fd)) == target:
                return fd
        except OSError:
            continue
    return None


def in_place(path: str | Path) -> bool:
    """Whether ``path`` is written in place (opened and written, never replaced): a device,
    FIFO or socket, a link in /dev or /proc/PID/fd (/dev/stdout, /dev/fd/N), or the file
    behind standard output or error."""
    path = Path(path)
    if not os.path.lexists(path):
        return False
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    through_os = parent == "/dev" or re.fullmatch(r"/proc/[^/]+/fd", parent) is not None
    return through_os or _special(path) or _std_fd(path) is not None


def _umask() -> int:
    """The process's umask (read from /proc where it can be, without changing it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` leaves: the existing file's, else 0666 less
    the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _write_in_place(path: Path, blob: bytes) -> None:
    """Write ``blob`` into ``path`` as it is: through standard output or error when it is
    their file (after what they hold, at their position), else opened and truncated."""
    fd = _std_fd(path)
    if fd is None:
        with open(path, "wb") as f:
            f.write(blob)
            f.flush()
        return
    import sys

    stream = sys.stdout if fd == 1 else sys.stderr
    with contextlib.suppress(OSError, ValueError, AttributeError):
        stream.flush()
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]


def _cannot(path, what: str, e: OSError) -> ScalefitInputError:
    return ScalefitInputError(f"{path}: cannot write {what}: {e.strerror or e}")


def atomic_write(path: str | Path, data: bytes | str, what: str = "the file") -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename
    (inside ``all_or_nothing``, the rename waits for the end of the block); a target that
    is written in place (``in_place``) is opened and written at once."""
    path = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    if in_place(path):
        try:
            _write_in_place(path, blob)
        except OSError as e:
            raise _cannot(path, what, e) from None
        return path
    real = Path(os.path.realpath(path)) if os.path.islink(path) else path
    stage = _STAGE.get()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _mode_for(real))
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if stage is not None:
            earlier = stage["files"].pop(str(real), None)
            if earlier is not None:
                os.unlink(earlier)
            stage["files"][str(real)] = tmp
        else:
            os.replace(tmp, real)
        tmp = None
    except OSError as e:
        raise _cannot(path, what, e) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def read_output(path: str | Path) -> bytes:
    """The bytes written to ``path``, also while they wait to be renamed into place."""
    stage = _STAGE.get()
    real = os.path.realpath(path) if os.path.islink(path) else str(Path(path))
    staged = None if stage is None else stage["files"].get(real)
    return Path(staged or path).read_bytes()


def make_folder(path: str | Path, what: str = "the folder") -> Path:
    """Create ``path`` and its missing parents (one line on failure); inside
    ``all_or_nothing`` the folders made are removed again if the block fails."""
    path = Path(path)
    made, p = [], path
    while not os.path.lexists(p) and p != p.parent:
        made.append(p)
        p = p.parent
    if os.path.lexists(path) and not path.is_dir():
        raise ScalefitInputError(f"{path}: exists and is not a folder; {what} needs a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScalefitInputError(f"{path}: cannot create {what}: {e.strerror or e}") from None
    stage = _STAGE.get()
    if stage is not None:
        stage["dirs"] += reversed(made)
    return path


@contextlib.contextmanager
def all_or_nothing():
    """Write every output of the block, or none: renames happen when the block ends
    without an error; on an error the temporary files and new folders are removed."""
    if _STAGE.get() is not None:  # nested: the outer block decides
        yield
        return
    stage = {"files": {}, "dirs": []}
    token = _STAGE.set(stage)
    try:
        yield
    except BaseException:
        _rollback(stage)
        raise
    finally:
        _STAGE.reset(token)
    done = 0
    try:
        for target, tmp in stage["files"].items():
            os.replace(tmp, target)
            done += 1
    except OSError as e:
        _rollback({"files": dict(list(stage["files"].items())[done:]), "dirs": []})
        raise _cannot(target, "the output", e) from None


def _rollback(stage: dict) -> None:
    for tmp in stage["files"].values():
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    for d in reversed(stage["dirs"]):
        with contextlib.suppress(OSError):
            os.rmdir(d)  # only if empty


def write_json(path: str | Path, obj) -> Path:
    """``obj`` as indented JSON (``json_text``: no NaN), atomically."""
    return atomic_write(path, json_text(obj, str(path)), "the JSON")


def json_text(obj, target: str = "the JSON") -> str:
    """``obj`` as indented JSON text (one line at the end). A value beyond floating point
    (inf, NaN) is written as null, with one warning naming where (JSON has no such value)."""
    bad: list[str] = []
    text = json.dumps(_finite(obj, "$", bad), indent=2, allow_nan=False) + "\n"
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        warnings.warn(f"{target}: {len(bad)} value(s) beyond floating point (inf or NaN) "
                      f"written as null: {', '.join(bad[:5])}{more}", NonFiniteWarning,
                      stacklevel=2)
    return text


class NonFiniteWarning(UserWarning):
    """A value beyond floating point was written to JSON as null."""


def _finite(obj, where: str, bad: list):
    """``obj`` with every non-finite float replaced by None (its JSON path kept in ``bad``)."""
    if isinstance(obj, dict):
        return {k: _finite(v, f"{where}.{k}", bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{where}[{i}]", bad) for i, v in enumerate(obj)]
    if isinstance(obj, float) or getattr(getattr(obj, "dtype", None), "kind", "") == "f":
        if not math.isfinite(obj):
            bad.append(where)
            return None
        return float(obj)
    return obj


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (existing files by identity, else by real path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _input_paths(inputs) -> list[str]:
    return [str(p) for p in inputs if p is not None and str(p) != "-" and os.path.exists(p)]


def _input_ids(inputs) -> list[tuple[str, tuple[int, int]]]:
    """(what, (device, inode)) of each input that exists, and of the file behind standard
    input when ``"-"`` is one (``scalefit fit - < runs.csv``)."""
    out = []
    for p in inputs:
        if p is None:
            continue
        try:
            if str(p) == "-":
                st = os.fstat(0)
                if stat.S_ISREG(st.st_mode):
                    out.append(("the file behind standard input", _identity(st)))
            else:
                out.append((f"the input file {p}", _identity(os.stat(p))))
        except OSError:
            continue
    return out


def _not_an_input(target, flag: str, ids) -> None:
    """Refuse ``target`` when it is the same file (inode) as an input."""
    try:
        me = _identity(os.stat(target))
    except OSError:
        return
    for what, ident in ids:
        if ident == me:
            raise ScalefitInputError(f"{target}: is {what}; {flag} would overwrite it; give "
                                     "another file name")


def _folder_files(folder: str | None) -> list[str]:
    try:
        return [os.path.join(folder, n) for n in os.listdir(folder)] if folder else []
    except OSError:
        return []


def _distinct(outputs: list[tuple[str, str]]) -> None:
    """Refuse two outputs of one command naming one file (by path, link or inode); a
    device or FIFO (/dev/null) may take both."""
    for i, (flag_a, a) in enumerate(outputs):
        for flag_b, b in outputs[i + 1:]:
            if same_file(a, b) and not _special(Path(a)):
                raise ScalefitInputError(f"{a}: {flag_a} and {flag_b} both name this file, so "
                                         "one would overwrite the other; give each its own "
                                         "file name")


def _writable_folder(target: str, folder: str, what: str) -> None:
    """Refuse, before any work, a folder that cannot hold ``target``: a file on the way, a
    read-only file system, no permission. ``folder`` may not exist yet (it is made)."""
    p = os.path.abspath(folder)
    while not os.path.lexists(p):
        p = os.path.dirname(p)
    if not os.path.isdir(p):
        raise ScalefitInputError(f"{target}: cannot write {what}: {p} is a file, not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        ro = bool(os.statvfs(p).f_flag & os.ST_RDONLY)
        why = "it is on a read-only file system" if ro else "permission denied"
        raise ScalefitInputError(f"{target}: cannot write {what}: {why} ({p})")


def check_outputs(json_path: str | None = None, report_dir: str | None = None,
                  inputs=(), figures_dir: str | None = None, out: str | None = None) -> None:
    """Refuse, before the work, outputs that cannot be written or would overwrite an input.

    ``inputs``: the paths read (a runs table, a FIT.json; ``"-"``: standard input). No
    output (the JSON, ``out``: next's --out, the report's report.md, report.html and
    figures/*, the figures) may be one of them, by path, link or inode (the file behind
    standard input included), no two outputs may name one file, and every output folder
    must be writable (or creatable).
    """
    _check_outputs(json_path, report_dir, inputs, figures_dir)
    ids = _input_ids(inputs)
    targets = [("--json", json_path)] if json_path and json_path != "-" else []
    targets += [("--out", out)] if out and out != "-" else []
    if report_dir:
        targets += [("--report", os.path.join(report_dir, n)) for n in REPORT_FILES]
    for flag, target in targets + [("--report", f) for f in _folder_files(
            report_dir and os.path.join(report_dir, "figures"))] + [
            ("--figures", f) for f in _folder_files(figures_dir)]:
        _not_an_input(target, flag, ids)
    _distinct(targets)


def _check_outputs(json_path, report_dir, inputs, figures_dir) -> None:
    ins = _input_paths(inputs)
    if json_path and json_path != "-":
        for p in ins:
            if same_file(json_path, p):
                raise ScalefitInputError(f"{json_path}: is the input file; --json would "
                                         "overwrite it; give another file name")
        if os.path.isdir(json_path):
            raise ScalefitInputError(f"{json_path}: is a directory; --json needs a file name")
        parent = os.path.dirname(os.path.abspath(json_path))
        if not os.path.lexists(parent):
            p = parent
            while not os.path.lexists(p):
                p = os.path.dirname(p)
            if os.path.isdir(p):
                raise ScalefitInputError(f"{json_path}: cannot write the JSON: the folder "
                                         f"{parent} does not exist")
        if not in_place(json_path):
            _writable_folder(json_path, parent, "the JSON")
    if figures_dir:
        if os.path.lexists(figures_dir) and not os.path.isdir(figures_dir):
            raise ScalefitInputError(f"{figures_dir}: exists and is not a folder; --figures "
                                     "needs a folder")
        _writable_folder(figures_dir, figures_dir, "the figures")
    if not report_dir:
        return
    if os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise ScalefitInputError(f"{report_dir}: exists and is not a folder; --report needs a "
                                 "folder (it is created if missing)")
    if (not os.path.isdir(report_dir)
            and os.path.splitext(report_dir)[1].lower() in (".html", ".htm", ".md", ".pdf")):
        raise ScalefitInputError(f"{report_dir}: --report takes a folder (it writes "
                                 "report.html, report.md and figures/ into it), not a file name")
    _writable_folder(report_dir, report_dir, "the report")
    rep = os.path.realpath(report_dir)
    figures = os.path.join(report_dir, "figures")
    if os.path.lexists(figures) and not os.path.isdir(figures):
        raise ScalefitInputError(f"{figures}: exists and is not a folder; the report writes its "
                                 "figures there: move it, or give another --report folder")
    if os.path.isdir(figures):
        _writable_folder(figures, figures, "the report's figures")
    for name in REPORT_FILES:
        if os.path.isdir(os.path.join(report_dir, name)):
            raise ScalefitInputError(f"{os.path.join(report_dir, name)}: is a folder; the "
                                     "report writes a file there: give another --report folder")
    for p in ins + ([json_path] if json_path and json_path != "-" else []):
        parent = os.path.realpath(os.path.dirname(os.path.abspath(p)))
        inside_figures = parent == os.path.join(rep, "figures")
        if (parent == rep and os.path.basename(p) in REPORT_FILES) or inside_figures:
            what = "the --json file" if p == json_path else "the input"
            raise ScalefitInputError(f"{report_dir}: the report would overwrite {what} {p}; "
                                     "give another folder")
