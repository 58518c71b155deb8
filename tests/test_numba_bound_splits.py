"""Split kernel calls packed once (runtime/numba/kernels/bound_call.py, `native_parts.launch_packed`).

A plan's steps call the same kernel on the same arrays every run, so a call split over the threads is
packed once per thread count, like a one-part call, and each run only posts the parts. What a kernel
relies on: every part gets its own number and every argument as packed; the parts' results come back
added (row ranges that follow the thread count, a part that raises: test_numba_native_parts.py). And a
plan at two threads takes the packed split on its quantize, GEMM, padded-copy and depthwise steps, with
the reference runtime's codes. Oracles: the kernels' Python functions run part by part, and the reference runtime."""

import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import amx, depthwise, launch, native_parts, requantize, spin_pool, vnni
from support.bpu_text import ProgramText


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
    for kernel in (vnni.pad_copy, vnni.pad_transpose, depthwise.depthwise_requantize_i32, requantize.quantize_to_nhwc):
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
