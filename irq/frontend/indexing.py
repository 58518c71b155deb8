"""Indexing and static sizes in the torch frontend: `x[...]`/`getitem` handlers and the Python
arithmetic on tensor shapes that the importer folds to constants.

Why a module of its own: both decide what a subscript or a size means (data movement a march runs, a
compile-time constant, or an opaque call) — one concern, apart from the op-by-op table in mapping.py,
which refers to `_getitem` from here.
"""

from __future__ import annotations

from typing import Any

from torch import fx

from irq.frontend.emit import _MISSING, PREV, Emit, is_node


def _tensor_value(x: Any) -> bool:
    return is_node(x) and x.meta.get("irq_kind") == "tensor"


_SIZE_METHODS = frozenset({"size", "dim", "ndimension", "numel"})
_SIZE_ATTRS = frozenset({"shape", "ndim"})


def _shape_derived(node: fx.Node) -> bool:
    """Whether a Python value in the graph is computed from tensor shapes only (`x.shape[-1] // 2`).

    Shapes are static for the example inputs (every IR type is), so such values are
    constants of the import; a value read from tensor data (`.item()`) is not."""
    known = node.meta.get("irq_shape_derived")
    if known is not None:
        return known
    args = node.args
    if node.op == "call_method" and node.target in _SIZE_METHODS:
        ok = _tensor_value(args[0]) and all(not is_node(a) or _shape_derived(a) for a in args[1:])
    elif node.op == "call_function" and node.target is getattr:
        ok = _tensor_value(args[0]) and args[1] in _SIZE_ATTRS
    elif node.op == "call_function" and getattr(node.target, "__module__", None) in ("_operator", "math",
                                                                                        "builtins"):
        ok = bool(node.all_input_nodes) and all(a.meta.get("irq_kind") != "tensor" and _shape_derived(a)
                                                for a in node.all_input_nodes)
    else:
        ok = False
    node.meta["irq_shape_derived"] = ok
    return ok


def static_value(x: Any) -> Any:
    """`x` itself, or for a shape-derived graph value its value on the example inputs (else _MISSING)."""
    if not is_node(x):
        return x
    if "irq_value" in x.meta and _shape_derived(x):
        return x.meta["irq_value"]
    return _MISSING


def fold_static_scalars(node: fx.Node) -> tuple[tuple, dict]:
    """`node`'s (args, kwargs) with shape-derived Python numbers replaced by their values
    (`F.avg_pool2d(x, x.size(2))` -> kernel 7), so the typed op gets a constant attribute."""
    if not any(a.meta.get("irq_kind") in ("int", "float", "bool") for a in node.all_input_nodes):
        return node.args, node.kwargs

    def fold(a: Any) -> Any:
        if is_node(a):
            v = static_value(a) if a.meta.get("irq_kind") in ("int", "float", "bool") else _MISSING
            return a if v is _MISSING else v
        if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
            return type(a)(fold(x) for x in a)
        if isinstance(a, dict):
            return {k: fold(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(fold(a.start), fold(a.stop), fold(a.step))
        return a

    return fold(node.args), fold(node.kwargs)


def _getitem(args, kwargs):
    """Tensor indexing with ints, slices, None, Ellipsis and index tensors."""
    from irq.dialects.torch_values import EllipsisAttr, OperandRefAttr, SliceAttr
    from irq.ir.attributes import ArrayAttr, IntegerAttr, UnitAttr
    from irq.ir.types import i64
    x, idx = args
    if not _tensor_value(x):
        return None
    entries = idx if isinstance(idx, tuple) else (idx,)
    out, tensors = [], []
    for e in entries:
        if is_node(e) and e.meta.get("irq_kind") == "int":
            e = static_value(e)
        if isinstance(e, slice):
            e = slice(*(static_value(v) for v in (e.start, e.stop, e.step)))
            if _MISSING in (e.start, e.stop, e.step):
                return None
        if isinstance(e, bool):
            return None
        if isinstance(e, int):
            out.append(IntegerAttr(e, i64))
        elif e is None:
            out.append(UnitAttr())
        elif e is Ellipsis:
            out.append(EllipsisAttr())
        elif isinstance(e, slice):
            if any(is_node(v) or (v is not None and not isinstance(v, int)) for v in (e.start, e.stop, e.step)):
                return None
            out.append(SliceAttr(e.start, e.stop, e.step))
        elif _tensor_value(e):
            tensors.append(e)
            out.append(OperandRefAttr(len(tensors)))
        else:
            return None
    if not tensors:
        chain = basic_indexing_chain(x, entries)
        if chain:
            return chain
    if len(tensors) == 1:  # x[:, idx] with a 1-D integer index: index_select (issue 12)
        from irq.frontend.select_mapping import index_select_entry
        sel = index_select_entry(x, entries, tensors[0])
        if sel is not None:
            return sel
    return Emit("getitem", {"input": x, "indices": tensors}, {"index": ArrayAttr(out)})


def basic_indexing_chain(x: fx.Node, entries: tuple) -> list[Emit] | None:
    """`x[entries]` (ints, slices, None, Ellipsis; sizes already folded) as slice / squeeze / unsqueeze ops.

    Basic indexing is pure data movement; as those ops it quantizes with the input's scale and lowers to
    bpu.slice / bpu.reshape, where one opaque `getitem` no march runs (`q, k, v = qkv[0], qkv[1], qkv[2]`
    in every ViT). An int index `i` is the slice [i, i+1) followed by squeezing that dim (numpy's rule).
    None when nothing needs an op (`x[:]`) or an entry is not basic (the caller keeps `getitem`)."""
    from irq.ir.types import ShapedType
    t = x.meta.get("irq_type")
    rank = len(t.shape) if isinstance(t, ShapedType) else None
    if any(e is Ellipsis for e in entries):
        if rank is None or sum(e is Ellipsis for e in entries) > 1:
            return None
        consumed = sum(1 for e in entries if e is not None and e is not Ellipsis)
        i = entries.index(Ellipsis)
        entries = entries[:i] + (slice(None),) * (rank - consumed) + entries[i + 1:]
    chain: list[Emit] = []

    def add(spec: str, attrs: dict) -> None:
        chain.append(Emit(spec, {"input": PREV if chain else x}, attrs))

    dim = 0
    for e in entries:
        if e is None:
            add("unsqueeze", {"dim": dim})
            dim += 1
        elif isinstance(e, slice):
            if (e.start, e.stop, e.step) != (None, None, None) and e.step != 0:
                add("slice", {"dim": dim, "start": e.start, "end": e.stop, "step": 1 if e.step is None else e.step})
            dim += 1
        elif isinstance(e, int) and not isinstance(e, bool):
            add("slice", {"dim": dim, "start": e, "end": None if e == -1 else e + 1, "step": 1})
            add("squeeze", {"dim": dim})
        else:
            return None
    return chain or None
