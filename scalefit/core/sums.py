"""Sums over the first axis that add in the order numpy's ``sum`` adds along the last.

Many small rows (the points of a loss law on every resample, the LR levels of every sweep
on every resample) are summed fastest laid out as columns, ``(P, rows)``: a few operations
on long arrays instead of one short reduction per row. ``rowsum`` adds each column in the
order numpy adds a row of P values, so the result has the bits ``rows.sum(-1)`` has.
"""

from __future__ import annotations

import numpy as np


def rowsum(a: np.ndarray) -> np.ndarray:
    """Sum over axis 0 of a (P, ...) stack in the order numpy's ``sum`` adds a row of P
    values (pairwise: below 8 values one after another; from 8 on, 8 running sums added
    as a tree, then the rest; above 128, two halves)."""
    P = a.shape[0]
    if P < 8:
        return a.sum(0)
    if P > 128:
        half = P // 2
        half -= half % 8
        return rowsum(a[:half]) + rowsum(a[half:])
    r = a[:8].copy()
    for i in range(8, P - P % 8, 8):
        r += a[i:i + 8]
    out = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for i in range(P - P % 8, P):
        out = out + a[i]
    return out
