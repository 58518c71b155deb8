"""Split kernel calls packed once (runtime/numba/kernels/bound_call.py, `native_parts.launch_packed`).

A plan's steps call the same kernel on the same arrays every run, so a call split over the threads is
packed once per thread count, like a one-part call, and each run only posts the parts. What a kernel
relies on: every part gets its own leading arguments (part numbers or row ranges) and every argument as
packed; the parts' results come back added; a part that raises reaches the caller; a change of the
thread count between runs gives the split of the new count. And a plan at two threads takes the packed
split on its quantize, GEMM, padded-copy and depthwise steps, with the reference runtime's codes.
Oracles: the kernels' Python functions run part by part, and the reference runtime."""

import numba
import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import amx, conv, launch, native_parts, requantize, spin_pool, vnni
from support.bpu_text import ProgramText


@pytest.fixture
def two_threads():
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@pytest.fixture
def launches(monkeypatch):
    """Counts of the pool's two native hand-offs: packed per call (`launch`) and packed once."""
    counts = {"launch": 0, "launch_packed": 0}
    for name in counts:
        real = getattr(spin_pool.SpinPool, name)

        def counted(self, *args, _name=name, _real=real):
            counts[_name] += 1
            return _real(self, *args)

        monkeypatch.setattr(spin_pool.SpinPool, name, counted)
    return counts


@launch.part_kernel(0)
def _stamp_parts(part, parts, x, scale, out):
    """Part `part` writes its number, the part count and its share of `x` scaled; returns a check value."""
    out[part, 0] = part
    out[part, 1] = parts
    out[part, 2] = x[part::parts].sum() * scale
    return 10 * part + 1


def test_a_packed_split_gives_every_part_its_number_and_arguments(two_threads, launches):
    x = np.arange(11, dtype=np.float64)
    out = np.full((2, 3), -1.0)
    call = _stamp_parts.bound((x, 2.5, out), 2)
    before = int(spin_pool.pool(1).board[native_parts.POST])
    assert call() == 1 + 11
    np.testing.assert_array_equal(out, [[0, 2, x[0::2].sum() * 2.5], [1, 2, x[1::2].sum() * 2.5]])
    assert launches == {"launch": 0, "launch_packed": 1}
    assert spin_pool.pool(1).board[native_parts.POST] == before + 1  # part 1 went to the worker
    assert spin_pool.pool(1).board[native_parts.ARGS] == call.words.ctypes.data  # ... reading the packed words
    x[:] = 1.0  # the same arrays, new values: the packed call reads them, not a copy
    call()
    np.testing.assert_array_equal(out[:, 2], [6 * 2.5, 5 * 2.5])


def _rows_count(x, out):
    return x.shape[0]


@launch.row_kernel(_rows_count, 0)
def _mark_rows(r0, r1, x, out):
    """Rows r0 .. r1 of `out` = x + the range's bounds as a check; returns the rows done."""
    for r in range(r0, r1):
        for c in range(x.shape[1]):
            out[r, c] = x[r, c] + r0 * 1000 + r1
    return r1 - r0


def _expected_rows(x, ranges):
    out = np.zeros_like(x)
    for r0, r1 in ranges:
        _mark_rows.rows.py_func(r0, r1, x, out)
    return out


@pytest.mark.parametrize("rows", [2, 7, 1001])
def test_a_bound_row_kernel_follows_the_thread_count(two_threads, launches, rows):
    x = np.random.default_rng(rows).standard_normal((rows, 3))
    out = np.zeros_like(x)
    call = _mark_rows.bind(x, out)
    per = -(-rows // 2)
    halves = _expected_rows(x, [(0, per), (per, rows)])
    whole = _expected_rows(x, [(0, rows)])
    for threads, expected in ((2, halves), (1, whole), (2, halves)):
        numba.set_num_threads(threads)
        out[:] = np.nan
        assert call() == rows
        np.testing.assert_array_equal(out, expected)
    assert launches == {"launch": 0, "launch_packed": 2}


@launch.part_kernel(0)
def _refuses_a_part(part, parts, bad_part, out):
    if part == bad_part:
        raise ValueError("part refused")
    out[part] = part + 1
    return 1


@pytest.mark.parametrize("bad_part", [0, 1])
def test_an_exception_in_a_packed_part_reaches_the_caller(two_threads, bad_part):
    out = np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="part refused"):
        _refuses_a_part.bound((bad_part, out), 2)()
    out[:] = 0
    assert _refuses_a_part.bound((5, out), 2)() == 2  # the pool still serves the next call
    np.testing.assert_array_equal(out, [1, 2])


def _block() -> object:
    """A padded 3x3 conv, a depthwise 3x3 conv and a 1x1 conv with a residual: MobileNetV2's step kinds."""
    rng = np.random.default_rng(7)
    p = ProgramText([("x", (2, 16, 12, 12), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((2, 16, 12, 12), "i8"), {"scale": 0.05})

    def conv_op(name, src, w_shape, groups, pad, operands_extra=(), res_attrs=None):
        p.const(f"w{name}", rng.integers(-127, 128, size=w_shape), "i8")
        p.op(f"a{name}", "bpu.conv2d", [src, f"w{name}"], ((2, w_shape[0], 12, 12), "i32"),
             {"stride": [1, 1], "padding": [pad, pad], "dilation": [1, 1], "groups": groups})
        attrs = {"multiplier": ("array", rng.integers(2**30, 2**31, size=w_shape[0])),
                 "shift": ("array", [39] * w_shape[0])}
        attrs.update(res_attrs or {})
        p.op(f"y{name}", "bpu.requantize", [f"a{name}", *operands_extra], ((2, w_shape[0], 12, 12), "i8"), attrs,
             keywords={1: "residual"} if operands_extra else None)

    conv_op("1", "q", (32, 16, 3, 3), 1, 1)
    conv_op("2", "y1", (32, 1, 3, 3), 32, 1)
    conv_op("3", "y2", (32, 32, 1, 1), 1, 0, ["y1"], {"residual_multiplier": ("array", [2**29] * 32)})
    p.op("o", "bpu.dequantize", ["y3"], ((2, 32, 12, 12), "f32"), {"scale": 0.1})
    return p.module(["o"])


@pytest.mark.parametrize("amx_setting", ["0", "auto"])
def test_a_two_thread_plan_packs_its_split_steps_once(two_threads, launches, monkeypatch, amx_setting):
    monkeypatch.setenv("IRQ_AMX", amx_setting)
    # split every GEMM, padded copy and depthwise conv of this small program
    for kernel in (vnni.gemm_epilogue, amx.gemm_codes):
        monkeypatch.setattr(kernel, "min_work", 0)
    for kernel in (vnni.pad_copy, vnni.pad_transpose, conv.depthwise_requantize_i32, requantize.quantize_to_nhwc):
        monkeypatch.setattr(kernel, "min_elements", 0)
    prog = _block()
    f = rn.compile(prog)
    rng = np.random.default_rng(8)
    for _ in range(2):  # new values in the same planned buffers
        x = rng.standard_normal((2, 16, 12, 12)).astype(np.float32)
        np.testing.assert_array_equal(f(x), reference.run(prog, x)[0])
    # per run: the input's quantize, conv 1's padded copy and GEMM, the depthwise conv, conv 3's GEMM (it reads
    # y2 in place)
    assert launches == {"launch": 0, "launch_packed": 2 * 5}
