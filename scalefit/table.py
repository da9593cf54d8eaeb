"""The table edge: read a table of training runs and validate it at the boundary.

Reading (CSV / TSV, Parquet, JSON Lines, JSON records, standard input and other streams,
UTF-8/16/32 text) is ``readers.read_table``; a pandas DataFrame is taken as it is.
``--extract`` specs (``COL:REGEX``) make columns from parts of a text column
(``extract.apply_extract``). Columns are matched to the four roles ``scale``, ``horizon``,
``lr`` and ``loss`` by canonical name, then by known aliases, unless the caller names
them (one column never plays two roles). Run statuses sort runs into finished, diverged
and unfinished (``classify_status``). A nested value (a JSON object or list, a Parquet
struct) is refused in a column the fit uses and kept as text in any other. Everything
past this module trusts its input:
every problem is reported here as one ``ScalefitInputError`` line naming the file, the
column and the first bad row (values from the data quoted safely and shortened)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .column_names import (  # noqa: F401 (re-exported: the table's names)
    ALIASES,
    DIVERGED_STATUSES,
    FINISHED_STATUSES,
    ROLES,
    STATUS_COLUMNS,
    by_column,
    normalize_name,
    resolve_columns,
)
from .errors import ScalefitInputError
from .extract import apply_extract
from .options import Columns
from .readers import FLATTENED, read_table
from .render.format import name_list, quote
from .row_checks import (
    blank_loss,
    duplicate_rows,
    missing_note,
    position_label,
    positions,
)
from .row_scan import read_info


@dataclass(frozen=True)
class RunTable:
    """A validated table of runs.

    ``data`` has one row per run with float columns ``lr`` (> 0) and ``loss`` (NaN for
    a diverged run), float ``scale`` / ``horizon`` (> 0) when present, a bool
    ``diverged`` column, and the ``by`` columns with their original labels.
    ``columns`` maps each role to the source column it came from (``None`` if absent).
    ``raw``: the table as read (after ``extract``), every column, the rows of ``data``
    only; ``extract``: the specs applied; ``fmt``: the format it was read as, when given;
    ``excluded``: (status, count) of the rows left out as unfinished runs; ``rows``: the
    1-based row of each run in the table read (for messages); ``missing``: runs left
    out for an empty loss; ``duplicates``: rows left out as copies of an earlier row;
    ``warnings``: one line each (copies, run ids given twice).
    """

    data: pd.DataFrame
    columns: dict[str, str | None]
    by: tuple[str, ...] = ()
    source: str = "<DataFrame>"
    notes: tuple[str, ...] = field(default=())
    raw: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    extract: tuple[str, ...] = ()
    fmt: str | None = None
    excluded: tuple[tuple[str, int], ...] = ()
    rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    missing: int = 0
    duplicates: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_read(self) -> int:
        """Every data row read, the ones left out included."""
        return len(self.data) + self.n_excluded + self.missing + self.duplicates

    @property
    def n_rows(self) -> int:
        return len(self.data)

    @property
    def n_excluded(self) -> int:
        return sum(n for _, n in self.excluded)

    @property
    def n_diverged(self) -> int:
        return int(self.data["diverged"].sum())


def _duplicate_headers(df: pd.DataFrame, src: str) -> None:
    """Refuse a header naming a column twice (pandas' ``lr.1``; names equal once stripped)."""
    cols = [str(c) for c in df.columns]
    seen = {c.strip() for c in cols}
    for c in cols:
        m = re.fullmatch(r"(.+)\.(\d+)", c)
        if m and m.group(1).strip() in seen:
            raise ScalefitInputError(f"{src}: column {quote(m.group(1).strip(), 60)} appears "
                                     "more than once in the header; rename one")
    stripped = [c.strip() for c in cols]
    if len(set(stripped)) != len(stripped):
        dup = next(c for c in stripped if stripped.count(c) > 1)
        raise ScalefitInputError(f"{src}: column {quote(dup, 60)} appears more than once; "
                                 "rename one")


def _nested(v) -> bool:
    return isinstance(v, (dict, list, tuple, set, np.ndarray))


def _plain_cells(df: pd.DataFrame, used: dict[str, str], src: str) -> pd.DataFrame:
    """Nested values (JSON objects or lists, Parquet structs or lists): refused in a column
    the fit uses (``used``: column -> what it is), shown as text in any other column."""
    out = None
    for c in df.columns:
        col = df[c]
        if col.dtype != object:
            continue
        mask = col.map(_nested).to_numpy(bool)
        if not mask.any():
            continue
        if c in used:
            i = int(np.flatnonzero(mask)[0])
            raise ScalefitInputError(
                f"{src}: column {quote(c, 60)} ({used[c]}), row {i + 1}: a nested value "
                f"({quote(col.iloc[i], 60)}); it needs plain text or numbers: flatten the "
                "column, or choose another")
        out = df.copy() if out is None else out
        out[c] = col.where(~mask, col[mask].map(str))
    return df if out is None else out


def nested_by(df: pd.DataFrame, by, src: str) -> None:
    """Refuse a --by column that held JSON objects (read as one column per leaf,
    ``readers.flatten_objects``), naming its first such row and its leaves."""
    flat = df.attrs.get(FLATTENED, {})
    for b in by:
        if b not in df.columns and b in flat:
            i, text, leaves = flat[b]
            raise ScalefitInputError(
                f"{src}: column {quote(b, 60)} (--by), row {i + 1}: a nested value "
                f"({quote(text, 60)}), read as one column per leaf ({name_list(leaves)}); "
                f"group by leaves, e.g. --by {leaves[0] if leaves else b + '.KEY'}")


def _numeric(df: pd.DataFrame, col: str, src: str, role: str) -> np.ndarray:
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        raise ScalefitInputError(f"{src}: column {col!r} ({role}) holds booleans, not numbers")
    if (pd.api.types.is_datetime64_any_dtype(raw) or pd.api.types.is_timedelta64_dtype(raw)
            or isinstance(raw.dtype, pd.PeriodDtype)):
        raise ScalefitInputError(
            f"{src}: column {col!r} ({role}) holds dates or times ({raw.dtype}), not numbers; "
            f"name the {role} column with --{role.replace('_', '-')} COL")
    vals = pd.to_numeric(raw, errors="coerce")
    bad = vals.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any() and role in COUNT_ROLES:
        vals, bad = _with_count_suffixes(raw, vals, bad)
    if bad.any() and role == "loss":  # 'diverged', 'NaN loss', 'exploded': a diverged run
        bad = bad & ~raw.astype(str).map(normalize_name).isin(DIVERGED_STATUSES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        text = str(raw.iloc[i])
        comma = (" (a decimal comma? write numbers with a point, e.g. 0.001)"
                 if re.fullmatch(r"\s*[+-]?\d*,\d+(?:[eE][+-]?\d+)?\s*", text) else "")
        raise ScalefitInputError(
            f"{src}: column {quote(col, 60)} ({role}), row {i + 1}: {quote(text)} is not a "
            f"number{comma}"
        )
    return vals.to_numpy(dtype=float)


# Roles that count parameters, tokens or FLOPs: their cells may be written "125M", "1.3B",
# "125,000,000".
COUNT_ROLES = frozenset({"scale", "horizon", "flops", "params", "tokens"})
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_COUNT = re.compile(r"\s*([+-]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)"
                    r"(?:[eE][+-]?\d+)?)\s*([kKmMbBgGtT]?)\s*")


def _with_count_suffixes(raw: pd.Series, vals: pd.Series, bad: pd.Series):
    """Counts written with a suffix (``125M``, ``1.3B``, ``2T``, ``500k``; B and G are
    1e9) or thousands separators (``125,000,000``) read as numbers; cells that are neither
    stay bad."""
    pos = np.flatnonzero(bad.to_numpy())
    parts = pd.Series(raw.to_numpy()[pos].astype(str)).str.extract(f"^{_COUNT.pattern}$")
    hit = parts[0].notna().to_numpy()
    if not hit.any():
        return vals, bad
    out, still = vals.to_numpy(dtype=float).copy(), bad.to_numpy().copy()
    out[pos[hit]] = (parts[0][hit].str.replace(",", "").astype(float)
                     * parts[1][hit].str.lower().map(_SUFFIX).fillna(1.0)).to_numpy()
    still[pos[hit]] = False
    return pd.Series(out, index=vals.index), pd.Series(still, index=bad.index)


def _positive(values: np.ndarray, col: str, src: str, role: str) -> None:
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "missing" if np.isnan(values[i]) else f"{values[i]:g}"
        finite = values[np.isfinite(values)]
        log = (" (the column looks like log10 of the LR: write the LR itself, e.g. 0.001 for "
               "-3)" if role == "lr" and finite.size and np.all((finite < 0) & (finite > -12))
               else "")
        raise ScalefitInputError(
            f"{src}: column {quote(col, 60)} ({role}), row {i + 1}: {what}; every {role} must "
            f"be a finite number > 0{log}"
        )


def load_runs(
    table: str | Path | pd.DataFrame,
    *,
    scale: str | None = None,
    horizon: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    by: tuple[str, ...] | list[str] | str = (),
    status: str | None = None,
    fmt: str | None = None,
    source: str | None = None,
    required: tuple[str, ...] = ("lr", "loss"),
    extract: tuple[str, ...] | list[str] = (),
    status_ok: tuple[str, ...] | list[str] | str = (),
    missing_loss: str = "skip",
    keep_duplicates: bool = False,
) -> RunTable:
    """Load and validate a table of runs.

    ``table``: a path (CSV / Parquet / JSON Lines by extension, ``"-"`` for stdin) or a
    DataFrame. ``scale``, ``horizon``, ``lr``, ``loss`` name source columns and override
    alias matching. ``by`` names extra columns whose values split runs into groups.
    ``status`` names a status column (default: ``status``/``state`` if present): runs
    whose status says finished (ok, finished, completed, success, done, ..., empty, and
    the values in ``status_ok``) are used; runs whose status says diverged (diverged,
    nan, exploded, unstable, ...) count as diverged, as do runs whose loss is NaN, inf or
    blank; runs with any other status (running, killed, crashed, failed, preempted, ...)
    did not finish: they are left out, counted in ``excluded`` and named in a note.
    ``source`` names the input in messages (default: the path, or ``<DataFrame>``,
    ``<stdin>``). ``required``: roles that must have a column (``lr`` and
    ``loss``; a loss-law table needs only ``loss``). ``extract``: ``COL:REGEX`` specs
    applied first (see ``apply_extract``). ``missing_loss``: what an empty loss cell (no
    value: empty, NA, null; not NaN or inf, which are diverged runs) means: ``"skip"``
    (default: the run is left out, counted and noted) or ``"diverged"``.
    ``keep_duplicates``: keep rows that repeat an earlier row exactly (default: counted
    once, with a warning) and run ids given twice with different values (default:
    refused). Raises ``ScalefitInputError`` on bad input.
    """
    columns = Columns(scale=scale, horizon=horizon, lr=lr, loss=loss, by=by, status=status,
                      status_ok=status_ok, extract=extract, missing_loss=missing_loss,
                      keep_duplicates=keep_duplicates)
    return read_runs(table, columns, fmt=fmt, source=source, required=required)


def read_runs(table, columns: Columns, fmt: str | None = None, source: str | None = None,
              required: tuple[str, ...] = ("lr", "loss")) -> RunTable:
    """``load_runs`` with its options as a checked ``Columns`` (``scalefit.options``)."""
    df, src = read_input(table, fmt, source)
    info = read_info(df)
    extract, by, status = columns.extract, columns.by, columns.status
    if extract:
        df = apply_extract(df, extract, src)
    _duplicate_headers(df, src)
    df = df.reset_index(drop=True)
    df.columns = [str(c).strip() for c in df.columns]
    if len(df.columns) == 0:
        raise ScalefitInputError(f"{src}: no columns; it needs a header and one row per run")
    cols = resolve_columns(list(df.columns), columns.roles, src, required)
    if len(df) == 0:
        raise ScalefitInputError(f"{src}: the table has a header but no rows")
    nested_by(df, by, src)
    by = tuple(by_column(b, df.columns, src) for b in by)
    for b in by:
        if b in cols.values():
            role = next(r for r, c in cols.items() if c == b)
            raise ScalefitInputError(
                f"{src}: column {quote(b, 60)} is already the {role}; it cannot also be a --by "
                "column"
            )
    status_col = status or next(
        (c for c in df.columns if normalize_name(c) in STATUS_COLUMNS), None
    )
    if status is not None and status not in df.columns:
        raise ScalefitInputError(f"{src}: status column {quote(status, 60)} not found")
    used = {c: r for r, c in cols.items() if c is not None}
    used.update({b: "--by" for b in by})
    if status_col is not None:
        used.setdefault(status_col, "status")
    df = _plain_cells(df, used, src)
    where, label = positions(info, len(df)), position_label(info)
    copies, dup_warning = duplicate_rows(df, where, src, label, columns.keep_duplicates)

    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    if cols["lr"] is not None:
        out["lr"] = _numeric(df, cols["lr"], src, "lr")
        _positive(out["lr"].to_numpy(), cols["lr"], src, "lr")
    loss_vals = _numeric(df, cols["loss"], src, "loss")
    for role in ("scale", "horizon"):
        if cols[role] is not None:
            vals = _numeric(df, cols[role], src, role)
            _positive(vals, cols[role], src, role)
            out[role] = vals

    notes: list[str] = list(info.notes) if info is not None else []
    diverged = ~np.isfinite(loss_vals)
    keep, div_status = ~copies, np.zeros(len(df), dtype=bool)
    excluded: tuple[tuple[str, int], ...] = ()
    if status_col is not None:
        div_status, finished, excluded = classify_status(df[status_col][keep],
                                                         columns.status_ok)
        div_status = _spread(div_status, keep)
        keep = _spread(finished, keep)
        diverged |= div_status
        if excluded:
            notes.append(excluded_note(excluded))
        if not keep.any():
            raise ScalefitInputError(f"{src}: no finished run: {excluded_note(excluded)}")
    blank = blank_loss(df, cols["loss"], loss_vals, info) & keep & ~div_status
    n_missing = 0
    if blank.any() and columns.missing_loss == "skip":
        n_missing = int(blank.sum())
        notes.append(missing_note(n_missing, [int(x) for x in where[blank]], label))
        keep = keep & ~blank
        if not keep.any():
            raise ScalefitInputError(f"{src}: every run's loss is empty (column "
                                     f"{quote(cols['loss'], 60)}); pass --missing-loss "
                                     "diverged to count them as diverged")
    out["loss"] = np.where(diverged, np.nan, loss_vals)
    out["diverged"] = diverged
    for b in by:
        col = df[b]
        out[b] = col.where(col.notna(), "<missing>") if col.isna().any() else col
    rows = np.arange(1, len(df) + 1)
    if not keep.all():
        out = out[keep].reset_index(drop=True)
        df = df[keep].reset_index(drop=True)
        rows = rows[keep]
    if out["diverged"].all():
        notes.append("every run diverged: no optimum can be estimated")
    return RunTable(data=out, columns={**cols, "status": status_col}, by=by, source=src,
                    notes=tuple(notes), raw=df, extract=extract, fmt=fmt, excluded=excluded,
                    rows=rows, missing=n_missing, duplicates=int(copies.sum()),
                    warnings=(dup_warning,) if dup_warning else ())


def _spread(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(len(mask),) bool: ``values`` at the True places of ``mask``, False elsewhere."""
    out = np.zeros(len(mask), dtype=bool)
    out[mask] = values
    return out



def read_input(table, fmt: str | None = None, source: str | None = None):
    """(DataFrame, name for messages) of a path, ``"-"`` or a DataFrame (copied: with
    pandas' copy-on-write, always on from pandas 3, a shallow copy is one that neither
    side's later changes reach, without a second copy of the data; a deep copy without
    it)."""
    if isinstance(table, pd.DataFrame):
        return table.copy(deep=not _copy_on_write()), source or "<DataFrame>"
    src = source or ("<stdin>" if str(table) == "-" else str(table))
    return read_table(table, fmt), src


def _copy_on_write() -> bool:
    """Whether pandas copies a frame's data on write (pandas 3; an option in pandas 2)."""
    return int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True


def classify_status(values: pd.Series, status_ok=()):
    """Diverged (R,) bool, kept (R,) bool and ((status, count), ...) of the left-out runs.

    Values are compared normalized (lower case, punctuation as ``_``); ``status_ok`` adds
    values to the finished set (and takes them out of the diverged one).
    """
    if isinstance(status_ok, str):
        status_ok = (status_ok,)
    extra = {normalize_name(v) for v in status_ok}
    finished = FINISHED_STATUSES | extra
    diverged_set = DIVERGED_STATUSES - extra
    blank = values.isna() | (values.astype(str).str.strip() == "")
    norm = values.astype(str).map(normalize_name)
    diverged = (norm.isin(diverged_set) & ~blank).to_numpy()
    keep = (blank | norm.isin(finished) | norm.isin(diverged_set)).to_numpy()
    shown = values[~keep].astype(str).str.strip().str.lower()
    counts = shown.value_counts(sort=False)
    excluded = tuple(sorted(((str(k), int(v)) for k, v in counts.items()),
                            key=lambda kv: (-kv[1], kv[0])))
    return diverged, keep, excluded


def excluded_note(excluded) -> str:
    """The one line that names the statuses of runs left out as unfinished."""
    n = sum(c for _, c in excluded)
    parts = ", ".join(f"{quote(s, 40)[1:-1]}: {c}" for s, c in excluded[:8])
    more = ", ..." if len(excluded) > 8 else ""
    return (f"{n} run{'s' if n != 1 else ''} excluded as unfinished (status {parts}{more}); "
            "pass --status-ok VALUE (status_ok= in Python) to count a status as finished")
