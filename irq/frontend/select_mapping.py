"""Issue 12's selections, broadcasts and statistics: which torch calls become flip / expand / repeat /
index_select / amax / amin / max_dim / min_dim ops, and which are written as a chain of existing ops
(var / std, F.normalize, the 2-norm).

The selections keep the codes (hl.DATA_MOVEMENT: they quantize with their input's scale and lower to
bpu.take / bpu.reduce_max / bpu.reduce_min, passes/_lower_take.py). The statistics are the formulas torch
documents, op by op, so each step quantizes and lowers as the op it is:

    var(x, dims, correction) = mean((x - mean(x, dims, keepdim)) ** 2, dims) * n / (n - correction)
    std = sqrt(var);  F.normalize(x, p=2, dim, eps) = x / clamp_min(sqrt(sum(x ** 2, dim, keepdim)), eps)

Split from irq.frontend.mapping (the table of every mapped callable), which imports these handlers.
"""

from __future__ import annotations

import math
from typing import Any

from irq.frontend.emit import _MISSING, PREV, Emit, bind, is_node
from irq.frontend.view_mapping import _keeps_sizes, _shape_list, _size_attr


def _shape(x: Any) -> tuple[int, ...] | None:
    t = x.meta.get("irq_type") if is_node(x) else None
    shape = getattr(t, "shape", None)
    return tuple(shape) if shape is not None and all(isinstance(s, int) and s >= 0 for s in shape) else None


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_list(v: Any) -> list[int] | None:
    """An int or a list/tuple of ints as a list (None if any entry is traced or not an int)."""
    vals = list(v) if isinstance(v, (list, tuple)) else [v]
    return vals if all(_int(d) for d in vals) else None


def _varargs(args: tuple, kwargs: dict, name: str) -> tuple[Any, Any] | None:
    """(self, the list) of a method that takes its list unpacked or as one argument (`x.flip(0, 1)`,
    `x.flip([0, 1])`, `x.repeat(2, 1)`); torch functions pass it as one argument."""
    if kwargs:
        return (args[0], kwargs[name]) if set(kwargs) == {name} and len(args) == 1 else None
    if len(args) == 2:
        return args[0], args[1]
    return (args[0], list(args[1:])) if len(args) > 2 else None


def _flip(args, kwargs):
    got = _varargs(args, kwargs, "dims")
    dims = _int_list(got[1]) if got is not None else None
    return None if dims is None else Emit("flip", {"input": got[0]}, {"dims": dims})


@_keeps_sizes
def _expand(args, kwargs):
    """Tensor.expand(*sizes) / expand(sizes): traced sizes (`x.shape[0]`) are operands, so the expanded batch
    of a constant (a ViT's `cls.expand(x.shape[0], -1, -1)`) follows the batch at run time."""
    got = _varargs(args, kwargs, "size")
    if got is None:
        return None
    r = _shape_list(got[1])
    if r is None:
        return None
    shape, sizes = r
    return Emit("expand", {"input": got[0], "sizes": sizes}, {"shape": _size_attr(shape)})


def _expand_as(args, kwargs):
    """x.expand_as(other): its own op with `other` as an operand, so the sizes follow other's at run time."""
    b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
    if b is None or not (is_node(b["other"]) and b["other"].meta.get("irq_kind") == "tensor"):
        return None
    return Emit("expand_as", dict(b))


def _repeat(args, kwargs):
    got = _varargs(args, kwargs, "repeats")
    reps = _int_list(got[1]) if got is not None else None
    return None if reps is None else Emit("repeat", {"input": got[0]}, {"repeats": reps})


def _index_select(args, kwargs):
    b = bind((("input", _MISSING), ("dim", _MISSING), ("index", _MISSING)), args, kwargs)
    if b is None or not _int(b["dim"]) or not is_node(b["index"]):
        return None
    return Emit("index_select", {"input": b["input"], "index": b["index"]}, {"dim": b["dim"]})


def _gather(args, kwargs):
    """torch.gather(x, dim, index) / x.gather(dim, index); `sparse_grad` changes only the backward pass."""
    b = bind((("input", _MISSING), ("dim", _MISSING), ("index", _MISSING), ("sparse_grad", False)), args, kwargs)
    if b is None or not _int(b["dim"]) or not is_node(b["index"]) or not isinstance(b["sparse_grad"], bool):
        return None
    return Emit("gather", {"input": b["input"], "index": b["index"]}, {"dim": b["dim"]})


def index_select_entry(x: Any, entries: tuple, index: Any) -> Emit | None:
    """`x[:, :, idx]` with one 1-D integer index tensor after full slices only: index_select along its dim."""
    from irq.ir.types import IntegerType

    t = index.meta.get("irq_type") if is_node(index) else None
    if t is None or not isinstance(t.element_type, IntegerType) or t.element_type.width == 1 or len(t.shape) != 1:
        return None
    dim = len(entries) - 1
    if entries[-1] is not index or any(e != slice(None) for e in entries[:-1]):
        return None
    return Emit("index_select", {"input": x, "index": index}, {"dim": dim})


def _amax(spec: str):
    def h(args, kwargs):
        b = bind((("input", _MISSING), ("dim", ()), ("keepdim", False)), args, kwargs)
        dims = _int_list(b["dim"]) if b is not None else None
        if dims is None:
            return None
        return Emit(spec, {"input": b["input"]}, {"keepdim": bool(b["keepdim"]), **({"dim": dims} if dims else {})})

    return h


def _max_min(kind: str):
    """torch.max / torch.min (and the methods) by overload: of all entries (amax), over a dim (values and
    indices: max_dim), or of two tensors (maximum, element-wise)."""

    def h(args, kwargs):
        b = bind((("input", _MISSING), ("dim", _MISSING), ("keepdim", False)), args, kwargs)
        if b is not None and _int(b["dim"]):
            return Emit(f"{kind}_dim", {"input": b["input"]}, {"dim": b["dim"], "keepdim": bool(b["keepdim"])})
        b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
        if b is not None and is_node(b["other"]) and b["other"].meta.get("irq_kind") == "tensor":
            return Emit("maximum" if kind == "max" else "minimum", dict(b))
        b = bind((("input", _MISSING),), args, kwargs)
        return None if b is None else Emit(f"a{kind}", {"input": b["input"]}, {"keepdim": False})

    return h


def _reduced_count(shape: tuple[int, ...], dims: list[int] | None) -> int:
    dims = list(range(len(shape))) if not dims else [d % len(shape) for d in dims]
    return math.prod(shape[d] for d in set(dims))


def _variance(std: bool):
    """torch.var / torch.std (and the methods): `correction` (or the older `unbiased`) over `dim`."""

    def h(args, kwargs):
        kwargs = dict(kwargs)
        correction = kwargs.pop("correction", _MISSING)
        if len(args) == 2 and isinstance(args[1], bool):  # var(x, unbiased): the older overload
            b = bind((("input", _MISSING), ("unbiased", True)), args, kwargs)
            b = None if b is None else {**b, "dim": None, "keepdim": False}
        else:
            b = bind((("input", _MISSING), ("dim", None), ("unbiased", True), ("keepdim", False)), args, kwargs)
        if b is None or not isinstance(b["unbiased"], bool):
            return None
        c = (1 if b["unbiased"] else 0) if correction in (_MISSING, None) else correction
        dims = None if b["dim"] is None else _int_list(b["dim"])
        shape = _shape(b["input"])
        if (
            shape is None
            or (b["dim"] is not None and dims is None)
            or not isinstance(c, (int, float))
            or isinstance(c, bool)
        ):
            return None
        n = _reduced_count(shape, dims)
        if n - c <= 0:
            return None  # torch's inf / nan: keep the call
        dim_attr = {"dim": dims} if dims else {}
        chain = [
            Emit("mean", {"input": b["input"]}, {"keepdim": True, **dim_attr}),
            Emit("sub", {"input": b["input"], "other": PREV}),
            Emit("pow_scalar", {"input": PREV}, {"exponent": 2}),
            Emit("mean", {"input": PREV}, {"keepdim": bool(b["keepdim"]), **dim_attr}),
        ]
        if c:
            chain.append(Emit("mul_scalar", {"input": PREV}, {"other": n / (n - c)}))
        if std:
            chain.append(Emit("sqrt", {"input": PREV}))
        return chain

    return h


def _norm2(x: Any, dims: list[int] | None, keepdim: bool) -> list[Emit]:
    """sqrt(sum(x ** 2, dims)): the 2-norm torch.linalg.vector_norm computes for ord 2."""
    return [
        Emit("pow_scalar", {"input": x}, {"exponent": 2}),
        Emit("sum", {"input": PREV}, {"keepdim": keepdim, **({"dim": dims} if dims else {})}),
        Emit("sqrt", {"input": PREV}),
    ]


def _normalize(args, kwargs):
    """F.normalize with p = 2: x / max(||x||_2 over dim, eps) (its documented formula)."""
    b = bind((("input", _MISSING), ("p", 2.0), ("dim", 1), ("eps", 1e-12), ("out", None)), args, kwargs)
    if b is None or b["p"] != 2 or b["out"] is not None or not _int(b["dim"]) or not isinstance(b["eps"], (int, float)):
        return None
    return [
        *_norm2(b["input"], [b["dim"]], True),
        Emit("clamp", {"input": PREV}, {"min": float(b["eps"])}),
        Emit("div", {"input": b["input"], "other": PREV}),
    ]


def _vector_norm(args, kwargs):
    """aten.linalg_vector_norm (export's form of F.normalize's and torch.norm's 2-norm), ord 2 only."""
    b = bind((("input", _MISSING), ("ord", 2), ("dim", None), ("keepdim", False), ("dtype", None)), args, kwargs)
    if b is None or b["ord"] != 2 or b["dtype"] is not None:
        return None
    dims = None if b["dim"] is None else _int_list(b["dim"])
    if b["dim"] is not None and dims is None:
        return None
    return _norm2(b["input"], dims, bool(b["keepdim"]))


FUNCTIONS_BY_NAME = {
    "flip": _flip,
    "index_select": _index_select,
    "gather": _gather,
    "amax": _amax("amax"),
    "amin": _amax("amin"),
    "max": _max_min("max"),
    "min": _max_min("min"),
    "var": _variance(False),
    "std": _variance(True),
}
METHODS = {**FUNCTIONS_BY_NAME, "expand": _expand, "expand_as": _expand_as, "repeat": _repeat}


def aten_index(args, kwargs):
    """aten.index.Tensor(x, [None, ..., idx]): export's form of `x[:, idx]`, index_select along idx's dim."""
    b = bind((("input", _MISSING), ("indices", _MISSING)), args, kwargs)
    if b is None or not isinstance(b["indices"], (list, tuple)) or not b["indices"]:
        return None
    *before, index = b["indices"]
    if any(e is not None for e in before):
        return None
    return index_select_entry(b["input"], (*(slice(None),) * len(before), index), index)
