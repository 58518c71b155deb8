"""method="export" at any batch: attention, encoder layers, a ViT, recurrent modules, adaptive max pooling.

torch.export writes `bsz * num_heads` (nn.MultiheadAttention's reshapes) as arithmetic on the symbolic batch;
irq used to fall back to a static export for such a graph, which baked the example's batch into every view
(`aten.view(x, [5, 4, 8])`) and refused any other batch. nn.GRU / LSTM / RNN exported as one opaque `aten.gru`
/ `aten.lstm` / `aten.rnn_tanh` fed by a zeros state of the batch's size; `aten.adaptive_max_pool2d` stayed
opaque. Each model here is checked against eager torch at the traced batch and another (the float import,
fx and export alike), and quantized: deployed (numba) == VALIDATION bit for bit at batches 2 and 3, reference ==
numba, VALIDATION's cosine to float.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import numba as numba_runtime
from irq.runtime import reference
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation, run_both
from torch import Tensor, nn

import irq
from irq.frontend.export import BATCH_FIXED_ATTR


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        y, _ = self.attn(x, x, x, need_weights=False)
        return self.fc(y + x)


class EncoderLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Linear(16, 16)
        self.layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dropout=0.0)
        self.head = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.layer(self.emb(x)).mean(1))


class ViT(nn.Module):
    """Patch embedding conv -> flatten / transpose -> class token -> two encoder layers -> head on the token."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, stride=4)
        self.cls = nn.Parameter(torch.randn(1, 1, 16))
        self.pos = nn.Parameter(torch.randn(1, 5, 16) * 0.1)
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.blocks(x)[:, 0])


class Recurrent(nn.Module):
    def __init__(self, kind: type, **options) -> None:
        super().__init__()
        self.rnn = kind(8, 12, batch_first=True, **options)
        self.fc = nn.Linear(12 * (2 if options.get("bidirectional") else 1), 2)

    def forward(self, x: Tensor) -> Tensor:
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class AdaptiveMax(nn.Module):
    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.AdaptiveMaxPool2d((2, 3))
        self.functional = functional
        self.fc = nn.Linear(8 * 6, 4)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.conv(x))
        y = F.adaptive_max_pool2d(y, (2, 3)) if self.functional else self.pool(y)
        return self.fc(y.flatten(1))


#: name -> (model factory, one sample's input shape, min cosine of VALIDATION to float)
MODELS = {
    "mha": (Attention, (5, 16), 0.98),
    "encoder_layer": (EncoderLayer, (6, 16), 0.98),
    "vit": (ViT, (3, 8, 8), 0.97),
    "gru": (lambda: Recurrent(nn.GRU), (4, 8), 0.98),
    "lstm": (lambda: Recurrent(nn.LSTM), (4, 8), 0.98),
    "rnn_bidirectional": (lambda: Recurrent(nn.RNN, bidirectional=True, num_layers=2), (4, 8), 0.98),
    "adaptive_max_pool": (lambda: AdaptiveMax(functional=True), (3, 8, 9), 0.99),
    "adaptive_max_pool_module": (lambda: AdaptiveMax(functional=False), (3, 8, 9), 0.99),
}


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return MODELS[name][0]().eval()


def _import(model: nn.Module, x: Tensor, method: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.export's notes on the RNN's flat weights
        return irq.import_torch(model, (x,), method=method)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", list(MODELS))
def test_float_import_follows_the_batch(name, method):
    """Bug caught: the example's batch baked into a view or a state (another batch refused or wrong), an op
    kept opaque, a result type other than eager's shape."""
    model, shape = _model(name), MODELS[name][1]
    g = torch.Generator().manual_seed(3)
    module = _import(model, torch.randn(2, *shape, generator=g), method)
    assert "torch.call" not in {op.name for op in module.walk()}
    assert BATCH_FIXED_ATTR not in module.attributes
    ret = [op for op in module.walk() if op.name == "func.return"][0]
    with torch.no_grad():
        assert tuple(ret.operands[0].type.shape) == tuple(model(torch.randn(2, *shape)).shape)
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        for batch in (2, 3, 1):
            x = torch.randn(batch, *shape, generator=g)
            torch.testing.assert_close(gm(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mha", "vit", "gru", "adaptive_max_pool"])
def test_export_deploys_as_validation_at_another_batch(name):
    """The chain from method="export": prepared at batch 2, VALIDATION close to float and the program (numba,
    and reference == numba) equal to it bit for bit at batches 2 and 3."""
    _assert_export_chain(name, example_batch=2, batches=(2, 3))


@pytest.mark.parametrize("name", ["mha", "encoder_layer", "vit"])
def test_attention_exported_at_batch_1_runs_at_any_batch(name):
    """Bug caught: at an example batch of 1 (torch.export specializes it, so irq exports two copies) attention's
    `[L*N, E] -> [L, N, E]` reshapes were misread by the batch-1 rule (a size-1 batch hides in any merge), so
    the export was kept static and every other batch refused naming the attention line. Such a graph is now
    typed at the doubled batch 2, where the batch's axis has one reading: the float import equals eager at
    batches 1, 2 and 3, and the program prepared at batch 1 deploys equal to VALIDATION at 2, 3 and 1."""
    model, shape = _model(name), MODELS[name][1]
    g = torch.Generator().manual_seed(3)
    module = _import(model, torch.randn(1, *shape, generator=g), "export")
    assert BATCH_FIXED_ATTR not in module.attributes
    assert "torch.call" not in {op.name for op in module.walk()}
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        for batch in (1, 2, 3):
            x = torch.randn(batch, *shape, generator=g)
            torch.testing.assert_close(gm(x), model(x), rtol=1e-5, atol=1e-5)
    _assert_export_chain(name, example_batch=1, batches=(2, 3, 1))


class FixesTheBatch(nn.Module):
    """`view(1, -1, 4)`: the model's code puts every sample in one row (eager's softmax mixes the samples)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.fc(x).view(1, -1, 4), dim=1).flatten(1)


def test_a_batch_the_models_code_fixes_is_refused_at_another_batch():
    """A batch-1 export whose reshape really takes the batch off the results (a (1, 8 * B) output) is not typed at
    the doubled batch: it stays static, and the float import and the prepared model refuse batch 3 naming the view's
    line and saying what to do, rather than computing numbers torch did not."""
    torch.manual_seed(0)
    model = FixesTheBatch().eval()
    refusal = r"at batch 1.*aten\.view\.default at .*test_export_any_batch\.py:\d+.*Prepare with example inputs"
    module = irq.import_torch(model, (torch.randn(1, 8),), method="export")
    assert module.attributes[BATCH_FIXED_ATTR].value == 1
    x = torch.randn(1, 8)
    with torch.no_grad():
        torch.testing.assert_close(to_module(module)(x), model(x), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match=refusal):
            to_module(module)(torch.randn(3, 8))
        with pytest.raises(ValueError, match=refusal):
            _prepared_float(model, x)(torch.randn(3, 8))


def _assert_export_chain(name: str, example_batch: int, batches: tuple[int, ...]) -> None:
    """prepare(method="export") at `example_batch`, calibrate at batch 4, convert, and `assert_deploys_as_validation`
    at `batches` (numba == VALIDATION bit for bit, reference == numba, VALIDATION's cosine to float)."""
    model, shape, min_cos = _model(name), MODELS[name][1], MODELS[name][2]
    g = torch.Generator().manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = irq.prepare(
            model,
            (torch.randn(example_batch, *shape, generator=g),),
            qconfig="default_calib_8bit",
            march="nash",
            method="export",
            check_model=False,
        )
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, *shape, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, shape, g, batches=batches, min_cosine=min_cos)


class ScaledByBatch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x) * x.shape[0]  # the batch read as a number: a static export computes `* 2`


class PaddedTokens(nn.Module):
    """A computed reshape size (`x.shape[0] * 4`) and two constant zero tokens: zeros(2, 8), the traced batch's size
    by coincidence, derives from nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x.reshape(x.shape[0] * 4, 8)).view(x.shape[0], 4, 8)
        pad = torch.zeros(2, 8)[None].expand(x.shape[0], -1, -1)
        return self.head(torch.cat([pad, h], 1))


def _prepared_float(model: nn.Module, x: Tensor) -> nn.Module:
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", method="export", check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)  # observers only: the float model's numbers
    return qat


def test_batch_read_as_a_number_is_refused_at_another_batch_naming_the_op():
    """Bug caught: a static export computed `y * x.shape[0]` as `y * 2`, and the prepared model, the float import
    and the deployed program ran batch 3 multiplied by 2, without an error (only views and creation ops holding
    the batch were refused, and only by the prepared model)."""
    torch.manual_seed(0)
    model = ScaledByBatch().eval()
    refusal = r"at batch 2.*aten\.mul\.Tensor at .*test_export_any_batch\.py:\d+.*got an input of shape \[3, 4\]"
    module = irq.import_torch(model, (torch.randn(2, 4),), method="export")
    assert module.attributes[BATCH_FIXED_ATTR].value == 2
    with torch.no_grad(), pytest.raises(ValueError, match=refusal):
        to_module(module)(torch.randn(3, 4))
    qat = _prepared_float(model, torch.randn(2, 4))
    with torch.no_grad():
        x = torch.randn(2, 4)
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError, match=refusal):
            qat(torch.randn(3, 4))
        irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
        program = irq.parse_module(irq.print_module(irq.convert(qat, march="nash")))  # as saved and loaded
        np.testing.assert_array_equal(run_both(program, x.numpy()), qat(x).numpy())
    with pytest.raises(numba_runtime.ProgramError, match=refusal):
        numba_runtime.compile(program)(np.zeros((3, 4), np.float32))
    with pytest.raises(reference.ReferenceRuntimeError, match=refusal):
        reference.run(program, np.zeros((3, 4), np.float32))


def test_constant_of_the_batchs_size_and_a_computed_reshape_run_at_any_batch():
    """Bug caught: `x.shape[0] * 4` in a reshape sent the model to a static export, where the constant
    zeros(2, 8) was taken for the batch and every other batch refused."""
    torch.manual_seed(0)
    model = PaddedTokens().eval()
    module = irq.import_torch(model, (torch.randn(2, 4, 8),), method="export")
    assert BATCH_FIXED_ATTR not in module.attributes
    gm, qat = to_module(module), _prepared_float(model, torch.randn(2, 4, 8))
    with torch.no_grad():
        for batch in (3, 1):
            x = torch.randn(batch, 4, 8)
            torch.testing.assert_close(gm(x), model(x), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)


def test_used_indices_of_adaptive_max_pool_are_refused_by_name():
    """The indices are an i64 result no bpu program returns: used, the import says so at the user's line."""

    class WithIndices(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            values, indices = F.adaptive_max_pool2d(x, 2, return_indices=True)
            return values + indices.float()

    with pytest.raises(
        irq.FrontendError, match=r"test_export_any_batch\.py:\d+: aten\.adaptive_max_pool2d: its indices output is used"
    ):
        irq.import_torch(WithIndices().eval(), (torch.randn(2, 3, 4, 4),), method="export")


#: refused at convert naming the op: a gather by a computed index (a constant index deploys: tests/test_gather.py),
#: the argmax of the flattened tensor
REFUSED = {
    "gather_computed_index": (lambda y: torch.gather(y, 1, y.argmin(1, keepdim=True)), "gather"),
    "argmax_flat": (lambda y: y.argmax(), "argmax"),
}
#: integer results over a dim: bpu.argmax / bpu.argmin, an i64 output returned as it is
INDICES = {
    "argmax": (lambda y: torch.argmax(y, 1), "bpu.argmax"),
    "argmin_keepdim": (lambda y: y.argmin(-1, keepdim=True), "bpu.argmin"),
    "max_indices": (lambda y: y.max(1).indices, "bpu.argmax"),
    "argmax_ties": (lambda y: torch.clamp(y, max=0.0).argmax(dim=1), "bpu.argmax"),  # many rows tie at 0
}


class _Head(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 6)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.fc(x))


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", list(REFUSED))
def test_unsupported_integer_results_are_refused_at_convert_naming_the_op(name, method):
    """gather and a flattened argmax stay torch ops (the float import computes eager's result); convert refuses
    them naming the op and this file's line, never a program returning other numbers."""
    fn, named = REFUSED[name]
    model, x = _Head(fn).eval(), torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(to_module(_import(model, x, method))(x), model(x))
    qat = _calibrated_head(model, x, method)
    with pytest.raises(Exception, match=rf"(?s)test_export_any_batch\.py:\d+:\d+: error: .*{named}"):
        irq.convert(qat, march="nash")


def _calibrated_head(model: nn.Module, x: Tensor, method: str) -> nn.Module:
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", method=method, check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(torch.randn(16, 8, generator=torch.Generator().manual_seed(4)))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", list(INDICES))
def test_indices_over_a_dim_deploy_as_validation(name, method):
    """argmax / argmin / max(dim).indices: the float import equals eager at another batch; the program computes them
    as bpu.argmax / argmin and returns i64 indices equal to VALIDATION's on numba and the reference runtime at
    batches 2 and 3 (ties: the first index, as torch: `argmax_ties` has rows of equal zeros), and VALIDATION picks
    float's index on most rows. Bug caught: an index dequantized or typed float, the last index on ties, the
    reduction along another dim, the batch lost (the same index for every sample)."""
    fn, bpu_op = INDICES[name]
    torch.manual_seed(0)
    model, x = _Head(fn).eval(), torch.randn(2, 8)
    module = _import(model, x, method)
    assert "torch.call" not in {op.name for op in module.walk()}
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        x3 = torch.randn(3, 8, generator=g)
        assert torch.equal(to_module(module)(x3), model(x3))
    qat = _calibrated_head(model, x, method)
    program = irq.convert(qat, march="nash")
    assert bpu_op in {op.name for op in program.walk()}
    for batch in (2, 3):
        xb = torch.randn(batch, 8, generator=g)
        with torch.no_grad():
            want = qat(xb).numpy()
        got = run_both(program, xb.numpy())
        assert got.dtype == np.int64 and want.dtype == np.int64
        np.testing.assert_array_equal(got, want)
    xs = torch.randn(256, 8, generator=g)
    with torch.no_grad():
        agree = (qat(xs) == model(xs)).float().mean().item()
    assert agree > 0.85, agree
