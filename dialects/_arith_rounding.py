"""`arith.truncf`'s optional rounding mode, as current MLIR writes it.

Spec: llvm-project mlir/test/Dialect/Arith/ops.mlir @test_truncf_rounding_mode
(`%0 = arith.truncf %arg0 tonearesteven : f64 to f32`, and `downward`, `upward`, `towardzero`,
`tonearestaway`) and ArithBase.td's `Arith_RoundingModeAttr`, an I32EnumAttr: the generic form
stores the mode's number as `roundingmode = N : i32` (cases 0-4 in the order below). MLIR C++ 3.13
(the iree-base-compiler oracle) predates it and rejects both forms. irq only carries the mode
(parsed, verified, printed back); no irq pass or runtime executes `arith.truncf`.
"""

from __future__ import annotations

from irq.ir.attributes import IntegerAttr
from irq.ir.types import i32

#: MLIR's arith::RoundingMode, in enum order (the custom form's keyword for each number).
ROUNDING_MODES = ("tonearesteven", "downward", "upward", "towardzero", "tonearestaway")


def rounding_mode_problem(op) -> str | None:
    """Why the op's `roundingmode` property is not a rounding mode (None when absent or valid)."""
    mode = op.properties.get("roundingmode")
    if mode is None:
        return None
    if not isinstance(mode, IntegerAttr) or mode.type is not i32 or not 0 <= mode.value < len(ROUNDING_MODES):
        return (
            "attribute 'roundingmode' failed to satisfy constraint: Floating point rounding mode "
            f"(an i32 of 0-{len(ROUNDING_MODES) - 1}: {', '.join(ROUNDING_MODES)}), got {mode}"
        )
    return None


def print_truncf(self, p) -> None:
    """`%r = arith.truncf %x [mode] {attrs} : f64 to f32`; a mode that is no rounding mode stays in
    the dictionary, so the text reads back to the same (invalid) op."""
    mode = self.properties.get("roundingmode")
    valid = mode is not None and rounding_mode_problem(self) is None
    keyword = f" {ROUNDING_MODES[mode.value]}" if valid else ""
    attrs = p.attr_dict(self, ("roundingmode",)) if valid else p.attr_dict(self)
    a, r = self.operands[0].type, self.results[0].type
    p.out.append(f"{p.op_name(self)} {p.value(self.operands[0])}{keyword}{attrs} : {a._text} to {r._text}")


def parse_truncf(cls, p):
    x = p.parse_operand()
    word = p.parse_optional_keyword(*ROUNDING_MODES)
    props = {"roundingmode": IntegerAttr(ROUNDING_MODES.index(word), i32)} if word is not None else None
    attrs = p.parse_optional_attr_dict()
    p.expect_punct(":")
    a = p.parse_type()
    p.parse_keyword("to")
    r = p.parse_type()
    p.expect_end()
    return cls.create(p.resolve_operands([x], [a]), [r], attrs, props, [])
