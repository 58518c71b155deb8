"""irq.debug.sensitivity: which owners hurt the output most when quantized alone.

Each owner's quantizers (its weight and its output) fake-quantize (QAT mode) while every other
quantizer passes float through, and the model output is compared with float. Owners are ranked worst first:
the top of the list is where int16, a better scale or leaving the op in float pays most. Quantizing
one owner at a time separates an owner's own damage from the error it inherits (what `compare`
alone cannot do). Fake quantization, not VALIDATION, is used on purpose: VALIDATION's integer
emulation of an op reads its producers' scales too (an add rescales its operands), which would blame
an owner for its producer's scale. The model's quantization state is left exactly as found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from irq.debug.capture import run_recording
from irq.debug.compare import _outputs_cosine
from irq.debug.metrics import l1_error
from irq.quant.state import fake_quant_modules


@dataclass
class SensitivityRow:
    owner: str
    #: model output cosine vs float when only this owner is quantized
    output_cosine: float
    #: mean absolute error of the (first) model output
    output_l1: float


def _owners(qat_model: nn.Module) -> list[str]:
    seen: dict[str, None] = {}
    for fq in fake_quant_modules(qat_model):
        if not fq.is_marker:
            seen.setdefault(fq.owner or fq.path, None)
    return list(seen)


def _first(y: Any) -> Any:
    return y[0] if isinstance(y, (tuple, list)) else y


def sensitivity(qat_model: nn.Module, inputs: Any, *, owners: list[str] | None = None) -> list[SensitivityRow]:
    """Rank owners by the output cosine when each is the only quantized one (lowest first)."""
    owners = _owners(qat_model) if owners is None else owners
    if not owners:
        raise ValueError("irq.debug.sensitivity: the model has no fake-quant modules; pass the module "
                         "irq.prepare returned")
    y_float, _ = run_recording(qat_model, inputs, lambda fq: "float")
    rows = []
    for owner in owners:
        y, _ = run_recording(qat_model, inputs,
                             lambda fq, o=owner: "qat" if (fq.owner or fq.path) == o else "float")
        rows.append(SensitivityRow(owner=owner, output_cosine=_outputs_cosine(y_float, y),
                                   output_l1=l1_error(_first(y_float), _first(y))))
    rows.sort(key=lambda r: (r.output_cosine, -r.output_l1))
    return rows


__all__ = ["SensitivityRow", "sensitivity"]
