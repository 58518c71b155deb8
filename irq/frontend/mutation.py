"""In-place tensor mutation in a traced graph: modelled exactly, or refused at the user's line.

torch.fx records `y.add_(x)`, `F.relu(y, inplace=True)`, `nn.ReLU(inplace=True)(y)` and
`y += x` as nodes whose result *is* `y`, but later code that reads `y` under its old
name still points at the node from before the mutation. The torch dialect is SSA: its
`torch.add` is out of place, so mapping the mutation as-is would give those readers
the old value, a different number without an error.

`model_mutations` rewrites the graph so the SSA form is exact: every reader of the
mutated tensor that runs after the mutation reads the mutating node's result
instead. `t[idx] = v` (operator.setitem, which returns None) becomes an out-of-place
`irq.runtime.torch.functions.setitem` whose result the later readers take.

That is exact only when nothing else shares the mutated memory. A value that may
alias the mutated tensor (a view such as `x.view(...)`, `x[0]`, `x.transpose(...)`,
the result of an opaque call, or the tensor a view was taken from) and is read after
the mutation would see the new data in eager mode: such graphs, and mutations of
parameters and buffers (state the IR cannot update between calls), raise a
FrontendError naming the user's file:line. Aliasing is judged conservatively: only ops
known to allocate a fresh result (conv, add, relu... every typed op that is not data
movement) break an alias chain.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable
from typing import Any

from torch import fx, nn

from irq.frontend.errors import FrontendError, source_line

#: Python's augmented assignments: in place when the left operand is a tensor.
_INPLACE_OPERATORS = frozenset(
    {
        operator.iadd,
        operator.isub,
        operator.imul,
        operator.itruediv,
        operator.ifloordiv,
        operator.imod,
        operator.ipow,
        operator.iand,
        operator.ior,
        operator.ixor,
        operator.ilshift,
        operator.irshift,
        operator.imatmul,
    }
)


#: The same as Tensor methods (`y.__iadd__(x)`).
_INPLACE_DUNDERS = frozenset(f"__i{op.__name__[1:]}__" for op in _INPLACE_OPERATORS)


def _is_tensor(node: Any) -> bool:
    return isinstance(node, fx.Node) and node.meta.get("irq_kind") in ("tensor", "multi")


@functools.lru_cache(maxsize=256)
def _inplace_parameter(fn: Callable) -> int | None:
    """Position of an `inplace` parameter of a Python function (F.relu, F.dropout...), else None."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params.index("inplace") if "inplace" in params else None


def _trailing_underscore(name: Any) -> bool:
    """torch's naming convention for in-place ops: `add_`, `relu_`, `torch.sigmoid_`."""
    return isinstance(name, str) and name.endswith("_") and not name.startswith("_")


@functools.lru_cache(maxsize=1024)
def _function_mutation(target: Callable) -> int | None:
    """How a call_function target mutates its first argument: -1 always, k >= 0 when its
    parameter k (`inplace`) is True, None never. Cached: asked once per node of every import."""
    schema = getattr(target, "_schema", None)  # an ATen op (torch.export): its schema says
    if schema is not None:
        info = schema.arguments[0].alias_info if schema.arguments else None
        return -1 if info is not None and info.is_write else None
    if target in _INPLACE_OPERATORS or target is operator.setitem:
        return -1
    if getattr(target, "__module__", None) in ("_operator", "operator"):
        return None  # `a & b` is operator.and_ (`or_`, `not_` too): a trailing underscore, yet out of place
    if _trailing_underscore(getattr(target, "__name__", None)):
        return -1
    return _inplace_parameter(target) if callable(target) else None


def mutated_input(node: fx.Node, modules: dict[str, nn.Module]) -> fx.Node | None:
    """The tensor node that `node` mutates in place (its first argument, or its `out=`), or None."""
    op = node.op
    out = node.kwargs.get("out") if node.kwargs else None
    if _is_tensor(out) and op in ("call_function", "call_method"):
        return out  # torch.add(a, b, out=c) writes c and returns it
    if op == "call_function":
        try:
            how = _function_mutation(node.target)
        except TypeError:  # an unhashable callable
            how = None
        if how is None:
            return None
        if how >= 0:
            flag = node.kwargs.get("inplace", node.args[how] if how < len(node.args) else False)
            if flag is not True:
                return None
    elif op == "call_method":
        target = node.target
        if not (_trailing_underscore(target) or target in _INPLACE_DUNDERS):
            return None
    elif op == "call_module":
        m = modules.get(node.target)
        if m is None or m.__dict__.get("inplace") is not True or not type(m).__module__.startswith("torch.nn"):
            return None
    else:
        return None
    first = node.args[0] if node.args else None
    return first if _is_tensor(first) else None


def _refuse(node: fx.Node, why: str) -> FrontendError:
    loc = node.meta.get("irq_loc")
    filename, line, col = loc if loc else (None, None, None)
    where = f"{filename}:{line}:{col}: " if loc else ""
    src = source_line(filename, line) if loc else ""
    text = f"{where}in-place operation '{_describe(node)}' {why}" + (f"\n    {src}" if src else "")
    text += (
        "\n  hint: write it out of place (`y = y + x`, `F.relu(y)`, nn.ReLU()), or decorate the code "
        "with @irq.wrap to keep it one opaque call"
    )
    return FrontendError(text, filename=filename, line=line, column=col)


def _describe(node: fx.Node) -> str:
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    if node.op == "call_module":
        return f"{t} (inplace=True)"
    return getattr(t, "__name__", str(t))


class _Aliases:
    """Union-find over nodes that may share memory."""

    def __init__(self) -> None:
        self.parent: dict[fx.Node, fx.Node] = {}
        self.members: dict[fx.Node, list[fx.Node]] = {}

    def find(self, n: fx.Node) -> fx.Node:
        p = self.parent.setdefault(n, n)
        if p is not n:
            p = self.parent[n] = self.find(p)
        return p

    def union(self, a: fx.Node, b: fx.Node) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return
        ma = self.members.pop(ra, [ra])
        mb = self.members.pop(rb, [rb])
        if len(ma) < len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        self.parent[rb] = ra
        ma.extend(mb)
        self.members[ra] = ma

    def group(self, n: fx.Node) -> list[fx.Node]:
        return self.members.get(self.find(n), [n])


def model_mutations(
    graph: fx.Graph,
    modules: dict[str, nn.Module],
    fresh: Callable[[fx.Node], bool],
    state: dict[fx.Node, str] | None = None,
) -> int:
    """Make every in-place mutation of `graph` explicit in its data flow (see the module docstring).

    `fresh(node)`: True when the node's result certainly owns new memory (it aliases no input).
    `state`: placeholders that stand for parameters and buffers (torch.export lifts them), by
    state_dict key; like get_attr nodes, mutating them is refused. Nodes must carry the
    importer's annotations (irq_kind). Returns how many mutations were modelled.
    """
    state = state or {}
    nodes = list(graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    if not any(
        mutated_input(n, modules) is not None for n in nodes if n.op in ("call_method", "call_function", "call_module")
    ):
        return 0
    aliases = _Aliases()
    modelled = 0
    for node in nodes:
        if node.op not in ("call_method", "call_function", "call_module"):
            continue
        target = mutated_input(node, modules)
        if target is None:
            if _is_tensor(node) and not fresh(node):
                for a in node.all_input_nodes:
                    if _is_tensor(a):
                        aliases.union(node, a)
            continue
        here = order[node]
        group = aliases.group(target)
        for m in group:
            key = m.target if m.op == "get_attr" else state.get(m)
            if key is None:
                continue
            if key.endswith("num_batches_tracked") and not node.users:
                continue  # batch norm's own step counter (export in train mode): the batch_norm op's business
            raise _refuse(node, f"changes the model's parameter or buffer '{key}', which the IR holds as a constant")
        for m in group:
            if m is target or order[m] > here:
                continue
            late = [u for u in m.users if order[u] > here]
            if late:
                raise _refuse(
                    node,
                    f"changes memory that '{m.name}' shares (a view or an opaque call's result), "
                    f"and '{late[0].name}' reads it afterwards; the IR cannot express the "
                    "mutation exactly",
                )
        result = node
        if node.target is operator.setitem and node.op == "call_function":
            result = _out_of_place_setitem(graph, node, target)
            order[result] = here
        for u in list(target.users):
            if order.get(u, -1) > here:
                u.replace_input_with(target, result)
                u.meta.pop("irq_emits", None)
        aliases.union(result, target)
        modelled += 1
    return modelled


def _out_of_place_setitem(graph: fx.Graph, node: fx.Node, target: fx.Node) -> fx.Node:
    """`t[idx] = v` -> `t2 = setitem(t, idx, v)`; the setitem node itself is removed."""
    from irq.runtime.torch.functions import setitem

    with graph.inserting_after(node):
        new = graph.call_function(setitem, node.args, dict(node.kwargs))
    new.meta.update({k: v for k, v in node.meta.items() if k in ("irq_scope", "irq_loc", "irq_module", "irq_fused")})
    for k in ("irq_kind", "irq_type", "irq_rank", "irq_multi_kind"):
        if k in target.meta:
            new.meta[k] = target.meta[k]
    new.meta.pop("irq_emits", None)
    if not node.users:
        graph.erase_node(node)
    return new


def aten_allocates(node: fx.Node) -> bool:
    """Whether an ATen op's result is new memory: its schema marks returns that alias an input."""
    schema = getattr(node.target, "_schema", None)
    return schema is not None and all(r.alias_info is None for r in schema.returns)


def state_mutation_error(model: nn.Module, changed: list[str], trace_again: Callable[[], Any]) -> FrontendError:
    """The refusal for a forward that changed parameters or buffers `changed` in place while fx
    traced it (fx runs such code on the real tensors and records nothing). The line is found by
    tracing again under a TorchFunctionMode that stops at the first in-place op on a state tensor,
    before it runs."""
    from torch.overrides import TorchFunctionMode

    from irq.frontend.errors import user_frame_of_traceback

    state = {id(t): k for k, t in list(model.named_buffers()) + list(model.named_parameters())}
    found: list[tuple[str, str]] = []

    class _Stop(Exception):
        pass

    class _Detect(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if args and id(args[0]) in state and _trailing_underscore(name):
                found.append((state[id(args[0])], name))
                raise _Stop
            return func(*args, **(kwargs or {}))

    where = None
    try:
        with _Detect():
            trace_again()
    except _Stop as e:
        where = user_frame_of_traceback(e.__traceback__)
    except Exception:  # noqa: BLE001 - only looking for the line
        pass
    key, op = found[0] if found else (changed[0], "an in-place operation")
    head = (
        f"forward changes the model's parameter or buffer '{key}' in place ({op}); the IR holds state as "
        "constants and cannot express the update (tracing ran the line once, so the tensor already changed)"
    )
    hint = "\n  hint: return the new value as an output, or decorate the code with @irq.wrap"
    if where is None:
        return FrontendError(head + hint)
    filename, line, col = where
    return FrontendError(
        f"{filename}:{line}:{col}: {head}\n    {source_line(filename, line)}" + hint,
        filename=filename,
        line=line,
        column=col,
    )
