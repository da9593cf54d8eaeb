"""Rows that are not one run each: empty losses, repeated rows and checkpoints taken before
their run's schedule ended (part of the table edge).

``blank_loss`` tells a loss cell that holds no value (empty, NA, null: the metric was
never logged) from one that holds NaN or inf (the run diverged). ``duplicate_rows``
finds exact copies of an earlier row and run ids (a ``run_id`` column) given twice: copies
are counted once unless kept, and one id with two different results is refused (or, when
copies are kept, warned about). Row positions in messages are the file's lines when the
table was read from text (``row_scan.ReadInfo``), else 1-based rows. ``mid_schedule_rows``
finds rows whose step is below their run's total steps (or whose progress fraction is
below 1): each would be read as a run trained to its horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .column_names import normalize_name
from .core.pyvalue import py_scalar
from .errors import ScalefitInputError
from .render.format import quote
from .row_scan import MISSING_TOKENS, ReadInfo

RUN_ID_COLUMNS = ("run_id", "runid")
MISSING_LOSS = ("skip", "diverged")  # what an empty loss cell means: left out, or diverged
SHOWN = 5  # line numbers named in one message


def blank_loss(df: pd.DataFrame, col: str, values: np.ndarray,
               info: ReadInfo | None) -> np.ndarray:
    """(R,) bool: rows whose loss cell (column ``col``, parsed ``values``) held no value."""
    nan = np.flatnonzero(np.isnan(values))
    out = np.zeros(len(values), dtype=bool)
    if not nan.size:
        return out
    raw = df[col]
    nulls = getattr(df, "attrs", {}).get("scalefit_nulls", {}).get(str(col))
    if info is None and nulls is not None and len(nulls) == len(df):  # Parquet, JSON records
        out[nan] = nulls[nan]
    elif info is not None:
        out[nan] = info.blank(str(col), list(df.columns).index(col), nan)
    elif raw.dtype == object:
        out[nan] = [v is None or v is pd.NA or (isinstance(v, str) and v.strip().lower()
                                                in MISSING_TOKENS) for v in raw.iloc[nan]]
    elif isinstance(raw.dtype, pd.api.extensions.ExtensionDtype):
        out[nan] = raw.iloc[nan].isna().to_numpy(bool)  # pd.NA (a NaN there is a value)
    return out


def missing_note(n: int, where: list[int], label: tuple[str, str]) -> str:
    """The note naming rows left out for an empty loss."""
    unit = label[n != 1]
    return (f"{n} run{'s' if n != 1 else ''} with an empty loss ({unit} {_few(where)}) left "
            "out as missing (never logged?); pass --missing-loss diverged (missing_loss="
            "'diverged' in Python) to count them as diverged")


def position_label(info: ReadInfo | None) -> tuple[str, str]:
    """('line', 'lines') for rows read from text, else ('row', 'rows')."""
    return ("line", "lines") if info is not None else ("row", "rows")


def positions(info: ReadInfo | None, n: int) -> np.ndarray:
    """(n,) the line (text) or 1-based row of each row."""
    return info.lines.copy() if info is not None else np.arange(1, n + 1)


def duplicate_rows(df: pd.DataFrame, where: np.ndarray, src: str, label: tuple[str, str],
                   keep: bool) -> tuple[np.ndarray, str | None]:
    """(R,) bool of the rows to drop as copies (none when ``keep``) and one warning naming
    the copies and, when kept, the run ids given twice with different values; a run id
    with two different results is refused unless ``keep``."""
    copy = _copies(df)
    conflicts = _id_conflicts(df, copy)
    if conflicts and not keep:
        raise ScalefitInputError(_conflict_message(df, conflicts[0], where, src, label[0]))
    parts = []
    if copy.any():
        lines = [int(x) for x in where[copy]]
        what = "kept as separate runs (--keep-duplicates)" if keep else (
            "counted once (copies would narrow the intervals); pass --keep-duplicates "
            "(keep_duplicates=True in Python) to keep them")
        one = len(lines) == 1
        parts.append(f"{len(lines)} row{'' if one else 's'} repeat{'s' if one else ''} an "
                     f"earlier row exactly ({label[len(lines) != 1]} {_few(lines)}): {what}")
    if conflicts:
        col, (i, j) = conflicts[0][0], conflicts[0][1]
        parts.append(f"{len(conflicts)} run id{'s' if len(conflicts) != 1 else ''} in "
                     f"{quote(col, 40)} given twice with different values (first "
                     f"{quote(py_scalar(df[col].iloc[j]), 60)} on {label[1]} {where[i]} and "
                     f"{where[j]}): "
                     "kept as separate runs (--keep-duplicates)")
    warning = f"{src}: " + "; ".join(parts) if parts else None
    return (np.zeros(len(df), dtype=bool) if keep else copy), warning


def _copies(df: pd.DataFrame) -> np.ndarray:
    """(R,) bool: rows equal in every column to an earlier row."""
    if df.shape[1] == 0 or len(df) < 2:
        return np.zeros(len(df), dtype=bool)
    try:
        return df.duplicated(keep="first").to_numpy(bool)
    except TypeError:  # unhashable cells left: compare their text
        return df.astype(str).duplicated(keep="first").to_numpy(bool)


def _id_conflicts(df: pd.DataFrame, copy: np.ndarray) -> list[tuple[str, tuple[int, int]]]:
    """(id column, (first row, later row)) for each later row whose run id was given before
    on a row with other values (0-based rows)."""
    col = next((c for c in df.columns if normalize_name(c) in RUN_ID_COLUMNS), None)
    if col is None:
        return []
    ids = df[col]
    given = ids.notna() & (ids.astype(str).str.strip() != "")
    twice = (ids.duplicated(keep=False) & given).to_numpy(bool)
    first: dict = {}
    out = []
    for i in np.flatnonzero(twice):
        key = ids.iloc[i]
        if key not in first:
            first[key] = i
        elif not copy[i]:
            out.append((col, (first[key], i)))
    return out


def _conflict_message(df, conflict, where, src: str, unit: str) -> str:
    col, (i, j) = conflict
    a, b = df.iloc[i], df.iloc[j]
    diff = next((c for c in df.columns if not _same(a[c], b[c])), None)
    what = (f" ({quote(diff, 40)}: {quote(py_scalar(a[diff]), 60)} vs "
            f"{quote(py_scalar(b[diff]), 60)})" if diff is not None else "")
    return (f"{src}: run id {quote(py_scalar(df[col].iloc[i]), 60)} is on {unit} {where[i]} and "
            f"{unit} {where[j]} with different values{what}; one run has one result: remove the "
            "wrong row, or pass --keep-duplicates to keep both")


def _same(x, y) -> bool:
    if x is y:
        return True
    try:
        if pd.isna(x) and pd.isna(y):
            return True
    except (TypeError, ValueError):
        pass
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return str(x) == str(y)


def _few(values) -> str:
    """The first few numbers of a list, then how many in all."""
    values = list(values)
    shown = ", ".join(str(v) for v in values[:SHOWN])
    return shown + (f", ... ({len(values)} in all)" if len(values) > SHOWN else "")


# Name parts of a step counter, and of a run's planned total of them (total_steps,
# max_iters, num_training_steps); a fraction of the schedule done (progress, portion_...).
STEP_PARTS = {"step", "steps", "iter", "iters", "iteration", "iterations"}
TOTAL_PARTS = {"total", "max", "num", "planned"}
FRACTION_PARTS = {"progress", "portion", "fraction"}
# Other name parts a run's current step or its total may carry; any other part (warmup_,
# decay_, eval_, save_ steps) names a count of something else.
COUNTER_PARTS = {"current", "cur", "global", "train", "training", "trainer", "optimizer",
                 "opt", "of"}


def mid_schedule_rows(df: pd.DataFrame | None, roles: dict, where: np.ndarray | None,
                      label: tuple[str, str] = ("row", "rows")) -> str | None:
    """One line when some rows are checkpoints taken before their run's schedule ended: a
    step column below a total-steps column in the same row (``current_steps`` <
    ``total_steps``), or a progress fraction below 1 where it reaches 1 elsewhere. Such a
    row's loss is read as that of a run trained to its horizon, but its learning rate had
    not finished its schedule. ``roles``: role -> column (those are not checked);
    ``where``: each row's line (or row) for the message."""
    if df is None or not len(df):
        return None
    used = {c for c in roles.values() if c}
    parts = {c: set(normalize_name(c).split("_")) for c in df.columns if c not in used}
    numeric = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in parts
               if parts[c] & (STEP_PARTS | FRACTION_PARTS)
               and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])}
    counts = [c for c in numeric if parts[c] & STEP_PARTS
              and parts[c] <= STEP_PARTS | TOTAL_PARTS | COUNTER_PARTS]
    steps = [c for c in counts if not parts[c] & TOTAL_PARTS]
    totals = [c for c in counts if parts[c] & TOTAL_PARTS]
    found = None
    for cur in steps:
        for tot in totals:
            a, b = numeric[cur], numeric[tot]
            mid = np.isfinite(a) & np.isfinite(b) & (b > 0) & (a < b * (1 - 1e-6))
            if mid.any():
                found = (mid, f"{quote(cur, 40)} < {quote(tot, 40)}",
                         f"where {quote(cur, 40)} = {quote(tot, 40)}")
                break
        if found:
            break
    if found is None:
        for c in numeric:
            v = numeric[c]
            ok = np.isfinite(v)
            if not (parts[c] & FRACTION_PARTS) or not ok.any() or v[ok].min() < 0 \
                    or abs(v[ok].max() - 1.0) > 1e-6:
                continue
            mid = ok & (v < 1 - 1e-6)
            if mid.any():
                found = (mid, f"{quote(c, 40)} < 1", f"where {quote(c, 40)} = 1")
                break
    if found is None:
        return None
    mid, what, keep = found
    lines = (np.arange(1, len(df) + 1) if where is None else np.asarray(where))[mid]
    return (f"{int(mid.sum())} of {len(df)} rows are checkpoints taken before their run's "
            f"schedule ended ({what}; {label[len(lines) != 1]} {_few(lines.tolist())}): "
            "each is read as a run trained to its horizon, but its learning rate had not "
            f"finished its schedule; keep each run's last row ({keep}), or fit whole curves "
            "with 'scalefit curve'")
