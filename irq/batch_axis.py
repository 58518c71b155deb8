"""Where the batch lives in each value of a bpu function, so a program traced at one batch size runs at another.

IR types are static: they hold the traced batch B. Every input leads with it, but a transformer moves
it: a ViT's `qkv.reshape(b, n, 3, h, d).permute(2, 0, 3, 1, 4)` puts it second, and a reshape may
merge it with other dimensions, before it (`nn.MultiheadAttention`'s `[L, N, E] -> [L * N, E]` and
`[L, N * heads, d]`) or after it (`(B, N, C) -> (B * N, C)`). `BatchAxes` follows the batch from the
inputs through the function once: each value gets the axis holding it, as ``outer * B * factor`` (the
batch index is the middle factor of that axis), so a value at batch B' is sized ``outer * B' * factor``
there. Values computed from constants alone have none. A value whose batch cannot be followed (a
slice or concat along it, a reshape that splits it, a linear that would reduce over it) is recorded
with the op that lost it, and sizing it at another batch raises `BatchNotFollowed` naming that op
and its line.

Both runtimes use this one rule: the numba planner sizes its buffers with it (runtime/numba/batch.py)
and the reference runtime retypes the function at the run's batch (`retype_at_batch`). They stay
independent where it matters, the arithmetic; a wrong rule here would mix samples in both, which the
tests catch against torch's VALIDATION at other batches, an oracle that shares none of this.

At a traced batch of 1 a reshape is read the way a dynamic-batch trace writes it (`view(x.size(0),
...)` / `flatten`): the batch is the outermost factor of the group of dimensions it falls in. The
export frontend checks a batch-1 export's symbolic shapes against the same rule (irq/frontend/export.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from irq.diagnostics import location_prefix


@dataclass(frozen=True)
class Axis:
    """The batch lives on `axis`, whose traced size is ``outer * B * factor`` (row-major: `outer` blocks,
    each holding the B samples' `factor`-element runs)."""

    axis: int
    factor: int = 1
    outer: int = 1

    def size(self, batch: int) -> int:
        return self.outer * batch * self.factor


def reshape_axes(src: tuple[int, ...], dst: tuple[int, ...], a: Axis, batch: int) -> list[Axis]:
    """Every reading of the batch's axis after a row-major reshape `src -> dst`, the preferred first; empty
    when the reshape splits the batch.

    Flattened, the source is ``P x B x S`` with ``P = prod(src[:axis]) * outer`` and
    ``S = factor * prod(src[axis+1:])``. A destination dimension b whose prefix ``prod(dst[:b])``
    divides P and whose suffix ``prod(dst[b+1:])`` divides S holds the batch index as its middle factor
    (``dst[b] = (P / prefix) * B * (S / suffix)``), and scaling that factor with the batch is the same
    reshape at any batch size. For B >= 2 at most one b qualifies (a later prefix exceeds P * B). At
    B = 1 size-1 dimensions and merges tie: those whose prefix equals P (the batch outermost in its
    group, what a dynamic-batch trace writes) come first, in dimension order.
    """
    outer_p = prod(src[:a.axis]) * a.outer
    inner_s = a.factor * prod(src[a.axis + 1:])
    found: list[Axis] = []
    acc = 1
    for b, d in enumerate(dst):
        suffix = prod(dst[b + 1:])
        if outer_p % acc == 0 and inner_s % suffix == 0 and d == (outer_p // acc) * batch * (inner_s // suffix):
            found.append(Axis(b, inner_s // suffix, outer_p // acc))
        if acc > outer_p:
            break
        acc *= d
    return sorted(found, key=lambda c: c.outer != 1)


def reshape_axis(src: tuple[int, ...], dst: tuple[int, ...], a: Axis, batch: int) -> Axis | None:
    """The preferred reading of `reshape_axes`, or None when the reshape splits the batch."""
    found = reshape_axes(src, dst, a, batch)
    return found[0] if found else None


#: ops whose batch must stay on dimension 0 unmerged (NCHW kernels laid out per image)
_IMAGE_OPS = frozenset({"bpu.conv2d", "bpu.conv_transpose2d", "bpu.max_pool2d", "bpu.avg_pool2d",
                        "bpu.global_avg_pool", "bpu.resize"})

#: a slice end at or past this is open-ended (`x[:, 0]` lowers its `:` to start 0, end INT64_MAX)
_OPEN_END = 2**62


def _ints(op, name: str) -> list[int]:
    a = op.get_attr(name)
    if hasattr(a, "value") and isinstance(a.value, int):
        return [a.value]
    return [int(getattr(x, "value", x)) for x in a]


def _attr(op, name: str, default=None):
    a = op.get_attr(name)
    return default if a is None else getattr(a, "value", a)


def _open_slice(op) -> bool:
    """Whether a bpu.slice keeps every index of its dimension whatever its size (start 0, step 1, open end)."""
    return (_attr(op, "start", 0) or 0) == 0 and (_attr(op, "step", 1) or 1) == 1 and \
        (_attr(op, "end") is None or _attr(op, "end") >= _OPEN_END)


def _shape(v) -> tuple[int, ...] | None:
    shape = getattr(v.type, "shape", None)
    return tuple(shape) if shape is not None else None


class BatchNotFollowed(ValueError):
    """A value's batch was lost (a slice along it, a reshape that splits it...): the program only runs at
    its traced batch. The message names the op and its line."""


class BatchAxes:
    """The batch axis of every value of one function (see the module docstring)."""

    #: the batch on dimension 0, one sample per index: what the inputs hold
    leading = Axis(0)

    def __init__(self, block, batch: int | None):
        self.batch = batch
        self.axes: dict[object, Axis | None] = {}  # None: computed from constants only
        self.lost: dict[object, object] = {}  # value -> the op where its batch could not be followed
        #: at a traced batch of 1 a reshape can have several readings (`reshape_axes`): the one taken per op
        self._choice: dict[object, int] = {}
        self._readings: dict[object, int] = {}  # reshape op -> how many readings it has
        self._contradiction = None  # the first op that would contract over the batch or mix two readings of it
        if batch is None:
            return
        ops = list(block.ops)
        index = {op: i for i, op in enumerate(ops)}
        for _ in range(4 * len(ops) + 1):
            self._follow(block)
            if self._contradiction is None:
                return
            # the latest ambiguous reshape before the contradiction takes its next reading (models never reduce
            # over the batch, so that reading was wrong); none left: the batch stays lost there (an error)
            before = [op for op, n in self._readings.items()
                      if index[op] < index[self._contradiction] and self._choice.get(op, 0) + 1 < n]
            if not before:
                return
            op = max(before, key=index.__getitem__)
            self._choice[op] = self._choice.get(op, 0) + 1
            for later in [o for o in self._choice if index[o] > index[op]]:
                del self._choice[later]

    def _follow(self, block) -> None:
        self.axes.clear()
        self.lost.clear()
        self._readings.clear()
        self._contradiction = None
        for arg in block.args:
            self.axes[arg] = Axis(0) if _shape(arg) else None
        for op in block.ops:
            for r in op.results:
                self._visit(op, r)

    def _lose(self, r, op, contradiction: bool = False) -> None:
        self.lost[r] = op
        if contradiction and self._contradiction is None:
            self._contradiction = op

    def _visit(self, op, r) -> None:
        lost = [v for v in op.operands if v in self.lost]
        if lost:
            self.lost[r] = self.lost[lost[0]]
            return
        batched = [(v, self.axes.get(v)) for v in op.operands if self.axes.get(v) is not None]
        if op.name == "bpu.constant" or not batched:
            self.axes[r] = None
            return
        rs = _shape(r)
        if rs is None:
            return self._lose(r, op)
        v0, a0 = batched[0]
        if op.name == "bpu.permute":
            dims = [d % len(rs) for d in _ints(op, "dims")]
            self.axes[r] = Axis(dims.index(a0.axis), a0.factor, a0.outer)
            return
        if op.name == "bpu.embedding":  # the gathered rows append one dimension to the indices' shape
            self.axes[r] = a0
            return
        if op.name == "bpu.reshape":
            if _attr(op, "batch_lost", False):  # the model's reshape resizes another dim (_lower_reshape_batch)
                return self._lose(r, op)
            readings = reshape_axes(_shape(v0), rs, a0, self.batch)
            if len(readings) > 1:
                self._readings[op] = len(readings)
            if not readings:
                return self._lose(r, op)
            self.axes[r] = readings[min(self._choice.get(op, 0), len(readings) - 1)]
            return
        if op.name == "bpu.slice" and _attr(op, "dim") % len(rs) == a0.axis and not _open_slice(op):
            return self._lose(r, op)  # a slice of the samples (x[0:1] at batch 1 included: its end is literal)
        if op.name == "bpu.concat" and _attr(op, "dim") % len(rs) == a0.axis:
            return self._lose(r, op)
        if op.name in ("bpu.take", "bpu.topk"):  # entries picked along one dim: the samples when it is the batch's
            if _attr(op, "dim") % len(rs) == a0.axis:
                return self._lose(r, op)
            self.axes[r] = a0
            return
        if op.name in ("bpu.reduce_max", "bpu.reduce_min", "bpu.argmax", "bpu.argmin"):
            # over the samples: lost; else the dims before drop
            dims = {d % len(_shape(v0)) for d in _ints(op, "dim" if op.name.startswith("bpu.arg") else "dims")}
            if a0.axis in dims:
                return self._lose(r, op, contradiction=True)
            keep = bool(_attr(op, "keepdim", False))
            self.axes[r] = Axis(a0.axis - (0 if keep else sum(d < a0.axis for d in dims)), a0.factor, a0.outer)
            return
        if op.name in _IMAGE_OPS and a0.axis != 0:
            return self._lose(r, op)
        if op.name == "bpu.linear" and a0.axis == len(_shape(v0)) - 1:
            return self._lose(r, op, contradiction=True)
        if op.name == "bpu.matmul" and any(a.axis >= len(_shape(v)) - 2 for v, a in batched):
            lhs, rhs = op.operands[0], op.operands[1]
            rows = _matmul_rows_or_columns(lhs, rhs, rs, self.axes)
            if rows is not None:  # samples as the rows of `x @ W` (or columns of `W @ x`) of an unbatched W
                self.axes[r] = rows
                return
            contracted = (self.axes.get(lhs) is not None and self.axes[lhs].axis == len(_shape(lhs)) - 1) or \
                (self.axes.get(rhs) is not None and self.axes[rhs].axis == len(_shape(rhs)) - 2)
            return self._lose(r, op, contradiction=contracted)  # rows or columns: not followed, not impossible
        found: Axis | None = None
        for v, a in batched:
            vs = _shape(v)
            if len(rs) == len(vs) and rs[a.axis] == vs[a.axis]:
                cand = a
            elif 0 <= a.axis + len(rs) - len(vs) < len(rs) and rs[a.axis + len(rs) - len(vs)] == vs[a.axis]:
                cand = Axis(a.axis + len(rs) - len(vs), a.factor, a.outer)  # broadcasting aligns from the right
            else:
                return self._lose(r, op)
            if found is not None and cand != found:
                return self._lose(r, op, contradiction=True)
            found = cand
        self.axes[r] = found

    def shape(self, v, batch: int, name: str) -> tuple[int, ...]:
        """The static shape of `v` at `batch` (its IR shape at the traced batch); BatchNotFollowed when its
        batch was lost on the way."""
        shape = tuple(v.type.shape)
        if self.batch is None or batch == self.batch:
            return shape
        if v in self.lost:
            op = self.lost[v]
            raise BatchNotFollowed(f"{location_prefix(op.location)}: '{op.name}' moves the batch dimension where it "
                                   f"cannot be followed (value {name} of shape {list(shape)}): this program only "
                                   f"runs at batch {self.batch}")
        a = self.axes.get(v)
        if a is None:
            return shape
        return shape[:a.axis] + (a.size(batch),) + shape[a.axis + 1:]


def retype_at_batch(func_op, batch: int, traced: int):
    """A copy of function `func_op` (traced at batch `traced`) whose value types hold batch `batch`:
    what an interpreter that reads shapes off result types runs at another batch. BatchNotFollowed names
    the op where the batch is lost."""
    from irq.ir.operation import IRMapping
    from irq.ir.types import TensorType
    block = func_op.regions[0].blocks[0]
    axes = BatchAxes(block, traced)
    mapping = IRMapping()
    copy = func_op.clone(mapping)
    values = list(block.args) + [r for op in block.ops for r in op.results]
    for i, v in enumerate(values):
        if not isinstance(v.type, TensorType) or _shape(v) is None:
            continue
        shape = axes.shape(v, batch, f"%{v.name_hint}" if getattr(v, "name_hint", None) else f"#{i}")
        if shape != _shape(v):
            mapping.values[v].type = TensorType(shape, v.type.element_type, v.type.encoding)
    return copy


def _matmul_rows_or_columns(lhs: object, rhs: object, rs: tuple[int, ...], axes: dict) -> Axis | None:
    """The result's batch axis when the samples are the rows of the left operand and the right one has no
    batch (`x @ W`, torch.addmm's product, a 2-D linear by hand), or the columns of the right operand and
    the left one has none (`W @ x`): each sample's row (column) of the result reads only its own row
    (column). None for every other matmul that carries the batch in its last two axes."""
    a_l, a_r = axes.get(lhs), axes.get(rhs)
    if a_l is not None and a_r is None and a_l.axis == len(_shape(lhs)) - 2:
        return Axis(len(rs) - 2, a_l.factor, a_l.outer)
    if a_r is not None and a_l is None and a_r.axis == len(_shape(rhs)) - 1:
        return Axis(len(rs) - 1, a_r.factor, a_r.outer)
    return None
