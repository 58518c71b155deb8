"""MLIR's arith folders as the oracle for irq's (test support): the op lists, and a check that folds a function of
constants with both `canonicalize`s and compares the returned constants.

MLIR comes from iree-base-compiler (the test extra). It is imported when a fold runs: the test modules that use
this call `pytest.importorskip` first, so they skip when it is missing.
"""

from __future__ import annotations

import math

import irq

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
#: MLIR's predicates written out, not imported from dialects/arith.py: one missing there must fail the tests
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


def mlir_fold(text: str) -> str:
    from iree.compiler import ir, passmanager

    ctx = ir.Context()
    module = ir.Module.parse(text, ctx)
    passmanager.PassManager.parse("builtin.module(func.func(canonicalize))", ctx).run(module.operation)
    return module.operation.get_asm(print_generic_op_form=True)


def irq_fold(text: str) -> irq.ModuleOp:
    m = irq.parse_module(text)
    irq.verify(m)
    irq.PassManager.parse("builtin.module(func.func(canonicalize))").run(m)
    return m


def returned_constants(m) -> list:
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


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def check_folds(lines: list[str], results: list[tuple[str, str]], undefined: frozenset[str] = frozenset()) -> None:
    """`undefined`: results that are undefined behaviour; irq must leave them unfolded (MLIR may fold
    some, e.g. `0 / 0`, to an arbitrary value)."""
    body = "\n".join(f"  {line}" for line in lines)
    names = ", ".join(r for r, _ in results)
    types = ", ".join(t for _, t in results)
    text = f"func.func @f() -> ({types}) {{\n{body}\n  return {names} : {types}\n}}\n"
    ours = returned_constants(irq_fold(text))
    theirs = returned_constants(irq.parse_module(mlir_fold(text)))  # MLIR's generic output, read back by irq
    assert len(ours) == len(theirs)
    for (r, _), a, b in zip(results, ours, theirs):
        if r in undefined:
            assert isinstance(a, str) and a.startswith("arith."), f"{r}: undefined, but irq folded it to {a!r}"
            continue
        assert same_value(a, b), f"{r}: irq {a!r}, MLIR {b!r}\n{text}"


def f32_literal(x: float) -> str:
    if math.isnan(x):
        return "0x7FC00000"
    if math.isinf(x):
        return "0x7F800000" if x > 0 else "0xFF800000"
    return repr(float(x))
