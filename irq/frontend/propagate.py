"""Shape and dtype propagation: run the traced graph once on the example inputs.

Every node gets `irq_kind` ("tensor", "int", "float", "bool", "obj" or "multi")
and `irq_type` (an irq Type, or a list of them for "multi" nodes, which return a
tuple or list). Values are freed after their last use, so propagation holds no
more activations than an eager forward does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

from irq.dialects.torch_values import PyObjectType
from irq.frontend.tracer import argument_loader
from irq.ir.types import FloatType, IntegerType, TensorType, Type, f64, i1, i64

_DTYPES: dict[torch.dtype, Type] = {
    torch.float32: FloatType("f32"), torch.float16: FloatType("f16"), torch.bfloat16: FloatType("bf16"),
    torch.float64: FloatType("f64"), torch.int64: IntegerType(64), torch.int32: IntegerType(32),
    torch.int16: IntegerType(16), torch.int8: IntegerType(8), torch.uint8: IntegerType(8, "u"),
    torch.bool: IntegerType(1),
}
_BACK = {v: k for k, v in _DTYPES.items()}


def element_type(dtype: torch.dtype) -> Type:
    t = _DTYPES.get(dtype)
    if t is None:
        raise TypeError(f"tensors of dtype {dtype} are not supported by irq")
    return t


def torch_dtype(t: Type) -> torch.dtype:
    return _BACK[t]


def tensor_type(t: torch.Tensor) -> TensorType:
    return TensorType(tuple(int(d) for d in t.shape), element_type(t.dtype))


def describe(v: Any) -> tuple[str, Any]:
    """(kind, type) of a runtime value."""
    if isinstance(v, torch.Tensor):
        return "tensor", tensor_type(v)
    if isinstance(v, bool):
        return "bool", i1
    if isinstance(v, int):
        return "int", i64
    if isinstance(v, float):
        return "float", f64
    if isinstance(v, (tuple, list)) and v and \
            all(isinstance(x, (torch.Tensor, int, float)) for x in v):
        return "multi", [describe(x)[1] for x in v]
    return "obj", PyObjectType()


def annotate(node: fx.Node, value: Any) -> None:
    kind, t = describe(value)
    node.meta["irq_kind"] = kind
    node.meta["irq_type"] = t
    node.meta["irq_multi_kind"] = "list" if isinstance(value, list) else "tuple"
    if kind == "tensor":
        node.meta["irq_rank"] = value.dim()
    if isinstance(value, torch.Size):
        node.meta["irq_size"] = len(value)
    if kind in ("int", "float", "bool") or isinstance(value, torch.Size):
        node.meta["irq_value"] = value  # the value on the example inputs; mapping.static_value says if it is fixed


def propagate(root: nn.Module, graph: fx.Graph, inputs: dict[fx.Node, Any]) -> None:
    """Annotate every node of `graph` by running it once on the example inputs.

    One intra-op thread: import-time tensors are small or few, and torch's thread
    pool spinning against other processes made a 2,000-block import 100x slower on a
    busy 2-core machine (bench/frontend.py); fake and meta tensors were measured too,
    and their per-op dispatch in Python cost more than the arithmetic they avoid.
    """
    # Propagation must not change the model: batch norm in train mode updates its
    # running statistics, dropout draws random numbers.
    saved = {k: b.detach().clone() for k, b in root.named_buffers()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            _run(root, graph, inputs)
    finally:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for k, b in root.named_buffers():
                if k in saved:
                    b.copy_(saved[k])


def _run(root: nn.Module, graph: fx.Graph, inputs: dict[fx.Node, Any]) -> None:
    """Run `graph` with `inputs` (placeholder -> value) and annotate every node."""
    last_use: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        for a in node.all_input_nodes:
            last_use[a] = node
    free: dict[fx.Node, list[fx.Node]] = {}
    for a, user in last_use.items():
        free.setdefault(user, []).append(a)
    env: dict[fx.Node, Any] = {}

    load = argument_loader(root, env)

    with torch.no_grad():
        for node in graph.nodes:
            try:
                v = _evaluate(root, node, inputs, load)
            except Exception as e:  # noqa: BLE001 - the importer reports it at the node's user line
                e.irq_node = node
                raise
            env[node] = v
            annotate(node, v)
            for a in free.get(node, ()):
                del env[a]


def _evaluate(root: nn.Module, node: fx.Node, inputs: dict[fx.Node, Any], load) -> Any:
    op = node.op
    if op == "placeholder":
        return inputs[node]
    if op == "get_attr":
        return _fetch(root, node.target)
    if op == "call_function":
        return node.target(*load(node.args), **load(node.kwargs))
    if op == "call_method":
        self_obj, *rest = load(node.args)
        return getattr(self_obj, node.target)(*rest, **load(node.kwargs))
    if op == "call_module":
        return root.get_submodule(node.target)(*load(node.args), **load(node.kwargs))
    return load(node.args[0])  # output


def _fetch(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj
