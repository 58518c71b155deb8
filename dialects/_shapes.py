"""Shape rules for the torch/hl tensor ops (result shapes from operand shapes and attributes).

Each rule returns the expected shape of every result, or None where it cannot be
sure (then the verifier checks nothing). Formulas follow the torch.nn docs for
each op (Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d shape sections).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from irq.dialects._opspec import ShapeError
from irq.dialects.torch_values import EllipsisAttr, SliceAttr

from irq.ir.attributes import ArrayAttr, FloatAttr, IntegerAttr, StringAttr, UnitAttr
from irq.ir.opdef import Op
from irq.ir.types import ShapedType


def shape_of(v) -> tuple[int, ...] | None:
    t = v.type
    if isinstance(t, ShapedType) and t.has_static_shape:
        return tuple(t.shape)
    return None


def ints(op: Op, name: str, n: int | None = None, default: Sequence[int] | None = None) -> list[int] | None:
    a = op.get_attr(name)
    if a is None:
        return None if default is None else list(default)
    if isinstance(a, IntegerAttr):
        vals = [a.value]
    elif isinstance(a, ArrayAttr):
        if not all(isinstance(x, IntegerAttr) for x in a):
            return None
        vals = [x.value for x in a]
    else:
        return None
    if n is not None and len(vals) == 1 and n > 1:
        vals = vals * n
    return vals


def int_attr(op: Op, name: str, default: int | None = None) -> int | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, IntegerAttr) else default


def norm_dim(d: int, rank: int) -> int:
    """`d` wrapped into [0, rank), as torch wraps dims: a 0-d tensor takes -1 and 0, as if it had rank 1."""
    if not -max(rank, 1) <= d < max(rank, 1):
        raise ShapeError(f"dim {d} is out of range for rank {rank}")
    return d % rank if rank else 0


def existing_dim(d: int, rank: int) -> int:
    """`d` wrapped into [0, rank) for an op that reads a dimension's size (chunk, split, unbind, select,
    slice, roll along dims): a 0-d tensor has none, and torch refuses it even for -1 and 0 ("chunk expects at
    least a 1-dimensional tensor", "select() cannot be applied to a 0-dim tensor")."""
    if rank == 0:
        raise ShapeError(f"needs a tensor of rank >= 1: a 0-d tensor has no dim {d}")
    return norm_dim(d, rank)


# -- rules ----------------------------------------------------------------------------------------
def same_as_input(op: Op):
    return [shape_of(op.operands[0])]


def same_along_dim(op: Op):
    """The input's shape, for an op along `dim` (softmax, log_softmax, cumsum): the dim must exist, as torch's
    "Dimension out of range" requires (a 0-d input takes -1 or 0, as in torch)."""
    x = shape_of(op.operands[0])
    if x is not None:
        norm_dim(int_attr(op, "dim", 0), len(x))
    return [x]


def dropout(op: Op):
    """The input's shape; `p` must be a probability, as torch requires ("dropout probability has to be between 0
    and 1"): fuse reads p <= 0 as "never drops" and would misplace a negative one."""
    p = op.get_attr("p")
    if isinstance(p, FloatAttr) and not 0.0 <= p.value <= 1.0:
        raise ShapeError(f"dropout probability has to be between 0 and 1, got {p.value}")
    return [shape_of(op.operands[0])]


def roll(op: Op):
    """The input's shape; `dims` (each in range) pair up with `shifts`, or without them (or with none) one shift
    rolls the flattened tensor (torch.roll's rules)."""
    x = shape_of(op.operands[0])
    shifts, dims = ints(op, "shifts"), ints(op, "dims")
    if not dims:  # absent, or empty as aten.roll's default: the flattened tensor
        if shifts is not None and len(shifts) != 1:
            raise ShapeError(f"roll without dims takes one shift, got {len(shifts)}")
    elif shifts is not None and len(dims) != len(shifts):
        raise ShapeError(f"roll needs one shift per dim, got {len(shifts)} shifts for {len(dims)} dims")
    elif x is not None:
        for d in dims:
            existing_dim(d, len(x))
    return [x]


def broadcast(op: Op):
    shapes = [shape_of(v) for v in op.operands if isinstance(v.type, ShapedType)]
    if any(s is None for s in shapes):
        return None
    return [broadcast_shapes(*shapes)]


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def conv(nd: int):
    def rule(op: Op):
        x, w = shape_of(op.operands[0]), shape_of(op.operands[1])
        if len(x) != nd + 2 and len(x) != nd + 1:
            raise ShapeError(f"input must have rank {nd + 2} (or {nd + 1} unbatched), got {len(x)}")
        if len(w) != nd + 2:
            raise ShapeError(f"weight must have rank {nd + 2}, got {len(w)}")
        groups = int_attr(op, "groups", 1)
        cin = x[-nd - 1]
        if cin != w[1] * groups:
            raise ShapeError(f"input has {cin} channels, weight expects {w[1] * groups} ({w[1]} x {groups} groups)")
        if w[0] % groups:
            raise ShapeError(f"{w[0]} output channels are not divisible by {groups} groups")
        if op.bias is not None:
            b = shape_of(op.bias)
            if b is not None and b != (w[0],):
                raise ShapeError(f"bias must have shape [{w[0]}], got {list(b)}")
        stride = ints(op, "stride", nd, [1] * nd)
        dilation = ints(op, "dilation", nd, [1] * nd)
        pad_attr = op.get_attr("padding")
        spatial = x[-nd:]
        if isinstance(pad_attr, StringAttr):
            if pad_attr.value == "same":
                out_sp = list(spatial)
            elif pad_attr.value == "valid":
                out_sp = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(spatial, w[2:], stride, dilation)]
            else:
                raise ShapeError(f"padding must be 'same', 'valid' or integers, got '{pad_attr.value}'")
        else:
            pad = ints(op, "padding", nd, [0] * nd)
            out_sp = [(s + 2 * p - d * (k - 1) - 1) // st + 1
                      for s, p, k, st, d in zip(spatial, pad, w[2:], stride, dilation)]
        if any(o <= 0 for o in out_sp):
            raise ShapeError(f"output size {out_sp} is too small")
        return [(*x[:-nd - 1], w[0], *out_sp)]
    return rule


def conv_transpose(nd: int):
    def rule(op: Op):
        x, w = shape_of(op.operands[0]), shape_of(op.operands[1])
        groups = int_attr(op, "groups", 1)
        if x[-nd - 1] != w[0]:
            raise ShapeError(f"input has {x[-nd - 1]} channels, weight expects {w[0]}")
        stride = ints(op, "stride", nd, [1] * nd)
        pad = ints(op, "padding", nd, [0] * nd)
        outpad = ints(op, "output_padding", nd, [0] * nd)
        dilation = ints(op, "dilation", nd, [1] * nd)
        out_sp = [(s - 1) * st - 2 * p + d * (k - 1) + op_ + 1
                  for s, st, p, d, k, op_ in zip(x[-nd:], stride, pad, dilation, w[2:], outpad)]
        return [(*x[:-nd - 1], w[1] * groups, *out_sp)]
    return rule


def linear(op: Op):
    x, w = shape_of(op.operands[0]), shape_of(op.operands[1])
    if len(w) != 2:
        raise ShapeError(f"weight must have rank 2, got {len(w)}")
    if x[-1] != w[1]:
        raise ShapeError(f"input has {x[-1]} features, weight expects {w[1]}")
    if op.bias is not None and shape_of(op.bias) not in (None, (w[0],)):
        raise ShapeError(f"bias must have shape [{w[0]}], got {list(shape_of(op.bias))}")
    return [(*x[:-1], w[0])]


def matmul(op: Op):
    a, b = shape_of(op.operands[0]), shape_of(op.operands[1])
    if not a or not b:
        raise ShapeError("matmul operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(f"contracting dimensions differ: {a2[-1]} vs {b2[-2]}")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    out = [*batch, a2[-2], b2[-1]]
    if len(a) == 1:
        del out[-2]
    if len(b) == 1:
        del out[-1]
    return [tuple(out)]


def bmm(op: Op):
    a, b = shape_of(op.operands[0]), shape_of(op.operands[1])
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise ShapeError(f"bmm needs [b, n, m] x [b, m, p], got {list(a)} x {list(b)}")
    return [(a[0], a[1], b[2])]


def cat(op: Op):
    shapes = [shape_of(v) for v in op.operands]
    if not shapes:
        raise ShapeError("cat needs at least one tensor")
    rank = len(shapes[0])
    d = norm_dim(int_attr(op, "dim", 0), rank)
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != d):
            raise ShapeError(f"cannot concatenate shapes {[list(x) for x in shapes]} along dim {d}")
    out = list(shapes[0])
    out[d] = sum(s[d] for s in shapes)
    return [tuple(out)]


def stack(op: Op):
    shapes = [shape_of(v) for v in op.operands]
    if not shapes or any(s != shapes[0] for s in shapes):
        raise ShapeError(f"stack needs tensors of equal shape, got {[list(x) for x in shapes]}")
    d = norm_dim(int_attr(op, "dim", 0), len(shapes[0]) + 1)
    out = list(shapes[0])
    out.insert(d, len(shapes))
    return [tuple(out)]


def flatten(op: Op):
    x = shape_of(op.operands[0])
    if not x:
        return [(1,)]
    s = norm_dim(int_attr(op, "start_dim", 0), len(x))
    e = norm_dim(int_attr(op, "end_dim", -1), len(x))
    return [(*x[:s], math.prod(x[s:e + 1]), *x[e + 1:])]


def reshape(op: Op):
    x = shape_of(op.operands[0])
    a = op.get_attr("shape")
    if not isinstance(a, ArrayAttr) or any(not isinstance(e, IntegerAttr) for e in a):
        return None  # dynamic entries: checked against the element count only
    target = [e.value for e in a]
    n = math.prod(x)
    if target.count(-1) > 1:
        raise ShapeError("only one dimension can be -1")
    if any(d < -1 for d in target):  # torch: "invalid shape dimension -2"
        raise ShapeError(f"invalid shape dimension {min(target)} in {target}")
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or n % known:
            raise ShapeError(f"cannot reshape {list(x)} into {target}")
        target[target.index(-1)] = n // known
    elif known != n:
        raise ShapeError(f"cannot reshape {list(x)} ({n} elements) into {target}")
    return [tuple(target)]


def permute(op: Op):
    x = shape_of(op.operands[0])
    dims = [norm_dim(d, len(x)) for d in ints(op, "dims")]
    if sorted(dims) != list(range(len(x))):
        raise ShapeError(f"dims {dims} are not a permutation of {len(x)} dimensions")
    return [tuple(x[d] for d in dims)]


def transpose(op: Op):
    x = list(shape_of(op.operands[0]))
    a = norm_dim(int_attr(op, "dim0"), len(x))
    b = norm_dim(int_attr(op, "dim1"), len(x))
    x[a], x[b] = x[b], x[a]
    return [tuple(x)]


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    # torch.nn.MaxPool2d / AvgPool2d shape formula, including the ceil_mode rule that the
    # last window must start inside the input or left padding.
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool2d(op: Op):
    x = shape_of(op.operands[0])
    k = ints(op, "kernel_size", 2)
    s = ints(op, "stride", 2) or k
    if not s:
        s = k
    p = ints(op, "padding", 2, [0, 0])
    d = ints(op, "dilation", 2, [1, 1])
    ceil = bool(getattr(op.get_attr("ceil_mode"), "value", False))
    out = [_pool_out(x[-2 + i], k[i], s[i], p[i], d[i], ceil) for i in range(2)]
    return [(*x[:-2], *out)]


def adaptive_pool2d(op: Op):
    x = shape_of(op.operands[0])
    a = op.get_attr("output_size")
    vals = [None if not isinstance(e, IntegerAttr) else e.value for e in a] if isinstance(a, ArrayAttr) else None
    if vals is None:
        return None
    if len(vals) == 1:
        vals = vals * 2
    return [(*x[:-2], *(x[-2 + i] if v is None or v < 0 else v for i, v in enumerate(vals)))]


def reduce(op: Op):
    x = shape_of(op.operands[0])
    dims = ints(op, "dim")
    keep = bool(getattr(op.get_attr("keepdim"), "value", False))
    if not dims:  # no dim, or an empty one (`x.sum(dim=())`): torch reduces every dim
        dims = list(range(len(x)))
    dims = {norm_dim(d, len(x)) for d in dims}
    if keep:
        return [tuple(1 if i in dims else s for i, s in enumerate(x))]
    return [tuple(s for i, s in enumerate(x) if i not in dims)]


def interpolate(op: Op):
    x = shape_of(op.operands[0])
    nd = len(x) - 2
    if op.get_attr("size") is not None:
        size = ints(op, "size", nd)
        return None if size is None else [(*x[:2], *size)]
    sf = op.get_attr("scale_factor")
    if isinstance(sf, ArrayAttr):
        f = [e.value for e in sf]
        if len(f) == 1:
            f = f * nd
        return [(*x[:2], *(math.floor(s * k) for s, k in zip(x[2:], f)))]
    raise ShapeError("interpolate needs 'size' or 'scale_factor'")


def pad(op: Op):
    x = list(shape_of(op.operands[0]))
    p = ints(op, "pad")
    if len(p) % 2 or len(p) // 2 > len(x):
        raise ShapeError(f"pad list {p} has the wrong length for rank {len(x)}")
    for i in range(len(p) // 2):
        x[-1 - i] += p[2 * i] + p[2 * i + 1]
    return [tuple(x)]


def batch_norm_check(op: Op):
    """batch_norm and instance_norm (`_norm_check`)."""
    return _norm_check(op, "batch_norm")


def layer_norm_check(op: Op):
    return _norm_check(op, "layer_norm")


def group_norm_check(op: Op):
    return _norm_check(op, "group_norm")


def _norm_check(op: Op, name: str):
    """batch_norm / instance_norm / layer_norm / group_norm: the output has the input's shape, and every
    parameter present has the size torch requires of it (torch.nn.functional's checks: per-channel
    statistics and affine parameters hold C values; layer_norm's are `normalized_shape`, which ends the
    input's shape; group_norm's groups divide C). Without these checks a hand-written module with a
    mis-sized running_var verified and failed only when run, in torch's words, without the op's line.
    Like every shape rule it runs on static operand shapes only (dialects/_opspec.py); with a dynamic
    batch, fuse still refuses to fold statistics that do not match the conv's channels. The kind is passed
    in, not read from the op: the frontend's static shape inference calls rules with a view of a call that
    has operands, attributes and `bias` only (irq/frontend/shapes.py), so there only `bias` is checked."""
    x = shape_of(op.operands[0])
    if name == "layer_norm":
        normalized = tuple(ints(op, "normalized_shape") or ())
        if len(normalized) > len(x) or tuple(x[len(x) - len(normalized):]) != normalized:
            raise ShapeError(f"normalized_shape {list(normalized)} is not the end of the input shape {list(x)}")
        _param_sizes(op, ("weight", "bias"), normalized, exact=True)
        return [x]
    if len(x) < 2:
        raise ShapeError(f"{name} needs an input of rank >= 2 (N, C, ...), got {list(x)}")
    channels = x[1]
    if name == "group_norm":
        groups = int_attr(op, "num_groups")
        if groups is not None and (groups <= 0 or channels % groups):
            raise ShapeError(f"{channels} channels are not divisible by num_groups = {groups}")
        _param_sizes(op, ("weight", "bias"), (channels,), exact=False)
        return [x]
    _param_sizes(op, ("running_mean", "running_var", "weight", "bias"), (channels,), exact=False)
    return [x]


def _param_sizes(op: Op, names: Sequence[str], want: tuple[int, ...], exact: bool) -> None:
    """Each present operand of `names` has shape `want` (exact) or `math.prod(want)` elements, as torch asks."""
    for pname in names:
        value = getattr(op, pname, None)
        got = None if value is None else shape_of(value)
        if got is None:
            continue
        if got != want if exact else math.prod(got) != math.prod(want):
            what = f"shape {list(want)}" if exact else f"{math.prod(want)} elements (one per channel)"
            raise ShapeError(f"{pname} must have {what}, got shape {list(got)}")


def _pieces(op: Op, x: tuple[int, ...], d: int, size: int, count: int) -> list[tuple[int, ...]]:
    """`count` pieces of `size` along `d`, the last one holding what is left.

    The count is computed and checked against the op's results before any piece is built: a
    hostile `chunks = -1` once made the old enumerating loop run (and allocate) forever, and a
    dimension of 2**62 split by 1 must be a one-line error, not a list of 2**62 shapes."""
    _check_count(op, count)
    last = x[d] - size * (count - 1)
    return [tuple((size if k < count - 1 else last) if i == d else s for i, s in enumerate(x))
            for k in range(count)]


def _check_count(op: Op, count: int) -> None:
    """The op's result count must be `count`. The frontend's static shape inference asks with a view
    of a call that has no results yet (its pieces are counted from a real tensor, so bounded)."""
    results = getattr(op, "results", None)
    if results is not None and count != len(results):
        raise ShapeError(f"expected {count} result(s), got {len(results)}")


def chunk(op: Op):
    """torch.chunk: pieces of ceil(L / chunks) along `dim`, the last one smaller (so fewer than
    `chunks` pieces may come out: 5 in 4 chunks is 2, 2, 1); a dimension of size 0 gives `chunks`
    empty pieces."""
    x = shape_of(op.operands[0])
    d = existing_dim(int_attr(op, "dim", 0), len(x))
    n = int_attr(op, "chunks")
    if n is None:
        return None
    if n <= 0:
        raise ShapeError(f"chunk expects `chunks` to be greater than 0, got {n}")
    if x[d] == 0:
        _check_count(op, n)
        return [x] * n
    size = -(-x[d] // n)
    return _pieces(op, x, d, size, -(-x[d] // size))


def unbind(op: Op):
    """torch.unbind: one result per index along `dim`, each without that dim."""
    x = shape_of(op.operands[0])
    if x is None:
        return None
    d = existing_dim(int_attr(op, "dim", 0), len(x))
    _check_count(op, x[d])
    return [tuple(x[:d] + x[d + 1:])] * x[d]


def split(op: Op):
    """torch.split: pieces of `split_size` (the last one smaller), or the listed sizes, which must
    add up to the dimension; split_size 0 only splits a dimension of size 0 (into one piece)."""
    x = shape_of(op.operands[0])
    d = existing_dim(int_attr(op, "dim", 0), len(x))
    a = op.get_attr("split_size")
    if isinstance(a, IntegerAttr):
        size = a.value
        if size < 0:
            raise ShapeError(f"split expects split_size be non-negative, got {size}")
        if size == 0:
            if x[d] != 0:
                raise ShapeError(f"split_size can only be 0 if dimension size is 0, got dimension size {x[d]}")
            return _pieces(op, x, d, 0, 1)
        return _pieces(op, x, d, size, max(1, -(-x[d] // size)))
    sizes = ints(op, "split_size")
    if sizes is None:
        return None
    if sum(sizes) != x[d] or any(k < 0 for k in sizes):
        raise ShapeError(f"split sizes {sizes} do not add up to {x[d]}")
    return [tuple(k if i == d else s for i, s in enumerate(x)) for k in sizes]


def unsqueeze(op: Op):
    x = shape_of(op.operands[0])
    d = norm_dim(int_attr(op, "dim"), len(x) + 1)
    return [(*x[:d], 1, *x[d:])]


def squeeze(op: Op):
    """All size-1 dims, or the given ones (a given dim that is not 1 stays, as in torch)."""
    x = shape_of(op.operands[0])
    dims = ints(op, "dim")
    drop = {i for i, s in enumerate(x) if s == 1} if dims is None else \
        {d for d in (norm_dim(d, len(x)) for d in dims) if d < len(x) and x[d] == 1}  # a 0-d input stays 0-d
    return [tuple(s for i, s in enumerate(x) if i not in drop)]


def _slice_len(size: int, start: int | None, stop: int | None, step: int | None) -> int:
    if step is not None and step <= 0:
        raise ShapeError(f"slice step must be positive, got {step}")
    return len(range(*slice(start, stop, step).indices(size)))


def slice_(op: Op):
    x = list(shape_of(op.operands[0]))
    d = existing_dim(int_attr(op, "dim"), len(x))
    x[d] = _slice_len(x[d], int_attr(op, "start"), int_attr(op, "end"), int_attr(op, "step", 1))
    return [tuple(x)]


def select(op: Op):
    x = list(shape_of(op.operands[0]))
    d = existing_dim(int_attr(op, "dim"), len(x))
    i = int_attr(op, "index")
    if not -x[d] <= i < x[d]:
        raise ShapeError(f"index {i} is out of range for dim {d} of size {x[d]}")
    del x[d]
    return [tuple(x)]


def embedding(op: Op):
    x, w = shape_of(op.operands[0]), shape_of(op.operands[1])
    if len(w) != 2:
        raise ShapeError(f"weight must have rank 2, got {len(w)}")
    return [(*x, w[1])]


def getitem(op: Op):
    """Basic indexing (ints, slices, None, Ellipsis) as torch computes it; index tensors: not checked."""
    x = shape_of(op.operands[0])
    index = op.get_attr("index")
    if len(op.operands) > 1 or not isinstance(index, ArrayAttr):
        return None
    entries = list(index)
    consumed = sum(isinstance(e, (IntegerAttr, SliceAttr)) for e in entries)
    if consumed > len(x):
        raise ShapeError(f"too many indices ({consumed}) for a tensor of rank {len(x)}")
    out: list[int] = []
    d = 0
    for e in entries:
        if isinstance(e, UnitAttr):
            out.append(1)
        elif isinstance(e, EllipsisAttr):
            k = len(x) - consumed
            out.extend(x[d:d + k])
            d += k
        elif isinstance(e, IntegerAttr):
            if not -x[d] <= e.value < x[d]:
                raise ShapeError(f"index {e.value} is out of range for dim {d} of size {x[d]}")
            d += 1
        elif isinstance(e, SliceAttr):
            out.append(_slice_len(x[d], e.start, e.stop, e.step))
            d += 1
        else:
            return None
    out.extend(x[d:])
    return [tuple(out)]


def topk(op: Op):
    x = shape_of(op.operands[0])
    d = norm_dim(int_attr(op, "dim", -1), len(x))
    k = int_attr(op, "k")
    size = x[d] if x else 1
    if not 0 <= k <= size:
        raise ShapeError(f"k = {k} is out of range for dim {d} of size {size}")
    out = tuple(k if i == d else s for i, s in enumerate(x))
    return [out, out]


def pixel_shuffle(op: Op):
    x = shape_of(op.operands[0])
    r = int_attr(op, "upscale_factor")
    if len(x) < 3 or r <= 0 or x[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle needs rank >= 3 and channels divisible by {r}*{r}, got {list(x)}")
    return [(*x[:-3], x[-3] // (r * r), x[-2] * r, x[-1] * r)]


def pixel_unshuffle(op: Op):
    x = shape_of(op.operands[0])
    r = int_attr(op, "downscale_factor")
    if len(x) < 3 or r <= 0 or x[-2] % r or x[-1] % r:
        raise ShapeError(f"pixel_unshuffle needs rank >= 3 and height, width divisible by {r}, got {list(x)}")
    return [(*x[:-3], x[-3] * r * r, x[-2] // r, x[-1] // r)]
