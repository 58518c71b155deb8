"""`compile(program)` -> a callable that runs a bpu function with the planned kernels.

Planning happens once per batch size (the IR's shapes with the leading batch dimension replaced);
a call checks its inputs (count, dtype, shape, each error naming the argument), copies them into
their planned buffers, runs the steps and returns fresh output arrays in the IR's layout.
"""

from __future__ import annotations

import time

import numpy as np

from irq.batch_fixed import fixed_batch, other_batch_error
from irq.diagnostics import sizes_fixed_note

from .batch import BatchAxes
from .kernels import blas_threads
from .kernels.permute import to_layout
from .ops import HANDLERS, fusable_producer, reference_fallback
from .planner import NHWC, PLAIN, Plan, Planner, ProgramError, Slot, element_dtype, logical_shape, op_error
from .siblings import find_groups, plan_group
from .small_matmuls import plan as plan_small_matmul


def _function(program, name: str | None):
    """The func.func to run: `name`, else @main, else the module's only function."""
    if getattr(program, "name", None) == "func.func":
        return program
    funcs = [op for op in program.walk() if op.name == "func.func" and op.regions and op.regions[0].blocks]
    if name is not None:
        funcs = [f for f in funcs if f.get_attr("sym_name").value == name]
        if not funcs:
            raise ProgramError(f"the program has no function @{name}")
        return funcs[0]
    mains = [f for f in funcs if f.get_attr("sym_name").value == "main"]
    if mains:
        return mains[0]
    if len(funcs) != 1:
        raise ProgramError(f"the program has {len(funcs)} functions and none is @main: name one")
    return funcs[0]


def _arg_name(arg, i: int) -> str:
    hint = getattr(arg, "name_hint", None)
    return f"input {i} (%{hint})" if hint else f"input {i}"


class CompiledProgram:
    """A bpu function ready to run: call it with numpy arrays, one per function argument."""

    def __init__(self, program, function: str | None = None, march: str | None = None):
        if march is not None:
            from irq.artifact import check_march
            check_march(program, march)
        self.fn_op = _function(program, function)
        self.block = self.fn_op.regions[0].blocks[0]
        self.args = list(self.block.args)
        self.arg_types = [a.type for a in self.args]
        self.arg_dtypes = [element_dtype(t) for t in self.arg_types]
        self.arg_shapes = [tuple(t.shape) for t in self.arg_types]
        first = self.arg_types[0].shape if self.args and self.arg_types[0].shape else None
        self.program_batch = first[0] if first else None
        self._plans: dict[int, Plan] = {}
        self.fixed = fixed_batch(program)  # a static export computed with its traced batch (irq.batch_fixed)
        self.batch_axes = BatchAxes(self.block, self.program_batch)
        from irq.runtime.reference.interpreter import IMPLS  # also registers the float-island ops
        for op in self.block.ops:  # unsupported ops fail now, not on the first call
            if op.name not in HANDLERS and op.name not in IMPLS and op.name != "func.return":
                raise op_error(op, "is not supported by the numba runtime (nor by the reference runtime)")
        self.plan(self.program_batch or 1)

    # -- planning ---------------------------------------------------------------------------------
    def plan(self, batch: int) -> Plan:
        """The plan for `batch` (built once, then cached)."""
        if batch not in self._plans:
            self._plans[batch] = self._build(batch)
        return self._plans[batch]

    def _build(self, batch: int) -> Plan:
        p = Planner(self.fn_op, batch, self.program_batch, self.batch_axes)
        ops = list(self.block.ops)
        uses: dict[object, int] = {}
        last_use: dict[object, int] = {}
        ret = ops[-1] if ops and ops[-1].name == "func.return" else None
        for i, op in enumerate(ops):
            for v in op.operands:
                uses[v] = uses.get(v, 0) + 1
                last_use[v] = i
        index = {op: i for i, op in enumerate(ops)}
        for op in ops:
            if op.name == "bpu.requantize":
                prod = fusable_producer(op, uses)
                if prod is not None:
                    p.fused[op] = prod
                    p.fused_producers.add(prod)
                    # the producer's operands are read when the requantize runs: they live until then
                    for v in prod.operands:
                        last_use[v] = max(last_use[v], index[op])
        # linears reading one input run as one GEMM, planned at the group's first requantize (siblings.py)
        groups = find_groups(ops, p.fused)
        dies_at: dict[int, list] = {}
        for v, i in last_use.items():
            dies_at.setdefault(i, []).append(v)
        inputs = []
        for i, arg in enumerate(self.args):
            shape = logical_shape(arg.type, batch, self.program_batch, _arg_name(arg, i))
            bid, arr = p.pool.allocate(shape, self.arg_dtypes[i])
            slot = Slot(shape, arr.dtype, PLAIN, arr, bid)
            p.slots[arg] = slot
            p.variants[(arg, PLAIN)] = slot
            inputs.append(slot)
        outputs_v = list(ret.operands) if ret is not None else []
        keep = set(outputs_v)
        for i, op in enumerate(ops):
            if op is ret:
                break
            p.current_op = op
            group = groups.get(op)
            if group is not None:
                if op is group.lead:
                    plan_group(p, group)
            elif op in p.fused and plan_small_matmul(p, op):
                pass  # attention's small int8 pairs: one micro-kernel call per pair (small_matmuls.py)
            elif op not in p.fused_producers:
                HANDLERS.get(op.name, reference_fallback)(p, op)
            for v in dies_at.get(i, ()):
                if v not in keep:
                    p.release(v)
            for r in op.results:  # results nobody reads are dead at once
                if r not in last_use and r not in keep and r in p.slots:
                    p.release(r)
        outputs = []
        for v in outputs_v:
            if v in p.constants:
                raise ProgramError("returning a bpu.constant directly is not supported")
            outputs.append(p.slots[v])
        names = [_arg_name(a, i) for i, a in enumerate(self.args)]
        return Plan(inputs, p.steps, outputs, p.pool.peak_bytes, p.pool.total_bytes, names)

    # -- running ----------------------------------------------------------------------------------
    def _bind(self, inputs) -> Plan:
        if len(inputs) != len(self.args):
            name = self.fn_op.get_attr("sym_name").value
            raise ProgramError(f"'{name}' takes {len(self.args)} input(s), got {len(inputs)}")
        planned_shapes = True  # every input has the IR's shape (the common case: no batch lookup)
        for i, (x, arg) in enumerate(zip(inputs, self.args)):
            if not isinstance(x, np.ndarray):
                raise ProgramError(f"{_arg_name(arg, i)} must be a numpy array, got {type(x).__name__}")
            want = self.arg_dtypes[i]
            if x.dtype != want:
                raise ProgramError(f"{_arg_name(arg, i)} has dtype {x.dtype}, the program expects {want} "
                                   f"({arg.type})")
            bad = int(x.size - np.count_nonzero(np.isfinite(x))) if x.dtype.kind == "f" else 0
            if bad:  # quantize would turn a NaN into an arbitrary code and print finite, wrong outputs
                raise ProgramError(f"{_arg_name(arg, i)} holds {bad} NaN or infinite value(s): a quantized "
                                   "program has no code for them")
            planned_shapes = planned_shapes and x.shape == self.arg_shapes[i]
        refused = other_batch_error(self.fixed, inputs) if self.fixed is not None else None
        if refused is not None:
            raise ProgramError(refused)
        shapes = self.arg_shapes
        if planned_shapes:
            batch = self.program_batch
        else:  # another batch size: every input leads with the batch dimension
            batch = inputs[0].shape[0] if inputs[0].ndim else None
            for i, (x, s, arg) in enumerate(zip(inputs, shapes, self.args)):
                if x.ndim != len(s) or x.shape[1:] != s[1:] or not s or s[0] != self.program_batch:
                    raise ProgramError(f"{_arg_name(arg, i)} has shape {list(x.shape)}, the program expects "
                                       f"{list(s)}{self._dimension_0_note(s)}" + sizes_fixed_note(self.fn_op))
                if x.shape[0] != batch:
                    raise ProgramError(f"{_arg_name(arg, i)} has batch {x.shape[0]}, input 0 has {batch}")
        plan = self.plan(batch if batch is not None else 1)
        for slot, x in zip(plan.inputs, inputs):
            np.copyto(slot.array, x)
        return plan

    def _dimension_0_note(self, shape: tuple[int, ...]) -> str:
        """What an input-shape refusal says of dimension 0: any batch size, unless a static export fixed it (a
        sequence-first model's dimension 0 is its sequence, and another batch is another size in dimension 1)."""
        if not shape or shape[0] != self.program_batch:
            return ""
        if self.fixed is not None:
            return (f" (every size fixed, dimension 0 too: torch.export fixed it at {self.fixed[0]} in "
                    f"{self.fixed[1]})")
        return " (any batch size in dimension 0)"

    @staticmethod
    def _collect(plan: Plan):
        outs = []
        for s in plan.outputs:
            if s.layout == NHWC:
                n, h, w, c = s.array.shape
                out = np.empty((n, c, h, w), s.array.dtype)
                to_layout(s.array, out, nhwc=False)
                outs.append(out)
            else:
                outs.append(s.array.copy())
        return outs[0] if len(outs) == 1 else tuple(outs)

    def __call__(self, *inputs):
        plan = self._bind(inputs)
        try:
            for step in plan.steps:
                step.fn()
        finally:
            blas_threads.restore()
        return self._collect(plan)

    def profile(self, *inputs, repeat: int = 1):
        """Run `repeat` times; returns (outputs, [(op name, step label, location, seconds per run), ...])."""
        plan = self._bind(inputs)
        times = [0.0] * len(plan.steps)
        try:
            for _ in range(repeat):
                for i, step in enumerate(plan.steps):
                    t0 = time.perf_counter()
                    step.fn()
                    times[i] += time.perf_counter() - t0
        finally:
            blas_threads.restore()
        from irq.diagnostics import location_prefix
        rows = [(s.op.name, s.label, location_prefix(s.op.location), t / repeat) for s, t in zip(plan.steps, times)]
        return self._collect(plan), rows


def compile(program, function: str | None = None, march: str | None = None) -> CompiledProgram:  # noqa: A001
    """Plan `program` (a bpu-level module or func.func) for the numba kernels; returns a callable. With
    `march`, a program converted for another march is refused (irq.artifact.check_march)."""
    return CompiledProgram(program, function, march)


def run(program, *inputs, function: str | None = None, march: str | None = None):
    """Compile and run once (`compile(program)(*inputs)`); keep the compiled program to run many times."""
    return compile(program, function, march)(*inputs)
