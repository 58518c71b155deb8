"""bpu.cumsum: exact int64 prefix sums along the middle axis of an (outer, n, inner) view."""

from __future__ import annotations

import numba
import numpy as np

from .launch import kernel


@kernel
def prefix_sum(x, out):
    """``out[o, k, i] = sum_{j <= k} x[o, j, i]``: one running int64 sum per (o, i), walked along k so the
    inner axis stays the contiguous one (the verifier proved the sums fit the output's dtype)."""
    outer, n, inner = x.shape
    for o in numba.prange(outer):
        running = np.zeros(inner, np.int64)
        for k in range(n):
            for i in range(inner):
                running[i] += np.int64(x[o, k, i])
                out[o, k, i] = running[i]
