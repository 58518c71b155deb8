"""Regressions found by reading new code as an attacker (bug hunts of issues 12 and 15 over attention masks, batch
reshapes, recurrent layers, dropout and batch-norm modes, adaptive pools): inputs a user plausibly writes where irq
gave a wrong number or shape without an error, or failed where torch computes. Each test failed before its fix;
its docstring says how.

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
from support.both_runtimes import assert_deploys_as_validation, run_both
from torch import Tensor, nn

import irq
from irq.frontend.errors import FrontendError
from irq.text.parser import parse_module
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


def _prepared(model: nn.Module, draw, method: str):
    inputs = draw(2)
    qat = irq.prepare(model, inputs, qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(*inputs), model(*inputs), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(*draw(2))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat, irq.convert(qat, march="nash")


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

    qat, program = _prepared(model, draw, method)
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

    qat, program = _prepared(model, draw, method)
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
    qat, program = _prepared(model, lambda batch: (torch.randn(batch, LENGTH, DIM, generator=g),), "fx")
    x = torch.randn(3, LENGTH, DIM, generator=g)
    with torch.no_grad():
        want, ref = qat(x), model(x)
    got = run_both(program, x.numpy())
    np.testing.assert_array_equal(got, want.numpy())
    assert np.all(got[:, 2] == 0.0) and torch.all(ref[:, 2] == 0)
    assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99


class _Reshaped(nn.Module):
    def __init__(self, form: str) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 12)
        self.form = form

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        if self.form == "minus_one_then_batch":
            return y.reshape(-1, y.shape[0])  # torch: (12, B)
        if self.form == "literal_then_batch":
            return y.reshape(4, y.shape[0] * 3)  # torch: (4, 3B)
        if self.form == "half_batch":
            return y.view(y.shape[0] // 2, -1)  # torch: (B // 2, 24)
        return y.view(y.shape[0] * 2, -1)  # "double_batch", torch: (2B, 6): the rule's reading, followed


RESHAPES = [
    ("minus_one_then_batch", "fx"),
    ("minus_one_then_batch", "export"),
    ("literal_then_batch", "fx"),
    ("half_batch", "fx"),
]


@pytest.mark.parametrize("form,method", RESHAPES)
def test_reshape_resizing_another_dim_than_the_batch_rule_is_refused_at_another_batch(form, method):
    """Bug caught (before: at batch 4 the deployed program of a batch-2 model returned (24, 2) where torch returns
    (12, 4), (8, 6) for (4, 12), (1, 48) for (2, 24): samples mixed, no error, on both runtimes): at the traced
    batch deployed == VALIDATION; at another both runtimes refuse, naming the reshape's line; the mark survives the
    text format."""
    torch.manual_seed(0)
    model = _Reshaped(form).eval()
    g = torch.Generator().manual_seed(1)
    qat, program = _prepared(model, lambda batch: (torch.randn(batch, 8, generator=g),), method)
    x = torch.randn(2, 8, generator=g)
    with torch.no_grad():
        np.testing.assert_array_equal(run_both(program, x.numpy()), qat(x).numpy())
    reparsed = parse_module(str(program))
    other = torch.randn(4, 8, generator=g).numpy()
    refusal = "'bpu.reshape' moves the batch dimension where it cannot be followed"
    here = r"test_silent_wrong_number_regressions\.py:\d+:\d+: "
    for p, where in ((program, here), (reparsed, "")):  # the text prints no locations
        with pytest.raises(Exception, match=where + refusal):
            rn.compile(p)(other)
        with pytest.raises(Exception, match=where + refusal):
            reference.run(p, other)


def test_reshape_the_batch_rule_reads_right_still_runs_at_any_batch():
    """No false refusal: `view(y.shape[0] * 2, -1)` is (2B, 6), the batch rule's own reading; deployed ==
    VALIDATION at batches 2 and 4."""
    torch.manual_seed(0)
    model = _Reshaped("double_batch").eval()
    g = torch.Generator().manual_seed(1)
    qat, program = _prepared(model, lambda batch: (torch.randn(batch, 8, generator=g),), "fx")
    for batch in (2, 4):
        x = torch.randn(batch, 8, generator=g)
        with torch.no_grad():
            want = qat(x)
        assert want.shape == (2 * batch, 6)
        np.testing.assert_array_equal(run_both(program, x.numpy()), want.numpy())


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
    qat, program = _prepared(model, lambda batch: (torch.randn(batch, LENGTH, BLOCK_DIM, generator=g),), "fx")
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
    """Scores plus Hugging Face's finite causal mask: -1e9 above the diagonal, 0 elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        t = x.size(1)
        scores = y @ y.transpose(1, 2) + torch.full((t, t), -1e9).triu(1)
        return scores.softmax(-1) @ y


def test_an_add_whose_rescale_does_not_fit_is_refused_naming_the_op_and_line():
    """Bug caught (before: "<unknown>:0: error: pass 'lower-bpu' raised ValueError: real multiplier 2015686454.13 is
    too large", no op, no line, no hint): the refusal names the add, the user's line and what to write instead."""
    torch.manual_seed(0)
    model = _FiniteAdditiveMask().eval()
    g = torch.Generator().manual_seed(1)
    with pytest.raises(
        Exception,
        match=r"test_silent_wrong_number_regressions\.py:\d+:\d+: error: 'hl.add' rescales its inputs .* masked_fill",
    ):
        _prepared(model, lambda batch: (torch.randn(batch, LENGTH, DIM, generator=g),), "fx")


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
    from irq.runtime.torch import to_module

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


class _StackedLstm(nn.Module):
    """A two-layer LSTM with dropout between its layers (and an attention layer with attention dropout): the
    dropouts apply only in training, as torch's forward reads `self.training` at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(DIM, DIM, num_layers=2, dropout=0.5, batch_first=True)
        self.attn = nn.MultiheadAttention(DIM, HEADS, dropout=0.5, batch_first=True)
        self.head = nn.Linear(DIM, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.rnn(x)[0]
        return self.head(self.attn(y, y, y, need_weights=False)[0][:, -1])


def test_recurrent_and_attention_dropout_follow_the_prepared_models_mode():
    """A model prepared in training mode (for QAT) and then switched to eval kept the LSTM's inter-layer dropout and
    nn.MultiheadAttention's attention dropout of the mode it was traced in: their decompositions passed
    `training=m.training`, a constant in the traced graph. CALIBRATION in eval differed from eager eval by 0.0122
    here (a two-layer LSTM alone: 0.0154, and 0.0139 between two runs of one input), and the statistics, VALIDATION
    and the deployed program were of a randomly dropped network. Now they follow the prepared model's mode as
    nn.Dropout does."""
    torch.manual_seed(0)
    model = _StackedLstm().train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, LENGTH, DIM, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False)
    model.eval()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, LENGTH, DIM, generator=g))
    qat.train()  # and in training they drop, as torch's do
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), (LENGTH, DIM), g, min_cosine=0.98)


class _SequenceFirstGru(nn.Module):
    """A sequence-first GRU classifier (input [L, N, E]): torch.export's batch is dimension 0, here the sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.head = nn.GRU(4, 6), nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.rnn(x)[0][-1])


def test_export_whose_batch_a_guard_specialised_is_refused_at_another_batch():
    """torch.export (Dim.AUTO on dimension 0) specialised the sequence-first GRU's dimension 0 to the example's 3 (its
    unrolled reshape to [N, 3, E] guards it) but left it a SymInt, so irq took the export for batch-dynamic: the float
    import and the prepared model ran a [6, 1, 4] input as the traced [3, 2, 4] and returned a [2, 3] result where
    torch returns [1, 3], without an error. A size whose expression is a number is now the static size it is, and
    the literal [2, 3, 4] reshape marks the batch fixed, refused by name at any other."""
    torch.manual_seed(0)
    model = _SequenceFirstGru().eval()
    x = torch.randn(3, 2, 4)
    module = irq.import_torch(model, (x,), method="export")
    refusal = r"at batch 3.*aten\.reshape\.default at .*test_silent_wrong_number_regressions\.py:\d+"
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(to_module(module)(x), model(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for run in (to_module(module), qat):
            with pytest.raises(ValueError, match=refusal):
                run(torch.randn(6, 1, 4))


class _TrainedWithDropout(nn.Module):
    """What users prepare for QAT, in training mode: a batch norm, nn.Dropout, and an LSTM's dropout between layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.drop = nn.Conv1d(DIM, DIM, 1), nn.BatchNorm1d(DIM), nn.Dropout(0.5)
        self.rnn = nn.LSTM(DIM, DIM, num_layers=2, dropout=0.5, batch_first=True)
        self.head = nn.Linear(DIM, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.drop(torch.relu(self.bn(self.conv(x.transpose(1, 2))))).transpose(1, 2)
        return self.head(self.rnn(y)[0][:, -1])


def test_export_of_a_training_mode_model_follows_the_prepared_models_mode():
    """irq.prepare(method="export") of a model in training mode baked the trace's mode: torch.export writes
    aten.dropout(train=True) and aten.batch_norm(training=True), so after qat.eval() the prepared model still dropped
    units and normalised with the batch's statistics (CALIBRATION vs eager eval, max |difference|: 0.161 on the bug
    hunt's model with nn.Dropout and an LSTM's dropout, 0.0093-0.0316 over three runs of one input here). torch.nn's
    dropouts and batch norms now follow the mode as fx's do: eval equals eager eval; training drops units and updates
    the running statistics as eager's does; the program deploys as VALIDATION."""
    torch.manual_seed(0)
    model = _TrainedWithDropout().train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, LENGTH, DIM, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)  # fake quantization off: float numbers
    qat.train()
    twin = _TrainedWithDropout()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():  # training: batch statistics, the running ones updated as eager's (dropouts aside)
        qat(x)
        twin.train()(x)
    for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):  # updated once, as eager's
        torch.testing.assert_close(qat.state_dict()[key], twin.state_dict()[key], rtol=1e-6, atol=1e-7)
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))
    model.bn.load_state_dict({k[3:]: v for k, v in qat.state_dict().items() if k.startswith("bn.")})
    model.eval()
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, LENGTH, DIM, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), (LENGTH, DIM), g, min_cosine=0.98)


class _AttentionDropout(nn.Module):
    """nn.MultiheadAttention with dropout: torch passes SDPA dropout_p=0.5 only while training."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(DIM, HEADS, dropout=0.5, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class _OwnDropout(nn.Module):
    """A dropout in the model's own code, following its mode as written: export records only the traced flag."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(self.fc(x), 0.2, self.training)


@pytest.mark.parametrize(
    "model, op",
    [(_AttentionDropout, r"aten\.scaled_dot_product_attention\.default"), (_OwnDropout, r"aten\.dropout\.default")],
)
def test_export_in_training_mode_refuses_a_dropout_it_cannot_free(model, op):
    """What torch.export fixes at the training mode and cannot be told from a deliberate constant (the attention
    dropout nn.MultiheadAttention passes to SDPA as a number, a dropout in the model's own code) is refused naming
    the op and the user's line; before, it kept dropping in eval, calibration and VALIDATION without an error. In
    eval the same model imports and equals torch."""
    torch.manual_seed(0)
    m, x = model(), torch.randn(2, LENGTH, DIM)
    with pytest.raises(
        FrontendError,
        match=rf"test_silent_wrong_number_regressions\.py:\d+: {op}.*traced the model in training mode.*"
        r"model\.eval\(\) before prepare",
    ):
        irq.import_torch(m.train(), (x,), method="export")
    module = irq.import_torch(m.eval(), (x,), method="export")
    with torch.no_grad():
        torch.testing.assert_close(to_module(module)(x), m(x), rtol=1e-5, atol=1e-5)


class _PooledHead(nn.Module):
    """A conv then an adaptive pool to 2x2: torch's windows follow the input's size."""

    def __init__(self, pool) -> None:
        super().__init__()
        self.conv, self.pool = nn.Conv2d(3, 3, 1), pool

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x)).flatten(1)


@pytest.mark.parametrize(
    "pool, method",
    [
        (nn.AdaptiveMaxPool2d(2), "fx"),
        (nn.AdaptiveMaxPool2d(2), "export"),
        (lambda y: F.adaptive_max_pool2d(y, (2, 2)), "fx"),
        (nn.AdaptiveAvgPool2d(2), "export"),
    ],
)
def test_adaptive_pool_traced_at_one_size_computes_torchs_result_at_another(pool, method):
    """An adaptive max pool imports as the max pool with kernel = stride = input / output at the traced size, so
    traced at 8x8 and run at 16x16 the float import and the prepared model returned (2, 3, 4, 4) where torch returns
    (2, 3, 2, 2) (here flattened: (2, 48) for (2, 12)), without an error. The op now keeps its output size and the
    executors compute the adaptive pool, torch's result at any size (the average pool already did); the deployed
    program, whose windows are the traced ones, equals VALIDATION at 8x8 and refuses 16x16. Under method="export"
    the float import and the prepared model refuse 16x16 as torch.export's own module does ("Guard failed:
    input.size()[2] == 8"): export fixes every non-batch size (test_export_fixes_the_non_batch_sizes)."""
    torch.manual_seed(0)
    model = _PooledHead(pool).eval()
    g = torch.Generator().manual_seed(1)
    x, big = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 16, 16, generator=g)
    module = irq.import_torch(model, (x,), method=method)
    float_import = to_module(parse_module(irq.print_module(module)))
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        want = model(big)
        assert want.shape == (2, 12)
        for run in (float_import, qat):
            if method == "export":
                with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[2, 3, 8, 8\]"):
                    run(big)
            else:
                torch.testing.assert_close(run(big), want, rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, 3, 8, 8, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    if method == "fx":
        with torch.no_grad():
            assert F.cosine_similarity(qat(big).flatten(), want.flatten(), 0).item() > 0.99
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, (3, 8, 8), g)
    with pytest.raises(ValueError, match=r"\[2, 3, 16, 16\].*expects \[2, 3, 8, 8\]"):
        rn.compile(program)(big.numpy())


def test_deployed_refusal_of_a_sequence_first_export_does_not_promise_any_batch():
    """The sequence-first GRU exported at [3, 2, 4] (dimension 0, its sequence, fixed by the unrolled reshape): at
    [3, 1, 4] (another batch, in dimension 1) the numba runtime refused saying the program takes "any batch size in
    dimension 0", and at [6, 1, 4] every executor said the model runs "only at batch 3" of a dimension that holds the
    sequence. Both now say what is fixed: dimension 0, by the op and line torch.export fixed it in."""
    torch.manual_seed(0)
    model = _SequenceFirstGru().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 4, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(3, 2, 4, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    with torch.no_grad():
        np.testing.assert_array_equal(run_both(program, x.numpy()), qat(x).numpy())
    fixed_at = r"aten\.reshape\.default at .*test_silent_wrong_number_regressions\.py:\d+"
    other_batch = torch.randn(3, 1, 4, generator=g).numpy()
    with pytest.raises(
        ValueError, match=rf"expects \[3, 2, 4\] \(every size fixed, dimension 0 too: .* at 3 in {fixed_at}\)"
    ):
        rn.compile(program)(other_batch)
    with pytest.raises(ValueError, match=r"expects tensor<3x2x4xf32>"):
        reference.run(program, other_batch)
    with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[3, 2, 4\].*got \[3, 1, 4\]"):
        qat(torch.from_numpy(other_batch))  # VALIDATION: failed inside torch's reshape, naming no op
    longer = torch.randn(6, 1, 4, generator=g)
    refusal = (
        rf"at batch 3 \(torch\.export's batch is dimension 0 .*fixed that size in {fixed_at}; it runs only with 3 in"
    )
    for run in (rn.compile(program), lambda a: reference.run(program, a), lambda a: qat(torch.from_numpy(a))):
        with pytest.raises(ValueError, match=refusal):
            run(longer.numpy())


class _SizesFromShape(nn.Module):
    """Sizes read from x.shape beyond the batch: torch.export records them as the traced numbers."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rows = x.reshape(-1, x.shape[-1])
        return rows * 2, x.permute(0, 2, 1).reshape(x.shape[0], x.shape[2], -1).sum(-1)


def test_export_fixes_the_non_batch_sizes():
    """Bug caught: imported with method="export" at [2, 3, 4], `x.reshape(-1, x.shape[-1])` ran at [2, 3, 8] as
    reshape(-1, 4) in the float import and the prepared model: a (12, 4) result where torch returns (6, 8), and
    (2, 4) for torch's (2, 8), without an error. Now both refuse another non-batch size, as torch.export's own
    module does, and another batch still runs (dimension 0 stays dynamic)."""
    model = _SizesFromShape().eval()
    x = torch.randn(2, 3, 4)
    float_import = to_module(parse_module(irq.print_module(irq.import_torch(model, (x,), method="export"))))
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for run in (float_import, qat):
            for other in (torch.randn(2, 3, 8), torch.randn(2, 4, 4), torch.randn(2, 3)):
                with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[2, 3, 4\].*got"):
                    run(other)
            x5 = torch.randn(5, 3, 4)
            for got, want in zip(run(x5), model(x5)):
                torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
        fx_import = to_module(irq.import_torch(model, (x,)))  # fx reads the sizes at run time
        big = torch.randn(2, 3, 8)
        for got, want in zip(fx_import(big), model(big)):
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


class _CumulativeBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.head = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=None), nn.Conv2d(4, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.bn(self.conv(x)).relu())


@pytest.mark.parametrize("method", ["fx", "export"])
def test_batch_norm_with_cumulative_momentum_exported_in_eval_updates_its_statistics_in_training(method):
    """Bug caught: nn.BatchNorm2d(momentum=None) (a cumulative average of the batches seen) exported in eval mode was
    recorded with torch's eval-time factor 0.0, so the prepared model trained for QAT never moved its running
    statistics (max |running_mean - eager's| 0.47 after three batches here). The layer's own momentum is now read
    from the model: the float import trained in step with eager keeps the same statistics and the same outputs."""
    torch.manual_seed(0)
    model = _CumulativeBatchNorm().eval()
    x = torch.randn(2, 3, 6, 6)
    gm = to_module(parse_module(irq.print_module(irq.import_torch(model, (x,), method=method))))
    model.train()
    gm.train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            batch = torch.randn(4, 3, 6, 6, generator=g) * 2 + 1
            torch.testing.assert_close(gm(batch), model(batch), rtol=1e-5, atol=1e-5)
    buffers = dict(gm.named_buffers())
    means = [v for k, v in buffers.items() if k.endswith("running_mean")]
    assert len(means) == 1 and model.bn.running_mean.abs().max() > 0.1
    torch.testing.assert_close(means[0], model.bn.running_mean, rtol=1e-5, atol=1e-6)
    model.eval()
    gm.eval()
    with torch.no_grad():
        torch.testing.assert_close(gm(x), model(x), rtol=1e-5, atol=1e-5)
