"""Reading a table: a file, standard input or a stream, in any of the formats and text
encodings scalefit accepts, into a DataFrame (the first step of the table edge).

CSV / TSV, Parquet, JSON Lines, JSON records; standard input (``"-"``, CSV unless a
format is given), pipes and other streams (``/dev/stdin``, ``<(...)``, FIFOs: read to
their end, so only a stream that gives no byte is empty); text in UTF-8, or UTF-16 /
UTF-32 told by a byte-order mark (or, for UTF-16 without one, by its NUL bytes). Every
problem is one ``ScalefitInputError`` line naming the input.
"""

from __future__ import annotations

import io as _io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ScalefitInputError

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
        buf = getattr(sys.stdin, "buffer", None)
        data = buf.read() if buf is not None else sys.stdin.read().encode("utf-8")
        return parse_bytes(data, "<stdin>", fmt or "csv")
    p = Path(path)
    if not p.exists():
        raise ScalefitInputError(f"{src}: no such file")
    if p.is_dir():
        raise ScalefitInputError(f"{src}: is a directory; give a CSV, Parquet or JSON Lines file")
    kind = fmt or _SUFFIXES.get(p.suffix.lower(), "csv")
    try:
        if not p.is_file():  # a pipe, FIFO, /dev/stdin, <(...): read the stream
            with open(p, "rb") as f:
                return parse_bytes(f.read(), src, kind)
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


def parse_bytes(data: bytes, src: str, kind: str) -> pd.DataFrame:
    """A table from the bytes of a file or stream in format ``kind``."""
    if not data or (kind != "parquet" and not data.strip(b" \t\r\n")):
        raise ScalefitInputError(f"{src}: the input is empty; it needs a header and one row "
                                 "per run")
    try:
        if kind == "parquet":
            return _read_parquet(_io.BytesIO(data), src)
        text = decode_text(data, src)
        if kind in ("csv", "tsv"):
            return _read_csv(_io.StringIO(text), src, "\t" if kind == "tsv" else ",")
        if kind == "jsonl":
            return pd.read_json(_io.StringIO(text), lines=True)
        if kind == "json":
            return pd.read_json(_io.StringIO(text))
    except ScalefitInputError:
        raise
    except (ValueError, OSError) as e:
        raise ScalefitInputError(f"{src}: cannot read as {kind}: {_first_line(e)}") from e
    raise ScalefitInputError(f"{src}: unknown format {kind!r}")


def _read_parquet(source, src: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(source)
    except ImportError as e:
        raise ScalefitInputError(
            f"{src}: reading Parquet needs pyarrow: pip install 'scalefit[parquet]'") from e
    except (ValueError, OSError) as e:
        raise ScalefitInputError(f"{src}: cannot read as parquet: {_first_line(e)}") from e


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _nul_encoding(head: bytes) -> str | None:
    """UTF-16/UTF-32 without a byte-order mark, told by where its NUL bytes fall."""
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
    return None


def decode_text(data: bytes, src: str) -> str:
    """Text from bytes: UTF-8 (or UTF-16/32 by byte-order mark or NUL pattern).

    A file that is neither says which encoding failed where, or that it looks binary.
    """
    enc, body = None, data
    for bom, name in _BOMS:
        if data.startswith(bom):
            enc, body = name, data[len(bom):]
            break
    if enc is None and b"\x00" in data[:4096]:
        enc = _nul_encoding(data[:4096])
        if enc is None:
            raise ScalefitInputError(
                f"{src}: looks like a binary file, not a CSV table; give CSV, Parquet "
                "(.parquet) or JSON Lines (.jsonl)")
    try:
        return body.decode(enc or "utf-8")
    except UnicodeDecodeError as e:
        name = (enc or "utf-8").upper()
        raise ScalefitInputError(
            f"{src}: cannot decode as {name} (byte {e.start}: {e.reason}); save it as UTF-8 "
            "text, or give Parquet (.parquet) or JSON Lines (.jsonl)") from None


def _read_csv(source, src: str, sep: str) -> pd.DataFrame:
    try:
        return pd.read_csv(source, sep=sep, skipinitialspace=True)
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
