"""The numba runtime's element-wise and row kernels split over two threads (`launch.RowKernel`, parts handed to
the spinning pool natively): each must write what one unsplit call writes, and return the same count.

These kernels used to be `parallel=True` twins on Numba's workqueue; as row kernels each takes its part's row
range ``r0 .. r1`` and slices the operands that follow the loop index, so its inner loops still start at 0 and
vectorise (docs/design.md). Oracle: the same compiled function called once over all rows on this thread
(``kernel.rows(0, total, ...)``); the per-element arithmetic is held to the reference runtime elsewhere
(tests/test_numba_vs_reference.py). Sizes are above the split threshold, and odd, so the parts differ in
length."""

import numpy as np
import pytest
from irq.runtime.numba.kernels import (
    divide,
    eltwise,
    embedding,
    int_divide,
    launch,
    log_softmax,
    lookup,
    native_parts,
    normalize,
    permute,
    prelu,
    requantize,
    select,
    spin_pool,
)

N = launch.PARALLEL_MIN_ELEMENTS + 12_345


def _i8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _cases(rng):
    """(kernel, argument builder): the builder makes fresh arguments, outputs zeroed."""
    m = rng.integers(2**29, 2**31, size=7).astype(np.int64)
    return [
        ("select_codes", select.select_codes,
         lambda: ((rng.random(N) < 0.5).astype(np.int8), _i8(rng, N), _i8(rng, N), np.zeros(N, np.int8))),
        ("compare_tensors", select.compare_tensors, lambda: (_i8(rng, N), _i8(rng, N), 3, np.zeros(N, np.int8))),
        ("compare_threshold", select.compare_threshold, lambda: (_i8(rng, N), np.int64(5), 1, np.zeros(N, np.int8))),
        ("lookup_flipped", lookup.lookup_flipped,
         lambda: (*lookup.unsigned_view(_i8(rng, N)), _i8(rng, 256), np.zeros(N, np.int8))),
        ("add_requantize", eltwise.add_requantize,
         lambda: (_i8(rng, N), _i8(rng, N), int(m[0]), int(m[1]), -1, 31, 0, -128, 127, np.zeros(N, np.int8))),
        ("mul_requantize", eltwise.mul_requantize,
         lambda: (_i8(rng, N), _i8(rng, N), int(m[2]), 38, 1, -128, 127, np.zeros(N, np.int8))),
        ("lookup", eltwise.lookup, lambda: (_i8(rng, N), _i8(rng, 256), -128, np.zeros(N, np.int8))),
        ("requantize_into", eltwise.requantize_into,
         lambda: (rng.integers(-2000, 2000, size=(N // 7, 7)).astype(np.int16), int(m[3]), 33, 2, -128, 127,
                  np.zeros((N // 7, 19), np.int8), 5)),
        ("requantize_channels", requantize.requantize_channels,
         lambda: (rng.integers(-2**20, 2**20, size=(N // 7, 7)).astype(np.int32), m, np.full(7, 36), 1, -128, 127,
                  np.zeros((N // 7, 7), np.int8))),
        ("requantize_axis", requantize.requantize_axis,
         lambda: (rng.integers(-2**20, 2**20, size=(N // 21, 7, 3)).astype(np.int32),
                  _i8(rng, (N // 21, 7, 3)), m, m[::-1].copy(), np.full(7, 37), 0, -32768, 32767,
                  np.zeros((N // 21, 7, 3), np.int16))),
        ("requantize_axis without residual", requantize.requantize_axis,
         lambda: (rng.integers(-2**33, 2**33, size=(N // 21, 7, 3)), np.zeros((0, 0, 0), np.int8), m, m,
                  np.full(7, 40), 3, -128, 127, np.zeros((N // 21, 7, 3), np.int8))),
        ("quantize", requantize.quantize,
         lambda: (rng.standard_normal(N).astype(np.float32) * 9, 0.05, -128, 127, np.zeros(N, np.int8))),
        ("dequantize", requantize.dequantize,
         lambda: (_i8(rng, (N // 21, 7, 3)), rng.random(7) + 0.01, np.zeros((N // 21, 7, 3), np.float32))),
        ("clamp_codes", requantize.clamp_codes, lambda: (_i8(rng, N), -3, 100, np.zeros(N, np.int8))),
        ("divide_requantize", divide.divide_requantize,
         lambda: (_i8(rng, N), _i8(rng, N), int(m[4]), 30, 1, -128, 127, np.zeros(N, np.int8))),
        ("int_divide_requantize", int_divide.int_divide_requantize,
         lambda: (_i8(rng, N), _i8(rng, N), int(m[5]), 3, 20, True, int(m[6]), 40, 0, -128, 127,
                  np.zeros(N, np.int8))),
        ("prelu_requantize", prelu.prelu_requantize,
         lambda: (_i8(rng, (N // 21, 7, 3)), m, -m, np.full(7, 33), 0, -128, 127,
                  np.zeros((N // 21, 7, 3), np.int8))),
        ("gather_requantize", embedding.gather_requantize,
         lambda: (rng.integers(0, 50, size=N // 8), _i8(rng, (50, 8)), m[:1].copy(), np.full(1, 32), 0,
                  -32768, 32767, np.zeros((N // 8, 8), np.int16))),
    ]


CASES = _cases(np.random.default_rng(0))


@pytest.mark.parametrize("name,kernel,build", CASES, ids=[c[0] for c in CASES])
def test_a_split_call_writes_what_one_call_writes(name, kernel, build, monkeypatch):
    one = build()
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in one]
    want = kernel.rows(0, kernel.count(*one), *one)
    monkeypatch.setattr(launch.numba, "get_num_threads", lambda: 2)
    posts = spin_pool.pool(1).board[native_parts.POST]
    got = kernel(*args)
    assert spin_pool.pool(1).board[native_parts.POST] == posts + 1  # part 1 went to the worker
    assert spin_pool.pool(1).board[native_parts.TRAMP] != 0  # ... natively
    assert (got is None and want is None) or got == want
    for a, b in zip(one, args):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)


def test_log_softmax_rows_split(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=(N // 24, 12, 2)).astype(np.int8)
    # in-range tables (not bpu.log_softmax's values; a split check needs only well-defined integers): every
    # exp entry >= 2**16 keeps each sum above 2**(B + 2) as the kernel requires, so its table index is in range
    exp_table = rng.integers(2**16, 2**20, size=512).astype(np.int32)
    log_table = rng.integers(0, 2**10, size=2**12).astype(np.int32)
    outs = [np.zeros(x.shape, np.int8) for _ in range(2)]
    args = (x, exp_table, log_table, 255, 0, 11, 8, 2**30, 2**29, 36, 0, -128, 127)
    log_softmax.log_softmax_rows.rows(0, x.shape[0], *args, outs[0])
    monkeypatch.setattr(launch.numba, "get_num_threads", lambda: 2)
    log_softmax.log_softmax_rows(*args, outs[1])
    np.testing.assert_array_equal(outs[0], outs[1])


def _row_cases(rng):
    n_ln = 48
    rows = N // n_ln
    span = 255
    table = rng.integers(0, 2**15, size=span + 1).astype(np.int32)
    shape, step = permute.plan((6, 40, 30, 20), (0, 2, 1, 3))
    src = _i8(rng, 6 * 40 * 30 * 20)
    return [
        ("layer_norm_rows", normalize.layer_norm_rows,
         lambda: (rng.integers(-1000, 1000, size=(rows, n_ln)).astype(np.int16), _i8(rng, n_ln),
                  rng.integers(-5000, 5000, size=n_ln).astype(np.int32), 10, 8, 1, 2**30, 44, 0, -128, 127,
                  np.zeros((rows, n_ln), np.int8))),
        ("softmax_rows", normalize.softmax_rows,
         lambda: (rng.integers(-100, 101, size=(N // 16, 16)).astype(np.int16), table, int(table.max()), span,
                  2**30, 10, -128, 127, np.zeros((N // 16, 16), np.int8))),
        ("softmax_strided", normalize.softmax_strided,
         lambda: (rng.integers(-100, 101, size=(N // 48, 16, 3)).astype(np.int16), table, int(table.max()), span,
                  2**30, 10, -128, 127, np.zeros((N // 48, 16, 3), np.int8))),
        ("permute_copy", permute.permute_copy, lambda: (src, shape, step, np.zeros(src.size, np.int8))),
    ]


ROW_CASES = _row_cases(np.random.default_rng(2))


@pytest.mark.parametrize("name,kernel,build", ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_row_kernels_split_write_what_one_call_writes(name, kernel, build, monkeypatch):
    test_a_split_call_writes_what_one_call_writes(name, kernel, build, monkeypatch)
