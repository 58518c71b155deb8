"""Comparisons, torch.where, masked_fill and clamps by a tensor through the whole chain (issue 12), and a
MiniLM-style attention block whose padding mask is a model input.

Before, `x > 0` and `mask == 0` stayed opaque `torch.call`s and where / where_scalar had no lowering, so convert
refused every such model by name. Now (tests/models/mask_models.py):

(a) CALIBRATION equals eager torch (fx and `method="export"` imports): the comparisons import as typed ops;
(b) VALIDATION is within cosine 0.99 of float, and the deployed program equals VALIDATION bit for bit at two
    batch sizes on numba, numba == reference (support.both_runtimes);
(c) the attention mask is applied: rewriting the padded tokens leaves every real token's deployed output
    bit-identical (a -inf / -1e4 fill is the softmax input range's minimum, where the exp table is 0: the
    masked keys get probability exactly 0, as in float), for a float and an int64 mask;
(d) what cannot deploy fails in convert naming the op: a bool mask input, two int16 tensors compared at
    different scales.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import numba as rn
from irq.runtime import reference
from support.both_runtimes import assert_deploys_as_validation
from torch import Tensor, nn

import irq
from irq.transform import PassFailure
from tests.models.mask_models import Gating, MaskedAttention, padding_mask

N, DIM = 6, 16


def _calibrated(model, inputs, draw, march: str, method: str):
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march=march, check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)  # (a)
        for _ in range(4):
            qat(*draw())
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("march", ["bayes", "nash"])
def test_gating_imports_typed_and_deploys_as_validation(march, method):
    """Bug caught: a comparison left opaque, a threshold one code off (deployed != VALIDATION at the codes on
    the boundary), where's two values left at their own scales, a fill not at the output's scale, a clamp by
    a tensor dropped to a scalar clamp."""
    torch.manual_seed(0)
    model = Gating().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, 8)
    ops = {op.name for op in irq.import_torch(model, (x,), method=method).walk()}
    assert "torch.call" not in ops and {"torch.compare", "torch.compare_scalar", "torch.where",
                                        "torch.where_scalar", "torch.maximum"} <= ops, ops
    qat = _calibrated(model, (x,), lambda: (torch.randn(2, 3, 8, 8, generator=g) * 1.5,), march, method)
    program = irq.convert(qat, march=march)
    names = {op.name for op in program.walk()}
    assert {"bpu.compare", "bpu.select"} <= names and not any(n.split(".")[0] in ("hl", "torch") for n in names)
    assert_deploys_as_validation(model, qat, program, (3, 8, 8), g)


def _attention(mask_dtype, method: str, fill: float = float("-inf")):
    torch.manual_seed(0)
    model = MaskedAttention(DIM, 2, fill).eval()
    g = torch.Generator().manual_seed(1)
    x, m = torch.randn(2, N, DIM), padding_mask(2, N, g, mask_dtype)
    qat = _calibrated(model, (x, m), lambda: (torch.randn(2, N, DIM, generator=g), padding_mask(2, N, g, mask_dtype)),
                      "nash", method)
    return model, qat, irq.convert(qat, march="nash"), g


def _deployed(program, x: Tensor, m: Tensor) -> np.ndarray:
    got = rn.compile(program)(x.numpy(), m.numpy())
    got = got[0] if isinstance(got, (list, tuple)) else got
    np.testing.assert_array_equal(got, reference.run(program, x.numpy(), m.numpy())[0])
    return got


@pytest.mark.parametrize("mask_dtype, method, fill", [
    (torch.float32, "fx", float("-inf")), (torch.int64, "fx", float("-inf")),
    (torch.float32, "export", -1e4), (torch.int64, "export", float("-inf"))])
def test_attention_with_a_mask_input_deploys_as_validation_with_the_mask_applied(mask_dtype, method, fill):
    """Bug caught: the mask input not reaching the program (a float island, an opaque call), an int64 mask
    refused or reshaped wrong, -inf filled as a finite code the softmax still weighs (a padded token changing
    real tokens' outputs), deployed != VALIDATION at another batch."""
    model, qat, program, g = _attention(mask_dtype, method, fill)
    assert "bpu.select" in {op.name for op in program.walk()}
    for batch in (2, 3):  # (b)
        x, m = torch.randn(batch, N, DIM, generator=g), padding_mask(batch, N, g, mask_dtype)
        m[0, :] = 1
        m[-1, N // 2:] = 0  # at least one padded sequence
        with torch.no_grad():
            want, ref = qat(x, m), model(x, m)
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
        got = _deployed(program, x, m)
        np.testing.assert_array_equal(got.reshape(want.shape), want.numpy())
        # (c) the padded tokens of the last sequence rewritten: its real tokens' outputs do not move
        x2 = x.clone()
        x2[-1, N // 2:] = torch.randn(N - N // 2, DIM, generator=g) * 3
        got2 = _deployed(program, x2, m)
        np.testing.assert_array_equal(got2[-1, : N // 2], got[-1, : N // 2])
        assert not np.array_equal(got2[-1, N // 2:], got[-1, N // 2:])


class _BoolMask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        return self.lin(x).masked_fill(keep, 0.0)


def test_a_bool_mask_input_is_refused_naming_the_op():
    """The runtimes hold no bool tensors: a bool model input cannot select (compare a float or int mask instead)."""
    model = _BoolMask().eval()
    x, keep = torch.randn(2, 4), torch.tensor([[True, False, True, False]] * 2)
    qat = irq.prepare(model, (x, keep), qconfig="default_calib_8bit", march="nash", check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x, keep)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with pytest.raises(PassFailure, match=r"test_masked_models.py:\d+:\d+: error: 'hl.where_scalar' .*mask == 0"):
        irq.convert(qat, march="nash")
