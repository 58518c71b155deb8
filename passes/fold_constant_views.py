"""fold-constant-views: a slice, chunk, reshape or other data movement of a constant becomes a constant.

A model that uses part of a parameter as data — a positional embedding cut to the sequence length
(`x + self.pos[:, :n]`), one third of a packed bias (`b.chunk(3)`, a GRU's `b_hh` parts), a transposed
buffer — quantizes fine: quant-annotate observes the view's result as a constant operand. But lower-bpu
only turns a *constant* into codes, and saw a view op whose input was not quantized, so such a model
failed to convert. After QAT nothing trains any more, so at convert time the view can be evaluated once:
this pass replaces each movement op whose tensor operand is a `torch.constant` (and that takes no runtime
size operand) by a `torch.constant` holding its result, in program order, so chains fold too. Only ops that move
data without arithmetic are folded (the values are the constant's own float32 values), so VALIDATION,
which quantized the same values, and the deployed codes agree bit for bit. The original constant stays
(it is model state); dead views are erased. An integer or bool constant keeps its element type (BERT's
`position_ids[:, :S]` buffer, the indices of its position embedding): it used to become an f32 constant, and
lower-bpu then refused the embedding ("its indices must be an i32/i64 tensor, got tensor<1x16xf32>").

Semantics (torch's, by the op's result types where a count is involved): reshape / view / flatten /
squeeze / unsqueeze / contiguous keep row-major order; permute / transpose swap axes; slice is Python's
slice along `dim` (torch clamps out-of-range bounds the same way); select takes one index; chunk and split
cut along `dim` at the sizes their results have; unbind takes each index; expand broadcasts.
"""

from __future__ import annotations

from irq.dialects import torch as tdl

from irq._lazy import numpy as np
from irq.ir.attributes import IntegerAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr, storage_dtype
from irq.ir.operation import Operation
from irq.ir.types import IntegerType, TensorType, f32
from irq.transform.pass_base import Pass, register_pass

_SAME_ORDER = frozenset({"reshape", "view", "flatten", "squeeze", "unsqueeze", "contiguous", "identity"})
_MOVEMENT = _SAME_ORDER | {"permute", "transpose", "slice", "select", "chunk", "split", "unbind", "expand"}


def _data(op: Operation | None) -> np.ndarray | None:
    """The constant's values: integers (and bools) as they are stored, anything else as float32 data."""
    if op is None or op.name != "torch.constant":
        return None
    a = op.get_attr("value")
    if isinstance(a, DenseResourceElementsAttr) or (isinstance(a, DenseElementsAttr) and not a.is_splat):
        element = a.type.element_type
        return np.asarray(
            a.to_numpy(), dtype=storage_dtype(element) if isinstance(element, IntegerType) else np.float32
        )
    return None


def _int(op: Operation, name: str, default: int | None = None) -> int | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, IntegerAttr) else default


def _ints(a) -> list[int]:
    """The integers of a dims attribute (a dense i64 array or an array of integer attributes)."""
    values = getattr(a, "values", None)
    return [int(v) for v in values] if values is not None else [int(x.value) for x in a]


def _cut(data: np.ndarray, op: Operation, dim: int) -> list[np.ndarray]:
    sizes = [r.type.shape[dim] for r in op.results]
    bounds = np.cumsum(sizes)[:-1]
    return np.split(data, bounds, axis=dim)


def evaluate(op: Operation, data: np.ndarray) -> list[np.ndarray] | None:
    """The results of movement op `op` applied to constant `data`, or None when it is not one it folds."""
    kind = op.name.split(".", 1)[1]
    rank = data.ndim
    shapes = [r.type.shape if isinstance(r.type, TensorType) else None for r in op.results]
    if any(s is None or any(d is None or d < 0 for d in s) for s in shapes):
        return None
    if kind in _SAME_ORDER:
        return [data.reshape(shapes[0])]
    if kind == "permute":
        return [np.transpose(data, [d % rank for d in _ints(op.get_attr("dims"))])]
    if kind == "transpose":
        return [np.swapaxes(data, _int(op, "dim0") % rank, _int(op, "dim1") % rank)]
    dim = _int(op, "dim", 0) % max(rank, 1)
    if kind == "slice":
        index = [slice(None)] * rank
        index[dim] = slice(_int(op, "start"), _int(op, "end"), _int(op, "step", 1))
        return [data[tuple(index)]]
    if kind == "select":
        return [np.take(data, _int(op, "index"), axis=dim)]
    if kind in ("chunk", "split"):
        return _cut(data, op, dim)
    if kind == "unbind":
        return [np.take(data, i, axis=dim) for i in range(data.shape[dim])]
    if kind == "expand":
        return [np.broadcast_to(data, shapes[0])]
    return None


def fold_constant_views(root: Operation) -> int:
    """Fold every movement op of a constant under `root` into constants; returns how many were folded."""
    folded = 0
    for op in list(root.walk()):  # program order: a folded result is a constant for the views after it
        if op.parent is None or op.name.split(".", 1)[-1] not in _MOVEMENT or not op.name.startswith("torch."):
            continue
        if len(op.operands) != 1:  # runtime sizes (a reshape to x.shape[0]) depend on the input
            continue
        source = getattr(op.operands[0], "op", None)
        data = _data(source)
        results = evaluate(op, data) if data is not None else None
        if results is None or [tuple(r.shape) for r in results] != [tuple(r.type.shape) for r in op.results]:
            continue
        stem = source.key or source.results[0].name_hint or "constant"
        key = f"{stem}.{op.name.split('.', 1)[1]}{folded}"
        element = source.results[0].type.element_type
        element = element if isinstance(element, IntegerType) else f32
        for i, (res, value) in enumerate(zip(op.results, results)):
            t = TensorType(tuple(value.shape), element)
            name = f"{key}.{i}" if len(results) > 1 else key
            attr = DenseResourceElementsAttr.from_array(name, t, np.ascontiguousarray(value, dtype=value.dtype))
            c = tdl.ConstantOp(attr, kind="constant", location=op.location)
            c.results[0].name_hint = name
            op.parent.insert_before(op, c)
            res.replace_all_uses_with(c.results[0])
        op.erase()
        folded += 1
    return folded


@register_pass("fold-constant-views")
class FoldConstantViews(Pass):
    """Replace data movement of a constant (slice, chunk, reshape, permute, ...) by a constant, for lowering."""

    def run(self, op: Operation) -> None:
        self.statistics["folded"] += fold_constant_views(op)
