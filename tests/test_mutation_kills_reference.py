"""The reference runtime on cases mutation testing (bench/mutation.py) found unexercised.

Each case names the planted bug it catches; the oracles are torch in float64 (exact on these small
integer values) and Python integers.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch.nn.functional as F
from irq.runtime.reference import run
from irq.runtime.reference.arithmetic import scaled_sum
from support.bpu_programs import one_op_program, tensor_type
from test_reference_ops import codes, t64
from test_reference_requantize import oracle_round

from irq import fixedpoint


@pytest.mark.parametrize("xs,ws,stride,padding,outpad", [
    # padding and output width share bits (1 & 9): catches cropping at `pw | ow` instead of `pw + ow`
    ((1, 2, 4, 5), (2, 3, 3, 3), (2, 2), (1, 1), (0, 0)),
    # output_padding > padding: the crop `pad + out` is larger than the scatter's extent;
    # catches a buffer sized by `pad - out`
    ((1, 2, 3, 4), (2, 2, 2, 3), (2, 3), (0, 0), (1, 2)),
    # (w - 1) * s and the kernel extent share bits (1 and 3), padding > output_padding: catches a buffer
    # sized by `(w - 1) * s ^ extent` (2, not 4: the scatter no longer fits)
    ((1, 2, 2, 2), (2, 2, 3, 3), (1, 1), (1, 1), (0, 0)),
])
def test_conv_transpose2d_crop_and_buffer_extent(xs, ws, stride, padding, outpad):
    x, w = codes(xs), codes(ws, -127, 127)
    want = F.conv_transpose2d(t64(x), t64(w), None, stride, padding, outpad).numpy()
    prog = one_op_program("bpu.conv_transpose2d", [tensor_type(xs, "i8"), tensor_type(ws, "i8")],
                          tensor_type(want.shape, "i32"),
                          {"stride": list(stride), "padding": list(padding), "output_padding": list(outpad),
                           "dilation": [1, 1], "groups": 1})
    (got,) = run(prog, x, w)
    np.testing.assert_array_equal(got, want.astype(np.int64))


@pytest.mark.parametrize("size,kernel", [(6, 3), (5, 2)])
def test_max_pool2d_ceil_mode_last_window_past_the_input(size, kernel):
    """ceil_mode adds a last window that reads past the input (no padding): catches the extra bottom/right
    padding computed from a wrong kernel extent (`k & 1` for `k - 1`)."""
    x = codes((1, 2, size, size))
    want = F.max_pool2d(t64(x), kernel, 2, 0, 1, True).numpy()
    assert want.shape[-1] == (size - kernel + 1) // 2 + 1  # the ceil_mode window exists
    prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"kernel_size": [kernel, kernel], "stride": [2, 2], "padding": [0, 0],
                           "dilation": [1, 1], "ceil_mode": True})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, want.astype(np.int8))


def test_max_pool2d_ceil_mode_window_needs_more_than_the_padding():
    """A 3-wide input, padding 1, kernel 3, stride 3, ceil_mode: the last window needs 2 columns of right
    padding, more than `padding`, and the padded width is twice the input's; catches that extent computed
    modulo the width (`need % w`): the short slice broadcasts a real column into the padding's place."""
    x = codes((2, 3, 5, 3))
    want = F.max_pool2d(t64(x), 3, 3, 1, 1, True).numpy()
    assert want.shape[-1] == 2
    prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"kernel_size": [3, 3], "stride": [3, 3], "padding": [1, 1],
                           "dilation": [1, 1], "ceil_mode": True})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, want.astype(np.int8))


def test_bilinear_resize_align_corners_to_one_pixel_divides_by_nothing():
    """align_corners to a 1-pixel output samples input[0, 0] (torch's rule), with no division by
    out_size - 1 = 0 (numpy would warn and give 0 by luck): catches the `out_size > 1` guard loosened."""
    x = codes((1, 2, 4, 3))
    want = F.interpolate(t64(x), size=(1, 1), mode="bilinear", align_corners=True).numpy()
    prog = one_op_program("bpu.resize", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"mode": "bilinear", "align_corners": True, "frac_bits": 8, "multiplier": 2**30,
                           "shift": 46})
    with np.errstate(all="raise"):
        (got,) = run(prog, x)
    np.testing.assert_array_equal(got, np.floor(want + 0.5).astype(np.int8))
    np.testing.assert_array_equal(got[..., 0, 0], x[..., 0, 0])


@pytest.mark.parametrize("shift", [1, 20, 40])
def test_scaled_sum_beyond_int64_is_exact_then_clipped_to_int64(shift):
    """Products past int64 take the Python-integer path; a result outside int64 is clipped to int64's
    range (the caller then saturates to the storage type), not wrapped or an OverflowError."""
    x = np.array([2**40, -(2**40), 12345, 0], dtype=np.int64)
    m = np.array(2**31 - 1, dtype=np.int64)
    got = scaled_sum([(x, m)], np.array(shift), "half_up")
    assert got.dtype == np.int64
    want = [min(max(oracle_round(Fraction(int(v) * int(m), 2**shift), "half_up"), -(2**63)), 2**63 - 1)
            for v in x]
    assert got.tolist() == want


def test_the_entry_function_is_chosen_by_its_exact_name():
    """`main` by default, else the named one, never a function whose name merely sorts before it."""
    import irq

    prog = irq.parse_module(
        "func.func @helper(%a: tensor<2xi8>) -> tensor<2xi8> {\n  func.return %a : tensor<2xi8>\n}\n"
        "func.func @main(%a: tensor<2xi8>, %b: tensor<2xi8>) -> tensor<2xi8> {\n  func.return %b : tensor<2xi8>\n}\n"
        "func.func @zeta(%a: tensor<2xi8>, %b: tensor<2xi8>) -> tensor<2xi8> {\n  func.return %a : tensor<2xi8>\n}\n"
    )
    x, y = np.array([1, 2], dtype=np.int8), np.array([3, 4], dtype=np.int8)
    (got,) = run(prog, x, y)
    assert got.tolist() == [3, 4]
    (got,) = run(prog, x, y, entry="zeta")
    assert got.tolist() == [1, 2]
    (got,) = run(prog, x, entry="helper")
    assert got.tolist() == [1, 2]


def test_relu_clamp_with_only_a_lower_bound() -> None:
    """A fused relu lowers to requantize with `min = 0` and no `max`: catches the clamp applied only when
    both bounds (or only the upper one) are given, which lets negative codes through a relu."""
    from test_reference_requantize import ALL_INT8, oracle, requantize

    for mode in ("half_up", "half_even"):
        got = requantize(ALL_INT8, "i8", "i8", 2**30, 30, mode, lo=0)
        assert got == oracle(ALL_INT8, 2**30, 30, mode, "i8", 0, None)
        assert min(got) == 0 and max(got) == 127


def test_per_channel_dequantize_with_two_channels() -> None:
    """Two per-channel scales are per channel, not one scale: catches `size > 1` as `size > 2` (or any
    test on the count that sends a short scale list down the per-tensor path)."""
    acc = np.array([[[1, -2, 3], [4, 5, -6]]], dtype=np.int32)
    prog = one_op_program("bpu.dequantize", [tensor_type(acc.shape, "i32")], tensor_type(acc.shape, "f32"),
                          {"scale": ("farray", [0.5, 0.25]), "axis": 1})
    (y,) = run(prog, acc)
    np.testing.assert_array_equal(y, np.float32([[[0.5, -1.0, 1.5], [1.0, 1.25, -1.5]]]))


def _layer_norm_oracle(row: list[int], gamma, beta, f: int, g: int, eps: int, m: int, s: int) -> list[int]:
    """bpu.layer_norm's documented semantics in Python integers (dialects/bpu.py)."""
    n = len(row)
    s1 = sum(row)
    v = n * sum(x * x for x in row) - s1 * s1 + eps
    r = max(1, math.isqrt(v << (2 * g)))
    out = []
    for x, ga, be in zip(row, gamma, beta):
        z = (2 * ((n * x - s1) << (f + g)) + r) // (2 * r)
        out.append(max(-128, min(127, oracle_round(Fraction((z * int(ga) + int(be)) * m, 2**s), "half_up"))))
    return out


@pytest.mark.parametrize("eps", [1, 0b1011_0110_1101, 3 * 2**20 + 5])
def test_layer_norm_eps_enters_the_variance(eps: int) -> None:
    """eps is added to n^2 var: with eps of the statistics' size (a near-constant row, the case eps exists
    for) it changes every output. Catches `+ eps` as `^ eps` or `| eps` (equal only when no bit is shared)."""
    rng = np.random.default_rng(3)
    x = np.stack([rng.integers(-3, 4, size=16), np.full(16, 7), rng.integers(-128, 128, size=16)]).astype(np.int8)
    gamma = rng.integers(-127, 128, size=16).astype(np.int8)
    beta = rng.integers(-5000, 5000, size=16).astype(np.int32)
    f, g, m, s = 12, 12, 1518500250, 40
    prog = one_op_program("bpu.layer_norm", [tensor_type(x.shape, "i8"), tensor_type((16,), "i8"),
                                             tensor_type((16,), "i32")], tensor_type(x.shape, "i8"),
                          {"frac_bits": f, "eps": eps, "multiplier": m, "shift": s})
    (got,) = run(prog, x, gamma, beta)
    for row, out in zip(x.tolist(), got.tolist()):
        assert out == _layer_norm_oracle(row, gamma, beta, f, g, eps, m, s)


CEIL_POOLS = [(h, k, s, p) for h in range(4, 10) for k in (2, 3) for s in (2, 3) for p in (0, 1) if p <= k // 2]


@pytest.mark.parametrize("h,k,s,p", CEIL_POOLS)
def test_ceil_mode_pools_match_torch_on_every_small_geometry(h: int, k: int, s: int, p: int) -> None:
    """ceil_mode max and average pools over every input size 4..9 with kernel 2/3, stride 2/3, padding 0/1
    against torch: the last window may start in the padding or run past it, which the reference covers by
    extra padding sized from (out - 1) * stride + the kernel extent. Catches that size computed with a
    wrong operator (`(out - 1) | stride`), which leaves the last window short or misplaced."""
    x = np.random.default_rng(h * 100 + k * 10 + s + p).integers(-128, 128, size=(1, 2, h, h + 1)).astype(np.int8)
    want = F.max_pool2d(t64(x), k, s, p, 1, True).numpy()
    prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"kernel_size": [k, k], "stride": [s, s], "padding": [p, p], "dilation": [1, 1],
                           "ceil_mode": True})
    (got,) = run(prog, x)
    np.testing.assert_array_equal(got, want.astype(np.int8))
    for include in (True, False):
        total = F.avg_pool2d(t64(x), k, s, p, True, include, divisor_override=1).numpy()
        avg = F.avg_pool2d(t64(x), k, s, p, True, include).numpy()
        divisors = list(range(1, k * k + 1))
        m, sh = fixedpoint.quantize_multiplier([1.0 / n for n in divisors])
        prog = one_op_program("bpu.avg_pool2d", [tensor_type(x.shape, "i8")], tensor_type(avg.shape, "i8"),
                              {"kernel_size": [k, k], "stride": [s, s], "padding": [p, p], "ceil_mode": True,
                               "count_include_pad": include, "divisors": ("array", divisors),
                               "multiplier": ("array", m.tolist()), "shift": ("array", sh.tolist())})
        (got,) = run(prog, x)
        for gv, t, a in zip(got.ravel(), total.ravel(), avg.ravel()):
            if a == 0:
                assert gv == 0
                continue
            i = divisors.index(int(round(t / a)))
            assert gv == oracle_round(Fraction(int(t) * int(m[i]), 2 ** int(sh[i])), "half_up")


def test_an_empty_batch_requantizes_to_an_empty_result() -> None:
    """A zero-size tensor (an empty batch) flows through requantize: catches the accumulator bound taking
    max() of an empty array (a ValueError) when the empty case is not answered first."""
    from test_reference_requantize import requantize

    assert requantize(np.zeros(0, dtype=np.int32), "i32", "i8", 2**30, 31, "half_up") == []


@pytest.mark.parametrize("xs,ws,stride,padding,outpad,dilation", [
    # input width 2, stride 2, padding > output_padding: the scatter needs (w - 1) * s + extent columns,
    # more than the crop; catches `(w - 1) ** s` (1 < 2) sizing the buffer
    ((1, 2, 3, 2), (2, 2, 3, 3), (2, 2), (1, 1), (0, 0), (1, 1)),
    # dilation 2: taps scatter at j * 2; catches `j // dw` in the scatter's slice bounds
    ((1, 2, 3, 4), (2, 3, 2, 3), (1, 2), (0, 1), (0, 1), (2, 2)),
])
def test_conv_transpose2d_narrow_and_dilated(xs, ws, stride, padding, outpad, dilation):
    x, w = codes(xs), codes(ws, -127, 127)
    want = F.conv_transpose2d(t64(x), t64(w), None, stride, padding, outpad, 1, dilation).numpy()
    prog = one_op_program("bpu.conv_transpose2d", [tensor_type(xs, "i8"), tensor_type(ws, "i8")],
                          tensor_type(want.shape, "i32"),
                          {"stride": list(stride), "padding": list(padding), "output_padding": list(outpad),
                           "dilation": list(dilation), "groups": 1})
    (got,) = run(prog, x, w)
    np.testing.assert_array_equal(got, want.astype(np.int64))


@pytest.mark.parametrize("xs,ws", [((1, 3, 2, 2), (2, 3, 1, 1)), ((2, 3, 4, 5), (4, 3, 3, 3)),
                                   ((1, 1, 2, 3), (1, 1, 2, 2))])
def test_conv2d_bias_is_added_per_output_channel(xs, ws):
    """bias[k] goes to every position of output channel k: catches the bias reshaped along another axis,
    which numpy broadcasts silently when that axis happens to have the same length (2 channels, 2 rows)."""
    x, w = codes(xs), codes(ws, -127, 127)
    b = np.arange(1, ws[0] + 1, dtype=np.int32) * 1000
    pad = ws[2] // 2
    want = F.conv2d(t64(x), t64(w), t64(b), 1, pad).numpy()
    prog = one_op_program("bpu.conv2d", [tensor_type(xs, "i8"), tensor_type(ws, "i8"), tensor_type(b.shape, "i32")],
                          tensor_type(want.shape, "i32"),
                          {"stride": [1, 1], "padding": [pad, pad], "dilation": [1, 1], "groups": 1},
                          keywords={2: "bias"})
    (got,) = run(prog, x, w, b)
    np.testing.assert_array_equal(got, want.astype(np.int64))


def test_softmax_divides_exactly_where_float64_would_round_up() -> None:
    """bpu.softmax's ``floor((2 e M + sum 2**S) / (2 sum 2**S))`` is an integer division: with these table
    entries and (M, S) the quotient is 25,845.99999999999..., which a float64 division rounds to 25,846
    (numerator past 2**53). Catches `//` computed as `/` (then truncated on store): one code off."""
    e0, e1, m, s = 202_610_503, 202_422_058, 846_511_497, 14
    table = np.zeros(256, dtype=np.int32)
    table[255], table[254] = e0, e1  # d = 0 and d = -1 (index d + qmax - qmin)
    x = np.array([[0, -1]], dtype=np.int8)
    prog = one_op_program("bpu.softmax", [tensor_type(x.shape, "i8"), tensor_type((256,), "i32")],
                          tensor_type(x.shape, "i16"), {"dim": 1, "multiplier": m, "shift": s})
    (got,) = run(prog, x, table)
    den = (e0 + e1) * 2**s
    want = [(2 * e * m + den) // (2 * den) for e in (e0, e1)]
    assert want[0] == 25_845 and float(2 * e0 * m + den) / float(2 * den) == 25_846.0
    assert got.tolist() == [want]


@pytest.mark.parametrize("axis", [-1, 3])
def test_per_channel_requantize_along_the_last_axis_of_a_rank_4_tensor(axis: int) -> None:
    """A linear over the last dim of a 4-D activation requantizes per channel along axis -1 (= 3): catches
    the axis normalized as `axis ** rank` instead of `axis % rank` (equal for ranks 2 and 3, not 4)."""
    from test_reference_requantize import oracle

    acc = np.arange(-24, 24, dtype=np.int32).reshape(1, 2, 4, 6) * 1000
    shifts = [28, 29, 30, 31, 32, 33]
    prog = one_op_program("bpu.requantize", [tensor_type(acc.shape, "i32")], tensor_type(acc.shape, "i8"),
                          {"multiplier": ("array", [2**30] * 6), "shift": ("array", shifts), "axis": axis})
    (y,) = run(prog, acc)
    for c, s in enumerate(shifts):
        assert y[..., c].ravel().tolist() == oracle(acc[..., c].ravel(), 2**30, s, "half_up", "i8")


def test_max_pool2d_with_dilation_matches_torch() -> None:
    """Dilated max pooling reads taps `i * dilation` apart: catches `i ** dilation` (equal for dilation 1)."""
    x = np.random.default_rng(9).integers(-128, 128, size=(1, 2, 9, 10)).astype(np.int8)
    for ceil in (False, True):
        want = F.max_pool2d(t64(x), 3, 2, 1, 2, ceil).numpy()
        prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                              {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [2, 2],
                               "ceil_mode": ceil})
        (got,) = run(prog, x)
        np.testing.assert_array_equal(got, want.astype(np.int8))


def test_conv_transpose2d_bias_is_added_per_output_channel() -> None:
    """As for conv2d: 2 output channels and 2 output rows, where a bias reshaped along the rows broadcasts."""
    x, w = codes((1, 3, 1, 2)), codes((3, 2, 2, 2), -127, 127)
    b = np.array([1000, -2000], dtype=np.int32)
    want = F.conv_transpose2d(t64(x), t64(w), t64(b)).numpy()
    assert want.shape[1:3] == (2, 2)
    prog = one_op_program("bpu.conv_transpose2d", [tensor_type(x.shape, "i8"), tensor_type(w.shape, "i8"),
                                                   tensor_type(b.shape, "i32")], tensor_type(want.shape, "i32"),
                          {"stride": [1, 1], "padding": [0, 0], "output_padding": [0, 0], "dilation": [1, 1],
                           "groups": 1}, keywords={2: "bias"})
    (got,) = run(prog, x, w, b)
    np.testing.assert_array_equal(got, want.astype(np.int64))


def test_the_only_function_is_found_among_other_top_level_ops() -> None:
    """A module may hold other top-level ops (metadata, unregistered ops) next to its one function: that
    function runs. Catches the function filter inverted or dropped (the other op taken as the entry)."""
    import irq

    prog = irq.parse_module('"t.meta"() {note = "calibrated"} : () -> ()\n'
                            "func.func @f(%a: tensor<2xi8>) -> tensor<2xi8> {\n  func.return %a : tensor<2xi8>\n}\n")
    (got,) = run(prog, np.array([1, -2], dtype=np.int8))
    assert got.tolist() == [1, -2]


@pytest.mark.parametrize("mode", ["half_up", "half_even", "half_away", "floor"])
def test_add_sub_with_small_multipliers_follow_the_formula(mode):
    """(a Ma +- b Mb) rounded by 2**-S with S = 2: each unit of Mb moves the result by b / 4, so a multiplier
    off by one (`sign * mb` as `sign ^ mb`: 5 -> 4 for add, -5 -> -6 for sub) changes most outputs, where
    the 31-bit multipliers of converted models hide it below the rounding. Oracle: Python integers."""
    a, b = codes((2, 3, 4)), codes((2, 3, 4))
    for name, sign in (("bpu.add", 1), ("bpu.sub", -1)):
        prog = one_op_program(name, [tensor_type(a.shape, "i8"), tensor_type(b.shape, "i8")],
                              tensor_type(a.shape, "i16"),
                              {"lhs_multiplier": 3, "rhs_multiplier": 5, "shift": 2, "rounding": mode})
        (got,) = run(prog, a, b)
        want = [oracle_round(Fraction(int(x) * 3 + sign * int(y) * 5, 4), mode) for x, y in zip(a.ravel(), b.ravel())]
        assert got.ravel().tolist() == want, name


@pytest.mark.parametrize("bad", [6, 9, -1])
def test_embedding_index_outside_the_table_is_named_in_the_error(bad):
    """Indices 1..5 of a 6-row table plus one bad index: the reference runtime must refuse it with a
    ValueError naming that index (not numpy's IndexError, not another index). Catches the upper bound
    written `> rows` (index 6 slips through to numpy) and the reported index chosen by `min() != 0`
    (every index is >= 1 here, so the minimum, 1, would be named)."""
    from support.bpu_text import ProgramText

    codes = np.arange(30).reshape(6, 5) - 15
    ids = np.array([[1, 2, 3], [4, 5, bad]], dtype=np.int64)
    p = ProgramText([("ids", ids.shape, "i64")])
    p.const("t", codes, "i8")
    p.op("y", "bpu.embedding", ["ids", "t"], ((*ids.shape, 5), "i8"), {"multiplier": ("array", [2**30]),
                                                                       "shift": ("array", [30])})
    with pytest.raises(ValueError, match=rf"index {bad} is outside the table's 6 rows"):
        run(p.module(["y"]), ids)


@pytest.mark.parametrize("dtype, value", [("i8", 128), ("i8", -129), ("i8", 255), ("i16", 32768), ("i16", -40000)])
def test_integer_input_codes_outside_their_storage_type_are_refused(dtype, value):
    """Codes handed to a program must fit its input type: 128 for an i8 input would wrap to -128 in the cast
    (a wrong number without an error). Catches the range computed from another bit count (`itemsize * 9`
    accepts -256..255, and `astype` wraps). The edge codes themselves are accepted."""
    from irq.runtime.reference.interpreter import ReferenceRuntimeError

    lo, hi = fixedpoint.qrange(dtype)
    prog = one_op_program("bpu.clamp", [tensor_type((1, 3), dtype)], tensor_type((1, 3), dtype), {"min": 0})
    (ok,) = run(prog, np.array([[lo, 0, hi]], dtype=np.int64))
    assert ok.tolist() == [[0, 0, hi]]
    with pytest.raises(ReferenceRuntimeError, match="codes outside"):
        run(prog, np.array([[0, value, 1]], dtype=np.int64))


def test_pool_attributes_with_one_value_apply_to_both_sides():
    """bpu pool attributes may hold one value for both sides (`kernel_size = [2]`, as torch's `kernel_size=2`):
    the runtime reads it as (2, 2). Catches the one-value test written `len(v) < 1` (IndexError on v[1]).
    Oracle: torch's max_pool2d in float64 on the codes."""
    x = codes((1, 2, 6, 6))
    want = F.max_pool2d(t64(x), 2, 2, 1).numpy()
    prog = one_op_program("bpu.max_pool2d", [tensor_type(x.shape, "i8")], tensor_type(want.shape, "i8"),
                          {"kernel_size": [2], "stride": [2], "padding": [1]})
    (got,) = run(prog, x)
    assert got.tolist() == want.astype(np.int64).tolist()
