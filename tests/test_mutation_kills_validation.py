"""VALIDATION (irq/quant/validation.py) on op families mutation testing (bench/mutation.py, target
`quant-validation`) found unexercised: scalar and tensor multiplies, divisions, adaptive and mean pooling,
layer norm with and without an affine part, bilinear resize, fused clamps; and the users' layers
(passes/_lower_layer_ops.py) no test of the target ran through VALIDATION at all: a standalone batch norm,
PReLU per channel and shared, group norm with and without affine, sum over dims, stack, tensor division.

The oracle is the deployed program: lower-bpu and the reference runtime compute the same integer
arithmetic without reading validation.py, so VALIDATION must equal the program's output bit for bit; a
planted bug in VALIDATION's multiplier, rounding, window or clamp breaks that equality. Each model is also
checked against torch float (within a few output steps), so a bug shared by both sides would still show.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import irq
from tests.support.calibrated import calibrated_model


class Products(nn.Module):
    """Two conv branches multiplied, then scaled by positive, negative and divided scalars."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        p = self.a(x) * self.b(x)
        return p * 0.7, p * -0.45, p / 3.0


class Pools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = F.relu6(self.conv(x))
        return F.adaptive_avg_pool2d(y, (2, 3)), y.mean(dim=1, keepdim=True), y.mean(dim=(2, 3))


class Norms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.plain = nn.LayerNorm(16, elementwise_affine=False)
        self.affine = nn.LayerNorm(16)
        with torch.no_grad():
            self.affine.weight.uniform_(0.5, 1.5)
            self.affine.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        h = self.fc(x)
        return self.plain(h), self.affine(h)


class Resize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return (F.interpolate(y, size=(10, 14), mode="bilinear", align_corners=False),
                F.interpolate(y, size=(9, 13), mode="bilinear", align_corners=True))


class LayerOps(nn.Module):
    """The users' layers with per-channel parameters: VALIDATION's _batch_norm, _prelu, _group_norm and the
    rank-4 broadcast of _channel_param (a wrong rank or channel axis changes the output's shape or values)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)  # the batch norm follows a pool: standalone, not folded into the conv
        self.bn = nn.BatchNorm2d(4)
        self.prelu_c = nn.PReLU(4)
        self.prelu_1 = nn.PReLU(1, init=-0.3)
        self.gn = nn.GroupNorm(2, 4)
        self.gn_plain = nn.GroupNorm(2, 4, eps=0.05, affine=False)  # an eps that survives the integer rounding
        with torch.no_grad():
            self.prelu_c.weight.copy_(torch.tensor([0.1, -0.5, 0.75, 1.3]))  # one slope per sign and size
            self.gn.weight.uniform_(0.5, 1.5)
            self.gn.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        y = self.pool(self.conv(x))
        return self.bn(y), self.prelu_c(y), self.prelu_1(y), self.gn(y), self.gn_plain(y)


class Reductions(nn.Module):
    """VALIDATION's _sum (over spatial dims, over channels with keepdim), _stack (new first and inner dim,
    inputs at two scales) and _div (two activations)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        p, q = self.a(x), self.b(x)
        return (torch.sum(p, dim=(2, 3)), p.sum(dim=1, keepdim=True), torch.stack([p, q], dim=1),
                torch.stack([p, q]), p / (torch.sigmoid(q) + 1.0))


class Transposed(nn.Module):
    """A transposed conv, whose weight is quantized per output channel along axis 1 (Cin 4 != Cout 6): VALIDATION
    must quantize it along the axis its quantizer names. Catches validation.py:199's `if fq_w.axis is not None`
    as `if not ...` (axis 0: the 6 scales broadcast against the 4 input channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return torch.relu(self.up(self.conv(x)))


MODELS = {
    "transposed": (Transposed, (2, 3, 5, 6)),
    "layer_ops": (LayerOps, (2, 3, 8, 6)),
    "reductions": (Reductions, (2, 3, 6, 5)),
    "products": (Products, (2, 3, 6, 8)),
    "pools": (Pools, (2, 3, 8, 6)),
    "norms": (Norms, (2, 5, 16)),
    "resize": (Resize, (1, 3, 6, 7)),  # an even and an odd side: align_corners taps use in_size - 1
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def converted(request):
    make, shape = MODELS[request.param]
    model, qat, x = calibrated_model(make, shape)
    with torch.no_grad():
        validation = qat(x)
        eager = model(x)
    program = irq.convert(qat)
    return request.param, program, x, validation, eager


def _tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def test_validation_equals_the_deployed_program_bit_for_bit(converted) -> None:
    name, program, x, validation, _ = converted
    deployed = _tuple(irq.run(program, x.numpy(), runtime="reference"))
    for i, (got, want) in enumerate(zip(deployed, _tuple(validation))):
        np.testing.assert_array_equal(np.asarray(got), want.numpy(), err_msg=f"{name} output {i}")


def test_validation_stays_near_float(converted) -> None:
    name, _, _, validation, eager = converted
    for i, (v, e) in enumerate(zip(_tuple(validation), _tuple(eager))):
        span = float(e.abs().max())
        err = float((v - e).abs().max())
        assert err <= 0.06 * span + 1e-3, f"{name} output {i}: |VALIDATION - float| = {err:.4f} of {span:.3f}"


def test_isqrt_is_exact_where_the_float64_estimate_is_off() -> None:
    """validation._isqrt is floor(sqrt(v)) for int64 v: against math.isqrt on squares, their neighbours
    and values near 2**63, where float64's sqrt estimate is one off in either direction. Catches either
    correction step changed (`r - 1` as `r ** 1` or `r << 1`, `r + 1` as `r - 1`, the clamp's bound)."""
    from math import isqrt

    from irq.quant.validation import _isqrt

    roots = [0, 1, 2, 3, 7, 1000, 2**26 + 3, 2**31 - 1, 2**31 + 11, 3037000499]  # 3037000499**2 < 2**63
    values = sorted({v for r in roots for v in (r * r - 1, r * r, r * r + 1, r * r + 2 * r) if 0 <= v < 2**63}
                    | {2**63 - 1, 2**62, 2**53 + 1, 2**52 - 1})
    got = _isqrt(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [isqrt(v) for v in values]
    # the float64 estimate really is off for some of them, so the corrections are exercised
    estimate = torch.floor(torch.sqrt(torch.tensor(values, dtype=torch.float64))).to(torch.int64).tolist()
    assert any(e != isqrt(v) for e, v in zip(estimate, values))


def test_exact_accumulate_leaves_float32_where_it_would_round() -> None:
    """K = 8192 products of codes near 127: the sum passes 2**24, where float32 accumulation rounds, so the
    result must come from the exact path and equal the int64 sum. Catches the float32 fast path's bound
    computed with another operator (`K * x - w`, `K * x | w`) or a larger bound constant."""
    from irq.quant.validation import exact_accumulate

    g = torch.Generator().manual_seed(0)
    x = torch.full((1, 8192), 127, dtype=torch.int64)
    w = torch.randint(100, 128, (3, 8192), generator=g, dtype=torch.int64)
    want = x @ w.T
    assert not torch.equal(torch.round(torch.nn.functional.linear(x.float(), w.float())).to(torch.int64), want)
    assert torch.equal(exact_accumulate("linear", x, w, {}, 1), want)


def _quantizer(scale: float):
    from irq.quant.fake_quantize import FakeQuantize, FakeQuantState

    fq = FakeQuantize(owner="t", slot="out", dtype="qint8", observer="min_max", qscheme="per_tensor",
                      fixed_scale=scale)
    fq.state = FakeQuantState.VALIDATION
    return fq


@pytest.mark.parametrize("size, out", [((6, 9), (2, 3)), ((10, 4), (5, 4)), ((7, 6), (7, 2))])
def test_adaptive_pool_with_equal_windows_is_the_exact_average_pool(size, out) -> None:
    """An adaptive average pool whose windows divide the input evenly is bpu.avg_pool2d's integer arithmetic,
    never the float result (which only ties tell apart from it in a model, so a bit-for-bit model test
    misses it): `exact` must ignore the float `y` it is given and equal the average pool with window
    size // out. Catches the divisibility test written `h & out[0]` (6 & 2 = 2: falls back to float)."""
    from irq.quant import validation

    fq_in, fq_out = _quantizer(0.05), _quantizer(0.06)  # no output clips: |mean| <= 6.4 < 127 * 0.06
    g = torch.Generator().manual_seed(3)
    x = fq_in.dequantize(torch.randint(-128, 128, (2, 3, *size), generator=g))
    kernel = [size[0] // out[0], size[1] // out[1]]
    poison = torch.full((2, 3, *out), 1e6)  # the float result: returned only if the exact path is not taken
    got = validation.exact("adaptive_avg_pool2d", poison, [x], [fq_in], fq_out, {"output_size": list(out)})
    want = validation.exact("avg_pool2d", poison, [x], [fq_in], fq_out,
                            {"kernel_size": kernel, "stride": kernel, "padding": [0, 0], "ceil_mode": False,
                             "count_include_pad": True, "divisor_override": None})
    assert float(want.abs().max()) < 1e3  # the average pool itself took the exact path
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    # and the integer result is the average of the dequantized window, within an output step
    ref = F.adaptive_avg_pool2d(x.double(), out)
    assert float((got.double() - ref).abs().max()) <= 0.06 * 0.5 + 1e-6


@pytest.mark.parametrize("kind", ["layer_norm", "group_norm"])
def test_norm_of_a_constant_row_with_a_vanishing_eps_is_beta(kind) -> None:
    """A constant row (a padded or saturated feature) with an eps too small to survive as an integer
    (rint(n^2 eps / s_in^2) = 0): the variance term is 0, r = isqrt(0) is clamped to 1 and z = floor(r / 2r) =
    0, so the output is beta, as torch float gives; the other rows stay near float. Catches the clamp's
    bound lowered to 0 (a division by zero) in _layer_norm and _group_norm."""
    from irq.quant import validation

    fq_in, fq_out = _quantizer(0.05), _quantizer(0.04)
    g = torch.Generator().manual_seed(5)
    beta = torch.linspace(-0.5, 0.5, 4 if kind == "group_norm" else 16).double()
    gamma = torch.linspace(0.6, 1.4, beta.numel()).double()
    if kind == "layer_norm":
        codes = torch.randint(-100, 100, (3, 16), generator=g)
        codes[1] = 37  # the constant row
        attrs = {"eps": 1e-12, "normalized_shape": [16]}
    else:
        codes = torch.randint(-100, 100, (2, 4, 3, 2), generator=g)
        codes[1, 2:] = -21  # sample 1, group 1 (channels 2 and 3) constant
        attrs = {"eps": 1e-12, "num_groups": 2}
    x = fq_in.dequantize(codes)
    params = {"weight": gamma.float(), "bias": beta.float()}
    got = validation.exact(kind, torch.full_like(x, 1e6), [x], [fq_in], fq_out, attrs, params)
    if kind == "layer_norm":
        ref = F.layer_norm(x.double(), [16], gamma, beta, eps=1e-12)
    else:
        ref = F.group_norm(x.double(), 2, gamma, beta, eps=1e-12)
    constant = (slice(1, 2),) if kind == "layer_norm" else (1, slice(2, 4))
    # beta within one output step (beta's code and the requantize each round once)
    torch.testing.assert_close(got[constant].double(), ref[constant], rtol=0, atol=0.04 + 1e-6)
    assert float((got.double() - ref).abs().max()) <= 3 * 0.04


class Segments(nn.Module):
    """A two-row table (BERT's token types) with rows of very different ranges: per-row quantized, it has two
    multipliers, and VALIDATION must look each row's up (a two-row table is where `m.size > 1` and `> 2`
    part)."""

    def __init__(self) -> None:
        super().__init__()
        self.segment = nn.Embedding(2, 16)
        self.fc = nn.Linear(16, 4)
        with torch.no_grad():
            self.segment.weight[1] *= 0.05

    def forward(self, ids):
        return self.fc(self.segment(ids))


def test_a_two_row_table_uses_each_rows_multiplier() -> None:
    import warnings

    from irq.workflow import prepare_calibrated

    torch.manual_seed(0)
    model = Segments().eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 2, (4, 8), generator=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = prepare_calibrated(model, (ids,), [(torch.randint(0, 2, (16, 8), generator=g),)], method="export",
                                 check_model=False, march="nash", qconfig=irq.qconfig.default_qat_8bit)
        program = irq.convert(qat, march="nash")
    assert [len(op.multiplier) for op in program.walk() if op.name == "bpu.embedding"] == [2]
    with torch.no_grad():
        validation, eager = qat(ids).numpy(), model(ids).numpy()
    np.testing.assert_array_equal(irq.run(program, ids.numpy(), runtime="reference"), validation)
    assert np.abs(validation - eager).max() <= 0.05 * np.abs(eager).max()


# -- the tenth round: VALIDATION's in-place passes (commit 56a0a92) ---------------------------------------------
def _conv_transpose2d_int64(x: np.ndarray, w: np.ndarray, padding: int) -> np.ndarray:
    """Exact int64 transposed convolution (stride 1, dilation 1, one group): each input pixel scatters x * w."""
    n, _, h, wd = x.shape
    _, cout, kh, kw = w.shape
    full = np.zeros((n, cout, h + kh - 1, wd + kw - 1), np.int64)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i:i + h, j:j + wd] += np.einsum("nchw,co->nohw", x, w[:, :, i, j])
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]


_PAD1 = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "output_padding": [0, 0]}


@pytest.mark.parametrize("kind, x_shape, w_shape, x_range, w_low", [
    # all codes negative: max |x| is -min, not max (a bound from `max(lo, hi)` is negative: the float32 path);
    # Cin 64 > Cout 2, so a bound from the output channels (`kind >= "conv_transpose2d"`: 2) is 32 times too small
    ("conv2d", (1, 64, 3, 3), (2, 64, 1, 1), (-32768, -20000), 100),
    # 3x3 over int16 codes: one input channel's products pass 2**24 (step 0): float64, no int64 chunks
    ("conv2d", (1, 16, 4, 4), (2, 16, 3, 3), (20000, 32767), 100),
    # one channel's 9 products pass 2**24 (9 x 15500 x 120): float64; a unit of 8 of them would let
    # one-channel int64 chunks round
    ("conv2d", (1, 16, 4, 4), (2, 16, 3, 3), (15500, 16000), 120),
    # one input channel (and one output): k_per_in is the whole 3x3 kernel, not half of it (`max(2, cin)`), and
    # w_q[0] is the only row
    ("conv2d", (1, 1, 4, 4), (1, 1, 3, 3), (20000, 32767), 100),
    # one input channel whose 9 products pass 2**24: k_per_in is 9, not 8 (`9 - 1`, `9 ^ 1`)
    ("conv2d", (1, 1, 4, 4), (1, 1, 3, 3), (15500, 16000), 120),
    # a transposed conv of one output channel: w_q[0, 0] is the only kernel of its first row
    ("conv_transpose2d", (1, 9, 3, 3), (9, 1, 3, 3), (20000, 32767), 100),
    # a transposed conv of one input channel: its bound is 1 x 9, not 1 ** 9
    ("conv_transpose2d", (1, 1, 3, 3), (1, 2, 3, 3), (20000, 32767), 100),
    # the transposed bound is (Cin / groups) x kh x kw = 81 (`% 9` makes it 0); one channel passes 2**24 too
    ("conv_transpose2d", (1, 9, 3, 3), (9, 2, 3, 3), (20000, 32767), 100),
    # the transposed weight's input channels are its axis 0: 4 int64 chunks of 3 channels along it
    ("conv_transpose2d", (1, 12, 3, 3), (12, 2, 3, 3), (2000, 4000), 100),
    # a conv's inputs are axis 1, not the width (8) or the batch (2): 2 int64 chunks of 33 and 31 channels
    ("conv2d", (2, 64, 3, 8), (2, 64, 1, 1), (2000, 4000), 100),
    # linear's inputs are the last axis: 10 chunks of 4 features (the batch, axis -2, is 200; axis 1 of a 3-D
    # input is 50)
    ("linear", (200, 40), (3, 40), (20000, 32767), 100),
    ("linear", (2, 50, 40), (3, 40), (20000, 32767), 100),
])
def test_int16_accumulation_is_exact_on_every_path(kind, x_shape, w_shape, x_range, w_low) -> None:
    """exact_accumulate on int16 codes (as float32, the dtype _weighted now passes) times int8 weights equals
    numpy's int64 sum, on the path each bound picks. Catches (irq/quant/validation.py) `_absmax`'s `-lo` as `lo`,
    `+lo` or `not lo` (:85); `cin_axis`'s -1 as ~1, -2 or `not 1` and `!=` as `<=` / `>=` (:262); `w_in_axis` 0
    as 1 / -1 (:263); `per_channel_k`'s `!=` as `>=` / `>`, `w_q[0]` as `w_q[1]` (one output channel), the
    transposed `shape[0] // groups` as `>>`, `%` or `/` (a float step) and `* kh kw` as `%`, `>>`, `|`, `-` or
    `**` (:265); `cin // groups` as `^` or `+` (:267: 17 channels for 16, a unit of 8 products for 9) and
    `max(1, ...)` as `max(2, ...)` (:267, one input channel); `unit`'s `*` as `^` (:268); `step >= 1` as `!= 1`
    or `<= 1` (:272: a step of 0 then raises in range())."""
    from irq.quant.validation import _apply, exact_accumulate

    g = torch.Generator().manual_seed(10)
    x = torch.randint(x_range[0], x_range[1] + 1, x_shape, generator=g).float()
    w = torch.randint(w_low, 128, w_shape, generator=g).float()
    xi, wi = x.long().numpy(), w.long().numpy()
    if kind == "linear":
        want = xi @ wi.T
    elif kind == "conv2d":
        from tests.support.numpy_emulator import conv2d

        want = conv2d(xi, wi, [1, 1], [1, 1] if w_shape[-1] == 3 else [0, 0], [1, 1], 1)
    else:
        want = _conv_transpose2d_int64(xi, wi, 1)
    a = _PAD1 if w_shape[-1] == 3 else {**_PAD1, "padding": [0, 0]}
    got = exact_accumulate(kind, x, w, a, 1)
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), want)
    # each case is where it matters: one float32 convolution would round
    assert not np.array_equal(torch.round(_apply(kind, x, w, a, 1)).long().numpy(), want)


def test_requantize_refuses_an_accumulator_too_negative_for_int64() -> None:
    """|acc| >= 2**32 overflows ``acc * M`` in int64: requantize must refuse it whatever its sign, not return
    wrapped codes. Catches `_absmax`'s `max(-lo, hi)` as `max(lo, hi)` / `max(+lo, hi)` (validation.py:85),
    which bounds only the positive side."""
    from irq.quant.validation import requantize

    m, s = torch.tensor(1 << 30), torch.tensor(31)
    for acc in ([-(2**33), 5], [2**33, -5], [-(2**32)]):
        with pytest.raises(ValueError, match="too large to requantize"):
            requantize(torch.tensor(acc), m, s)
    inside = [-(2**32) + 1, 2**32 - 1, 3]  # just inside the bound: Python integers' (acc M + 2**30) >> 31
    assert requantize(torch.tensor(inside), m, s).tolist() == [(a * (1 << 30) + (1 << 30)) >> 31 for a in inside]


def test_an_int32_output_refuses_a_fused_activation_alone() -> None:
    """An int32 high-precision output cannot carry a fused relu (lower-bpu refuses the same): returning the
    accumulator would drop the relu, a wrong number without an error. Catches validation.py:211's
    `activation or residual is not None` as `and` (only both together refused)."""
    from irq.quant import validation
    from irq.quant.fake_quantize import FakeQuantize, FakeQuantState

    def quantizer(dtype, slot="out"):
        fq = FakeQuantize(owner="fc", slot=slot, dtype=dtype, observer="min_max", qscheme="per_tensor")
        fq.state = FakeQuantState.VALIDATION
        return fq.eval()

    fq_in, fq_out, fq_w = quantizer("qint8", "input"), quantizer("qint32"), quantizer("qint8", "weight")
    fq_in.scale.fill_(0.05)
    weight = torch.linspace(-1, 1, 12).reshape(3, 4)
    x = torch.linspace(-2, 2, 8).reshape(2, 4)
    with pytest.raises(ValueError, match=r"'linear' \(fc\).*cannot carry a fused residual or activation"):
        validation.exact("linear", x @ weight.T, [x], [fq_in], fq_out, {"activation": "relu"},
                         {"weight": weight, "weight_quant": fq_w})
    # without the activation the same call is the int32 accumulator at scale s_in * s_w
    got = validation.exact("linear", x @ weight.T, [x], [fq_in], fq_out, {}, {"weight": weight, "weight_quant": fq_w})
    assert float((got - x @ weight.T).abs().max()) < 0.05


def test_an_int64_chunk_never_sums_past_2_to_the_24() -> None:
    """Each int64 chunk sums at most (2**24 - 1) // unit input channels, so its float32 sum stays exact. With
    every product 257 x 97 = 24929 and 2**24 + 1 = 673 x 24929, 673 channels would sum to 2**24 + 1, which float32
    rounds to 2**24. Oracle: Python integers. Catches validation.py:271 `(_F32_EXACT - 1)` as `| 1` (step 673)."""
    from irq.quant.validation import exact_accumulate

    cin = 2 * 673
    x = torch.full((1, cin), 257.0)
    w = torch.full((2, cin), 97.0)
    assert 673 * 257 * 97 == 2**24 + 1 and float(torch.tensor(2.0**24 + 1, dtype=torch.float32)) == 2.0**24
    got = exact_accumulate("linear", x, w, {}, 1)
    assert got.tolist() == [[cin * 257 * 97] * 2]


def test_codes_of_magnitude_one_still_bound_the_chunks() -> None:
    """200,000 products of 1 x 127 sum to 25.4M, past 2**24: the bound K x 1 x 127 must send them to int64
    chunks. Oracle: Python integers. Catches validation.py:268 `xmax * wmax` as `xmax ** wmax` and :269's
    `xmax * wmax` as `xmax ** wmax` (1 ** 127 = 1: the whole sum in float32)."""
    from irq.quant.validation import exact_accumulate

    x = torch.ones(1, 200_000)
    w = torch.full((1, 200_000), 127.0)
    assert exact_accumulate("linear", x, w, {}, 1).tolist() == [[200_000 * 127]]
