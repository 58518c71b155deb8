"""memref layouts and memory spaces as MLIR reads and prints them (issue 13, item 1).

Written for irq after reading llvm-project mlir/test/IR/parser.mlir (memrefs with memory spaces
and layouts), mlir/test/IR/invalid-builtin-types.mlir (memref chunks) and
mlir/test/Dialect/Builtin/types.mlir; the canonical forms are MLIR's (BuiltinTypes.cpp
`skipDefaultMemorySpace`, AsmPrinter.cpp's memref case). Each case's verdict and printed type are
also checked against MLIR's C++ parser (iree-base-compiler) in `test_mlir_agrees`, so a case
cannot encode a rule MLIR does not have.

The bugs these catch: a memory space spelled two ways MLIR reads as one (`1` / `1 : i64`, `0` /
none) giving two irq types that compare unequal; an identity layout kept (so `memref<2xf32,
affine_map<(d0) -> (d0)>>` != `memref<2xf32>`); a memory space that is no attribute (`layout`)
accepted; a valid spelling MLIR accepts (spaces in `strided`, a dialect attribute `#foo<"x">`, a
comma inside a string space, a layout replaced by a later one) rejected.
"""

from __future__ import annotations

import pytest

import irq
from irq.ir.types import MemRefType

# (as written, as MLIR prints it; None: MLIR rejects it)
CASES = [
    ("memref<2x4xi8, i8>", "memref<2x4xi8, i8>"),  # a type as memory space
    ("memref<2x4xi8, 1>", "memref<2x4xi8, 1>"),
    ("memref<2x4xi8, 1 : i64>", "memref<2x4xi8, 1>"),  # i64 is the elided type
    ("memref<2x4xi8, 1 : i8>", "memref<2x4xi8, 1 : i8>"),
    ("memref<2x4xi8, 0x10>", "memref<2x4xi8, 16>"),
    ("memref<2x4xi8, 0>", "memref<2x4xi8>"),  # integer 0 of any width is the default space
    ("memref<2x4xi8, 0 : i8>", "memref<2x4xi8>"),
    ("memref<2x4xi8, false>", "memref<2x4xi8>"),
    ("memref<*xf32, 0 : i64>", "memref<*xf32>"),
    ("memref<2xf32, 1 : i1>", "memref<2xf32, true>"),
    ("memref<2xf32, -1>", "memref<2xf32, -1>"),
    ('memref<2xf32, "gpu">', 'memref<2xf32, "gpu">'),
    ('memref<2xf32, "a,b">', 'memref<2xf32, "a,b">'),  # a comma inside the string
    ("memref<2xf32, #foo.space>", "memref<2xf32, #foo.space>"),
    ('memref<2xf32, #foo<"x">>', 'memref<2xf32, #foo<"x">>'),  # an opaque dialect attribute
    ("memref<2xf32, {a = 1}>", "memref<2xf32, {a = 1 : i64}>"),
    ("memref<2xf32, [1, 2]>", "memref<2xf32, [1, 2]>"),
    ("memref<2xf32, @sym>", "memref<2xf32, @sym>"),
    ("memref<2xf32, dense<[1,2]> : tensor<2xi32>>", "memref<2xf32, dense<[1, 2]> : tensor<2xi32>>"),
    ("memref<2xf32, strided<[1],offset:0>>", "memref<2xf32, strided<[1]>>"),
    ("memref<2xf32, strided<[ 1 ] , offset : 3>, 5>", "memref<2xf32, strided<[1], offset: 3>, 5>"),
    ("memref<4x4xf32, strided<[4,1], offset: ?>>", "memref<4x4xf32, strided<[4, 1], offset: ?>>"),
    ("memref<f32, strided<[], offset: 2>>", "memref<f32, strided<[], offset: 2>>"),
    ("memref<2x3xf32, affine_map<(i, j) -> (i, j)>>", "memref<2x3xf32>"),  # the identity layout
    ("memref<2xf32, affine_map<(d0)[s0] -> (d0)>, 3>", "memref<2xf32, 3>"),
    ("memref<f32, affine_map<() -> ()>>", "memref<f32>"),
    ("memref<2xf32, strided<[3, 1]>, strided<[1]>>", "memref<2xf32, strided<[1]>>"),  # the last layout stays
    ("memref<2xf32, strided<[1]>, affine_map<(d0) -> (d0)>>", "memref<2xf32>"),
    ("memref<2xf32, layout>", None),  # not an attribute
    ("memref<2xf32, 1, 2>", None),
    ("memref<2xf32, 3, strided<[1]>>", None),
    ("memref<*xf32, strided<[1]>>", None),
    ("memref<2x3xf32, strided<[3, 1]>, strided<[1]>>", None),  # the layout that stays is checked
    ("memref<2xf32, strided<[1]>, affine_map<(d0, d1) -> (d0)>>", None),
    ("memref<2xf32, >", None),
    ("memref<2xf32, {a = }>", None),
]


def _result_type(text: str):
    m = irq.parse_module(f'"t.op"() : () -> {text}\n')
    return next(iter(m.body.ops)).results[0].type


@pytest.mark.parametrize("written,printed", CASES)
def test_memref_reads_and_prints_as_mlir_does(written, printed):
    if printed is None:
        with pytest.raises(irq.ParseError):
            _result_type(written)
        return
    t = _result_type(written)
    assert isinstance(t, MemRefType)
    assert str(t) == printed
    assert _result_type(printed) is t  # one spelling, one interned type


def test_equal_spellings_are_one_type():
    assert _result_type("memref<2xf32, 1 : i64>") is _result_type("memref<2xf32, 1>")
    assert _result_type("memref<2xf32, 0>") is _result_type("memref<2xf32>")
    assert _result_type("memref<2xf32, affine_map<(d0) -> (d0)>>") is _result_type("memref<2xf32>")
    assert _result_type("memref<2xf32, 1 : i8>") is not _result_type("memref<2xf32, 1>")


def test_an_error_inside_the_memory_space_points_into_it():
    text = '"t.op"() : () -> memref<2xf32, {a = }>\n'
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text)
    assert info.value.line == 1 and info.value.column > text.index("{a")
    assert "memory space" in info.value.message


def test_an_attribute_alias_as_memory_space():
    m = irq.parse_module('#space = "gpu"\n"t.op"() : () -> memref<2xf32, #space>\n')
    assert str(next(iter(m.body.ops)).results[0].type) == 'memref<2xf32, "gpu">'


def test_mlir_agrees():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    wrong = []
    for written, printed in CASES:
        ctx = ir.Context()
        ctx.allow_unregistered_dialects = True
        try:
            module = ir.Module.parse(f'"t.op"() : () -> {written}\n', ctx)
        except Exception:  # MLIRError: MLIR rejected the text
            got = None
        else:
            asm = module.operation.get_asm(print_generic_op_form=True)
            got = asm.split('"t.op"() : () -> ', 1)[1].splitlines()[0].split(" loc(", 1)[0].strip()
        if got != printed:
            wrong.append((written, got, printed))
    assert wrong == []
