"""The resamples of every sweep as the fit keeps them (``BootSweeps``), and the rule that
makes the laws' view of them column by column (``LawRule``).

At 50,000 sweeps and 1,000 resamples one (B, G) float64 array is 400 MB, so what can be
made from what is kept is made on each access instead of stored: the best LR of each
resample is kept as a level index (one byte for up to 127 levels), and ``x_law`` (ln
lr_opt as the laws use it) as a rule over ``x_opt`` and those indices. Made or stored,
the numbers are the same, to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class BootSweeps:
    """Sweep estimates on every resample: arrays of shape (B, G).

    ``x_opt``, ``loss_opt``, ``curvature`` are NaN where that resample has no convex
    fit with 3 levels (an ``edge`` resample of a bracketed group still counts: its
    parabola is used, so wide intervals are not hidden). ``x_best``: ln lr of each
    resample's best level; the bootstrap keeps it as level indices (``best_level``, (B, G)
    small integers, -1 where no level has a finite run, with ``levels``, the (G, J) ln lr
    of the levels) and ``x_best`` makes the floats on each access (``x_best_of`` for
    some columns).

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

    __slots__ = ("x_opt", "loss_opt", "curvature", "best_level", "levels", "law_rule",
                 "_x_best", "_x_law")

    def __init__(self, x_opt: np.ndarray, loss_opt: np.ndarray, curvature: np.ndarray,
                 x_best: np.ndarray | None = None, x_law: np.ndarray | None = None, *,
                 best_level: np.ndarray | None = None, levels: np.ndarray | None = None,
                 law_rule: LawRule | None = None):
        if x_law is not None and law_rule is not None:
            raise ValueError("BootSweeps: give x_law or law_rule, not both")
        for k, v in (("x_opt", x_opt), ("loss_opt", loss_opt), ("curvature", curvature),
                     ("_x_best", x_best), ("_x_law", x_law), ("best_level", best_level),
                     ("levels", levels), ("law_rule", law_rule)):
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"BootSweeps is immutable (set {name!r}); use replace()")

    def replace(self, **changes) -> BootSweeps:
        """A copy with ``changes`` (keyword arguments of the constructor)."""
        kw = {"x_opt": self.x_opt, "loss_opt": self.loss_opt, "curvature": self.curvature,
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
        return self.x_opt.shape[0]

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
        return (self._x_law if self._x_law is not None else self.x_opt)[:, cols]

    def has_law(self) -> bool:
        """Whether ``x_law`` is set (as an array or a rule)."""
        return self.law_rule is not None or self._x_law is not None


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
                    out[:, at] = np.clip(boot.x_opt[:, c], self.x_min[c], self.x_max[c])
                elif k == self.BRACKET:
                    out[:, at] = self.bracket[:, self.bracket_pos[c]]
                else:
                    out[:, at] = boot.x_best_of(c)
        return out


def level_dtype(J: int):
    """The smallest signed integer type that holds level indices 0..J-1 and -1."""
    return np.int8 if J <= 127 else np.int16 if J <= 32767 else np.int32
