"""Programs a static torch.export computed at its traced batch: the module attributes that say so, and the one
refusal every executor gives at another batch.

method="export" exports static shapes when the model computes with the batch size in a way the IR cannot
record (`y * x.shape[0]`, `zeros(x.shape[0], k)`, a reshape fixing the batch: irq/frontend/export_batch.py).
Such a program holds the example's batch as a number, so at another batch it would compute other numbers than
torch without any shape error: the prepared model, the float import (runtime.torch) and the deployed program
(reference and numba runtimes) all refuse instead, naming the op and line. Torch-free: the runtimes import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Module attributes of a static export import: the traced batch, and the op and line that fix it.
BATCH_FIXED_ATTR = "torch.batch_fixed"
BATCH_FIXED_AT_ATTR = "torch.batch_fixed_at"


def fixed_batch(module: Any) -> tuple[int, str] | None:
    """(batch, "aten.mul.Tensor at model.py:12") when `module` (a builtin.module) only runs at its traced batch."""
    attrs = getattr(module, "attributes", None) or {}
    fixed = attrs.get(BATCH_FIXED_ATTR)
    if fixed is None:
        return None
    where = attrs.get(BATCH_FIXED_AT_ATTR)
    return int(fixed.value), (where.value if where is not None else "a reshape")


def other_batch_error(fixed: tuple[int, str], inputs: Sequence[Any]) -> str | None:
    """The refusal for `inputs` (arrays or tensors) whose batch (dimension 0) is not the fixed one, else None."""
    batch, where = fixed
    for a in inputs:
        shape = tuple(getattr(a, "shape", ()))
        if shape and shape[0] != batch:
            return (
                f"this model was prepared with method='export' at batch {batch} (torch.export's batch is dimension 0 "
                f"of every input), and torch.export fixed that size in {where}; it runs only with {batch} in "
                f"dimension 0 (got an input of shape {list(shape)}). Prepare with example inputs of the sizes you "
                f"run, or use method='fx', which keeps x.shape[0] symbolic."
            )
    return None


class BatchCheck:
    """A forward pre-hook refusing another batch (picklable, unlike a closure)."""

    def __init__(self, fixed: tuple[int, str]) -> None:
        self.fixed = fixed

    def __call__(self, _module: Any, args: tuple) -> None:
        message = other_batch_error(self.fixed, [a for a in args if hasattr(a, "shape")])
        if message is not None:
            raise ValueError(message)
