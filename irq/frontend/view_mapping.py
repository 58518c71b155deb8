"""Views and data movement: which torch calls become reshape / view / permute / transpose / squeeze /
unsqueeze / flatten / chunk / split / unbind / slice (narrow) ops, with their size lists (static ints mixed
with traced sizes, recorded as operands).

Split from irq.frontend.mapping (the table of every mapped callable), which imports these handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from irq.frontend.emit import _MISSING, Emit, bind, is_node


def _keeps_sizes(h: Callable) -> Callable:
    """Mark a handler that records traced sizes as operands itself (view/reshape shapes, resize sizes)."""
    h.keeps_sizes = True
    return h


def _shape_list(shape: Any, first: int = 1) -> tuple[list, list] | None:
    """A size list: static ints mixed with traced sizes (-> #torch.operand<i> refs from index `first`).

    A traced torch.Size (x.shape, x.size(), x.shape[-2:]) counts as one operand
    entry that the importer expands to its i64 values.
    """
    from irq.dialects.torch_values import OperandRefAttr
    out: list = []
    sizes: list = []
    n = first
    entries = [shape] if is_node(shape) and shape.meta.get("irq_kind") == "multi" else shape
    if not isinstance(entries, (list, tuple)):
        return None
    for s in entries:
        if is_node(s):
            kind = s.meta.get("irq_kind")
            if kind == "int":
                sizes.append(s)
                out.append(OperandRefAttr(n))
                n += 1
            elif kind == "multi" and all(str(t) == "i64" for t in s.meta["irq_type"]):
                sizes.append(s)
                for _ in s.meta["irq_type"]:
                    out.append(OperandRefAttr(n))
                    n += 1
            else:
                return None
        elif isinstance(s, int) and not isinstance(s, bool):
            out.append(s)
        else:
            return None
    return out, sizes


def _size_attr(entries: list):
    from irq.ir.attributes import ArrayAttr, IntegerAttr
    from irq.ir.types import i64
    return ArrayAttr(e if not isinstance(e, int) else IntegerAttr(e, i64) for e in entries)


def _reshape(spec: str, varargs: bool):
    @_keeps_sizes
    def h(args, kwargs):
        if len(args) < 1 or (kwargs and set(kwargs) != {"shape"}):
            return None
        x = args[0]
        shape = kwargs.get("shape", args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else
                           (args[1:] if varargs else args[1] if len(args) > 1 else None))
        if shape is None:
            return None
        r = _shape_list(shape)
        if r is None:
            return None
        shp, sizes = r
        return Emit(spec, {"input": x, "sizes": sizes}, {"shape": _size_attr(shp)})
    return h


def _dims(spec: str, varargs: bool):
    def h(args, kwargs):
        if kwargs and set(kwargs) != {"dims"}:
            return None
        dims = kwargs.get("dims") or (args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else
                                      list(args[1:]))
        if not all(isinstance(d, int) for d in dims):
            return None
        return Emit(spec, {"input": args[0]}, {"dims": list(dims)})
    return h


def _chunk(args, kwargs):
    b = bind((("input", _MISSING), ("chunks", _MISSING), ("dim", 0)), args, kwargs)
    return None if b is None else Emit("chunk", {"input": b["input"]}, {"chunks": b["chunks"], "dim": b["dim"]})


def _unbind(args, kwargs):
    b = bind((("input", _MISSING), ("dim", 0)), args, kwargs)
    return None if b is None or not isinstance(b["dim"], int) else Emit("unbind", {"input": b["input"]},
                                                                        {"dim": b["dim"]})


def _split(args, kwargs):
    b = bind((("input", _MISSING), ("split_size_or_sections", _MISSING), ("dim", 0)), args, kwargs) or \
        bind((("input", _MISSING), ("split_size", _MISSING), ("dim", 0)), args, kwargs)
    if b is None:
        return None
    s = b.get("split_size_or_sections", b.get("split_size"))
    return Emit("split", {"input": b["input"]}, {"split_size": list(s) if isinstance(s, (list, tuple)) else s,
                                                  "dim": b["dim"]})


def _unsqueeze(args, kwargs):
    b = bind((("input", _MISSING), ("dim", _MISSING)), args, kwargs)
    return None if b is None else Emit("unsqueeze", {"input": b["input"]}, {"dim": b["dim"]})


def _squeeze(args, kwargs):
    b = bind((("input", _MISSING), ("dim", None)), args, kwargs)
    if b is None:
        return None
    return Emit("squeeze", {"input": b["input"]}, {} if b["dim"] is None else {"dim": b["dim"]})


def _flatten(args, kwargs):
    b = bind((("input", _MISSING), ("start_dim", 0), ("end_dim", -1)), args, kwargs)
    return None if b is None else Emit("flatten", {"input": b["input"]},
                                       {"start_dim": b["start_dim"], "end_dim": b["end_dim"]})


def _transpose(args, kwargs):
    b = bind((("input", _MISSING), ("dim0", _MISSING), ("dim1", _MISSING)), args, kwargs)
    return None if b is None else Emit("transpose", {"input": b["input"]}, {"dim0": b["dim0"], "dim1": b["dim1"]})


def _swap(names: tuple[str, str]):
    """torch.swapaxes(input, axis0, axis1) / torch.swapdims(input, dim0, dim1): numpy's names for transpose."""
    def h(args, kwargs):
        b = bind((("input", _MISSING), (names[0], _MISSING), (names[1], _MISSING)), args, kwargs)
        return None if b is None else _transpose((b["input"], b[names[0]], b[names[1]]), {})
    return h


def _t(args, kwargs):
    """Tensor.t() / torch.t: the transpose of a matrix; a 0-D or 1-D tensor is returned as it is (a view)."""
    b = bind((("input", _MISSING),), args, kwargs)
    rank = b["input"].meta.get("irq_rank") if b is not None and is_node(b["input"]) else None
    if rank is None or rank > 2:
        return None  # torch raises for rank > 2: keep the call, which raises the same error when it runs
    if rank < 2:
        return Emit("identity", {"input": b["input"]})
    return Emit("transpose", {"input": b["input"]}, {"dim0": 0, "dim1": 1})


def _narrow(args, kwargs):
    """torch.narrow(input, dim, start, length) = input[..., start:start + length] along `dim` (hl.slice); a
    negative start counts from the end of a statically known dim."""
    b = bind((("input", _MISSING), ("dim", _MISSING), ("start", _MISSING), ("length", _MISSING)), args, kwargs)
    if b is None or not all(isinstance(b[k], int) and not isinstance(b[k], bool) for k in ("dim", "start", "length")):
        return None
    start, length = b["start"], b["length"]
    if start < 0:
        t = b["input"].meta.get("irq_type") if is_node(b["input"]) else None
        shape = getattr(t, "shape", None)
        size = shape[b["dim"]] if shape is not None and -len(shape) <= b["dim"] < len(shape) else None
        if not isinstance(size, int) or size < 0:
            return None
        start += size
    return Emit("slice", {"input": b["input"]}, {"dim": b["dim"], "start": start, "end": start + length, "step": 1})


def unflatten_emit(x: Any, dim: Any, sizes: Any, batch_axis: int = 0) -> Emit | None:
    """`x.unflatten(dim, sizes)` (nn.Unflatten, torch.unflatten) as a reshape whose batch entry is -1, so the
    reshape follows the batch as fx's `x.shape[0]` does; None (an opaque call) when `dim` is the batch axis
    or the input's type is not known. A -1 among `sizes` is resolved from the traced size of `dim`.
    `batch_axis`: the input's axis holding the batch (0 for fx; torch.export's symbolic shapes tell it, as
    nn.MultiheadAttention unflattens a sequence-first (L, N, 3E) projection)."""
    t = x.meta.get("irq_type") if is_node(x) else None
    shape = getattr(t, "shape", None)
    if shape is None or not isinstance(dim, int) or not isinstance(sizes, (list, tuple)):
        return None
    rank = len(shape)
    d = dim % rank if rank else 0
    if d == batch_axis or not all(isinstance(s, int) for s in sizes):
        return None
    if any(not isinstance(n, int) for i, n in enumerate(shape) if i != batch_axis):  # the batch's size may be unknown
        return None
    sizes = list(sizes)
    if sizes.count(-1) == 1:
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        sizes[sizes.index(-1)] = shape[d] // known
    out = [*shape[:d], *sizes, *shape[d + 1:]]
    out[batch_axis if batch_axis < d else batch_axis + len(sizes) - 1] = -1
    return Emit("reshape", {"input": x, "sizes": []}, {"shape": _size_attr(out)})


def _unflatten(args, kwargs):
    b = bind((("input", _MISSING), ("dim", _MISSING), ("sizes", _MISSING)), args, kwargs)
    return None if b is None else unflatten_emit(b["input"], b["dim"], b["sizes"])
