"""The torch executor's part for the qat level: qat.fake_quant ops as FakeQuantize modules, and the
hook that makes each quantized hl op integer-exact in VALIDATION (irq.quant.validation).

Each `qat.fake_quant` becomes a FakeQuantize submodule at `<owner>.<slot>_quant`, so the
generated module keeps the original hierarchy and `qat_model.layer1.eval()` reaches the
quantizers of layer1 only. A weight fake-quant is not called on the raw weight: the conv/linear
that uses it receives the module and applies it to the weight the chip will hold (with the batch
norm folded in). After every quantized hl op the graph calls `validation.exact`, which returns
the float result unchanged unless the op's output quantizer is in VALIDATION.
"""

from __future__ import annotations

from typing import Any

from irq.passes.quant_annotate import is_passthrough
from torch import fx

from irq.diagnostics import location_prefix
from irq.ir.operation import Operation
from irq.ir.values import BlockArgument, Value
from irq.quant.fake_quantize import FakeQuantize
from irq.quant.validation import exact
from irq.quant.validation_select import COMPARISONS, compare_exact


def make_fake_quantize(op: Operation) -> FakeQuantize:
    """The FakeQuantize module for a qat.fake_quant op (channels from the value's static shape)."""
    axis = op.axis.value if op.axis is not None else None
    channels = None
    if axis is not None:
        shape = op.input.type.shape
        if shape is None or shape[axis] is None or shape[axis] < 0:
            raise ValueError(f"{op.state_path}: per-channel quantization needs a static size on axis {axis}")
        channels = shape[axis]

    def f(name: str) -> Any:
        a = op.get_attr(name)
        return None if a is None else a.value

    return FakeQuantize(owner=op.owner.value, slot=op.slot.value, dtype=op.dtype.value, observer=op.observer.value,
                        qscheme=op.qscheme.value, axis=axis, channels=channels,
                        averaging_constant=f("averaging_constant") or 0.01, fixed_scale=f("fixed_scale"),
                        percentile=f("percentile") or 99.99, clip=f("clip"), learnable=op.get_attr("learnable")
                        is not None)


def emit_fake_quant(b, op: Operation) -> None:
    """Register the module; weights: remember it for the consumer, outputs: call it in the graph."""
    from irq.runtime.torch.builder import _ensure_parent
    path = op.state_path
    fq = b.root.get_submodule(path) if _has_submodule(b.root, path) else None
    if fq is None:
        fq = make_fake_quantize(op)
        parent, leaf = _ensure_parent(b.root, path)
        parent.add_module(leaf, fq)
    x = b.v(op.input)
    if op.slot.value == "weight":
        b.nodes[op.results[0]] = x
        b.weight_quant[op.results[0]] = path
        return
    b.nodes[op.results[0]] = b.graph.call_module(path, (x,))


def emit_qdq(b, op: Operation) -> None:
    """The frozen level: a quant.qcast is a fixed-scale quantizer in VALIDATION (exact rounding), its
    quant.dcast the identity on the dequantized value; weights reach their conv/linear as at the qat level."""
    from irq.runtime.torch.builder import _ensure_parent
    x = b.v(op.operands[0])
    if op.name == "quant.dcast":
        b.nodes[op.results[0]] = x
        src = op.operands[0]
        path = b.weight_quant.get(src)
        if path is not None:
            b.weight_quant[op.results[0]] = path
        return
    path = state_path(op)
    if path is None:
        raise ValueError(f"{op.name} needs 'owner' and 'slot' attributes to run in the torch executor")
    if not _has_submodule(b.root, path):
        parent, leaf = _ensure_parent(b.root, path)
        parent.add_module(leaf, frozen_quantizer(op))
    if op.get_attr("slot").value == "weight":
        b.nodes[op.results[0]] = x
        b.weight_quant[op.results[0]] = path
        return
    b.nodes[op.results[0]] = b.graph.call_module(path, (x,))


def frozen_quantizer(op: Operation) -> FakeQuantize:
    """A FakeQuantize fixed at the scale(s) of a qcast's `!quant.uniform` type, in VALIDATION."""
    import torch
    from irq.dialects.quant import UniformQuantizedPerAxisType

    from irq.quant.fake_quantize import FakeQuantState
    q = op.results[0].type.element_type
    per_axis = isinstance(q, UniformQuantizedPerAxisType)
    scales = list(q.scales) if per_axis else [q.scale]
    dtype = {8: "qint8", 16: "qint16"}[q.storage_type.width]
    fq = FakeQuantize(owner=op.get_attr("owner").value, slot=op.get_attr("slot").value, dtype=dtype,
                      observer="fixed", qscheme="per_channel" if per_axis else "per_tensor",
                      axis=q.axis if per_axis else None, channels=len(scales) if per_axis else None, fixed_scale=1.0)
    with torch.no_grad():
        fq.scale.copy_(torch.tensor(scales if per_axis else scales[0], dtype=torch.float32))
    fq.state = FakeQuantState.VALIDATION
    return fq


def high_precision_marker(b, op: Operation) -> str:
    """A qint32 marker quantizer for a frozen conv/linear marked quant.high_precision_output."""
    from irq.runtime.torch.builder import _ensure_parent

    from irq.quant.fake_quantize import FakeQuantState
    path = f"{op.get_attr('owner').value}.out_quant"
    if not _has_submodule(b.root, path):
        fq = FakeQuantize(owner=op.get_attr("owner").value, slot="out", dtype="qint32", observer="fixed",
                          qscheme="per_tensor", fixed_scale=1.0)
        fq.state = FakeQuantState.VALIDATION
        parent, leaf = _ensure_parent(b.root, path)
        parent.add_module(leaf, fq)
    return path


def state_path(op: Operation) -> str | None:
    """`<owner>.<slot>_quant` of a qat.fake_quant or of a frozen quant.qcast/dcast."""
    owner, slot = op.get_attr("owner"), op.get_attr("slot")
    if owner is None or slot is None:
        return None
    return f"{owner.value}.{slot.value}_quant" if owner.value else f"{slot.value}_quant"


def _has_submodule(root, path: str) -> bool:
    try:
        root.get_submodule(path)
        return True
    except AttributeError:
        return False


def quantizer_of(value: Value | None) -> str | None:
    """The state path of the quantizer that defines `value`'s scale (through data movement)."""
    while value is not None:
        if isinstance(value, BlockArgument):
            return None
        op = value.owner
        if op.name == "quant.dcast":
            op = op.operands[0].owner
        if op.name in ("qat.fake_quant", "quant.qcast"):
            return None if op.get_attr("slot").value == "weight" else state_path(op)
        if is_passthrough(op) and op.operands:
            value = op.operands[0]
            continue
        return None
    return None


def output_quantizer(op: Operation) -> str | None:
    if len(op.results) != 1:
        return None
    users = [u for u in op.results[0].users if u.name in ("qat.fake_quant", "quant.qcast")
             and u.get_attr("slot") is not None and u.get_attr("slot").value != "weight"]
    return state_path(users[0]) if len(users) == 1 else None


def _module(b, path: str | None) -> fx.Node | None:
    return None if path is None else b.graph.get_attr(path)


def weight_quant_node(b, op: Operation) -> fx.Node | None:
    """The weight quantizer module of a conv/linear, as a graph node (None: weight not quantized)."""
    path = b.weight_quant.get(op.weight)
    return _module(b, path)


#: hl ops whose constant operands VALIDATION reads as parameters (irq.quant.validation)
_PARAMETERS = {"layer_norm": ("weight", "bias"), "batch_norm": ("weight", "bias", "running_mean", "running_var"),
               "prelu": ("weight",), "group_norm": ("weight", "bias"),
               "instance_norm": ("weight", "bias", "running_mean", "running_var")}


def wrap_exact(b, op: Operation, out: fx.Node, attrs: dict) -> fx.Node:
    """After a quantized hl op: `exact(...)` (identity outside VALIDATION)."""
    kind = op.name.partition(".")[2]
    if kind in COMPARISONS:  # a mask has no output quantizer: the integer comparison of its operands' codes
        data = [v for v in op.operands if _is_tensor(v)]
        return b.call(compare_exact, kind, out, [b.v(v) for v in data], [_module(b, quantizer_of(v)) for v in data],
                      attrs, location_prefix(op.location))
    out_path = output_quantizer(op)
    if out_path is None and op.attributes.get("quant.high_precision_output") is not None:
        out_path = high_precision_marker(b, op)
    if out_path is None:
        return out
    kind = op.name.partition(".")[2]
    if kind in ("conv1d", "conv2d", "conv_transpose2d", "linear"):
        params = {name: b.v(getattr(op, name)) for name in ("weight", "bias", "bn_weight", "bn_bias", "bn_mean",
                                                             "bn_var", "residual")}
        params["weight_quant"] = weight_quant_node(b, op)
        params["residual_quant"] = _module(b, quantizer_of(op.residual))
        inputs, in_fqs = [b.v(op.input)], [_module(b, quantizer_of(op.input))]
    elif kind == "embedding":  # the table is a parameter (int8 codes at the weight quantizer's scales)
        table = op.operands[1]
        params = {"weight": b.v(table), "weight_quant": _module(b, b.weight_quant.get(table))}
        inputs, in_fqs = [b.v(op.operands[0])], []
    elif kind in _PARAMETERS:  # gamma/beta, slopes, statistics: parameters lower-bpu quantizes, not data
        params = {name: None if getattr(op, name) is None else b.v(getattr(op, name)) for name in _PARAMETERS[kind]}
        inputs, in_fqs = [b.v(op.input)], [_module(b, quantizer_of(op.input))]
    else:
        params = None
        data = [v for v in op.operands if _is_tensor(v)]
        inputs = [b.v(v) for v in data]
        in_fqs = [_module(b, quantizer_of(v)) for v in data]
    return b.call(exact, kind, out, inputs, in_fqs, _module(b, out_path), attrs, params, location_prefix(op.location))


def _is_tensor(v: Value) -> bool:
    from irq.ir.types import ShapedType
    return isinstance(v.type, ShapedType)
