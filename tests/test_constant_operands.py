"""Parameters, buffers and tensor constants used as data: a layer scale (`gamma * x`, ConvNeXt, CaiT), a
learned positional embedding (`x + pos`, ViT), a buffer subtracted from an activation, a constant made in
forward, a parameter matrix in a matmul or dividing an activation.

quant-annotate has always quantized such an operand (per tensor, as data), but lower-bpu only turned
constants into codes for conv/linear weights: every one of these models failed to convert ("an input is not
quantized"), and the numba runtime could not read a constant as an elementwise operand. Each model is checked
through the whole chain against its oracles: CALIBRATION == eager, VALIDATION close to float, the converted
program == VALIDATION bit for bit at the traced batch and another one, reference == numba.
"""

from __future__ import annotations

import pytest
import torch
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq


class LayerScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gamma = nn.Parameter(torch.rand(4, 1, 1) + 0.5)

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * self.conv(x)


class BufferFirst(nn.Module):
    """A buffer as the *first* operand of a non-commutative op: `shift - y` is not `y - shift`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("shift", torch.randn(1, 4, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.shift - self.conv(x)


class PositionalEmbedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, 5, 8) * 0.5)
        self.fc = nn.Linear(8, 6)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x + self.pos)


class ForwardConstant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x) * torch.tensor([1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, 0.25])


class ParameterMatmul(nn.Module):
    """A parameter matrix on either side of a matmul, and an activation divided by a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.right = nn.Parameter(torch.randn(8, 6))
        self.left = nn.Parameter(torch.randn(3, 5))
        self.g = nn.Parameter(torch.rand(6) + 0.5)

    def forward(self, x: Tensor) -> Tensor:
        return (self.left @ (self.fc(x) @ self.right)) / self.g



class BiasAlsoData(nn.Module):
    """One parameter as an op's data operand and as later linears' bias (an LSTM's b_hh: data in its first
    step, bias after). Bug: the data use's quantizer replaced every use, so the linears' bias became a
    dequantized value and convert refused them ("its bias is not a constant")."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8) * 0.3)
        self.b = nn.Parameter(torch.randn(8))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(x + self.b)
        return torch.nn.functional.linear(y, self.w, self.b)


MODELS = {
    "layer_scale": (LayerScale, (3, 8, 8)),
    "buffer_first": (BufferFirst, (3, 8, 8)),
    "positional_embedding": (PositionalEmbedding, (5, 8)),
    "forward_constant": (ForwardConstant, (5, 8)),
    "parameter_matmul": (ParameterMatmul, (5, 8)),
    "bias_also_data": (BiasAlsoData, (5, 8)),
}


@pytest.mark.parametrize("march", ["bayes", "nash"])
@pytest.mark.parametrize("name", list(MODELS))
def test_constant_operand_deploys_bit_exact(name, march):
    """Bug caught: a constant operand refused by convert, its codes rounded or clipped otherwise than
    VALIDATION's fake quantization, swapped with the activation in a non-commutative op, given a batch axis
    it does not have (wrong at another batch), or read differently by the two runtimes."""
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, *shape, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, *shape, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march=march)
    assert any(op.name == "bpu.constant" for op in program.walk())
    assert_deploys_as_validation(model, qat, program, shape, g)

