"""A plan's GEMM steps call their kernel packed once (runtime/numba/kernels/bound_call.py), not through
Numba's dispatcher: the same codes as the reference runtime on every route (VNNI, AMX, a padded 3x3
conv, a 1x1 conv read in place, a residual), after the thread count changes between calls, and an
accumulator overflow still reported with the op's location. The bug each catches: a bound call that
packed the wrong buffer, kept a stale one, or dropped the kernel's out-of-range count."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import native_parts, vnni
from irq.runtime.numba.planner import ProgramError
from support.bpu_text import ProgramText


def _linear(rows: int, k: int, n: int, bias_hi: int = 5000) -> object:
    rng = np.random.default_rng(rows + k)
    p = ProgramText([("x", (rows, k), "i8")])
    p.const("w", rng.integers(-127, 128, size=(n, k)), "i8")
    p.const("b", rng.integers(bias_hi - 10000, bias_hi, size=n), "i32")
    p.op("acc", "bpu.linear", ["x", "w", "b"], ((rows, n), "i32"), keywords={2: "bias"})
    p.op("y", "bpu.requantize", ["acc"], ((rows, n), "i8"),
         {"multiplier": ("array", rng.integers(2**30, 2**31, size=n)), "shift": ("array", [39] * n), "axis": -1})
    return p.module(["y"])


def _convs() -> object:
    """A padded 3x3 conv, then a 1x1 conv read in place with a residual: both direct VNNI routes."""
    rng = np.random.default_rng(3)
    p = ProgramText([("x", (2, 16, 10, 10), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((2, 16, 10, 10), "i8"), {"scale": 0.05})
    p.const("w1", rng.integers(-127, 128, size=(32, 16, 3, 3)), "i8")
    p.op("a1", "bpu.conv2d", ["q", "w1"], ((2, 32, 10, 10), "i32"),
         {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1})
    p.op("y1", "bpu.requantize", ["a1"], ((2, 32, 10, 10), "i8"),
         {"multiplier": ("array", rng.integers(2**30, 2**31, size=32)), "shift": ("array", [40] * 32)})
    p.const("w2", rng.integers(-127, 128, size=(32, 32, 1, 1)), "i8")
    p.op("a2", "bpu.conv2d", ["y1", "w2"], ((2, 32, 10, 10), "i32"),
         {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1})
    p.op("y2", "bpu.requantize", ["a2", "y1"], ((2, 32, 10, 10), "i8"),
         {"multiplier": ("array", [2**30] * 32), "shift": ("array", [38] * 32),
          "residual_multiplier": ("array", [2**29] * 32)}, keywords={1: "residual"})
    p.op("o", "bpu.dequantize", ["y2"], ((2, 32, 10, 10), "f32"), {"scale": 0.1})
    return p.module(["o"])


@pytest.mark.parametrize("amx", ["0", "auto"])
@pytest.mark.parametrize("case", ["linear", "convs"])
def test_bound_steps_give_the_reference_codes_across_thread_counts(case, amx, monkeypatch):
    monkeypatch.setenv("IRQ_AMX", amx)
    rng = np.random.default_rng(1)
    if case == "linear":
        prog, xs = _linear(96, 768, 256), [rng.integers(-128, 128, (96, 768)).astype(np.int8) for _ in range(2)]
    else:
        prog, xs = _convs(), [rng.standard_normal((2, 16, 10, 10)).astype(np.float32) for _ in range(2)]
    calls = []
    real = vnni.gemm_epilogue.fn
    monkeypatch.setattr(vnni.gemm_epilogue, "fn", lambda *a: calls.append(1) or real(*a))
    f = rn.compile(prog)
    before = numba.get_num_threads()
    try:
        for threads in (1, 2, 1):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            calls.clear()
            for x in xs:  # the same buffers, new values: a bound call must read them, not a copy
                np.testing.assert_array_equal(f(x), reference.run(prog, x)[0])
            if threads == 1:
                assert calls == []  # one part: every VNNI GEMM step took its packed call, never the dispatcher
    finally:
        numba.set_num_threads(before)


def test_the_dispatcher_path_gives_the_same_codes(monkeypatch):
    monkeypatch.setattr(native_parts, "ENABLED", False)  # no packed calls: the dispatcher on every run
    calls = []
    real = vnni.gemm_epilogue.fn
    monkeypatch.setattr(vnni.gemm_epilogue, "fn", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setenv("IRQ_AMX", "0")
    prog = _linear(8, 64, 32)
    x = np.random.default_rng(2).integers(-128, 128, (8, 64)).astype(np.int8)
    np.testing.assert_array_equal(rn.compile(prog)(x), reference.run(prog, x)[0])
    assert calls


def test_a_bound_step_still_reports_accumulator_overflow(monkeypatch):
    # an i64 accumulator must stay below 2**32 (acc * M fits int64): a bias of 2**32 - 1000 passes it once
    # the products add more than 1000, which the kernel counts and the step reports
    monkeypatch.setenv("IRQ_AMX", "0")
    p = ProgramText([("x", (4, 64), "i8")])
    p.const("w", np.full((16, 64), 1), "i8")
    p.const("b", np.full(16, 2**32 - 1000), "i64")
    p.op("acc", "bpu.linear", ["x", "w", "b"], ((4, 16), "i64"), keywords={2: "bias"})
    p.op("y", "bpu.requantize", ["acc"], ((4, 16), "i8"),
         {"multiplier": ("array", [2**30] * 16), "shift": ("array", [62] * 16), "axis": -1})
    prog = p.module(["y"])
    f = rn.compile(prog)
    small = np.ones((4, 64), np.int8)
    np.testing.assert_array_equal(f(small), reference.run(prog, small)[0])
    with pytest.raises(ProgramError, match=r"'bpu.linear' accumulator overflow"):
        f(np.full((4, 64), 127, np.int8))
