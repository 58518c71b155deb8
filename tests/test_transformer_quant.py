"""The transformer path: VALIDATION computes what the deployed program computes, bit for bit.

A small BERT-like encoder (tests/models/bert_encoder.py, the model bench/minilm.py runs MiniLM's
weights in: attention with an additive padding mask, softmax, layer norms, a gelu feed-forward,
residual adds) is prepared, calibrated, validated and converted;
the program runs on the reference and the numba runtimes. VALIDATION must equal both exactly (a
float island or a table built differently in VALIDATION than in lower-bpu shows up here as a
mismatch), and the deployed output must stay close to the float model (a wrong mask or a lost
softmax scale shows up as a low cosine).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from irq.runtime.reference import run as run_reference
from torch import nn

import irq
from irq.workflow import prepare_calibrated
from tests.models.bert_encoder import Encoder, random_batch

D = 32


def batch(n: int, seq: int = 8, seed: int = 0, mask_value: float = -1e4):
    return random_batch(n, seq, D, seed, mask_value)


@pytest.fixture(scope="module")
def quantized():
    torch.manual_seed(0)
    model = Encoder.random(layers=2, dim=D).eval()
    calib = batch(16, seed=1)[:2]
    test = batch(16, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = prepare_calibrated(model, calib, [calib], method="export", check_model=False)
        with torch.no_grad():
            val = qat(*test[:2])
            ref = model(*test[:2])
        program = irq.convert(qat)
    return model, qat, program, test, val, ref


def test_every_transformer_op_is_lowered_to_integer_ops(quantized):
    program = quantized[2]
    names = {op.name for op in program.walk()}
    assert {"bpu.softmax", "bpu.layer_norm", "bpu.lut", "bpu.matmul", "bpu.linear"} <= names
    floats = [op.name for op in program.walk() if op.dialect_name in ("hl", "torch")]
    assert floats == [], f"float islands left: {floats}"


def test_validation_equals_reference_and_numba_bit_for_bit(quantized):
    _, _, program, test, val, _ = quantized
    x, bias = test[0].numpy(), test[1].numpy()
    (reference,) = run_reference(program, x, bias)
    numba = irq.run(program, x, bias)
    np.testing.assert_array_equal(reference, val.numpy())
    np.testing.assert_array_equal(numba, val.numpy())


def test_deployed_stays_close_to_float(quantized):
    _, _, program, test, val, ref = quantized
    mask = test[2]
    cos = nn.functional.cosine_similarity(val, ref, dim=-1)[mask.bool()]
    assert float(cos.mean()) > 0.97


def _fake_quant(qat: nn.Module, path: str):
    return qat.get_submodule(path)


def test_attention_logits_layer_norm_inputs_are_int16_and_the_mask_has_a_stated_range(quantized):
    qat = quantized[1]
    assert _fake_quant(qat, "layers.0.matmul.out_quant").storage == "i16"  # q k^T
    mask_add = _fake_quant(qat, "layers.0.add.out_quant")
    assert mask_add.storage == "i16" and mask_add.clip == 128.0  # not the -1e4 of the mask
    assert float(mask_add.scale) == pytest.approx(128.0 / 32767)
    assert _fake_quant(qat, "layers.0.attn_out.out_quant").storage == "i16"  # feeds attn_norm
    assert _fake_quant(qat, "x.input_quant").storage == "i16"  # feeds the embedding norm
    assert _fake_quant(qat, "layers.0.query.out_quant").storage == "i8"  # everything else stays int8


def test_padded_tokens_cannot_change_the_other_tokens_outputs(quantized):
    """A masked key gets probability exactly 0 in the deployed program (its logit saturates where the exp
    table is 0): rewriting the padded tokens' embeddings leaves every real token's output bit-identical."""
    _, _, program, test, _, _ = quantized
    x, bias, mask = test
    other = x.clone()
    other[mask == 0] = torch.randn(int((mask == 0).sum()), D, generator=torch.Generator().manual_seed(9))
    a = irq.run(program, x.numpy(), bias.numpy())
    b = irq.run(program, other.numpy(), bias.numpy())
    keep = mask.bool().numpy()
    assert (~keep).any()
    np.testing.assert_array_equal(a[keep], b[keep])


class Scores(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(D, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.proj(x), dim=-1)


def test_int16_softmax_validation_is_the_integer_softmax_not_a_rounded_float_one():
    """With int16 probabilities, a float softmax rounded at the output differs from bpu.softmax's table and
    integer division on some codes (7% of them here): VALIDATION must follow the program, not the float
    formula (with int8 probabilities the two agree too often to tell apart)."""
    torch.manual_seed(3)
    model = Scores().eval()
    x = torch.randn(64, 8, D) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = irq.prepare(model, (x,), method="export", check_model=False,
                          qconfig={"": irq.qconfig.default_qat_8bit, "softmax": irq.qconfig.default_qat_16bit})
        qat.eval()
        irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
        with torch.no_grad():
            qat(x)
        qat.eval()
        irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
        with torch.no_grad():
            val = qat(x)
        program = irq.convert(qat)
    fq = qat.get_submodule("softmax.out_quant")
    assert fq.storage == "i16"
    (reference,) = run_reference(program, x.numpy())
    np.testing.assert_array_equal(reference, val.numpy())
    np.testing.assert_array_equal(irq.run(program, x.numpy()), val.numpy())


def test_layer_norm_sqrt_bits_keep_int16_statistics_in_int64():
    """i8 rows keep G = F; i16 rows of BERT width get the largest G whose statistics fit int64 (one more bit
    and ``v << 2G`` wraps in the numba kernel and VALIDATION: a wrong number, silently)."""
    from irq import fixedpoint as fp
    assert fp.layer_norm_sqrt_frac_bits(384, "i8", 0) == fp.LAYER_NORM_FRAC_BITS
    g = fp.layer_norm_sqrt_frac_bits(384, "i16", 0)
    assert g == 7
    assert (384**2 * 2**30) * 2 ** (2 * g) < 2**63 <= (384**2 * 2**30) * 2 ** (2 * g + 2)
