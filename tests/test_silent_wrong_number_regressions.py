"""Regressions in attention masks found by reading new code as an attacker (bug hunts of issues 12 and 15 over
SDPA and nn.MultiheadAttention masks, additive and -inf-filled masks, all-padding sequences): inputs a user plausibly
writes where irq gave a wrong number or shape without an error, or failed where torch computes. Each test failed
before its fix; its docstring says how.
Batch, size and train/eval-mode ones: tests/test_regressions_batch_sizes_modes.py.

Oracles: eager torch (CALIBRATION equals it), VALIDATION (the deployed program on numba equals it bit for bit,
reference == numba).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.torch import to_module
from support.both_runtimes import run_both
from support.calibrated import prepared_and_converted
from torch import Tensor, nn

import irq
from tests.models.causal_models import DIM as BLOCK_DIM
from tests.models.causal_models import DecoderBlock

DIM, HEADS, LENGTH = 8, 2, 5


class PaddedBothSides(nn.Module):
    """Cross attention whose bool attn_mask pads queries and keys: `pad[b, j] & pad[b, i]`, so a padded query keeps
    no key. torch's SDPA gives that query probability 0 for every key (its math backend's `_safe_softmax`), an
    output of exactly 0."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.kv = nn.Linear(DIM, DIM), nn.Linear(DIM, 2 * DIM)

    def forward(self, x: Tensor, memory: Tensor, pad: Tensor) -> Tensor:
        b, t, c = x.shape
        q = self.q(x).view(b, t, HEADS, c // HEADS).transpose(1, 2)
        k, v = self.kv(memory).view(b, memory.shape[1], 2, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        keep = (pad > 0.5)[:, None, None, :] & (pad[:, None, :t, None] > 0.5)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(b, t, c)


class ConstantMaskRowEmpty(nn.Module):
    """SDPA with a constant bool mask (a buffer) one of whose queries keeps no key."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        keep = torch.tril(torch.ones(LENGTH, LENGTH, dtype=torch.bool))
        keep[2] = False
        self.register_buffer("keep", keep)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.keep).transpose(1, 2).reshape(b, t, c)


def _padding(batch: int) -> Tensor:
    """[batch, LENGTH]: the first sequence 3 tokens then padding, the last 1 token, the others whole."""
    pad = torch.ones(batch, LENGTH)
    pad[0, 3:] = 0
    pad[-1, 1:] = 0
    return pad


@pytest.mark.parametrize("method", ["fx", "export"])
def test_sdpa_query_keeping_no_key_is_zero_as_in_torch(method):
    """Bug caught (before: the padded queries' rows had uniform probabilities deployed and in VALIDATION, the mean
    of v, max |deployed - torch| 0.55 on those rows; CALIBRATION with such a row was NaN and refused as bad
    calibration data): deployed == VALIDATION, and the rows torch makes 0 are exactly 0."""
    torch.manual_seed(0)
    model = PaddedBothSides().eval()
    g = torch.Generator().manual_seed(1)

    def draw(batch: int) -> tuple[Tensor, ...]:
        return (
            torch.randn(batch, LENGTH, DIM, generator=g),
            torch.randn(batch, LENGTH, DIM, generator=g),
            _padding(batch),
        )

    qat, program = prepared_and_converted(model, draw, method)
    for batch in (2, 3):
        inputs = draw(batch)
        with torch.no_grad():
            want, ref = qat(*inputs), model(*inputs)
        empty = inputs[2] < 0.5  # [batch, LENGTH]: the queries that keep no key
        assert torch.all(ref[empty] == 0)
        got = run_both(program, *(a.numpy() for a in inputs))
        np.testing.assert_array_equal(got, want.numpy())
        assert np.all(got[empty.numpy()] == 0.0)
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99


class FloatPaddingMask(nn.Module):
    """Self attention whose float attn_mask the model fills with -inf from a padding input at run time (the
    hand-written-transformer idiom): `zeros_like(pad)[:, None, :].masked_fill(~keep, -inf)`, [B, 1, T]."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, -1)
        keep = pad[:, None, :] > 0.5
        mask = torch.zeros_like(pad)[:, None, :].masked_fill(~keep, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_sdpa_float_mask_filled_with_neg_inf_quantizes_and_empty_rows_are_zero(method):
    """Bug caught (before: calibration failed, "quantizer where_scalar.out_quant observed inf values", for any such
    mask, so a padded batch could not be quantized; a sequence that is all padding was NaN where torch's SDPA gives
    0): the float mask is the bool keep-mask ~pad, deployed == VALIDATION, and the all-padding rows are exactly 0."""
    torch.manual_seed(0)
    model = FloatPaddingMask().eval()
    g = torch.Generator().manual_seed(1)

    def draw(batch: int) -> tuple[Tensor, ...]:
        pad = _padding(batch)
        pad[-1] = 0  # the last sequence is all padding
        return torch.randn(batch, LENGTH, DIM, generator=g), pad

    qat, program = prepared_and_converted(model, draw, method)
    for batch in (2, 3):
        inputs = draw(batch)
        with torch.no_grad():
            want, ref = qat(*inputs), model(*inputs)
        assert torch.all(ref[-1] == 0) and not ref.isnan().any()
        got = run_both(program, *(a.numpy() for a in inputs))
        np.testing.assert_array_equal(got, want.numpy())
        assert np.all(got[-1] == 0.0)
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99


def test_sdpa_constant_mask_with_an_empty_row_folds_and_deploys():
    """The constant mask's "keeps any key" (an amax) folds at convert like the mask itself. Bug caught: the amax of
    a constant left for lower-bpu, which has no codes for it; the empty row not 0."""
    torch.manual_seed(0)
    model = ConstantMaskRowEmpty().eval()
    g = torch.Generator().manual_seed(1)
    qat, program = prepared_and_converted(model, lambda batch: (torch.randn(batch, LENGTH, DIM, generator=g),), "fx")
    x = torch.randn(3, LENGTH, DIM, generator=g)
    with torch.no_grad():
        want, ref = qat(x), model(x)
    got = run_both(program, x.numpy())
    np.testing.assert_array_equal(got, want.numpy())
    assert np.all(got[:, 2] == 0.0) and torch.all(ref[:, 2] == 0)
    assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99


def test_additive_causal_mask_follows_another_length_in_validation():
    """`scores + full((T, T), -inf).triu(1)` (nn.Transformer's generate_square_subsequent_mask) with T from the
    input's size. Bug caught (before: fill-additive-masks made the condition an i1 constant of the traced length,
    so the prepared fx model failed at any other length with torch's broadcast error inside the generated
    forward, "The size of tensor a (5) must match the size of tensor b (8)"): VALIDATION at length 8 of a model
    prepared at 5 is within cosine 0.99 of float, and the deployed program refuses length 8 naming the op that
    fixed its sizes."""
    torch.manual_seed(0)
    model = DecoderBlock("full").eval()
    g = torch.Generator().manual_seed(1)
    qat, program = prepared_and_converted(model, lambda batch: (torch.randn(batch, LENGTH, BLOCK_DIM, generator=g),),
                                          "fx")
    x = torch.randn(2, 8, BLOCK_DIM, generator=g)
    with torch.no_grad():
        want, ref = qat(x), model(x)
    assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
    refusal = r"expects.*fixed at convert by 'torch.full' at .*causal_models.py:\d+:"
    with pytest.raises(Exception, match=refusal):
        rn.compile(program)(x.numpy())
    with pytest.raises(Exception, match=refusal):
        reference.run(program, x.numpy())
    x5 = torch.randn(3, LENGTH, BLOCK_DIM, generator=g)
    with torch.no_grad():
        np.testing.assert_array_equal(run_both(program, x5.numpy()), qat(x5).numpy())


class _FiniteAdditiveMask(nn.Module):
    """Scores plus Hugging Face's finite causal mask: FILL (-1e9 or finfo.min) above the diagonal, 0 elsewhere."""

    FILL = -1e9

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        t = x.size(1)
        scores = y @ y.transpose(1, 2) + torch.full((t, t), self.FILL).triu(1)
        return scores.softmax(-1) @ y


@pytest.mark.parametrize("fill", [-1e9, float(torch.finfo(torch.float32).min)])
def test_a_huge_additive_mask_deploys_as_saturation(fill, monkeypatch):
    """Scores plus an additive causal mask of -1e9 or finfo.min (Hugging Face's eager attention): the mask's
    scale is 1e7-3e36 times the scores', a multiplier no bpu.add holds. Where a mask code is nonzero the sum
    saturates at the softmax input's floor whatever the scores, so a smaller multiplier that still saturates
    gives the same outputs (fp.saturating_reals, in lower-bpu and VALIDATION alike). Bug caught (before: convert
    refused "real multiplier ... is too large", and earlier still with no op or line): deployed == VALIDATION on
    both runtimes, cosine > 0.99 to float, and every masked (future) position contributes exactly nothing: the
    first token's output does not change when the later tokens do."""
    torch.manual_seed(0)
    monkeypatch.setattr(_FiniteAdditiveMask, "FILL", fill)
    model = _FiniteAdditiveMask().eval()
    g = torch.Generator().manual_seed(1)
    qat, program = prepared_and_converted(model, lambda batch: (torch.randn(batch, LENGTH, DIM, generator=g),), "fx")
    adds = [op for op in program.walk() if op.name == "bpu.add"]
    assert adds and max(int(op.get_attr(k).value) for op in adds for k in ("lhs_multiplier", "rhs_multiplier")) < 2**31
    x = torch.randn(3, LENGTH, DIM, generator=g)
    with torch.no_grad():
        want, ref = qat(x), model(x)
    got = run_both(program, x.numpy())
    np.testing.assert_array_equal(got, want.numpy())
    assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
    later = x.clone()
    later[:, 1:] = torch.randn(3, LENGTH - 1, DIM, generator=g)
    np.testing.assert_array_equal(run_both(program, later.numpy())[:, 0], got[:, 0])


class PaddedSelfAttention(nn.Module):
    """nn.MultiheadAttention (batch_first) whose key_padding_mask comes from an input (1 token, 0 padding); non-zero
    biases, so a query attending to nothing (output out_proj's bias) differs from one attending uniformly."""

    def __init__(self, need_weights: bool = False) -> None:
        super().__init__()
        self.need_weights = need_weights
        self.attn = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        with torch.no_grad():
            self.attn.in_proj_bias.normal_()
            self.attn.out_proj.bias.normal_()

    def forward(self, x: Tensor, pad: Tensor):
        out, weights = self.attn(x, x, x, key_padding_mask=pad < 0.5, need_weights=self.need_weights)
        return out if weights is None else (out, weights)


class PaddedEncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer with a src_key_padding_mask from an input."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(DIM, HEADS, 2 * DIM, dropout=0.0, batch_first=True)
        with torch.no_grad():
            self.layer.self_attn.out_proj.bias.normal_()

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        return self.layer(x, src_key_padding_mask=pad < 0.5)


def _all_padding(batch: int) -> Tensor:
    """`_padding` whose last sequence is padding throughout (a batch holding an empty sequence)."""
    pad = _padding(batch)
    pad[-1] = 0
    return pad


def _eager(model: nn.Module, *inputs: Tensor):
    """torch's slow path, the documented math: with need_weights=False a query whose keys are all padding gets
    probability 0 (F.multi_head_attention_forward's SDPA call). Under no_grad, eval and batch_first torch takes
    its fused fast path instead, which returns NaN for those rows (as its need_weights=True path always does)."""
    with torch.enable_grad():
        out = model(*inputs)
    return tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()


def _calibrated_on_empty_sequences(model: nn.Module, method: str):
    """prepare, then CALIBRATION (== eager torch where torch is not NaN; no NaN) on batches that hold an all-padding
    sequence; convert."""
    g = torch.Generator().manual_seed(1)

    def draw(batch: int) -> tuple[Tensor, Tensor]:
        return torch.randn(batch, LENGTH, DIM, generator=g), _all_padding(batch)

    inputs = draw(2)
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        got, want = qat(*inputs), _eager(model, *inputs)
        for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            finite = ~torch.isnan(b)  # torch's need_weights=True path: NaN where irq gives 0 weights
            assert not torch.isnan(a).any()
            torch.testing.assert_close(a[finite], b[finite], rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(*draw(2))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat, irq.convert(qat, march="nash"), draw


@pytest.mark.parametrize("method", ["fx", "export"])
def test_multihead_attention_sequence_all_padding_is_out_proj_bias(method):
    """Bug caught (before: any key_padding_mask input failed calibration, fx and export alike: "quantizer
    attn.where_scalar.out_quant observed inf values" (fx: the -inf fill reshaped before the softmax, so not read
    as the softmax's input; export: MHA's 0 / -inf float mask built from the input); a sequence that is padding
    throughout was NaN in CALIBRATION where torch gives out_proj's bias): CALIBRATION == torch, deployed ==
    VALIDATION on both runtimes, the all-padding sequence's rows are one vector, out_proj's bias, whatever x."""
    torch.manual_seed(0)
    model = PaddedSelfAttention().eval()
    qat, program, draw = _calibrated_on_empty_sequences(model, method)
    bias = model.attn.out_proj.bias.detach().numpy()
    for batch in (2, 3):
        x, pad = draw(batch)
        with torch.no_grad():
            want = qat(x, pad)
        ref = _eager(model, x, pad)
        assert torch.all(ref[-1] == model.attn.out_proj.bias)  # torch: 0 attention, out_proj(0)
        got = run_both(program, x.numpy(), pad.numpy())
        np.testing.assert_array_equal(got, want.numpy())
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
        assert np.all(got[-1] == got[-1, :1])  # every query of the empty sequence: the same vector
        np.testing.assert_allclose(got[-1, 0], bias, atol=0.05)  # out_proj's bias, up to its output step
        x2 = x.clone()
        x2[-1] = torch.randn(LENGTH, DIM, generator=torch.Generator().manual_seed(7)) * 3
        np.testing.assert_array_equal(run_both(program, x2.numpy(), pad.numpy())[-1], got[-1])


@pytest.mark.parametrize("method", ["fx", "export"])
def test_multihead_attention_need_weights_gives_zero_weights_where_torch_gives_nan(method):
    """need_weights=True: torch's softmax there is plain, so the all-padding sequence's output and weights are NaN
    (no fixed-point program returns NaN); irq gives need_weights=False's value: weights exactly 0, output
    out_proj's bias. Every other row equals torch's. Bug caught (before: calibration refused, as above; export's
    baddbmm + softmax of the float mask)."""
    torch.manual_seed(0)
    model = PaddedSelfAttention(need_weights=True).eval()
    qat, program, draw = _calibrated_on_empty_sequences(model, method)
    x, pad = draw(3)
    out_ref, w_ref = _eager(model, x, pad)
    assert torch.isnan(w_ref[-1]).all() and not torch.isnan(w_ref[:-1]).any()
    with torch.no_grad():
        out_want, w_want = qat(x, pad)
    for runtime_out in (reference.run(program, x.numpy(), pad.numpy()), rn.compile(program)(x.numpy(), pad.numpy())):
        np.testing.assert_array_equal(runtime_out[0], out_want.numpy())
        np.testing.assert_array_equal(runtime_out[1], w_want.numpy())
    assert np.all(w_want[-1].numpy() == 0.0)
    assert F.cosine_similarity(w_want[:-1].flatten(), w_ref[:-1].flatten(), 0).item() > 0.99
    assert F.cosine_similarity(out_want[:-1].flatten(), out_ref[:-1].flatten(), 0).item() > 0.99


@pytest.mark.parametrize("method", ["fx", "export"])
def test_encoder_layer_sequence_all_padding_follows_torch_slow_path(method):
    """nn.TransformerEncoderLayer with a src_key_padding_mask that pads a whole sequence: torch's slow path (the
    documented math; training, or grad enabled) gives that sequence's attention out_proj's bias, its fused fast
    path (eval under no_grad) NaN for the whole sequence. irq follows the slow path: CALIBRATION == it, deployed
    == VALIDATION on both runtimes. Bug caught (before: calibration refused the -inf, as above)."""
    torch.manual_seed(0)
    model = PaddedEncoderLayer().eval()
    qat, program, draw = _calibrated_on_empty_sequences(model, method)
    for batch in (2, 3):
        x, pad = draw(batch)
        with torch.no_grad():
            want, fast = qat(x, pad), model(x, pad)
        assert torch.isnan(fast[-1]).all()  # torch's fast path: NaN
        ref = _eager(model, x, pad)
        got = run_both(program, x.numpy(), pad.numpy())
        np.testing.assert_array_equal(got, want.numpy())
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99


class _BothMasks(nn.Module):
    """Sequence-first nn.MultiheadAttention with a per-head 3-D bool attn_mask that excludes every key of one query,
    and a key_padding_mask whose last sequence is padding throughout."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(DIM, HEADS)
        with torch.no_grad():
            self.attn.out_proj.bias.normal_()

    def forward(self, x: Tensor, mask: Tensor, pad: Tensor) -> Tensor:
        return self.attn(x, x, x, attn_mask=mask, key_padding_mask=pad, need_weights=False)[0]


@pytest.mark.parametrize("method", ["fx", "export"])
def test_multihead_attention_masks_excluding_every_key_import_as_torch_computes(method):
    """The imported float program (rebuilt from its text) equals torch where a query's keys are all excluded by the
    union of a 3-D attn_mask and the padding mask: out_proj's bias. Bug caught (before: NaN in those rows)."""

    torch.manual_seed(0)
    model = _BothMasks().eval()
    batch = 2
    x = torch.randn(LENGTH, batch, DIM)
    mask = torch.ones(batch * HEADS, LENGTH, LENGTH, dtype=torch.bool).triu(1)
    mask[:HEADS, 2] = True  # batch entry 0 (its heads come first), query 2: every key excluded in each head
    pad = torch.zeros(batch, LENGTH, dtype=torch.bool)
    pad[1] = True
    gm = to_module(irq.parse_module(irq.print_module(irq.import_torch(model, (x, mask, pad), method=method))))
    with torch.no_grad():
        want, got = model(x, mask, pad), gm(x, mask, pad)
    bias = model.attn.out_proj.bias
    assert torch.all(want[:, 1] == bias) and torch.all(want[2, 0] == bias)  # torch: 0 attention there
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
