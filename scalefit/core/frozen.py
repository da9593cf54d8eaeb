"""Read-only views for values held by immutable results: mappings, tuples, arrays."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np


class FrozenList(tuple):
    """A tuple that also compares equal to a list with the same items (``[1, 2]``)."""

    __slots__ = ()

    def __eq__(self, other):
        if isinstance(other, list):
            return list(self) == other
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return repr(list(self))


def freeze(value):
    """A read-only copy: dicts become mapping proxies, lists frozen lists (tuples that
    compare equal to lists), arrays read-only copies."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        a = np.array(value, copy=True)
        a.flags.writeable = False
        return a
    return value


def thaw(value):
    """The plain-Python twin of ``freeze``: mappings become dicts, tuples lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
