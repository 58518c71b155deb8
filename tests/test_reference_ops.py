"""Every bpu op of the reference runtime against an independent oracle.

Accumulating and pooling ops are checked against torch in float64, which is exact on these integer
values (all sums stay far below 2**53); requantizing ops against a fractions oracle; the divisor rule
of average pooling against torch's own avg_pool2d.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime.reference import ReferenceRuntimeError, run
from support.bpu_programs import one_op_program, tensor_type
from test_reference_requantize import oracle_round

from irq import fixedpoint

RNG = np.random.default_rng(1234)


def codes(shape, lo=-128, hi=127, dtype=np.int8):
    return RNG.integers(lo, hi + 1, size=shape).astype(dtype)


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((1, 3, 7, 6), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (0, 2), (1, 2), 2),
    ((1, 8, 6, 6), (8, 1, 3, 3), (2, 2), (1, 1), (1, 1), 8),   # depthwise
    ((1, 4, 5, 5), (2, 4, 1, 1), (1, 1), (0, 0), (1, 1), 1),   # pointwise
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES)
@pytest.mark.parametrize("in_dtype", ["i8", "i16"])
def test_conv2d_matches_torch(xs, ws, stride, padding, dilation, groups, in_dtype):
    x = codes(xs, -32768, 32767, np.int16) if in_dtype == "i16" else codes(xs)
    w = codes(ws, -127, 127)
    b = RNG.integers(-(2**20), 2**20, size=ws[0]).astype(np.int32)
    want = F.conv2d(t64(x), t64(w), t64(b), stride, padding, dilation, groups).numpy()
    acc = "i64" if in_dtype == "i16" else "i32"
    prog = one_op_program("bpu.conv2d", [tensor_type(xs, in_dtype), tensor_type(ws, "i8"), tensor_type(b.shape, "i32")],
                          tensor_type(want.shape, acc),
                          {"stride": list(stride), "padding": list(padding), "dilation": list(dilation),
                           "groups": groups}, keywords={2: "bias"})
    (got,) = run(prog, x, w, b)
    assert got.dtype == (np.int64 if acc == "i64" else np.int32)
    np.testing.assert_array_equal(got, want.astype(np.int64))


@pytest.mark.parametrize("xs,ws,stride,padding,outpad,dilation,groups", [
    ((1, 4, 3, 3), (4, 2, 3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    ((2, 4, 4, 3), (4, 3, 2, 3), (1, 2), (0, 1), (0, 1), (2, 1), 2),
    ((1, 2, 5, 5), (2, 3, 4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 1),
])
def test_conv_transpose2d_matches_torch(xs, ws, stride, padding, outpad, dilation, groups):
    x, w = codes(xs), codes(ws, -127, 127)
    want = F.conv_transpose2d(t64(x), t64(w), None, stride, padding, outpad, groups, dilation).numpy()
    prog = one_op_program("bpu.conv_transpose2d", [tensor_type(xs, "i8"), tensor_type(ws, "i8")],
                          tensor_type(want.shape, "i32"),
                          {"stride": list(stride), "padding": list(padding), "output_padding": list(outpad),
                           "dilation": list(dilation), "groups": groups})
    (got,) = run(prog, x, w)
    np.testing.assert_array_equal(got, want.astype(np.int64))


def test_linear_and_matmul_match_exact_integers():
    x, w = codes((2, 5, 16)), codes((7, 16), -127, 127)
    b = RNG.integers(-1000, 1000, size=7).astype(np.int32)
    prog = one_op_program("bpu.linear", [tensor_type(x.shape, "i8"), tensor_type(w.shape, "i8"),
                                         tensor_type(b.shape, "i32")], tensor_type((2, 5, 7), "i32"),
                          keywords={2: "bias"})
    (got,) = run(prog, x, w, b)
    want = [[[sum(int(x[i, j, k]) * int(w[o, k]) for k in range(16)) + int(b[o]) for o in range(7)]
             for j in range(5)] for i in range(2)]
    assert got.tolist() == want
    a, c = codes((3, 1, 4, 6), -32768, 32767, np.int16), codes((2, 6, 5), -32768, 32767, np.int16)
    prog = one_op_program("bpu.matmul", [tensor_type(a.shape, "i16"), tensor_type(c.shape, "i16")],
                          tensor_type((3, 2, 4, 5), "i64"))
    (got,) = run(prog, a, c)
    np.testing.assert_array_equal(got, torch.matmul(t64(a), t64(c)).numpy().astype(np.int64))


def _elementwise_oracle(values, m, s, mode, lo, hi):
    return [min(max(oracle_round(Fraction(int(v) * m, 2**s), mode), lo), hi) for v in values]


@pytest.mark.parametrize("mode", ["half_up", "half_even"])
def test_add_sub_mul_one_rounding(mode):
    a, b = codes((2, 3, 4)), codes((1, 3, 1))
    ma, mb, s = 1518500250, 805306368, 31
    for name, sign in (("bpu.add", 1), ("bpu.sub", -1)):
        prog = one_op_program(name, [tensor_type(a.shape, "i8"), tensor_type(b.shape, "i8")],
                              tensor_type(a.shape, "i8"),
                              {"lhs_multiplier": ma, "rhs_multiplier": mb, "shift": s, "rounding": mode, "min": 0})
        (got,) = run(prog, a, b)
        bb = np.broadcast_to(b, a.shape)
        want = [min(max(oracle_round(Fraction(int(x) * ma + sign * int(y) * mb, 2**s), mode), 0), 127)
                for x, y in zip(a.ravel(), bb.ravel())]
        assert got.ravel().tolist() == want
    prog = one_op_program("bpu.mul", [tensor_type(a.shape, "i8"), tensor_type(b.shape, "i8")],
                          tensor_type(a.shape, "i16"), {"multiplier": 1431655765, "shift": 33, "rounding": mode})
    (got,) = run(prog, a, b)
    prod = (a.astype(np.int64) * b).ravel()
    assert got.ravel().tolist() == _elementwise_oracle(prod, 1431655765, 33, mode, -32768, 32767)


def test_concat_requantizes_each_input():
    a, b = codes((1, 2, 3)), codes((1, 1, 3))
    prog = one_op_program("bpu.concat", [tensor_type(a.shape, "i8"), tensor_type(b.shape, "i8")],
                          tensor_type((1, 3, 3), "i8"),
                          {"dim": 1, "multiplier": ("array", [2**30, 1610612736]), "shift": ("array", [30, 30])})
    (got,) = run(prog, a, b)
    assert got[:, :2].tolist() == a.tolist()  # identity: M = 2^30, S = 30
    assert got[0, 2].tolist() == _elementwise_oracle(b.ravel(), 1610612736, 30, "half_up", -128, 127)


def test_lut_indexes_by_code_minus_qmin():
    table = np.clip(np.arange(256) - 100, -128, 127).astype(np.int8)
    x = np.arange(-128, 128, dtype=np.int8)
    prog = one_op_program("bpu.lut", [tensor_type(x.shape, "i8"), tensor_type((256,), "i8")],
                          tensor_type(x.shape, "i8"))
    (got,) = run(prog, x, table)
    assert got.tolist() == [int(table[int(v) + 128]) for v in x]
    x16 = codes((50,), -32768, 32767, np.int16)
    t16 = RNG.integers(-32768, 32767, size=65536).astype(np.int16)
    prog = one_op_program("bpu.lut", [tensor_type(x16.shape, "i16"), tensor_type((65536,), "i16")],
                          tensor_type(x16.shape, "i16"))
    (got,) = run(prog, x16, t16)
    assert got.tolist() == [int(t16[int(v) + 32768]) for v in x16]


POOLS = [  # kernel, stride, padding, ceil_mode, count_include_pad
    ((3, 3), (2, 2), (1, 1), False, True), ((3, 3), (2, 2), (1, 1), True, False), ((2, 3), (1, 2), (0, 1), True, True),
    ((2, 2), (2, 2), (0, 0), False, True),
]


@pytest.mark.parametrize("kernel,stride,padding,ceil,include", POOLS)
def test_max_pool2d_matches_torch(kernel, stride, padding, ceil, include):
    x = codes((2, 3, 7, 6))
    want = F.max_pool2d(t64(x), kernel, stride, padding, 1, ceil).numpy()
    prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"kernel_size": list(kernel), "stride": list(stride), "padding": list(padding),
                           "dilation": [1, 1], "ceil_mode": ceil})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, want.astype(np.int8))


@pytest.mark.parametrize("kernel,stride,padding,ceil,include", POOLS)
def test_avg_pool2d_divisors_and_rounding(kernel, stride, padding, ceil, include):
    x = codes((1, 2, 7, 6))
    want_avg = F.avg_pool2d(t64(x), kernel, stride, padding, ceil, include).numpy()
    window_sum = F.avg_pool2d(t64(x), kernel, stride, padding, ceil, include, divisor_override=1).numpy()
    divisors = sorted({int(round(s / a)) for s, a in zip(window_sum.ravel(), want_avg.ravel()) if a != 0}
                      | set(range(1, kernel[0] * kernel[1] + 1)))
    m, s = fixedpoint.quantize_multiplier([1.0 / n for n in divisors])  # s_in == s_out
    prog = one_op_program("bpu.avg_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want_avg.shape, "i8"),
                          {"kernel_size": list(kernel), "stride": list(stride), "padding": list(padding),
                           "ceil_mode": ceil, "count_include_pad": include, "divisors": ("array", divisors),
                           "multiplier": ("array", m.tolist()), "shift": ("array", s.tolist())})
    (got,) = run(prog, x)
    # oracle: torch's window sum and torch's divisor (sum / average), the op's (M, S) for that divisor
    for g, total, avg in zip(got.ravel(), window_sum.ravel(), want_avg.ravel()):
        n = int(round(total / avg)) if avg != 0 else None
        if n is None:  # a zero sum gives 0 whatever the divisor
            assert g == 0
            continue
        i = divisors.index(n)
        assert g == oracle_round(Fraction(int(total) * int(m[i]), 2 ** int(s[i])), "half_up")
    # and the result is the float average within half a step plus the multiplier's error
    assert np.max(np.abs(got - want_avg)) <= 0.5 + 1e-6


def test_avg_pool2d_missing_divisor_is_an_error():
    x = codes((1, 1, 5, 5))
    prog = one_op_program("bpu.avg_pool2d", [tensor_type(x.shape, "i8")], tensor_type((1, 1, 3, 3), "i8"),
                          {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": False,
                           "divisors": ("array", [9]), "multiplier": ("array", [1908874354]),
                           "shift": ("array", [34])})
    with pytest.raises(ReferenceRuntimeError, match=r"divisor\(s\) \[4, 6\] occur but have no multiplier"):
        run(prog, x)


def test_global_avg_pool():
    x = codes((2, 3, 5, 4))
    m, s = (int(v) for v in fixedpoint.quantize_multiplier(1 / 20))
    prog = one_op_program("bpu.global_avg_pool", [tensor_type(x.shape, "i8")], tensor_type((2, 3, 1, 1), "i8"),
                          {"multiplier": m, "shift": s, "rounding": "half_even"})
    (got,) = run(prog, x)
    sums = x.astype(np.int64).sum(axis=(2, 3)).ravel()
    assert got.ravel().tolist() == [oracle_round(Fraction(int(t) * m, 2**s), "half_even") for t in sums]


@pytest.mark.parametrize("size_in,size_out", [((3, 4), (6, 8)), ((4, 4), (2, 2)), ((5, 3), (5, 6))])
def test_nearest_resize_matches_torch(size_in, size_out):
    x = codes((1, 2, *size_in))
    want = F.interpolate(t64(x), size=size_out, mode="nearest").numpy()
    prog = one_op_program("bpu.resize", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"mode": "nearest"})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, want.astype(np.int8))


@pytest.mark.parametrize("corners,size_in,size_out", [(False, (3, 4), (6, 8)), (True, (3, 3), (5, 5)),
                                                      (False, (2, 5), (8, 20))])
def test_bilinear_resize_matches_torch_where_weights_are_exact(corners, size_in, size_out):
    # integer scale factors (and (in-1)/(out-1) = 1/2) make torch's float weights multiples of 2**-8, so
    # torch's float64 output times 2**16 is exactly our accumulator; M = 2^30, S = 46 divides it by 2**16
    x = codes((1, 2, *size_in))
    want = F.interpolate(t64(x), size=size_out, mode="bilinear", align_corners=corners).numpy()
    prog = one_op_program("bpu.resize", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"mode": "bilinear", "align_corners": corners, "frac_bits": 8, "multiplier": 2**30,
                           "shift": 46})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, np.floor(want + 0.5).astype(np.int8))


def test_data_movement_and_clamp():
    x = codes((2, 3, 4))
    for name, attrs, out_shape, want in [
        ("bpu.reshape", {}, (6, 4), x.reshape(6, 4)),
        ("bpu.permute", {"dims": [2, 0, 1]}, (4, 2, 3), x.transpose(2, 0, 1)),
        ("bpu.slice", {"dim": 2, "start": 1, "end": 4, "step": 2}, (2, 3, 2), x[:, :, 1:4:2]),
        ("bpu.clamp", {"min": 0, "max": 50}, (2, 3, 4), np.clip(x, 0, 50)),
    ]:
        prog = one_op_program(name, [tensor_type(x.shape, "i8")], tensor_type(out_shape, "i8"), attrs)
        (got,) = run(prog, x)
        np.testing.assert_array_equal(got, want)


def test_quantize_dequantize_boundaries():
    x = np.array([[-3.0, -0.0125, 0.0125, 0.0375, 1.0, 5.0]], dtype=np.float32)
    prog = one_op_program("bpu.quantize", [tensor_type(x.shape, "f32")], tensor_type(x.shape, "i8"),
                          {"scale": 0.025})
    (q,) = run(prog, x)
    # round half to even on float64(x) / 0.025, then saturation
    want = np.clip(np.rint(x.astype(np.float64) / 0.025), -128, 127)
    assert q.tolist() == want.astype(int).tolist() and q.dtype == np.int8
    acc = np.array([[1, -2, 3]], dtype=np.int32)
    prog = one_op_program("bpu.dequantize", [tensor_type(acc.shape, "i32")], tensor_type(acc.shape, "f32"),
                          {"scale": ("farray", [0.5, 0.1, 3e-5]), "axis": 1})
    (y,) = run(prog, acc)
    assert y.dtype == np.float32
    assert y[0].tolist() == np.float32(np.array([0.5, -0.2, 3 * 3e-5])).tolist()


def test_bad_inputs_name_the_problem():
    prog = one_op_program("bpu.clamp", [tensor_type((2, 2), "i8")], tensor_type((2, 2), "i8"), {"min": 0})
    with pytest.raises(ReferenceRuntimeError, match=r"input #0 has shape \[3\]"):
        run(prog, np.zeros(3, dtype=np.int8))
    with pytest.raises(ReferenceRuntimeError, match="outside"):
        run(prog, np.full((2, 2), 300))
    with pytest.raises(ReferenceRuntimeError, match="takes 1 input"):
        run(prog)


def test_softmax_exact_against_fractions():
    x = codes((3, 7))
    table = np.rint(np.exp(np.arange(-255, 1) * 0.05) * 2**15).astype(np.int32)
    m, s = 1073741824, 22  # 2^30 / 2^22 = 256 ~ 1 / s_out
    prog = one_op_program("bpu.softmax", [tensor_type(x.shape, "i8"), tensor_type((256,), "i32")],
                          tensor_type(x.shape, "i8"), {"dim": 1, "multiplier": m, "shift": s})
    (got,) = run(prog, x, table)
    for row, out in zip(x.astype(int), got):
        e = [int(table[v - row.max() + 255]) for v in row]
        want = [min(127, oracle_round(Fraction(ei * m, sum(e) * 2**s), "half_up")) for ei in e]
        assert out.tolist() == want


def test_layer_norm_exact_against_python_integers():
    x = codes((2, 3, 24))
    gamma = codes((24,), -127, 127)
    beta = RNG.integers(-50000, 50000, size=24).astype(np.int32)
    f, eps, m, s = 12, 5, 1518500250, 47
    prog = one_op_program("bpu.layer_norm", [tensor_type(x.shape, "i8"), tensor_type((24,), "i8"),
                                             tensor_type((24,), "i32")], tensor_type(x.shape, "i8"),
                          {"frac_bits": f, "eps": eps, "multiplier": m, "shift": s})
    (got,) = run(prog, x, gamma, beta)
    for row, out in zip(x.reshape(-1, 24).tolist(), got.reshape(-1, 24).tolist()):
        n = len(row)
        var_n2 = n * sum(v * v for v in row) - sum(row) ** 2 + eps
        root = math.isqrt(var_n2 << (2 * f))
        # z = (n x - sum) / sqrt(var_n2), to F bits: within one unit of the real value, rounded half up
        z = [oracle_round(Fraction((n * v - sum(row)) << (2 * f), root), "half_up") for v in row]
        for zi, v in zip(z, row):
            assert abs(zi - (n * v - sum(row)) * 2**f / math.sqrt(var_n2)) <= 1
        want = [max(-128, min(127, oracle_round(Fraction((zi * int(g) + int(b)) * m, 2**s), "half_up")))
                for zi, g, b in zip(z, gamma, beta)]
        assert out == want
