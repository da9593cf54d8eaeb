"""Numpy values as the Python values they hold (for JSON, keys and messages): the one
numpy-to-JSON converter of the package.

``jsonable`` turns any result's values into plain JSON values (NaN/inf -> None, numpy
scalars and arrays -> Python, mapping keys -> str); ``num`` one number (a finite float or
None). Two rules for single values, kept apart because callers rely on the difference:
``py_scalar`` unwraps numpy scalars only, ``py_item`` anything with ``.item()`` (0-d arrays
and size-1 arrays too, as the group keys of ``groupby`` may be). ``files.json_text`` writes
the text (and names a NaN that reaches it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def py_scalar(v):
    """``v.item()`` for a numpy scalar, else ``v`` unchanged."""
    return v.item() if isinstance(v, np.generic) else v


def py_item(v):
    """``v.item()`` for anything that has it (numpy scalars and arrays), else ``v``."""
    return v.item() if hasattr(v, "item") else v


def num(v):
    """A finite float, or None."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def jsonable(obj):
    """Plain JSON values: NaN/inf -> None, numpy scalars and arrays -> Python, keys -> str."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return num(obj)
    return obj if isinstance(obj, str) else str(obj)
