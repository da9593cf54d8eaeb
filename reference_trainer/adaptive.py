"""Adaptive sweeps: ``reference-trainer sweep --adaptive ROUNDS --budget K``.

Trains the grid it is given (or nothing, when the results file already holds runs), then
alternates: fit the results file and propose the ``K`` runs that shrink the target's
interval most per unit cost (``scalefit.next_runs``: docs/math.md section 10), train them
(``sweep.run``: batched on a GPU, resumable), until the target's interval spans less than
a factor ``--until`` or the rounds run out.

scalefit is an optional dependency of the trainer: it is imported here, inside the
functions of the adaptive path only, never at module level, so ``reference_trainer``
imports and trains without it. A library call rather than the ``scalefit`` command in a
subprocess: the proposals come back as a table (the ``config`` JSON of each run), not as
text to parse, and the fit runs in this process with no second interpreter start per
round. Which runs are *sweeps* is read from the rows' ``config``: every setting that
varies between runs of one (n_params, tokens) cell, other than ``lr`` and ``seed``, is a
``--by`` column (``param`` is the row's ``parameterization``).

The decisions depend only on the results file, so a killed adaptive sweep restarted with
the same command continues from what the file holds (ROUNDS more rounds).
"""

from __future__ import annotations

import io
import json
import math

from . import sweep
from .config import RunConfig
from .results import ResultsFile, RowError, config_of
from .runtime import log

BY_COLUMN = {"param": "parameterization"}
NUMBERS = ("n_params", "tokens", "lr", "val_loss", "batch_size")  # what the fit reads


def _scalefit():
    try:
        import pandas as pd

        from scalefit import next_runs
    except ImportError as e:
        raise ValueError(f"--adaptive needs scalefit ({e}); install it beside the trainer: "
                         "pip install -e .") from None
    return pd, next_runs


def read_results(out, pd):
    """The results table at `out` (whole rows: a torn last line is left out), each row's
    config and line number. A row that cannot be read, a config that is not a JSON
    object, or a number column holding something else raises `results.RowError`."""
    rf = ResultsFile(out)
    numbered = rf.numbered_rows()
    for n, r in numbered:
        for col in NUMBERS:
            v = r.get(col, "").strip()
            try:
                float(v or "nan")
            except ValueError:
                raise RowError(out, n, f"column {col!r}: {v!r} is not a number") from None
    cfgs = [config_of(out, n, r.get("config", "")) for n, r in numbered]
    df = pd.read_csv(io.BytesIO(rf.whole_bytes()))
    return df, cfgs, [n for n, _ in numbered]


def sweep_columns(df, cfgs: list[dict]) -> list[str]:
    """The ``--by`` columns of a results table: the settings that vary within a cell."""
    if not cfgs:
        return []
    cells: dict = {}
    for cfg, n, t in zip(cfgs, df["n_params"], df["tokens"]):
        cells.setdefault((n, t), []).append(cfg)
    varying = set()
    for rows in cells.values():
        keys = set().union(*rows)
        for k in keys - {"lr", "seed"}:
            if len({json.dumps(r.get(k)) for r in rows}) > 1:
                varying.add(k)
    return sorted(varying)


def with_by_columns(df, cfgs: list[dict], fields: list[str]):
    """``df`` with a column per varying setting (the row's own column where it has one)."""
    cols = []
    for f in fields:
        col = BY_COLUMN.get(f, f)
        if col not in df.columns:
            df = df.assign(**{col: [c.get(f) for c in cfgs]})
        cols.append(col)
    return df, cols


def propose(out, budget: int, target_scale=None, target_horizon=None, seed: int = 0,
            joint: str | None = None):
    """(fit, proposals, configs of the runs to train, lines about runs left out).
    ``joint``: a setting swept with the LR (``batch_size``): LR x setting surfaces, each
    proposed run a cell (``scalefit next --joint``)."""
    pd, next_runs = _scalefit()
    df, rows, lines = read_results(out, pd)
    df, by = with_by_columns(df, rows, [f for f in sweep_columns(df, rows) if f != joint])
    extra = {"joint": BY_COLUMN.get(joint, joint)} if joint else {}
    res, props, todo = next_runs(df, budget, target_scale=target_scale,
                                 target_horizon=target_horizon, by=by, source=str(out),
                                 seed=seed, **extra)
    cfgs, skipped = [], []
    for i, row in todo.iterrows():
        text = row.get("config")
        if not isinstance(text, str) or not text.strip():
            cfg = _new_scale(row, df, props.runs.iloc[i], rows, lines, out)
            if cfg is None:
                skipped.append(f"{row.get('proposal_reason')}: no model shape for it")
                continue
            if joint:  # a new surface's cell: its own value of the joint setting
                value = float(props.runs.iloc[i][extra["joint"]])
                whole = isinstance(getattr(cfg, joint), int)
                cfg = cfg.replace(**{joint: int(round(value)) if whole else value})
        else:
            cfg = _run_config(json.loads(text), out, f"proposed run {i + 1}")
        cfgs.append(cfg)
    return res, props, cfgs, skipped


def _run_config(settings: dict, out, what: str) -> RunConfig:
    """The run of a config read from `out`; a config this trainer cannot run is one line
    naming the file and `what` (a row's line, or the proposal)."""
    try:
        return RunConfig(**settings)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{out}, {what}: column 'config' is not a run of this trainer "
                         f"({e})") from None


def _new_scale(row, df, p, rows: list[dict], lines: list[int], out):
    """A run of a new sweep at a new scale: the template's shape with the width whose
    non-embedding parameter count is nearest the proposed scale (depth kept). `rows`,
    `lines`: the config and line number of each row of `df`, read from `out`."""
    from .build import non_embedding_params

    same = df[df["parameterization"] == row.get("parameterization")] if \
        "parameterization" in df else df
    if same.empty or "scale" not in p or p["scale"] is None:
        return None
    first = same.index[0]
    base = _run_config(rows[first], out, f"line {lines[first]}")
    step = base.n_heads or base.head_dim
    best = None
    for w in range(step, 64 * base.width + 1, step):
        try:
            cfg = base.replace(width=w, lr=float(p["lr"]))
        except ValueError:
            continue
        d = abs(math.log(non_embedding_params(cfg) / float(p["scale"])))
        if best is None or d < best[0]:
            best = (d, cfg)
    if best is None:
        return None
    cfg = best[1]
    if "horizon" in p and p["horizon"] is not None:
        cfg = cfg.replace(tokens=int(round(float(p["horizon"]))))
    return cfg


def interval_factor(props) -> float:
    """The widest target interval as hi / lo (inf when a target has none)."""
    worst = 1.0
    targets = [t for t in props.targets if t["target"] == "law"] or list(props.targets)
    if not targets:
        return math.inf
    for t in targets:
        ci = t.get("lr_ci")
        if not ci or ci[0] is None or ci[1] is None or not ci[0] > 0:
            return math.inf
        worst = max(worst, ci[1] / ci[0])
    return worst


def run_adaptive(runs: list[RunConfig], out, devices, rounds: int, budget: int,
                 until: float | None = None, target_scale=None, target_horizon=None,
                 joint: str | None = None, **sweep_options) -> dict:
    """Train ``runs`` (the starting grid; may be empty), then ``rounds`` rounds of
    propose-and-train (module docstring). Returns {"rounds", "trained", "factor",
    "stopped"}; progress and each round's proposals on stderr."""
    _scalefit()  # fail before training anything when scalefit is missing
    if not runs and not ResultsFile(out).run_ids():
        raise ValueError(f"--adaptive: {out} holds no runs and no grid was given: give a "
                         "starting grid (--lrs, --widths, ... or --config, --from-csv)")
    trained = 0
    if runs:
        c = sweep.run(runs, out, devices, **sweep_options)
        trained += c["ok"] + c["diverged"]
    stopped, factor, done = "rounds", math.inf, 0
    for rnd in range(1, rounds + 1):
        res, props, cfgs, skipped = propose(out, budget, target_scale, target_horizon, joint=joint)
        factor = interval_factor(props)
        log(f"adaptive round {rnd}/{rounds}: target interval spans x{factor:.3g}"
            + (f" (--until {until:g})" if until else ""))
        if until is not None and factor <= until:
            stopped = "until"
            break
        log(str(props.summary()))
        for s in skipped:
            log(f"  left out: {s}")
        if not cfgs:
            stopped = "nothing to propose"
            break
        c = sweep.run(cfgs, out, devices, **sweep_options)
        trained += c["ok"] + c["diverged"]
        done = rnd
        if c["ok"] + c["diverged"] == 0:
            stopped = "no new run"
            break
    else:
        res, props, _, _ = propose(out, budget, target_scale, target_horizon, joint=joint)
        factor = interval_factor(props)
    log(f"adaptive: {done} round(s), {trained} run(s) trained; target interval spans "
        f"x{factor:.3g}; stopped: {stopped}")
    return {"rounds": done, "trained": trained, "factor": factor, "stopped": stopped}
