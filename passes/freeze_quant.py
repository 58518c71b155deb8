"""freeze-quant: the qat level with its learned state -> the frozen level (hl + quant QDQ pairs).

    irq-opt trained.irq -p 'builtin.module(func.func(freeze-quant))'

Input: a qat-level function whose `qat.fake_quant` ops carry their learned `scale`
(irq.freeze records them from the trained torch module, with the trained parameters, before
running this pass). Output, as docs/design.md's "The frozen level" pins it:

- each fake-quant becomes `quant.qcast` + `quant.dcast` on the value it quantized, with the
  scale in a `!quant.uniform` type (weights: `i8<-127:127>`, per axis); the pair keeps the
  fake-quant's `owner` and `slot` as attributes, so lowering and diagnostics can name it;
- batch norms fused into a conv/linear are folded into its weight and bias (irq.folding, the
  fold VALIDATION uses): the op loses its bn_* operands, the folded tensors become constants
  under the op's `<owner>.weight` / `<owner>.bias` keys; biases stay float;
- a qint32 fake-quant (high-precision output) is removed: the op's output has no qcast and is
  marked `quant.high_precision_output`, its scale being s_in * s_w;
- ops left in float keep no QDQ pair of their own.
"""

from __future__ import annotations

from irq.dialects import torch as tdl
from irq.dialects.qat import FakeQuantOp
from irq.dialects.quant import DequantizeCastOp, QuantizeCastOp, UniformQuantizedPerAxisType, UniformQuantizedType

from irq._lazy import numpy as np
from irq.ir.attributes import StringAttr, UnitAttr
from irq.ir.dense import DenseResourceElementsAttr
from irq.ir.operation import Operation
from irq.ir.types import IntegerType, TensorType, f32
from irq.ir.values import Value
from irq.transform.pass_base import Pass, register_pass

#: Attribute on a conv/linear whose output is its int32 accumulator (no output qcast).
HIGH_PRECISION_ATTR = "quant.high_precision_output"
_WEIGHTED = ("hl.conv1d", "hl.conv2d", "hl.conv_transpose2d", "hl.linear")
_BN_OPERANDS = ("bn_weight", "bn_bias", "bn_mean", "bn_var", "bn_num_batches_tracked")
_STORAGE_WIDTH = {"qint8": 8, "qint16": 16}


class FreezeError(ValueError):
    """The IR cannot be frozen (a fake-quant without a recorded scale, a constant that is not data)."""


def quantized_type(fq: FakeQuantOp, scales: list[float]) -> TensorType:
    """The `tensor<...x!quant.uniform<...>>` type of a fake-quant's value."""
    t = fq.input.type
    storage = IntegerType(_STORAGE_WIDTH[fq.dtype.value])
    weight = fq.slot.value == "weight"
    lo, hi = (-127, 127) if weight else (None, None)
    if fq.axis is not None:
        channels = t.shape[fq.axis.value]
        if len(scales) == 1:
            scales = scales * channels
        q = UniformQuantizedPerAxisType(storage, f32, scales, None, fq.axis.value, lo, hi)
    else:
        q = UniformQuantizedType(storage, f32, scales[0], 0, lo, hi)
    return TensorType(t.shape, q)


def _constant_array(v: Value | None) -> np.ndarray | None:
    """The float32 data of a constant operand (through a weight fake-quant)."""
    if v is None:
        return None
    op = getattr(v, "op", None)
    while op is not None and op.name == "qat.fake_quant":
        op = getattr(op.operands[0], "op", None)
    if op is None or op.name != "torch.constant":
        raise FreezeError("batch-norm folding needs the conv's weight and batch-norm statistics as constants")
    attr = op.value
    if isinstance(attr, DenseResourceElementsAttr):
        return np.asarray(attr.to_numpy(), dtype=np.float32)
    arr = np.asarray(attr.raw if attr.is_splat else attr.to_numpy(), dtype=np.float32)
    return np.broadcast_to(arr, attr.type.shape).copy() if attr.is_splat else arr


def _new_constant(anchor: Operation, key: str, array: np.ndarray) -> Value:
    t = TensorType(tuple(array.shape), f32)
    c = tdl.ConstantOp(DenseResourceElementsAttr.from_array(key, t, np.ascontiguousarray(array, dtype=np.float32)))
    c.results[0].name_hint = key
    anchor.parent.insert_before(anchor, c)
    return c.results[0]


def fold_op_batch_norm(op: Operation) -> bool:
    """Fold a fused batch norm into `op`'s weight and bias constants; True if there was one."""
    if op.name not in _WEIGHTED or op.bn_mean is None:
        return False
    from irq.folding import fold_batch_norm  # numpy: imported when a batch norm is folded, not at start-up
    kind = op.name.partition(".")[2]
    groups = op.get_attr("groups").value if op.get_attr("groups") is not None else 1
    w_val = op.weight
    weight_fq = w_val.owner if hasattr(w_val.owner, "name") and w_val.owner.name == "qat.fake_quant" else None
    w, b = fold_batch_norm(kind, _constant_array(w_val), _constant_array(op.bias) if op.bias is not None else None,
                           _constant_array(op.bn_weight) if op.bn_weight is not None else None,
                           _constant_array(op.bn_bias) if op.bn_bias is not None else None,
                           _constant_array(op.bn_mean), _constant_array(op.bn_var), op.bn_eps.value, groups)
    owner = op.owner.value
    anchor = weight_fq if weight_fq is not None else op
    new_w = _new_constant(anchor, f"{owner}.weight", w)
    new_b = _new_constant(anchor, f"{owner}.bias", b)
    old = [v for v in (op.weight if weight_fq is None else weight_fq.input, op.bias,
                       *(getattr(op, n) for n in _BN_OPERANDS)) if v is not None]
    if weight_fq is not None:
        weight_fq.set_operand(0, new_w)
    else:
        op.set_operand(1, new_w)
    _rebuild_without_bn(op, new_b)
    for v in old:  # drop constants nothing uses any more
        if not v.has_uses() and hasattr(v.owner, "name") and v.owner.name == "torch.constant":
            v.owner.erase()
    return True


def _rebuild_without_bn(op: Operation, bias: Value) -> None:
    """Replace `op` by the same op with `bias` and without bn operands and attributes."""
    from irq.ir.attributes import DenseArrayAttr
    from irq.ir.types import i32
    d = op.definition
    groups = [list(op.operands[s:s + n]) for s, n in d.operand_groups(op)]
    names = [n for n, _ in d.operands]
    new_groups = []
    for name, vals in zip(names, groups):
        if name == "bias":
            vals = [bias]
        elif name in _BN_OPERANDS:
            vals = []
        new_groups.append(vals)
    props = {k: v for k, v in op.properties.items() if k not in ("bn_eps", "bn_momentum", "bn_owner", "bn_training",
                                                                    "operandSegmentSizes")}
    if d.operand_segments:
        props["operandSegmentSizes"] = DenseArrayAttr(i32, [len(g) for g in new_groups])
    new = type(op).create([v for g in new_groups for v in g], [r.type for r in op.results],
                          dict(op.attributes) if op.attributes else None, props, location=op.location)
    for o, n in zip(op.results, new.results):
        n.name_hint = o.name_hint
    op.parent.insert_before(op, new)
    op.replace_all_uses_with(new.results)
    op.erase()


def freeze_fake_quant(fq: FakeQuantOp) -> None:
    """Rewrite one fake-quant into its QDQ pair (or drop a qint32 marker)."""
    x = fq.input
    if fq.dtype.value == "qint32":
        producer = x.owner if hasattr(x.owner, "name") else None
        if producer is None or producer.name not in _WEIGHTED:
            raise FreezeError(f"{fq.state_path}: a qint32 output must follow a conv or linear")
        producer.attributes[HIGH_PRECISION_ATTR] = UnitAttr()
        fq.results[0].replace_all_uses_with(x)
        fq.erase()
        return
    scale = fq.scale
    if scale is None:
        raise FreezeError(f"{fq.state_path} has no recorded scale: freeze a trained model with irq.freeze(qat_model), "
                          "which records the learned state before this pass")
    qtype = quantized_type(fq, [float(a.value) for a in scale])
    attrs = {"owner": fq.owner, "slot": fq.slot}
    q = QuantizeCastOp.create([x], [qtype], dict(attrs), location=fq.location)
    d = DequantizeCastOp.create([q.results[0]], [x.type], dict(attrs), location=fq.location)
    fq.parent.insert_before(fq, q)
    fq.parent.insert_before(fq, d)
    fq.results[0].replace_all_uses_with(d.results[0])
    fq.erase()


@register_pass("freeze-quant")
class FreezeQuant(Pass):
    """Rewrite recorded qat.fake_quant ops to quant.qcast/dcast pairs and fold fused batch norms."""

    anchor = "func.func"

    def run(self, fn: Operation) -> None:
        ops = list(fn.walk(include_self=False))
        try:
            for op in ops:
                if fold_op_batch_norm(op):
                    self.statistics["batch norms folded"] += 1
            for op in list(fn.walk(include_self=False)):
                if isinstance(op, FakeQuantOp):
                    freeze_fake_quant(op)
                    self.statistics["fake-quants frozen"] += 1
        except FreezeError as e:
            raise self.fail(str(e), fn) from None


def owner_of(op: Operation) -> str | None:
    a = op.get_attr("owner")
    return a.value if isinstance(a, StringAttr) else None
