"""MiniLM-L6 with its padding mask applied *in the program*: the tokenizer's int64 attention_mask is a model input
and every layer masks its logits with `scores.masked_fill(mask[:, None, None, :] == 0, -inf)` (issue 12's
comparison and select), instead of bench/minilm.py's additive -1e4 bias computed outside. Same checkpoint, same
recipe (bench/minilm.py `quantize_irq`), same sentences; prints the mean embedding cosine to HF's fp32 of both
deployed programs (numba), each checked equal to its VALIDATION outputs bit for bit.

    python bench/minilm_masked.py [--layers 6] [--sentences 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.minilm import CALIB_SENTENCES, SENTENCES, load, mean_pool, quantize_irq, token_inputs  # noqa: E402
from tests.models.bert_encoder import EncoderLayer, TokenEncoder  # noqa: E402


class MaskedLayer(EncoderLayer):
    """EncoderLayer with the 0/1 mask as its second input, applied by masked_fill before the softmax."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        b, n, d = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)).masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, n, d)
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.out(nn.functional.gelu(self.inter(x))) + x)


def masked_encoder(model: TokenEncoder) -> TokenEncoder:
    """The same modules with each layer masking by masked_fill (the mask input replaces the bias input)."""
    for layer in model.layers:
        layer.__class__ = MaskedLayer
    return model


def measure(layers: int, sentences: int, max_length: int = 16) -> list[tuple[str, float]]:
    from irq.runtime import numba as numba_runtime
    tok, hf, model = load(layers)
    enc, inputs = token_inputs(tok, SENTENCES[:sentences], max_length)
    _, calib = token_inputs(tok, CALIB_SENTENCES[:max(1, sentences - 8)], max_length)
    calib_enc = tok(CALIB_SENTENCES[:max(1, sentences - 8)], return_tensors="pt", padding="max_length",
                    max_length=max_length, truncation=True)
    mask = enc["attention_mask"]
    with torch.no_grad():
        ref = mean_pool(hf(**enc).last_hidden_state, mask)
    rows = []
    for name, m, ins, cal in (
            ("additive -1e4 bias input (bench/minilm.py)", model, inputs, calib),
            ("int64 mask input, masked_fill(mask == 0, -inf)", masked_encoder(load(layers)[2]),
             (*inputs[:3], mask), (*calib[:3], calib_enc["attention_mask"]))):
        with torch.no_grad():
            gap = float((mean_pool(m(*ins), mask) - ref).abs().max())
        if gap > 1e-4:
            raise AssertionError(f"{name}: the wrapper is not HF's MiniLM: max abs {gap:.2e}")
        program, qat, _ = quantize_irq(m, cal)
        with torch.no_grad():
            val = qat(*ins)
        out = np.asarray(numba_runtime.compile(program)(*[t.numpy() for t in ins]))
        if not np.array_equal(out, val.numpy()):
            raise AssertionError(f"{name}: deployed != VALIDATION")
        cos = float(nn.functional.cosine_similarity(mean_pool(torch.from_numpy(out), mask), ref, dim=1).mean())
        rows.append((name, cos))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=32)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    print(f"MiniLM-L6 ({args.layers} layers), {args.sentences} sentences: mean embedding cosine of the deployed "
          "program (numba, == VALIDATION) to HF fp32")
    for name, cos in measure(args.layers, args.sentences):
        print(f"  {name:<50} {cos:.4f}")


if __name__ == "__main__":
    main()
