"""Attention with masks as typed ops (issue 12): F.scaled_dot_product_attention with `is_causal` or an `attn_mask`,
and the attention-mask helpers the fx decompositions call (`apply_attention_mask` of nn.MultiheadAttention,
`sdpa_masked_softmax` of irq/frontend/decompose_sdpa.py).

SDPA's documented reference (torch.nn.functional.scaled_dot_product_attention):
``attn = q @ k^T * scale``, ``scale = 1 / sqrt(E)`` unless given; with `is_causal` the keys after each query are
excluded (``ones(L, S).tril()`` keeps the rest); a bool `attn_mask` keeps its True entries (False -> -inf), a float
one is added; ``softmax(attn, -1) @ v``. A query whose bool mask keeps no key (a padded query of a padding mask
on both sides) gets probability 0 for every key, so its output is 0: torch's math backend computes the softmax as
`_safe_softmax` (torch >= 2.5), which zeroes the rows that are -inf throughout. Before, such a row had uniform
probabilities deployed and in VALIDATION (the mean of v, max |error| 0.55 in
tests/test_silent_wrong_number_regressions.py) and NaN in CALIBRATION, refused as bad calibration data. The row
keeps every key before the softmax (no -inf row, no NaN an observer sees) and is zeroed after it, by typed ops
that quantize exactly: `amax` of the mask over the keys (a
reduce_max of its 0/1 codes), `logical_not`, `logical` or, `where_scalar`. Each step becomes the typed op it is
(matmul, mul_scalar, where_scalar / add, softmax, matmul), so masked attention quantizes like the hand-written
one: the masked logits fill with the softmax input range's minimum, where the exp table is 0, and the masked keys
get probability exactly 0.

nn.MultiheadAttention's masks are the other way round: True (or -inf) *excludes* a key. Which of the bool and float
forms a mask takes needs its dtype, which symbolic tracing does not know, so the decompositions call one function
(irq.wrap: a single node) and the import, which knows the dtype, turns it into typed ops here.

The causal mask of an export is a constant of its traced sizes (export bakes them); the fx decomposition builds it
with `torch.ones(L, S)` on the traced sizes instead, so CALIBRATION, QAT and VALIDATION follow the length they run
at, and convert folds it (passes/fold_constants.py).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from irq.frontend.emit import _MISSING, PREV, ConstantRef, Emit, bind
from irq.frontend.indexing import _tensor_value
from irq.frontend.logic_mapping import _is_mask
from irq.frontend.view_mapping import _size_attr
from irq.ir.types import FloatType, ShapedType
from irq.runtime.torch.functions import apply_attention_mask, attention_masked_softmax, sdpa_masked_softmax

_NEG_INF = float("-inf")
_aten = torch.ops.aten
#: `x.masked_fill(cond, value)` as fx (method, function) and torch.export record it
_FILLS = frozenset({"masked_fill", torch.masked_fill, _aten.masked_fill.Scalar})
#: a float tensor of zeros, as fx and torch.export record its making
_ZEROS = frozenset({torch.zeros, torch.zeros_like, "new_zeros", _aten.zeros.default, _aten.zeros_like.default,
                    _aten.new_zeros.default})
#: views whose first argument they only rearrange (zeros stay zeros)
_VIEWS = frozenset({operator.getitem, "unsqueeze", torch.unsqueeze, "view", "reshape", torch.reshape, "expand",
                    _aten.unsqueeze.default, _aten.view.default, _aten.reshape.default, _aten.expand.default,
                    _aten.slice.Tensor})
_SDPA_PARAMS = (
    ("query", _MISSING),
    ("key", _MISSING),
    ("value", _MISSING),
    ("attn_mask", None),
    ("dropout_p", 0.0),
    ("is_causal", False),
    ("scale", None),
    ("enable_gqa", False),
)


def _static_shape(x: Any) -> tuple[int, ...] | None:
    t = x.meta.get("irq_type") if _tensor_value(x) else None
    return tuple(t.shape) if isinstance(t, ShapedType) and t.has_static_shape else None


def _is_float(x: Any) -> bool:
    t = x.meta.get("irq_type") if _tensor_value(x) else None
    return isinstance(t, ShapedType) and isinstance(t.element_type, FloatType)


def _exclude(scores: Any, mask: Any) -> Emit:
    """scores.masked_fill(mask, -inf)."""
    return Emit("where_scalar", {"condition": mask, "input": scores}, {"value": _NEG_INF, "value_first": True})


def _keep(scores: Any, mask: Any) -> Emit:
    """torch.where(mask, scores, -inf), i.e. scores.masked_fill(~mask, -inf)."""
    return Emit("where_scalar", {"condition": mask, "input": scores}, {"value": _NEG_INF, "value_first": False})


def _keep_softmax(scores: Any, keep: Any) -> list[Emit]:
    """softmax(scores, -1) over the keys bool mask `keep` holds, 0 for a query that keeps none (torch's
    `_safe_softmax`): such a query keeps every key before the softmax, and its probabilities are zeroed after."""
    kept_none = Emit("logical_not", {"input": Emit("amax", {"input": keep}, {"dim": [-1], "keepdim": True})})
    return [
        kept_none.operands["input"],
        kept_none,
        Emit("logical", {"input": keep, "other": PREV}, {"kind": "or"}),
        _keep(scores, PREV),
        Emit("softmax", {"input": PREV}, {"dim": -1}),
        Emit("where_scalar", {"condition": kept_none, "input": PREV}, {"value": 0.0, "value_first": True}),
    ]


def attention_mask(args, kwargs) -> Emit | None:
    """`apply_attention_mask(scores, mask)` (nn.MultiheadAttention's convention: True / -inf excludes a key; a
    query with every key excluded is NaN in torch as in the typed ops)."""
    b = bind((("scores", _MISSING), ("mask", _MISSING)), args, kwargs)
    if b is None or not _tensor_value(b["scores"]):
        return None
    if _is_mask(b["mask"]):
        return _exclude(b["scores"], b["mask"])
    if _is_float(b["mask"]):
        return Emit("add", {"input": b["scores"], "other": b["mask"]})
    return None


def mha_softmax(args, kwargs) -> list[Emit] | None:
    """`attention_masked_softmax(scores, attn_mask, key_padding_mask)` (nn.MultiheadAttention's convention on its
    per-head scores [N, heads, L, S]): float masks are added; the bool ones (a 3-D attn_mask reshaped per head)
    are or-ed into the keys excluded, and a query that keeps none gets probability 0 (`_keep_softmax`)."""
    b = bind((("scores", _MISSING), ("attn_mask", None), ("key_padding_mask", None)), args, kwargs)
    if b is None or not _tensor_value(b["scores"]):
        return None
    shape = _static_shape(b["scores"])
    scores: Any = b["scores"]
    chain: list[Emit] = []
    excluded: list[Any] = []
    for mask in (b["attn_mask"], b["key_padding_mask"]):
        if mask is None:
            continue
        is_float = _is_float(mask)
        if not (is_float or _is_mask(mask)):
            return None
        mask_shape = _static_shape(mask)
        if mask_shape is not None and len(mask_shape) == 3:  # [N * heads, L, S] -> [N, heads, L, S]
            if shape is None:
                return None
            mask = Emit("reshape", {"input": mask, "sizes": []}, {"shape": _size_attr([-1, *shape[1:]])})
            chain.append(mask)
        if is_float:
            scores = Emit("add", {"input": scores, "other": mask})
            chain.append(scores)
        else:
            excluded.append(mask)
    if not excluded:
        return [*chain, Emit("softmax", {"input": scores}, {"dim": -1})]
    if len(excluded) == 2:
        chain.append(Emit("logical", {"input": excluded[0], "other": excluded[1]}, {"kind": "or"}))
    chain.append(Emit("logical_not", {"input": chain[-1] if len(excluded) == 2 else excluded[0]}))
    return [*chain, *_keep_softmax(scores, chain[-1])]


def sdpa_softmax(args, kwargs) -> list[Emit] | None:
    """`sdpa_masked_softmax(scores, mask)` (SDPA's convention: a bool mask's True entries take part, a query
    keeping none gets 0; a float mask is added)."""
    b = bind((("scores", _MISSING), ("mask", _MISSING)), args, kwargs)
    if b is None or not _tensor_value(b["scores"]):
        return None
    return _masked_softmax(b["scores"], b["mask"])


def _filled_with_neg_inf(mask: Any) -> Any | None:
    """The bool `cond` of a float mask the model builds as ``zeros.masked_fill(cond, -inf)`` (fx's method or
    function, export's aten.masked_fill), else None: its keys to exclude."""
    if not isinstance(mask, fx.Node) or mask.op not in ("call_method", "call_function") or mask.target not in _FILLS:
        return None
    b = bind((("input", _MISSING), ("mask", _MISSING), ("value", _MISSING)), mask.args, mask.kwargs)
    if b is None or b["value"] != _NEG_INF or not _is_mask(b["mask"]):
        return None
    return b["mask"] if _zeros(b["input"]) else None


def _zeros(x: Any) -> bool:
    """A tensor of zeros: a zeros factory, or a view of one (`zeros_like(pad)[:, None, :]`)."""
    while isinstance(x, fx.Node) and x.target in _VIEWS and x.args:
        x = x.args[0]
    return isinstance(x, fx.Node) and x.target in _ZEROS


def _masked_softmax(scores: Any, mask: Any) -> list[Emit] | None:
    """softmax(scores, -1) with SDPA's attn_mask applied; None for a mask that is neither bool nor float. A float
    mask the model fills with -inf (``zeros.masked_fill(pad, -inf)``, a padding mask computed at run time) is the
    bool keep-mask ~pad, so it quantizes (its -inf had failed calibration: an observer refused it) and a query
    whose keys are all excluded gets 0 as in torch's `_safe_softmax` (not NaN). Another float mask is added: a
    constant one's -inf entries are kept as they are by fill-additive-masks."""
    if _is_mask(mask):
        return _keep_softmax(scores, mask)
    excluded = _filled_with_neg_inf(mask) if _is_float(mask) else None
    if excluded is not None:
        keep = Emit("logical_not", {"input": excluded})
        return [keep, *_keep_softmax(scores, keep)]
    if _is_float(mask):
        return [Emit("add", {"input": scores, "other": mask}), Emit("softmax", {"input": PREV}, {"dim": -1})]
    return None


def causal_keep(length: int, source: int) -> torch.Tensor:
    """SDPA's is_causal mask: True where key j <= query i (``ones(L, S).tril()``)."""
    return torch.ones(length, source, dtype=torch.bool).tril()


def sdpa(args, kwargs) -> list[Emit] | None:
    """F.scaled_dot_product_attention (and ATen's overload) as typed ops; None (an opaque call) with dropout,
    grouped-query heads or shapes that are not static."""
    b = bind(_SDPA_PARAMS, args, kwargs)
    if b is None or b["dropout_p"] or b["enable_gqa"]:
        return None
    q, k, v, mask = b["query"], b["key"], b["value"], b["attn_mask"]
    qs, ks = _static_shape(q), _static_shape(k)
    if not all(map(_tensor_value, (q, k, v))) or qs is None or ks is None:
        return None
    scale = b["scale"] if b["scale"] is not None else 1.0 / math.sqrt(qs[-1])
    scaled = Emit("mul_scalar", {"input": PREV}, {"other": float(scale)})
    chain = [
        Emit("transpose", {"input": k}, {"dim0": -2, "dim1": -1}),
        Emit("matmul", {"input": q, "other": PREV}),
        scaled,
    ]
    if b["is_causal"]:
        if mask is not None:  # torch refuses both together
            return None
        length, source = qs[-2], ks[-2]
        keep = ConstantRef(f"sdpa_causal_{length}x{source}", causal_keep(length, source))
        # every query keeps key 0 (the mask is aligned top-left), so no row needs _safe_softmax's zeroing
        chain += [_keep(PREV, keep), Emit("softmax", {"input": PREV}, {"dim": -1})]
    elif mask is not None:
        masked = _masked_softmax(scaled, mask)
        if masked is None:
            return None
        chain += masked
    else:
        chain.append(Emit("softmax", {"input": PREV}, {"dim": -1}))
    return [*chain, Emit("matmul", {"input": PREV, "other": v})]


def install(functions: dict) -> None:
    """SDPA and the two mask helpers in irq.frontend.mapping's function table."""
    functions[F.scaled_dot_product_attention] = sdpa
    wrapped_handlers = (
        (apply_attention_mask, attention_mask),
        (attention_masked_softmax, mha_softmax),
        (sdpa_masked_softmax, sdpa_softmax),
    )
    for wrapped, handler in wrapped_handlers:
        functions[wrapped.__irq_wrapped__] = handler  # irq.wrap records the original function as the node target
