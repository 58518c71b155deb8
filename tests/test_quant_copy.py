"""A prepared model copied the way users' training loops copy it: copy.deepcopy (EMA models,
best-checkpoint copies) and a state_dict round trip into a fresh prepare.

fx.GraphModule.__deepcopy__ rebuilds the copy through GraphModule.__init__, which used to drop the
prepared model's IR, march and fingerprint and its forward pre-hooks: the copy could not be converted
or frozen (`irq.convert(copy)` raised "carries no qat-level IR") and the FAQ's mistakes went unreported
on it. These tests fail on that bug.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import irq
from irq.quant.prepare import ir_of
from irq.quant.state import fake_quant_modules
from irq.workflow import calibrate


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.relu(self.conv2(y) + y)
        return self.fc(y.mean((2, 3)))


def _data(n: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def _prepared() -> nn.Module:
    torch.manual_seed(0)
    model = Net().eval()
    return irq.prepare(model, (_data(2),), check_model=False)


def _calibrate(qat: nn.Module) -> nn.Module:
    return calibrate(qat, list(_data(16, 2).split(4)), progress=False)


def test_deepcopy_keeps_the_ir_and_converts_equal_to_validation():
    qat = _calibrate(_prepared())
    twin = copy.deepcopy(qat)
    assert ir_of(twin) is ir_of(qat)  # shared, never mutated after prepare
    assert twin.__dict__["irq_march"] == qat.__dict__["irq_march"]
    x = _data(5, 7)
    with torch.no_grad():
        assert torch.equal(twin(x), qat(x))
        validation = twin(x)
    program = irq.convert(twin, march="bayes")
    deployed = torch.from_numpy(np.asarray(irq.run(program, x.numpy())))
    assert torch.equal(deployed, validation)
    frozen = irq.freeze(copy.deepcopy(twin))  # a copy of a copy is still a prepared model
    assert "quant.qcast" in str(frozen)


def test_state_changes_reach_only_the_copy():
    qat = _calibrate(_prepared())
    twin = copy.deepcopy(qat)
    twin.train()
    irq.set_fake_quantize(twin, irq.FakeQuantState.QAT)
    assert all(fq.state is irq.FakeQuantState.QAT for fq in fake_quant_modules(twin))
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in fake_quant_modules(qat))
    before = {k: v.clone() for k, v in qat.state_dict().items()}
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    loss = twin(_data(4, 3) * 3).square().mean()
    loss.backward()
    opt.step()
    assert not torch.equal(twin.conv.weight, qat.conv.weight)
    for k, v in qat.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_copy_keeps_the_state_checks():
    fresh = _prepared()
    twin = copy.deepcopy(fresh)
    twin.eval()
    with pytest.warns(irq.QuantizationWarning, match="before irq.set_fake_quantize"):
        twin(_data(2))
    twin.fc.add_module("extra", nn.Identity())
    with pytest.raises(RuntimeError, match="changed after irq.prepare"):
        twin(_data(2))
    fresh.eval()
    irq.set_fake_quantize(fresh, irq.FakeQuantState.CALIBRATION)
    with warnings.catch_warnings():
        warnings.simplefilter("error", irq.QuantizationWarning)
        fresh(_data(2))  # the original was not changed by the copy's module swap


def test_state_dict_round_trip_gives_the_same_validation_outputs():
    qat = _calibrate(_prepared())
    again = _prepared()
    result = again.load_state_dict(copy.deepcopy(qat.state_dict()))
    assert not result.missing_keys and not result.unexpected_keys
    again.eval()
    irq.set_fake_quantize(again, irq.FakeQuantState.VALIDATION)
    x = _data(6, 9)
    with torch.no_grad():
        assert torch.equal(again(x), qat(x))
