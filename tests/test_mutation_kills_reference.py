"""The reference runtime on cases mutation testing (bench/mutation.py) found unexercised.

Each case names the planted bug it catches; the oracles are torch in float64 (exact on these small
integer values) and Python integers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch.nn.functional as F
from irq.runtime.reference import run
from irq.runtime.reference.arithmetic import scaled_sum
from support.bpu_programs import one_op_program, tensor_type
from test_reference_ops import codes, t64
from test_reference_requantize import oracle_round


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
