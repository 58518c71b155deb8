"""The qat dialect: trainable fake quantization, the level between hl and the frozen quant level.

    %wq = qat.fake_quant %w owner "conv1" slot "weight" {dtype = "qint8", observer = "per_channel_min_max",
                                 qscheme = "per_channel", axis = 0 : i64} : tensor<16x3x3x3xf32>
    %y  = hl.conv2d %x, %wq {owner = "conv1", ...}
    %yq = qat.fake_quant %y owner "conv1" slot "out" {dtype = "qint8", observer = "moving_average_min_max",
                                                       qscheme = "per_tensor"} : tensor<1x16x32x32xf32>

One op per quantized value: the quantization *state* (observer statistics, scales) is not in
the IR but in the torch module built from it (`runtime/torch`), in buffers named after
`owner` and `slot` (`conv1.weight_quant.scale`, `conv1.out_quant.scale`), so a checkpoint
saved from one prepare loads into the next. `freeze` reads that state back and rewrites each
fake-quant into a `quant.qcast`/`quant.dcast` pair.

A weight fake-quant feeding a conv/linear whose batch norm is fused acts on the weight with
the batch norm folded in (what the chip stores), as torch.ao's ConvBn QAT modules do; the
torch executor passes it to the fused op instead of applying it to the raw weight.
A qint32 fake-quant marks a high-precision output: its scale is derived (s_in * s_w), never
observed, and it does not round.
"""

from __future__ import annotations

from irq.dialects._opspec import FLOAT, FLOATS, INT, STR

from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, operand, result
from irq.ir.traits import Pure, SameOperandsAndResultType
from irq.ir.types import FloatType, ShapedType
from irq.qconfig import DTYPES, OBSERVERS, QSCHEMES

DIALECT = Dialect("qat", "Trainable fake quantization (observers, scales, STE) before freezing.")

#: What a fake-quant quantizes: an op's output, its weight, a model input, or another operand.
SLOTS = ("out", "weight", "input")


def _float_tensor(t) -> bool:
    return isinstance(t, ShapedType) and isinstance(t.element_type, FloatType)


@DIALECT.op
class FakeQuantOp(Op):
    """Fake-quantize a float tensor: observe it, round it to the grid of its scale (straight-through
    gradient inside the clamp range), keep it float. `owner` and `slot` name its state."""

    name = "qat.fake_quant"
    traits = frozenset({Pure, SameOperandsAndResultType})
    input = operand(_float_tensor)
    out = result(_float_tensor)
    owner = attribute(STR.predicate(), coerce=STR.coerce)
    slot = attribute(STR.predicate(), coerce=STR.coerce)
    dtype = attribute(STR.predicate(), coerce=STR.coerce)
    observer = attribute(STR.predicate(), coerce=STR.coerce)
    qscheme = attribute(STR.predicate(), coerce=STR.coerce)
    axis = attribute(INT.predicate(), optional=True, coerce=INT.coerce)
    averaging_constant = attribute(FLOAT.predicate(), optional=True, coerce=FLOAT.coerce)
    fixed_scale = attribute(FLOAT.predicate(), optional=True, coerce=FLOAT.coerce)
    percentile = attribute(FLOAT.predicate(), optional=True, coerce=FLOAT.coerce)
    clip = attribute(FLOAT.predicate(), optional=True, coerce=FLOAT.coerce)
    learnable = attribute(optional=True)
    rule = attribute(STR.predicate(), optional=True, coerce=STR.coerce)
    #: the learned scale(s), recorded by irq.freeze for freeze-quant (absent while training)
    scale = attribute(FLOATS.predicate(), optional=True, coerce=FLOATS.coerce)
    assembly_format = "$input `owner` $owner `slot` $slot attr-dict `:` type($input)"

    @property
    def state_path(self) -> str:
        """Where its state lives in the generated torch module: `<owner>.<slot>_quant`."""
        return f"{self.owner.value}.{self.slot.value}_quant" if self.owner.value else f"{self.slot.value}_quant"

    def verify_op(self) -> None:
        slot = self.get_attr("slot").value
        if slot not in SLOTS and not slot.isidentifier():  # another operand: its operand name (`other`)
            raise self.error(f"slot must be one of {', '.join(SLOTS)} or an operand name, got '{slot}'")
        for attr, allowed in (("dtype", tuple(DTYPES)), ("observer", OBSERVERS), ("qscheme", QSCHEMES)):
            v = self.get_attr(attr).value
            if v not in allowed:
                raise self.error(f"{attr} must be one of {', '.join(allowed)}, got '{v}'")
        t = self.input.type
        if self.qscheme.value == "per_channel":
            if self.axis is None:
                raise self.error("a per_channel fake-quant needs an axis")
            ax = self.axis.value
            if t.shape is not None and not 0 <= ax < len(t.shape):
                raise self.error(f"axis {ax} is out of range for {t}")
        if self.observer.value == "fixed" and self.fixed_scale is None:
            raise self.error("the fixed observer needs fixed_scale")


def fake_quant(op) -> FakeQuantOp | None:
    """`op` as a FakeQuantOp, or None."""
    return op if isinstance(op, FakeQuantOp) else None
