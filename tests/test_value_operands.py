"""A Type passed where a Value is expected (issue 14): generated constructors whose result types are
inferred from the operands failed inside inference with "'IntegerType' object has no attribute
'type'"; the error must say which operand and what was expected."""

from __future__ import annotations

import pytest
from irq.dialects import arith

import irq
from irq.ir.types import IntegerType


def test_type_for_an_operand_of_an_inferring_constructor_names_the_operand():
    i32 = IntegerType(32)
    with pytest.raises(TypeError, match=r"'arith.addi' operand #0 must be a Value, got IntegerType i32 "
                                        r"\(a Type was given"):
        arith.AddIOp(i32, i32)


def test_the_second_operand_is_named_when_only_it_is_wrong():
    m = irq.parse_module("%0 = arith.constant 1 : i32")
    c = next(op for op in m.walk() if op.name == "arith.constant")
    with pytest.raises(TypeError, match=r"operand #1 must be a Value, got str"):
        arith.AddIOp(c.results[0], "x")
