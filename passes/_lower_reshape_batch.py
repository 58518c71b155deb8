"""lower-bpu's check of reshapes against the batch: a reshape whose traced shape the runtimes would resize at
another batch in a dimension torch does not is marked so the runtimes refuse that batch.

A bpu program runs at any batch by following the batch through its static shapes (irq/batch_axis.py): after a
reshape, the dimension that holds the traced batch as the middle factor of a row-major block is resized. Static
shapes cannot tell `y.reshape(-1, y.shape[0])` from `y.reshape(-1, 2)` at batch 2: both are (2, 12) -> (12, 2), and
the rule reads dimension 0 (six rows of 2 per sample). torch computes (12, B) instead, which at batch 4 mixes the
samples; the deployed program returned a (24, 2) array where torch returns (12, 4), without an error (and (8, 6)
for torch's (4, 12) of `reshape(4, y.shape[0] * 3)`, (1, 48) for (2, 24) of fx's `view(y.shape[0] // 2, -1)`).

The torch-level op still says which of its result's entries follow the batch: its `shape` holds literals (fixed
at every batch), -1 (inferred) and traced sizes (`torch.size` results, or Python arithmetic on them). The dimension
the rule resizes must be one torch resizes too, so the reshape is marked (`batch_lost` on its bpu.reshape, and the
runtimes refuse another batch naming its line) when that dimension is

- a literal: torch keeps it at every batch;
- a -1 while another entry is a size computed from the batch (that entry takes the batch, the -1 does not);
- a size computed from no batch (a sequence length).

An entry whose origin is not known (a size of a value lowering did not keep) leaves the reshape as it is.
"""

from __future__ import annotations

from irq.dialects.torch_values import OperandRefAttr
from irq.passes._lowering import _base

from irq.batch_axis import BatchAxes
from irq.ir.attributes import BoolAttr, IntegerAttr
from irq.ir.operation import Operation
from irq.ir.values import Value

#: an entry of a reshape's shape: an int (a literal or -1), the (value, dim) sizes it is computed from, or None
Entry = int | tuple[tuple[Value, int], ...] | None


class ReshapeBatchLowerings:
    """Records each reshape / view lowered to a bpu.reshape with its shape's entries; `mark_reshapes_losing_the_batch`
    checks them once the function is lowered (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reshape_entries: list[tuple[Value, list[Entry]]] = []  # (bpu.reshape result, its torch shape entries)

    def lower_pass_through(self, op: Operation) -> None:
        super().lower_pass_through(op)
        shape = op.get_attr("shape")
        if _base(op) not in ("reshape", "view") or shape is None:
            return
        x, y = self.q.get(op.operands[0]), self.q.get(op.results[0])
        if x is None or y is None or y.value is x.value:
            return
        self.reshape_entries.append((y.value, [self._entry(op, e) for e in shape]))

    def _entry(self, op: Operation, e) -> Entry:
        if isinstance(e, IntegerAttr):
            return e.value
        if isinstance(e, OperandRefAttr):
            return self._sizes(op.operands[e.index])
        return None

    def _sizes(self, v: Value) -> tuple[tuple[Value, int], ...] | None:
        """The (value, dim) sizes `v` is computed from: a torch.size result, or Python arithmetic on sizes and
        literals; None when it is anything else."""
        src = getattr(v, "op", None)
        if src is None:
            return None
        if src.name == "torch.size":
            dims = src.get_attr("dim")
            dim = dims.value if isinstance(dims, IntegerAttr) else v.index
            u = src.operands[0]
            lowered = self.q.get(u)
            return ((lowered.value if lowered is not None and not lowered.raw else u, dim),)
        if src.name == "torch.call" and src.get_attr("target").value.startswith(("_operator.", "operator.")):
            found: list[tuple[Value, int]] = []
            for w in src.operands:
                sizes = self._sizes(w)
                if sizes is None:
                    return None
                found += sizes
            return tuple(found)
        return None

    def mark_reshapes_losing_the_batch(self) -> int:
        """Mark the recorded bpu.reshapes the batch rule would resize where torch does not; how many."""
        records = self.reshape_entries
        block = self.func.regions[0].blocks[0]
        first = block.args[0].type if block.args else None
        shape = getattr(first, "shape", None)
        if not records or not shape:
            self._drop_unpinned_identities(records)
            return 0
        axes = BatchAxes(block, shape[0])
        marked = 0
        for value, entries in records:
            a = axes.axes.get(value)
            if (
                a is None
                or value in axes.lost
                or value.op is None
                or not _resized_where_torch_keeps(entries, entries[a.axis], axes)
            ):
                continue
            value.op.attributes["batch_lost"] = BoolAttr(True)
            marked += 1
        self._drop_unpinned_identities(records)
        return marked

    def _drop_unpinned_identities(self, records: list[tuple[Value, list[Entry]]]) -> None:
        """Remove the identity bpu.reshapes (a reshape to the shape it already has at the traced batch) that were
        kept only to be checked and are not pinned: they move no data. A pinned one stays: `reshape(2, -1)` of
        (2, 12) is (2, 24) at batch 4 in torch, and eliding it made the program compute softmax over 12 where
        torch computes it over 24, a wrong number without an error."""
        for value, _ in records:
            op = value.op
            if op is None or "batch_lost" in op.attributes or op.parent is None:
                continue
            if op.operands[0].type != value.type:
                continue
            value.replace_all_uses_with(op.operands[0])
            op.erase()


def _from_batch(sizes: tuple[tuple[Value, int], ...], axes: BatchAxes) -> bool | None:
    """Whether one of `sizes` is the batch's dimension of its value; None when not known (a value the batch
    axes do not cover) and none is."""
    if any(v not in axes.lost and (a := axes.axes.get(v)) is not None and a.axis == d for v, d in sizes):
        return True
    return None if any(v not in axes.axes for v, _ in sizes) else False


def _resized_where_torch_keeps(entries: list[Entry], resized: Entry, axes: BatchAxes) -> bool:
    """Whether the entry the batch rule resizes (`resized`) is one torch keeps at another batch."""
    if resized is None:
        return False
    if isinstance(resized, int):
        if resized != -1:
            return True  # a literal
        return any(_from_batch(e, axes) is True for e in entries if isinstance(e, tuple))
    return bool(resized) and _from_batch(resized, axes) is False
