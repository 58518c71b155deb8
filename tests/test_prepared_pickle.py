"""torch.save(qat_model) / torch.load: a prepared model pickles whole, as users save checkpoints.

Before, pickling failed ("Can't pickle <class 'irq.ir.opdef.Conv2dOp'>"): the prepared module carries its IR,
whose op classes are built by the dialects, and fx's own GraphModule pickling re-traces the generated forward
on load, which the generated code does not survive. The IR now travels as text and the module is regenerated
from it; these tests check the loaded model is the same model: same outputs, same quantization state, same
converted program, and training continues identically.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

import irq


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn(self.conv(x)))
        return self.head(F.adaptive_avg_pool2d(y, 1).flatten(1))


class Opaque(nn.Module):
    """A user's module kept opaque (leaf_modules): it must come back as the user's module."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x) * self.scale


class _WithOpaque(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.odd = Opaque()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.odd(self.conv(x))


def _in_qat(model: nn.Module, x: torch.Tensor, **kw) -> nn.Module:
    qat = irq.prepare(model.eval(), (x,), qconfig="default_qat_8bit", march="nash", check_model=False, **kw)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    return qat


def _steps(qat: nn.Module, seed: int, n: int = 2) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(qat.parameters(), lr=0.05)
    losses = []
    for _ in range(n):
        loss = qat(torch.randn(4, 3, 8, 8, generator=g)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _fake_quant_states(qat: nn.Module) -> dict[str, tuple]:
    return {n: (m.state, m.training) for n, m in qat.named_modules() if hasattr(m, "state") and hasattr(m, "observe")}


def test_a_model_in_qat_saves_and_loads_as_the_same_model(tmp_path):
    """Bug caught: torch.save raising, or a loaded model that lost its scales, its FakeQuantState, its
    train/eval mode or its IR (convert then fails or gives another program)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8)
    qat = _in_qat(_Net(), x)
    _steps(qat, seed=1)
    path = tmp_path / "qat.pt"
    torch.save(qat, path)
    loaded = torch.load(path, weights_only=False)
    assert loaded.training and _fake_quant_states(loaded) == _fake_quant_states(qat)
    for a, b in zip(qat.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert a[0] == b[0] and torch.equal(a[1], b[1]), a[0]
    # training continues identically (same parameters, observers and optimizer steps)
    twin = copy.deepcopy(qat)
    assert _steps(loaded, seed=2) == _steps(twin, seed=2)
    for model in (loaded, twin):
        model.eval()
        irq.set_fake_quantize(model, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        assert torch.equal(loaded(x), twin(x))
    assert str(irq.convert(loaded, march="nash")) == str(irq.convert(twin, march="nash"))


def test_an_opaque_user_module_comes_back(tmp_path):
    """The user's module kept opaque is pickled as itself and called by the regenerated model."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    qat = _in_qat(_WithOpaque(), x, leaf_modules=(Opaque,))
    path = tmp_path / "qat.pt"
    torch.save(qat, path)
    loaded = torch.load(path, weights_only=False)
    assert isinstance(loaded.get_submodule("odd"), Opaque)
    qat.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), qat(x))
