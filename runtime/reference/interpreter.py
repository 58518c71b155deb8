"""Walk a bpu program's entry function and execute each op with its reference implementation."""

from __future__ import annotations

import numpy as np
from irq.runtime.reference import float_ops  # noqa: F401 - registers the float-island ops
from irq.runtime.reference.arithmetic import storage_range
from irq.runtime.reference.ops import IMPLS

from irq.batch_fixed import fixed_batch, other_batch_error
from irq.diagnostics import location_prefix, sizes_fixed_note
from irq.ir.types import FloatType, IntegerType, ShapedType

_FLOAT_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}


class ReferenceRuntimeError(ValueError):
    """A program the reference runtime cannot execute, or inputs that do not match it; names the op's location."""


def entry_function(program, entry: str | None = None):
    """The function to run: the one named `entry`, else `main`, else the module's only function."""
    if getattr(program, "name", None) == "func.func":
        return program
    funcs = [op for op in program.ops if op.name == "func.func"]
    if entry is not None or len(funcs) != 1:
        want = entry or "main"
        for f in funcs:
            if f.sym_name.value == want:
                return f
        names = ", ".join(f.sym_name.value for f in funcs) or "none"
        raise ReferenceRuntimeError(f"no function '{want}' to run (functions: {names})")
    return funcs[0]


def numpy_dtype(t) -> np.dtype:
    et = t.element_type if isinstance(t, ShapedType) else t
    if isinstance(et, IntegerType):
        return np.dtype(f"int{et.width}")
    if isinstance(et, FloatType) and et.kind in _FLOAT_DTYPES:
        return np.dtype(_FLOAT_DTYPES[et.kind])
    raise ReferenceRuntimeError(f"no numpy dtype for {t}")


def _check_input(i: int, arg, x, note: str = "") -> np.ndarray:
    t = arg.type
    a = np.asarray(x)
    if isinstance(t, ShapedType) and t.shape is not None and tuple(a.shape) != tuple(t.shape):
        raise ReferenceRuntimeError(f"input #{i} has shape {list(a.shape)}, the program expects {t}{note}")
    dt = numpy_dtype(t)
    if dt.kind == "f":
        if a.dtype.kind not in "fiu":
            raise ReferenceRuntimeError(f"input #{i} has dtype {a.dtype}, the program expects {t}")
        bad = int(a.size - np.count_nonzero(np.isfinite(a))) if a.dtype.kind == "f" else 0
        if bad:
            raise ReferenceRuntimeError(f"input #{i} holds {bad} NaN or infinite value(s): a quantized program has "
                                        "no code for them")
        return a.astype(dt)
    if a.dtype.kind not in "iu":
        raise ReferenceRuntimeError(f"input #{i} has dtype {a.dtype}, the program expects integer codes ({t})")
    lo, hi = storage_range(dt.itemsize * 8)
    if a.size and (a.min() < lo or a.max() > hi):
        raise ReferenceRuntimeError(f"input #{i} has codes outside [{lo}, {hi}] for {t}")
    return a.astype(dt)


def _store(op, value: np.ndarray, result) -> np.ndarray:
    """Cast an op's result to its storage dtype, refusing values that do not fit (no silent wrap)."""
    t = result.type
    dt = numpy_dtype(t)
    v = np.asarray(value)
    if isinstance(t, ShapedType) and t.shape is not None and tuple(v.shape) != tuple(t.shape):
        raise ReferenceRuntimeError(f"{location_prefix(op.location)}: '{op.name}' computed shape {list(v.shape)}, "
                            f"its result type is {t}")
    if dt.kind == "i" and v.size:
        lo, hi = storage_range(dt.itemsize * 8)
        if v.min() < lo or v.max() > hi:
            raise ReferenceRuntimeError(f"{location_prefix(op.location)}: '{op.name}' produced values in "
                                f"[{int(v.min())}, {int(v.max())}], outside its result type {t}")
    return v.astype(dt, copy=False)


def _at_input_batch(func, inputs):
    """`func` retyped at the inputs' batch when it differs from the traced one (irq.batch_axis: every input
    leads with the batch); the inputs' shapes are then checked against the retyped arguments."""
    from irq.batch_axis import BatchNotFollowed, retype_at_batch
    args = func.regions[0].blocks[0].args
    traced = args[0].type.shape[0] if args and isinstance(args[0].type, ShapedType) and args[0].type.shape else None
    first = np.shape(inputs[0]) if inputs else ()
    if traced is None or not first or first[0] == traced or first[1:] != tuple(args[0].type.shape[1:]):
        return func
    try:
        return retype_at_batch(func, int(first[0]), traced)
    except BatchNotFollowed as e:
        raise ReferenceRuntimeError(str(e)) from None


def run(program, *inputs, entry: str | None = None, march: str | None = None) -> list[np.ndarray]:
    """Execute the program on numpy inputs (float arrays for f32 arguments, codes for integer ones). With
    `march`, a program converted for another march is refused (irq.artifact.check_march)."""
    if march is not None:
        from irq.artifact import check_march
        check_march(program, march)
    func = entry_function(program, entry)
    block = func.regions[0].blocks[0]
    if len(inputs) != len(block.args):
        raise ReferenceRuntimeError(f"'{func.sym_name.value}' takes {len(block.args)} input(s), got {len(inputs)}")
    fixed = fixed_batch(program)  # a static export computed with its traced batch (irq.batch_fixed)
    refused = other_batch_error(fixed, [np.asarray(x) for x in inputs]) if fixed is not None else None
    if refused is not None:
        raise ReferenceRuntimeError(refused)
    func = _at_input_batch(func, inputs)
    block = func.regions[0].blocks[0]
    note = sizes_fixed_note(func)  # a causal mask folded from the traced length names its op
    env = {arg: _check_input(i, arg, x, note) for i, (arg, x) in enumerate(zip(block.args, inputs))}
    for op in block.ops:
        if op.name == "func.return":
            return [np.array(env[v]) for v in op.operands]
        fn = IMPLS.get(op.name)
        if fn is None:
            raise ReferenceRuntimeError(f"{location_prefix(op.location)}: the reference runtime has no "
                                        f"implementation of '{op.name}' (it runs the bpu dialect and float islands of "
                                        f"common torch/hl ops)")
        args = [env[v] for v in op.operands]
        try:
            out = fn(op, *args)
        except ReferenceRuntimeError:
            raise
        except (ValueError, IndexError, TypeError) as e:
            raise ReferenceRuntimeError(f"{location_prefix(op.location)}: '{op.name}' failed: {e}") from e
        env[op.results[0]] = _store(op, out, op.results[0])
    raise ReferenceRuntimeError(f"'{func.sym_name.value}' has no func.return")
