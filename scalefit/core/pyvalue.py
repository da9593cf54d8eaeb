"""Numpy scalars as the Python values they hold (for JSON, keys and messages).

Two rules, kept apart because callers rely on the difference: ``py_scalar`` unwraps
numpy scalars only, ``py_item`` anything with ``.item()`` (0-d arrays and size-1
arrays too, as the group keys of ``groupby`` may be).
"""

from __future__ import annotations

import numpy as np


def py_scalar(v):
    """``v.item()`` for a numpy scalar, else ``v`` unchanged."""
    return v.item() if isinstance(v, np.generic) else v


def py_item(v):
    """``v.item()`` for anything that has it (numpy scalars and arrays), else ``v``."""
    return v.item() if hasattr(v, "item") else v
