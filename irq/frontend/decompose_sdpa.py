"""F.scaled_dot_product_attention with `is_causal` or an `attn_mask`, traced by fx as the ops it is made of.

The import maps a mask-free SDPA call to typed ops from the example's static shapes (irq/frontend/
attention_mapping.py). A causal one needs its mask, and fx should keep that mask *computed* from the traced sizes
so the prepared model follows the length it runs at: while irq traces, the tracer runs `scaled_dot_product_attention`
below in SDPA's place for such calls (`torch.ones(L, S)` then records a node on the traced sizes, see
irq/frontend/tracer.py's size factories). The math is SDPA's documented reference: ``q @ k^T * scale``, the causal
keep-mask ``ones(L, S).tril()`` (False -> -inf), softmax over the keys, ``@ v``; with an attn_mask, the mask and
the softmax are one `sdpa_masked_softmax` call (its bool or float form needs the dtype the import knows, and a query
whose bool mask keeps no key gets probability 0, as torch's `_safe_softmax`). Calls with dropout or grouped-query heads
keep SDPA's own node (an opaque call, which convert refuses by name).
"""

from __future__ import annotations

from typing import Any

import torch

from irq.runtime.torch.functions import sdpa_masked_softmax


def traces_through(attn_mask: Any, dropout_p: float, is_causal: bool, enable_gqa: bool) -> bool:
    """Whether the tracer runs `scaled_dot_product_attention` for a call with these options."""
    return (
        (is_causal or attn_mask is not None)
        and not dropout_p
        and not enable_gqa
        and not (is_causal and attn_mask is not None)
    )


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Any:
    """SDPA's reference computation in traceable torch calls (no dropout, no grouped-query heads)."""
    scores = query @ key.transpose(-2, -1)
    scores = scores * (scale if scale is not None else query.size(-1) ** -0.5)
    if is_causal:
        keep = torch.ones(query.size(-2), key.size(-2), dtype=torch.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), float("-inf"))
    if attn_mask is not None:
        return sdpa_masked_softmax(scores, attn_mask) @ value
    return torch.softmax(scores, dim=-1) @ value
