"""The resamples of every sweep as the fit keeps them (``BootSweeps``), the rule that
makes the laws' view of them column by column (``LawRule``), and the compact form of a
(B, G) array of draws (``CompactDraws``).

At 50,000 sweeps and 1,000 resamples one (B, G) float64 array is 400 MB, so what can be
made from what is kept is made on each access instead of stored: the best LR of each
resample is kept as a level index (one byte for up to 127 levels), and ``x_law`` (ln
lr_opt as the laws use it) as a rule over ``x_opt`` and those indices. Made or stored,
the numbers are the same, to the bit. A fit of runs keeps ``x_opt``, ``loss_opt`` and
``curvature`` as ``CompactDraws`` (float32 deviations from each sweep's point estimate,
half the bytes) once every interval, law and measure of the fit has been computed from
the float64 draws (``scalefit.estimate``); read back they are float64 again, within
2^-24 of their deviation from the point estimate (what a backtest or a reader of
``FitResult.boot`` gets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CompactDraws:
    """A (B, G) array of draws kept as float32 deviations from a float64 centre per column
    (a sweep's point estimate): ``centre[g] + dev[b, g]`` read back in float64. NaN stays
    NaN; a value is off by at most 2^-24 of its deviation from the centre (a deviation
    beyond float32's range, about 3.4e38, reads back as +-inf).

    ``empty(B, G)`` makes one to fill column block by column block (``put``);
    ``columns(cols)`` reads some columns back, ``full()`` all of them (a new array)."""

    dev: np.ndarray
    centre: np.ndarray

    @classmethod
    def empty(cls, n_boot: int, n_cols: int) -> CompactDraws:
        return cls(dev=np.empty((n_boot, n_cols), np.float32), centre=np.zeros(n_cols))

    @property
    def shape(self) -> tuple[int, int]:
        return self.dev.shape

    def put(self, cols, values: np.ndarray, centre: np.ndarray) -> None:
        """Write the float64 draws ``values`` (B, len(cols)) of columns ``cols`` (indices or
        a slice) around ``centre`` (their point estimates; NaN or inf: 0 is used)."""
        c = np.where(np.isfinite(centre), centre, 0.0)
        self.centre[cols] = c
        with np.errstate(over="ignore", invalid="ignore"):
            self.dev[:, cols] = values - c

    def columns(self, cols) -> np.ndarray:
        """(B, len(cols)) float64 draws of columns ``cols`` (indices or a slice)."""
        return self.centre[cols] + self.dev[:, cols].astype(np.float64)

    def full(self) -> np.ndarray:
        """Every column, (B, G) float64 (a new array)."""
        return self.columns(slice(None))


class BootSweeps:
    """Sweep estimates on every resample: arrays of shape (B, G).

    ``x_opt``, ``loss_opt``, ``curvature`` are NaN where that resample has no convex
    fit with 3 levels (an ``edge`` resample of a bracketed group still counts: its
    parabola is used, so wide intervals are not hidden). Each is held as given (a float64
    array) or as ``CompactDraws`` (a fit of runs keeps them so, module docstring); read
    back it is a float64 array either way: ``x_opt`` etc. give all columns (made on each
    access when compact), ``columns(name, cols)`` some of them (what every reader in the
    package uses). ``x_best``: ln lr of each resample's best level; the bootstrap keeps
    it as level indices (``best_level``, (B, G) small integers, -1 where no level has a
    finite run, with ``levels``, the (G, J) ln lr of the levels) and ``x_best`` makes
    the floats on each access (``x_best_of`` for some columns).

    ``x_law``: ln lr_opt of every sweep as the laws use it (the pipeline sets it: vertices
    clamped to the tried LRs, the bracket of a ``div_bracketed`` sweep, the best LR of
    other included sweeps; NaN for a sweep with no measured noise); None until set. It is
    either an array given as such (``x_law=``, a table of optima) or a rule (``LawRule``,
    ``law_rule=``) that makes the columns asked for from ``x_opt`` and ``best_level`` on
    each access: ``law_columns(cols)`` makes only those columns (what every reader in the
    package uses), ``x_law`` all of them (a new (B, G) array each time). At 50,000 sweeps
    and 1,000 resamples a (B, G) float array is 400 MB; the rule's own arrays are (G,).

    Immutable: ``replace`` makes a copy with changes (the arrays are shared).
    """

    __slots__ = ("_x_opt", "_loss_opt", "_curvature", "best_level", "levels", "law_rule",
                 "_x_best", "_x_law")

    def __init__(self, x_opt: np.ndarray | CompactDraws, loss_opt: np.ndarray | CompactDraws,
                 curvature: np.ndarray | CompactDraws, x_best: np.ndarray | None = None,
                 x_law: np.ndarray | None = None, *, best_level: np.ndarray | None = None,
                 levels: np.ndarray | None = None, law_rule: LawRule | None = None):
        if x_law is not None and law_rule is not None:
            raise ValueError("BootSweeps: give x_law or law_rule, not both")
        for k, v in (("_x_opt", x_opt), ("_loss_opt", loss_opt), ("_curvature", curvature),
                     ("_x_best", x_best), ("_x_law", x_law), ("best_level", best_level),
                     ("levels", levels), ("law_rule", law_rule)):
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"BootSweeps is immutable (set {name!r}); use replace()")

    def replace(self, **changes) -> BootSweeps:
        """A copy with ``changes`` (keyword arguments of the constructor)."""
        kw = {"x_opt": self._x_opt, "loss_opt": self._loss_opt, "curvature": self._curvature,
              "x_best": self._x_best, "x_law": self._x_law, "best_level": self.best_level,
              "levels": self.levels, "law_rule": self.law_rule}
        if "law_rule" in changes:
            kw["x_law"] = None
        if "x_law" in changes:
            kw["law_rule"] = None
        kw.update(changes)
        return BootSweeps(**kw)

    @property
    def n_boot(self) -> int:
        return self._x_opt.shape[0]

    def compact(self, name: str) -> bool:
        """Whether ``x_opt``, ``loss_opt`` or ``curvature`` (``name``) is held as
        ``CompactDraws``."""
        return isinstance(getattr(self, "_" + name), CompactDraws)

    @property
    def x_opt(self) -> np.ndarray:
        """(B, G) resampled ln lr_opt (float64; made on each access when compact)."""
        return _all(self._x_opt)

    @property
    def loss_opt(self) -> np.ndarray:
        """(B, G) resampled optimal loss (float64; made on each access when compact)."""
        return _all(self._loss_opt)

    @property
    def curvature(self) -> np.ndarray:
        """(B, G) resampled curvature (float64; made on each access when compact)."""
        return _all(self._curvature)

    def columns(self, name: str, cols) -> np.ndarray:
        """``x_opt[:, cols]``, ``loss_opt[:, cols]`` or ``curvature[:, cols]`` (``name``;
        cols: indices or a slice) without the other columns."""
        v = getattr(self, "_" + name)
        return v.columns(cols) if isinstance(v, CompactDraws) else v[:, cols]

    @property
    def x_best(self) -> np.ndarray | None:
        """(B, G) ln lr of each resample's best level (NaN: none), made on each access."""
        if self._x_best is not None or self.best_level is None:
            return self._x_best
        return self.x_best_of(slice(None))

    def x_best_of(self, cols) -> np.ndarray:
        """``x_best[:, cols]`` (cols: indices or a slice) without the other columns."""
        if self._x_best is not None:
            return self._x_best[:, cols]
        g = np.arange(self.levels.shape[0])[cols]
        idx = self.best_level[:, cols]
        with np.errstate(invalid="ignore"):
            return np.where(idx >= 0, self.levels[g[None, :], np.maximum(idx, 0)], np.nan)

    @property
    def x_law(self) -> np.ndarray | None:
        """(B, G) ln lr_opt as the laws use it (class docstring), or None until set; with a
        rule, a new array on each access (``law_columns`` makes only some columns)."""
        if self.law_rule is None:
            return self._x_law
        return self.law_rule.columns(self, slice(None))

    def law_columns(self, cols) -> np.ndarray:
        """``x_law[:, cols]`` (cols: indices or a slice), or ``x_opt[:, cols]`` when no
        ``x_law`` is set: the resampled ln lr_opt the laws read."""
        if self.law_rule is not None:
            return self.law_rule.columns(self, cols)
        if self._x_law is not None:
            return self._x_law[:, cols]
        return self.columns("x_opt", cols)

    def has_law(self) -> bool:
        """Whether ``x_law`` is set (as an array or a rule)."""
        return self.law_rule is not None or self._x_law is not None


def _all(v) -> np.ndarray:
    """Every column of a stored array of draws, as a float64 array."""
    return v.full() if isinstance(v, CompactDraws) else v


@dataclass(frozen=True)
class LawRule:
    """How ``BootSweeps.x_law`` is made from the resamples, column by column.

    kind: (G,) int8, per sweep: ``CLAMP`` (ok: the resampled vertex clamped to
    [x_min, x_max], the LRs the sweep tried), ``BRACKET`` (``div_bracketed``: its draws
    over the bracket, column ``bracket_pos`` of ``bracket``, (B, number of such sweeps)),
    ``BEST`` (the resample's best level; NaN where the sweep has no measured noise: the
    pipeline sets its ``best_level`` to -1).
    """

    kind: np.ndarray
    x_min: np.ndarray
    x_max: np.ndarray
    bracket: np.ndarray | None = None
    bracket_pos: np.ndarray | None = None

    CLAMP = 0
    BRACKET = 1
    BEST = 2

    def columns(self, boot: BootSweeps, cols) -> np.ndarray:
        """(B, len(cols)) ``x_law[:, cols]`` of ``boot``."""
        cols = np.arange(self.kind.size)[cols]
        kind = self.kind[cols]
        out = np.empty((boot.n_boot, cols.size))
        with np.errstate(invalid="ignore"):
            for k in np.unique(kind):
                at = np.flatnonzero(kind == k)
                c = cols[at]
                if k == self.CLAMP:
                    out[:, at] = np.clip(boot.columns("x_opt", c), self.x_min[c],
                                         self.x_max[c])
                elif k == self.BRACKET:
                    out[:, at] = self.bracket[:, self.bracket_pos[c]]
                else:
                    out[:, at] = boot.x_best_of(c)
        return out

    def subset(self, cols: np.ndarray) -> LawRule:
        """The rule of the columns ``cols`` (indices) alone, numbered 0..len(cols)-1."""
        cols = np.asarray(cols, np.int64)
        bracket = pos = None
        if self.bracket is not None:
            pos = self.bracket_pos[cols]
            have = pos >= 0
            bracket = self.bracket[:, pos[have]]
            pos = np.where(have, np.cumsum(have) - 1, -1)
        return LawRule(kind=self.kind[cols], x_min=self.x_min[cols], x_max=self.x_max[cols],
                       bracket=bracket, bracket_pos=pos)


def level_dtype(J: int):
    """The smallest signed integer type that holds level indices 0..J-1 and -1."""
    return np.int8 if J <= 127 else np.int16 if J <= 32767 else np.int32
