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


def assert_deploys_as_validation(model, qat, program, shape: tuple[int, ...], generator, *,
                                 batches: tuple[int, ...] = (2, 3), min_cosine: float = 0.99) -> None:
    """The chain test of a new op: at each batch (the traced one and others) VALIDATION is within `min_cosine`
    of the float model and the deployed program (numba) equals it bit for bit; then reference == numba.
    `shape` is one sample's input shape; inputs are drawn from `generator`."""
    import torch
    import torch.nn.functional as F

    for batch in batches:
        xb = torch.randn(batch, *shape, generator=generator)
        with torch.no_grad():
            want, ref = qat(xb), model(xb)
        cos = F.cosine_similarity(want.flatten(), ref.flatten(), 0).item()
        assert cos > min_cosine, (batch, cos)
        got = rn.compile(program)(xb.numpy())
        got = got[0] if isinstance(got, (list, tuple)) else got
        np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want.numpy())
    run_both(program, torch.randn(batches[0], *shape, generator=generator).numpy())
