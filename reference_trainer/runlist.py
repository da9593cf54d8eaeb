"""Runs listed in a table, one per row: ``reference-trainer sweep --from-csv FILE``.

A row is a run. Its settings come from the ``config`` column (the JSON every results row
carries, and every row ``scalefit next --out`` writes) when the table has one, otherwise
from the columns named like run settings (``width``, ``lr``, ``tokens``, ...; the
results row's ``parameterization`` is ``param``). Settings given on the command line
apply to every run (one value each). Errors name the file, the column and the 1-based
row, in one line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .config import RunConfig, config_fields, parse_value

COLUMN_FIELDS = {"parameterization": "param"}


def read_runs(path, overrides: dict | None = None) -> list[RunConfig]:
    """The runs of the table at ``path`` (deduplicated by run_id, in file order), each with
    ``overrides`` (field -> value) applied; raises ValueError with one line on bad input."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    fields = {f.name: f for f in config_fields()}
    identity = {f.name for f in config_fields() if f.metadata.get("identity", True)}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if not header:
            raise ValueError(f"{path}: empty file; expected a header and one row per run")
        has_config = "config" in header
        named = {c: COLUMN_FIELDS.get(c, c) for c in header
                 if COLUMN_FIELDS.get(c, c) in identity}
        if not has_config and "lr" not in named.values():
            raise ValueError(f"{path}: no config column and no lr column: each row needs the "
                             "run's settings (the config JSON of a results row, or columns "
                             "named like settings: width, lr, tokens, ...)")
        runs, seen = [], set()
        for i, row in enumerate(reader, start=1):
            spec = (_from_config(row, path, i, fields, identity) if has_config
                    else _from_columns(row, named, path, i, fields))
            spec.update(overrides or {})
            try:
                cfg = RunConfig(**spec)
            except (TypeError, ValueError) as e:
                col = "config" if has_config else "settings"
                raise ValueError(f"{path}: column {col!r}, row {i}: {e}") from None
            if cfg.run_id not in seen:
                seen.add(cfg.run_id)
                runs.append(cfg)
    if not runs:
        raise ValueError(f"{path}: the table has a header but no rows")
    return runs


def _from_config(row, path, i, fields, identity) -> dict:
    text = (row.get("config") or "").strip()
    if not text:
        raise ValueError(f"{path}: column 'config', row {i}: empty; a run needs its settings "
                         "(scalefit leaves it empty for a new model size, whose shape is your "
                         "choice: write its width and depth into the row's config)")
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path}: column 'config', row {i}: not JSON ({e.msg})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: column 'config', row {i}: expected a JSON object")
    unknown = [k for k in cfg if k not in fields]
    if unknown:
        raise ValueError(f"{path}: column 'config', row {i}: unknown setting(s) "
                         f"{', '.join(map(repr, unknown))}")
    out = {}
    for k, v in cfg.items():
        if k in identity:
            try:
                out[k] = parse_value(fields[k], v)
            except ValueError as e:
                raise ValueError(f"{path}: column 'config', row {i}: {k}: {e}") from None
    return out


def _from_columns(row, named, path, i, fields) -> dict:
    out = {}
    for col, name in named.items():
        v = row.get(col)
        if v is None or str(v).strip() == "":
            continue
        try:
            out[name] = parse_value(fields[name], v.strip())
        except ValueError:
            raise ValueError(f"{path}: column {col!r}, row {i}: {v!r} is not a valid "
                             f"{name}") from None
    if "lr" not in out:
        raise ValueError(f"{path}: column 'lr', row {i}: missing; every run needs an LR")
    return out
