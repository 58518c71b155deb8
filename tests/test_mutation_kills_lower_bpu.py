"""lower-bpu on cases mutation testing (bench/mutation.py, target `lower-bpu`) found unexercised.

Each test names the planted bug it catches. Oracles: the exact integer bound an accumulator must hold,
torch float64 on the frozen graph's dequantized values (within one output step), and the refusal a
user must see instead of a silently different number.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from irq.runtime.reference import run
from support.frozen import FrozenBuilder
from test_embedding_quant import TokenModel, quantize
from test_lower_bpu import assert_within_one_step, lower, qdq

import irq
from irq import fixedpoint as fp
from irq.march_profiles import register_march
from irq.transform.pass_base import PassFailure


@pytest.mark.parametrize("k", [2, 3])
def test_int16_matmul_accumulates_in_int64(k: int) -> None:
    """Two int16 operands: K * 32768 * 32768 >= 2**31 already for K = 2, so the accumulator is int64 and
    the product exact. Catches the bound computed as `k + ...` or from the batch dim instead of K."""
    b = FrozenBuilder([("a", (1, 2, k)), ("c", (1, k, 2))])  # batch 1: K, not the batch, sets the bound
    mm = b.op("hl.matmul", [b.qdq("a", 2.0**-12, "i16"), b.qdq("c", 2.0**-12, "i16")], (1, 2, 2),
              attrs='owner = "mm"')
    m = lower(b.module([b.qdq(mm, 2.0**-6, "i16")]))
    (acc,) = [op for op in m.walk() if op.name == "bpu.matmul"]
    assert acc.results[0].type.element_type.width == 64
    rng = np.random.default_rng(k)
    a = (rng.uniform(-7.9, 7.9, size=(1, 2, k))).astype(np.float32)  # near the int16 range at 2**-12
    c = (rng.uniform(-7.9, 7.9, size=(1, k, 2))).astype(np.float32)
    (got,) = run(m, a, c)
    want = qdq(a, 2.0**-12, "i16") @ qdq(c, 2.0**-12, "i16")
    assert_within_one_step(got, want, 2.0**-6, "i16")


def test_int16_matmul_past_the_requantize_limit_is_refused() -> None:
    """K = 4 int16 products reach 2**32, past what requantize's int64 product holds: refused, not wrapped."""
    b = FrozenBuilder([("a", (1, 2, 4)), ("c", (1, 4, 2))])
    mm = b.op("hl.matmul", [b.qdq("a", 2.0**-12, "i16"), b.qdq("c", 2.0**-12, "i16")], (1, 2, 2),
              attrs='owner = "mm"')
    with pytest.raises(PassFailure, match="too large to requantize"):
        lower(b.module([b.qdq(mm, 2.0**-6, "i16")]))


@pytest.mark.parametrize("mode", ["bicubic", "area", "nearest-exact", "trilinear"])
def test_interpolate_modes_other_than_nearest_and_bilinear_are_refused(mode: str) -> None:
    """Only nearest and bilinear have integer semantics: any other mode is named in the error. Catches the
    mode test written as an ordering (`mode < "bilinear"` lets bicubic and area through as bilinear)."""
    b = FrozenBuilder([("x", (1, 2, 4, 4))])
    y = b.op("hl.interpolate", [b.qdq("x", 0.05)], (1, 2, 8, 8),
             attrs=f'size = [8, 8], mode = "{mode}", align_corners = false, owner = "up"')
    with pytest.raises(PassFailure, match=f"interpolate mode '{mode}' is not supported"):
        lower(b.module([b.qdq(y, 0.05)]))


def test_global_mean_and_a_mean_over_other_dims_both_lower() -> None:
    """x.mean((2, 3), keepdim=True) of a 4-D activation is a global average pool; a mean over other dims
    (channels here, tokens in a ViT) is the same sum and one requantize over a permuted view. Catches the
    rank/dims test inverted into an ordering, and a wrong permutation or divisor on the general route."""
    b = FrozenBuilder([("x", (1, 3, 4, 4))])
    y = b.op("hl.mean", [b.qdq("x", 0.05)], (1, 3, 1, 1), attrs='dim = [2, 3], keepdim = true, owner = "gap"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float32)
    (got,) = run(m, x)
    assert_within_one_step(got, qdq(x, 0.05).mean(axis=(2, 3), keepdims=True), 0.01, exact_fraction=0.5)
    b = FrozenBuilder([("x", (2, 3, 4, 4))])
    y = b.op("hl.mean", [b.qdq("x", 0.05)], (2, 1, 4, 4), attrs='dim = [1], keepdim = true, owner = "cm"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32)
    (got,) = run(m, x)
    assert got.shape == (2, 1, 4, 4)
    assert_within_one_step(got, qdq(x, 0.05).mean(axis=1, keepdims=True), 0.01, exact_fraction=0.5)


def test_an_int32_high_precision_output_cannot_feed_another_op() -> None:
    """A linear without an output qcast keeps its int32 accumulator, per channel: a model output only.
    Feeding it to another op is refused by name (catches the check dropped: the add would then rescale
    int32 accumulators as if they were int8 codes). An int32 qcast of an activation is refused earlier,
    by the qcast itself."""
    b = FrozenBuilder([("x", (3, 16))])
    w = np.random.default_rng(4).standard_normal((5, 16)) * 0.2
    y = b.op("hl.linear", [b.qdq("x", 0.03), b.weight(w, np.abs(w).max(axis=1) / 127)], (3, 5), attrs='owner = "fc"')
    z = b.op("hl.add", [y, y], (3, 5), attrs='owner = "add"')
    with pytest.raises(PassFailure, match="int32 high-precision output"):
        lower(b.module([b.qdq(z, 0.1)]))
    b = FrozenBuilder([("x", (3, 16))])
    z = b.op("hl.add", [b.qdq("x", 0.03, "i32"), b.qdq("x", 0.03, "i32")], (3, 16), attrs='owner = "add"')
    with pytest.raises(PassFailure, match="activations are i8 or i16, got i32"):
        lower(b.module([b.qdq(z, 0.1)]))


# -- accumulator widths at the int32 boundary --------------------------------------------------------------------
# int16 activations (max |x| = 32768) and int8 weights whose largest code is 127: K products fit int32 up to
# K = 516 (516 * 32768 * 127 = 2,147,352,576 < 2**31) and need int64 from K = 517. K is the number of products
# per output: in_channels / groups * kh * kw for both convolutions (conv_transpose2d's weight is laid out
# (in, out / groups, kh, kw)). An int32 accumulator below the bound wraps silently; one above it is slower.
_WIDTH_CASES = [
    # kind, in_channels, groups, kh, kw, expected width
    ("conv2d", 43, 1, 3, 4, 32),
    ("conv2d", 47, 1, 11, 1, 64),
    ("conv2d", 47, 1, 1, 11, 64),
    ("conv2d", 86, 2, 3, 4, 32),
    ("conv2d", 94, 2, 11, 1, 64),
    ("conv_transpose2d", 43, 1, 3, 4, 32),
    ("conv_transpose2d", 86, 2, 3, 4, 32),
    ("conv_transpose2d", 94, 2, 11, 1, 64),
    ("conv_transpose2d", 94, 2, 1, 11, 64),
]


@pytest.mark.parametrize("kind,cin,groups,kh,kw,width", _WIDTH_CASES)
def test_convolution_accumulator_is_the_narrowest_that_holds_its_products(kind, cin, groups, kh, kw, width):
    """Catches the reduction K computed wrongly in lowering (an operator swapped in `Cin * kh * kw`, groups
    shifted instead of divided, a kernel dimension divided out): the width then flips on one side of the
    boundary. The expected width comes from the bound in Python integers, not from irq.fixedpoint."""
    k = cin // groups * kh * kw
    assert (k * 32768 * 127 < 2**31) == (width == 32)
    rng = np.random.default_rng(k)
    if kind == "conv2d":
        cout = 2 * groups
        w = rng.standard_normal((cout, cin // groups, kh, kw))
        out = (1, cout, 1, 1)
    else:  # one output channel per group: a grouped transposed convolution takes one weight scale per group
        cout = groups
        w = rng.standard_normal((cin, 1, kh, kw))
        out = (1, cout, kh, kw)
    # one scale for every channel: the largest weight code is exactly 127
    s_w = np.full(w.shape[0] if kind == "conv2d" else 1, float(np.abs(w).max()) / 127)
    b = FrozenBuilder([("x", (1, cin, kh, kw) if kind == "conv2d" else (1, cin, 1, 1))])
    attrs = f'stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = {groups} : i64, owner = "c"'
    if kind == "conv_transpose2d":
        attrs += ", output_padding = [0, 0]"
    y = b.op(f"hl.{kind}", [b.qdq("x", 2.0**-10, "i16"), b.weight(w, s_w, axis=1 if kind != "conv2d" else 0)],
             out, attrs=attrs)
    m = lower(b.module([b.qdq(y, 2.0**-3, "i16")]))
    (acc,) = [op for op in m.walk() if op.name == f"bpu.{kind}"]
    assert acc.results[0].type.element_type.width == width


# -- adaptive average pooling to an output larger than 1x1 ---------------------------------------------------------
def test_adaptive_avg_pool_with_equal_windows_matches_torch() -> None:
    """8x6 -> 2x3 is avg_pool2d with kernel = stride = (4, 2): catches the window computed with another
    operator than `//` (h ** oh, h | oh, h & oh), padding added to the windows, and the divisibility test
    written as `h ^ oh` (which refuses this shape). Oracle: torch's adaptive_avg_pool2d in float64 on the
    dequantized input."""
    b = FrozenBuilder([("x", (2, 3, 8, 6))])
    y = b.op("hl.adaptive_avg_pool2d", [b.qdq("x", 0.05)], (2, 3, 2, 3), attrs='output_size = [2, 3], owner = "ap"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 6)).astype(np.float32)
    (got,) = run(m, x)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(qdq(x, 0.05)), (2, 3)).numpy()
    assert_within_one_step(got, want, 0.01, exact_fraction=0.9)


@pytest.mark.parametrize("shape,out", [((1, 2, 8, 7), (2, 3)), ((1, 2, 7, 6), (2, 3))])
def test_adaptive_avg_pool_with_uneven_windows_is_refused(shape, out) -> None:
    """Windows of different sizes have no single avg_pool2d: refused by name, whichever side is uneven
    (catches `or` turned into `and`, which lowers 8x7 -> 2x3 with windows that drop a column)."""
    b = FrozenBuilder([("x", shape)])
    y = b.op("hl.adaptive_avg_pool2d", [b.qdq("x", 0.05)], (1, 2, *out),
             attrs=f'output_size = [{out[0]}, {out[1]}], owner = "ap"')
    with pytest.raises(PassFailure, match="uneven windows"):
        lower(b.module([b.qdq(y, 0.01)]))


# -- the rounding option reaches every requantizing op -----------------------------------------------------------
def _graph_of_every_requantizing_op() -> tuple:
    b = FrozenBuilder([("a", (1, 2, 4, 4)), ("c", (1, 2, 4, 4))])
    ad, cd = b.qdq("a", 0.02), b.qdq("c", 0.035)
    shape = (1, 2, 4, 4)
    outs = [b.qdq(b.op(f"hl.{n}", [ad, cd], shape, attrs=f'owner = "{n}"'), 0.04) for n in ("add", "sub", "mul")]
    outs.append(b.qdq(b.op("hl.cat", [ad, cd], (1, 4, 4, 4), attrs='dim = 1 : i64, owner = "cat"'), 0.04))
    outs.append(b.qdq(b.op("hl.avg_pool2d", [ad], (1, 2, 2, 2),
                           attrs="kernel_size = [3, 3], stride = [2, 2], padding = [1, 1], ceil_mode = false, "
                                 'count_include_pad = false, owner = "ap"'), 0.03))
    outs.append(b.qdq(b.op("hl.adaptive_avg_pool2d", [ad], (1, 2, 2, 2), attrs='output_size = [2, 2], owner = "aa"'),
                      0.03))
    outs.append(b.qdq(b.op("hl.adaptive_avg_pool2d", [ad], (1, 2, 1, 1), attrs='output_size = [1, 1], owner = "g"'),
                      0.03))
    outs.append(b.qdq(b.op("hl.mean", [ad], (1, 1, 4, 4), attrs='dim = [1], keepdim = true, owner = "m"'), 0.03))
    for kind, c in (("mul_scalar", 0.7), ("mul_scalar", -0.7), ("div_scalar", 3.0)):
        outs.append(b.qdq(b.op(f"hl.{kind}", [ad], shape, attrs=f'other = {c} : f64, owner = "{kind}"'), 0.03))
    outs.append(b.qdq(b.op("hl.interpolate", [ad], (1, 2, 8, 8),
                           attrs='size = [8, 8], mode = "bilinear", align_corners = false, owner = "up"'), 0.02))
    outs.append(b.qdq(b.op("torch.reshape", [ad], (2, 16), attrs="shape = [2, 16]"), 0.01))
    outs.append(b.qdq(b.op("hl.layer_norm", [ad], shape, {"weight": b.const(np.linspace(0.5, 1.5, 4)),
                                                          "bias": b.const(np.linspace(-0.2, 0.2, 4))},
                           'normalized_shape = [4], eps = 1.0e-05 : f64, owner = "ln"'), 0.02))
    return b, outs


@pytest.mark.parametrize("rounding", ["half_even", "half_away", "floor"])
def test_the_rounding_option_reaches_every_requantizing_op(rounding: str) -> None:
    """lower-bpu{rounding=...} must change every rounding the program does, not only some: catches any op's
    `rounding != "half_up"` test turned into `==`, `>=` or `>` (the option then silently drops to half_up
    for that op, and the deployed numbers leave onnxruntime's at every tie)."""
    b, outs = _graph_of_every_requantizing_op()
    m = lower(b.module(outs), rounding=rounding)
    requantizing = [op for op in m.walk() if op.get_attr("shift") is not None]
    names = {op.name for op in requantizing}
    assert {"bpu.add", "bpu.sub", "bpu.mul", "bpu.avg_pool2d", "bpu.global_avg_pool", "bpu.requantize",
            "bpu.resize", "bpu.layer_norm"} <= names, names
    for op in requantizing:
        got = op.get_attr("rounding")
        assert got is not None and got.value == rounding, f"{op.name} rounds {got} under rounding={rounding}"


def test_scalar_multiply_and_divide_match_torch() -> None:
    """x * 0.7, x * -0.7 and x / 3: catches the multiplier computed as `s * c` with another operator
    (`s & c`, `s ** c`, `s * c` for a division), the negative branch's sign, and c's order of operations."""
    b, outs = _graph_of_every_requantizing_op()
    m = lower(b.module(outs[8:11]))
    a = np.random.default_rng(6).standard_normal((1, 2, 4, 4)).astype(np.float32)
    c = np.zeros_like(a)
    got = run(m, a, c)
    aq = qdq(a, 0.02)
    for g, want in zip(got, (aq * 0.7, aq * -0.7, aq / 3.0)):
        assert_within_one_step(g, want, 0.03, exact_fraction=0.9)


def test_a_requantize_to_a_finer_scale_is_not_skipped() -> None:
    """reshape passes codes through at 0.02; the qcast after it asks for 0.01, so the codes double. Catches
    the "same scale, nothing to do" test written as `>=` (a finer output scale would keep the coarse codes,
    reading every value as half of what it is)."""
    b = FrozenBuilder([("x", (1, 16))])
    y = b.op("torch.reshape", [b.qdq("x", 0.02)], (4, 4), attrs="shape = [4, 4]")
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.linspace(-1.2, 1.2, 16, dtype=np.float32).reshape(1, 16)
    (got,) = run(m, x)
    np.testing.assert_allclose(got, qdq(x, 0.02).reshape(4, 4), atol=1e-6)


@pytest.mark.parametrize("op,alpha", [("add", 2.0), ("sub", 0.5), ("add", -1.0)])
def test_add_sub_with_an_alpha_other_than_one_is_refused(op: str, alpha: float) -> None:
    """`a + alpha * b` has no integer form yet: refused by name instead of lowered as `a + b` (catches the
    alpha test written as an ordering, which lets alpha on one side of 1 through)."""
    b = FrozenBuilder([("a", (1, 4)), ("c", (1, 4))])
    y = b.op(f"hl.{op}", [b.qdq("a", 0.02), b.qdq("c", 0.02)], (1, 4), attrs=f'alpha = {alpha} : f64, owner = "x"')
    with pytest.raises(PassFailure, match=f"alpha = {alpha} is not supported"):
        lower(b.module([b.qdq(y, 0.04)]))


def test_int8_matmul_accumulates_in_int32() -> None:
    """K = 8 int8 products (8 * 128 * 128) fit int32: catches the bound test `bound < 2**31` with a wrong
    constant (every matmul then pays for int64)."""
    b = FrozenBuilder([("a", (2, 3, 8)), ("c", (2, 8, 4))])
    mm = b.op("hl.matmul", [b.qdq("a", 0.03), b.qdq("c", 0.04)], (2, 3, 4), attrs='owner = "mm"')
    m = lower(b.module([b.qdq(mm, 0.1)]))
    (acc,) = [op for op in m.walk() if op.name == "bpu.matmul"]
    assert acc.results[0].type.element_type.width == 32


def test_an_int64_accumulator_with_a_bias_past_the_requantize_limit_is_refused() -> None:
    """int16 input, K = 1032 products of 127: 1032 * 32768 * 127 = 4,294,705,152, 262,144 below 2**32, so
    the accumulator fits requantize's int64 product without a bias and not with a bias of 300,000 codes.
    Every weight is at the extreme code, so the per-channel bound is the per-tensor one. Catches the bias
    left out of (or shifted into) the bound checked before lowering."""
    w = np.where(np.random.default_rng(8).standard_normal((1, 1032)) < 0, -1.0, 1.0)
    s_w, s_x = float(np.abs(w).max()) / 127, 2.0**-10
    for bias_code, refused in ((0, False), (300_000, True)):
        b = FrozenBuilder([("x", (1, 1032))])
        keywords = {"bias": b.const(np.array([bias_code * s_x * s_w]))} if bias_code else None
        y = b.op("hl.linear", [b.qdq("x", s_x, "i16"), b.weight(w, np.array([s_w]))], (1, 1), keywords,
                 attrs='owner = "fc"')
        module = b.module([b.qdq(y, 2.0**-2, "i16")])
        if refused:
            with pytest.raises(PassFailure, match="too large to requantize"):
                lower(module)
        else:
            lower(module)


def test_the_requantize_bound_is_proved_per_output_channel() -> None:
    """int16 input, K = 1032: channel 0's codes are all 127 (its worst case 1032 * 32768 * 127 plus a bias of
    300,000 codes passes 2**32), channel 1's are small. Refused while channel 0 holds its bias, lowered when
    the bias moves to channel 1, whose own sum is far below the bound: each channel is proved with its own
    weights and its own bias (fp.channel_accumulator_bound). Catches the bound taken from one channel's
    weights and another's bias, or from the per-tensor maximum alone."""
    w = np.where(np.random.default_rng(9).standard_normal((2, 1032)) < 0, -1.0, 1.0)
    w[1] *= 0.25  # codes of 32: both channels share the scale 1 / 127
    s_w, s_x = 1.0 / 127, 2.0**-10
    for biased, refused in ((0, True), (1, False)):
        b = FrozenBuilder([("x", (1, 1032))])
        bias = np.zeros(2)
        bias[biased] = 300_000 * s_x * s_w
        y = b.op("hl.linear", [b.qdq("x", s_x, "i16"), b.weight(w, np.array([s_w, s_w]))], (1, 2),
                 {"bias": b.const(bias)}, attrs='owner = "fc"')
        module = b.module([b.qdq(y, 2.0**-2, "i16")])
        if refused:
            with pytest.raises(PassFailure, match="too large to requantize"):
                lower(module)
            continue
        m = lower(module)
        (acc,) = [op for op in m.walk() if op.name == "bpu.linear"]
        assert acc.results[0].type.element_type.width == 64
        # the worst input (every code at the extreme against channel 1's signs) runs exactly: int64 oracle
        x = (np.sign(w[1]) * 32.0).reshape(1, 1032).astype(np.float32)  # 32 / 2**-10 = 32768 -> clamps to 32767
        (got,) = run(m, x)
        codes_x = np.clip(np.rint(x.astype(np.float64) / s_x), -32768, 32767).astype(np.int64)
        codes_w = fp.quantize_weight(w, np.array([s_w, s_w]), axis=0).astype(np.int64)
        acc_ref = codes_x @ codes_w.T + np.rint(bias / (s_x * s_w)).astype(np.int64)
        want = np.clip(np.rint(acc_ref * (s_x * s_w) / 2.0**-2), -32768, 32767) * 2.0**-2
        assert np.allclose(got, want, atol=2.0**-2 + 1e-9)  # within one output step of the exact sum


# -- table lookups read their op's attributes ----------------------------------------------------------------------
@pytest.mark.parametrize("kind,attrs,fn", [
    ("gelu", 'approximate = "tanh"', lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    ("leaky_relu", "negative_slope = 0.25 : f64", lambda x: torch.nn.functional.leaky_relu(x, 0.25)),
    ("hardtanh", "min_val = -0.5 : f64, max_val = 0.75 : f64", lambda x: torch.nn.functional.hardtanh(x, -0.5, 0.75)),
    ("clamp", "min = -0.25 : f64", lambda x: torch.clamp(x, min=-0.25)),
])
def test_lookup_tables_use_the_ops_attributes(kind: str, attrs: str, fn) -> None:
    """The LUT of an element-wise op is its float function at every input code, so the program equals
    torch's function of the dequantized input, rounded to the output scale, exactly. Catches the attributes
    handed to irq.lut_functions as attribute objects instead of values (gelu's "tanh" then never matches
    and the erf form is tabulated; a slope or a bound is read wrongly)."""
    b = FrozenBuilder([("x", (1, 256))])
    y = b.op(f"hl.{kind}", [b.qdq("x", 0.02)], (1, 256), attrs=f'{attrs}, owner = "f"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    assert any(op.name == "bpu.lut" for op in m.walk())
    x = (np.arange(-128, 128, dtype=np.float32) * 0.02).reshape(1, 256)  # every int8 code once
    (got,) = run(m, x)
    want = np.clip(np.rint(fn(torch.from_numpy(qdq(x, 0.02))).numpy() / 0.01), -128, 127)
    np.testing.assert_array_equal(np.rint(got / 0.01), want)


def test_a_float_island_with_a_per_tensor_weight_uses_its_codes() -> None:
    """float-fallback keeps a convolution the march lacks in float, with its weight dequantized from the
    int8 codes. Catches the per-tensor branch (one scale repeated over the output channels) broken: until
    now every island's weight was per channel."""
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = "bayes_without_conv2d"  # the registry is restored after the test (tests/conftest.py)
    del data["ops"]["conv2d"]
    register_march(data)
    b = FrozenBuilder([("x", (1, 3, 6, 6))])
    w = np.random.default_rng(9).standard_normal((4, 3, 3, 3)) * 0.3
    s_w = float(np.abs(w).max()) / 127
    c = b.const(w)
    wt = w.shape
    per_tensor = f"tensor<4x3x3x3x!quant.uniform<i8<-127:127>:f32, {s_w!r}>>"
    b.lines.append(f"%wq = quant.qcast %{c} : tensor<4x3x3x3xf32> to {per_tensor}")
    b.lines.append(f"%wd = quant.dcast %wq : {per_tensor} to tensor<4x3x3x3xf32>")
    b.shapes["wd"] = wt
    y = b.op("hl.conv2d", [b.qdq("x", 0.02), "wd"], (1, 4, 6, 6),
             attrs='stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1 : i64, owner = "c"')
    m = b.module([b.qdq(y, 0.05)])
    irq.PassManager.parse("builtin.module(lower-bpu{float-fallback=true march=bayes_without_conv2d})").run(m)
    assert [op.name for op in m.walk() if op.dialect_name == "hl"] == ["hl.conv2d"]  # the island
    x = np.random.default_rng(10).standard_normal((1, 3, 6, 6)).astype(np.float32)
    (got,) = run(m, x)
    w_codes = np.clip(np.rint(w / s_w), -127, 127) * s_w
    want = torch.nn.functional.conv2d(torch.from_numpy(qdq(x, 0.02)), torch.from_numpy(w_codes), padding=1)
    assert_within_one_step(got, want.numpy(), 0.05, exact_fraction=0.95)


def test_a_dynamic_shape_is_refused_by_name() -> None:
    """lower-bpu needs every shape static (buffer sizes, multipliers per window): a `?` dim is an error that
    says so. Catches the check written with `and` (a dynamic tensor then lowers with a -1 in its type)."""
    b = FrozenBuilder([("x", ("?", 4))])
    y = b.op("hl.relu", [b.qdq("x", 0.02)], ("?", 4), attrs='owner = "r"')
    with pytest.raises(PassFailure, match="has no static shape"):
        lower(b.module([b.qdq(y, 0.02)]))


def test_quant_stub_on_the_float_input_is_the_identity() -> None:
    """QuantStub sits on the float input, before the first qcast: the stub's result is replaced by its
    input (it has no codes yet). Catches the two branches swapped (a KeyError on every model that starts
    with a QuantStub)."""
    b = FrozenBuilder([("x", (1, 8))])
    s = b.op("hl.quant_stub", ["x"], (1, 8), attrs='owner = "quant"')
    y = b.op("hl.dequant_stub", [b.qdq(s, 0.05)], (1, 8), attrs='owner = "dequant"')
    m = lower(b.module([y]))
    x = np.linspace(-3, 3, 8, dtype=np.float32).reshape(1, 8)
    (got,) = run(m, x)
    np.testing.assert_allclose(got, qdq(x, 0.05), atol=1e-6)


@pytest.fixture(scope="module")
def token_model():
    torch.manual_seed(0)
    return quantize(TokenModel().eval())[0]


def test_the_rounding_option_reaches_embedding_lookups(token_model) -> None:
    """irq.convert(..., rounding="half_even") on a token model: the embedding rows are requantized as they
    are gathered, with the program's rounding like every other op (catches embedding's rounding test
    written as `>=`: "half_even" sorts below "half_up", so the lookups alone kept half_up)."""
    program = irq.convert(token_model, march="nash", rounding="half_even")
    requantizing = [op for op in program.walk() if op.get_attr("shift") is not None]
    assert "bpu.embedding" in {op.name for op in requantizing}
    assert all(op.get_attr("rounding") is not None and op.get_attr("rounding").value == "half_even"
               for op in requantizing), [op.name for op in requantizing if op.get_attr("rounding") is None]


# -- means, chunks, fused activations, high-precision outputs ---------------------------------------------------
def test_means_over_other_dims_and_without_keepdim_match_numpy() -> None:
    """A 4-D mean over (1, 3) is not a global average pool (catches the (2, 3) test matching other dim
    lists), and a global mean without keepdim drops the 1x1 (catches the final reshape skipped or applied
    to the keepdim form)."""
    b = FrozenBuilder([("x", (2, 3, 4, 5))])
    xd = b.qdq("x", 0.05)
    y13 = b.qdq(b.op("hl.mean", [xd], (2, 1, 4, 1), attrs='dim = [1, 3], keepdim = true, owner = "m13"'), 0.01)
    y23 = b.qdq(b.op("hl.mean", [xd], (2, 3), attrs='dim = [2, 3], keepdim = false, owner = "m23"'), 0.01)
    m = lower(b.module([y13, y23]))
    x = np.random.default_rng(11).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got13, got23 = run(m, x)
    assert got13.shape == (2, 1, 4, 1) and got23.shape == (2, 3)
    assert_within_one_step(got13, qdq(x, 0.05).mean(axis=(1, 3), keepdims=True), 0.01, exact_fraction=0.5)
    assert_within_one_step(got23, qdq(x, 0.05).mean(axis=(2, 3)), 0.01, exact_fraction=0.5)


def test_chunk_along_a_later_dim_slices_that_dim() -> None:
    """torch.chunk(x, 2, dim=1): catches the `dim` attribute ignored (slicing dim 0, the batch)."""
    b = FrozenBuilder([("x", (2, 6))])
    xd = b.qdq("x", 0.05)
    b.lines.append(f"%p:2 = torch.chunk %{xd} {{chunks = 2 : i64, dim = 1 : i64}} : (tensor<2x6xf32>) -> "
                   "(tensor<2x3xf32>, tensor<2x3xf32>)")
    b.shapes["p#0"] = b.shapes["p#1"] = (2, 3)
    m = lower(b.module(["p#0", "p#1"]))
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6)
    first, second = run(m, x)
    np.testing.assert_allclose(first, qdq(x, 0.05)[:, :3], atol=1e-6)
    np.testing.assert_allclose(second, qdq(x, 0.05)[:, 3:], atol=1e-6)


def test_add_with_a_fused_relu_clamps_at_zero() -> None:
    """add(a, c) with activation = "relu": the clamp's lower bound is code 0 (catches the bound's test
    inverted, which drops min and lets negative sums through, or min written from the upper bound)."""
    b = FrozenBuilder([("a", (1, 16)), ("c", (1, 16))])
    y = b.op("hl.add", [b.qdq("a", 0.02), b.qdq("c", 0.03)], (1, 16), attrs='activation = "relu", owner = "add"')
    m = lower(b.module([b.qdq(y, 0.04)]))
    a = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    c = np.linspace(-1.5, 0.5, 16, dtype=np.float32).reshape(1, 16)
    (got,) = run(m, a, c)
    want = np.maximum(qdq(a, 0.02) + qdq(c, 0.03), 0)
    assert got.min() == 0
    assert_within_one_step(got, want, 0.04, lo=0)


@pytest.mark.parametrize("op,alpha", [("add", 1.0), ("sub", 1)])
def test_add_sub_with_alpha_one_lower(op: str, alpha) -> None:
    """An explicit alpha = 1 is the plain sum (catches the alpha test comparing against another constant,
    or as `<=` / `>=`, refusing it)."""
    b = FrozenBuilder([("a", (1, 4)), ("c", (1, 4))])
    kind = "f64" if isinstance(alpha, float) else "i64"
    y = b.op(f"hl.{op}", [b.qdq("a", 0.02), b.qdq("c", 0.02)], (1, 4), attrs=f'alpha = {alpha} : {kind}, owner = "x"')
    m = lower(b.module([b.qdq(y, 0.04)]))
    a = np.array([[0.1, -0.3, 0.5, 0.7]], dtype=np.float32)
    c = np.array([[0.2, 0.2, -0.4, 0.1]], dtype=np.float32)
    (got,) = run(m, a, c)
    want = qdq(a, 0.02) + qdq(c, 0.02) if op == "add" else qdq(a, 0.02) - qdq(c, 0.02)
    assert_within_one_step(got, want, 0.04, exact_fraction=0.75)


def test_conv2d_int32_high_precision_output_is_dequantized_per_output_channel() -> None:
    """A conv without an output qcast returns its int32 accumulator, dequantized along the channel axis 1
    (catches the axis normalized with `+` instead of `%`: axis 5 of a rank-4 output)."""
    b = FrozenBuilder([("x", (1, 2, 5, 5))])
    w = np.random.default_rng(12).standard_normal((3, 2, 3, 3)) * 0.3
    s_w = np.abs(w).reshape(3, -1).max(axis=1) / 127
    y = b.op("hl.conv2d", [b.qdq("x", 0.03), b.weight(w, s_w)], (1, 3, 3, 3),
             attrs='stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1 : i64, owner = "c"')
    m = lower(b.module([y]))
    x = np.random.default_rng(13).standard_normal((1, 2, 5, 5)).astype(np.float32)
    (got,) = run(m, x)
    w_codes = np.clip(np.rint(w / s_w.reshape(3, 1, 1, 1)), -127, 127) * s_w.reshape(3, 1, 1, 1)
    want = torch.nn.functional.conv2d(torch.from_numpy(qdq(x, 0.03)), torch.from_numpy(w_codes)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # exact integer sums, one float scaling


def test_a_16_bit_weight_is_refused_by_name() -> None:
    """Weights are int8 on the bpu: an int16 weight type is an error naming it (catches the width test
    written as `< 8`, which lowers int16 weight codes into an int8 constant)."""
    b = FrozenBuilder([("x", (1, 4))])
    w = np.random.default_rng(14).standard_normal((2, 4))
    c = b.const(w)
    wt = "tensor<2x4x!quant.uniform<i16:f32:0, {0.001,0.001}>>"
    b.lines.append(f"%wq = quant.qcast %{c} : tensor<2x4xf32> to {wt}")
    b.lines.append(f"%wd = quant.dcast %wq : {wt} to tensor<2x4xf32>")
    b.shapes["wd"] = (2, 4)
    y = b.op("hl.linear", [b.qdq("x", 0.02), "wd"], (1, 2), attrs='owner = "fc"')
    with pytest.raises(PassFailure, match="weights are int8"):
        lower(b.module([b.qdq(y, 0.05)]))


def test_float_fallback_keeps_an_op_whose_lowering_fails_and_rolls_back() -> None:
    """A layer norm over the last two dims cannot lower (integer statistics run over the last dim only);
    with float-fallback it stays in float between a dequantize and a quantize, and the program still
    equals torch on it (catches the LoweringError no longer caught: the whole conversion then fails)."""
    b = FrozenBuilder([("x", (2, 3, 4, 5))])
    y = b.op("hl.layer_norm", [b.qdq("x", 0.05)], (2, 3, 4, 5),
             attrs='normalized_shape = [4, 5], eps = 1.0e-05 : f64, owner = "ln"')
    m = b.module([b.qdq(y, 0.02)])
    irq.PassManager.parse("builtin.module(lower-bpu{float-fallback=true})").run(m)
    assert [op.name for op in m.walk() if op.dialect_name == "hl"] == ["hl.layer_norm"]
    x = np.random.default_rng(15).standard_normal((2, 3, 4, 5)).astype(np.float32)
    (got,) = run(m, x)
    want = torch.nn.functional.layer_norm(torch.from_numpy(qdq(x, 0.05)), (4, 5)).numpy()
    assert_within_one_step(got, want, 0.02, exact_fraction=0.9)


def test_a_relu_sharing_its_producers_quantizer_clamps_at_code_zero() -> None:
    """A relu without its own qcast (quant-annotate shares the producer's quantizer) is max(q, 0) on the
    codes: catches the clamp's bound written as another constant (-1 lets code -1 through, 1 loses zero)."""
    b = FrozenBuilder([("x", (1, 16))])
    r = b.op("hl.relu", [b.qdq("x", 0.05)], (1, 16), attrs='owner = "r"')
    y = b.op("torch.reshape", [r], (4, 4), attrs="shape = [4, 4]")
    m = lower(b.module([b.qdq(y, 0.05)]))
    x = np.linspace(-0.4, 0.35, 16, dtype=np.float32).reshape(1, 16)  # codes -8..7: -1, 0 and 1 included
    (got,) = run(m, x)
    np.testing.assert_allclose(got, np.maximum(qdq(x, 0.05), 0).reshape(4, 4), atol=1e-6)


def test_two_float_islands_keep_their_own_weights() -> None:
    """Each island's dequantized weight is its own resource blob: catches the blob counter not advancing
    (both islands named alike, one reading the other's weights)."""
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = "bayes_without_linear"
    del data["ops"]["linear"]
    register_march(data)
    b = FrozenBuilder([("x", (2, 8))])
    rng = np.random.default_rng(16)
    w1, w2 = rng.standard_normal((8, 8)), rng.standard_normal((3, 8))
    s1, s2 = np.abs(w1).max(axis=1) / 127, np.abs(w2).max(axis=1) / 127
    h = b.qdq(b.op("hl.linear", [b.qdq("x", 0.03), b.weight(w1, s1)], (2, 8), attrs='owner = "fc1"'), 0.05)
    y = b.op("hl.linear", [h, b.weight(w2, s2)], (2, 3), attrs='owner = "fc2"')
    m = b.module([b.qdq(y, 0.1)])
    irq.PassManager.parse("builtin.module(lower-bpu{float-fallback=true march=bayes_without_linear})").run(m)
    assert [op.name for op in m.walk() if op.dialect_name == "hl"] == ["hl.linear", "hl.linear"]
    x = rng.standard_normal((2, 8)).astype(np.float32)
    (got,) = run(m, x)
    wq1 = np.clip(np.rint(w1 / s1[:, None]), -127, 127) * s1[:, None]
    wq2 = np.clip(np.rint(w2 / s2[:, None]), -127, 127) * s2[:, None]
    assert_within_one_step(got, qdq(qdq(x, 0.03) @ wq1.T, 0.05) @ wq2.T, 0.1, exact_fraction=0.8)


@pytest.mark.parametrize("attrs, stride, padding, dilation", [
    ('stride = [2], padding = [1], dilation = [2], groups = 1 : i64, owner = "c1"', 2, 1, 2),
    ('stride = [3], padding = [2], dilation = [1], groups = 1 : i64, owner = "c1"', 3, 2, 1),
    ('stride = [1], padding = [0], dilation = [3], groups = 1 : i64, owner = "c1"', 1, 0, 3),
])
def test_conv1d_lowers_with_its_stride_padding_and_dilation(attrs, stride, padding, dilation) -> None:
    """A conv1d is a bpu.conv2d over H = 1: its one stride/padding/dilation value each
    must land on W with the identity on H. Catches the value read with another count (an empty
    list: IndexError) or from another position. Oracle: torch's conv1d in float64 on the dequantized values."""
    rng = np.random.default_rng(21)
    w = rng.standard_normal((4, 3, 3))
    s_w = np.abs(w).max(axis=(1, 2)) / 127
    length = 17
    out_len = (length + 2 * padding - dilation * 2 - 1) // stride + 1
    b = FrozenBuilder([("x", (2, 3, length))])
    y = b.op("hl.conv1d", [b.qdq("x", 0.05), b.weight(w, s_w)], (2, 4, out_len), attrs=attrs)
    m = lower(b.module([b.qdq(y, 0.1)]))
    x = rng.standard_normal((2, 3, length)).astype(np.float32)
    (got,) = run(m, x)
    wq = fp.quantize_weight(w, s_w, 0) * s_w[:, None, None]
    want = torch.nn.functional.conv1d(torch.from_numpy(qdq(x, 0.05)), torch.from_numpy(wq), stride=stride,
                                      padding=padding, dilation=dilation).numpy()
    assert got.shape == want.shape
    assert_within_one_step(got, want, 0.1, exact_fraction=0.8)


def test_an_asymmetric_or_unsigned_quantized_type_is_refused_by_name() -> None:
    """bpu arithmetic is symmetric and signed: a zero point (or unsigned storage) must be refused, not
    lowered as if it were 0 (a silent offset of zp steps). Catches the check's `or` written `and`."""
    for elem in ("!quant.uniform<i8:f32, 0.05:3>", "!quant.uniform<u8:f32, 0.05>"):
        text = f"""module {{
  func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {{
    %q = quant.qcast %x : tensor<1x4xf32> to tensor<1x4x{elem}>
    %d = quant.dcast %q : tensor<1x4x{elem}> to tensor<1x4xf32>
    %r = hl.relu %d : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %q2 = quant.qcast %r : tensor<1x4xf32> to tensor<1x4x!quant.uniform<i8:f32, 0.05>>
    %d2 = quant.dcast %q2 : tensor<1x4x!quant.uniform<i8:f32, 0.05>> to tensor<1x4xf32>
    return %d2 : tensor<1x4xf32>
  }}
}}
"""
        with pytest.raises(PassFailure, match="symmetric and signed"):
            lower(irq.parse_module(text))


def test_int32_embedding_indices_lower_and_match_int64() -> None:
    """torch accepts int32 indices as well as int64: a model traced and calibrated with int32 ids must lower
    to bpu.embedding and give the same output as the int64 program. Catches the accepted index widths
    edited (32 -> 33 refuses int32 ids at convert)."""
    import warnings

    from test_embedding_quant import tokens

    from irq.workflow import prepare_calibrated

    outputs = []
    for dtype in (torch.int64, torch.int32):
        torch.manual_seed(0)
        model = TokenModel().eval()
        ids, pos = (t.to(dtype) for t in tokens(4, 0))
        calib = [tuple(t.to(dtype) for t in tokens(32, 1))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qat = prepare_calibrated(model, (ids, pos), calib, method="export", check_model=False, march="nash",
                                     qconfig=irq.qconfig.default_qat_8bit)
            program = irq.convert(qat, march="nash")
        assert [op.name for op in program.walk() if op.name == "bpu.embedding"] == ["bpu.embedding"] * 2
        outputs.append(irq.run(program, ids.numpy(), pos.numpy(), runtime="reference"))
    np.testing.assert_array_equal(outputs[1], outputs[0])


@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (2, 3)])
def test_plain_avg_pool_divides_by_the_window_size(kernel) -> None:
    """An avg_pool2d without padding or ceil_mode has one divisor, kh * kw: catches it computed with another
    operator (kh ^ kw is 0 for a square kernel, kh + kw differs from kh * kw but for 2x2). Oracle: torch's
    avg_pool2d in float64 on the dequantized input."""
    kh, kw = kernel
    b = FrozenBuilder([("x", (2, 3, 6, 6))])
    out = (2, 3, 6 // kh, 6 // kw)
    attrs = (f"kernel_size = [{kh}, {kw}], stride = [{kh}, {kw}], padding = [0, 0], ceil_mode = false, "
             'count_include_pad = true, owner = "ap"')
    y = b.op("hl.avg_pool2d", [b.qdq("x", 0.05)], out, attrs=attrs)
    m = lower(b.module([b.qdq(y, 0.02)]))
    x = np.random.default_rng(22).standard_normal((2, 3, 6, 6)).astype(np.float32)
    (got,) = run(m, x)
    want = torch.nn.functional.avg_pool2d(torch.from_numpy(qdq(x, 0.05)).double(), kernel).numpy()
    assert_within_one_step(got, want, 0.02, exact_fraction=0.9)


def test_split_pieces_keep_negative_codes() -> None:
    """torch.split's pieces share their input's quantizer (no qcast of their own), like a relu that shares its
    producer's: only the relu may clamp at code 0. Catches the shared-relu test written `base >= "relu"`
    ("split" sorts above "relu": every piece would lose its negative values)."""
    b = FrozenBuilder([("x", (2, 6))])
    xd = b.qdq("x", 0.05)
    b.lines.append(f"%p:3 = torch.split %{xd} {{split_size = 2 : i64, dim = 1 : i64}} : (tensor<2x6xf32>) -> "
                   "(tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>)")
    for i in range(3):
        b.shapes[f"p#{i}"] = (2, 2)
    m = lower(b.module(["p#0", "p#1", "p#2"]))
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6)
    for i, got in enumerate(run(m, x)):
        np.testing.assert_allclose(got, qdq(x, 0.05)[:, 2 * i:2 * i + 2], atol=1e-6)



def test_pixel_shuffle_with_a_factor_of_three_equals_torch() -> None:
    """F.pixel_shuffle(x, 3) lowers to reshape + permute + reshape on the codes: the channel split is
    C / (r * r). Catches it written `r ** r` (equal to r * r only for r = 2, the factor the model zoo uses).
    Oracle: torch's pixel_shuffle on the dequantized input (data movement: exact)."""
    b = FrozenBuilder([("x", (1, 18, 2, 3))])
    y = b.op("torch.pixel_shuffle", [b.qdq("x", 0.05)], (1, 2, 6, 9), attrs="upscale_factor = 3 : i64")
    m = lower(b.module([y]))
    x = np.random.default_rng(24).standard_normal((1, 18, 2, 3)).astype(np.float32)
    (got,) = run(m, x)
    want = torch.nn.functional.pixel_shuffle(torch.from_numpy(qdq(x, 0.05)), 3).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
