"""The deployed program's intermediate values, by owner: what the bpu program computes at every
activation quantizer, dequantized, on the reference runtime.

A bpu program has no owners (its ops are integer arithmetic; an owner's output may be a requantize,
a reshape of its input's codes, or a value folded into the next op), so the mapping is made while
lowering: the frozen level's activation `quant.qcast` ops carry `owner` and `slot`, and the lowering
keeps, for each, the bpu value that holds its codes (`Lowering.q`). This module lowers the QAT model
the way `irq.convert` does (freeze, march check, `lower-bpu`'s `Lowering`), records those values, and
returns each one dequantized by a `bpu.dequantize` added to the program's results: the numbers
are the reference runtime's own, not a re-computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irq.ir.operation import Operation
from irq.ir.values import Value

#: attributes freeze-quant puts on a qcast (the quantizer it came from)
_OWNER, _SLOT = "owner", "slot"


def quantizer_path(owner: str, slot: str) -> str:
    """The FakeQuantize path (`conv1.out_quant`) of the quantizer a frozen qcast came from."""
    return f"{owner}.{slot}_quant" if owner else f"{slot}_quant"


@dataclass
class TappedProgram:
    """A bpu program whose first `n_outputs` results are the model's, followed by one dequantized
    activation per entry of `paths` (a quantizer path each)."""

    program: Operation
    n_outputs: int
    paths: list[str]


def _attr_str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return getattr(a, "value", None) if a is not None else None


def lower_with_taps(qat_model, *, march: str | None = None, float_fallback: bool = False,
                    rounding: str = "half_up") -> TappedProgram:
    """Lower a prepared, calibrated model as `irq.convert` does, exposing every activation quantizer's codes.

    Raises what `irq.convert` raises (march violations with locations, ops that cannot be lowered).
    """
    from irq.march_profiles import check_march
    from irq.passes.fold_constant_views import fold_constant_views
    from irq.passes.fold_constants import fold_constants
    from irq.passes.lower_bpu import Lowering, _check_rounding
    from irq.quant import freeze
    from irq.runtime.reference import entry_function
    from irq.transform import PassFailure

    _check_rounding(rounding)
    march = march or qat_model.__dict__.get("irq_march", "bayes")
    program = freeze(qat_model)
    func = entry_function(program)
    fold_constant_views(func)  # as lower-bpu does first
    fold_constants(func)
    violations = check_march(func, march)
    if violations and not float_fallback:
        raise PassFailure(f"irq.debug: {len(violations)} op(s) cannot run on march '{march}':\n"
                          + "\n".join(str(v) for v in violations))
    taps: list[tuple[str, Value]] = []

    class TappingLowering(Lowering):
        """`lower-bpu`'s lowering, remembering which frozen qcast each activation's codes came from."""

        def lower_qcast(self, op: Operation) -> None:
            super().lower_qcast(op)
            owner, slot = _attr_str(op, _OWNER), _attr_str(op, _SLOT)
            if slot is not None and slot != "weight" and op.results[0] in self.q:
                taps.append((quantizer_path(owner or "", slot), op.results[0]))

    lowering = TappingLowering(func, float_fallback, rounding, {v.op for v in violations})
    lowering.run()
    if lowering.errors:
        from irq.diagnostics import location_prefix
        raise PassFailure("irq.debug: op(s) cannot be lowered to bpu:\n" + "\n".join(
            f"{location_prefix(d.location)}: {d.message}" for d in lowering.errors))
    ret = func.regions[0].blocks[0].terminator
    n_outputs = len(ret.operands)
    lowering.anchor = ret
    extra, paths = [], []
    for path, frozen_value in taps:
        if path in paths:
            continue
        qv = lowering.q[frozen_value]
        extra.append(lowering.dequantize(qv, qv.value))
        paths.append(path)
    ret.set_operands([*ret.operands, *extra])
    lowering._update_signature()
    return TappedProgram(program, n_outputs, paths)


def _program_batch(program: Operation) -> int | None:
    from irq.ir.types import ShapedType
    from irq.runtime.reference import entry_function
    args = entry_function(program).regions[0].blocks[0].args
    shapes = [a.type.shape for a in args if isinstance(a.type, ShapedType) and a.type.shape]
    return shapes[0][0] if shapes else None


def run_tapped(tapped: TappedProgram, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """(model outputs, {quantizer path: dequantized activation}) from the reference runtime.

    The program runs at the batch size it was traced with; larger inputs are split along axis 0
    into chunks of that size and every value is concatenated back along axis 0.
    """
    from irq.runtime.reference import run
    batch = _program_batch(tapped.program)
    n = inputs[0].shape[0] if inputs and inputs[0].ndim else None
    if batch is None or n is None or n == batch:
        chunks = [list(inputs)]
    elif n % batch == 0:
        chunks = [[a[i:i + batch] for a in inputs] for i in range(0, n, batch)]
    else:
        raise ValueError(f"irq.debug: {n} inputs cannot run in chunks of the program's batch size {batch}")
    results = [run(tapped.program, *chunk) for chunk in chunks]
    merged = [np.concatenate([r[i] for r in results]) if len(results) > 1 else results[0][i]
              for i in range(len(results[0]))]
    outputs = merged[:tapped.n_outputs]
    return outputs, dict(zip(tapped.paths, merged[tapped.n_outputs:], strict=True))
