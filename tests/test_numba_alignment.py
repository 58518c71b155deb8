"""Planned buffers and packed weights start on a cache line. The kernels' 64-byte loads (zmm vectors of
packed weights, AMX tile rows) from a buffer numpy's allocator placed 16 bytes into a line touch two
lines each: the AMX matmul and 3x3 conv ran 1.11-1.13x slower with packed weights 16 bytes off
(interleaved in one process, docs/design.md "Aligned buffers")."""

from __future__ import annotations

import numpy as np
from irq.runtime.numba.kernels import amx, vnni
from irq.runtime.numba.kernels.aligned import aligned_copy, aligned_empty
from irq.runtime.numba.memory import BufferPool


def test_every_planned_buffer_starts_on_a_cache_line():
    pool = BufferPool()
    for shape, dtype in [((3,), np.int8), ((1, 7, 7, 5), np.int8), ((128, 768), np.int8), ((2, 33), np.int32),
                         ((1000, 1001), np.int16), ((5,), np.float64)]:
        _, view = pool.allocate(shape, dtype)
        assert view.ctypes.data % 64 == 0, (shape, dtype)
        assert view.shape == shape and view.dtype == dtype and view.flags.c_contiguous


def test_packed_weights_start_on_a_cache_line_and_keep_their_bytes():
    rng = np.random.default_rng(0)
    for k, n in [(768, 768), (36, 24), (130, 40), (4, 16)]:
        w = rng.integers(-127, 128, (k, n)).astype(np.int8)
        packed, nvec = vnni.pack_weights(w)
        assert packed.ctypes.data % 64 == 0 and nvec == -(-n // 16)
        tiles, _, _ = amx.pack_weights(np.concatenate([w, np.zeros((-k % 4, n), np.int8)]), 1)
        assert tiles.ctypes.data % 64 == 0
    for n in (1, 63, 64, 1000):
        assert aligned_empty(n).ctypes.data % 64 == 0 and aligned_empty(n).nbytes == n
    assert aligned_empty(0).nbytes == 0  # an empty view has no first byte to align
    a = rng.integers(-5, 5, (3, 7)).astype(np.int32)
    b = aligned_copy(a)
    assert b.ctypes.data % 64 == 0 and b.dtype == a.dtype and np.array_equal(a, b)
