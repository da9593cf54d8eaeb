"""``scalefit next``: which runs to train next, from a table of runs (docs/math.md s. 10).

``next_runs(table, k, ...)`` fits the table (``scalefit.fit``), asks the fit for the
``k`` runs that reduce the target's uncertainty most per unit cost
(``FitResult.next_runs``) and attaches to each a row of the table to do: ``to_do`` copies
a run of the same sweep (the sweep's settings: every column that is the same for all its
runs), sets the LR (and a seed, and the reference trainer's ``config`` JSON with both),
and blanks what belongs to a run (its loss, status, id, and every column that differs
between the sweep's runs), so that ``reference-trainer sweep --from-csv`` trains it as it
is. ``write_to_do`` writes that table atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..column_names import last_part
from ..errors import ScalefitInputError
from ..files import atomic_write, same_file
from ..options import Columns, FitOptions, PlanOptions, check, split_fit_options
from ..pipeline import fit_with
from ..table import _numeric, _positive, apply_extract, read_input, resolve_columns
from .proposal_rows import propose_runs

# Columns of the reference trainer's row that describe the run itself, not its sweep.
RUN_COLUMNS = ("run_id", "val_loss", "train_loss", "steps", "wall_time_s", "tokens_per_s",
               "status", "device", "git_rev", "torch_version")
PROPOSAL_COLUMNS = ("proposal_kind", "proposal_rule", "proposal_reason", "proposal_gain")


def next_runs(table, k: int, *, target_scale=None, target_horizon=None, group=None,
              candidates=None, cost="flops", objective="variance", new_scales=(),
              new_horizons=(), new_sweeps=True, new_sweep_lrs=5, per_group=False,
              scale=None, horizon=None, lr=None, loss=None, by=(), status=None,
              status_ok=(), extract=(), fmt=None, source=None, n_boot=1000, seed=0,
              progress=None, **fit_options):
    """Fit ``table`` and propose its next ``k`` runs: (FitResult, Proposals, to-do table).

    The to-do table has one row per proposed run in the table's own columns (see the
    module docstring) followed by ``proposal_kind``, ``proposal_rule``,
    ``proposal_reason``, ``proposal_gain``. ``fit_options`` go to ``scalefit.fit``.
    """
    column_kw, fit_kw = split_fit_options(fit_options, "next_runs")
    cols = Columns(scale=scale, horizon=horizon, lr=lr, loss=loss, by=by, status=status,
                   status_ok=status_ok, extract=extract, **column_kw)
    opts = FitOptions(n_boot=n_boot, seed=seed, require_optimum=False, **fit_kw)
    plan = PlanOptions(k, target_scale=target_scale, target_horizon=target_horizon,
                       group=group, cost=cost, objective=objective, new_scales=new_scales,
                       new_horizons=new_horizons, new_sweeps=new_sweeps,
                       new_sweep_lrs=new_sweep_lrs, per_group=per_group)
    return plan_next(table, cols, opts, plan, candidates, fmt=fmt, source=source,
                     progress=check("progress", progress))


def plan_next(table, cols: Columns, opts: FitOptions, plan: PlanOptions, candidates=None,
              fmt: str | None = None, source: str | None = None, progress=None):
    """``next_runs`` with its options as checked value objects (``scalefit.options``)."""
    df, src = read_input(table, fmt, source)
    if cols.extract:  # the columns are made here once: the fit and the to-do table share them
        df = apply_extract(df, cols.extract, src)
        cols = cols.replace(extract=())
    res = fit_with(df, cols, opts, source=src, progress=progress)
    if res.input.get("kind") == "optima":
        raise ScalefitInputError(f"{src}: a table of optima has no runs to add to; next needs "
                                 "a table of runs")
    props = propose_runs(res, plan, candidates)
    return res, props, to_do(props, res.sweep_set.runs)  # the table as the fit read it


def to_do(props, runs) -> pd.DataFrame:
    """The proposed runs as rows of the table they were proposed from (module docstring)."""
    data, raw, cols = runs.data, runs.raw, runs.columns
    joint = props.settings.get("joint")  # the column swept with the LR (a --joint fit)
    # the fit's groups (a reference-trainer table's arms too); a --joint fit's sweeps are
    # per batch size, its templates per surface: the joint column is matched below
    by = [b for b in runs.by if b != joint]
    keys = by + [r for r in ("scale", "horizon") if r in data]
    sweep_of = _sweep_index(data, keys)
    out, used = [], {}
    seed_col = seed_column(raw.columns)
    for _, p in props.runs.iterrows():
        key = _key([p[c] for c in keys])
        rows = sweep_of.get(key)
        if rows is None:  # a new sweep: copy the nearest sweep of its group
            rows = _nearest_sweep(sweep_of, data, keys, p, by)
        if joint:  # a run at the proposed batch size, if the surface has one, is the template
            same = np.isclose(pd.to_numeric(raw.loc[rows, joint], errors="coerce")
                              .to_numpy(float), float(p[joint]))
            rows = rows[same] if same.any() else rows
            key = (*key, f"{float(p[joint]):.12g}")
        sub_raw = raw.loc[rows]
        ok = ~data.loc[rows, "diverged"].to_numpy()
        template = sub_raw.iloc[int(np.argmax(ok))] if ok.any() else sub_raw.iloc[0]
        varying = {c for c in raw.columns if sub_raw[c].astype(str).nunique() > 1}
        row = {}
        for c in raw.columns:
            blank = c in varying or c in RUN_COLUMNS or c in (cols.get("loss"),
                                                              cols.get("status"))
            row[c] = None if blank else template[c]
        row[cols["lr"]] = float(p["lr"])
        for role in ("scale", "horizon"):
            if cols.get(role) and role in p and p[role] is not None and np.isfinite(p[role]):
                row[cols[role]] = _as_type(template[cols[role]], p[role])
        if joint:
            row[joint] = _as_type(template[joint], p[joint])
        seed = _seed(sub_raw, data.loc[rows], p["lr"], used, key, seed_col)
        if seed is not None:
            row[seed_col] = seed
        if "config" in raw.columns:
            row["config"] = _config(template.get("config"), p, seed, cols, template, joint)
        row.update({"proposal_kind": p["kind"], "proposal_rule": p["rule"],
                    "proposal_reason": p["reason"], "proposal_gain": p["gain"]})
        out.append(row)
    columns = list(raw.columns) + list(PROPOSAL_COLUMNS)
    return pd.DataFrame(out, columns=columns)


def candidates_table(path, scale=None, horizon=None, lr=None, by=(),
                     fmt=None, joint=None) -> pd.DataFrame:
    """A table of allowed runs (``--candidates``) with its role columns named ``scale``,
    ``horizon``, ``lr`` (found like those of the runs table), the ``by`` columns and the
    ``joint`` column (a number > 0 in every row)."""
    df, src = read_input(path, fmt)
    df.columns = [str(c).strip() for c in df.columns]
    cols = resolve_columns(list(df.columns), {"scale": scale, "horizon": horizon, "lr": lr,
                                              "loss": None}, src, required=("lr",))
    out = pd.DataFrame(index=df.index)
    for role in ("scale", "horizon", "lr"):
        if cols[role] is not None:
            vals = _numeric(df, cols[role], src, role)
            _positive(vals, cols[role], src, role)
            out[role] = vals
    for b in by:
        if b not in df.columns:
            raise ScalefitInputError(f"{src}: group column {b!r} (--by) not found; columns "
                                     f"are: {', '.join(df.columns)}")
        out[b] = df[b]
    if joint is not None:
        if joint not in df.columns:
            raise ScalefitInputError(f"{src}: the --joint column {joint!r} not found; "
                                     f"columns are: {', '.join(df.columns)}")
        vals = _numeric(df, joint, src, "--joint")
        _positive(vals, joint, src, "--joint")
        out[joint] = vals
    return out


def write_to_do(todo: pd.DataFrame | None, path, inputs=(), check_only: bool = False):
    """Write the to-do table as CSV atomically; refuses to overwrite an input (with
    ``check_only``: only the checks, before any work)."""
    for p in inputs:
        if p is not None and str(p) != "-" and Path(p).exists() and same_file(path, p):
            raise ScalefitInputError(f"{path}: is the input file; --out would overwrite it; "
                                     "give another file name")
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise ScalefitInputError(f"{path}: cannot write the runs: the folder {parent} does not "
                                 "exist")
    if Path(path).is_dir():
        raise ScalefitInputError(f"{path}: is a directory; --out needs a file name")
    if check_only:
        return None
    return atomic_write(path, todo.to_csv(index=False), "the runs")


def _key(values) -> tuple:
    out = []
    for v in values:
        try:
            out.append(f"{float(v):.12g}")
        except (TypeError, ValueError):
            out.append(str(v))
    return tuple(out)


def _sweep_index(data: pd.DataFrame, keys: list[str]) -> dict:
    if not keys:
        return {(): data.index.to_numpy()}
    idx: dict = {}
    for i, vals in zip(data.index, data[keys].itertuples(index=False)):
        idx.setdefault(_key(vals), []).append(i)
    return {k: np.array(v) for k, v in idx.items()}


def _nearest_sweep(sweep_of, data, keys, p, by) -> np.ndarray:
    """A new sweep's template: the sweep of its by group nearest in ln scale and ln horizon."""
    best, dist = None, math.inf
    for rows in sweep_of.values():
        first = data.loc[rows[0]]
        if any(_key([first[b]]) != _key([p[b]]) for b in by):
            continue
        d = sum((math.log(float(first[r])) - math.log(float(p[r]))) ** 2
                for r in ("scale", "horizon") if r in keys and p.get(r) is not None)
        if d < dist:
            best, dist = rows, d
    if best is None:
        raise ScalefitInputError("a proposed new sweep has no sweep of its group to copy")
    return best


def _as_type(like, value):
    if isinstance(like, (int, np.integer)) and float(value).is_integer():
        return int(value)
    return float(value)


def seed_column(columns) -> str | None:
    """The seed column: ``seed``, else the one column whose name, or its last part under a
    namespace (``config.seed``, ``Seed``), is seed; None without one."""
    columns = [str(c) for c in columns]
    if "seed" in columns:
        return "seed"
    hits = [c for c in columns if last_part(c) == "seed"]
    return hits[0] if len(hits) == 1 else None


def _seed(sub_raw, sub, lr, used: dict, key, col: str | None) -> int | None:
    """A new LR gets the sweep's first seed; a run at an LR the sweep tried gets the
    smallest seed not yet used there (so it is a new run, not the same one again)."""
    if col is None:
        return None
    seeds = pd.to_numeric(sub_raw[col], errors="coerce")
    if not seeds.notna().any():
        return None
    at = np.isclose(sub["lr"].to_numpy(float), float(lr), rtol=1e-9)
    taken = set(seeds[at].dropna().astype(int)) | used.setdefault((key, float(lr)), set())
    s = int(seeds.dropna().min()) if not at.any() else 0
    while s in taken:
        s += 1
    used[(key, float(lr))].add(s)
    return s


def _config(text, p, seed, cols, template, joint=None):
    """The reference trainer's ``config`` JSON of the template with the new LR and seed
    (and, for a new sweep, the new horizon or scale where it is a setting of its own);
    None when the new sweep's scale or horizon is not one (a new model size: its shape is
    the user's choice)."""
    if not isinstance(text, str) or not text.strip().startswith("{"):
        return None
    try:
        cfg = json.loads(text)
    except ValueError:
        return None
    cfg["lr"] = float(p["lr"])
    if seed is not None and "seed" in cfg:
        cfg["seed"] = int(seed)
    if joint is not None:
        if joint not in cfg:
            return None  # the batch size is not a setting of this config: the user's choice
        cfg[joint] = _as_type(cfg[joint], p[joint])
    for role in ("scale", "horizon"):
        col = cols.get(role)
        if col is None or role not in p or p[role] is None:
            continue
        if math.isclose(float(p[role]), float(template[col]), rel_tol=1e-9):
            continue
        if col not in cfg:
            return None
        cfg[col] = _as_type(cfg[col], p[role])
    return json.dumps(cfg)
