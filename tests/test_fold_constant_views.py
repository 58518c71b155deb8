"""fold-constant-views: data movement of a parameter or buffer (a positional embedding cut to the sequence
length, one part of a packed bias, a transposed buffer) used as data.

Such models quantized, but convert refused them ("'torch.slice' cannot be lowered to bpu (its inputs are not
quantized)"). The pass folds each movement op of a constant into a constant at convert time; each kind is
checked against eager torch's own view of the parameter, and whole models deploy == VALIDATION.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.passes.fold_constant_views import fold_constant_views
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq

#: view of a (2, 6, 4) parameter -> what is added to the (N, *shape) input; each a kind the pass folds
VIEWS = {
    "slice": (lambda p: p[:, 1:5], (2, 4, 4)),
    "slice_step": (lambda p: p[:, ::2], (2, 3, 4)),
    "select": (lambda p: p[1], (6, 4)),
    "chunk_middle": (lambda p: p.chunk(3, dim=1)[1], (2, 2, 4)),
    "split_sizes_last": (lambda p: p.split([1, 3], dim=-1)[1], (2, 6, 3)),
    "unbind": (lambda p: p.unbind(0)[1], (6, 4)),
    "transpose": (lambda p: p.transpose(1, 2), (2, 4, 6)),
    "permute": (lambda p: p.permute(2, 0, 1), (4, 2, 6)),
    "reshape": (lambda p: p.reshape(4, 12), (4, 12)),
    "flatten_then_slice": (lambda p: p.flatten(1)[:, 3:9], (2, 6)),
    "unsqueeze": (lambda p: p[0].unsqueeze(0), (1, 6, 4)),
}


class _ViewAdd(nn.Module):
    def __init__(self, view) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.randn(2, 6, 4))
        self.view = view

    def forward(self, x: Tensor) -> Tensor:
        return x * 0.5 + self.view(self.p)


@pytest.mark.parametrize("name", list(VIEWS))
def test_each_movement_of_a_constant_folds_to_eagers_values(name):
    """Bug caught: a wrong axis, bound, step, chunk boundary or axis order in the fold (the folded constant is
    compared with eager torch's view of the same parameter), or a view left unfolded."""
    view, shape = VIEWS[name]
    torch.manual_seed(0)
    m = _ViewAdd(view).eval()
    module = irq.import_torch(m, (torch.randn(2, *shape),))
    assert fold_constant_views(module) >= 1
    adds = [op for op in module.walk() if op.name == "torch.add"]
    folded = adds[-1].operands[1].op
    assert folded.name == "torch.constant"
    np.testing.assert_array_equal(folded.value.to_numpy(), view(m.p).detach().numpy())
    assert not [
        op
        for op in module.walk()
        if op.name.split(".")[-1] in ("slice", "chunk", "split", "unbind")
        and op.operands
        and getattr(op.operands[0].op, "name", "") == "torch.constant"
    ]


def test_a_view_of_an_activation_is_not_folded():
    """Only constants fold: the same ops on the input stay (a fold there would bake one example's values in)."""

    class M(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x[:, 1:3].transpose(1, 2)

    module = irq.import_torch(M(), (torch.randn(2, 4, 3),))
    assert fold_constant_views(module) == 0


class PositionalAndPacked(nn.Module):
    """A ViT-style positional embedding cut to the sequence length and a packed scale/shift parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.pos = nn.Parameter(torch.randn(1, 16, 8) * 0.5)
        self.affine = nn.Parameter(torch.rand(16) + 0.5)

    def forward(self, x: Tensor) -> Tensor:
        scale, shift = self.affine.chunk(2)
        return (self.fc(x) + self.pos[:, : x.shape[1]]) * scale + shift


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("march", ["bayes", "nash"])
def test_views_of_parameters_deploy_as_validation(march, method):
    torch.manual_seed(0)
    model = PositionalAndPacked().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 8, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march=march, method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, 5, 8, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march=march)
    assert not [op for op in program.walk() if op.name.startswith("torch.")]
    assert_deploys_as_validation(model, qat, program, (5, 8), g)
