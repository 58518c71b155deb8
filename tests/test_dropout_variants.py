"""Channel-wise and alpha dropouts (nn.Dropout1d/2d/3d, nn.AlphaDropout, nn.FeatureAlphaDropout, their functional
and torch.* forms) import as `dropout` with its `kind`, and a dropout that drops in eval is refused at convert.

Before: those layers stayed an opaque call no march runs, so a CNN that regularises its feature maps was prepared
and trained but could not be converted ("opaque call of 'torch.nn.modules.dropout.Dropout2d': no march runs it").
And `F.dropout(x, 0.5)` (training=True by default: random at inference in eager too) lowered as the identity
without a word, so the deployed program differed from VALIDATION, which kept dropping.

Oracles: eager torch with the same RNG state (the float import in training mode must drop exactly the units
eager drops, which holds only when each kind calls the same torch function), and VALIDATION for the deployed
program, bit for bit.
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
from irq.transform.pass_base import PassFailure

CHANNEL_WISE = {"Dropout2d": nn.Dropout2d, "FeatureAlphaDropout": nn.FeatureAlphaDropout}
LAYERS = {**CHANNEL_WISE, "AlphaDropout": nn.AlphaDropout, "Dropout": nn.Dropout}


class _ConvDrop(nn.Module):
    """conv -> dropout layer -> relu -> conv: the pattern of a CNN that regularises its feature maps."""

    def __init__(self, drop: nn.Module) -> None:
        super().__init__()
        self.c1, self.drop, self.c2 = nn.Conv2d(3, 8, 3, padding=1), drop, nn.Conv2d(8, 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.c2(self.drop(self.c1(x)).relu())


class _Conv1dDrop(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c, self.drop = nn.Conv1d(3, 6, 3, padding=1), nn.Dropout1d(0.5)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.c(x))


class _Functional(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.c, self.fn = nn.Conv2d(3, 8, 3, padding=1), fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.c(x))


FUNCTIONAL = {
    "F.dropout2d": lambda y: F.dropout2d(y, 0.5, True),
    "F.dropout3d": lambda y: F.dropout3d(y.unsqueeze(2), 0.5, True).squeeze(2),
    "F.alpha_dropout": lambda y: F.alpha_dropout(y, 0.3, True),
    "F.feature_alpha_dropout": lambda y: F.feature_alpha_dropout(y, 0.3, True),
    "torch.feature_dropout": lambda y: torch.feature_dropout(y, 0.5, True),
}


def _drops_as_eager(model: nn.Module, x: Tensor, method: str) -> None:
    """In training mode the float import drops exactly the units eager drops from the same RNG state."""
    module = irq.import_torch(model.eval(), (x,), method=method)
    gm = to_module(irq.parse_module(irq.print_module(module)))  # the kind survives the text format
    assert_draws_as_eager(model, gm, x)
    model.eval()
    gm.eval()
    torch.testing.assert_close(gm(x), model(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_dropout_layers_drop_as_eager_in_training(name, method):
    """Bug caught: a layer mapped to the wrong kind (element-wise instead of whole channels, plain instead of alpha)
    trains a different network than the user's; before the mapping these were opaque calls."""
    torch.manual_seed(0)
    _drops_as_eager(_ConvDrop(LAYERS[name](0.5)), torch.randn(2, 3, 6, 6), method)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_dropout1d_on_a_sequence_drops_as_eager(method):
    torch.manual_seed(0)
    _drops_as_eager(_Conv1dDrop(), torch.randn(2, 3, 7), method)


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_dropouts_drop_as_eager(name):
    """The functional and torch.* forms, with training given (traced by fx: the flag is kept on the op)."""
    torch.manual_seed(0)
    model = _Functional(FUNCTIONAL[name])
    x = torch.randn(2, 3, 5, 5)
    gm = to_module(irq.parse_module(irq.print_module(irq.import_torch(model, (x,)))))
    for seed in range(2):
        torch.manual_seed(seed)
        want = model(x)
        torch.manual_seed(seed)
        torch.testing.assert_close(gm(x), want, rtol=0, atol=0)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", sorted(CHANNEL_WISE))
def test_channel_dropout_model_prepared_for_qat_converts_and_deploys_as_validation(name, method):
    """What a user does: prepare the training model for QAT, train (whole channels dropped), then eval, calibrate,
    convert. Before: convert refused the opaque dropout layer. Deployed == VALIDATION at batches 2 and 3."""
    torch.manual_seed(0)
    model = _ConvDrop(CHANNEL_WISE[name](0.5)).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 6, 6, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_qat_8bit", march="nash", check_model=False, method=method)
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))  # training drops
    model.eval()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, 3, 6, 6, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), (3, 6, 6), g, min_cosine=0.98)


class _FixedDropout(nn.Module):
    def __init__(self, training_arg: str) -> None:
        super().__init__()
        self.c, self.training_arg = nn.Conv2d(3, 4, 3), training_arg

    def forward(self, x: Tensor) -> Tensor:
        y = self.c(x)
        if self.training_arg == "default":
            y = F.dropout(y, 0.5)  # training=True: drops in eval too
        elif self.training_arg == "self.training":
            y = F.dropout(y, 0.5, self.training)
        else:
            y = F.dropout(y, 0.5, training=False)
        return y.relu()


def _convert(model: nn.Module, method: str):
    x = torch.randn(2, 3, 6, 6)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    model.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return irq.convert(qat, march="nash")


@pytest.mark.parametrize(
    ("training_arg", "mode", "method"),
    [("default", "eval", "fx"), ("default", "eval", "export"), ("self.training", "train", "fx")],
)
def test_dropout_fixed_in_training_is_refused_at_convert(training_arg, mode, method):
    """Bug caught: `F.dropout(y, 0.5)` (and `training=self.training` traced in training mode) drops in eval too:
    VALIDATION kept dropping while convert lowered the identity, so deployed != VALIDATION with no error. Now
    convert refuses, naming the op, the user's line and the fix."""
    torch.manual_seed(0)
    model = _FixedDropout(training_arg)
    model.train() if mode == "train" else model.eval()
    with pytest.raises(
        PassFailure,
        match=r"test_dropout_variants\.py:\d+.*dropout' drops units in eval mode too.*"
        r"nn\.Dropout layer",
    ):
        _convert(model, method)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_dropout_off_converts(method):
    """`training=False` (and `self.training` traced in eval) is the identity: it converts."""
    torch.manual_seed(0)
    _convert(_FixedDropout("off").eval(), method)
    _convert(_FixedDropout("self.training").eval(), method)
