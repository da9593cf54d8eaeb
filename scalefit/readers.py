"""Reading a table: a file, standard input or a stream, in any of the formats and text
encodings scalefit accepts, into a DataFrame (the first step of the table edge).

CSV / TSV, Parquet, JSON Lines, JSON records; standard input (``"-"``, CSV unless a
format is given), pipes and other streams (``/dev/stdin``, ``<(...)``, FIFOs: read to
their end, so only a stream that gives no byte is empty; a stream named by its path that
gives no byte for ``streams.wait_seconds()`` is refused, not waited on forever); text in
UTF-8, or UTF-16 / UTF-32 told by a byte-order mark (or, for UTF-16/32 without one, by its
NUL bytes). A CSV
whose header holds tabs, semicolons or pipes but no comma is read with that separator.
Every problem is one ``ScalefitInputError`` line naming the input and, where there is
one, the line, row and column: bytes that are not UTF-8 (with the Latin-1 reading they
probably have), a NUL byte in text, a binary file (named when its first bytes say what it
is: gzip, zip/xlsx, Parquet, SQLite, an image, ...), a JSON document that is not a table,
a JSON Lines line that is not an object. A stream is checked from its first 64 KiB, so
``/dev/zero`` or ``/dev/urandom`` is refused at once, not read forever.
"""

from __future__ import annotations

import csv as _csv
import errno
import io as _io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .column_names import ALIASES, STATUS_COLUMNS, normalize_name
from .errors import ScalefitInputError
from .render.format import quote
from .row_scan import (
    LEADING_COMMENTS,
    ReadInfo,
    check_surrogates,
    json_lookup,
    scan_csv,
    scan_jsonl,
)
from .streams import Stream, stdin_stream

_SUFFIXES = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
}


def read_table(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a file into a DataFrame by its extension (``fmt`` overrides); ``"-"`` is stdin.

    Standard input, pipes, FIFOs and other streams are read to their end first; only a
    stream that gives no byte at all is empty.
    """
    src = str(path)
    if src == "-":
        stream = stdin_stream()
        if stream is None:  # a standard input without a file (a test's)
            buf = getattr(sys.stdin, "buffer", None)
            data = buf.read() if buf is not None else sys.stdin.read().encode("utf-8")
            return parse_bytes(data, "<stdin>", fmt or "csv")
        return parse_bytes(read_stream(stream, "<stdin>", fmt or "csv"), "<stdin>", fmt or "csv")
    p = Path(path)
    if not p.exists():
        raise ScalefitInputError(f"{src}: {missing(p)}")
    if p.is_dir():
        raise ScalefitInputError(f"{src}: is a directory; give a CSV, Parquet or JSON Lines file")
    kind = fmt or _SUFFIXES.get(p.suffix.lower(), "csv")
    try:
        if not p.is_file():  # a pipe, FIFO, /dev/stdin, <(...): read the stream, timed
            with Stream.open(p, src) as f:
                return parse_bytes(read_stream(f, src, kind), src, kind)
        if p.stat().st_size == 0:
            raise ScalefitInputError(f"{src}: the file is empty; it needs a header and one row "
                                     "per run")
        if kind == "parquet":
            return _read_parquet(p, src)
        return parse_bytes(p.read_bytes(), src, kind)
    except ScalefitInputError:
        raise
    except OSError as e:
        raise ScalefitInputError(f"{src}: cannot read: {e.strerror or e}") from e


def missing(p: Path) -> str:
    """Why a path that does not exist cannot be read: no such file, a broken link, a loop."""
    if not os.path.islink(p):
        return "no such file"
    try:
        os.stat(p)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symbolic link loop (links that point at each other); give the file"
    try:
        target = os.readlink(p)
    except OSError:
        target = "?"
    return f"is a broken symbolic link (to {target}, which does not exist)"


HEAD = 1 << 16  # bytes of a stream looked at before reading the rest


def read_stream(f, src: str, kind: str) -> bytes:
    """Every byte of a stream, checked from its first 64 KiB: a binary or non-UTF-8 stream
    (``/dev/zero``, ``/dev/urandom``, an image piped in) is refused before the rest is read."""
    head = f.read(HEAD)
    if len(head) < HEAD:
        return head
    if kind != "parquet":
        check_binary(head, src, kind)
        if not any(head.startswith(bom) for bom, _ in _BOMS):
            if b"\x00" in head[:4096] and _nul_encoding(head[:4096]) is None:
                raise ScalefitInputError(f"{src}: looks like a binary stream, not a "
                                         f"{kind.upper()} table; give CSV, Parquet "
                                         "(--format parquet) or JSON Lines text")
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as e:
                if e.start < HEAD - 4 and b"\x00" not in head[:4096]:
                    raise ScalefitInputError(_not_utf8(head, e.start, src, kind)) from None
    return head + f.read()


def parse_bytes(data: bytes, src: str, kind: str) -> pd.DataFrame:
    """A table from the bytes of a file or stream in format ``kind``."""
    if not data or (kind != "parquet" and not data.strip(b" \t\r\n")):
        raise ScalefitInputError(f"{src}: the input is empty; it needs a header and one row "
                                 "per run")
    if kind not in ("csv", "tsv", "parquet", "jsonl", "json"):
        raise ScalefitInputError(f"{src}: unknown format {kind!r}")
    if kind == "parquet":
        return _read_parquet(_io.BytesIO(data), src)
    check_binary(data, src, kind)
    text = decode_text(data, src, kind)
    try:
        if kind in ("csv", "tsv"):
            return _read_csv(text, src, "\t" if kind == "tsv" else ",")
        check_surrogates(text, src, kind)
        if kind == "json":
            doc = _check_json(text, src)
            df = flatten_objects(pd.read_json(_io.StringIO(text)))
            if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc) \
                    and len(doc) == len(df):  # records: a null or absent value is no value
                df.attrs[NULLS] = {str(c): np.array([json_lookup(r, str(c)) is None
                                                     for r in doc], bool) for c in df.columns}
            return df
        text, lines, offsets, notes = scan_jsonl(text, src)
        df = flatten_objects(pd.read_json(_io.StringIO(text), lines=True))
        df.attrs["scalefit"] = ReadInfo(lines, offsets, text, "jsonl", notes)
        return df
    except ScalefitInputError:
        raise
    except (ValueError, TypeError, OSError, RecursionError) as e:
        where = _bad_json_line(text) if kind == "jsonl" else None
        raise ScalefitInputError(f"{src}: cannot read as {kind}: {where or _first_line(e)}"
                                 ) from e


def _check_json(text: str, src: str):
    """The parsed JSON document; one that is not a table is refused in words (pandas'
    wording is not)."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ScalefitInputError(f"{src}: cannot read as json: nested too deeply to be a "
                                 "table of runs") from None
    except ValueError as e:
        raise ScalefitInputError(f"{src}: cannot read as json: {_first_line(e)}") from None
    shape = ("a list of runs [{\"lr\": 0.001, \"loss\": 2.5}, ...] (or one object per line: "
             "JSON Lines, .jsonl)")
    if not isinstance(doc, (list, dict)):
        raise ScalefitInputError(f"{src}: holds a single value ({type(doc).__name__}), not a "
                                 f"table; give {shape}")
    if isinstance(doc, dict) and doc and not any(isinstance(v, (list, dict))
                                                 for v in doc.values()):
        raise ScalefitInputError(f"{src}: holds one object of single values (one run?), not a "
                                 f"table; give {shape}")
    return doc


def _bad_json_line(text: str) -> str | None:
    """'line N: ...' for the first JSON Lines line that is not a JSON object."""
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as e:
            return f"line {i}: not valid JSON ({_first_line(e)})"
        if not isinstance(obj, dict):
            return (f"line {i}: a JSON {type(obj).__name__}, not an object; each line must be "
                    "one run: {\"lr\": 0.001, \"loss\": 2.5, ...}")
    return None


def flatten_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of JSON objects (every value a dict or null, as experiment trackers export
    runs: ``{"config": {"lr": ...}, "summary": {"eval/loss": ...}}``) become one column
    per leaf, named by the path joined with ``.`` (``config.lr``, ``summary.eval/loss``);
    an absent leaf is NaN. Other columns are kept as read, and so is a column named like a
    role (``lr``, ``loss``, ...: a nested value there is refused by the table's checks).
    ``attrs[FLATTENED]``: column -> (first row with an object, its JSON, the leaf columns).
    """
    objects = {c: df[c].map(lambda v: isinstance(v, dict)).to_numpy(bool)
               for c in df.columns if normalize_name(c) not in ROLE_NAMES}
    nested = [c for c, obj in objects.items() if obj.any() and (obj | df[c].isna()).all()]
    if not nested:
        return df
    parts = []
    for c in df.columns:
        if c not in nested:
            parts.append(df[[c]])
            continue
        rows = [_leaves(v, str(c)) if isinstance(v, dict) else {} for v in df[c]]
        parts.append(pd.DataFrame.from_records(rows, index=df.index,
                                               columns=list(dict.fromkeys(
                                                   k for r in rows for k in r))))
    out = pd.concat(parts, axis=1)
    first = {str(c): int(np.flatnonzero(objects[c])[0]) for c in nested}
    out.attrs = dict(df.attrs) | {FLATTENED: {
        c: (i, json.dumps(df[c].iloc[i]), [k for k in out.columns if k.startswith(c + ".")])
        for c, i in first.items()}}
    return out


def _leaves(obj: dict, prefix: str) -> dict:
    out = {}
    for k, v in obj.items():
        name = f"{prefix}.{k}"
        out.update(_leaves(v, name) if isinstance(v, dict) and v else {name: v})
    return out


FLATTENED = "scalefit_flattened"  # DataFrame.attrs key: see flatten_objects
ROLE_NAMES = frozenset(a for tiers in ALIASES.values() for tier in tiers for a in tier) | set(
    STATUS_COLUMNS)  # never flattened: a nested value there is refused
NULLS = "scalefit_nulls"  # DataFrame.attrs key: column -> (R,) bool, the cells that held null


def _read_parquet(source, src: str) -> pd.DataFrame:
    """A Parquet table, with the null cells of its float columns kept apart from written
    NaNs (pandas turns both into NaN; an empty loss is missing, a NaN loss diverged)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(source)
        df = table.to_pandas()
        nulls = {str(name): np.asarray(table.column(name).is_null(), dtype=bool)
                 for name in table.column_names
                 if pa.types.is_floating(table.column(name).type)
                 and table.column(name).null_count}
        if nulls:
            df.attrs[NULLS] = nulls
        return df
    except ImportError as e:
        raise ScalefitInputError(
            f"{src}: reading Parquet needs pyarrow: pip install 'scalefit-lr[parquet]'") from e
    except (ValueError, OSError, TypeError, NotImplementedError, KeyError, IndexError) as e:
        # pyarrow's errors (ArrowInvalid, ArrowTypeError, ...) derive from these
        raise ScalefitInputError(f"{src}: cannot read as parquet: {_first_line(e)}") from e


# First bytes that say what a binary file is, and what to do with it.
_MAGIC = (
    (b"PAR1", "a Parquet file", "name it .parquet or pass --format parquet"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"BZh", "a bzip2-compressed file", "decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it first (unzstd)"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one)",
     "unpack it, or export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook", "export the sheet as CSV"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"ARROW1", "an Arrow/Feather file", "save it as Parquet or CSV"),
    (b"\x89PNG", "a PNG image", "give the table of runs"),
    (b"\xff\xd8\xff", "a JPEG image", "give the table of runs"),
    (b"%PDF", "a PDF document", "give the table of runs"),
    (b"\x7fELF", "a program (ELF)", "give the table of runs"),
)


def check_binary(data: bytes, src: str, kind: str) -> None:
    """Refuse a binary file as text: named by its first bytes where they say what it is."""
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            raise ScalefitInputError(f"{src}: looks like a binary file, {what}, not a "
                                     f"{kind.upper()} table; {todo}")


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _nul_encoding(head: bytes) -> str | None:
    """UTF-16/UTF-32 without a byte-order mark, told by where its NUL bytes fall (text in
    Latin letters), or by which UTF-16 reading gives lines of printable text (text mostly
    in other scripts, e.g. CJK labels)."""
    for width, names in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        n = len(head) - len(head) % width
        if n < 2 * width:
            continue
        a = np.frombuffer(head[:n], dtype=np.uint8).reshape(-1, width) == 0
        share = a.mean(0)
        if share[1:].min() > 0.9 and share[0] < 0.1:
            return names[0]
        if share[:-1].min() > 0.9 and share[-1] < 0.1:
            return names[1]
    n = len(head) - len(head) % 2
    for name in ("utf-16-le", "utf-16-be"):
        text = head[:n].decode(name, "replace")
        printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
        if "\n" in text and "\x00" not in text and printable >= 0.98 * len(text):
            return name
    return None


def decode_text(data: bytes, src: str, kind: str = "csv") -> str:
    """Text from bytes: UTF-8 (or UTF-16/32 by byte-order mark or NUL pattern).

    A file that is neither says which encoding failed where (line, row and column for
    UTF-8, with the Latin-1 reading of the byte), or that it looks binary.
    """
    enc, body = None, data
    for bom, name in _BOMS:
        if data.startswith(bom):
            enc, body = name, data[len(bom):]
            break
    if enc is None and b"\x00" in data[:4096]:
        enc = _nul_encoding(data[:4096])
        if enc is None:
            _stray_nul(data, src, kind)
            raise ScalefitInputError(
                f"{src}: looks like a binary file, not a {kind.upper()} table; give CSV, "
                "Parquet (.parquet) or JSON Lines (.jsonl)")
    try:
        text = body.decode(enc or "utf-8")
    except UnicodeDecodeError as e:
        if enc in (None, "utf-8"):
            raise ScalefitInputError(_not_utf8(body, e.start, src, kind)) from None
        raise ScalefitInputError(
            f"{src}: cannot decode as {enc.upper()} (byte {e.start}: {e.reason}); save it as "
            "UTF-8 text, or give Parquet (.parquet) or JSON Lines (.jsonl)") from None
    if enc is None and "\x00" in text:
        _stray_nul(body, src, kind)
    return text


def _where(body: bytes, pos: int, kind: str) -> str:
    """'line L (row R), column 'name'' of byte ``pos`` of a text table (column: CSV/TSV)."""
    start = body.rfind(b"\n", 0, pos) + 1
    line = body.count(b"\n", 0, pos) + 1
    if kind not in ("csv", "tsv"):
        return f"line {line}"
    before = sum(1 for x in body[:start].split(b"\n")[:-1] if x.strip())  # header included
    sep = "\t" if kind == "tsv" else ","
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    header = next(_csv.reader([first], delimiter=sep), [])
    prefix = body[start:pos].decode("utf-8", "replace")
    i = len(next(_csv.reader([prefix + "x"], delimiter=sep), [""])) - 1
    col = f", column {quote(header[i].strip(), 60)}" if 0 <= i < len(header) and before else ""
    return f"line {line} ({f'row {before}' if before else 'the header'}){col}"


def _not_utf8(body: bytes, pos: int, src: str, kind: str) -> str:
    """The message for bytes that are not UTF-8: where, the byte, its Latin-1 reading."""
    bad = body[pos]
    latin = bytes([bad]).decode("cp1252", "replace")
    guess = (f" (as Latin-1 / Windows-1252 it reads {latin!r}: the file is probably in that "
             "encoding; convert it, e.g. iconv -f cp1252 -t utf-8)") if latin.isprintable() \
        else ""
    return (f"{src}: {_where(body, pos, kind)}: cannot decode as UTF-8: byte 0x{bad:02x}{guess}"
            "; save the table as UTF-8 text")


def _stray_nul(body: bytes, src: str, kind: str) -> None:
    """A few NUL bytes in otherwise UTF-8 text: a damaged file, said where."""
    pos = body.find(b"\x00")
    if pos < 0 or body.count(b"\x00") > max(8, len(body) // 100):
        return
    try:
        body.replace(b"\x00", b"").decode("utf-8")
    except UnicodeDecodeError:
        return
    raise ScalefitInputError(f"{src}: {_where(body, pos, kind)}: a NUL byte (\\x00) in the "
                             "text; the file is damaged or not a text table")


def _read_csv(text: str, src: str, sep: str) -> pd.DataFrame:
    """A CSV/TSV table, every row accounted for (``row_scan.scan_csv``); a comma-separated
    header that is one field holding tabs, semicolons or pipes sets that separator."""
    if sep == ",":
        sep = _separator(text)
    text, lines, offsets, notes = scan_csv(text, src, sep)
    df = _parse_csv(text, src, sep)
    df.attrs["scalefit"] = ReadInfo(lines, offsets, text, sep, notes)
    return df


def _separator(text: str) -> str:
    """',' unless the header, read with commas, is one field holding a tab, ';' or '|'."""
    m = LEADING_COMMENTS.match(text)
    text = text[m.end():] if m else text
    try:
        header = next((r for r in _csv.reader(_io.StringIO(text[:1 << 20], newline=""))
                       if r and any(x.strip() for x in r)), [])
    except _csv.Error:
        return ","
    if len(header) == 1:
        for other in ("\t", ";", "|"):
            if other in header[0]:
                return other
    return ","


def _parse_csv(text: str, src: str, sep: str) -> pd.DataFrame:
    try:
        return pd.read_csv(_io.StringIO(text), sep=sep, skipinitialspace=True, index_col=False)
    except pd.errors.EmptyDataError as e:
        raise ScalefitInputError(
            f"{src}: the file is empty; it needs a header and one row per run"
        ) from e
    except pd.errors.ParserError as e:
        msg = _first_line(e)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            msg = f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}"
        raise ScalefitInputError(f"{src}: malformed CSV: {msg}") from e


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
