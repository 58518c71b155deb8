"""The padding-mask idioms of Hugging Face's mask builders (transformers' masking_utils, as BERT's forward runs
them), imported with method="export": the int64 attention_mask cast to bool, gathered by aranges into [B, 1, 1, S]
(`mask[arange(B)[:, None, None, None], arange(S)[None, None, None, :]]`), combined with an all-true query term and
re-cast to bool. Before, the casts (aten.to.device / to.dtype_layout) and the index by aranges were opaque calls no
march runs, and the batch's arange made the export static (batch 8 only), so BERT's own forward did not convert.

Oracles: eager torch (the float import), VALIDATION for the deployed program (bit for bit on both runtimes).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.passes.fold_constants import is_pure_call
from irq.runtime.torch import to_module
from support.both_runtimes import run_both
from torch import Tensor, nn

import irq

DIM, HEADS, LENGTH = 8, 2, 6


class HfPaddingMask(nn.Module):
    """Self attention masked as transformers' `sdpa_mask` builds the mask (BERT, transformers 5)."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.out = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)

    def forward(self, x: Tensor, attention_mask: Tensor) -> Tensor:
        b, t, _ = x.shape
        padding = attention_mask.to(device=x.device, dtype=torch.bool)
        batch_idx = torch.arange(b)[:, None, None, None]
        kv_idx = (torch.arange(t) + 0)[None, None, None, :]
        q_idx = (torch.arange(t) + 0)[None, None, :, None]
        keep = torch.ones((), dtype=torch.bool) & (q_idx >= 0).to(torch.bool)
        keep = keep & padding[batch_idx, kv_idx].to(torch.bool)
        q, k, v = self.qkv(x).view(b, t, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep.expand(b, -1, t, t))
        return self.out(y.transpose(1, 2).reshape(b, t, DIM))


def _draw(g: torch.Generator, batch: int) -> tuple[Tensor, Tensor]:
    mask = torch.ones(batch, LENGTH, dtype=torch.int64)
    mask[0, 4:] = 0
    mask[-1, 2:] = 0
    return torch.randn(batch, LENGTH, DIM, generator=g), mask


def test_hf_mask_imports_as_typed_ops_at_any_batch():
    """The float import has no opaque call left and keeps the batch dynamic: it equals eager at batches 2 and 5."""
    torch.manual_seed(0)
    model = HfPaddingMask().eval()
    g = torch.Generator().manual_seed(1)
    module = irq.import_torch(model, _draw(g, 2), method="export")
    opaque = [op.get_attr("target").value for op in module.walk() if op.name == "torch.call" and not is_pure_call(op)]
    assert not opaque  # the factories left (arange, ones) make constants, folded at convert
    assert "torch.batch_fixed" not in module.attributes
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        for batch in (2, 5):
            inputs = _draw(g, batch)
            torch.testing.assert_close(gm(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("march", ["nash"])
def test_hf_mask_model_deploys_as_validation(march):
    torch.manual_seed(0)
    model = HfPaddingMask().eval()
    g = torch.Generator().manual_seed(1)
    inputs = _draw(g, 2)
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march=march, check_model=False, method="export")
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(*_draw(g, 4))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march=march)
    for batch in (2, 3):
        inputs = _draw(g, batch)
        with torch.no_grad():
            want, ref = qat(*inputs), model(*inputs)
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
        np.testing.assert_array_equal(run_both(program, *(a.numpy() for a in inputs)), want.numpy())
