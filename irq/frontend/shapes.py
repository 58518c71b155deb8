"""Static shape inference: annotate a traced graph without running the model.

propagate.py runs the traced graph once on the example inputs, which costs a full
forward pass (most of an import of a 224x224 MobileNetV2). Most nodes do not need it:
a node that becomes a typed torch-dialect op gets its result type from the op's own
shape rule (dialects/_shapes.py, the rules the verifier checks) applied to its
operands' types, and Python-level code on sizes (`x.size(2) * 2`, `x.shape[-2:]`) is
evaluated on the concrete values the types give.

`infer_shapes` annotates every node exactly as `propagate` would (kinds, types,
ranks, sizes; a test compares the two on the model zoo) and raises `NeedsRealRun`
at the first node it cannot type: an opaque call (`torch.call`, irq.wrap'd code, a
leaf module), an op without a rule, mixed dtypes it does not promote itself, a value
computed from tensor data. The importer then falls back to running the graph.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import fx, nn

from irq.dialects._opspec import ShapeError
from irq.dialects._tensor_specs import SPECS
from irq.dialects.torch_values import OperandRefAttr
from irq.frontend.mapping import PREV, Emit, ParamRef
from irq.frontend.propagate import annotate, element_type, tensor_type
from irq.frontend.tracer import argument_loader, has_node
from irq.ir.attributes import ArrayAttr, Attribute, IntegerAttr
from irq.ir.types import FloatType, IntegerType, ShapedType, TensorType, Type, i1, i64


class NeedsRealRun(Exception):
    """A node static inference cannot type; the importer runs the graph instead."""


class _Typed:
    """A stand-in operand: only its type matters to the shape rules."""

    __slots__ = ("type",)

    def __init__(self, t: Type) -> None:
        self.type = t


class _View:
    """What a shape rule reads of an op: operands, attributes and the optional `bias`."""

    __slots__ = ("operands", "attrs", "bias")

    def __init__(self, operands: list[_Typed], attrs: dict[str, Attribute], bias: _Typed | None) -> None:
        self.operands = operands
        self.attrs = attrs
        self.bias = bias

    def get_attr(self, name: str) -> Attribute | None:
        return self.attrs.get(name)


_NO = object()
_TYPED = object()  # _query typed the node itself (an element of a tuple of tensors)
#: Tensor methods and attributes whose value the static type gives.
_SIZE_METHODS = {"size", "dim", "ndimension", "numel"}
_SIZE_ATTRS = {"shape", "ndim", "dtype"}
_SCALAR_ARITH = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
                 operator.imul, operator.itruediv, torch.add, torch.sub, torch.mul, torch.div}


def infer_shapes(root: nn.Module, graph: fx.Graph, inputs: dict[fx.Node, Any], dispatch,
                 param_types: dict[str, TensorType]) -> None:
    """Annotate every node of `graph` like propagate() does; raise NeedsRealRun where it cannot.

    `param_types`: the type of every parameter and buffer by state_dict key.
    """
    values: dict[fx.Node, Any] = {}   # nodes with a concrete Python value (incl. real input/attr tensors)
    memo: dict = {}

    load = argument_loader(root, values)

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for node in graph.nodes:
            op = node.op
            if op == "placeholder":
                v = inputs[node]
            elif op == "get_attr":
                v = root
                for part in node.target.split("."):
                    v = getattr(v, part)
            elif op == "output":
                continue
            elif _all_concrete(node, values):
                v = _run(node, root, load)
            else:
                v = _query(node, values)
                if v is _TYPED:
                    continue
                if v is _NO:
                    _infer_tensor_node(node, dispatch, values, param_types, memo)
                    continue
            values[node] = v
            annotate(node, v)


def _all_concrete(node: fx.Node, values: dict) -> bool:
    """Every input has a concrete value and none is a tensor: plain Python to evaluate."""
    for a in node.all_input_nodes:
        if a not in values:
            return False
        v = values[a]
        if isinstance(v, torch.Tensor) or (isinstance(v, (list, tuple)) and any(isinstance(x, torch.Tensor)
                                                                                for x in v)):
            return False
    return True


def _run(node: fx.Node, root: nn.Module, load) -> Any:
    if node.op == "call_function":
        return node.target(*load(node.args), **load(node.kwargs))
    if node.op == "call_method":
        self_obj, *rest = load(node.args)
        return getattr(self_obj, node.target)(*rest, **load(node.kwargs))
    return root.get_submodule(node.target)(*load(node.args), **load(node.kwargs))


def _static_shape(node: Any) -> tuple[int, ...] | None:
    if isinstance(node, fx.Node) and node.meta.get("irq_kind") == "tensor":
        t = node.meta["irq_type"]
        if isinstance(t, ShapedType) and t.has_static_shape:
            return tuple(t.shape)
    return None


def _query(node: fx.Node, values: dict) -> Any:
    """The value of a size/shape/dtype question about a tensor, or of indexing a tuple of tensors."""
    args = node.args
    if not args:
        return _NO
    x = args[0]
    shape = _static_shape(x)
    if node.op == "call_method" and node.target in _SIZE_METHODS and shape is not None:
        rest = list(args[1:]) + list(node.kwargs.values())
        if any(isinstance(r, fx.Node) for r in rest):
            return _NO
        if node.target == "size":
            return torch.Size(shape) if not rest else shape[rest[0]]
        if node.target == "numel":
            return math.prod(shape)
        return len(shape)
    if node.op == "call_function" and node.target is getattr and shape is not None and args[1] in _SIZE_ATTRS:
        if args[1] == "shape":
            return torch.Size(shape)
        if args[1] == "ndim":
            return len(shape)
        from irq.frontend.propagate import torch_dtype
        return torch_dtype(x.meta["irq_type"].element_type)
    if node.op == "call_function" and node.target in _SCALAR_ARITH and len(args) == 2 and not node.kwargs:
        # tensor (op) a Python number computed in the graph (`att / math.sqrt(d)`): kept as torch.call,
        # typed like the tensor when it is floating point
        a, b = args
        t = a if _static_shape(a) is not None else b if _static_shape(b) is not None else None
        other = b if t is a else a
        if t is not None and isinstance(other, fx.Node) and isinstance(values.get(other), (int, float)) \
                and not isinstance(values.get(other), bool) and isinstance(t.meta["irq_type"].element_type, FloatType):
            tt = t.meta["irq_type"]
            node.meta.update(irq_kind="tensor", irq_type=tt, irq_multi_kind="tuple", irq_rank=len(tt.shape))
            return _TYPED
    if node.op == "call_function" and node.target is operator.getitem and isinstance(x, fx.Node) \
            and x.meta.get("irq_kind") == "multi" and x not in values and isinstance(args[1], int):
        types = x.meta["irq_type"]
        if not -len(types) <= args[1] < len(types):
            raise NeedsRealRun(node)
        t = types[args[1]]
        node.meta.update(irq_kind="tensor", irq_type=t, irq_multi_kind="tuple", irq_rank=len(t.shape))
        return _TYPED
    return _NO


def _operand_type(v: Any, param_types: dict[str, TensorType]) -> Type:
    if isinstance(v, ParamRef):
        t = param_types.get(v.key)
        if t is None and getattr(v, "tensor", None) is not None:  # a ConstantRef: the handler's own tensor
            t = tensor_type(v.tensor)
        if t is not None:
            return t
    elif isinstance(v, fx.Node):
        kind = v.meta.get("irq_kind")
        if kind in ("tensor", "int", "float", "bool"):
            return v.meta["irq_type"]
    raise NeedsRealRun(v)


def _operand_items(v: Any, values: dict, param_types: dict) -> list[tuple[Type, Any]]:
    """(type, concrete value or None) per operand value; a torch.Size node expands to its sizes."""
    if isinstance(v, fx.Node) and v.meta.get("irq_kind") == "multi":
        types = v.meta["irq_type"]
        if types and all(isinstance(t, ShapedType) for t in types):  # a tuple of tensors (x.chunk(2) into cat)
            return [(t, None) for t in types]
        if v not in values:
            raise NeedsRealRun(v)
        return [(i64, int(s)) for s in values[v]]
    return [(_operand_type(v, param_types), values.get(v) if isinstance(v, fx.Node) else None)]


def _substitute(a: Attribute, concrete: list) -> Attribute:
    """Operand references (#torch.operand<i>) in size attributes replaced by the sizes' values."""
    if isinstance(a, OperandRefAttr):
        v = concrete[a.index] if a.index < len(concrete) else None
        if not isinstance(v, int):
            raise NeedsRealRun(a)
        return IntegerAttr(v, i64)
    if isinstance(a, ArrayAttr) and any(isinstance(x, (OperandRefAttr, ArrayAttr)) for x in a):
        return ArrayAttr(_substitute(x, concrete) for x in a)
    return a



def _freeze(v: Any) -> Any:
    """A hashable key for an Emit attribute value (lists -> tuples); TypeError if it cannot be one."""
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, fx.Node):
        raise TypeError("a traced value")
    hash(v)
    return (type(v), v)


def _infer_tensor_node(node: fx.Node, dispatch, values: dict, param_types: dict, memo: dict) -> None:
    emits = dispatch(node)
    if not emits:
        raise NeedsRealRun(node)
    prev: Type | None = None
    types: list[TensorType] = []
    multi = False
    earlier: dict[int, Type] = {}  # an earlier Emit of the chain, as an operand: its result's type
    for e in emits:
        types, multi = _emit_types(e, prev, values, param_types, memo, earlier)
        prev = earlier[id(e)] = types[0]
    node.meta["irq_emits"] = emits
    if multi:
        node.meta.update(irq_kind="multi", irq_type=list(types), irq_multi_kind="tuple")
    else:
        node.meta.update(irq_kind="tensor", irq_type=types[0], irq_multi_kind="tuple", irq_rank=len(types[0].shape))


def _emit_types(e: Emit, prev: Type | None, values: dict, param_types: dict,
                memo: dict, earlier: dict[int, Type]) -> tuple[list[TensorType], bool]:
    """Result types of one typed op. Repeated blocks ask the same question again and again, so the
    answer (with the coerced attributes, which the converter reuses) is memoized by the question:
    op, operand types and concrete sizes, attributes."""
    spec = SPECS[e.spec]
    names: list[str] = []
    bias_at = -1
    types: list[Type] = []
    concrete: list = []
    for oname, _kind in spec.operands:
        v = e.operands.get(oname)
        if v is PREV or (oname == "input" and v is None and prev is not None):
            items = [(prev, None)]
        elif isinstance(v, Emit):
            items = [(earlier[id(v)], None)]
        elif isinstance(v, list):
            items = [it for x in v for it in _operand_items(x, values, param_types)]
        elif v is not None:
            items = _operand_items(v, values, param_types)
        else:
            continue
        names.append(oname)
        if oname == "bias":
            bias_at = len(types)
        for t, value in items:
            types.append(t)
            concrete.append(value)
    try:
        key = (e.spec, tuple(names), tuple(types), tuple(concrete),
               tuple((k, _freeze(v)) for k, v in e.attrs.items() if v is not None))
    except TypeError:
        key = None
    hit = memo.get(key) if key is not None else None
    if hit is not None:
        attrs, result, multi = hit
        e.attrs.update(attrs)
        return result, multi
    coerced: dict[str, Attribute] = {}
    attrs: dict[str, Attribute] = {}
    for aname, akind, _optional in spec.attrs:
        val = e.attrs.get(aname)
        if val is None:
            continue
        if not isinstance(val, Attribute):
            if key is None and has_node(val):  # a key was built: no traced value in the attributes
                raise NeedsRealRun(e)
            val = akind.coerce(val)
        coerced[aname] = val
        attrs[aname] = _substitute(val, concrete)
    e.attrs.update(coerced)  # the converter builds the op from the same attributes
    if spec.shape is None:
        raise NeedsRealRun(e)
    operands = [_Typed(t) for t in types]
    bias = operands[bias_at] if bias_at >= 0 else None
    try:
        shapes = spec.shape(_View(operands, attrs, bias))
    except (ShapeError, IndexError, TypeError, ValueError, ZeroDivisionError):
        raise NeedsRealRun(e) from None
    if shapes is None or any(s is None for s in shapes):
        raise NeedsRealRun(e)
    et = _element_type(spec, operands, attrs)
    result = [TensorType(tuple(s), i64 if i in spec.index_results else et) for i, s in enumerate(shapes)]
    if key is not None:
        memo[key] = (coerced, result, spec.variadic_results)
    return result, spec.variadic_results


def _default_float() -> Type:
    return element_type(torch.get_default_dtype())


def _element_type(spec, operands: list[_Typed], attrs: dict) -> Type:
    """The result element type, where torch's promotion is unambiguous; else NeedsRealRun."""
    tensors = [o.type for o in operands if isinstance(o.type, ShapedType)]
    if not tensors:
        raise NeedsRealRun(spec.name)
    first = tensors[0].element_type
    if spec.same_element_type:
        return first
    name = spec.name
    if name in ("zeros_like", "ones_like", "full_like"):
        dtype = attrs.get("dtype")
        return dtype.value if dtype is not None else first
    if name in ("compare", "compare_scalar", "logical"):  # issue 12: a comparison is a boolean mask
        return i1
    if name == "where":
        tensors = tensors[1:]
        first = tensors[0].element_type
    if name == "where_scalar":  # a float number keeps a float tensor's type; other mixes: let torch decide
        if isinstance(tensors[1].element_type, FloatType):
            return tensors[1].element_type
        raise NeedsRealRun(name)
    if name == "cumsum":
        return first if isinstance(first, FloatType) else i64
    if name == "embedding":
        return tensors[1].element_type
    kinds = {t.element_type for t in tensors}
    if name in ("add", "sub", "mul", "div", "matmul", "cat", "stack", "where", "maximum", "minimum"):
        if len(kinds) != 1:
            raise NeedsRealRun(name)  # mixed dtypes (and 0-dim promotion rules): let torch decide
        if name == "div" and isinstance(first, IntegerType) and attrs.get("rounding_mode") is None:
            return _default_float()
        return first
    if name.endswith("_scalar"):
        if isinstance(first, FloatType):
            return first
        raise NeedsRealRun(name)
    if name == "sum":
        return first if isinstance(first, FloatType) else i64
    raise NeedsRealRun(name)
