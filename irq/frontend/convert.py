"""An annotated torch.fx graph -> an irq module at the torch level.

Works on graphs from both front doors (symbolic tracing and torch.export): nodes
carry `irq_kind`/`irq_type` (propagate.py), `irq_scope`, `irq_module` and
`irq_loc`; a `dispatch(node)` callback says which typed ops a node becomes (or
None for `torch.call`). Parameters and buffers are emitted first, in state_dict
order, as `torch.constant dense_resource<key>` whose blob reads the tensor only
when the text is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx

from irq.dialects import func as func_d
from irq.dialects import torch as tdl
from irq.dialects.builtin import ModuleOp
from irq.dialects.torch_values import EllipsisAttr, ModuleRefAttr, OperandRefAttr, PyRefAttr, SliceAttr
from irq.frontend.errors import FrontendError, source_line
from irq.frontend.mapping import PREV, Emit, ParamRef
from irq.frontend.propagate import element_type, tensor_type
from irq.frontend.tracer import ModuleRef, has_node
from irq.frontend.wrapping import qualified_name
from irq.ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TypeAttr,
    UnitAttr,
)
from irq.ir.block import Block
from irq.ir.dense import DenseResourceElementsAttr
from irq.ir.location import UNKNOWN_LOC, FileLineColLoc, Location, NameLoc
from irq.ir.resources import Blob, ResourceHandle
from irq.ir.types import FunctionType, TensorType, f64, i64
from irq.ir.values import Value

Dispatch = Callable[[fx.Node], "list[Emit] | None"]


#: Field names of the named tuples torch returns as (values, indices): `torch.topk(x, k).values` is result 0.
_NAMED_PAIR_FIELDS = {"values": 0, "indices": 1}


def _blob(t: torch.Tensor) -> Blob:
    """A blob reading the tensor lazily (bf16 through its 16-bit pattern, numpy has no bf16)."""
    def provide() -> Any:
        x = t.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        x = x.contiguous()
        if x.dtype == torch.bfloat16:
            x = x.view(torch.int16)
        return x.numpy()
    return Blob(provider=provide, alignment=max(1, t.element_size()))


#: Modules whose functions, applied to Python numbers, compute and change nothing else,
#: and tensor queries that read only the (static) shape.
_PURE_SCALAR_MODULES = frozenset({"_operator", "operator", "math"})
_SHAPE_QUERIES = frozenset({"torch.Tensor.dim", "torch.Tensor.ndimension", "torch.Tensor.numel",
                            "torch.Tensor.size", "builtins.getattr"})


def _pure_scalar(target: str) -> bool:
    return target in _SHAPE_QUERIES or target.split(".")[0] in _PURE_SCALAR_MODULES


class _Fallback(Exception):
    """A node's arguments do not fit the typed op; keep it as torch.call."""


def target_name(node: fx.Node) -> str:
    """The qualified name a torch.call records for a node's callable."""
    t = node.target
    if node.op == "call_method":
        return f"torch.Tensor.{t}"
    if node.op == "call_module":
        return node.meta.get("irq_module_class", str(t))
    if isinstance(t, torch._ops.OpOverload):
        return f"torch.ops.{t.namespace}.{t._opname}.{t._overloadname}"
    return qualified_name(t)


class GraphConverter:
    """Builds `module { func.func @forward(...) }` from an annotated graph."""

    def __init__(self, graph: fx.Graph, dispatch: Dispatch, *, name: str | None,
                 state: dict[str, tuple[torch.Tensor, str | None]],
                 tensor_constants: dict[str, torch.Tensor] | None = None,
                 skip: set[fx.Node] | None = None, lifted: dict[fx.Node, str] | None = None,
                 state_types: dict[str, TensorType] | None = None) -> None:
        self.graph = graph
        self.dispatch = dispatch
        self.name = name
        self.state = state
        self.tensor_constants = tensor_constants or {}
        self.skip = skip or set()
        self.lifted = lifted or {}  # placeholders standing for parameters/buffers (torch.export)
        self.state_types = state_types or {}  # types of state entries, when the caller has them
        self.values: dict[fx.Node, Value | tuple[Value, ...]] = {}
        self.constants: dict[str, Value] = {}
        self.block = Block()

    # -- values --------------------------------------------------------------------------------------
    def constant(self, key: str, tensor: torch.Tensor | None = None, kind: str | None = None) -> Value:
        v = self.constants.get(key)
        if v is not None:
            return v
        if tensor is None:
            if key in self.state:
                tensor, kind = self.state[key]
            elif key in self.tensor_constants:
                tensor, kind = self.tensor_constants[key], "constant"
            else:
                raise FrontendError(f"the graph uses '{key}', which is neither a parameter, a buffer nor a constant")
        t = self.state_types.get(key) or tensor_type(tensor)
        attr = DenseResourceElementsAttr(t, ResourceHandle(key, _blob(tensor)))
        op = tdl.ConstantOp(attr, kind=kind)
        op.results[0].name_hint = key
        self.block.append(op)
        self.constants[key] = op.results[0]
        return op.results[0]

    def tied_constant(self, key: str, first: str, kind: str | None) -> Value:
        """`key` names the same tensor as the earlier state entry `first`: share its resource."""
        attr = self.constants[first].op.value
        op = tdl.ConstantOp(attr, kind=kind, tied_key=key)
        op.results[0].name_hint = key
        self.block.append(op)
        self.constants[key] = op.results[0]
        return op.results[0]

    def value(self, a: Any) -> Value:
        if isinstance(a, ParamRef):
            tensor = getattr(a, "tensor", None)  # a ConstantRef brings its tensor
            return self.constant(a.key) if tensor is None else self.constant(a.key, tensor, "constant")
        v = self.values.get(a)
        if v is None:
            raise _Fallback
        if isinstance(v, tuple):
            raise _Fallback
        return v

    def value_list(self, nodes: list) -> list[Value]:
        """Operand values of a variadic group; a node holding several values (a torch.Size) expands."""
        out: list[Value] = []
        for x in nodes:
            v = self.values.get(x) if isinstance(x, fx.Node) else None
            if isinstance(v, tuple):
                out.extend(v)
            else:
                out.append(self.value(x))
        return out

    def location(self, node: fx.Node, path: str | None) -> Location:
        loc = node.meta.get("irq_loc")
        child = FileLineColLoc(loc[0], loc[1], loc[2]) if loc else None
        if path:
            return NameLoc(path, child)
        return child if child is not None else UNKNOWN_LOC

    def result_types(self, node: fx.Node) -> list:
        t = node.meta.get("irq_type")
        return list(t) if node.meta.get("irq_kind") == "multi" else [t]

    # -- the walk ---------------------------------------------------------------------------------
    def run(self, placeholders: list[fx.Node], *, attributes: dict[str, Attribute] | None = None) -> ModuleOp:
        for p in placeholders:
            arg = self.block.add_argument(p.meta["irq_type"], name_hint=p.name)
            self.values[p] = arg
        first_key: dict[int, str] = {}  # id(tensor) -> the first state key holding it (tied parameters)
        for key, (tensor, kind) in self.state.items():
            tied_to = first_key.setdefault(id(tensor), key)
            if tied_to == key:
                self.constant(key, tensor, kind)
            else:
                self.tied_constant(key, tied_to, kind)
        for node, key in self.lifted.items():
            self.values[node] = self.constant(key)
        ret = None
        for node in self.graph.nodes:
            if node.op == "placeholder" or node in self.skip:
                continue
            if node.op == "output":
                ret = node
                break
            try:
                self.convert_node(node)
            except FrontendError as e:
                raise self.located(node, e) from e
        self.drop_dead_scalar_code()
        results, structure = self.outputs(ret)
        ret_op = func_d.ReturnOp(results)
        if structure is not None:
            ret_op.attributes["structure"] = structure
        self.block.append(ret_op)
        ftype = FunctionType([a.type for a in self.block.args], [v.type for v in results])
        fn = func_d.FuncOp("forward", ftype, declaration=True)
        fn.regions[0].add_block(self.block)
        module = ModuleOp([fn], sym_name=self.name)
        if attributes:
            module.attributes.update(attributes)
        return module

    def drop_dead_scalar_code(self) -> None:
        """Erase unused size queries and Python arithmetic on sizes (`x.shape[-1] // 2` folded into a
        slice bound leaves them without users), last to first so chains go in one sweep."""
        for op in reversed(list(self.block.ops)):
            if not isinstance(op, (tdl.SizeOp, tdl.CallOp)) or any(r.num_uses for r in op.results):
                continue
            if isinstance(op, tdl.CallOp) and (not _pure_scalar(op.target.value)
                                               or any(isinstance(r.type, TensorType) for r in op.results)):
                continue
            op.erase()

    @staticmethod
    def located(node: fx.Node, e: FrontendError) -> FrontendError:
        """`e` prefixed with the user's file:line of `node`, unless it already names one."""
        loc = node.meta.get("irq_loc")
        if e.filename is not None or not loc:
            return e
        filename, line, col = loc
        src = source_line(filename, line)
        return FrontendError(f"{filename}:{line}:{col}: {e}" + (f"\n    {src}" if src else ""),
                             filename=filename, line=line, column=col)

    def convert_node(self, node: fx.Node) -> None:
        if node.op == "get_attr":
            if node.meta.get("irq_kind") == "tensor":
                self.values[node] = self.constant(node.target)
                return
        if node.op == "call_function" and node.target is __import__("operator").getitem:
            src = node.args[0]
            if isinstance(self.values.get(src), tuple) and isinstance(node.args[1], (int, slice)):
                self.values[node] = self.values[src][node.args[1]]
                return
        if node.op == "call_function" and node.target is getattr and len(node.args) == 2:
            # torch's (values, indices) named tuples (topk, sort, max/min/median/mode/kthvalue over a dim)
            src, field = node.args
            pair = self.values.get(src)
            if isinstance(pair, tuple) and len(pair) == 2 and field in _NAMED_PAIR_FIELDS:
                self.values[node] = pair[_NAMED_PAIR_FIELDS[field]]
                return
        if self.size_op(node):
            return
        emits = self.dispatch(node)
        if emits:
            try:
                self.emit_typed(node, emits)
                return
            except _Fallback:
                pass
        self.emit_call(node)

    def common_attrs(self, node: fx.Node) -> tuple[dict, str | None]:
        module = node.meta.get("irq_module") or (node.target if node.op == "call_module" else None)
        attrs: dict[str, Any] = {}
        if module is not None:
            attrs["module"] = module
            path = module
        else:
            scope = node.meta.get("irq_scope") or ""
            if scope:
                attrs["scope"] = scope
            path = scope
        return attrs, path

    def _set_results(self, node: fx.Node, op) -> None:
        if node.meta.get("irq_kind") == "multi":
            self.values[node] = tuple(op.results)
        else:
            self.values[node] = op.results[0]

    def emit_typed(self, node: fx.Node, emits: list[Emit]) -> None:
        common, path = self.common_attrs(node)
        loc = self.location(node, path)
        built = []
        prev: Value | None = None
        earlier: dict[int, Value] = {}  # an earlier Emit of the chain, as an operand: its result
        for i, e in enumerate(emits):
            cls = tdl.OPS[e.spec]
            kw: dict[str, Any] = {}
            for oname, _ in cls.definition.operands:
                v = e.operands.get(oname)
                if v is PREV or (oname == "input" and v is None and prev is not None):
                    kw[oname] = prev
                elif isinstance(v, Emit):
                    kw[oname] = earlier[id(v)]
                elif isinstance(v, list):
                    kw[oname] = self.value_list(v)
                elif v is not None:
                    kw[oname] = self.value(v)
            for k, v in e.attrs.items():
                if v is None:
                    continue
                if not isinstance(v, Attribute) and has_node(v):
                    raise _Fallback
                kw[k] = v
            last = i == len(emits) - 1
            types = self.result_types(node) if last else [kw["input"].type]
            op = cls(**kw, **common, result_types=types, location=loc)
            if not last:  # an intermediate op (a conv's explicit padding): its shape from the op's rule
                shape = cls.spec.shape(op)[0]
                op.results[0].type = TensorType(shape, types[0].element_type)
            if node.meta.get("irq_fused"):
                op.attributes["fused_group"] = StringAttr(node.meta["irq_fused"])
            built.append(op)
            prev = earlier[id(e)] = op.results[0]
        for op in built:
            self.block.append(op)
        self._set_results(node, built[-1])

    def size_op(self, node: fx.Node) -> bool:
        """x.size(), x.size(d), x.shape, x.dim() (and torch.export's aten.sym_size.int(x, d)): sizes as i64 values."""
        t = node.target
        if node.op == "call_method" and t == "size" and len(node.args) <= 2 and not node.kwargs:
            dim = node.args[1] if len(node.args) == 2 else None
        elif node.op == "call_function" and t is torch.ops.aten.sym_size.int and len(node.args) == 2:
            dim = node.args[1]
        elif node.op == "call_function" and t is getattr and node.args[1:] == ("shape",):
            dim = None
        else:
            return False
        x = self.values.get(node.args[0])
        if not isinstance(x, Value) or not isinstance(x.type, TensorType) or isinstance(dim, fx.Node):
            return False
        common, path = self.common_attrs(node)
        n = 1 if dim is not None else x.type.rank
        op = tdl.SizeOp(x, dim=dim, **common, result_types=[i64] * n, location=self.location(node, path))
        self.block.append(op)
        self.values[node] = op.results[0] if dim is not None else tuple(op.results)
        return True

    def emit_call(self, node: fx.Node) -> None:
        operands: list[Value] = []
        index: dict[int, int] = {}

        def ref(v: Value) -> OperandRefAttr:
            i = index.get(id(v))
            if i is None:
                i = index[id(v)] = len(operands)
                operands.append(v)
            return OperandRefAttr(i)

        def enc(a: Any) -> Attribute:
            if isinstance(a, fx.Node):
                v = self.values.get(a)
                if v is None:
                    raise FrontendError(f"internal error: node '{a.name}' has no value")
                if isinstance(v, tuple):
                    return ArrayAttr(ref(x) for x in v)
                return ref(v)
            return encode_literal(a, enc)

        args = list(node.args)
        if node.op == "call_module":
            common, path = self.common_attrs(node)
        else:
            common, path = self.common_attrs(node)
        attrs: dict[str, Any] = {"args": ArrayAttr(enc(a) for a in args)}
        if node.kwargs:
            attrs["kwargs"] = DictionaryAttr({k: enc(v) for k, v in node.kwargs.items()})
        types = self.result_types(node)
        if node.meta.get("irq_kind") == "multi":
            attrs["results_kind"] = node.meta.get("irq_multi_kind", "tuple")
        op = tdl.CallOp(operands, target=target_name(node), **attrs, **common, result_types=types,
                        location=self.location(node, path))
        self.block.append(op)
        self._set_results(node, op)

    def outputs(self, ret: fx.Node | None) -> tuple[list[Value], Attribute | None]:
        if ret is None:
            return [], None
        out = ret.args[0]
        values: list[Value] = []

        def enc(a: Any) -> Attribute:
            if isinstance(a, fx.Node):
                v = self.values.get(a)
                if isinstance(v, tuple):
                    return ArrayAttr(enc_value(x) for x in v)
                return enc_value(v)
            return encode_literal(a, enc)

        def enc_value(v: Value) -> OperandRefAttr:
            # one operand per occurrence, even of a value returned twice (`return y, y`): the runtimes return
            # the return's operands as the flat outputs, so a shared operand made them return one array where
            # the model returns two (found by tests/test_chain_fuzz.py)
            values.append(v)
            return OperandRefAttr(len(values) - 1)

        structure = enc(out)
        if isinstance(structure, OperandRefAttr) and structure.index == 0:
            return values, None
        return values, structure



def encode_literal(a: Any, enc: Callable[[Any], Attribute]) -> Attribute:
    """A Python argument value as an attribute (see dialects/torch_values.py for the spelling)."""
    if a is None:
        return UnitAttr()
    if isinstance(a, bool):
        return BoolAttr(a)
    if isinstance(a, int):
        return IntegerAttr(a, i64)
    if isinstance(a, float):
        return FloatAttr(a, f64)
    if isinstance(a, str):
        return StringAttr(a)
    if isinstance(a, (list, tuple)):
        return ArrayAttr(enc(x) for x in a)
    if isinstance(a, dict):
        if not all(isinstance(k, str) for k in a):
            raise FrontendError(f"cannot record a dict with non-string keys as an argument: {a!r}")
        return DictionaryAttr({k: enc(v) for k, v in a.items()})
    if isinstance(a, slice):
        if any(x is not None and not isinstance(x, int) for x in (a.start, a.stop, a.step)):
            raise FrontendError(f"cannot record slice {a!r} with non-constant bounds; wrap the code in irq.wrap")
        return SliceAttr(a.start, a.stop, a.step)
    if a is Ellipsis:
        return EllipsisAttr()
    if isinstance(a, torch.dtype):
        return TypeAttr(element_type(a))
    if isinstance(a, torch.device):
        return StringAttr(str(a))
    if isinstance(a, ModuleRef):
        return ModuleRefAttr(a.path)
    if isinstance(a, (torch.memory_format, torch.layout)):
        return PyRefAttr(str(a))
    if callable(a) and getattr(a, "__qualname__", None):
        return PyRefAttr(qualified_name(a))
    raise FrontendError(f"cannot record an argument of type {type(a).__name__} ({a!r}); "
                        "wrap the code using it in a function decorated with irq.wrap")
