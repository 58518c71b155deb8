"""A real peer: onnxruntime's QLinearConv / QLinearMatMul equal irq's reference runtime bit for bit.

Both programs are built from the same codes: onnxruntime gets int8 tensors and scales (onnx.helper), irq
a frozen-level graph that `irq.convert(..., rounding="half_even")` lowers (weights, bias and multipliers
derived by irq.fixedpoint). onnxruntime requantizes with a float32 multiplier ``s_x * s_w / s_y`` and
rounds half to even; the scales below have few mantissa bits, so that multiplier is exact in float32
and in irq's 31-bit (M, S), and the float32 product ``acc * multiplier`` is exact wherever it does not
saturate. Then any difference is a bug, not a precision trade-off.

Weights stay within 7 bits ([-63, 63]): on CPUs without VNNI, onnxruntime's u8s8 kernels (vpmaddubsw)
saturate each pair of adjacent u8 x s8 products to int16, so with full-range weights a fraction of the
outputs legitimately differ from the exact result (ANCHORS.md: about 78% of conv outputs equal).
"""

from __future__ import annotations

import numpy as np
import pytest
from irq.runtime.reference import run
from support.frozen import FrozenBuilder

import irq

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

RNG = np.random.default_rng(11)


def _session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _scalar(name, value, dtype):
    return helper.make_tensor(name, dtype, [], [value])


def test_qlinearconv_equals_reference_bit_for_bit():
    n, cin, h, w, cout, k = 2, 8, 10, 9, 6, 3
    s_x, s_y = 0.75 * 2**-5, 2**-3
    s_w = np.array([(2 * c + 1) / 16 * 2**-6 for c in range(cout)])  # odd numerators: few mantissa bits
    x_codes = RNG.integers(-128, 128, size=(n, cin, h, w)).astype(np.int8)
    w_codes = RNG.integers(-63, 64, size=(cout, cin, k, k)).astype(np.int8)
    b_codes = RNG.integers(-3000, 3000, size=cout).astype(np.int32)

    graph = helper.make_graph(
        [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                          pads=[1, 1, 1, 1], strides=[1, 1])],
        "conv", [helper.make_tensor_value_info("x", TensorProto.INT8, list(x_codes.shape))],
        [helper.make_tensor_value_info("y", TensorProto.INT8, None)],
        [_scalar("xs", s_x, TensorProto.FLOAT), _scalar("xz", 0, TensorProto.INT8),
         helper.make_tensor("w", TensorProto.INT8, w_codes.shape, w_codes.ravel().tolist()),
         helper.make_tensor("ws", TensorProto.FLOAT, [cout], s_w.tolist()),
         helper.make_tensor("wz", TensorProto.INT8, [cout], [0] * cout),
         _scalar("ys", s_y, TensorProto.FLOAT), _scalar("yz", 0, TensorProto.INT8),
         helper.make_tensor("b", TensorProto.INT32, [cout], b_codes.tolist())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    (want,) = _session(model).run(None, {"x": x_codes})

    b = FrozenBuilder([("x", x_codes.shape)])
    wd = b.weight(w_codes * s_w.reshape(-1, 1, 1, 1), s_w)
    bias = b.const(b_codes * (s_x * s_w))  # exactly b_q at the accumulator scale
    y = b.op("hl.conv2d", [b.qdq("x", s_x), wd], want.shape, {"bias": bias},
             'stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1 : i64, owner = "conv"')
    program = irq.convert(b.module([b.qdq(y, s_y)]), march="bayes", rounding="half_even")
    (got,) = run(program, (x_codes * s_x).astype(np.float32))
    got_codes = np.rint(got.astype(np.float64) / s_y).astype(np.int8)
    assert np.mean(np.abs(got_codes) < 127) > 0.5  # most outputs are inside the range, not saturated
    np.testing.assert_array_equal(got_codes, want)


def test_qlinearmatmul_equals_reference_bit_for_bit():
    # multiplier s_a * s_b / s_y = (5 * 2^-7)(7 * 2^-9) / (35 * 2^-9) = 2^-7: exact ties at every acc = 64 mod 128
    s_a, s_b, s_y = 0.625 * 2**-4, 0.875 * 2**-6, 35 * 2**-9
    a_codes = RNG.integers(-128, 128, size=(4, 16, 32)).astype(np.int8)
    b_codes = RNG.integers(-63, 64, size=(4, 32, 12)).astype(np.int8)
    graph = helper.make_graph(
        [helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.INT8, list(a_codes.shape)),
         helper.make_tensor_value_info("b", TensorProto.INT8, list(b_codes.shape))],
        [helper.make_tensor_value_info("y", TensorProto.INT8, None)],
        [_scalar("as", s_a, TensorProto.FLOAT), _scalar("az", 0, TensorProto.INT8),
         _scalar("bs", s_b, TensorProto.FLOAT), _scalar("bz", 0, TensorProto.INT8),
         _scalar("ys", s_y, TensorProto.FLOAT), _scalar("yz", 0, TensorProto.INT8)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    (want,) = _session(model).run(None, {"a": a_codes, "b": b_codes})

    fb = FrozenBuilder([("a", a_codes.shape), ("b", b_codes.shape)])
    y = fb.op("hl.matmul", [fb.qdq("a", s_a), fb.qdq("b", s_b)], want.shape, attrs='owner = "mm"')
    frozen = fb.module([fb.qdq(y, s_y)])
    program = irq.convert(frozen, march="bayes", rounding="half_even")
    (got,) = run(program, (a_codes * s_a).astype(np.float32), (b_codes * s_b).astype(np.float32))
    got_codes = np.rint(got.astype(np.float64) / s_y).astype(np.int8)
    assert np.mean(np.abs(got_codes) < 127) > 0.5
    np.testing.assert_array_equal(got_codes, want)
    # and the rounding mode matters: half_up differs from onnxruntime on the exact ties
    acc = np.matmul(a_codes.astype(np.int64), b_codes.astype(np.int64))
    assert np.sum((acc % 128 == 64) & (np.abs(acc) < 127 * 128)) > 0
    program_up = irq.convert(frozen, march="bayes", rounding="half_up")
    (up,) = run(program_up, (a_codes * s_a).astype(np.float32), (b_codes * s_b).astype(np.float32))
    assert not np.array_equal(np.rint(up.astype(np.float64) / s_y).astype(np.int8), want)
