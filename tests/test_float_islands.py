"""Float islands (ops `convert(..., float_fallback=True)` keeps in float) on the reference runtime, against
torch eager in float64.

runtime/reference/float_ops.py is the definition every runtime matches for these ops, and no zoo model
keeps most of them in float, so mutation testing (bench/mutation.py, target `reference-runtime`) found
their formulas unchecked: gelu's tanh constant, hardswish's offsets, leaky_relu's slope, layer norm's
variance and eps, clamp with one bound, sub's alpha, mean's keepdim. Each function runs here on
torch-level IR imported from a small model, with the options users pass, and must equal torch's float64
result rounded to float32 (the islands compute in float64 and store float32).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime.reference import run

import irq


class Unary(torch.nn.Module):
    def forward(self, x):
        return (
            F.gelu(x), F.gelu(x, approximate="tanh"), F.hardswish(x), F.hardsigmoid(x), F.leaky_relu(x, 0.1),
            F.silu(x), torch.sigmoid(x), torch.tanh(x), torch.exp(x / 4), F.relu(x), F.relu6(x),
            F.hardtanh(x, -0.5, 2.0), torch.clamp(x, min=-1.0), torch.clamp(x, max=1.5), torch.clamp(x, -2.0, 0.5),
            -x, torch.abs(x), torch.sqrt(torch.abs(x)), torch.rsqrt(torch.abs(x) + 1),
        )


class Rows(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(8, eps=0.3)
        self.ln2 = torch.nn.LayerNorm((3, 8), elementwise_affine=False)
        with torch.no_grad():
            self.ln.weight.copy_(torch.linspace(0.5, 2.0, 8))
            self.ln.bias.copy_(torch.linspace(-1.0, 1.0, 8))

    def forward(self, x):
        return (
            self.ln(x), self.ln2(x), F.layer_norm(x, (8,), eps=1e-5), torch.softmax(x, -1), torch.softmax(x, 1),
            torch.log_softmax(x, 1), x.mean(dim=(1,), keepdim=True), x.mean(dim=(2,)), x.mean(dim=(1, 2)),
        )


class Binary(torch.nn.Module):
    def forward(self, x, y):
        return (
            x + y, x - y, torch.add(x, y, alpha=2.0), torch.sub(x, y, alpha=0.5), x * y, x / (y.abs() + 1),
            x - 2.5, x + 0.75, x * 3.0, x / 4.0, torch.matmul(x, y.transpose(1, 2)), torch.cat([x, y], 1),
            x.permute(2, 0, 1),
            x.transpose(1, 2), x.reshape(6, 8), x.flatten(1), x.unsqueeze(1), x.unsqueeze(0).squeeze(0),
        )


def _inputs(*shapes):
    g = torch.Generator().manual_seed(5)
    # wide enough to reach every branch: hardswish's -3 / 3 knees, relu6's 6, leaky_relu's negative side
    return tuple(torch.randn(s, generator=g) * 4 for s in shapes)


@pytest.mark.parametrize("model,shapes", [(Unary, [(2, 3, 8)]), (Rows, [(2, 3, 8)]), (Binary, [(2, 3, 8)] * 2)],
                         ids=["unary", "rows", "binary"])
def test_float_islands_equal_torch_float64(model, shapes):
    m = model().eval()
    xs = _inputs(*shapes)
    module = irq.import_torch(m, xs)
    got = run(module, *(x.numpy() for x in xs))
    with torch.no_grad():
        want = m.double()(*(x.double() for x in xs))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        w32 = w.numpy().astype(np.float32)
        assert g.dtype == np.float32 and g.shape == w32.shape, f"output #{i}"
        # float64 math rounded once to float32: equal up to the last bit of the float32 result
        np.testing.assert_allclose(g, w32, rtol=2e-7, atol=1e-7, err_msg=f"output #{i}")


class Fused(torch.nn.Module):
    """conv/linear with bias or not, a fused residual, relu or relu6: what `fuse` makes and a float island
    keeps (the reference runtime's hl.conv2d / hl.linear)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc = torch.nn.Linear(8, 8)
        self.fc2 = torch.nn.Linear(8, 5, bias=False)

    def forward(self, x):
        a = torch.relu(self.conv(x) + x)
        return a, F.relu6(self.conv2(a)), F.relu6(self.fc(x) + x), torch.relu(self.fc2(x)), self.fc(x) + x


def test_fused_float_islands_equal_torch_float64():
    """Catches the fused residual OR'd instead of added, relu6 taken for relu (or neither applied), in
    the float conv and linear a float island runs."""
    m = Fused().eval()
    (x,) = _inputs((2, 3, 8, 8))
    module = irq.import_torch(m, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    kinds = {(op.name, op.get_attr("activation").value if op.get_attr("activation") else None,
              getattr(op, "residual", None) is not None) for op in module.walk() if op.name.startswith("hl.")}
    assert kinds == {("hl.conv2d", "relu", True), ("hl.conv2d", "relu6", False), ("hl.linear", "relu6", True),
                     ("hl.linear", "relu", False), ("hl.linear", None, True)}
    got = run(module, x.numpy())
    with torch.no_grad():
        want = m.double()(x.double())
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w.numpy().astype(np.float32), rtol=1e-6, atol=1e-6, err_msg=f"output #{i}")
