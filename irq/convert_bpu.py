"""`irq.convert`: a frozen (or QAT) model -> the bpu-level program, the deployable artifact's content."""

from __future__ import annotations

from typing import Any

from irq.ir.attributes import IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import i64

#: Version of the deployable format (bpu dialect + semantics); `irq.load` refuses other versions.
FORMAT_VERSION = 1
VERSION_ATTR = "bpu.format_version"
#: The march a program was converted for (a module attribute): `irq.load(path, march=...)`, `irq run --march`
#: and `irq check program.irq --march` refuse a program made for another one. Files without it (written
#: before it was recorded) still load; their march is unknown.
MARCH_ATTR = "bpu.march"


def convert(model: Any, march: str = "bayes", *, float_fallback: bool = False, rounding: str = "half_up"):
    """Lower a frozen irq Module (or a QAT model, frozen first with `irq.freeze`) to a bpu program.

    Every op is checked against the march profile first (`irq.march_profiles`); all violations are
    reported together with their locations before anything is lowered. With `float_fallback=True`
    those ops stay in float between `bpu.dequantize`/`bpu.quantize` instead. The input module is not
    modified. `rounding` is the rounding of every requantize (`half_even` matches onnxruntime).
    """
    from irq.transform import PassManager
    from irq.verifier import verify
    if isinstance(model, Operation):
        program = model.clone()
    else:
        import irq
        freeze = getattr(irq, "freeze", None)
        if freeze is None:
            raise TypeError("irq.convert needs a frozen irq Module here (irq.freeze, which turns a QAT model into "
                            f"one, is not available in this build); got {type(model).__name__}")
        program = freeze(model)
    flag = "true" if float_fallback else "false"
    pipeline = f"builtin.module(lower-bpu{{march={march} float-fallback={flag} rounding={rounding}}})"
    PassManager.parse(pipeline).run(program)
    program.set_attr(VERSION_ATTR, IntegerAttr(FORMAT_VERSION, i64))
    program.set_attr(MARCH_ATTR, StringAttr(march))
    verify(program)
    return program
