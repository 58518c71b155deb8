"""Generate a torch.fx.GraphModule from a torch- or hl-level irq module.

The result is an ordinary nn.Module: every `torch.constant` with a resource key
becomes a parameter or buffer at its original state_dict path (submodules are
recreated as plain nn.Modules so "layer1.0.conv1.weight" is the same key), and the
graph calls torch functions on them. It trains with autograd, moves with `.to()`,
wraps in DistributedDataParallel, and uses no TorchScript. Batch norm and dropout
follow the module's train()/eval() mode unless the IR fixed `training`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from irq.dialects.torch_values import EllipsisAttr, ModuleRefAttr, OperandRefAttr, PyRefAttr, SliceAttr
from irq.runtime.torch import functions as fns
from irq.runtime.torch.resolve import resolve
from torch import fx, nn

from irq.batch_fixed import (
    CONSTANT_INPUTS_ATTR,
    BatchCheck,
    ConstantInputCheck,
    SizeCheck,
    export_sizes_fixed,
    fixed_batch,
)
from irq.diagnostics import location_prefix
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
from irq.ir.dense import DenseResourceElementsAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, TensorType
from irq.ir.values import Value


class UnsupportedOpError(ValueError):
    """The IR holds an op the torch executor cannot run (a lower level, or another dialect)."""

_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "f64": torch.float64}


def _torch_dtype(t) -> torch.dtype:
    from irq.frontend.propagate import torch_dtype
    return torch_dtype(t)


def _tensor(attr: Attribute) -> torch.Tensor:
    """A fresh tensor holding a constant's value: to_numpy() (dense, splat or resource) gives it in the IR type's
    dtype, bf16 widened to float32, which narrows back exactly."""
    t: TensorType = attr.type
    et = t.element_type
    out = torch.from_numpy(np.array(attr.to_numpy(), order="C").reshape(t.shape))
    return out.to(torch.bfloat16) if isinstance(et, FloatType) and et.kind == "bf16" else out


def _ensure_parent(root: nn.Module, path: str) -> tuple[nn.Module, str]:
    *parents, leaf = path.split(".")
    m = root
    for p in parents:
        child = m._modules.get(p)
        if child is None:
            child = nn.Module()
            m.add_module(p, child)
        m = child
    return m, leaf


class _Builder:
    def __init__(self, modules: dict[str, nn.Module], callables: dict[str, Any]) -> None:
        self.root = nn.Module()
        self.graph = fx.Graph()
        self.modules = modules
        self.callables = callables
        self.nodes: dict[Value, Any] = {}
        self._training: fx.Node | None = None
        self._const = 0
        self.non_persistent: list[str] = []
        self._state_tensors: dict[str, torch.Tensor] = {}  # resource key -> the tensor registered for it
        self._opaque_paths = sorted(modules, key=len, reverse=True)
        self.weight_quant: dict[Value, str] = {}  # qat level: weight value -> its FakeQuantize path
        self.quantized = False  # the module holds qat.fake_quant ops
        for path, m in modules.items():
            if path:
                parent, leaf = _ensure_parent(self.root, path)
                parent.add_module(leaf, m)

    # -- state ------------------------------------------------------------------------------
    def constant(self, op: Operation) -> Any:
        attr = op.get_attr("value")
        kind = op.get_attr("kind")
        kind = kind.value if isinstance(kind, StringAttr) else None
        if isinstance(attr, DenseResourceElementsAttr):
            key = op.key  # the state_dict key (a tied entry names its own; the data is attr.key's)
            if any(key.startswith(p + ".") for p in self._opaque_paths if p):
                return self.graph.get_attr(key)  # state of a module the caller supplied
            # one tensor object per resource, so tied keys share one Parameter, as in the original
            t = self._state_tensors.get(attr.key)
            if t is None:
                t = _tensor(attr)
                if kind is None:
                    t = nn.Parameter(t, requires_grad=t.is_floating_point())
                self._state_tensors[attr.key] = t
            parent, leaf = _ensure_parent(self.root, key)
            if isinstance(t, nn.Parameter):
                parent.register_parameter(leaf, t)
            else:
                parent.register_buffer(leaf, t, persistent=kind == "buffer")
                if kind != "buffer":
                    self.non_persistent.append(key)
            return self.graph.get_attr(key)
        name = f"_irq_constant{self._const}"
        self._const += 1
        self.root.register_buffer(name, _tensor(attr), persistent=False)
        self.non_persistent.append(name)
        return self.graph.get_attr(name)

    def training(self) -> fx.Node:
        if self._training is None:
            self._training = self.graph.get_attr("training")
        return self._training

    # -- values -------------------------------------------------------------------------------
    def v(self, value: Value | None) -> Any:
        return None if value is None else self.nodes[value]

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> fx.Node:
        return self.graph.call_function(fn, tuple(args), kwargs)

    def decode(self, a: Attribute | None, operands: tuple) -> Any:
        """An attribute back to the Python value it spelled (operand refs -> graph nodes)."""
        if a is None or isinstance(a, UnitAttr):
            return None
        if isinstance(a, BoolAttr):
            return a.value
        if isinstance(a, IntegerAttr):
            return a.value
        if isinstance(a, FloatAttr):
            return a.value
        if isinstance(a, StringAttr):
            return a.value
        if isinstance(a, ArrayAttr):
            return [self.decode(x, operands) for x in a]
        if isinstance(a, DictionaryAttr):
            return {k: self.decode(x, operands) for k, x in a.items()}
        if isinstance(a, OperandRefAttr):
            return self.v(operands[a.index])
        if isinstance(a, TypeAttr):
            return _torch_dtype(a.value)
        if isinstance(a, SliceAttr):
            return slice(a.start, a.stop, a.step)
        if isinstance(a, EllipsisAttr):
            return Ellipsis
        if isinstance(a, ModuleRefAttr):
            return self.module_ref(a.value)
        if isinstance(a, PyRefAttr):
            return resolve(a.value, self.callables)
        raise TypeError(f"cannot turn attribute {a} into a Python value")

    def module_ref(self, path: str) -> fx.Node:
        if path not in self.modules:
            raise LookupError(f"the IR passes module '{path or '<root>'}' to a wrapped call; supply it with "
                              f"to_module(..., modules={{'{path}': model{'.' + path if path else ''}}})")
        if path:
            return self.graph.get_attr(path)
        self.root.__dict__["_irq_root_model"] = self.modules[""]  # not a submodule: its state stays its own
        return self.graph.get_attr("_irq_root_model")


def _as_returned(out: Any) -> Any:
    """A returned structure with its sequences as tuples: the IR's array attribute does not tell a tuple from a
    list, and a model returns tuples (`return a, b`, `{"extra": (p, q)}`) far more often than lists."""
    if isinstance(out, (list, tuple)):
        return tuple(_as_returned(x) for x in out)
    if isinstance(out, dict):
        return {k: _as_returned(x) for k, x in out.items()}
    return out


def to_module(module: Operation, *, modules: dict[str, nn.Module] | None = None,
              callables: dict[str, Any] | None = None, function: str = "forward") -> fx.GraphModule:
    """A GraphModule computing `module`'s function `function` (torch or hl level).

    Each graph node's `meta["irq_values"]` lists the IR values it computes, so a run of
    the module can be checked against the IR's types.

    modules: submodules by path for opaque module calls and wrapped methods (`self`);
    callables: torch.call targets by qualified name, where they are not importable.
    """
    fn_op = next((op for op in module.walk() if op.name == "func.func"
                  and op.get_attr("sym_name").value == function), None)
    if fn_op is None:
        raise ValueError(f"the module has no function @{function}")
    b = _Builder(dict(modules or {}), dict(callables or {}))
    block = fn_op.regions[0].blocks[0]
    b.quantized = any(op.name in ("qat.fake_quant", "quant.qcast") for op in block.ops)
    for i, arg in enumerate(block.args):
        name = arg.name_hint if arg.name_hint and arg.name_hint.isidentifier() else f"arg{i}"
        b.nodes[arg] = b.graph.placeholder(name)
    for op in block.ops:
        if op.name == "func.return":
            structure = op.attributes.get("structure")
            out = b.decode(structure, op.operands) if structure is not None else b.v(op.operands[0]) \
                if op.operands else None
            b.graph.output(_as_returned(out))
            break
        emit(b, op)
    for value, node in b.nodes.items():  # which IR values each node computes (to check types against a run)
        if isinstance(node, fx.Node):
            node.meta.setdefault("irq_values", []).append(value)
    name = module.get_attr("sym_name")
    gm = fx.GraphModule(b.root, b.graph, class_name=name.value if isinstance(name, StringAttr) else "IrqModule")
    for key in b.non_persistent:  # GraphModule copies buffers as persistent ones
        owner, _, leaf = key.rpartition(".")
        gm.get_submodule(owner)._non_persistent_buffers_set.add(leaf)
    if "_irq_root_model" in b.root.__dict__:
        gm.__dict__["_irq_root_model"] = b.root.__dict__["_irq_root_model"]
    mode = module.attributes.get("torch.training")
    gm.train(mode.value if isinstance(mode, BoolAttr) else False)
    preserved = module.attributes.get("torch.preserved")
    if isinstance(preserved, DictionaryAttr):
        for k, a in preserved.items():
            setattr(gm, k, b.decode(a, ()))
    fixed = fixed_batch(module)  # a static export computed with its traced batch: refuse another
    if fixed is not None:
        gm.register_forward_pre_hook(BatchCheck(fixed))
    if export_sizes_fixed(module):  # torch.export fixed the other sizes: refuse others rather than mis-shape
        traced = [list(a.type.shape) if isinstance(a.type, TensorType) else None for a in block.args]
        gm.register_forward_pre_hook(SizeCheck(traced))
    numbers = module.attributes.get(CONSTANT_INPUTS_ATTR)
    if isinstance(numbers, ArrayAttr):  # Python numbers torch.export specialised: refuse other values
        entries = [(e.value[0].value, e.value[1].value, e.value[2].value) for e in numbers.value]
        gm.register_forward_pre_hook(ConstantInputCheck(entries, len(block.args)))
    return gm


# -- ops -------------------------------------------------------------------------------------
def emit(b: _Builder, op: Operation) -> None:
    name = op.name
    if name == "torch.constant":
        b.nodes[op.results[0]] = b.constant(op)
        return
    if name == "torch.size":
        _multi(b, op, b.graph.call_method("size", (b.v(op.operands[0]),) + ((op.dim.value,) if op.dim else ())),
               single=op.dim is not None)
        return
    if name == "torch.call":
        _emit_call(b, op)
        return
    if name in ("qat.fake_quant", "quant.qcast", "quant.dcast"):
        from irq.runtime.torch.quantized import emit_fake_quant, emit_qdq
        (emit_fake_quant if name == "qat.fake_quant" else emit_qdq)(b, op)
        return
    dialect, _, base = name.partition(".")
    impl = IMPLS.get(base)
    if impl is None or dialect not in ("torch", "hl"):
        raise UnsupportedOpError(f"{location_prefix(op.location)}: the torch executor has no implementation of "
                                 f"'{name}' (it runs the torch and hl dialects)")
    attrs = _attrs(b, op)
    out = impl(b, op, attrs)
    if b.quantized and dialect == "hl" and not isinstance(out, tuple):
        from irq.runtime.torch.quantized import wrap_exact
        out = wrap_exact(b, op, out, attrs)
    if isinstance(out, tuple):
        _multi_nodes(b, op, out)
    else:
        b.nodes[op.results[0]] = out


def _attrs(b: _Builder, op: Operation) -> dict[str, Any]:
    d = {}
    for k in op.definition.attributes:
        a = op.get_attr(k)
        d[k] = b.decode(a, op.operands) if a is not None else None
    return d


def _multi(b: _Builder, op: Operation, node: fx.Node, single: bool = False) -> None:
    if single:
        b.nodes[op.results[0]] = node
        return
    _multi_nodes(b, op, tuple(b.call(operator.getitem, node, i) for i in range(len(op.results))))


def _multi_nodes(b: _Builder, op: Operation, nodes: tuple) -> None:
    for r, n in zip(op.results, nodes):
        b.nodes[r] = n


def _emit_call(b: _Builder, op: Operation) -> None:
    target = op.target.value
    args = b.decode(op.args, op.operands)
    kwargs = b.decode(op.kwargs, op.operands) if op.kwargs is not None else {}
    args = [tuple(a) if isinstance(a, list) else a for a in args]
    if target.startswith("torch.Tensor."):
        node = b.graph.call_method(target[len("torch.Tensor."):], tuple(args), kwargs)
    else:
        module_path = op.get_attr("module")
        fn = None
        if isinstance(module_path, StringAttr) and module_path.value in b.modules:
            try:
                fn = resolve(target, b.callables)
            except LookupError:
                fn = None
            if fn is None or (isinstance(fn, type) and issubclass(fn, nn.Module)):
                node = b.graph.call_module(module_path.value, tuple(args), kwargs)
                fn = False
        if fn is not False:
            fn = fn or resolve(target, b.callables)
            if isinstance(fn, type) and issubclass(fn, nn.Module):
                path = module_path.value if isinstance(module_path, StringAttr) else ""
                raise LookupError(f"'{target}' is a module call at '{path}'; supply the module with "
                                  f"to_module(..., modules={{'{path}': model.{path}}})")
            node = b.call(fn, *args, **kwargs)
    if len(op.results) == 1 and op.get_attr("results_kind") is None:
        b.nodes[op.results[0]] = node
    else:
        _multi(b, op, node)


def _max_pool2d(b: _Builder, op: Operation, a: dict) -> Any:
    """F.max_pool2d, or F.adaptive_max_pool2d for an imported adaptive max pool (its windows follow the input's
    size; the kernel and stride are those of the traced size only)."""
    if a.get("adaptive_output_size") is not None:
        return b.call(F.adaptive_max_pool2d, b.v(op.operands[0]), a["adaptive_output_size"])
    return b.call(F.max_pool2d, b.v(op.operands[0]), a["kernel_size"], a["stride"], a["padding"], a["dilation"],
                  a["ceil_mode"])


def _training_flag(b: _Builder, a: dict) -> Any:
    return a["training"] if a.get("training") is not None else b.training()


def _conv_opts(a: dict) -> dict:
    return {k: a.get(k) for k in ("stride", "padding", "dilation", "groups", "output_padding", "activation",
                                  "bn_eps", "bn_momentum", "bn_sync", "dropout")}


def _weighted(kind: str):
    def impl(b: _Builder, op: Operation, a: dict):
        v = b.v
        wq = b.weight_quant.get(op.weight)
        if op.name.startswith("hl.") and (op.bn_mean is not None or op.residual is not None or a.get("activation")):
            training = False if op.bn_mean is None else a["bn_training"] if a.get("bn_training") is not None \
                else b.training()
            extra = {"weight_quant": b.graph.get_attr(wq)} if wq is not None else {}
            if a.get("dropout"):  # a fused dropout follows the module's mode, as the nn.Dropout it was did
                extra["dropout_training"] = b.training()
            return b.call(fns.fused, kind, v(op.input), v(op.weight), v(op.bias), v(op.bn_weight), v(op.bn_bias),
                          v(op.bn_mean), v(op.bn_var), v(op.bn_num_batches_tracked), v(op.residual), training,
                          _conv_opts(a), **extra)
        x, w, bias = v(op.input), v(op.weight), v(op.bias)
        if wq is not None:  # the weight quantizer acts on the weight the op uses (no batch norm to fold)
            w = b.graph.call_module(wq, (w,))
        if kind == "linear":
            return b.call(F.linear, x, w, bias)
        if kind == "conv_transpose2d":
            return b.call(F.conv_transpose2d, x, w, bias, a["stride"], a["padding"], a["output_padding"],
                          a["groups"], a["dilation"])
        conv = F.conv1d if kind == "conv1d" else F.conv2d
        return b.call(conv, x, w, bias, a["stride"], a["padding"], a["dilation"], a["groups"])
    return impl


def _unary(fn: Callable):
    return lambda b, op, a: b.call(fn, b.v(op.operands[0]))


def _binary(fn: Callable, scalar: bool = False, reverse: bool = False):
    def impl(b: _Builder, op: Operation, a: dict):
        x = b.v(op.operands[0])
        y = a["other"] if scalar else b.v(op.operands[1])
        kwargs = {}
        if a.get("alpha") is not None:
            kwargs["alpha"] = a["alpha"]
        if a.get("rounding_mode") is not None:
            kwargs["rounding_mode"] = a["rounding_mode"]
        if reverse:
            return b.call(fn, y, x, **kwargs)
        return b.call(fn, x, y, **kwargs)
    return impl


def _reshape(method: str):
    def impl(b: _Builder, op: Operation, a: dict):
        return b.graph.call_method(method, (b.v(op.operands[0]), a["shape"]))
    return impl


def _reduce(fn: Callable):
    def impl(b: _Builder, op: Operation, a: dict):
        x = b.v(op.operands[0])
        if a.get("dim") is None:
            return b.call(fn, x) if not a.get("keepdim") else b.call(fn, x, list(range(op.operands[0].type.rank)),
                                                                        True)
        return b.call(fn, x, a["dim"], a["keepdim"])
    return impl


def _split(fn: Callable, key: str):
    def impl(b: _Builder, op: Operation, a: dict):
        node = b.call(fn, b.v(op.operands[0]), a[key], a["dim"])
        return tuple(b.call(operator.getitem, node, i) for i in range(len(op.results)))
    return impl


def _getitems(b: _Builder, op: Operation, node: fx.Node) -> tuple:
    return tuple(b.call(operator.getitem, node, i) for i in range(len(op.results)))


def _stub(b: _Builder, op: Operation, a: dict):
    return b.v(op.operands[0])


#: compare / compare_scalar's predicates (issue 12); in VALIDATION wrap_exact replaces the float comparison
#: with the integer one lower-bpu emits (irq.quant.validation_select)
COMPARE_FUNCTIONS = {"gt": torch.gt, "ge": torch.ge, "lt": torch.lt, "le": torch.le, "eq": torch.eq, "ne": torch.ne}


def _comparison(op: Operation, a: dict) -> Callable:
    fn = COMPARE_FUNCTIONS.get(a["predicate"])
    if fn is None:
        raise ValueError(f"{location_prefix(op.location)}'{op.name}' has an unknown predicate '{a['predicate']}' "
                         f"(one of {', '.join(COMPARE_FUNCTIONS)})")
    return fn


#: logical's kinds (issue 12): masks are exact in VALIDATION too, so no integer emulation is needed
LOGICAL_FUNCTIONS = {"and": torch.logical_and, "or": torch.logical_or, "xor": torch.logical_xor}


def _logical(op: Operation, a: dict) -> Callable:
    fn = LOGICAL_FUNCTIONS.get(a["kind"])
    if fn is None:
        raise ValueError(f"{location_prefix(op.location)}'{op.name}' has an unknown kind '{a['kind']}' "
                         f"(one of {', '.join(LOGICAL_FUNCTIONS)})")
    return fn


IMPLS: dict[str, Callable] = {
    "conv1d": _weighted("conv1d"), "conv2d": _weighted("conv2d"), "conv_transpose2d": _weighted("conv_transpose2d"),
    "linear": _weighted("linear"),
    "batch_norm": lambda b, op, a: b.call(fns.batch_norm, b.v(op.input), b.v(op.running_mean), b.v(op.running_var),
                                          b.v(op.weight), b.v(op.bias), b.v(op.num_batches_tracked),
                                          _training_flag(b, a), a.get("momentum"), a["eps"], bool(a.get("sync"))),
    "layer_norm": lambda b, op, a: b.call(F.layer_norm, b.v(op.input), a["normalized_shape"], b.v(op.weight),
                                          b.v(op.bias), a["eps"]),
    "group_norm": lambda b, op, a: b.call(F.group_norm, b.v(op.input), a["num_groups"], b.v(op.weight),
                                          b.v(op.bias), a["eps"]),
    "relu": _unary(torch.relu), "relu6": _unary(F.relu6), "hardswish": _unary(F.hardswish),
    "hardsigmoid": _unary(F.hardsigmoid), "sigmoid": _unary(torch.sigmoid), "tanh": _unary(torch.tanh),
    "silu": _unary(F.silu), "exp": _unary(torch.exp), "neg": _unary(torch.neg), "sqrt": _unary(torch.sqrt),
    "rsqrt": _unary(torch.rsqrt), "abs": _unary(torch.abs),
    "contiguous": lambda b, op, a: b.graph.call_method("contiguous", (b.v(op.operands[0]),)),
    "identity": _stub, "quant_stub": _stub, "dequant_stub": _stub,
    "hardtanh": lambda b, op, a: b.call(F.hardtanh, b.v(op.operands[0]), a["min_val"], a["max_val"]),
    "leaky_relu": lambda b, op, a: b.call(F.leaky_relu, b.v(op.operands[0]), a["negative_slope"]),
    "gelu": lambda b, op, a: b.call(F.gelu, b.v(op.operands[0]), approximate=a["approximate"]),
    "elu": lambda b, op, a: b.call(F.elu, b.v(op.operands[0]), a["alpha"]),
    "celu": lambda b, op, a: b.call(F.celu, b.v(op.operands[0]), a["alpha"]),
    "selu": _unary(F.selu), "mish": _unary(F.mish), "logsigmoid": _unary(F.logsigmoid), "softsign": _unary(F.softsign),
    "tanhshrink": _unary(F.tanhshrink), "erf": _unary(torch.erf), "sin": _unary(torch.sin), "cos": _unary(torch.cos),
    "softplus": lambda b, op, a: b.call(F.softplus, b.v(op.operands[0]), a["beta"], a["threshold"]),
    "hardshrink": lambda b, op, a: b.call(F.hardshrink, b.v(op.operands[0]), a["lambd"]),
    "softshrink": lambda b, op, a: b.call(F.softshrink, b.v(op.operands[0]), a["lambd"]),
    "pow_scalar": lambda b, op, a: b.call(torch.pow, b.v(op.operands[0]), a["exponent"]),
    "softmax": lambda b, op, a: b.call(torch.softmax, b.v(op.operands[0]), a["dim"]),
    "log_softmax": lambda b, op, a: b.call(torch.log_softmax, b.v(op.operands[0]), a["dim"]),
    "clamp": lambda b, op, a: b.call(torch.clamp, b.v(op.operands[0]), a.get("min"), a.get("max")),
    "dropout": lambda b, op, a: b.call(fns.dropout_function(a.get("kind")), b.v(op.operands[0]), a["p"],
                                       _training_flag(b, a)),
    "add": _binary(torch.add), "sub": _binary(torch.sub), "mul": _binary(torch.mul), "div": _binary(torch.div),
    "add_scalar": _binary(torch.add, True), "sub_scalar": _binary(torch.sub, True),
    "mul_scalar": _binary(torch.mul, True), "div_scalar": _binary(torch.div, True),
    "rsub_scalar": _binary(operator.sub, True, True), "rdiv_scalar": _binary(operator.truediv, True, True),
    "matmul": _binary(torch.matmul), "bmm": _binary(torch.bmm),
    "cat": lambda b, op, a: b.call(torch.cat, [b.v(x) for x in op.operands], a["dim"]),
    "stack": lambda b, op, a: b.call(torch.stack, [b.v(x) for x in op.operands], a["dim"]),
    "flatten": lambda b, op, a: b.call(torch.flatten, b.v(op.operands[0]), a["start_dim"], a["end_dim"]),
    "reshape": _reshape("reshape"), "view": _reshape("view"),
    "permute": lambda b, op, a: b.call(torch.permute, b.v(op.operands[0]), a["dims"]),
    "transpose": lambda b, op, a: b.call(torch.transpose, b.v(op.operands[0]), a["dim0"], a["dim1"]),
    "unsqueeze": lambda b, op, a: b.call(torch.unsqueeze, b.v(op.operands[0]), a["dim"]),
    "squeeze": lambda b, op, a: b.call(torch.squeeze, b.v(op.operands[0]), *(() if a.get("dim") is None
                                                                             else (a["dim"],))),
    "getitem": lambda b, op, a: b.call(operator.getitem, b.v(op.operands[0]), tuple(a["index"])),
    "slice": lambda b, op, a: b.call(torch.ops.aten.slice.Tensor, b.v(op.operands[0]), a["dim"], a.get("start"),
                                     a.get("end"), a["step"]),
    "select": lambda b, op, a: b.call(torch.select, b.v(op.operands[0]), a["dim"], a["index"]),
    "chunk": _split(torch.chunk, "chunks"), "split": _split(torch.split, "split_size"),
    "unbind": lambda b, op, a: _getitems(b, op, b.call(torch.unbind, b.v(op.operands[0]), a["dim"])),
    "interpolate": lambda b, op, a: b.call(F.interpolate, b.v(op.operands[0]), size=a.get("size"),
                                           scale_factor=a.get("scale_factor"), mode=a["mode"],
                                           align_corners=a.get("align_corners")),
    "pad": lambda b, op, a: b.call(F.pad, b.v(op.operands[0]), a["pad"], a["mode"], a.get("value")),
    "max_pool2d": _max_pool2d,
    "avg_pool2d": lambda b, op, a: b.call(F.avg_pool2d, b.v(op.operands[0]), a["kernel_size"], a["stride"],
                                          a["padding"], a["ceil_mode"], a["count_include_pad"],
                                          a.get("divisor_override")),
    "adaptive_avg_pool2d": lambda b, op, a: b.call(F.adaptive_avg_pool2d, b.v(op.operands[0]), a["output_size"]),
    "mean": _reduce(torch.mean), "sum": _reduce(torch.sum),
    "zeros_like": lambda b, op, a: b.call(torch.zeros_like, b.v(op.input), dtype=a.get("dtype")),
    "ones_like": lambda b, op, a: b.call(torch.ones_like, b.v(op.input), dtype=a.get("dtype")),
    "full_like": lambda b, op, a: b.call(torch.full_like, b.v(op.input), a["fill_value"], dtype=a.get("dtype")),
    "where": lambda b, op, a: b.call(torch.where, b.v(op.condition), b.v(op.input), b.v(op.other)),
    "where_scalar": lambda b, op, a: b.call(torch.where, b.v(op.condition), a["value"], b.v(op.input))
    if a["value_first"] else b.call(torch.where, b.v(op.condition), b.v(op.input), a["value"]),
    "maximum": _binary(torch.maximum), "minimum": _binary(torch.minimum),
    "compare": lambda b, op, a: b.call(_comparison(op, a), b.v(op.input), b.v(op.other)),
    "compare_scalar": lambda b, op, a: b.call(_comparison(op, a), b.v(op.input), a["other"]),
    "logical": lambda b, op, a: b.call(_logical(op, a), b.v(op.input), b.v(op.other)),
    "logical_not": lambda b, op, a: b.call(torch.logical_not, b.v(op.input)),
    "roll": lambda b, op, a: b.call(torch.roll, b.v(op.input), a["shifts"], *(() if a.get("dims") is None
                                                                            else (a["dims"],))),
    "cumsum": lambda b, op, a: b.call(torch.cumsum, b.v(op.input), a["dim"]),
    "topk": lambda b, op, a: _getitems(b, op, b.call(torch.topk, b.v(op.input), a["k"], a["dim"], a["largest"],
                                                     a["sorted"])),
    "flip": lambda b, op, a: b.call(torch.flip, b.v(op.input), a["dims"]),
    "expand": lambda b, op, a: b.graph.call_method("expand", (b.v(op.operands[0]), a["shape"])),
    "expand_as": lambda b, op, a: b.graph.call_method("expand_as", (b.v(op.input), b.v(op.other))),
    "repeat": lambda b, op, a: b.graph.call_method("repeat", (b.v(op.input), a["repeats"])),
    "index_select": lambda b, op, a: b.call(torch.index_select, b.v(op.input), a["dim"], b.v(op.index)),
    "gather": lambda b, op, a: b.call(torch.gather, b.v(op.input), a["dim"], b.v(op.index)),
    "amax": lambda b, op, a: b.call(torch.amax, b.v(op.input), a.get("dim") or [], a["keepdim"]),
    "amin": lambda b, op, a: b.call(torch.amin, b.v(op.input), a.get("dim") or [], a["keepdim"]),
    "max_dim": lambda b, op, a: _getitems(b, op, b.call(torch.max, b.v(op.input), a["dim"], a["keepdim"])),
    "min_dim": lambda b, op, a: _getitems(b, op, b.call(torch.min, b.v(op.input), a["dim"], a["keepdim"])),
    "pixel_shuffle": lambda b, op, a: b.call(F.pixel_shuffle, b.v(op.input), a["upscale_factor"]),
    "pixel_unshuffle": lambda b, op, a: b.call(F.pixel_unshuffle, b.v(op.input), a["downscale_factor"]),
    "instance_norm": lambda b, op, a: b.call(F.instance_norm, b.v(op.input), b.v(op.running_mean),
                                             b.v(op.running_var), b.v(op.weight), b.v(op.bias),
                                             a["use_input_stats"], a["momentum"], a["eps"]),
    "prelu": lambda b, op, a: b.call(F.prelu, b.v(op.input), b.v(op.weight)),
    "embedding": lambda b, op, a: b.call(F.embedding, b.v(op.operands[0]), _quantized_weight(b, op.operands[1]),
                                         a.get("padding_idx")),
}


def _quantized_weight(b: _Builder, w: Value) -> fx.Node:
    """A weight operand through its weight quantizer, when it has one (an embedding table at the qat level)."""
    wq = b.weight_quant.get(w)
    return b.graph.call_module(wq, (b.v(w),)) if wq is not None else b.v(w)
