"""fill-additive-masks: `scores + mask` with a constant 0 / -inf mask becomes `scores.masked_fill(mask == -inf, -inf)`.

A causal mask is often additive: `nn.Transformer.generate_square_subsequent_mask(T)` (`full((T, T), -inf).triu(1)`),
and torch.export turns every bool attention mask of nn.MultiheadAttention / nn.TransformerEncoderLayer into one
(`zeros_like(m, float).masked_fill(m, -inf)`, then an add). An add of -inf cannot be quantized: its observer sees
an infinite range and refuses. But such a mask holds only 0 and -inf, and then ``x + m`` is exactly
``where(m == -inf, -inf, x)`` for every finite x: the fill that quantizes (the softmax input's range minimum, where
the exp table is 0, so a masked key gets probability exactly 0, docs/design.md). This pass rewrites the add into
a `torch.isneginf(m)` call + `where_scalar`, leaving the mask's own ops in place (fx keeps them computed from the
traced sizes, so QAT follows the length; convert folds them with the call, passes/fold_constants.py). The
condition is a call, not a typed compare, because quant-annotate observes a compare's input, and an observer
refuses the mask's -inf. It used to be an i1 constant of the traced length: the prepared fx model then failed at
any other length with torch's broadcast error inside the generated forward ("The size of tensor a (5) must match
the size of tensor b (7)"), though the model's own mask follows the length.

Which masks: the value of the operand is computed here from constants and static sizes alone
(fold-constants' evaluator, without changing the IR), holds -inf and otherwise only 0, and its ops only place
values (factories, triu / tril, fills, casts, views, comparisons: no arange or arithmetic, so a mask that holds
0 / -inf at the traced length holds them at every length). Anything else is left as the add it was. It runs in
prepare before quant-annotate (irq/quant/prepare.py).
"""

from __future__ import annotations

from irq.dialects import torch as tdl
from irq.dialects.torch_values import OperandRefAttr
from irq.passes.fold_constants import _Folder, _NotFoldable

from irq._lazy import numpy as np
from irq.ir.attributes import ArrayAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, ShapedType, TensorType, i1
from irq.ir.values import Value
from irq.transform.pass_base import Pass, register_pass

#: callees whose values are not drawn from their inputs' and literals' values (a mask of them may change values
#: with the length)
_COMPUTING = frozenset({"arange", "add", "sub", "mul", "neg", "add_scalar", "sub_scalar"})


def _excluded_keys(folder: _Folder, v: Value) -> np.ndarray | None:
    """`v == -inf` when `v` is a constant 0 / -inf mask with at least one -inf (see the module docstring)."""
    t = v.type
    if not (isinstance(t, ShapedType) and isinstance(t.element_type, FloatType)):
        return None
    try:
        data = np.asarray(folder.value(v), dtype=np.float64)
    except (_NotFoldable, TypeError, ValueError):
        return None
    neg_inf = np.isneginf(data)
    return neg_inf if neg_inf.any() and np.all(neg_inf | (data == 0)) else None


def fill_additive_masks(root: Operation) -> int:
    """Rewrite every `add(x, mask)` / `add(mask, x)` with a constant 0 / -inf mask under `root`; returns how many."""
    folder = _Folder(excluded=_COMPUTING)
    rewritten = 0
    for op in list(root.walk()):
        if op.parent is None or op.name != "torch.add" or op.get_attr("alpha") is not None or len(op.operands) != 2:
            continue
        a, b = op.operands
        excluded, mask, x = _excluded_keys(folder, b), b, a
        if excluded is None:
            excluded, mask, x = _excluded_keys(folder, a), a, b
        if excluded is None:
            continue
        rewritten += 1
        t = TensorType(tuple(mask.type.shape), i1)
        # torch.isneginf on the mask as the model computes it (a call: no observer meets its -inf, and the
        # prepared model follows the length the mask is built at); convert folds it (fold-constants)
        cond = tdl.CallOp(
            [mask], target="torch.isneginf", args=ArrayAttr([OperandRefAttr(0)]), result_types=[t], location=op.location
        )
        common = {k: op.get_attr(k) for k in ("scope", "module") if op.get_attr(k) is not None}
        fill = tdl.OPS["where_scalar"](
            condition=cond.results[0],
            input=x,
            value=float("-inf"),
            value_first=True,
            **common,
            result_types=[op.results[0].type],
            location=op.location,
        )
        op.parent.insert_before(op, cond)
        op.parent.insert_before(op, fill)
        op.results[0].replace_all_uses_with(fill.results[0])
        op.erase()
    return rewritten


@register_pass("fill-additive-masks")
class FillAdditiveMasks(Pass):
    """`x + mask` with a constant 0 / -inf mask as masked_fill(mask == -inf, -inf), which quantizes."""

    def run(self, op: Operation) -> None:
        self.statistics["rewritten"] += fill_additive_masks(op)
