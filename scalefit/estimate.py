"""A fit's estimates from its sweeps: the optima table with its intervals, the laws, transfer
quality and the resamples as the result keeps them (``estimate``).

The sweeps are resampled in blocks of whole ``by`` groups of about ``_BLOCK_RUNS`` runs
(each sweep draws from its own stream, so a block gives every sweep the resamples of one
pass over the table, to the bit). Each block's float64 resamples give its sweeps'
intervals, its groups' laws (``laws.LawFitter``) and their transfer measures
(``quality.TransferRun``) before the next block is drawn; the result then keeps them
compactly (``core.resamples.CompactDraws``), and conditional and loss laws keep no
coefficient draws (``laws.without_draws``) unless asked to. So a million runs need not
hold three (B, G) float64 arrays at once (1.1 GiB at 50,000 sweeps and 1,000
resamples), nor every law's draws. A table of one block (up to ``_BLOCK_RUNS`` runs, or
one ``by`` group) is fitted in one pass, as before blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.bootstrap import (
    BootSweeps,
    bootstrap_sweeps,
    bracket_draws,
    censored_interval,
    percentile_ci,
    sub_sweeps,
    tried_range,
)
from .core.optimum import STATUS_NAMES
from .core.resamples import CompactDraws, LawRule, level_dtype
from .laws import LawFitter, by_groups, check_fix_groups, without_draws
from .options import FitOptions
from .quality import TransferRun
from .results.quality import TransferQuality

# Blocks of whole by groups of about this many runs are resampled, and their laws and
# transfer measures computed, one after another (a group larger than that is a block).
_BLOCK_RUNS = 50_000
_DRAWS = ("x_opt", "loss_opt", "curvature")


def estimate(ss, opts: FitOptions, notes: list[str], quality: bool = True, flat_z=None,
             progress=None):
    """(optima table, laws, transfer quality or None, resamples or None) of the sweep set
    ``ss`` (point fit, noise and noise plan set; resampled here when ``opts.n_boot`` > 0).

    The resamples are those the laws used (no noise where none was measured, ``x_law``
    set as a rule); a fit without ``opts.joint`` keeps those of ``_DRAWS`` compactly
    (``CompactDraws``; the joint fit reads them in float64 after this). ``quality``:
    also transfer quality and the conditional and loss laws."""
    ci, plan, point, sw = opts.ci, ss.plan, ss.point, ss.sweeps
    optima = _optima_table(ss.groups, sw, point, list(ss.per_sweep))
    if ss.noise is not None:
        optima["noise_ratio"] = ss.noise.ratio
        optima["aberrant"] = ss.noise.aberrant
        optima["flat_z"] = flat_z if flat_z is not None else np.nan
    resample = opts.n_boot > 0 and plan is not None
    rule = None
    if plan is not None:
        optima["boot_kind"] = plan["kind"]
    if resample:
        rule = _law_rule(optima, point, sw, opts.seed, opts.n_boot)
    by = list(ss.by)
    check_fix_groups(opts.fix_dict, optima, by)
    fitter = LawFitter(by, opts.include, ci, notes, extra=quality, fix=opts.fix_dict)
    run = TransferRun(optima, by, ci, opts.reference) if by and quality else None
    measure = run is not None and run.result is None  # None: no groups, finish() says so
    blocks = _blocks(optima, by, sw, run if measure else None) if resample else [(None, None)]
    G = len(optima)
    raw = {k: np.full((2, G), np.nan) for k in _DRAWS}
    valid = np.full(G, np.nan)
    kept = _Kept(opts.n_boot, sw, compact=opts.joint is None) if resample else None
    ref_done = False
    for k, (cols, labels) in enumerate(blocks):
        local = None
        if cols is None:  # one block: the whole table
            sub, bb = optima, None
            if resample:
                bb = _block_boot(ss, None, opts, rule, _part(progress, k, len(blocks)))
        else:
            local = np.full(G, -1, np.int64)
            local[cols] = np.arange(len(cols))
            sub = optima.iloc[cols].set_axis(pd.RangeIndex(len(cols)))
            bb = _block_boot(ss, cols, opts, rule, _part(progress, k, len(blocks)))
        where = slice(None) if cols is None else cols
        if bb is not None:
            for name in _DRAWS:
                raw[name][:, where] = percentile_ci(bb.columns(name, slice(None)), ci)
            valid[where] = np.isfinite(bb.columns("x_opt", slice(None))).mean(0)
        start = len(fitter.laws)
        fitter.add(sub, bb)
        fitter.flush()
        if measure:
            if not ref_done:
                _reference_draws(run, ss, opts, rule, bb, cols, local)
                ref_done = True
            run.add(list(run.labels) if labels is None else labels, bb,
                    fitter.laws[start:], local)
        if not opts.keep_draws:
            fitter.laws[start:] = [without_draws(law) for law in fitter.laws[start:]]
        if kept is not None:
            kept.put(where, bb, point)
        del bb, sub
    laws = fitter.finish()
    _set_intervals(optima, point, sw, raw, valid)
    out_quality = None if run is None else TransferQuality(**run.finish(), level=ci)
    boot = kept.boot(rule, sw) if kept is not None else None
    return optima, laws, out_quality, boot


def _part(progress, k: int, n: int):
    """The progress callback of block ``k`` of ``n`` (each block counts as one pass)."""
    if progress is None or n == 1:
        return progress
    return lambda done, total: progress(k * total + done, n * total)


def _blocks(optima: pd.DataFrame, by: list[str], sw, run) -> list:
    """[(columns (ascending), transfer labels)] of blocks of whole ``by`` groups in group
    order, each of about ``_BLOCK_RUNS`` runs; [(None, None)]: one block (the table)."""
    if not by or sw.run_cluster is not None or len(sw.run_group) <= _BLOCK_RUNS:
        return [(None, None)]  # clusters span sweeps: resampled together
    size = sw.group_size
    blocks, cur, runs = [], [], 0
    for _, rows in by_groups(optima, by):
        idx = rows.index.to_numpy()
        if cur and runs + int(size[idx].sum()) > _BLOCK_RUNS:
            blocks.append(np.sort(np.concatenate(cur)))
            cur, runs = [], 0
        cur.append(idx)
        runs += int(size[idx].sum())
    if cur:
        blocks.append(np.sort(np.concatenate(cur)))
    if len(blocks) == 1:
        return [(None, None)]
    block_of = np.full(len(optima), -1, np.int64)
    for i, cols in enumerate(blocks):
        block_of[cols] = i
    if (block_of < 0).any():  # a row in no group (not expected): one block
        return [(None, None)]
    labels: list[list] = [[] for _ in blocks]
    if run is not None:
        for lab in run.labels:
            owner = np.unique(block_of[run.rows(lab)])
            if owner.size != 1:  # a transfer group across blocks (not expected): one block
                return [(None, None)]
            labels[int(owner[0])].append(lab)
    return list(zip(blocks, labels))


def _block_boot(ss, cols, opts: FitOptions, rule: LawRule, progress) -> BootSweeps:
    """The float64 resamples of the sweeps ``cols`` (None: all), as the laws read them:
    no noise where none was measured (NaN, best level -1), ``x_law`` set by ``rule``."""
    sw, plan = ss.sweeps, ss.plan
    if cols is None:
        part, sd, known = sw, plan["sd"], plan["known"]
    else:
        part, _ = sub_sweeps(sw, cols)
        sd, known, rule = plan["sd"][cols], plan["known"][cols], rule.subset(cols)
    boot = bootstrap_sweeps(part, opts.n_boot, opts.seed, opts.window, progress, sd)
    unknown = ~known
    if unknown.any():  # in place: the arrays are this block's own
        for k in _DRAWS:
            getattr(boot, k)[:, unknown] = np.nan
        boot.best_level[:, unknown] = -1  # x_best NaN
    return boot.replace(law_rule=rule)


def _reference_draws(run: TransferRun, ss, opts, rule, bb, cols, local) -> None:
    """Give transfer quality its reference's resamples before the first group is measured:
    from this block when the reference's series is in it, else resampled on their own
    (the same draws its own block gives them)."""
    rows = run.series[run.ref].index.to_numpy()
    if bb is None or cols is None:
        run.reference_draws(bb, rows)
    elif (local[rows] >= 0).all():
        run.reference_draws(bb, local[rows])
    else:
        run.reference_draws(_block_boot(ss, rows, opts, rule, None), np.arange(rows.size))


class _Kept:
    """The resamples the result keeps, filled block by block: ``x_opt``, ``loss_opt`` and
    ``curvature`` (as ``CompactDraws`` around the point fit where ``compact``, else
    float64), and the best levels."""

    def __init__(self, n_boot: int, sw, compact: bool):
        G, J = sw.x.shape
        self.draws = {k: (CompactDraws.empty(n_boot, G) if compact
                          else np.empty((n_boot, G))) for k in _DRAWS}
        self.best = np.empty((n_boot, G), level_dtype(J))

    def put(self, cols, bb: BootSweeps, point) -> None:
        for k, kept in self.draws.items():
            v = bb.columns(k, slice(None))
            if isinstance(kept, CompactDraws):
                kept.put(cols, v, getattr(point, k)[cols])
            else:
                kept[:, cols] = v
        self.best[:, cols] = bb.best_level

    def boot(self, rule: LawRule, sw) -> BootSweeps:
        return BootSweeps(**self.draws, best_level=self.best, levels=sw.x, law_rule=rule)


def _optima_table(groups: pd.DataFrame, sw, point, per_sweep: list[dict]) -> pd.DataFrame:
    """One row per sweep: keys, optimum, curvature and their intervals, status, counts.

    Row j is column j of the resample arrays (the index is 0..G-1). The intervals are
    NaN here; ``_set_intervals`` sets them from the resamples."""
    df = groups.copy()
    G = len(df)
    ok = point.status == 0
    brk = point.status == STATUS_NAMES.index("div_bracketed")
    x_min, x_max = tried_range(sw.x)  # the lowest and highest ln lr tried
    df["lr_opt"] = np.exp(np.where(ok, point.x_opt, np.where(brk, point.x_best, np.nan)))
    df["loss_opt"] = np.where(ok, point.loss_opt, np.nan)
    df["curvature"] = np.where(ok, point.curvature, np.nan)
    for c in ("lr_opt_lo", "lr_opt_hi", "lr_opt_ci_open", "loss_opt_lo", "loss_opt_hi",
              "curvature_lo", "curvature_hi"):
        df[c] = np.nan  # placeholders (the columns' order)
    df["lr_best"] = np.exp(point.x_best)
    df["loss_best"] = point.loss_best
    df["status"] = [STATUS_NAMES[c] for c in point.status]
    df["n_window"] = point.n_window.astype(int)
    df["n_lrs"] = np.isfinite(sw.x).sum(1)
    df["fit_rmse"] = point.rmse
    df["misfit"] = point.misfit
    df["lr_window_lo"], df["lr_window_hi"] = np.exp(point.x_window)
    df["lr_tried_lo"], df["lr_tried_hi"] = np.exp(x_min), np.exp(x_max)
    df["lr_diverged"] = _lowest_diverged(per_sweep, df["lr_opt"].fillna(df["lr_best"]))
    df["boot_valid"] = np.full(G, np.nan)
    return df


def _set_intervals(df: pd.DataFrame, point, sw, raw: dict, valid: np.ndarray) -> None:
    """The optima table's intervals from the percentile intervals of the resamples
    (``raw``: (2, G) of each of x_opt, loss_opt, curvature; NaN without resamples) and
    ``boot_valid``. An optimum interval that runs off the tried LRs is open-ended there
    (``lr_opt_ci_open``)."""
    ok = point.status == 0
    brk = point.status == STATUS_NAMES.index("div_bracketed")
    x_min, x_max = tried_range(sw.x)  # the lowest and highest ln lr tried
    x_ci, open_ = censored_interval(np.where(ok, raw["x_opt"], np.nan), x_min, x_max)
    if point.bracket is not None:
        x_ci = np.where(brk, point.bracket, x_ci)
    df["lr_opt_lo"], df["lr_opt_hi"] = np.exp(x_ci[0]), np.exp(x_ci[1])
    df["lr_opt_ci_open"] = np.where(ok, open_, "")
    df["loss_opt_lo"], df["loss_opt_hi"] = np.where(ok, raw["loss_opt"], np.nan)
    df["curvature_lo"], df["curvature_hi"] = np.where(ok, raw["curvature"], np.nan)
    df["boot_valid"] = valid


def _lowest_diverged(per_sweep: list[dict], ref: pd.Series) -> np.ndarray:
    """Per sweep, the lowest LR above ``ref`` (its optimum) at which a run diverged."""
    out = np.full(len(per_sweep), np.nan)
    for j, (r, x) in enumerate(zip(per_sweep, ref.to_numpy(float))):
        lr = np.asarray(r["lr"], float)
        div = lr[~np.isfinite(np.asarray(r["loss"], float)) & (lr > x)]
        if div.size:
            out[j] = div.min()
    return out


def _law_rule(optima: pd.DataFrame, point, sw, seed: int, n_boot: int) -> LawRule:
    """How ``x_law`` (ln lr_opt per sweep and resample as the laws use it) is made.

    ok sweeps: the resampled vertex clamped to the LRs the sweep tried (a law cannot learn
    from a vertex the grid does not show; this makes law intervals conservative near the
    grid's edges); div_bracketed: uniform over the bracket; others: the best LR of the
    resample. Sweeps with no measured noise stay NaN.

    ``x_law`` is a rule (``core.resamples.LawRule``) that makes the columns a reader asks
    for from ``x_opt`` and the resamples' best levels: at 50,000 sweeps a stored (B, G)
    array would be 400 MB. Only the bracket draws of ``div_bracketed`` sweeps are stored
    ((B, number of such sweeps)).
    """
    x_min = np.log(optima["lr_tried_lo"].to_numpy(float))
    x_max = np.log(optima["lr_tried_hi"].to_numpy(float))
    st = optima["status"].to_numpy()
    kind = np.where(st == "ok", LawRule.CLAMP, LawRule.BEST).astype(np.int8)
    bracket = pos = None
    brk = np.flatnonzero(st == "div_bracketed")
    if brk.size and point.bracket is not None:
        kind[brk] = LawRule.BRACKET
        bracket = bracket_draws(point.bracket[0], point.bracket[1], n_boot, seed, sw,
                                cols=brk)
        pos = np.full(st.size, -1, np.int64)
        pos[brk] = np.arange(brk.size)
    return LawRule(kind=kind, x_min=x_min, x_max=x_max, bracket=bracket, bracket_pos=pos)
