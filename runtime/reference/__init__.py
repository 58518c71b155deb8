"""The reference runtime: a plain-numpy executor of bpu programs, the oracle for every other runtime.

    outputs = irq.runtime.reference.run(program, x)      # program: a bpu-level irq Module

It walks the entry function op by op, computing every integer op in int64 exactly as the bpu dialect
defines it (`irq.dialects.bpu`), one small function per op (`ops.py`); values are stored in their
storage dtype (int8, int16, int32, int64) between ops, and a result that does not fit its dtype is an
error naming the op, never a silent wrap. Imports numpy only: no torch, no numba, and no call into
`irq.fixedpoint` (the program's parameters are explicit).
"""

from __future__ import annotations

from irq.runtime.reference.interpreter import ReferenceRuntimeError, entry_function, run

__all__ = ["run", "entry_function", "ReferenceRuntimeError"]
