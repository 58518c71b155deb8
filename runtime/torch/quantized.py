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

from irq.ir.operation import Operation
from irq.ir.values import BlockArgument, Value
from irq.quant.fake_quantize import FakeQuantize
from irq.quant.validation import exact


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
        if op.name == "qat.fake_quant":
            return None if op.slot.value == "weight" else op.state_path
        if is_passthrough(op) and op.operands:
            value = op.operands[0]
            continue
        return None
    return None


def output_quantizer(op: Operation) -> str | None:
    if len(op.results) != 1:
        return None
    users = [u for u in op.results[0].users if u.name == "qat.fake_quant" and u.slot.value != "weight"]
    return users[0].state_path if len(users) == 1 else None


def _module(b, path: str | None) -> fx.Node | None:
    return None if path is None else b.graph.get_attr(path)


def weight_quant_node(b, op: Operation) -> fx.Node | None:
    """The weight quantizer module of a conv/linear, as a graph node (None: weight not quantized)."""
    path = b.weight_quant.get(op.weight)
    return _module(b, path)


def wrap_exact(b, op: Operation, out: fx.Node, attrs: dict) -> fx.Node:
    """After a quantized hl op: `exact(...)` (identity outside VALIDATION)."""
    out_path = output_quantizer(op)
    if out_path is None:
        return out
    kind = op.name.partition(".")[2]
    if kind in ("conv1d", "conv2d", "conv_transpose2d", "linear"):
        params = {name: b.v(getattr(op, name)) for name in ("weight", "bias", "bn_weight", "bn_bias", "bn_mean",
                                                             "bn_var", "residual")}
        params["weight_quant"] = weight_quant_node(b, op)
        params["residual_quant"] = _module(b, quantizer_of(op.residual))
        inputs, in_fqs = [b.v(op.input)], [_module(b, quantizer_of(op.input))]
    else:
        params = None
        data = [v for v in op.operands if _is_tensor(v)]
        inputs = [b.v(v) for v in data]
        in_fqs = [_module(b, quantizer_of(v)) for v in data]
    return b.call(exact, kind, out, inputs, in_fqs, _module(b, out_path), attrs, params)


def _is_tensor(v: Value) -> bool:
    from irq.ir.types import ShapedType
    return isinstance(v.type, ShapedType)
