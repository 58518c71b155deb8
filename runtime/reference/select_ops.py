"""The reference semantics of bpu.compare and bpu.select (issue 12): integer predicates and copies, written to
be read (dialects/bpu.py states them). Registered into irq.runtime.reference.ops.IMPLS on import."""

from __future__ import annotations

import numpy as np
from irq.runtime.reference.ops import attr, impl

#: the predicates on int64 arrays
_PREDICATES = {"gt": np.greater, "ge": np.greater_equal, "lt": np.less, "le": np.less_equal, "eq": np.equal,
               "ne": np.not_equal}


@impl("bpu.compare")
def compare(op, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """1 where ``a <predicate> b`` (or the threshold) holds, else 0; compared as int64 (every storage dtype fits)."""
    rhs = np.int64(attr(op, "threshold")) if b is None else b.astype(np.int64)
    return _PREDICATES[attr(op, "predicate")](a.astype(np.int64), rhs).astype(np.int64)


@impl("bpu.select")
def select(op, cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``cond != 0 ? a : b`` with numpy broadcasting of the three."""
    return np.where(cond != 0, a, b).astype(np.int64)
