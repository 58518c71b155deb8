"""bpu.embedding: int8 table rows gathered by index and requantized once (per row or per tensor).

The indices are checked before the gather (`first_bad_index`): a token id outside the table is an
error naming the op, never a read past the table.
"""

from __future__ import annotations

import numba
import numpy as np

from .launch import row_kernel
from .requantize import clamp, round_shift


@numba.njit(cache=True)
def first_bad_index(ids, rows):
    """The position of the first index outside [0, rows), or -1."""
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= rows:
            return i
    return -1


@row_kernel(lambda ids, table, mult, shift, mode, lo, hi, out: ids.shape[0])
def gather_requantize(r0, r1, ids, table, mult, shift, mode, lo, hi, out):
    """``out[i, k] = clamp(round_shift(table[r, k] * M[r], S[r]))`` with ``r = ids[i]``; M, S have one
    entry (per tensor) or one per table row."""
    ids, out = ids[r0:r1], out[r0:r1]
    dim = table.shape[1]
    per_row = mult.shape[0] > 1
    for i in range(ids.shape[0]):
        r = np.int64(ids[i])
        j = r if per_row else 0
        m, s = mult[j], shift[j]
        for k in range(dim):
            out[i, k] = clamp(round_shift(np.int64(table[r, k]) * m, s, mode), lo, hi)
