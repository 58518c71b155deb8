"""The numba runtime's executor: API, input errors, overflow errors, memory plan, allocation, torch-free import."""

import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime.numba import ProgramError
from support.bpu_text import ProgramText

import irq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def conv_chain(depth: int = 8, c: int = 8, hw: int = 16):
    """quantize -> `depth` x (conv3x3 + requantize relu) -> dequantize: a long chain of equal activations."""
    rng = np.random.default_rng(0)
    p = ProgramText([("x", (1, c, hw, hw), "f32")])
    p.op("q0", "bpu.quantize", ["x"], ((1, c, hw, hw), "i8"), {"scale": 0.05})
    for i in range(depth):
        p.const(f"w{i}", rng.integers(-127, 128, size=(c, c, 3, 3)), "i8")
        p.op(f"a{i}", "bpu.conv2d", [f"q{i}", f"w{i}"], ((1, c, hw, hw), "i32"),
             {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1})
        p.op(f"q{i + 1}", "bpu.requantize", [f"a{i}"], ((1, c, hw, hw), "i8"),
             {"multiplier": ("array", [2**30]), "shift": ("array", [39]), "min": 0})
    p.op("y", "bpu.dequantize", [f"q{depth}"], ((1, c, hw, hw), "f32"), {"scale": 0.05})
    return p.module(["y"])


def test_irq_run_uses_numba_and_equals_reference():
    prog = conv_chain(3)
    x = np.random.default_rng(1).standard_normal((1, 8, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(irq.run(prog, x), irq.run(prog, x, runtime="reference"))
    with pytest.raises(ValueError, match="unknown runtime"):
        irq.run(prog, x, runtime="tvm")


def test_wrong_inputs_are_named():
    f = rn.compile(conv_chain(1))
    x = np.zeros((1, 8, 16, 16), np.float32)
    with pytest.raises(ProgramError, match=r"input 0 \(%x\) has dtype float64, the program expects float32"):
        f(x.astype(np.float64))
    with pytest.raises(ProgramError, match=r"input 0 \(%x\) has shape \[1, 8, 16, 15\]"):
        f(x[..., :15])
    with pytest.raises(ProgramError, match=r"'main' takes 1 input\(s\), got 2"):
        f(x, x)
    with pytest.raises(ProgramError, match="must be a numpy array"):
        f(x.tolist())
    assert f(np.zeros((4, 8, 16, 16), np.float32)).shape == (4, 8, 16, 16)  # any batch size


def test_conv_transpose2d_at_another_batch_size():
    """The conv_transpose2d kernel runs a batch-1 program at batch 3 like the oracle does per sample."""
    rng = np.random.default_rng(0)
    p = ProgramText([("x", (1, 2, 3, 3), "i8")])
    p.const("w", rng.integers(-127, 128, size=(2, 1, 2, 2)), "i8")
    p.op("y", "bpu.conv_transpose2d", ["x", "w"], ((1, 1, 4, 4), "i32"),
         {"stride": [1, 1], "padding": [0, 0], "output_padding": [0, 0], "dilation": [1, 1], "groups": 1})
    prog = p.module(["y"])
    x = rng.integers(-128, 128, size=(3, 2, 3, 3)).astype(np.int8)
    got = rn.compile(prog)(x)
    want = np.concatenate([irq.run(prog, x[i:i + 1], runtime="reference") for i in range(3)])
    np.testing.assert_array_equal(got, want)



def test_unknown_op_fails_at_compile_time_with_location():
    prog = irq.parse_module('func.func @main(%x: tensor<2xi8>) -> tensor<2xi8> {\n'
                            '  %y = "acme.frob"(%x) : (tensor<2xi8>) -> tensor<2xi8>\n'
                            '  return %y : tensor<2xi8>\n}\n')
    with pytest.raises(ProgramError, match=r"<string>:2:\d+: 'acme.frob' is not supported"):
        rn.compile(prog)


def test_requantize_input_beyond_2_pow_32_raises_naming_the_op():
    """acc * M must fit int64: an i64 accumulator of 2000 products of 32767 x 127 (> 2**32) is refused, not wrapped."""
    k = 2000
    p = ProgramText([("x", (1, k), "i16")])
    p.const("w", np.full((1, k), 127), "i8")
    p.op("acc", "bpu.linear", ["x", "w"], ((1, 1), "i64"))
    p.op("y", "bpu.requantize", ["acc"], ((1, 1), "i8"), {"multiplier": ("array", [2**30]), "shift": ("array", [62]),
                                                          "axis": -1})
    f = rn.compile(p.module(["y"]))
    assert f(np.full((1, k), 100, np.int16)).tolist() == [[0]]  # 2000 * 100 * 127 < 2**32: fine
    with pytest.raises(ProgramError, match=r"<string>:\d+:\d+: 'bpu.linear' accumulator overflow"):
        f(np.full((1, k), 32767, np.int16))


@pytest.mark.parametrize("attr, value", [("multiplier", 2**31), ("multiplier", -1), ("residual_multiplier", 2**31)])
def test_a_multiplier_past_the_dialect_range_is_refused_naming_the_op(attr, value):
    """The GEMM epilogue multiplies M and Mr as signed 32-bit factors; the runtime does not run the verifier, so a
    program built past it (parsed, never verified) is refused at compile time instead of printing wrong codes."""
    p = ProgramText([("x", (2, 8), "i8"), ("r", (2, 4), "i8")])
    p.const("w", np.ones((4, 8)), "i8")
    p.op("acc", "bpu.linear", ["x", "w"], ((2, 4), "i32"))
    attrs = {"multiplier": ("array", [2**30]), "shift": ("array", [31]), "residual_multiplier": ("array", [2**30]),
             "axis": -1}
    attrs[attr] = ("array", [value])
    p.op("y", "bpu.requantize", ["acc", "r"], ((2, 4), "i8"), attrs, keywords={1: "residual"})
    prog = irq.parse_module(p.text(["y"]))
    with pytest.raises(ProgramError, match=rf"<string>:\d+:\d+: 'bpu.requantize' .*{attr} {value} is outside"):
        rn.compile(prog)


def test_buffers_are_reused_by_liveness():
    f = rn.compile(conv_chain(8))
    plan = f.plan(1)
    # 8 equal int8 activations + float input/output: a chain needs about two live at a time
    assert plan.peak_bytes <= 0.4 * plan.total_bytes, (plan.peak_bytes, plan.total_bytes)


def test_a_warm_call_allocates_only_its_outputs():
    f = rn.compile(conv_chain(6, c=16, hw=32))
    x = np.random.default_rng(0).standard_normal((1, 16, 32, 32)).astype(np.float32)
    f(x)
    tracemalloc.start()
    try:
        y = f(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the output (64 KiB) plus bookkeeping; six planned activations would be 6 x 16 KiB more, im2col 36x that
    assert peak < y.nbytes + 32 * 1024, peak


def test_profile_reports_every_step():
    f = rn.compile(conv_chain(2))
    y, rows = f.profile(np.zeros((1, 8, 16, 16), np.float32))
    assert [r[1] for r in rows] == ["quantize", "conv2d+requantize", "conv2d+requantize", "dequantize"]
    assert all(r[3] >= 0 for r in rows) and y.shape == (1, 8, 16, 16)


def test_runs_without_torch(tmp_path):
    prog_path = tmp_path / "prog.irq"
    conv_chain(2).save(str(prog_path))
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import numpy as np
        import irq
        from irq.runtime import numba as rn
        prog = irq.parse_file({str(prog_path)!r})
        y = rn.compile(prog)(np.ones((1, 8, 16, 16), np.float32))
        assert y.shape == (1, 8, 16, 16)
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None and m.split(".")[0] == "torch"]
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_irq_run_cli_numba_default_reference_and_profile(tmp_path):
    """irq-run on a converted program: numba by default equals --runtime reference; --profile prints a table."""
    from test_convert_artifact import small_net

    program = irq.convert(small_net(), march="bayes")
    path = tmp_path / "model.irq"
    program.save(str(path))
    x = np.random.default_rng(5).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    from irq.cli.run import main

    assert main([str(path), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "n.npy")]) == 0
    assert main([str(path), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "r.npy"), "--runtime",
                 "reference"]) == 0
    n, r = np.load(tmp_path / "n.npy"), np.load(tmp_path / "r.npy")
    assert n.dtype == r.dtype and n.tobytes() == r.tobytes()
    proc = subprocess.run([sys.executable, "-m", "irq.cli.run", str(path), "-i", str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "p.npy"), "--profile"], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "conv2d+requantize" in proc.stderr and "bpu.linear" in proc.stderr and "total" in proc.stderr


def test_fused_depthwise_never_writes_over_its_own_input():
    """A depthwise conv fused into its requantize reads its input while writing its output: the planner must
    keep the input alive until the fused step, or the output buffer reuses it (found on MobileNetV2)."""
    rng = np.random.default_rng(3)
    c, hw = 8, 6
    p = ProgramText([("x", (1, c, hw, hw), "i8")])
    prev = "x"
    for i in range(4):
        p.const(f"w{i}", rng.integers(-127, 128, size=(c, 1, 3, 3)), "i8")
        p.op(f"a{i}", "bpu.conv2d", [prev, f"w{i}"], ((1, c, hw, hw), "i32"),
             {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": c})
        p.op(f"y{i}", "bpu.requantize", [f"a{i}"], ((1, c, hw, hw), "i8"),
             {"multiplier": ("array", [2**30]), "shift": ("array", [36])})
        prev = f"y{i}"
    prog = p.module([prev])
    x = rng.integers(-128, 128, size=(1, c, hw, hw)).astype(np.int8)
    np.testing.assert_array_equal(rn.compile(prog)(x), irq.run(prog, x, runtime="reference"))
