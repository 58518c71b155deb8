"""torch.nn modules the fx tracer expands into typed ops instead of keeping one opaque call.

`nn.MultiheadAttention` is a composite: input projections, per-head scaled dot
products, softmax, output projection. Kept as one `torch.call` it could neither be
rebuilt from IR text without the Python model nor quantized op by op, so the tracer
runs `multihead_attention` below in its place: linear, reshape, transpose, bmm,
softmax, mean, each a typed torch-dialect op scoped to the module's path, with
`out_proj` called as the nn.Linear it is (it keeps its own owner).

The math is the one documented for nn.MultiheadAttention ("Attention Is All You
Need", section 3.2.2): Q, K, V = x W_{q,k,v}^T + b; per head
softmax(Q K^T / sqrt(head_dim)) V; heads concatenated, then out_proj. Masks and the softmax are
one importable `attention_masked_softmax` call (typed ops at import, irq/frontend/attention_mapping.py): a query
whose masks exclude every key gets probability 0, so its output is out_proj's bias, as torch computes it with
need_weights=False (F.multi_head_attention_forward's SDPA call, `_safe_softmax`). With need_weights=True, and on
its fused fast path (eval, no grad, batch_first), torch returns NaN there instead, which no fixed-point program
can; the decomposition gives the need_weights=False value (0 weights) for both;
`is_causal` with a mask follows F.multi_head_attention_forward (without padding mask or weights the causal
mask is built from the sizes, as SDPA's is_causal). Calls it does not cover (`add_bias_kv`, `add_zero_attn`,
is_causal without a mask, which torch refuses) stay opaque module calls.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from irq.runtime.torch.functions import apply_attention_mask, attention_masked_softmax, module_mode_dropout


def supports_multihead_attention(m: nn.MultiheadAttention, args: tuple, kwargs: dict) -> bool:
    """Whether `multihead_attention` computes this call exactly (no masks, no extra key/value rows)."""
    names = (
        "query",
        "key",
        "value",
        "key_padding_mask",
        "need_weights",
        "attn_mask",
        "average_attn_weights",
        "is_causal",
    )
    if len(args) > len(names) or any(k not in names for k in kwargs):
        return False
    bound = dict(zip(names, args), **kwargs)
    if any(k not in bound for k in names[:3]):
        return False
    if bound.get("is_causal") and bound.get("attn_mask") is None:
        return False  # torch refuses it too (is_causal is a hint about attn_mask)
    if any(not isinstance(bound.get(k, True), bool) for k in ("need_weights", "average_attn_weights")):
        return False
    return m.bias_k is None and m.bias_v is None and not m.add_zero_attn


def _projections(m: nn.MultiheadAttention, query: Any, key: Any, value: Any) -> tuple[Any, Any, Any]:
    e = m.embed_dim
    if m._qkv_same_embed_dim:
        w, b = m.in_proj_weight, m.in_proj_bias
        if query is key and key is value:  # self-attention: one projection, split
            return F.linear(query, w, b).chunk(3, dim=-1)
        w_q, w_k, w_v = w.chunk(3)
    else:
        w_q, w_k, w_v = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    b_q = b_k = b_v = None
    if m.in_proj_bias is not None:
        b_q, b_k, b_v = m.in_proj_bias[:e], m.in_proj_bias[e : 2 * e], m.in_proj_bias[2 * e :]
    return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)


def multihead_attention(
    m: nn.MultiheadAttention,
    query: Any,
    key: Any,
    value: Any,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Any, Any]:
    """nn.MultiheadAttention.forward for batched inputs without masks, in typed ops."""
    if m.batch_first:  # to (L, N, E), keeping query/key/value identity (self-attention projects once)
        q_t = query.transpose(0, 1)
        k_t = q_t if key is query else key.transpose(0, 1)
        v_t = k_t if value is key else q_t if value is query else value.transpose(0, 1)
        query, key, value = q_t, k_t, v_t
    heads, head_dim = m.num_heads, m.head_dim
    # an unbatched (L, E) query has no size(2): the import fails at the user's line, not silently
    tgt_len, embed = query.size(0), query.size(2)
    q, k, v = _projections(m, query, key, value)
    q = q.reshape(tgt_len, -1, head_dim).transpose(0, 1)  # (N * heads, L, head_dim)
    k = k.reshape(key.size(0), -1, head_dim).transpose(0, 1)
    v = v.reshape(value.size(0), -1, head_dim).transpose(0, 1)
    attn = torch.bmm(q * (1.0 / head_dim) ** 0.5, k.transpose(1, 2))  # (N * heads, L, S)
    if is_causal and key_padding_mask is None and not need_weights:
        # F.multi_head_attention_forward's rule: attn_mask is only a hint then, SDPA's causal mask is applied (keys
        # after the query excluded), built from the traced sizes so the model follows the length it runs at
        # (every query keeps key 0, so no row needs the zeroing of the masked softmax below)
        causal = torch.ones(tgt_len, k.size(1), dtype=torch.bool).triu(1)
        attn = torch.softmax(apply_attention_mask(attn, causal), dim=-1)
    elif attn_mask is None and key_padding_mask is None:
        attn = torch.softmax(attn, dim=-1)
    else:  # attn_mask (L, S) or (N * heads, L, S), key_padding_mask (N, S); True / -inf excludes a key
        # per head (N, heads, L, S), the masks and the softmax one call: the fill feeds the softmax directly (its
        # int16 range, quant-annotate), and a query whose masks exclude every key gets probability 0, not NaN
        src_len = attn.size(2)
        padding = None if key_padding_mask is None else key_padding_mask.unsqueeze(1).unsqueeze(1)
        attn = attention_masked_softmax(attn.reshape(-1, heads, tgt_len, src_len), attn_mask, padding)
        attn = attn.reshape(-1, tgt_len, src_len)
    if m.dropout > 0.0:
        attn = module_mode_dropout(attn, m.dropout, m.training)  # follows the prepared model's mode
    out = torch.bmm(attn, v).transpose(0, 1).reshape(-1, embed)
    out = m.out_proj(out).reshape(tgt_len, -1, embed)
    if m.batch_first:
        out = out.transpose(0, 1)
    if not need_weights:
        return out, None
    weights = attn.reshape(-1, heads, tgt_len, attn.size(2))
    if average_attn_weights:
        weights = weights.mean(dim=1)
    return out, weights
