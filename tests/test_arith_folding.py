"""arith folders agree with MLIR's own (C++, through iree-base-compiler's bindings).

Upstream files covered: mlir/test/Dialect/Arith/canonicalize.mlir (constant folding of the
binary, comparison, select and cast ops), mlir/test/Dialect/Arith/ops.mlir (their custom forms).

Each case is a function of constants; both irq's and MLIR's `canonicalize` fold it, and the
returned constants must be equal. Cases MLIR leaves unfolded (division by zero, over-wide
shifts) must stay unfolded in irq too: folding undefined behaviour to some number would be a
wrong number without an error.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irq

ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
passmanager = pytest.importorskip("iree.compiler.passmanager")

INT_OPS = [
    "addi",
    "subi",
    "muli",
    "divsi",
    "divui",
    "remsi",
    "remui",
    "ceildivsi",
    "floordivsi",
    "andi",
    "ori",
    "xori",
    "shli",
    "shrsi",
    "shrui",
    "maxsi",
    "minsi",
    "maxui",
    "minui",
]
FLOAT_OPS = ["addf", "subf", "mulf", "divf", "remf", "maximumf", "minimumf", "maxnumf", "minnumf"]
CMPI = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
CMPF = [
    "false",
    "oeq",
    "ogt",
    "oge",
    "olt",
    "ole",
    "one",
    "ord",
    "ueq",
    "ugt",
    "uge",
    "ult",
    "ule",
    "une",
    "uno",
    "true",
]


def _mlir_fold(text: str) -> str:
    ctx = ir.Context()
    module = ir.Module.parse(text, ctx)
    passmanager.PassManager.parse("builtin.module(func.func(canonicalize))", ctx).run(module.operation)
    return module.operation.get_asm(print_generic_op_form=True)


def _irq_fold(text: str) -> irq.ModuleOp:
    m = irq.parse_module(text)
    irq.verify(m)
    irq.PassManager.parse("builtin.module(func.func(canonicalize))").run(m)
    return m


def _returned(m) -> list:
    """For each returned value: its constant attribute's value, or the name of the op left in place."""
    func = next(iter(m.body.ops))
    ret = list(func.regions[0].blocks[0].ops)[-1]
    out = []
    for v in ret.operands:
        owner = getattr(v, "op", None)
        if owner is not None and owner.name == "arith.constant":
            a = owner.get_attr("value")
            out.append(a.value)
        else:
            out.append(owner.name if owner is not None else "arg")
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def _check(lines: list[str], results: list[tuple[str, str]], undefined: frozenset[str] = frozenset()) -> None:
    """`undefined`: results that are undefined behaviour; irq must leave them unfolded (MLIR may fold
    some, e.g. `0 / 0`, to an arbitrary value)."""
    body = "\n".join(f"  {line}" for line in lines)
    names = ", ".join(r for r, _ in results)
    types = ", ".join(t for _, t in results)
    text = f"func.func @f() -> ({types}) {{\n{body}\n  return {names} : {types}\n}}\n"
    ours = _returned(_irq_fold(text))
    theirs = _returned(irq.parse_module(_mlir_fold(text)))  # MLIR's generic output, read back by irq
    assert len(ours) == len(theirs)
    for (r, _), a, b in zip(results, ours, theirs):
        if r in undefined:
            assert isinstance(a, str) and a.startswith("arith."), f"{r}: undefined, but irq folded it to {a!r}"
            continue
        assert _same(a, b), f"{r}: irq {a!r}, MLIR {b!r}\n{text}"


@settings(max_examples=40, deadline=None)
@given(width=st.sampled_from([8, 32, 64]), data=st.data())
def test_integer_folds_match_mlir(width: int, data):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    edge = st.sampled_from([0, 1, -1, 2, width - 1, width, lo, hi])
    a = data.draw(st.one_of(edge, st.integers(lo, hi)))
    b = data.draw(st.one_of(edge, st.integers(lo, hi)))
    t = f"i{width}"
    lines = [f"%a = arith.constant {a} : {t}", f"%b = arith.constant {b} : {t}"]
    results = []
    for op in INT_OPS:
        lines.append(f"%{op} = arith.{op} %a, %b : {t}")
        results.append((f"%{op}", t))
    for pred in CMPI:
        lines.append(f"%c_{pred} = arith.cmpi {pred}, %a, %b : {t}")
        results.append((f"%c_{pred}", "i1"))
    lines.append(f"%sel = arith.select %c_slt, %a, %b : {t}")
    results.append(("%sel", t))
    if width > 8:
        lines.append(f"%tr = arith.trunci %a : {t} to i8")
        results.append(("%tr", "i8"))
    if width < 64:
        lines += [f"%es = arith.extsi %a : {t} to i64", f"%eu = arith.extui %a : {t} to i64"]
        results += [("%es", "i64"), ("%eu", "i64")]
    undefined = set()
    if b == 0:
        undefined |= {"%divsi", "%divui", "%remsi", "%remui", "%ceildivsi", "%floordivsi"}
    if a == lo and b == -1:
        undefined |= {"%divsi", "%ceildivsi", "%floordivsi"}
    if not 0 <= b % (1 << width) < width:
        undefined |= {"%shli", "%shrsi", "%shrui"}
    _check(lines, results, frozenset(undefined))


FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan]), st.floats(-1e6, 1e6, width=32)
)


def _f32(x: float) -> str:
    if math.isnan(x):
        return "0x7FC00000"
    if math.isinf(x):
        return "0x7F800000" if x > 0 else "0xFF800000"
    return repr(float(x))


@settings(max_examples=40, deadline=None)
@given(a=FLOATS, b=FLOATS)
def test_float_folds_match_mlir(a: float, b: float):
    lines = [f"%a = arith.constant {_f32(a)} : f32", f"%b = arith.constant {_f32(b)} : f32"]
    results = []
    for op in FLOAT_OPS:
        lines.append(f"%{op} = arith.{op} %a, %b : f32")
        results.append((f"%{op}", "f32"))
    for pred in CMPF:
        lines.append(f"%c_{pred} = arith.cmpf {pred}, %a, %b : f32")
        results.append((f"%c_{pred}", "i1"))
    lines.append("%neg = arith.negf %a : f32")
    results.append(("%neg", "f32"))
    _check(lines, results)


def test_undefined_behaviour_is_not_folded():
    """MLIR leaves x / 0 and shifts by the width unfolded; so must irq (an op, not a number)."""
    text = """func.func @f() -> (i32, i32, i32) {
  %a = arith.constant 7 : i32
  %z = arith.constant 0 : i32
  %w = arith.constant 32 : i32
  %0 = arith.divsi %a, %z : i32
  %1 = arith.remui %a, %z : i32
  %2 = arith.shli %a, %w : i32
  return %0, %1, %2 : i32, i32, i32
}
"""
    assert _returned(_irq_fold(text)) == ["arith.divsi", "arith.remui", "arith.shli"]
    assert _returned(irq.parse_module(_mlir_fold(text))) == ["arith.divsi", "arith.remui", "arith.shli"]
