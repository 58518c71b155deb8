"""Causal masks built from the input's size and logic on masks through the whole chain (issue 12).

Before, `torch.ones(T, T)` with `T = x.size(1)` did not trace (fx parses sizes as ints), export's `aten.ones` /
`aten.triu` / `aten.to` stayed opaque calls no march runs, SDPA with is_causal and nn.TransformerEncoderLayer with
is_causal stayed opaque, an additive -inf mask could not be quantized, and `~m`, `m1 & m2` were opaque: convert
refused every such model by name. Now (tests/models/causal_models.py):

(a) CALIBRATION equals eager torch, fx and `method="export"` imports;
(b) the deployed program equals VALIDATION bit for bit at batches 2 and 3 on numba, numba == reference, and
    VALIDATION is within cosine 0.99 of float, at two sequence lengths (each length imported as its own model);
(c) masked keys get probability exactly 0 in the deployed program (the softmax codes are 0 above the diagonal);
(d) the mask is static for the imported length: the fx model follows another length in QAT / VALIDATION (the
    factories are calls on the traced sizes), the deployed program refuses it on both runtimes instead of applying
    a mask of the wrong size, naming the op that fixed the length (the folded mask's first op, file:line).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import numba as rn
from irq.runtime import reference
from support.both_runtimes import assert_deploys_as_validation, run_both
from torch import Tensor, nn

import irq
from tests.models.causal_models import (
    DIM,
    FORMS,
    BufferCausal,
    CausalEncoderLayer,
    DecoderBlock,
    PaddedCausal,
    padding,
)

LENGTHS = (5, 8)


def _calibrated(model: nn.Module, inputs: tuple, draw, method: str):
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)  # (a)
        for _ in range(3):
            qat(*draw())
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


def _convert(qat) -> object:
    program = irq.convert(qat, march="nash")
    names = {op.name for op in program.walk()}
    assert "bpu.select" in names and not any(n.split(".")[0] in ("hl", "torch") for n in names), names
    return program


def _block(make, t: int, method: str):
    torch.manual_seed(0)
    model = make().eval()
    g = torch.Generator().manual_seed(1)
    qat = _calibrated(model, (torch.randn(2, t, DIM),), lambda: (torch.randn(2, t, DIM, generator=g),), method)
    return model, qat, _convert(qat), g


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("form", FORMS)
def test_causal_decoder_block_deploys_as_validation_at_two_lengths(form, method):
    """Bug caught: a factory on a traced size untraceable (fx), aten.ones / triu / to or SDPA is_causal left opaque,
    an additive -inf mask refused by its observer, a constant mask not read as a select condition, a mask folded
    at the wrong length, deployed != VALIDATION at another batch."""
    for t in LENGTHS if form in ("triu", "sdpa") else LENGTHS[:1]:
        model, qat, program, g = _block(lambda: DecoderBlock(form), t, method)
        assert_deploys_as_validation(model, qat, program, (t, DIM), g)  # (b)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_masked_keys_get_probability_exactly_zero(method):
    """Bug caught: a -inf fill quantized to a finite code the softmax still weighs (a masked key with a
    probability code above 0), or the mask transposed (the lower triangle zeroed)."""
    model, qat, program, g = _block(lambda: DecoderBlock("triu", probs=True), LENGTHS[0], method)
    x = torch.randn(3, LENGTHS[0], DIM, generator=g)
    got = rn.compile(program)(x.numpy())
    np.testing.assert_array_equal(got[1], reference.run(program, x.numpy())[1])
    with torch.no_grad():
        np.testing.assert_array_equal(got[1], qat(x)[1].numpy())
    above = np.triu(np.ones((LENGTHS[0], LENGTHS[0]), dtype=bool), 1)
    assert np.all(got[1][..., above] == 0.0)  # (c): exactly 0, as in float
    assert np.all(got[1][..., np.diag_indices(LENGTHS[0])[0], np.diag_indices(LENGTHS[0])[1]] > 0.0)


def test_another_length_follows_in_validation_and_is_refused_deployed():
    """(d) Bug caught: a mask baked into the QAT model at the traced length (VALIDATION wrong at another length),
    or a runtime applying the traced length's mask to another length."""
    t, other = LENGTHS
    model, qat, program, g = _block(lambda: DecoderBlock("arange"), t, "fx")
    x = torch.randn(2, other, DIM, generator=g)
    with torch.no_grad():
        want, ref = qat(x), model(x)
    assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
    names_the_op = (
        rf"shape \[2, {other}, {DIM}\].*expects.*fixed at convert by 'torch.arange' "
        r"at .*causal_models.py:\d+:"
    )
    with pytest.raises(Exception, match=names_the_op):
        rn.compile(program)(x.numpy())
    with pytest.raises(Exception, match=names_the_op):
        reference.run(program, x.numpy())


def test_encoder_layer_with_a_causal_mask_deploys_as_validation():
    """nn.TransformerEncoderLayer(x, src_mask=generate_square_subsequent_mask(T), is_causal=True): torch applies the
    causal mask (the -inf mask is a hint), so does the decomposition. Bug caught: the layer kept opaque, the hint
    dropped (no mask), the additive -inf mask reaching an observer."""
    for t in LENGTHS:
        model, qat, program, g = _block(CausalEncoderLayer, t, "fx")
        assert_deploys_as_validation(model, qat, program, (t, DIM), g)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_padding_and_causal_masks_combined_with_and(method):
    """Bug caught: `&` / `~` of masks opaque, a constant mask and a computed one combined wrong (a padded key
    attended or a past key masked), deployed != VALIDATION."""
    for t in LENGTHS:
        torch.manual_seed(0)
        model = PaddedCausal().eval()
        g = torch.Generator().manual_seed(1)
        qat = _calibrated(
            model,
            (torch.randn(2, t, DIM), padding(2, t, g)),
            lambda t=t, g=g: (torch.randn(2, t, DIM, generator=g), padding(2, t, g)),
            method,
        )
        program = _convert(qat)
        for batch in (2, 3):
            x, pad = torch.randn(batch, t, DIM, generator=g), padding(batch, t, g)
            with torch.no_grad():
                want, ref = qat(x, pad), model(x, pad)
            assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
            got = run_both(program, x.numpy(), pad.numpy())
            np.testing.assert_array_equal(got, want.numpy())
            x2 = x.clone()  # the padded keys of the last sequence rewritten: no output moves
            x2[-1, int(pad[-1].sum()) :] = torch.randn(t - int(pad[-1].sum()), DIM, generator=g) * 3
            got2 = run_both(program, x2.numpy(), pad.numpy())
            n = int(pad[-1].sum())
            np.testing.assert_array_equal(got2[-1, :n], got[-1, :n])


class _Logic(nn.Module):
    """Every logic op on comparison masks, each selecting between two linear outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y, z = self.a(x), self.b(x)
        m1, m2 = y > 0, z < 0.2
        out = torch.where(m1 & m2, y, z) + torch.where(m1 | m2, z, y)
        out = out + torch.where(torch.logical_xor(m1, m2), y, -z) + torch.where(~m1, y * 0.5, z)
        return out + torch.where(m2.logical_not() | torch.logical_and(m1, ~m2), z, 0.0)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_mask_logic_deploys_as_validation(method):
    """Bug caught: and / or / xor / not lowered to the wrong select (or its operands swapped), a broadcast 0 / 1
    constant of the wrong code."""
    torch.manual_seed(0)
    model = _Logic().eval()
    g = torch.Generator().manual_seed(1)
    qat = _calibrated(model, (torch.randn(2, 8),), lambda: (torch.randn(4, 8, generator=g),), method)
    program = _convert(qat)
    assert "bpu.compare" in {op.name for op in program.walk()}
    assert_deploys_as_validation(model, qat, program, (8,), g)


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("bool_buffer", [False, True])
def test_a_causal_buffer_cut_to_the_length_deploys_as_validation(bool_buffer, method):
    """nanoGPT: `self.bias[:, :, :T, :T]` of a registered buffer. Bug caught: fx could not trace it (fx passes a
    buffer as the tensor itself, which a traced size cannot index), the cut folded at the wrong length."""
    model, qat, program, g = _block(lambda: BufferCausal(bool_buffer), LENGTHS[0], method)
    assert_deploys_as_validation(model, qat, program, (LENGTHS[0], DIM), g)
