"""The planner: turns a bpu function into a list of kernel calls over pre-planned arrays.

It walks the ops once, in block order. For every value it records a `Slot`: the logical (IR, NCHW)
shape, the dtype, the physical layout the kernels want (`nhwc` for 4-D activations between spatial
ops, `plain` = row-major logical shape elsewhere) and the array view it lives in. Handlers
(`irq.runtime.numba.ops`) ask for their inputs in a layout (a conversion step is inserted, once per
value and layout, when the producer chose another), get their output arrays, and append a step: a
closure with every argument bound, so running the program is a loop of calls with no allocation.
Buffers come from a `BufferPool` and return to it after each value's last reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from irq.diagnostics import location_prefix
from irq.ir.dense import storage_dtype
from irq.ir.types import ShapedType

from .kernels.permute import to_layout
from .memory import BufferPool

NHWC, PLAIN = "nhwc", "plain"


class ProgramError(ValueError):
    """A bpu program the numba runtime cannot execute, or a run that would give a wrong number."""


def op_error(op, message: str) -> ProgramError:
    """An error naming the op and its file:line, as every message of this runtime does."""
    return ProgramError(f"{location_prefix(op.location)}: '{op.name}' {message}")


@dataclass
class Slot:
    """Where one SSA value lives: logical shape, dtype, physical layout and its array (a pooled view)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    layout: str
    array: np.ndarray
    buf: int | None = None

    def flat(self) -> np.ndarray:
        return self.array.reshape(-1)


@dataclass
class Step:
    """One kernel call with its arguments bound; `op` names it in profiles and errors."""

    op: object
    label: str
    fn: Callable[[], None]


@dataclass
class Plan:
    """A planned program for one batch size: input slots, steps, output slots and memory figures."""

    inputs: list[Slot]
    steps: list[Step]
    outputs: list[Slot]
    peak_bytes: int
    total_bytes: int
    input_names: list[str] = field(default_factory=list)


def logical_shape(t, batch: int, program_batch: int | None, value_name: str) -> tuple[int, ...]:
    """The IR shape with the batch dimension replaced by the run's batch size."""
    if not isinstance(t, ShapedType) or not t.has_static_shape:
        raise ProgramError(f"value {value_name} has type {t}: the numba runtime needs static tensor shapes")
    shape = tuple(t.shape)
    if program_batch is None or batch == program_batch or not shape:
        return shape
    if shape[0] != program_batch:
        raise ProgramError(f"value {value_name} of shape {list(shape)} does not lead with the batch dimension "
                           f"{program_batch}: this program only runs at batch {program_batch}")
    return (batch,) + shape[1:]


def element_dtype(t) -> np.dtype:
    return np.dtype(storage_dtype(t.element_type))


class Planner:
    """Builds a `Plan` for one function at one batch size (see the module docstring)."""

    def __init__(self, fn_op, batch: int, program_batch: int | None, axes=None):
        self.fn_op = fn_op
        self.batch, self.program_batch = batch, program_batch
        self.axes = axes  # batch.BatchAxes: where each value holds the batch (None: dimension 0 everywhere)
        self.pool = BufferPool()
        self.slots: dict[object, Slot] = {}
        self.variants: dict[tuple[object, str], Slot] = {}
        self.constants: dict[object, np.ndarray] = {}
        self.steps: list[Step] = []
        self.fused: dict[object, object] = {}  # requantize op -> producer op whose epilogue it becomes
        self.fused_producers: set[object] = set()
        self.current_op = None

    # -- values -------------------------------------------------------------------------------------
    def shape(self, v) -> tuple[int, ...]:
        """The static shape of `v` at this plan's batch size."""
        if self.axes is not None and isinstance(v.type, ShapedType) and v.type.has_static_shape:
            return self.axes.shape(v, self.batch, _value_name(v))
        return logical_shape(v.type, self.batch, self.program_batch, _value_name(v))

    def constant(self, v) -> np.ndarray:
        """The data of a `bpu.constant` operand (weights, biases, tables)."""
        if v not in self.constants:
            raise op_error(self.current_op, f"needs a bpu.constant for operand {_value_name(v)}")
        return self.constants[v]

    def is_constant(self, v) -> bool:
        return v in self.constants

    def new_slot(self, v, layout: str, dtype: np.dtype | None = None) -> Slot:
        """Allocate the output slot of `v` in `layout` (NHWC only for 4-D values)."""
        shape = self.shape(v)
        dtype = np.dtype(dtype or element_dtype(v.type))
        physical = (shape[0], shape[2], shape[3], shape[1]) if layout == NHWC else shape
        bid, arr = self.pool.allocate(physical, dtype)
        slot = Slot(shape, dtype, layout, arr, bid)
        self.slots[v] = slot
        self.variants[(v, layout)] = slot
        return slot

    def alias(self, v, source: Slot, array: np.ndarray, layout: str = PLAIN) -> Slot:
        """`v` is a view of `source`'s buffer (a reshape): it keeps that buffer alive."""
        self.pool.retain(source.buf)
        slot = Slot(self.shape(v), source.dtype, layout, array, source.buf)
        self.slots[v] = slot
        self.variants[(v, layout)] = slot
        return slot

    def input(self, v, layout: str | None = None) -> Slot:
        """The slot of operand `v` in `layout` (None: whatever its producer chose)."""
        slot = self.slots.get(v)
        if slot is None and v in self.constants:
            # a constant used as data (a layer scale, a positional embedding): a slot over its array, no batch
            # axis of its own (broadcast like any operand), read-only and never released to the pool
            data = np.ascontiguousarray(self.constants[v])
            slot = self.slots[v] = self.variants[(v, PLAIN)] = Slot(data.shape, data.dtype, PLAIN, data)
        if slot is None:
            raise op_error(self.current_op, f"operand {_value_name(v)} is not an activation the runtime planned")
        if layout is None or slot.layout == layout or len(slot.shape) != 4:
            return slot
        key = (v, layout)
        if key in self.variants:
            return self.variants[key]
        shape = slot.shape
        physical = (shape[0], shape[2], shape[3], shape[1]) if layout == NHWC else shape
        bid, arr = self.pool.allocate(physical, slot.dtype)
        conv = Slot(shape, slot.dtype, layout, arr, bid)
        src = slot.array
        self.steps.append(Step(self.current_op, f"layout->{layout}",
                               lambda src=src, arr=arr, nhwc=layout == NHWC: to_layout(src, arr, nhwc)))
        self.variants[key] = conv
        return conv

    def has_layout(self, v, layout: str) -> bool:
        """True when `v` already has a slot in `layout` (its producer's, or a conversion planned earlier)."""
        return (v, layout) in self.variants

    def step(self, label: str, fn: Callable[[], None]) -> None:
        self.steps.append(Step(self.current_op, label, fn))

    def release(self, v) -> None:
        """`v` is dead: release every layout variant of it."""
        for layout in (NHWC, PLAIN):
            slot = self.variants.pop((v, layout), None)
            if slot is not None and slot.buf is not None:
                self.pool.release(slot.buf)


def _value_name(v) -> str:
    hint = getattr(v, "name_hint", None)
    return f"%{hint}" if hint else f"#{getattr(v, 'index', '?')} of '{getattr(getattr(v, 'op', None), 'name', '?')}'"
