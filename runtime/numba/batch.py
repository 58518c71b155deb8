"""Which axis of each value carries the batch, so a program traced at one batch size runs at another.

IR types are static: they hold the traced batch B. Every input leads with it, but a transformer moves
it: a ViT's `qkv.reshape(b, n, 3, h, d).permute(2, 0, 3, 1, 4)` puts it second, and a reshape may
merge it with other dimensions (`(B, N, C) -> (B*N, C)`). `BatchAxes` follows the batch from the inputs
through the function once: each value gets the axis holding it and that axis's size as a multiple of
B, so the planner sizes the value at batch B' as `factor * B'` on that axis. Values computed from
constants alone have none. A value whose batch cannot be followed (a slice or concat along it, a
reshape that splits it, a linear that would reduce over it) is recorded with the op that lost it,
and planning another batch size raises an error naming that op and its line.

At a traced batch of 1 a reshape is read the way a dynamic-batch trace writes it (`view(x.size(0),
...)` / `flatten`): the batch is the outermost factor of the group of dimensions it falls in.
"""

from __future__ import annotations

from irq.batch_axis import Axis, reshape_axis
from irq.diagnostics import location_prefix

#: ops whose batch must stay on dimension 0 (NCHW kernels laid out per image)
_IMAGE_OPS = frozenset({"bpu.conv2d", "bpu.conv_transpose2d", "bpu.max_pool2d", "bpu.avg_pool2d",
                        "bpu.global_avg_pool", "bpu.resize"})


def _ints(op, name: str) -> list[int]:
    a = op.get_attr(name)
    if hasattr(a, "value") and isinstance(a.value, int):
        return [a.value]
    return [int(getattr(x, "value", x)) for x in a]


def _attr(op, name: str, default=None):
    a = op.get_attr(name)
    return default if a is None else getattr(a, "value", a)


#: a slice end at or past this is open-ended (`x[:, 0]` lowers its `:` to start 0, end INT64_MAX)
_OPEN_END = 2**62


def _open_slice(op) -> bool:
    """Whether a bpu.slice keeps every index of its dimension whatever its size (start 0, step 1, open end)."""
    return (_attr(op, "start", 0) or 0) == 0 and (_attr(op, "step", 1) or 1) == 1 and \
        (_attr(op, "end") is None or _attr(op, "end") >= _OPEN_END)


def _shape(v) -> tuple[int, ...] | None:
    shape = getattr(v.type, "shape", None)
    return tuple(shape) if shape is not None else None


class BatchAxes:
    """The batch axis of every value of one function (see the module docstring)."""

    #: the batch on dimension 0, one sample per index: what the inputs hold
    leading = Axis(0)

    def __init__(self, block, batch: int | None):
        self.batch = batch
        self.axes: dict[object, Axis | None] = {}  # None: computed from constants only
        self.lost: dict[object, object] = {}  # value -> the op where its batch could not be followed
        if batch is None:
            return
        for arg in block.args:
            shape = _shape(arg)
            if shape:
                self.axes[arg] = Axis(0)
            else:
                self.axes[arg] = None
        for op in block.ops:
            for r in op.results:
                self._visit(op, r)

    def _lose(self, r, op) -> None:
        self.lost[r] = op

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
            self.axes[r] = Axis(dims.index(a0.axis), a0.factor)
            return
        if op.name == "bpu.embedding":  # the gathered rows append one dimension to the indices' shape
            self.axes[r] = a0
            return
        if op.name == "bpu.reshape":
            a = reshape_axis(_shape(v0), rs, a0, self.batch)
            return self._lose(r, op) if a is None else self.axes.__setitem__(r, a)
        if op.name == "bpu.slice" and _attr(op, "dim") % len(rs) == a0.axis and not _open_slice(op):
            return self._lose(r, op)  # a slice of the samples (x[0:1] at batch 1 included: its end is literal)
        if op.name == "bpu.concat" and _attr(op, "dim") % len(rs) == a0.axis:
            return self._lose(r, op)
        if op.name in _IMAGE_OPS and a0.axis != 0:
            return self._lose(r, op)
        if op.name == "bpu.linear" and a0.axis == len(_shape(v0)) - 1:
            return self._lose(r, op)
        if op.name == "bpu.matmul" and any(a.axis >= len(_shape(v)) - 2 for v, a in batched):
            return self._lose(r, op)
        found: Axis | None = None
        for v, a in batched:
            vs = _shape(v)
            if len(rs) == len(vs) and rs[a.axis] == vs[a.axis]:
                cand = a
            elif 0 <= a.axis + len(rs) - len(vs) < len(rs) and rs[a.axis + len(rs) - len(vs)] == vs[a.axis]:
                cand = Axis(a.axis + len(rs) - len(vs), a.factor)  # broadcasting aligns from the right
            else:
                return self._lose(r, op)
            if found is not None and cand != found:
                return self._lose(r, op)
            found = cand
        self.axes[r] = found

    def shape(self, v, batch: int, name: str) -> tuple[int, ...]:
        """The static shape of `v` at `batch` (its IR shape at the traced batch)."""
        from .planner import ProgramError
        shape = tuple(v.type.shape)
        if self.batch is None or batch == self.batch:
            return shape
        if v in self.lost:
            op = self.lost[v]
            raise ProgramError(f"{location_prefix(op.location)}: '{op.name}' moves the batch dimension where it "
                               f"cannot be followed (value {name} of shape {list(shape)}): this program only runs "
                               f"at batch {self.batch}")
        a = self.axes.get(v)
        if a is None:
            return shape
        return shape[:a.axis] + (a.factor * batch,) + shape[a.axis + 1:]
