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
#: Module attribute of every export import: torch.export fixed each size but the batch (dimension 0).
SIZES_FIXED_ATTR = "torch.export_sizes_fixed"


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


def export_sizes_fixed(module: Any) -> bool:
    """Whether `module` (a builtin.module) was imported by torch.export, which fixes every size but the batch."""
    return SIZES_FIXED_ATTR in (getattr(module, "attributes", None) or {})


def other_size_error(traced: Sequence[Sequence[int] | None], inputs: Sequence[Any]) -> str | None:
    """The refusal for `inputs` whose sizes beyond dimension 0 (or rank) are not the traced ones, else None.
    `traced`: each input's traced shape (None: not a tensor input, not checked)."""
    for i, (want, a) in enumerate(zip(traced, inputs)):
        if want is None or not hasattr(a, "shape"):
            continue
        got = tuple(a.shape)
        if len(got) != len(want) or got[1:] != tuple(want)[1:]:
            return (
                f"this model was imported with method='export' from an input {i} of shape {list(want)}: torch.export "
                f"fixes every size but the batch (dimension 0) in the graph it records (reshape sizes, slices, "
                f"sizes read from x.shape), so it would compute other shapes than torch at another size; got "
                f"{list(got)}. Prepare with example inputs of the sizes you run, or use method='fx', which reads sizes "
                f"at run time."
            )
    return None


class SizeCheck:
    """A forward pre-hook refusing, on an export import, inputs whose non-batch sizes are not the traced ones
    (picklable, unlike a closure). Without it the float import and the prepared model ran `x.reshape(-1,
    x.shape[-1])` traced at [2, 3, 4] as reshape(-1, 4) at [2, 3, 8]: a (12, 4) result where torch returns (6, 8)."""

    def __init__(self, traced: Sequence[Sequence[int] | None]) -> None:
        self.traced = [None if t is None else tuple(t) for t in traced]

    def __call__(self, _module: Any, args: tuple) -> None:
        if len(args) != len(self.traced):  # inputs given by name or in containers: not matched one to one here
            return
        message = other_size_error(self.traced, args)
        if message is not None:
            raise ValueError(message)


#: Module attribute of an export import with Python numbers among its inputs: [[position, name, value], ...].
CONSTANT_INPUTS_ATTR = "torch.export_constant_inputs"


def other_constant_error(constants: Sequence[tuple[int, str, Any]], inputs: Sequence[Any]) -> str | None:
    """The refusal for positional `inputs` where a Python number torch.export specialised differs, else None."""
    for i, name, value in constants:
        if i < len(inputs) and not hasattr(inputs[i], "shape") and inputs[i] != value:
            return (
                f"this model was imported with method='export' with {name}={value!r}: torch.export specialises a "
                f"Python number given as an input (its own module refuses another: 'Guard failed: {name} == "
                f"{value!r}'), so the graph computes with {value!r} whatever is passed; got {name}={inputs[i]!r}. "
                f"Prepare with the value you run, pass it as a tensor, or use method='fx'."
            )
    return None


class ConstantInputCheck:
    """A forward pre-hook refusing, on an export import, a Python-number input other than the traced one
    (picklable). Without it the prepared model of `torch.unbind(x, d)` exported with d=1 returned, for d=2, the
    d=1 result: shape (3, 2, 4) where eager's is (4, 2, 3), without an error."""

    def __init__(self, constants: Sequence[tuple[int, str, Any]], n_inputs: int) -> None:
        self.constants = [tuple(c) for c in constants]
        self.n_inputs = n_inputs

    def __call__(self, _module: Any, args: tuple) -> None:
        if len(args) != self.n_inputs:  # inputs given by name or in containers: not matched one to one here
            return
        message = other_constant_error(self.constants, args)
        if message is not None:
            raise ValueError(message)
