"""Shape rules of issue 12's selections and broadcasts (flip, expand, repeat, index_select, amax/amin and
max/min over a dim): torch's documented result shapes, kept apart from `_shapes.py`'s table so each new op's
rule reads in one place.
"""

from __future__ import annotations

from irq.dialects._opspec import ShapeError
from irq.dialects._shapes import int_attr, ints, norm_dim, reduce, shape_of

from irq.ir.attributes import ArrayAttr, IntegerAttr
from irq.ir.opdef import Op


def flip(op: Op):
    """Same shape; every dim in `dims` must exist and appear once (torch refuses repeats)."""
    x = shape_of(op.operands[0])
    dims = [norm_dim(d, len(x)) for d in ints(op, "dims") or []]
    if len(set(dims)) != len(dims):
        raise ShapeError(f"dims {dims} name a dimension twice")
    return [x]


def expand(op: Op):
    """Tensor.expand: new leading dims take their size; -1 keeps a dim; a size-1 dim broadcasts to any size,
    another must stay as it is. Traced sizes (#torch.operand<i>): nothing to check here."""
    x = shape_of(op.operands[0])
    a = op.get_attr("shape")
    if not isinstance(a, ArrayAttr) or any(not isinstance(e, IntegerAttr) for e in a):
        return None
    target = [e.value for e in a]
    lead = len(target) - len(x)
    if lead < 0:
        raise ShapeError(f"expand to {target} has fewer dims than the input's {list(x)}")
    out = []
    for i, t in enumerate(target):
        if i < lead:
            if t < 0:
                raise ShapeError(f"expand's new leading dim {i} cannot be {t}")
            out.append(t)
            continue
        s = x[i - lead]
        if t == -1 or t == s:
            out.append(s)
        elif s == 1 and t >= 0:
            out.append(t)
        else:
            raise ShapeError(f"cannot expand dim {i} of size {s} to {t} (only size-1 dims broadcast)")
    return [tuple(out)]


def expand_as(op: Op):
    """Tensor.expand_as: other's shape, which the input must broadcast to."""
    x, other = shape_of(op.operands[0]), shape_of(op.operands[1])
    lead = len(other) - len(x)
    if lead < 0 or any(s not in (1, t) for s, t in zip(x, other[lead:])):
        raise ShapeError(f"cannot expand {list(x)} to {list(other)}")
    return [tuple(other)]


def repeat(op: Op):
    """Tensor.repeat: one repeat per dim, extra leading repeats add dims."""
    x = shape_of(op.operands[0])
    reps = ints(op, "repeats") or []
    if len(reps) < len(x) or any(r < 0 for r in reps):
        raise ShapeError(f"repeats {reps} must be non-negative and at least one per dim of {list(x)}")
    lead = len(reps) - len(x)
    return [tuple(reps[:lead]) + tuple(s * r for s, r in zip(x, reps[lead:]))]


def index_select(op: Op):
    """The dim `dim` takes the index tensor's length (a 1-D or 0-D index)."""
    x, idx = shape_of(op.operands[0]), shape_of(op.operands[1])
    if idx is None or len(idx) > 1:
        raise ShapeError(f"index_select needs a 1-D index, got shape {list(idx or ())}")
    d = norm_dim(int_attr(op, "dim"), len(x))
    return [tuple((idx[0] if idx else 1) if i == d else s for i, s in enumerate(x))]


def gather(op: Op):
    """torch.gather: the index's shape; same rank as the input, and index.size(d) <= input.size(d) for every
    d but `dim` (torch's documented rule)."""
    x, idx = shape_of(op.operands[0]), shape_of(op.operands[1])
    if x is None or idx is None:
        return None
    if len(idx) != len(x):
        raise ShapeError(f"gather needs an index of the input's rank {len(x)}, got shape {list(idx)}")
    d = norm_dim(int_attr(op, "dim"), len(x))
    if any(i > s for k, (i, s) in enumerate(zip(idx, x)) if k != d):
        raise ShapeError(f"gather's index {list(idx)} is larger than the input {list(x)} outside dim {d}")
    return [tuple(idx)]


def reduce_pair(op: Op):
    """max/min over one dim: the values and their i64 indices, both of the reduced shape."""
    out = reduce(op)[0]
    return [out, out]
