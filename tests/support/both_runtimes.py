"""Run one bpu program on the reference runtime (numpy, the oracle) and on numba, and insist they agree.

Tests of a new bpu op check its numbers against an independent oracle once; this helper makes every such
check also prove that the two executors a user can deploy on return the same bits and the same dtype.
"""

from __future__ import annotations

import numpy as np
from irq.runtime import numba as rn
from irq.runtime import reference


def run_both(program, *inputs: np.ndarray) -> np.ndarray:
    """The program's first output, after asserting numba == reference bit for bit and in dtype."""
    want = reference.run(program, *inputs)[0]
    got = rn.compile(program)(*inputs)
    got = got[0] if isinstance(got, (list, tuple)) else got
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    return want
