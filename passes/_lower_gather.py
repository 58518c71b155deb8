"""lower-bpu's rewrite of torch.gather by a constant index (issue 12): codes picked, never computed.

quant-annotate shares the input's quantizer with gather (hl.DATA_MOVEMENT), so VALIDATION's torch.gather on the
fake-quantized values picks the codes the program picks. ``out[p] = x[p with p[dim] = index[p]]`` for every
position p of the index, so the whole gather is one `bpu.take` of the flattened codes at the flat positions
``ravel_multi_index(p with p[dim] = index[p], x.shape)``, reshaped to the index's shape.

The result has the constant index's shape, batch included (torch.gather does not broadcast), and the take runs
over the flattened samples: the program is pinned to its traced batch, and another batch is refused naming the
gather's line (irq/batch_axis.py), as torch itself would give the traced batch's shape or fail.

The one index that follows the batch is a constant of one sample expanded to the batch
(``x.gather(1, idx.expand(x.shape[0], -1))``, torch.export's `torch.expand` of the constant by a traced size)
along a dim other than the batch: every sample takes the same positions, so the codes are reshaped to
``[N, rest]``, taken along dim 1 at the one sample's flat positions and reshaped to ``[N, *index.shape[1:]]``;
the batch stays on axis 0 at any batch size. The expand itself is then no program op.

A computed index (an argmax, an input) is refused by name: a bpu program takes entries at constant positions only.
"""

from __future__ import annotations

import math

from irq.dialects.torch_values import OperandRefAttr
from irq.passes._lowering import LoweringError, _constant_data, _shape, np

from irq.ir.attributes import ArrayAttr, IntegerAttr
from irq.ir.operation import Operation


def _expanded_sample(index) -> np.ndarray | None:
    """The one sample's positions when `index` is a constant of batch 1 expanded to a traced batch, else None."""
    op = getattr(index, "op", None)
    if op is None or _base_name(op) != "expand":
        return None
    data = _constant_data(op.operands[0])
    shape = op.get_attr("shape")
    if data is None or data.ndim == 0 or data.shape[0] != 1 or not isinstance(shape, ArrayAttr):
        return None
    lead = len(shape) - data.ndim
    traced = lead == 0 and isinstance(shape[0], OperandRefAttr)
    rest_kept = all(isinstance(e, IntegerAttr) and e.value in (-1, s) for e, s in zip(shape[1:], data.shape[1:]))
    return data if traced and rest_kept else None


def _base_name(op: Operation) -> str:
    return op.name.split(".", 1)[1]


class GatherLowerings:
    """`lower_gather` and the expand of its batch-following index (see the module docstring); uses
    TakeLowerings' `_source`, `_take`, `_reshape` and `_keep_codes`."""

    def lower_expand(self, op: Operation) -> None:
        """A one-sample constant index expanded to the batch, read by gathers only: no program op (the
        gathers take its one sample's positions); any other expand is TakeLowerings'."""
        users = [u for u in op.results[0].users]
        if (
            _expanded_sample(op.results[0]) is not None
            and users
            and all(_base_name(u) == "gather" and u.operands[1] is op.results[0] for u in users)
        ):
            self.lowered.append(op)
            return
        super().lower_expand(op)

    def _gather_each_sample(self, op: Operation, sample: np.ndarray) -> None:
        x = self._source(op)
        shape = _shape(op.operands[0])
        dim = op.get_attr("dim").value % len(shape)
        one = sample.astype(np.int64)[0]
        if one.size and (one.min() < 0 or one.max() >= shape[dim]):
            raise LoweringError(f"index entries leave [0, {shape[dim]}) along dim {dim}")
        coords = list(np.indices(one.shape))
        coords[dim - 1] = one
        flat = np.ravel_multi_index(tuple(coords), shape[1:]).reshape(-1)
        rows = (shape[0], math.prod(shape[1:]))
        value = self._reshape(x.value, rows, x.dtype) if len(shape) != 2 else x.value
        value, _ = self._take(value, rows, x.dtype, 1, [int(i) for i in flat])
        out = (shape[0], *one.shape)
        if out != (shape[0], flat.size):
            value = self._reshape(value, out, x.dtype)
        self._keep_codes(op, x, value)

    def lower_gather(self, op: Operation) -> None:
        dim = op.get_attr("dim").value % len(_shape(op.operands[0]))
        sample = _expanded_sample(op.operands[1])
        if sample is not None and dim != 0:
            return self._gather_each_sample(op, sample)
        data = _constant_data(op.operands[1])
        if sample is not None:
            data = np.broadcast_to(sample, _shape(op.operands[1]))  # along the batch: pinned, as a plain constant
        if data is None:
            raise LoweringError(
                "gathers by a computed index tensor: a bpu program takes entries at constant positions only "
                "(make the index a constant, or gather in float before quantizing)"
            )
        x = self._source(op)
        shape = _shape(op.operands[0])
        dim = op.get_attr("dim").value % len(shape)
        index = np.asarray(data).astype(np.int64)
        if index.ndim != len(shape):
            raise LoweringError(f"index of shape {list(index.shape)} has not the input's rank {len(shape)}")
        if index.size and (index.min() < 0 or index.max() >= shape[dim]):
            raise LoweringError(f"index entries leave [0, {shape[dim]}) along dim {dim}")
        coords = list(np.indices(index.shape))
        coords[dim] = index
        flat = np.ravel_multi_index(tuple(coords), shape).reshape(-1)
        value = x.value
        if len(shape) != 1:
            value = self._reshape(value, (math.prod(shape),), x.dtype)
        value, _ = self._take(value, (math.prod(shape),), x.dtype, 0, [int(i) for i in flat])
        if tuple(index.shape) != (flat.size,):
            value = self._reshape(value, tuple(index.shape), x.dtype)
        self._keep_codes(op, x, value)
