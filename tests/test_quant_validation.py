"""VALIDATION is integer-exact: on zoo models it equals, bit for bit, an independent numpy
emulation of the frozen program (tests/support/numpy_emulator.py); the frozen module re-executed
by the torch executor gives the same outputs; and it differs from float fake quantization where
requantization rounding differs (so the test would catch VALIDATION silently falling back to float)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.runtime.torch import to_module

import irq
from irq.quant import validation
from tests.support.calibrated import calibrated_model
from tests.support.numpy_emulator import Emulator
from tests.test_frontend_zoo import ZOO

#: zoo models whose every op has integer semantics, or float islands the emulator computes in float
EXACT_ZOO = ["resnet_basic", "resnet_bottleneck", "mobilenet_v2", "mnist_cnn", "eager_qat_irq_stubs",
             "eager_qat_ao_stubs_fused", "unet", "fpn_retinanet"]


def calibrated(name: str, qconfig="default_calib_8bit", batches: int = 3):
    make, shape = ZOO[name]
    return calibrated_model(make, shape, qconfig=qconfig, batches=batches)


@pytest.fixture(scope="module", params=EXACT_ZOO)
def validated(request):
    name = request.param
    qconfig = {"": "default_calib_8bit", "fc": "default_qat_8bit_weight_32bit_out"} if name.startswith("resnet") \
        else "default_calib_8bit"
    model, qat, x = calibrated(name, qconfig)
    with torch.no_grad():
        y = qat(x)
    return name, model, qat, x, y, irq.freeze(qat)


def _leaves(y):
    return [t for t in (y if isinstance(y, (tuple, list)) else (y,))]


def test_validation_equals_numpy_emulation_bit_for_bit(validated):
    name, model, qat, x, y, frozen = validated
    expected = Emulator(irq.parse_module(irq.print_module(frozen))).run(x.numpy())
    for got, want in zip(_leaves(y), _leaves(expected)):
        assert got.dtype == torch.float32
        np.testing.assert_array_equal(got.numpy(), np.asarray(want))


def test_frozen_module_reexecutes_to_the_validation_outputs(validated):
    name, model, qat, x, y, frozen = validated
    text = irq.print_module(frozen)
    again = irq.parse_module(text)
    irq.verify(again)
    assert irq.print_module(again) == text
    assert not [op for op in again.walk() if op.dialect_name == "qat" or op.get_attr("bn_eps") is not None]
    with torch.no_grad():
        out = to_module(again)(x)
    for got, want in zip(_leaves(out), _leaves(y)):
        assert torch.equal(got, want)


def test_validation_is_close_to_float(validated):
    name, model, qat, x, y, frozen = validated
    with torch.no_grad():
        ref = model(x)
    for q, f in zip(_leaves(y), _leaves(ref)):
        cos = torch.nn.functional.cosine_similarity(q.flatten().double(), f.flatten().double(), dim=0)
        assert cos > 0.95, f"{name}: cosine {float(cos):.4f}"


def test_validation_is_not_float_fake_quant():
    """Integer requantization is not rounding a float result: across the quantized activations of a
    model, some codes differ by one step between VALIDATION and float fake quantization of the same
    weights and scales (so a VALIDATION that silently fell back to float would fail), none by more."""
    model, qat, _ = calibrated("resnet_basic")
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    outs: dict[str, list[torch.Tensor]] = {}
    fqs = [m for m in qat.modules() if isinstance(m, irq.quant.FakeQuantize) and m.slot == "out"]
    hooks = [m.register_forward_hook(lambda mod, i, o: outs.setdefault(mod.path, []).append(mod.codes(o)))
             for m in fqs]
    with torch.no_grad():
        qat(x)
        for m in qat.modules():
            if isinstance(m, irq.quant.FakeQuantize):
                m.state = irq.FakeQuantState.QAT
        qat(x)
    for h in hooks:
        h.remove()
    diffs = [int((a - b).abs().max()) for a, b in outs.values()]
    assert max(diffs) == 1, diffs
    assert sum(int((a != b).sum()) for a, b in outs.values()) > 0


def test_ops_without_integer_semantics_are_named():
    assert validation.float_in_validation("roll")
    assert validation.float_in_validation("topk")
    for kind in ("instance_norm", "cumsum", "log_softmax", "div"):  # issue 12: fixed-point lowerings now
        assert not validation.float_in_validation(kind)
    assert not validation.float_in_validation("group_norm")  # bpu.group_norm: layer_norm's steps per group
    assert not validation.float_in_validation("embedding")  # bpu.embedding: table codes, one requantize per row
    assert not validation.float_in_validation("layer_norm")  # bpu.layer_norm's integer steps
    assert not validation.float_in_validation("softmax")
    assert not validation.float_in_validation("conv2d")
    assert not validation.float_in_validation("add")
    assert not validation.float_in_validation("interpolate")  # bilinear: bpu.resize's integer taps; nearest: codes


def test_transformer_float_islands_validate_and_freeze():
    """layer_norm and softmax have no pinned integer semantics: VALIDATION computes them in float between
    quantized values; the model still validates close to float and its frozen form re-executes exactly."""
    model, qat, x = calibrated("transformer")
    with torch.no_grad():
        y, ref = qat(x), model(x)
    cos = torch.nn.functional.cosine_similarity(y.flatten().double(), ref.flatten().double(), dim=0)
    assert cos > 0.98
    frozen = irq.parse_module(irq.print_module(irq.freeze(qat)))
    with torch.no_grad():
        assert torch.equal(to_module(frozen)(x), y)
    kinds = {op.name for op in frozen.walk() if op.dialect_name == "hl"}
    assert {"hl.layer_norm", "hl.softmax"} <= kinds


@pytest.mark.parametrize("kind,x_shape,w_shape,groups", [
    ("linear", (3, 4000), (5, 4000), 1),                 # K * 128 * 127 > 2**24: split along the inputs
    ("conv2d", (2, 1200, 5, 5), (4, 1200, 3, 3), 1),     # split along input channels
    ("conv2d", (1, 2400, 4, 4), (4, 1200, 3, 3), 2),     # grouped and too large: float64
    ("conv2d", (2, 8, 6, 6), (8, 1, 3, 3), 8),           # depthwise, float32 fast path
    ("conv_transpose2d", (1, 6, 4, 4), (6, 2, 3, 3), 2),
])
def test_exact_accumulation_equals_int64(kind, x_shape, w_shape, groups):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-128, 128, x_shape, generator=g)
    w = torch.randint(-127, 128, w_shape, generator=g)
    x.view(-1)[:50] = -128  # the extremes, so the bound is reached
    w.view(-1)[:50] = 127
    a = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "output_padding": [0, 0]}
    got = validation.exact_accumulate(kind, x, w, a, groups)
    if kind == "linear":  # Python integers: no rounding anywhere
        want = np.array(x.numpy().astype(object) @ w.numpy().T.astype(object), dtype=np.int64)
    elif kind == "conv2d":
        from tests.support.numpy_emulator import conv2d
        want = conv2d(x.numpy(), w.numpy(), [1, 1], [1, 1], [1, 1], groups)
    else:  # small enough for float64 to be exact
        want = validation._apply(kind, x.double(), w.double(), a, groups).round().long().numpy()
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dtype", ["qint8", "qint16"])
@pytest.mark.parametrize("axis", [None, 1])
def test_float32_dequantize_equals_the_float64_rule_bit_for_bit(dtype, axis):
    # VALIDATION dequantizes int8/int16 codes in float32 (one rounding of the exact product) instead of
    # float32(float64(q) * float64(s)): the same bits for every code and scales from 2**-40 to 2**10
    from irq.quant.fake_quantize import FakeQuantize
    rng = np.random.default_rng(0 if axis is None else 1)
    channels = 64
    fq = FakeQuantize(owner="o", slot="output", dtype=dtype, observer="min_max",
                      qscheme="per_tensor" if axis is None else "per_channel", axis=axis, channels=channels)
    lo, hi = fq.qmin, fq.qmax
    q = torch.from_numpy(np.concatenate([np.arange(lo, hi + 1), rng.integers(lo, hi + 1, size=200_000)])
                         [:channels * ((hi - lo + 200_001) // channels)].reshape(-1, channels, 1))
    for _ in range(20):
        scales = np.float32(2.0) ** rng.uniform(-40, 10, size=channels if axis is not None else 1)
        scales = (scales * rng.uniform(1, 2, size=scales.shape)).astype(np.float32)
        fq.scale.copy_(torch.from_numpy(scales.reshape(fq.scale.shape)))
        s64 = scales.astype(np.float64).reshape((1, -1, 1) if axis is not None else ())
        want = (q.numpy().astype(np.float64) * s64).astype(np.float32)
        got = fq.dequantize(q)
        assert got.dtype == torch.float32
        np.testing.assert_array_equal(got.numpy().view(np.int32), want.view(np.int32))
        codes = torch.from_numpy(want)
        np.testing.assert_array_equal(fq.quantize_exact(codes).numpy().view(np.int32), want.view(np.int32))


def test_codes_leave_a_float64_input_unchanged():
    # codes() rounds and clamps in place on its own float64 copy: a float64 input must not be that copy
    from irq.quant.fake_quantize import FakeQuantize
    fq = FakeQuantize(owner="o", slot="output", dtype="qint8", observer="min_max", qscheme="per_tensor")
    fq.scale.fill_(0.1)
    x = torch.linspace(-30, 30, 101, dtype=torch.float64)
    before = x.clone()
    q = fq.codes(x)
    assert torch.equal(x, before)
    assert torch.equal(q, torch.clamp(torch.round(before / 0.1), -128, 127).to(torch.int64))
    assert torch.equal(fq.codes(x, torch.float32), q.float())
