"""Interop with real MLIR (C++, through iree-base-compiler's Python bindings), both directions.

For every IR file in the tests (the corpus tests/ir/*.mlir, every chunk of the lit tests that
irq accepts, the examples):
- what irq prints in generic form, MLIR parses;
- what irq prints in custom form, MLIR parses, when the module uses only dialects whose custom
  syntax MLIR shares (builtin, func, arith, quant) besides generic unregistered ops;
- what MLIR prints (generic form) irq parses back to IR structurally equal to irq's own.

iree-base-compiler registers torch-mlir's `torch` dialect, a different one from irq's: irq's
torch-level IR goes to MLIR in generic form with the dialect renamed (`torch.` -> `irqtorch.`)
and comes back renamed again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import irq
from irq.cli.opt import _chunks

ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")

ROOT = Path(__file__).parent
SHARED_SYNTAX = {"builtin", "func", "arith", "quant"}
_TORCH = re.compile(r'(?<=["!#])torch\.')
_IRQTORCH = re.compile(r'(?<=["!#])irqtorch\.')


def _cases() -> list[tuple[str, str]]:
    """(id, text) of every valid module in the tests."""
    out = []
    files = (
        sorted(ROOT.glob("ir/*.mlir"))
        + sorted((ROOT / "filecheck").rglob("*.irq"))
        + sorted((ROOT / "filecheck").rglob("*.mlir"))
        + sorted((ROOT.parent / "examples").glob("*.irq"))
    )
    for path in files:
        text = path.read_text()
        chunks = _chunks(text, "// -----" in text)
        for i, (chunk, _) in enumerate(chunks):
            if "expected-error" in chunk or "expected-warning" in chunk:
                continue
            if "sparse<" in chunk:  # kept as written by irq, re-printed in a normal form by MLIR
                continue
            try:
                m = irq.parse_module(chunk)
                irq.verify(m)
            except (irq.ParseError, irq.VerifyError):
                continue  # inputs of error tests, checked elsewhere
            out.append((f"{path.relative_to(ROOT.parent)}#{i}", chunk))
    return out


CASES = _cases()


def _mlir(text: str):
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    try:
        return ir.Module.parse(text, ctx)
    except Exception as e:  # MLIRError: diagnostics in its message
        raise AssertionError(f"MLIR rejects irq's output: {e}\n--- text ---\n{text}") from None


def _dialects(m) -> set[str]:
    return {op.name.partition(".")[0] for op in m.walk()}


def test_there_are_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case,text", CASES, ids=[c[0] for c in CASES])
def test_mlir_parses_irq_generic_output_and_irq_reads_mlirs(case: str, text: str):
    m = irq.parse_module(text)
    generic = _TORCH.sub("irqtorch.", irq.print_module(m, generic=True))
    theirs = _mlir(generic).operation.get_asm(print_generic_op_form=True)
    back = irq.parse_module(_IRQTORCH.sub("torch.", theirs))
    diff = irq.structural_diff(back, m)
    assert diff is None, f"{diff}\n--- MLIR printed ---\n{theirs}"


CUSTOM = [
    c
    for c in CASES
    if _dialects(irq.parse_module(c[1])) <= SHARED_SYNTAX
    or all(
        op.name.partition(".")[0] in SHARED_SYNTAX or op.__class__.__name__ == "UnregisteredOp"
        for op in irq.parse_module(c[1]).walk()
    )
]


@pytest.mark.parametrize("case,text", CUSTOM, ids=[c[0] for c in CUSTOM])
def test_mlir_parses_irq_custom_output(case: str, text: str):
    m = irq.parse_module(text)
    theirs = _mlir(irq.print_module(m)).operation.get_asm(print_generic_op_form=True)
    assert irq.structural_diff(irq.parse_module(theirs), m) is None


# a `loc(...)` with its nested parentheses and strings, as both printers write it inline
_LOC = re.compile(r'loc\((?:[^()"]|"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\))*\)')


def _mlir_reads(text: str) -> bool:
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    try:
        ir.Module.parse(text, ctx)
    except Exception:  # custom syntax of irq's own dialects: MLIR has no parser for it
        return False
    return True


# Cases MLIR reads as written. Fused locations are left out: MLIR's FusedLoc::get flattens,
# de-duplicates and drops unknown parts, irq keeps them as built (docs/design.md).
LOCATED = [
    (case, renamed)
    for case, text in CASES
    if "fused" not in text and _mlir_reads(renamed := _TORCH.sub("irqtorch.", text))
]


def test_most_cases_are_located_by_both():
    assert len(LOCATED) >= 40


@pytest.mark.parametrize("generic", [True, False])
@pytest.mark.parametrize("case,text", LOCATED, ids=[c[0] for c in LOCATED])
def test_mlir_locates_every_op_and_argument_as_irq(case: str, text: str, generic: bool):
    """Read from the same text, every op, block or function argument and the module get the
    location MLIR C++ gives them, the implicit ones included (an op at its name, an argument at
    its `%name`, the wrapping module at line 0; docs/design.md, "Implicit locations"), printed in
    the same order in either form."""
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    theirs = ir.Module.parse(text, ctx).operation.get_asm(
        enable_debug_info=True, use_local_scope=True, print_generic_op_form=generic
    )
    mine = irq.print_module(irq.parse_module(text, filename="-"), generic=generic, debuginfo=True, local_scope=True)
    assert _LOC.findall(mine) == _LOC.findall(theirs)
