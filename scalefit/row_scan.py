"""Every row of a text table accounted for, before pandas parses it (part of the table edge).

``scan_csv`` reads a CSV/TSV text record by record (quotes and line breaks inside quotes
as pandas reads them) and

* refuses a row with fewer or more fields than the header: one line naming the file, the
  line and the row (pandas would pad a short row with NaN, which then fits as a diverged
  run, or shift every column of a long one into the index);
* skips a **torn last line**: a file whose text does not end with a line break ends in a
  row a writer never finished (every writer, the reference trainer's included, ends a
  row with its line break; a writer killed mid-row leaves a short row, or a number cut
  in the middle that parses as a different number). That row is left out, whatever it
  holds, with a one-line note naming it (a complete row whose file lacks its final line
  break is left out too; the note says to add the line break). A whitespace-only tail
  is no row.

``scan_jsonl`` does the same for JSON Lines: a last line without a line break that is not
a JSON object is skipped with a note (a complete object is kept: its closing brace says it
is whole). ``check_surrogates`` refuses JSON text holding lone UTF-16 surrogates (invalid
Unicode; pandas would drop them and merge two labels into one).

What is known of each row (its first line in the file, where it starts in the text, the
notes of the read) travels with the DataFrame as ``ReadInfo`` in ``df.attrs["scalefit"]``;
``ReadInfo.blank`` tells an empty cell (a missing value) from a written NaN or inf.
"""

from __future__ import annotations

import csv as _csv
import io as _io
import json
import re

import numpy as np

from .errors import ScalefitInputError

# Cells that hold no value (besides an empty or blank cell): pandas reads them as NaN,
# as it does 'nan' and 'inf', which are values (a diverged run).
MISSING_TOKENS = frozenset({"", "na", "n/a", "#n/a", "null", "none", "<na>", "#na", "missing"})
_BREAK = re.compile(r"\r\n|\r|\n")
FIELD_LIMIT = 2**31 - 1  # characters of one cell (csv's default, 128 KiB, is too small)


class ReadInfo:
    """Per data row of a table read from text: ``lines`` (R,) int, the 1-based line of the
    file where the row starts; ``offsets`` (R,) int, its first character in ``text``;
    ``notes``: what the read left out, one line each. ``kind``: csv, tsv or jsonl.

    Kept in ``DataFrame.attrs``: copies share it (no deep copy of the arrays), so it
    describes the rows only while the frame has as many rows as ``lines``.
    """

    def __init__(self, lines, offsets, text: str, kind: str, notes=()):
        self.lines = np.asarray(lines, dtype=np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.text, self.kind, self.notes = text, kind, tuple(notes)

    def __deepcopy__(self, memo):
        return self

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__

    def blank(self, column: str, position: int, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) bool: which of ``rows`` (0-based) held no value in ``column`` (the
        ``position``-th field of a CSV row): an empty cell, NA, null, None, a JSON null or
        an absent key; False for a written NaN or inf."""
        out = np.zeros(len(rows), dtype=bool)
        for k, i in enumerate(rows):
            start = int(self.offsets[i])
            end = int(self.offsets[i + 1]) if i + 1 < len(self.offsets) else len(self.text)
            if self.kind == "jsonl":
                try:
                    v = json_lookup(json.loads(self.text[start:end]), column)
                except (ValueError, AttributeError, RecursionError):
                    continue
                out[k] = v is None or (isinstance(v, str) and v.strip().lower()
                                       in MISSING_TOKENS)
            else:
                rec = next(_reader(self.text[start:end], self.kind), [])
                cell = rec[position] if position < len(rec) else ""
                out[k] = cell.strip().lower() in MISSING_TOKENS
        return out


def json_lookup(obj, column: str):
    """``column``'s value in a JSON object: a key, or a path of nested keys joined with
    ``.`` (the names ``readers.flatten_objects`` gives); None when absent."""
    if not isinstance(obj, dict):
        return None
    if column in obj:
        return obj[column]
    for k, v in obj.items():
        if isinstance(v, dict) and column.startswith(f"{k}."):
            found = json_lookup(v, column[len(k) + 1:])
            if found is not None:
                return found
    return None


def read_info(df) -> ReadInfo | None:
    """The ``ReadInfo`` of a DataFrame read from text, when it still describes its rows."""
    info = getattr(df, "attrs", {}).get("scalefit")
    return info if isinstance(info, ReadInfo) and len(info.lines) == len(df) else None


def _reader(text: str, sep: str):
    return _csv.reader(_io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)


def _blank(rec: list[str]) -> bool:
    return not rec or (len(rec) == 1 and not rec[0].strip())


def _line_starts(text: str) -> np.ndarray:
    """(lines + 1,) character offset where each line starts (\\n, \\r\\n and \\r end lines)."""
    return np.array([0, *(m.end() for m in _BREAK.finditer(text))], dtype=np.int64)


# Comment lines before the header ("# exported from ...", "# project: ..."): skipped.
LEADING_COMMENTS = re.compile(r"(?:[ \t]*#[^\r\n]*(?:\r\n|\n|\r))+")


def scan_csv(text: str, src: str, sep: str) -> tuple[str, list[int], list[int], list[str]]:
    """(text to parse, first line of each data row, its offset, notes): a row whose field
    count differs from the header's is refused; a torn last line is cut off with a note;
    comment lines (``#``) before the header are left out with a note (line numbers stay
    the file's)."""
    m = LEADING_COMMENTS.match(text)
    skip = 0
    if m:
        skip = len(_line_starts(m.group(0))) - 1
        text = text[m.end():]
    text, lines, offsets, notes = _scan_csv(text, src, sep, skip)
    if skip:
        notes.insert(0, f"{src}: {skip} comment line{'s' if skip != 1 else ''} ('#') before "
                        "the header left out")
    return text, lines, offsets, notes


def _scan_csv(text: str, src: str, sep: str, skip: int):
    reader = _reader(text, sep)
    header, lines, width, last, bad = None, [], 0, skip, None
    limit = _csv.field_size_limit(FIELD_LIMIT)  # pandas reads cells of any size
    try:
        for rec in reader:
            line, last = last + 1, reader.line_num + skip
            if _blank(rec):
                continue
            if header is None:
                header, width = rec, len(rec)
                continue
            lines.append(line)
            if len(rec) != width:
                if bad is not None:  # not the last row: refused
                    _ragged(src, *bad)
                bad = (line, len(lines), len(rec), width, rec)
    except _csv.Error as e:
        raise ScalefitInputError(f"{src}: malformed CSV: line {reader.line_num + skip}: {e}"
                                 ) from None
    finally:
        _csv.field_size_limit(limit)
    torn = bool(lines) and not text.rstrip(" \t\f\v").endswith(("\n", "\r"))
    if bad is not None and not (torn and bad[1] == len(lines)):
        _ragged(src, *bad)
    starts = _line_starts(text)
    offsets = [int(starts[x - 1 - skip]) for x in lines]
    notes: list[str] = []
    if torn:
        notes.append(torn_note(src, lines[-1], len(lines)))
        text, lines, offsets = text[: offsets[-1]], lines[:-1], offsets[:-1]
    return text, lines, offsets, notes


def torn_note(src: str, line: int, row: int) -> str:
    """The note for a torn last line left out."""
    return (f"{src}: line {line} (row {row}), the last, does not end with a line break: "
            "left out as a row a writer did not finish (a killed run, a full disk); if it "
            "is complete, end the file with a line break")


def _ragged(src: str, line: int, row: int, n: int, width: int, rec: list[str]) -> None:
    extra = n > width and not any(x.strip() for x in rec[width:])
    hint = (" (a separator at the end of the row? the header has none)" if extra else
            " (is the first line a title or a comment, not the header? remove it)"
            if width == 1 and row == 1 else
            "; every row needs one field per column (an empty cell is an empty field "
            "between separators)")
    raise ScalefitInputError(f"{src}: malformed CSV: line {line} (row {row}) has {n} field"
                             f"{'s' if n != 1 else ''} but the header has {width}{hint}")


def scan_jsonl(text: str, src: str) -> tuple[str, list[int], list[int], list[str]]:
    """(text to parse, line of each object, its offset, notes) of JSON Lines text; a last
    line without a line break that is not a JSON object is cut off with a note."""
    lines, offsets, pos = [], [], 0
    for i, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            lines.append(i)
            offsets.append(pos)
        pos += len(line) + 1
    notes: list[str] = []
    if lines and not text.endswith("\n"):
        try:
            ok = isinstance(json.loads(text[offsets[-1]:]), dict)
        except (ValueError, RecursionError):
            ok = False
        if not ok:
            notes.append(torn_note(src, lines[-1], len(lines)))
            text, lines, offsets = text[: offsets[-1]], lines[:-1], offsets[:-1]
    return text, lines, offsets, notes


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def check_surrogates(text: str, src: str, kind: str) -> None:
    """Refuse a JSON text with a lone surrogate escape (``\\ud800`` not in a pair): it is not
    Unicode, and reading it would drop it (two labels would become one)."""
    if not _SURROGATE.search(text):
        return
    chunks = text.split("\n") if kind == "jsonl" else [text]
    for i, chunk in enumerate(chunks, start=1):
        if not _SURROGATE.search(chunk):
            continue
        try:
            bad = _lone(json.loads(chunk))
        except (ValueError, RecursionError):
            continue
        if bad is not None:
            where = f"line {i}: " if kind == "jsonl" else ""
            raise ScalefitInputError(
                f"{src}: {where}the text {bad} holds a lone surrogate (a \\ud800-\\udfff "
                "escape outside a pair): not valid Unicode; fix the writer or the value")


def _lone(obj) -> str | None:
    """The escaped text of the first string (key or value) in ``obj`` with a lone surrogate."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return repr(x.encode("utf-8", "backslashreplace").decode("ascii"))[:80]
    return None
