"""Runs -> sweeps: the table edge's last step before the numeric core.

Runs sharing every ``by`` column, the scale and the horizon make a sweep (``sweep_set``
builds them, with ``_factorize`` here). ``pooling_hints`` names text and numeric
columns that vary within a sweep without being ``--by`` columns (a likely forgotten
``--by``).
``mark_divergence`` applies the blow-up rule (or ``--diverged-above``) before grouping.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .column_names import last_part
from .core.defaults import BLOWUP  # noqa: F401 (re-exported)
from .errors import ScalefitInputError
from .render.format import fmt, name_list
from .table import RunTable, normalize_name

# Where-and-with-what columns of the reference trainer's rows: they may differ within a
# sweep (a sweep extended later, on another machine) without being experimental factors.
PROVENANCE = {"git_rev": "code revisions", "torch_version": "torch versions",
              "device": "devices"}
# Numeric columns that differ between runs of one sweep without being a factor: name
# parts (split at '_') of replicate labels, outcomes and measurements of the run.
REPLICATE_PARTS = {"seed", "seeds", "rep", "reps", "repeat", "replicate", "replica", "trial",
                   "run", "id", "idx", "index", "fold", "sample"}
OUTCOME_PARTS = {"loss", "losses", "ppl", "perplexity", "acc", "accuracy", "score", "nll",
                 "bpb", "bpc", "reward", "step", "steps", "iter", "iters", "iteration", "time",
                 "wall", "seconds", "sec", "secs", "duration", "runtime", "elapsed",
                 "throughput", "tokens_per_s", "tps", "mfu", "flops", "memory", "mem", "hours",
                 "s"}
ONE_LINE = 3  # more pooled columns than this are named in one warning
# The reference trainer's results rows (docs/trainer.md, "Results row") are recognised by
# these columns; its arms are the settings below that differ between the runs of one scale
# and horizon (taken in this order, each only if it still differs within the groups of
# the ones before: the LR multipliers and inits follow from the parameterization).
TRAINER_COLUMNS = frozenset({"run_id", "parameterization", "config", "n_params", "tokens",
                             "lr", "val_loss"})
TRAINER_ARMS = ("parameterization", "weight_decay", "wd_mode", "wd_transfer", "batch_size",
                "seq_len", "schedule", "warmup_tokens", "min_lr_frac", "grad_clip", "data",
                "norm", "pos", "base_width")


BRANCH_COLUMN = "branch_of"  # the reference trainer's column: the stable run of a WSD branch


def branch_clusters(runs: RunTable, column: str | None = None
                    ) -> tuple[np.ndarray | None, str | None]:
    """(the resampling unit (R,) of every run of ``runs``, a note), or (None, None) when
    no two finished runs share a stable run. ``column`` (default: ``branch_of`` when the
    table has it) names each run's stable run: runs with equal values are branches of one
    run (WSD cooldowns at several horizons), not independent runs; a blank is a run of
    its own."""
    raw = runs.raw
    if raw is None or (column is None and BRANCH_COLUMN not in raw.columns):
        return None, None
    col = column or BRANCH_COLUMN
    if col not in raw.columns:
        raise ScalefitInputError(f"{runs.source}: column {col!r} (given for --branch-of) not "
                                 "found")
    text = raw[col].astype(str).str.strip()
    blank = (raw[col].isna() | (text == "")).to_numpy()
    codes = pd.factorize(text.where(~blank, None))[0].astype(np.int64)
    codes[blank] = codes.max(initial=-1) + 1 + np.arange(int(blank.sum()))
    finished = ~runs.data["diverged"].to_numpy(bool)
    size = np.bincount(codes[finished], minlength=int(codes.max(initial=-1)) + 1)
    shared = size >= 2
    if not shared.any():
        return None, None
    note = (f"branches: {int(size[shared].sum())} runs are branches of {int(shared.sum())} "
            f"stable runs (column {col}; WSD cooldowns at several horizons): the bootstrap "
            "resamples each stable run with all its branches as one unit (a cluster "
            "bootstrap across sweeps), not its branches as independent runs")
    return codes, note


def flat_sweeps(per_sweep: list[dict]) -> np.ndarray:
    """(G,) bool: sweeps whose finite losses, at 2 or more LRs, are all the same (to 1e-9)."""
    out = np.zeros(len(per_sweep), dtype=bool)
    for j, r in enumerate(per_sweep):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        ok = np.isfinite(loss)
        if np.unique(lr[ok]).size >= 2:
            out[j] = np.ptp(loss[ok]) <= 1e-9 * max(1.0, float(np.abs(loss[ok]).max()))
    return out


def peaked_sweeps(per_sweep: list[dict]) -> np.ndarray:
    """(G,) bool: sweeps of 3 or more LRs whose mean loss is highest at an inner LR and
    lowest at an end of the grid (a maximum inside: a metric where higher is better?)."""
    out = np.zeros(len(per_sweep), dtype=bool)
    for j, r in enumerate(per_sweep):
        lr, loss = np.asarray(r["lr"], float), np.asarray(r["loss"], float)
        ok = np.isfinite(loss)
        levels, inv = np.unique(lr[ok], return_inverse=True)
        if levels.size < 3:
            continue
        means = np.bincount(inv, loss[ok]) / np.bincount(inv)
        out[j] = (0 < int(np.argmax(means)) < levels.size - 1
                  and int(np.argmin(means)) in (0, levels.size - 1))
    return out


def _factorize(df: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group ids in sorted key order and the table of unique keys."""
    sub = df[keys]
    uniques = sub.drop_duplicates()
    try:
        uniques = uniques.sort_values(keys, kind="mergesort")
    except TypeError:  # mixed label types in a by column: sort by their text
        uniques = uniques.sort_values(keys, key=lambda c: c.astype(str), kind="mergesort")
    uniques = uniques.reset_index(drop=True)
    index = pd.MultiIndex.from_frame(uniques.astype(object))
    gid = index.get_indexer(pd.MultiIndex.from_frame(sub.astype(object)))
    return gid.astype(np.int64), uniques


def trainer_arms(df: pd.DataFrame, keys=("n_params", "tokens"), joint=None) -> tuple:
    """The columns that define the arms of a reference-trainer results table (see
    ``TRAINER_ARMS``), () for any other table. ``keys``: the scale and horizon columns;
    ``joint``: a column swept with the LR (its sweeps are split by it already, and what
    follows from it, such as the warmup in tokens at each batch size, is no arm)."""
    if not TRAINER_COLUMNS <= set(map(str, df.columns)):
        return ()
    keys = [k for k in (*keys, joint) if k is not None and k in df.columns]
    chosen: list[str] = []
    for col in TRAINER_ARMS:
        if col == joint or col not in df.columns:
            continue
        by = [df[k] for k in keys + chosen]
        varies = (df[col].nunique(dropna=False) > 1 if not by else
                  bool((df[col].groupby(by, dropna=False).nunique(dropna=False) > 1).any()))
        if varies:
            chosen.append(col)
    return tuple(chosen)


def pooling_hints(runs: RunTable, branch_of: str | None = None) -> list[str]:
    """Columns that vary within a sweep but are not --by columns (likely a forgotten --by).

    Runs that differ in such a column (e.g. parameterization, batch size) are pooled into
    one sweep. Text columns and numeric ones (not booleans) with 2 to 20 values count;
    ignored: columns with a value per run (run names), the role, by and status columns,
    the column naming each run's stable run (``branch_of``, or the one given: it varies
    within a sweep by design, and the bootstrap reads it),
    and numeric columns that are replicate labels (seed, rep, trial, run, id, ...),
    outcomes or measurements of the run (losses, steps, times, throughput, ...) or a
    function of the LR within every sweep (one value per LR: derived from it).
    """
    df = runs.raw
    if df is None:
        return []
    cols = runs.columns
    used = {c for c in cols.values() if c} | set(runs.by) | {branch_of or BRANCH_COLUMN}
    keys = [cols[r] for r in ("scale", "horizon") if cols.get(r)] + list(runs.by)
    hints, pooled = [], []
    for col in df.columns:
        if col in used or str(col).startswith("_"):
            continue
        values = df[col]
        if col == "device":  # the trainer's "cpu batch16", "cuda:0 x8": the same device
            values = values.astype(str).str.replace(r" (batch|x)\d+$", "", regex=True)
        numeric = (pd.api.types.is_numeric_dtype(values)
                   and not pd.api.types.is_bool_dtype(values))
        if numeric and not _factor_like(col):
            continue
        n = values.nunique(dropna=True)
        if not 2 <= n <= 20 or n > len(df) / 2:
            continue
        varies = (values.nunique() > 1 if not keys
                  else bool((values.groupby([df[k] for k in keys], dropna=False).nunique()
                             > 1).any()))
        if varies and numeric and cols.get("lr"):
            varies = not _follows_lr(df, keys, cols["lr"], col)
        if varies:
            order = sorted(values.dropna().unique(), key=float if numeric else str)
            shown = ", ".join(fmt(v) if numeric else str(v) for v in order[:5])
            what = f"column {col!r} ({n} values: {shown}{', ...' if n > 5 else ''})"
            if col in PROVENANCE:
                hints.append(f"{what} differs within sweeps: runs from different "
                             f"{PROVENANCE[col]} are pooled (as when a sweep was extended "
                             "later); check that nothing that changes results differs")
            else:
                pooled.append((col, what, numeric))
    return hints + _role_hints(pooled, cols) + _pooled_hints(_explained(df, keys, pooled))


NEAR_LEVELS = 0.01  # scale or horizon values closer than this (relative) look like one level


def near_level_hints(runs: RunTable) -> list[str]:
    """Scale or horizon values within ``NEAR_LEVELS`` (relative) of a neighbouring value
    where that splits sweeps: every distinct value is its own sweep, so runs of one
    horizon whose token counts differ a little (counted per run, a run stopped early)
    become sweeps of one or two LRs. One hint per role, when a sweep at such a value has
    fewer than 3 distinct LRs (distinct models of nearly equal size, each with its own
    sweep, are not flagged)."""
    out = []
    df = runs.data
    for role in ("scale", "horizon"):
        col = runs.columns.get(role)
        if not col or role not in df:
            continue
        v = df[role].to_numpy(float)
        u = np.unique(v[np.isfinite(v) & (v > 0)])
        close = np.flatnonzero(u[1:] / u[:-1] - 1 < NEAR_LEVELS) if u.size > 1 else []
        if not len(close):
            continue
        near = np.isin(v, np.union1d(u[close], u[close + 1]))
        keys = [k for k in ("scale", "horizon") if k in df] + list(runs.by)
        lrs = df[near].groupby(keys, dropna=False)["lr"].nunique()
        small = int((lrs < 3).sum())
        if not small:
            continue
        a, b = u[close[0]], u[close[0] + 1]
        out.append(f"{role} column {col!r}: {close.size + 1 if close.size == 1 else 'several'} "
                   f"values lie within {NEAR_LEVELS:.0%} of a neighbour (e.g. {a:.8g} and "
                   f"{b:.8g}) and {small} sweep(s) at them have fewer than 3 LRs: each "
                   f"distinct value is a sweep of its own; if they are one {role} (counted "
                   f"per run, or a run stopped early), write one value per {role} (e.g. the "
                   "planned one) or round the column")
    return out


# Name parts of a replicate label (a run of the same settings again).
SEED_PARTS = {"seed", "seeds", "rep", "reps", "repeat", "replicate", "replica", "trial"}
# Names of a training-progress column (its last namespace part): when it differs between
# rows of one run, the rows are checkpoints of a history, not runs.
STEP_NAMES = frozenset({"step", "steps", "global_step", "train_step", "iteration",
                        "iterations", "iter", "iters", "epoch", "epochs", "checkpoint", "ckpt",
                        "tokens_seen", "trainer_global_step"})


def history_hints(runs: RunTable) -> list[str]:
    """A step-like column that differs between rows of the same sweep, LR and replicate
    label (seed, ...): the table holds training histories, whose checkpoints would be
    read as replicate runs (too many runs, a bootstrap of rows that are not independent).
    """
    df = runs.raw
    if df is None or not runs.columns.get("lr"):
        return []
    roles = {c for r, c in runs.columns.items() if c and r != "loss"}
    reps = [c for c in df.columns if c not in roles and c not in runs.by
            and set(normalize_name(c).split("_")) & SEED_PARTS]
    keys = [c for c in df.columns if c in roles] + list(runs.by) + reps
    for col in df.columns:
        if col in keys or col in runs.columns.values() or last_part(col) not in STEP_NAMES:
            continue
        if not (df[col].groupby([df[k] for k in keys], dropna=False).nunique() > 1).any():
            continue
        same = "the same LR" + "".join(f" and {r}" for r in reps)
        vals = ", ".join(f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)
                         for v in sorted(pd.unique(df[col].dropna()))[:3])
        return [f"column {col!r} differs between rows of one sweep with {same} ({vals}, "
                "...): the table looks like training histories, and each row is read as a "
                "run's final loss, so checkpoints count as replicate runs; keep each run's "
                "last row (or fit whole curves with 'scalefit curve')"]
    return []


# Name parts of a column that looks like the scale or the horizon (when no column took
# that role): the remedy is --scale / --horizon, not --by.
ROLE_PARTS = {"scale": {"param", "params", "parameters", "size", "width", "d_model", "model",
                        "n_embd", "hidden", "nparams"},
              "horizon": {"token", "tokens", "horizon", "data", "d", "budget"}}


def _role_hints(pooled: list, cols: dict) -> list[str]:
    """A pooled numeric column that looks like a missing scale or horizon column: one
    warning naming --scale / --horizon (quoted as a shell needs); it leaves `pooled`."""
    import shlex

    out = []
    for item in list(pooled):
        col, what, numeric = item
        words = set(normalize_name(col).split("_")) | {normalize_name(col)}
        role = next((r for r, parts in ROLE_PARTS.items()
                     if numeric and not cols.get(r) and words & parts), None)
        if role:
            pooled.remove(item)
            out.append(f"{what} varies within sweeps and looks like the {role}, which no "
                       f"column was taken as; its runs are pooled: add --{role} "
                       f"{shlex.quote(str(col))} if it is the {role}, or --by "
                       f"{shlex.quote(str(col))} if it is a factor")
    return out


def _explained(df: pd.DataFrame, keys: list, pooled: list) -> list[tuple]:
    """`pooled` with the column that explains others (they are constant within its
    groups: the LR multipliers of a parameterization) named once, with its followers."""
    if not 2 <= len(pooled) <= 12:  # beyond that the warning is one line anyway
        return [(c, w, ()) for c, w, _ in pooled]
    names = [c for c, _, _ in pooled]
    numeric = {c: n for c, _, n in pooled}

    def followers(x):
        by = [df[k] for k in keys] + [df[x]]
        return tuple(y for y in names if y != x and
                     (df[y].groupby(by, dropna=False).nunique(dropna=False) <= 1).all())

    follow = {x: followers(x) for x in names}
    # most followers; then a text column (a label such as a parameterization); then fewer values
    best = max(names, key=lambda x: (len(follow[x]), not numeric[x], -df[x].nunique()))
    found = follow[best]
    if not found:
        return [(c, w, ()) for c, w, _ in pooled]
    return [(c, w, found if c == best else ()) for c, w, _ in pooled if c not in found]


def _pooled_hints(pooled: list[tuple]) -> list[str]:
    """One line per pooled column, or one line for them all when there are more than
    ``ONE_LINE`` (10,000 varying text columns are one warning, not 10,000). A column that
    explains others names them, and they get no line of their own."""
    import shlex

    if len(pooled) <= ONE_LINE:
        out = []
        for col, what, follow in pooled:
            also = (f" ({name_list(list(follow), limit=4, quoted=True)} vary with it)"
                    if follow else "")
            out.append(f"{what} varies within sweeps but is not a --by column, so its runs "
                       f"are pooled{also}; add --by {shlex.quote(str(col))} if they are "
                       "different sweeps")
        return out
    names = name_list([c for c, *_ in pooled], limit=5, quoted=True)
    return [f"{len(pooled)} columns vary within sweeps but are not --by columns, so their runs "
            f"are pooled ({names}); add --by COL for those that make different sweeps"]


def duplicate_runs(runs: RunTable, gid: np.ndarray | None = None) -> str | None:
    """A note when finite runs repeat another run of their sweep exactly (same LR, same
    loss to the last digit) in more than 10% of its runs: copies counted as replicates make
    an interval too narrow. gid: (R,) each row's sweep, when known."""
    finite = ~runs.data["diverged"].to_numpy(bool)
    df = runs.data[finite]
    keys = list(runs.by) + [r for r in ("scale", "horizon") if r in df.columns]
    dup = df.duplicated(keys + ["lr", "loss"], keep="first").to_numpy()
    if not dup.any():
        return None
    # a coincidence of rounded losses is one repeat among many runs; copies are more
    if gid is not None:
        gid = np.asarray(gid)[finite]
    else:
        gid = _factorize(df, keys)[0] if keys else np.zeros(len(df), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):  # sweeps without a finite run
        share = np.bincount(gid, weights=dup) / np.bincount(gid)
    flagged = (share > 0.1)[gid] & dup
    if not flagged.any():
        return None
    n_sweeps = np.unique(gid[flagged]).size
    return (f"{int(flagged.sum())} run(s) in {n_sweeps} sweep(s) repeat another run exactly (same "
            "LR and loss): they count as replicates with no noise and narrow the intervals; "
            "drop them if they are copies of one run")


def repeated_seed_runs(runs: RunTable) -> list[str]:
    """Rows equal to another row in every setting, the replicate label (seed, ...)
    included, but with a different result: one run logged twice (resumed, re-run, two
    exports joined), read as two replicates. Settings: every column but the loss and
    status, outcomes and measurements (``OUTCOME_PARTS``), provenance (``PROVENANCE``)
    and per-run labels (a value per row: run ids, names, times). One line naming the
    first pair of rows. Not asked of a table of histories (``history_hints`` says that
    once: its checkpoints would all match here)."""
    df = runs.raw
    if df is None or not runs.columns.get("lr"):
        return []
    skip = {runs.columns.get("loss"), runs.columns.get("status")} | set(PROVENANCE)
    reps = [c for c in df.columns if c not in skip and df[c].notna().all()
            and set(last_part(c).split("_")) & SEED_PARTS]
    if not reps:
        return []
    keys = [c for c in df.columns if c not in skip
            and (c in reps or c in runs.columns.values() or c in runs.by
                 or (not set(normalize_name(c).split("_")) & OUTCOME_PARTS
                     and df[c].nunique(dropna=False) < len(df)))]
    plain = df[keys]
    plain.attrs = {}  # the reader's (R,) arrays: pandas compares attrs when it combines
    plain = plain.astype({c: str for c in keys if df[c].dtype == object})
    dup = plain.duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    ids = plain.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    pos = np.flatnonzero(ids == ids[int(np.argmax(dup))])[:2]
    where = ([int(runs.rows[p]) for p in pos] if runs.rows is not None
             else [int(p) + 1 for p in pos])
    return [f"{int(dup.sum())} rows equal another row in every setting, {', '.join(reps)} "
            f"included, but not in their result (e.g. rows {where[0]} and {where[1]}): one "
            "run logged twice (resumed, re-run, exports joined)? Each counts as a replicate; "
            f"keep one row per run, or give replicates their own {reps[0]}"]


def _follows_lr(df: pd.DataFrame, keys: list, lr: str, col) -> bool:
    """True when, in every sweep, ``col`` takes one value per LR and moves monotonically
    with it (a quantity derived from the LR, not a factor whose grid is interleaved)."""
    sub = df[[*keys, lr, col]].dropna()
    if sub.groupby([*keys, lr], dropna=False)[col].nunique().gt(1).any():
        return False
    first = sub.sort_values([*keys, lr], kind="mergesort").drop_duplicates([*keys, lr])
    for _, g in (first.groupby(keys, dropna=False) if keys else [(None, first)]):
        d = np.diff(g[col].to_numpy(float))
        if (d > 0).any() and (d < 0).any():
            return False
    return True


def _factor_like(col) -> bool:
    """A numeric column that could be an experimental factor (not a replicate label, an
    outcome or a measurement of the run, by the parts of its name)."""
    parts = set(normalize_name(col).split("_"))
    return not (parts & REPLICATE_PARTS or parts & OUTCOME_PARTS
                or "tokens_per_s" in normalize_name(col))


def mark_divergence(runs: RunTable, diverged_above: float | None = None,
                    blowup: float | None = BLOWUP, gid: np.ndarray | None = None) -> RunTable:
    """Runs that blew up but logged a finite loss, counted as diverged (docs/math.md).

    ``diverged_above`` (explicit): a run whose loss exceeds that multiple of its sweep's
    lowest loss is diverged, at any LR. Otherwise the automatic rule, unless ``blowup``
    is None: at an LR above the sweep's best (the LR with the lowest mean loss), a run
    whose loss exceeds ``blowup`` times that best mean loss is diverged (runs at higher
    LRs that stayed below it are kept: they measured the valley's wall). Sweeps whose best
    loss is not positive are left alone (a factor means nothing there). The returned
    table's notes say how many runs in how many sweeps were marked, and how to change it.
    gid: (R,) each row's sweep, when known (else factorized here).
    """
    if diverged_above is None and blowup is None:
        return runs
    factor = diverged_above if diverged_above is not None else blowup
    flag = "diverged_above" if diverged_above is not None else "blowup"
    df = runs.data.copy()
    if gid is None:
        keys = list(runs.by) + [r for r in ("scale", "horizon") if r in df.columns]
        gid = _factorize(df, keys)[0] if keys else np.zeros(len(df), dtype=np.int64)
    loss, lr = df["loss"].to_numpy(float), df["lr"].to_numpy(float)
    finite = np.isfinite(loss)
    if diverged_above is not None:
        best = pd.Series(loss).groupby(gid).transform("min").to_numpy()
        marked = finite & (loss > factor * best)
    else:
        best_lr, best = _best_levels(gid, lr, loss, finite)
        with np.errstate(invalid="ignore"):
            marked = finite & (lr > best_lr) & (best > 0) & (loss > factor * best)
    if not marked.any():
        return runs
    df.loc[marked, "loss"] = np.nan
    df["diverged"] = df["diverged"].to_numpy() | marked
    note = _marked_note(int(marked.sum()), int(np.unique(gid[marked]).size), factor, flag)
    return dataclasses.replace(runs, data=df, notes=(*runs.notes, note))


def _best_levels(gid, lr, loss, finite):
    """Per run, its sweep's best LR (the level with the lowest mean finite loss; the lowest
    LR wins ties) and that mean loss; NaN for a sweep without a finite run."""
    g, x, y = gid[finite], lr[finite], loss[finite]
    order = np.lexsort((x, g))
    g, x, y = g[order], x[order], y[order]
    new = np.r_[True, (g[1:] != g[:-1]) | (x[1:] != x[:-1])] if len(g) else np.zeros(0, bool)
    level = np.cumsum(new) - 1
    mean = np.bincount(level, weights=y) / np.bincount(level)
    lg, lx = g[new], x[new]
    first = np.lexsort((lx, mean, lg))
    first = first[np.r_[True, lg[first][1:] != lg[first][:-1]]] if len(first) else first
    G = int(gid.max()) + 1 if len(gid) else 0
    best_lr, best = np.full(G, np.nan), np.full(G, np.nan)
    best_lr[lg[first]], best[lg[first]] = lx[first], mean[first]
    return best_lr[gid], best[gid]


def _marked_note(n: int, sweeps: int, factor: float, flag: str) -> str:
    if flag == "diverged_above":
        return (f"{n} run(s) in {sweeps} sweep(s) with a loss above {factor:g} x their sweep's "
                "lowest loss counted as diverged (--diverged-above)")
    return (f"blow-up rule: {n} run(s) in {sweeps} sweep(s) counted as diverged: their loss is "
            f"above {factor:g} x their sweep's best mean loss, at an LR above the best "
            "(--blowup off keeps them, --blowup FACTOR changes the factor, --diverged-above X "
            "replaces the rule)")
