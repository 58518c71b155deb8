"""nn.TransformerEncoderLayer / nn.TransformerEncoder: traced through their plain-math path.

Their forward inspects tensors to pick torch's fused fast path, which fx cannot trace, so a user's encoder
used to stay one opaque `torch.call` and convert refused it ("no march runs it"). Each case is checked
against eager torch (the rebuilt module from printed text) and, quantized, deployed == VALIDATION on both
runtimes at two batch sizes.
"""

from __future__ import annotations

import pytest
import torch
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq


def _ops(module, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


class Encoder(nn.Module):
    def __init__(self, *, norm_first: bool = False, activation: str = "relu", layers: int = 0) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 16)
        layer = nn.TransformerEncoderLayer(
            16, 2, 32, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
        )
        self.body = (
            nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(16), enable_nested_tensor=False) if layers else layer
        )
        self.head = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(self.embed(x)))


CASES = {
    "post_norm_relu": dict(),
    "pre_norm_gelu": dict(norm_first=True, activation="gelu"),
    "stack_of_two_with_norm": dict(layers=2),
}


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return Encoder(**CASES[name]).eval()


@pytest.mark.parametrize("name", list(CASES))
def test_encoder_imports_as_typed_ops_and_rebuilds_from_text(name):
    """Bug caught: the layer kept opaque, a residual or norm order swapped (post- vs pre-norm), the final norm
    of the stack dropped, or state-dict keys renamed by the decomposition."""
    m = _model(name)
    x = torch.randn(2, 5, 6)
    module = irq.import_torch(m, (x,))
    assert not _ops(module, "torch.call")
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        want = m(x)
        torch.testing.assert_close(gm(x), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(gm(torch.randn(3, 5, 6)).shape, torch.Size([3, 5, 3]))
    assert list(gm.state_dict()) == list(m.state_dict())


def test_padding_mask_passes_through_to_the_attention():
    """Bug caught: src_key_padding_mask dropped by the decomposition (the output would not depend on it)."""

    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)

        def forward(self, x: Tensor, padding: Tensor) -> Tensor:
            return self.layer(x, src_key_padding_mask=padding)

    torch.manual_seed(0)
    m = Masked().eval()
    x = torch.randn(2, 4, 8)
    padding = torch.tensor([[False, False, True, True], [False, False, False, True]])
    gm = to_module(irq.parse_module(irq.print_module(irq.import_torch(m, (x, padding)))))
    with torch.no_grad():
        torch.testing.assert_close(gm(x, padding), m(x, padding), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(gm(x, padding), gm(x, torch.zeros_like(padding)))


def test_causal_hint_follows_torch():
    """is_causal=True with the causal mask: torch's slow path applies SDPA's causal mask (the given one is a hint;
    its fast path applies the given one, the same mask), the decomposition builds it from the sizes; without
    is_causal the given mask (here an anti-causal one) is applied. Before issue 12 such calls stayed one opaque
    module call."""

    class Causal(nn.Module):
        def __init__(self, hint: bool) -> None:
            super().__init__()
            self.hint = hint
            self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)

        def forward(self, x: Tensor) -> Tensor:
            ones = torch.ones(x.size(1), x.size(1), dtype=torch.bool)
            if self.hint:
                return self.layer(x, src_mask=ones.triu(1), is_causal=True)
            return self.layer(x, src_mask=ones.tril(-1))

    x = torch.randn(2, 4, 8)
    for hint in (True, False):
        m = Causal(hint).eval()
        module = irq.import_torch(m, (x,))
        assert not any("TransformerEncoderLayer" in op.get_attr("target").value for op in _ops(module, "torch.call"))
        gm = to_module(irq.parse_module(irq.print_module(module)))
        with torch.no_grad():
            torch.testing.assert_close(gm(x), m(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["post_norm_relu", "pre_norm_gelu"])
def test_encoder_deploys_as_validation(name):
    """The chain: calibrated, VALIDATION close to float, the converted program == VALIDATION bit for bit at the
    traced batch and another, reference == numba."""
    m = _model(name)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 6, generator=g)
    qat = irq.prepare(m, (x,), qconfig="default_calib_8bit", march="nash", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(4, 5, 6, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(m, qat, program, (5, 6), g, min_cosine=0.98)
