"""`arith.truncf` with a rounding mode, as current MLIR writes it.

Spec: llvm-project mlir/test/Dialect/Arith/ops.mlir @test_truncf_rounding_mode (the five modes
in the custom form) and ArithBase.td's RoundingMode, an I32EnumAttr (generic form
`<{roundingmode = N : i32}>`, N in 0-4). MLIR C++ 3.13, the iree-base-compiler oracle, predates
both: `test_the_oracle_is_older` pins that, and checks that it still reads a truncf without a mode
as irq prints it.
"""

from __future__ import annotations

import pytest

import irq

MODES = ["tonearesteven", "downward", "upward", "towardzero", "tonearestaway"]

# upstream's function, in my words: every mode on one f64 argument
UPSTREAM = (
    "func.func @test_truncf_rounding_mode(%arg0 : f64) -> (f32, f32, f32, f32, f32) {\n"
    + "".join(f"  %{i} = arith.truncf %arg0 {m} : f64 to f32\n" for i, m in enumerate(MODES))
    + "  return %0, %1, %2, %3, %4 : f32, f32, f32, f32, f32\n}\n"
)


def _truncfs(m):
    return [op for op in m.walk() if op.name == "arith.truncf"]


def test_each_mode_is_read_printed_and_read_back():
    m = irq.parse_module(UPSTREAM)
    irq.verify(m)
    assert [op.properties["roundingmode"].value for op in _truncfs(m)] == [0, 1, 2, 3, 4]
    custom = irq.print_module(m)
    for i, mode in enumerate(MODES):  # upstream's CHECK lines: the mode keyword after the operand
        assert f"%{i} = arith.truncf %arg0 {mode} : f64 to f32" in custom
    generic = irq.print_module(m, generic=True)
    for i in range(5):
        assert f'"arith.truncf"(%arg0) <{{roundingmode = {i} : i32}}> : (f64) -> f32' in generic
    for printed, is_generic in ((custom, False), (generic, True)):
        back = irq.parse_module(printed)
        irq.verify(back)
        assert irq.structurally_equal(m, back)
        assert irq.print_module(back, generic=is_generic) == printed


def test_without_a_mode_nothing_changes():
    m = irq.parse_module(
        "func.func @f(%a: f32) -> bf16 {\n  %0 = arith.truncf %a : f32 to bf16\n  return %0 : bf16\n}\n"
    )
    (op,) = _truncfs(m)
    assert "roundingmode" not in op.properties
    assert "arith.truncf %a : f32 to bf16" in irq.print_module(m)


@pytest.mark.parametrize(
    "body,line,message",
    [
        ("%0 = arith.truncf %a nearest : f64 to f32", 2, "expected ':', found 'nearest'"),
        ('%0 = "arith.truncf"(%a) <{roundingmode = 5 : i32}> : (f64) -> f32', 2, "Floating point rounding mode"),
        ('%0 = "arith.truncf"(%a) <{roundingmode = 1 : i64}> : (f64) -> f32', 2, "Floating point rounding mode"),
        ('%0 = "arith.truncf"(%a) <{roundingmode = "upward"}> : (f64) -> f32', 2, "Floating point rounding mode"),
        ("%0 = arith.truncf %a upward : f64 to f64", 2, "must be narrower"),
    ],
    ids=["unknown_keyword", "out_of_range", "not_i32", "not_an_integer", "not_narrower"],
)
def test_bad_modes_are_errors_at_the_op(body, line, message):
    text = f"func.func @f(%a: f64) {{\n  {body}\n  return\n}}\n"
    with pytest.raises((irq.ParseError, irq.VerifyError)) as info:
        irq.verify(irq.parse_module(text))
    assert message in str(info.value)
    assert f":{line}:" in str(info.value)


def test_an_invalid_mode_prints_so_it_reads_back():
    op = '%0 = "arith.truncf"(%a) <{roundingmode = 9 : i32}> : (f64) -> f32'
    text = f"func.func @f(%a: f64) -> f32 {{\n  {op}\n  return %0 : f32\n}}\n"
    m = irq.parse_module(text)
    assert irq.structurally_equal(m, irq.parse_module(irq.print_module(m)))


def test_the_oracle_is_older():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    with pytest.raises(ir.MLIRError):
        ir.Module.parse(UPSTREAM, ctx)
    plain = "func.func @f(%arg0: f64) -> f32 {\n  %0 = arith.truncf %arg0 : f64 to f32\n  return %0 : f32\n}\n"
    printed = irq.print_module(irq.parse_module(plain))
    assert "arith.truncf %arg0 : f64 to f32" in str(ir.Module.parse(printed, ctx))
