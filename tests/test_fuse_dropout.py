"""fuse absorbs an eval-mode dropout between a linear / conv (after its batch norm) and the residual add (issue 12).

Hugging Face's BERT computes `dense -> dropout -> LayerNorm(h + residual)`. The dropout (the identity in eval, but a
mode-following op in the IR) stopped fuse from merging the dense with the residual add, so each dense output got an
int8 tensor of its own before the add, and the 6-layer mean-pooled cosine was 0.87 instead of 0.98. Now the fused op
records the dropout's rate and applies it where the dropout was, only while the module trains.

Oracles: eager torch (eval: the float import and the prepared model; training: the same units dropped from the same
RNG state, bit for bit, which holds only if the dropout is applied to the same tensor at the same point), and
VALIDATION for the deployed program (reference and numba runtimes, bit for bit, at two batches).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation
from support.random_draws import assert_draws_as_eager
from torch import Tensor, nn

import irq
from irq.quant.prepare import PIPELINE, ir_of
from irq.transform import PassManager
from irq.transform.pass_base import PassFailure
from irq.verifier import VerifyError, verify

SHAPE = (5, 8)  # one sample: a sequence of 5 tokens of 8 features


class _Block(nn.Module):
    """BertOutput's form: `LayerNorm(dropout(dense(h)) + h)` after an input projection. `training` picks the
    dropout: "module" an nn.Dropout (follows train/eval), "off" F.dropout(training=False), "on" F.dropout's
    default training=True (drops in eval too)."""

    def __init__(self, training: str = "module") -> None:
        super().__init__()
        self.pre, self.dense, self.dropout, self.ln = nn.Linear(8, 8), nn.Linear(8, 8), nn.Dropout(0.1), nn.LayerNorm(8)
        self.training_arg = training

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.pre(x))
        y = self.dense(h)
        if self.training_arg == "module":
            y = self.dropout(y)
        elif self.training_arg == "off":
            y = F.dropout(y, 0.1, training=False)
        else:
            y = F.dropout(y, 0.1)
        return self.ln(y + h)


class _ConvBlock(nn.Module):
    """conv -> batch norm -> dropout -> + x -> relu: the dropout sits after the batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.dropout = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout(0.2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.dropout(self.bn(self.conv(x))) + x)


def _fused_ir(model: nn.Module, x: Tensor, method: str):
    module = irq.import_torch(model.eval(), (x,), method=method)
    PassManager.parse(PIPELINE).run(module)
    return irq.parse_module(irq.print_module(module))  # the fused op's `dropout` survives the text format


def _ops(module, name: str) -> list:
    return [o for o in module.walk() if o.name == name]


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize(("training", "rate"), [("module", 0.1), ("off", None)])
def test_linear_dropout_add_fuses_into_one_linear(method, training, rate):
    """Bug caught: the dropout between dense and add kept them apart (two int8 tensors instead of one)."""
    torch.manual_seed(0)
    module = _fused_ir(_Block(training), torch.randn(2, *SHAPE), method)
    assert not _ops(module, "torch.dropout") and not _ops(module, "hl.add")
    dense = [o for o in _ops(module, "hl.linear") if o.get_attr("owner").value == "dense"]
    assert len(dense) == 1 and dense[0].residual is not None
    got = dense[0].get_attr("dropout")
    assert (got.value if got is not None else None) == pytest.approx(rate)  # fixed off: nothing to apply


@pytest.mark.parametrize("method", ["fx", "export"])
def test_fused_dropout_drops_as_eager_in_training(method):
    """QAT semantics kept: in training the float import of the fused IR drops exactly the units eager drops
    (same seed, same tensor, same point, bit for bit); in eval it is eager's identity."""
    torch.manual_seed(0)
    model, x = _Block(), torch.randn(3, *SHAPE)
    module = _fused_ir(model, x, method)
    assert not _ops(module, "torch.dropout")  # the fused op applies it
    gm = to_module(module)
    assert_draws_as_eager(model, gm, x)
    torch.manual_seed(0)
    assert not torch.equal(gm(x), gm(x))  # it does drop
    model.eval()
    gm.eval()
    torch.testing.assert_close(gm(x), model(x), rtol=1e-6, atol=1e-6)


class _RandomAfterDropout(nn.Module):
    """Another random op runs after the dense's dropout and before the add. `residual`: "early" adds h (ready
    before the dropout, as in BERT), "random" adds the other dropout's output, "late" a value computed after the
    other dropout."""

    def __init__(self, residual: str) -> None:
        super().__init__()
        self.pre, self.dense, self.ln = nn.Linear(8, 8), nn.Linear(8, 8), nn.LayerNorm(8)
        self.dropout, self.other = nn.Dropout(0.3), nn.Dropout(0.5)
        self.dense2, self.ln2 = nn.Linear(8, 8), nn.LayerNorm(8)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.pre(x))
        y = self.dropout(self.dense(h))
        if self.residual == "opaque":  # an opaque call (here torch.rand_like) may draw random numbers too
            return self.ln(y + h * torch.rand_like(h))
        if self.residual == "fused":  # another block whose fused op applies its dropout in between
            return self.ln(y + self.ln2(self.other(self.dense2(h)) + h))
        z = self.other(h)
        if self.residual == "early":
            return self.ln(y + h) * z
        if self.residual == "random":
            return self.ln(y + z)
        return self.ln(y + torch.sigmoid(z))


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize(("residual", "fused"), [("early", True), ("random", False), ("late", False),
                                                 ("opaque", False), ("fused", False)])
def test_random_op_after_the_dropout_keeps_eagers_draws(method, residual, fused):
    """Bug caught: the fused op applied the dropout where the add was, after the other dropout's draws, so QAT
    dropped other units than eager from the same RNG state. With the residual ready, the fused op takes the
    dropout's place; with the residual computed after the other random op (a dropout, an opaque call, another
    block's fused op applying its dropout), the dropout is not absorbed, and the refusal says why. Either way
    training drops eager's units, bit for bit."""
    torch.manual_seed(0)
    model, x = _RandomAfterDropout(residual), torch.randn(3, *SHAPE)
    module = _fused_ir(model, x, method)
    (dense,) = [o for o in _ops(module, "hl.linear") if o.get_attr("owner").value == "dense"]
    assert (dense.residual is not None) == fused
    if not fused:
        reasons = " ".join(str(e) for e in dense.get_attr("hl.unfused"))
        assert "draws random numbers between" in reasons and "dropout" in reasons, reasons
    gm = to_module(module)
    assert_draws_as_eager(model, gm, x)


def test_dropout_after_batch_norm_fuses_and_drops_as_eager():
    """conv-bn-add-relu with a dropout after the batch norm: one fused conv with the rate; in training it drops
    the units eager drops (the batch norm's simulated folding rounds differently, hence the tolerance, far below
    the 1 / (1 - p) a differing unit would show)."""
    torch.manual_seed(0)
    model, x = _ConvBlock(), torch.randn(2, 4, 6, 6)
    module = _fused_ir(model, x, "fx")
    (conv,) = _ops(module, "hl.conv2d")
    assert conv.get_attr("dropout").value == pytest.approx(0.2) and conv.residual is not None
    assert conv.get_attr("activation").value == "relu" and conv.get_attr("bn_eps") is not None
    assert not _ops(module, "torch.dropout")
    assert_draws_as_eager(model, to_module(module), x, seeds=2, tol=1e-5)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_prepared_model_trains_with_the_dropout_and_deploys_as_validation(method):
    """What a user does: prepare the training model for QAT, train (the fused dropout drops), then eval: the
    prepared model equals eager before quantizing, and the deployed program equals VALIDATION at two batches."""
    torch.manual_seed(0)
    model = _Block().train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, *SHAPE, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_qat_8bit", march="nash", check_model=False, method=method)
    assert not any(o.name == "torch.dropout" for o in ir_of(qat).walk())
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))  # training drops
    model.eval()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, *SHAPE, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), SHAPE, g, min_cosine=0.98)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_dropout_fixed_on_is_not_fused_and_convert_refuses(method):
    """`F.dropout(y, 0.1)` drops in eval too: fusing it would hide it. It stays, the refusal names it, and convert
    refuses it as before."""
    torch.manual_seed(0)
    model, x = _Block("on").eval(), torch.randn(2, *SHAPE)
    module = _fused_ir(model, x, method)
    assert len(_ops(module, "torch.dropout")) == 1
    (dense,) = [o for o in _ops(module, "hl.linear") if o.get_attr("owner").value == "dense"]
    assert dense.residual is None and dense.get_attr("dropout") is None
    reasons = [str(e) for e in dense.get_attr("hl.unfused")]
    assert any("drops in eval mode too (training fixed True)" in r for r in reasons), reasons
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with pytest.raises(PassFailure, match=r"dropout' drops units in eval mode too"):
        irq.convert(qat, march="nash")


def test_fused_dropout_needs_a_residual():
    """The verifier: a `dropout` rate on a fused op without a residual is an error naming the op."""
    text = """
    func.func @f(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> tensor<2x8xf32> {
      %0 = hl.linear %x, %w {owner = "fc", dropout = 0.1 : f64} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
      return %0 : tensor<2x8xf32>
    }"""
    with pytest.raises(VerifyError, match=r"hl\.linear.*dropout needs a fused residual"):
        verify(irq.parse_module(text))
