"""nn.TransformerEncoderLayer and nn.TransformerEncoder traced through their plain-math path.

Their `forward` first decides whether torch's fused fast path applies (`torch._transformer_encoder_layer_fwd`,
nested tensors); that decision inspects tensors (`_none_or_dtype`, `is_nested`), which fx cannot do
on proxies, so the whole layer used to stay one opaque `torch.call`: no march runs it, and a user's
transformer never reached the bpu. The tracer runs the functions below in the layer's place instead.
They are the layer's documented slow path (torch/nn/modules/transformer.py, "Attention Is All You
Need" section 3.1): self-attention and feed-forward blocks with residuals, layer norm after each
(post-norm) or before each (`norm_first`). Every sub-module is called as the module it is, so
`self_attn` expands through irq/frontend/decompose.py and the linears, norms and dropouts keep their
own owners and state-dict keys. In eval mode the fast path computes the same function (torch
documents it as an inference-only re-implementation), so eager outputs match within float rounding.
"""

from __future__ import annotations

from typing import Any

from torch import nn

_LAYER_ARGS = ("src", "src_mask", "src_key_padding_mask", "is_causal")
_STACK_ARGS = ("src", "mask", "src_key_padding_mask", "is_causal")


def _bind(names: tuple[str, ...], args: tuple, kwargs: dict) -> dict[str, Any] | None:
    if len(args) > len(names) or any(k not in names for k in kwargs):
        return None
    bound = dict(zip(names, args), **kwargs)
    return bound if "src" in bound else None


def supports_encoder_layer(m: nn.Module, args: tuple, kwargs: dict) -> bool:
    """Whether `encoder_layer` computes this call: a causal hint goes to MultiheadAttention, whose
    decomposition follows torch's is_causal rule (irq/frontend/decompose.py); without a mask torch refuses it."""
    names = _LAYER_ARGS if isinstance(m, nn.TransformerEncoderLayer) else _STACK_ARGS
    bound = _bind(names, args, kwargs)
    mask = bound.get("src_mask" if isinstance(m, nn.TransformerEncoderLayer) else "mask") if bound else None
    return bound is not None and not (bound.get("is_causal") and mask is None)


def _activation(m: nn.TransformerEncoderLayer, x: Any) -> Any:
    return m.activation(x)  # a function (F.relu / F.gelu) or a module; both trace as themselves


def encoder_layer(
    m: nn.TransformerEncoderLayer,
    src: Any,
    src_mask: Any = None,
    src_key_padding_mask: Any = None,
    is_causal: bool = False,
) -> Any:
    """nn.TransformerEncoderLayer.forward's slow path, sub-modules called as modules."""

    def self_attention(x: Any) -> Any:
        out = m.self_attn(x, x, x, attn_mask=src_mask, key_padding_mask=src_key_padding_mask, need_weights=False,
                          is_causal=is_causal)[0]
        return m.dropout1(out)

    def feed_forward(x: Any) -> Any:
        return m.dropout2(m.linear2(m.dropout(_activation(m, m.linear1(x)))))

    x = src
    if m.norm_first:
        x = x + self_attention(m.norm1(x))
        return x + feed_forward(m.norm2(x))
    x = m.norm1(x + self_attention(x))
    return m.norm2(x + feed_forward(x))


def encoder_stack(
    m: nn.TransformerEncoder,
    src: Any,
    mask: Any = None,
    src_key_padding_mask: Any = None,
    is_causal: bool | None = None,
) -> Any:
    """nn.TransformerEncoder.forward's slow path: each layer called as its module, then the final norm."""
    out = src
    for layer in m.layers:
        out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
    return m.norm(out) if m.norm is not None else out
