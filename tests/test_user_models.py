"""A new user's own models through the whole flow: prepare -> CALIBRATION -> VALIDATION -> convert -> run.

tests/models/user_models.py holds small plain-torch models written the way horizon_plugin_pytorch and
torch.ao users write them (in-place ops, scalars on both sides, functional and module activations, 3-way
concat, pooling options, every interpolate flavour). Each is traced at batch 1 or 4 (alternating) and run at both:

(a) the prepared model in CALIBRATION (observers only, nothing fake-quantized) computes what torch eager
    computes: a tracing or mapping mistake shows here, before any quantization;
(b) VALIDATION is close to float (cosine): the quantizers sit where they should and saw the data;
(c) the deployed program on the numba runtime equals VALIDATION bit for bit, at the traced batch and at
    another one, and the reference runtime equals numba bit for bit;
(d) what a march cannot run fails in `irq.convert` with the op and the user's file:line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.planner import ProgramError
from torch import Tensor, nn

import irq
from irq.march_profiles import is_static_size_computation
from irq.model_check import FLOAT_ATTR
from irq.quant.prepare import ir_of
from irq.transform import PassFailure
from tests.models import user_models as um
from tests.support.calibrated import calibrated_model as calibrated
from tests.test_frontend_zoo import _randomize_bn

SOURCE = "user_models.py"

#: models that go through the whole chain on march bayes: name -> (constructor, input shape without batch)
CONVERTIBLE: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "resnet_downsample": (um.ResNetDownsample, (3, 16, 16)),
    "squeeze_excite": (um.SENet, (3, 16, 16)),
    "depthwise_hardswish": (um.DepthwiseSeparable, (3, 16, 16)),
    "unet_cat3": (um.UNetCat3, (3, 16, 16)),
    "conv_transpose_decoder": (um.ConvTransposeDecoder, (3, 16, 16)),
    "global_pool_heads": (um.GlobalPoolHead, (3, 16, 16)),
    "detection_head": (um.DetectionHead, (3, 16, 16)),
    "in_place_ops": (um.InPlaceOps, (3, 8, 8)),
    "conv_padding_zeros": (lambda: um.PaddingModes("zeros"), (3, 8, 8)),
    **{f"avg_pool_ceil{int(c)}_pad{int(p)}": ((lambda c=c, p=p: um.AvgPoolOptions(c, p)), (3, 15, 15))
       for c in (False, True) for p in (False, True)},
    **{f"max_pool_dilated_ceil{int(c)}": ((lambda c=c: um.MaxPoolOptions(c)), (3, 15, 15)) for c in (False, True)},
    "nearest_x2": (lambda: um.Interpolate("nearest", None), (3, 8, 8)),
    "nearest_size": (lambda: um.Interpolate("nearest", None, (13, 11)), (3, 8, 8)),
    "bilinear_align_corners": (lambda: um.Interpolate("bilinear", True), (3, 8, 8)),
    "bilinear_half_pixel": (lambda: um.Interpolate("bilinear", False), (3, 8, 8)),
    "bilinear_size": (lambda: um.Interpolate("bilinear", False, (13, 11)), (3, 8, 8)),
    # each of these failed in irq.convert before (see the bug tests below)
    "tiny_vit": (um.TinyViTBlock, (3, 8, 8)),
    "tiny_vit_mean_pool": (lambda: um.TinyViTBlock(pool="mean"), (3, 8, 8)),
    "chunk_gate": (um.ChunkGate, (3, 8, 8)),
    "adaptive_pool_2x2": (um.AdaptivePool, (3, 8, 8)),
    "scalar_ops": (um.ScalarOps, (3, 8, 8)),
    "cat4_scaled_branch": (um.Cat4, (3, 8, 8)),
    "clamp_family": (um.ClampFamily, (3, 8, 8)),
    # ops convert refused before issue 12 (each a named error); they lower and run bit-exact now
    "conv1d": (um.Conv1dNet, (3, 32)),
    "standalone_batch_norm": (um.StandaloneBatchNorm, (3, 8, 8)),
    "prelu": (um.PReLUNet, (3, 8, 8)),
    "pixel_shuffle": (um.SuperResolution, (3, 8, 8)),
    "stack_sum": (um.StackSum, (3, 8, 8)),
    "group_norm": (um.GroupNormNet, (3, 8, 8)),
    "tensor_divide": (um.TensorDivide, (3, 8, 8)),
    # the last float islands (issue 12): fixed-point lowerings now
    "instance_norm": (um.InstanceNormNet, (3, 8, 8)),
    "cumsum": (um.CumulativeSum, (3, 8, 8)),
    "rounded_divide": (um.RoundedDivide, (3, 8, 8)),
    "floor_divide": (um.FloorDivide, (3, 8, 8)),
    "multihead_attention": (um.AttentionBlock, (5, 16)),
    "multihead_attention_seq_first": (lambda: um.AttentionBlock(batch_first=False), (5, 16)),
    "hand_written_attention": (um.HandWrittenAttention, (5, 16)),
    "log_softmax": (um.LogSoftmaxHead, (3, 8, 8)),
    "smooth_activations": (um.SmoothActivations, (3, 8, 8)),
    # a parameter added to an activation (fuse once took it as a residual; lower-bpu refused constant operands)
    "conv_plus_bias_parameter": (um.ConvPlusBias, (3, 8, 8)),
    "abs_neg": (um.SignOps, (3, 8, 8)),
    "scalar_over_tensor": (um.ScalarOverTensor, (3, 8, 8)),
    "sqrt_rsqrt": (um.SquareRoots, (3, 8, 8)),
    "maximum_minimum": (um.MaxMin, (3, 8, 8)),
    "shifted_windows_roll": (um.ShiftedWindows, (3, 8, 8)),
    **{f"conv_padding_{m}": ((lambda m=m: um.PaddingModes(m)), (3, 8, 8))
       for m in ("reflect", "replicate", "circular")},
    **{f"functional_pad_{m}": ((lambda m=m: um.FunctionalPad(m)), (3, 8, 8))
       for m in ("constant", "reflect", "replicate")},
}

#: models march bayes cannot run: name -> (constructor, input shape, op kinds the error must name)
NOT_CONVERTIBLE: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...], tuple[str, ...]]] = {
    "adaptive_pool_uneven": (um.AdaptivePool, (3, 7, 7), ("'hl.adaptive_avg_pool2d' adaptive average pooling of 7x7",)),
    "vit_patch4": (lambda: um.TinyViTBlock(patch=4), (3, 8, 8), ("'hl.conv2d' stride [4, 4] exceeds march 'bayes'",)),
}

BATCHES = (1, 4)
#: each model is traced at one of the batch sizes (alternating) and deployed at both: the traced one and the other
TRACED_BATCH = {name: BATCHES[i % 2] for i, name in enumerate(sorted(CONVERTIBLE))}

#: programs the numba runtime runs at their traced batch only (it says so, ProgramError, at another one): none
#: now; the ViT's qkv permute and nn.MultiheadAttention's [L * N, E] / [L, N * heads, d] merges are followed
#: (irq/batch_axis.py)
TRACED_BATCH_ONLY: frozenset[str] = frozenset()


def _leaves(y) -> list[np.ndarray]:
    if isinstance(y, (tuple, list)):
        return [leaf for item in y for leaf in _leaves(item)]
    return [np.asarray(y.detach().numpy() if isinstance(y, torch.Tensor) else y)]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _calibrate(make, shape, batch: int, qconfig="default_calib_8bit"):
    """(eager float outputs, CALIBRATION outputs, prepared model in VALIDATION, x) for one model."""
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        _randomize_bn(model)
    model.eval()
    x = torch.randn(batch, *shape)
    qat = irq.prepare(model, (x,), qconfig=qconfig, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        eager = _leaves(model(x))
        calibration = _leaves(qat(x))
        for _ in range(3):
            qat(torch.randn(batch, *shape, generator=g) * 1.5)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return eager, calibration, qat, x


@pytest.fixture(scope="module", params=sorted(TRACED_BATCH.items()),
                ids=lambda p: f"{p[0]}-b{p[1]}")
def flow(request):
    name, batch = request.param
    make, shape = CONVERTIBLE[name]
    eager, calibration, qat, x = _calibrate(make, shape, batch)
    other = torch.randn(5 - batch, *shape, generator=torch.Generator().manual_seed(2))  # the other batch size
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")  # a QuantizationWarning here means the flow itself is wrong
        validation = _leaves(qat(x))
        validation_other = _leaves(qat(other))
    program = irq.convert(qat)
    float_ops = [f"{op.name} ({op.get_attr(FLOAT_ATTR).value})" for op in ir_of(qat).walk()
                 if op.get_attr(FLOAT_ATTR) is not None and not is_static_size_computation(op)]
    return dict(name=name, eager=eager, calibration=calibration, validation=validation, x=x, other=other,
                validation_other=validation_other, program=program, float_ops=float_ops)


def test_converted_models_have_no_float_island_in_validation(flow):
    """Bug: on bayes, quant-annotate left `1 - x` (rsub_scalar) in float (`qat.float`, computed in float32 by
    VALIDATION) while lower-bpu made it an integer table: the two agree only until a value lands on a
    rounding tie. A model that converts without float_fallback must have no float op at the qat level."""
    assert flow["float_ops"] == [], flow["name"]


def test_calibration_output_equals_torch_eager(flow):
    assert len(flow["calibration"]) == len(flow["eager"])
    for got, want in zip(flow["calibration"], flow["eager"]):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=flow["name"])


def test_validation_is_close_to_float(flow):
    for v, f in zip(flow["validation"], flow["eager"]):
        assert v.shape == f.shape
        assert _cosine(v, f) > 0.995, (flow["name"], _cosine(v, f))


def test_deployed_equals_validation_bit_for_bit(flow):
    program = flow["program"]
    runs = [(flow["x"], flow["validation"]), (flow["other"], flow["validation_other"])]
    if flow["name"] in TRACED_BATCH_ONLY:
        with pytest.raises(ProgramError, match="this program only runs at batch"):
            irq.run(program, flow["other"].numpy())
        runs = runs[:1]
    for x, validation in runs:
        deployed = _leaves(irq.run(program, x.numpy()))
        for r, d in zip(_leaves(reference.run(program, x.numpy())), deployed):  # the oracle runs any batch too
            np.testing.assert_array_equal(r, d, err_msg=f"{flow['name']} batch {len(x)}")
        assert len(deployed) == len(validation)
        for d, v in zip(deployed, validation):
            assert d.dtype == v.dtype == np.float32
            differ = np.flatnonzero(d != v)
            assert differ.size == 0, f"{flow['name']} batch {len(x)}: {differ.size}/{v.size} outputs differ"


def test_reference_runtime_equals_numba_bit_for_bit(flow):
    program, x = flow["program"], flow["x"].numpy()
    for r, n in zip(_leaves(reference.run(program, x)), _leaves(irq.run(program, x))):
        np.testing.assert_array_equal(r, n, err_msg=flow["name"])


@pytest.mark.parametrize("name", sorted(NOT_CONVERTIBLE))
def test_unsupported_ops_name_the_op_and_the_users_line(name):
    make, shape, ops = NOT_CONVERTIBLE[name]
    eager, _, qat, x = _calibrate(make, shape, 1)
    with torch.no_grad():  # what convert refuses still validates: the user can measure it before deciding
        assert _cosine(_leaves(qat(x))[0], eager[0]) > 0.99
    with pytest.raises(PassFailure) as err:
        irq.convert(qat)
    text = str(err.value)
    assert "lower-bpu" in text
    for op in ops:
        assert any(SOURCE in line and op in line for line in text.splitlines()), text


# -- bugs found by these models, each with the model that showed it -------------------------------------------
class _LiteralBatchView(nn.Module):
    """`view(1, -1, 4)`: the model's own code fixes the batch (at batch 4 eager torch mixes the samples too)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.fc(x).view(1, -1, 4), dim=1).flatten(1)


def test_export_at_batch_1_keeps_the_batch_dynamic():
    """Bug: prepare(method="export") at batch 1 ran a batch of 4 through view([1, -1, 4]) (torch.export
    specialises a size of 1) and returned a [1, 32] softmax across the samples instead of [4, 8]: a wrong
    number without an error. It was then refused; now a batch-1 example is exported as two copies (the
    batch stays symbolic) and typed at batch 1, so `view(x.shape[0], -1, 4)` runs any batch, as with fx."""
    model = um.BatchReshape().eval()
    for method in ("export", "fx"):
        qat = irq.prepare(model, (torch.randn(1, 8),), method=method, check_model=False)
        assert "tensor<1x8xf32>" in str(ir_of(qat).to_text())  # the IR keeps the user's batch of 1
        qat.eval()
        irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
        with torch.no_grad():
            for n in (1, 4):
                x = torch.randn(n, 8)
                torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-6)



class _BatchSizedState(nn.Module):
    """An RNN-style state made in forward from the input's batch: `zeros(1, x.size(0), 4)`."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(1, x.size(0), 4)
        return self.fc(x) + h[0]


def test_export_refuses_another_batch_when_a_created_tensor_holds_the_traced_one():
    """Bug: with the batch specialised by torch.export, `zeros(1, x.size(0), 4)` was recorded as zeros([1, 2, 4]),
    and the prepared model run at batch 3 failed inside torch with "The size of tensor a (2) must match the size
    of tensor b (3)" (nn.GRU / nn.LSTM's initial state does this), naming neither the cause nor the fix."""
    model = _BatchSizedState().eval()
    mod = irq.import_torch(model, (torch.randn(2, 8),), method="export")
    if not any(op.name == "torch.call" and "zeros" in str(op.get_attr("target").value) for op in mod.walk()):
        pytest.skip("this torch exported the state's batch symbolically")
    qat = irq.prepare(model, (torch.randn(2, 8),), method="export", check_model=False)
    with pytest.raises(ValueError, match=rf"batch 2.*aten.zeros.*{__file__}:\d+.*method='fx'"):
        qat(torch.randn(3, 8))

def test_export_refuses_a_batch_the_models_code_fixes():
    """A literal batch in the model's own reshape (`view(1, -1, 4)`) cannot be made dynamic: the prepared
    model refuses another batch, naming the user's line, instead of computing across the samples."""
    model = _LiteralBatchView().eval()
    qat = irq.prepare(model, (torch.randn(1, 8),), method="export", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    x1 = torch.randn(1, 8)
    with torch.no_grad():
        torch.testing.assert_close(qat(x1), model(x1), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match=rf"batch 1.*{__file__}:\d+.*method='fx'"):
            qat(torch.randn(4, 8))


@pytest.mark.parametrize("name", ["tiny_vit", "tiny_vit_mean_pool"])
@pytest.mark.parametrize("traced", [1, 2])
def test_vit_exported_at_any_batch_deploys_at_any_batch(name, traced):
    """Bug: the ViT's qkv permute puts the batch second, so the numba runtime planned its programs at the
    traced batch only, and method="export" at batch 1 kept the batch static. Now the planner follows the
    batch through permutes, reshapes and slices (runtime/numba/batch.py): deployed == VALIDATION batched and
    per sample at batch sizes other than the traced one, on programs from an export at batch 1 and 2."""
    make, shape = CONVERTIBLE[name]
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randn(traced, *shape)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", method="export", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _ in range(2):
            qat(torch.randn(3, *shape, generator=g) * 1.5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat)
    run = rn.compile(program)
    assert run.program_batch == traced
    other = torch.randn(5, *shape, generator=g)
    with torch.no_grad():
        validation = qat(other).numpy()
    np.testing.assert_array_equal(run(other.numpy()), validation)
    for i in range(5):  # per sample: the batch-1 plan, and no sample leaks into another
        np.testing.assert_array_equal(run(other[i:i + 1].numpy()), validation[i:i + 1])
    np.testing.assert_array_equal(run(other[:traced].numpy()), reference.run(program, other[:traced].numpy())[0])


@pytest.mark.parametrize("method", ["fx", "export"])
def test_basic_indexing_is_data_movement_through_the_chain(method):
    """Bug: `q, k, v = qkv[0], qkv[1], qkv[2]` (and every int index / select) stayed one `torch.getitem`
    that no march runs, so a ViT could not convert. Basic indexing now imports as slice / squeeze /
    unsqueeze, which share their input's scale and lower to bpu.slice / bpu.reshape."""
    from irq.runtime.torch import to_module
    model = um.Indexing().eval()
    x = torch.randn(2, 3, 5, 5)
    module = irq.import_torch(model, (x,), method=method)
    names = [op.name for op in module.walk()]
    assert "torch.getitem" not in names and "torch.select" not in names
    for got, want in zip(to_module(module)(x), model(x)):
        assert torch.equal(got, want)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x * 1.5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = _leaves(qat(x))
    program = irq.convert(qat)
    deployed, oracle = _leaves(irq.run(program, x.numpy())), _leaves(reference.run(program, x.numpy()))
    assert len(deployed) == len(validation) == 6
    for v, d, r in zip(validation, deployed, oracle):
        np.testing.assert_array_equal(d, v)
        np.testing.assert_array_equal(r, d)


#: the same flow with method="export" (the path HF-style models take) at the traced batch
EXPORTED = ("tiny_vit", "scalar_ops", "clamp_family", "depthwise_hardswish", "unet_cat3")


@pytest.mark.parametrize("name", EXPORTED)
def test_export_method_flow_is_exact(name):
    make, shape = CONVERTIBLE[name]
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        _randomize_bn(model)
    x = torch.randn(2, *shape)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", method="export", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        np.testing.assert_allclose(qat(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
        qat(x * 1.5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = qat(x).numpy()
    assert _cosine(validation, model(x).detach().numpy()) > 0.995
    program = irq.convert(qat)
    deployed = irq.run(program, x.numpy())
    np.testing.assert_array_equal(deployed, validation)
    np.testing.assert_array_equal(reference.run(program, x.numpy())[0], deployed)


@pytest.mark.parametrize("name,march", [("detection_head", "bayes"), ("tiny_vit", "nash"), ("chunk_gate", "nash")])
def test_qat_steps_then_deploy(name, march):
    """Bug: QAT backward failed ("modified by an inplace operation") when one module runs twice in a forward
    (the detection head's `cls` / `box` convs on both levels): the second call's observer updated the scale
    buffer the first call had saved for backward. After QAT steps, deployed == VALIDATION still holds."""
    make, shape = CONVERTIBLE[name]
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randn(2, *shape)
    qat = irq.prepare(model, (x,), march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    opt = torch.optim.SGD(qat.parameters(), lr=1e-2)
    before = None
    for _ in range(3):
        loss = sum(y.pow(2).mean() for y in _as_tuple(qat(x)))
        before = before if before is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before  # it trains
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = _leaves(qat(x))
    deployed = _leaves(irq.run(irq.convert(qat, march=march), x.numpy()))
    for d, v in zip(deployed, validation):
        np.testing.assert_array_equal(d, v)


def _as_tuple(y):
    return y if isinstance(y, tuple) else (y,)


ATTENTION = {"multihead_attention": um.AttentionBlock,
             "multihead_attention_seq_first": lambda: um.AttentionBlock(batch_first=False),
             "hand_written_attention": um.HandWrittenAttention}


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_attention_traced_at_2_deploys_at_any_batch(name):
    """Bug: nn.MultiheadAttention folds the batch inside merged axes ([L * N, E], [L, N * heads, d]), and a
    hand-written block merges it with the heads ([B * heads, N, d]); the numba runtime followed the batch only
    as the outermost factor of an axis, so such programs ran at their traced batch only (ProgramError) and the
    reference runtime at none other. Now one program traced at 2 runs at 1, 3 and 8 on both runtimes, bit for
    bit equal to VALIDATION at that batch (torch, which shares no shape rule with the runtimes), and per sample
    (a reading of the batch that mixed samples would differ from the batch-1 run)."""
    model, qat, _ = calibrated(ATTENTION[name], (2, 5, 16))
    program = irq.convert(qat)
    run = rn.compile(program)
    assert run.program_batch == 2
    g = torch.Generator().manual_seed(4)
    for batch in (1, 3, 8):
        x = torch.randn(batch, 5, 16, generator=g)
        with torch.no_grad():
            validation, eager = qat(x).numpy(), model(x).numpy()
        assert _cosine(validation, eager) > 0.995
        deployed = run(x.numpy())
        np.testing.assert_array_equal(deployed, validation, err_msg=f"{name} batch {batch}")
        np.testing.assert_array_equal(reference.run(program, x.numpy())[0], deployed, err_msg=f"{name} batch {batch}")
        if batch == 3:
            for i in range(3):
                np.testing.assert_array_equal(run(x[i:i + 1].numpy()), deployed[i:i + 1])
