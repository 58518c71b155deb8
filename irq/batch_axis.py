"""The batch's axis through a reshape: one rule shared by the frontend and the numba runtime's planner.

IR types are static, at the traced batch B. The numba runtime runs a program at another batch by
following the batch from the inputs through every op (runtime/numba/batch.py); a reshape is the one
op where the static shapes alone can be ambiguous (at B = 1 every size-1 dimension could be it). The
rule here decides; the export frontend checks that a batch-1 export's symbolic shapes agree with it
before keeping that export's batch dynamic (irq/frontend/export.py), so the planner never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod


@dataclass(frozen=True)
class Axis:
    """The batch lives on `axis`, whose traced size is `factor * B`."""

    axis: int
    factor: int = 1


def reshape_axis(src: tuple[int, ...], dst: tuple[int, ...], a: Axis, batch: int) -> Axis | None:
    """The batch's axis after a row-major reshape `src -> dst`, or None when the reshape splits it.

    With P the product of the dimensions before the batch axis, the destination dimension b with
    ``prod(dst[:b]) == P`` starts at the same element offset; when its size is a multiple of the batch
    (``batch * g``), each sample's elements stay one contiguous block there, batch outermost (the
    products after the prefix agree, so the block sizes do), and scaling that dimension with the batch
    is the same reshape at any batch size. The first such b is taken (size-1 dimensions tie at a batch of 1).
    """
    before = prod(src[:a.axis])
    acc = 1
    for b, d in enumerate(dst):
        if acc == before and d % batch == 0:
            return Axis(b, d // batch)
        if acc > before:
            return None
        acc *= d
    return None
