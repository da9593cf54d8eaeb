"""Tables of optima: laws from optimal LRs a user already has (a paper's table, no runs).

A table of optima has an optimum column (``lr_opt`` or an alias: ``lr_star``,
``optimal_lr``, ``best_lr``, ``lr*``, ...) and scale and/or horizon, and no loss column
(or ``optima=True``). Each row is one optimum. Optional: interval columns
(``lr_opt_lo``/``lr_opt_hi`` and aliases) at level ``level``, a curvature column and a
loss-at-optimum column; rows sharing (scale, horizon, by) are replicates of one point.

``load_optima`` returns the optima in the shape the pipeline's optima table has (one row
per point, status ``ok``) and their resamples as ``core.bootstrap.BootSweeps``, so that
the laws are fitted by the same code as for sweeps:

* a point with replicate rows: each resample draws its rows with replacement (the point
  is the mean of their ln lr_opt, i.e. the geometric mean of lr_opt);
* a row with an interval: ln lr_opt is normal with s.d. ``ln(hi / lo) / (2 z)``, ``z``
  the normal quantile of the level (1.96 at 95%), in every resample;
* a point with neither has no measured uncertainty: a law using it gets no interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

from .core.bootstrap import BootSweeps, percentile_ci
from .errors import ScalefitInputError
from .options import check
from .render.format import name_list, quote
from .table import (
    ALIASES,
    _duplicate_headers,
    _numeric,
    _plain_cells,
    _positive,
    nested_by,
    normalize_name,
    resolve_columns,
)

OPTIMUM_ALIASES = [["lr_opt"], ["lr_star", "optimal_lr", "best_lr", "lr_optimal", "opt_lr",
                                "optimum_lr", "lr_best", "optimal_learning_rate",
                                "best_learning_rate", "lr_opt_mean"]]
RAW_OPTIMUM_NAMES = {"lr*", "lr_*", "η*", "eta*"}
LO_ALIASES = ["lr_opt_lo", "lr_opt_low", "lr_opt_lower", "lr_opt_min", "ci_lo", "ci_low",
              "ci_lower", "lr_opt_ci_lo", "lr_opt_ci_low"]
HI_ALIASES = ["lr_opt_hi", "lr_opt_high", "lr_opt_upper", "lr_opt_max", "ci_hi", "ci_high",
              "ci_upper", "lr_opt_ci_hi", "lr_opt_ci_high"]
CURVATURE_ALIASES = ["curvature", "curv", "lr_curvature"]
LOSS_OPT_ALIASES = ["loss_opt", "loss_star", "optimal_loss", "best_loss", "min_loss",
                    "loss_min", "loss_at_opt", "loss_at_optimum"]


@dataclass(frozen=True)
class Optima:
    """Optima read from a table: ``optima`` (one row per point), ``boot`` (its resamples,
    or None), ``columns`` (role -> source column), ``rows`` (rows read), ``notes``."""

    optima: pd.DataFrame
    boot: BootSweeps | None
    columns: dict
    rows: int
    notes: tuple[str, ...] = field(default=())


def _find(columns, aliases) -> str | None:
    norm = {normalize_name(c): c for c in columns}
    return next((norm[a] for a in aliases if a in norm), None)


def optimum_column(columns) -> str | None:
    """The column holding optimal LRs, if the table has one."""
    for c in columns:
        if str(c).strip().lower() in RAW_OPTIMUM_NAMES:
            return c
    for tier in OPTIMUM_ALIASES:
        hit = _find(columns, tier)
        if hit is not None:
            return hit
    return None


def is_optima_table(df: pd.DataFrame, lr=None, loss=None, optima=None) -> bool:
    """True for a table of optima: ``optima`` says so, or (``optima`` None) it has an
    optimum column and no lr or no loss column (by name, or given)."""
    if optima is not None:
        return bool(optima)
    cols = [str(c).strip() for c in df.columns]
    if optimum_column(cols) is None:
        return False
    norm = {normalize_name(c) for c in cols}
    has = {role: (given is not None) or any(a in norm for tier in ALIASES[role] for a in tier)
           for role, given in (("lr", lr), ("loss", loss))}
    return not (has["lr"] and has["loss"])


def load_optima(df: pd.DataFrame, src: str, *, scale=None, horizon=None, by=(),
                lr_opt: str | None = None, level: float = 0.95, n_boot: int = 1000,
                seed: int = 0, ci: float = 0.95) -> Optima:
    """The optima of ``df`` (a table of optima) and their resamples; see the module.

    ``level``: the level of the table's interval columns; ``ci``: the level of the
    intervals reported."""
    _duplicate_headers(df, src)
    df = df.reset_index(drop=True)
    df.columns = [str(c).strip() for c in df.columns]
    check("optima_level", level)
    col = lr_opt or optimum_column(df.columns)
    if col is None or col not in df.columns:
        names = ", ".join(a for tier in OPTIMUM_ALIASES for a in tier)
        raise ScalefitInputError(f"{src}: no optimum column found (looked for {names}, lr*); "
                                 "a table of optima needs one")
    roles = resolve_columns(list(df.columns), {"scale": scale, "horizon": horizon, "lr": col,
                                               "loss": None}, src, required=())
    cols = {"scale": roles["scale"], "horizon": roles["horizon"], "lr_opt": col,
            "lr_opt_lo": _find(df.columns, LO_ALIASES), "lr_opt_hi": _find(df.columns, HI_ALIASES),
            "curvature": _find(df.columns, CURVATURE_ALIASES),
            "loss_opt": _find(df.columns, LOSS_OPT_ALIASES) or roles["loss"]}
    if cols["scale"] is None and cols["horizon"] is None:
        raise ScalefitInputError(f"{src}: a table of optima needs a scale or a horizon column "
                                 "(name them with --scale/--horizon)")
    by = (by,) if isinstance(by, str) else tuple(by)
    nested_by(df, by, src)
    for b in by:
        if b not in df.columns:
            raise ScalefitInputError(f"{src}: group column {quote(b, 60)} (--by) not found; "
                                     f"columns are: {name_list(df.columns)}")
        role = next((r for r, c in cols.items() if c == b), None)
        if role is not None:
            raise ScalefitInputError(f"{src}: column {quote(b, 60)} is already the {role}; it "
                                     "cannot also be a --by column")
    df = _plain_cells(df, {b: "--by" for b in by}, src)
    notes: list[str] = []
    y = _numeric(df, col, src, "lr_opt")
    keep = np.isfinite(y)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} row(s) without an optimum ({col!r} blank) skipped")
    df, y = df[keep].reset_index(drop=True), y[keep]
    if len(df) == 0:
        raise ScalefitInputError(f"{src}: no row has an optimum in column {col!r}")
    _positive(y, col, src, "lr_opt")
    data = pd.DataFrame({b: df[b] for b in by})
    for role in ("scale", "horizon"):
        if cols[role] is not None:
            v = _numeric(df, cols[role], src, role)
            _positive(v, cols[role], src, role)
            data[role] = v
    data["x"] = np.log(y)
    data["sd"] = _interval_sd(df, cols, y, src, level)
    for name in ("curvature", "loss_opt"):
        data[name] = _numeric(df, cols[name], src, name) if cols[name] else np.nan
    if cols["lr_opt_lo"] is None or cols["lr_opt_hi"] is None:
        cols["lr_opt_lo"] = cols["lr_opt_hi"] = None
    optima, boot = _points(data, by, n_boot, seed, ci, notes)
    return Optima(optima=optima, boot=boot, columns={k: v for k, v in cols.items()},
                  rows=len(df), notes=tuple(notes))


def _interval_sd(df, cols, y, src, level) -> np.ndarray:
    """s.d. of ln lr_opt per row from its interval columns (0 where it has none)."""
    lo_c, hi_c = cols["lr_opt_lo"], cols["lr_opt_hi"]
    if lo_c is None or hi_c is None:
        return np.zeros(len(y))
    lo, hi = _numeric(df, lo_c, src, "lr_opt_lo"), _numeric(df, hi_c, src, "lr_opt_hi")
    have = np.isfinite(lo) & np.isfinite(hi)
    bad = have & ~((lo > 0) & (lo <= y) & (y <= hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScalefitInputError(f"{src}: row {i + 1}: the interval [{lo[i]:g}, {hi[i]:g}] "
                                 f"({lo_c!r}, {hi_c!r}) does not hold the optimum {y[i]:g}")
    z = NormalDist().inv_cdf(0.5 + level / 2)  # scipy.stats would cost ~490 modules
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(have, np.log(hi / lo) / (2 * z), 0.0)


def _points(data: pd.DataFrame, by, n_boot, seed, ci, notes):
    """One row per (by, scale, horizon) point, and the resamples of every point."""
    keys = list(by) + [r for r in ("scale", "horizon") if r in data]
    data = data.sort_values(keys, kind="mergesort").reset_index(drop=True) if keys else data
    gid = data.groupby(keys, sort=False, dropna=False).ngroup().to_numpy() if keys else \
        np.zeros(len(data), dtype=np.int64)
    P = int(gid.max()) + 1
    first = np.unique(gid, return_index=True)[1]
    out = data.iloc[first][keys].reset_index(drop=True)
    x, sd = data["x"].to_numpy(), data["sd"].to_numpy()
    lk = np.log(np.where(data["curvature"] > 0, data["curvature"], np.nan))
    lo = data["loss_opt"].to_numpy(float)
    count = np.bincount(gid, minlength=P)
    point = {name: np.bincount(gid, weights=np.nan_to_num(v), minlength=P) / count
             for name, v in (("x", x), ("lk", lk), ("loss", lo))}
    for name, v in (("lk", lk), ("loss", lo)):  # a point missing a value has none
        point[name][np.bincount(gid, weights=~np.isfinite(v), minlength=P) > 0] = np.nan
    noisy = (count > 1) | (np.bincount(gid, weights=sd > 0, minlength=P) > 0)
    kinds = np.where(count > 1, np.where(np.bincount(gid, weights=sd > 0, minlength=P) > 0,
                                         "replicates+interval", "replicates"),
                     np.where(noisy, "interval", "none"))
    out["lr_opt"] = np.exp(point["x"])
    out["loss_opt"] = point["loss"]
    out["curvature"] = np.exp(point["lk"])
    boot = None
    nan = np.full(P, np.nan)
    lo_hi = np.stack([nan, nan])
    if n_boot > 0 and noisy.any():
        rng = np.random.default_rng(seed)
        order = np.argsort(gid, kind="stable")
        start = np.r_[0, np.cumsum(count)[:-1]]
        u = rng.random((n_boot, len(x)))
        idx = order[start[gid[order]] + (u * count[gid[order]]).astype(np.int64)]  # (B, R)
        z = rng.standard_normal((n_boot, len(x)))
        xb = x[idx] + z * sd[idx]
        cols = np.broadcast_to(gid[order], idx.shape)
        flat = (np.arange(n_boot)[:, None] * P + cols).ravel()

        def mean_of(v):
            s = np.bincount(flat, weights=v.ravel(), minlength=n_boot * P).reshape(n_boot, P)
            return s / count[None, :]

        xs = np.where(noisy[None, :], mean_of(xb), np.nan)
        ks = np.where(noisy[None, :], np.exp(mean_of(lk[idx])), np.nan)
        ls = np.where(noisy[None, :], mean_of(lo[idx]), np.nan)
        boot = BootSweeps(x_opt=xs, loss_opt=ls, curvature=ks, x_best=xs, x_law=xs)
        lo_hi = np.exp(percentile_ci(xs, ci))
    out["lr_opt_lo"], out["lr_opt_hi"] = lo_hi
    out["status"] = "ok"
    out["n_runs"] = count
    out["n_diverged"] = 0
    out["lr_best"] = out["lr_opt"]
    out["boot_kind"] = kinds
    if not noisy.any():
        notes.append("the table carries no uncertainty (no interval columns, no replicate rows): "
                     "laws have point estimates only; add lr_opt_lo/lr_opt_hi columns or "
                     "replicate rows for intervals")
    elif not noisy.all():
        notes.append(f"{int((~noisy).sum())} optimum(s) carry no uncertainty (no interval, no "
                     "replicate): a law that uses them has no interval")
    return out, boot
