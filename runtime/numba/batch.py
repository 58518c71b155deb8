"""Which axis of each value carries the batch, so a program traced at one batch size runs at another.

The rule (permutes, reshapes that merge the batch with the dimensions before or after it, slices and
concats that lose it) is irq/batch_axis.py's `BatchAxes`, shared with the reference runtime; here a lost
batch becomes the planner's `ProgramError`, naming the op and its line.
"""

from __future__ import annotations

from irq.batch_axis import BatchAxes as _BatchAxes
from irq.batch_axis import BatchNotFollowed


class BatchAxes(_BatchAxes):
    """`irq.batch_axis.BatchAxes` whose sizing errors are the numba runtime's ProgramError."""

    def shape(self, v, batch: int, name: str) -> tuple[int, ...]:
        from .planner import ProgramError
        try:
            return super().shape(v, batch, name)
        except BatchNotFollowed as e:
            raise ProgramError(str(e)) from None
