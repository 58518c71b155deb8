"""The invalid lit files written after MLIR's tests are MLIR's verdicts too (issue 13).

tests/filecheck/mlir/ holds irq's own `--verify-diagnostics` files written after llvm-project's
mlir/test (IR/invalid*.mlir, Dialect/Quant/*-invalid.mlir, Func and Arith invalid.mlir; each
file's header names its sources). lit checks that irq rejects every chunk at the annotated line;
this test checks the annotations themselves against MLIR C++ (iree-base-compiler): MLIR must
reject each annotated chunk, and report an error on a line an `expected-error` names. Without it
an annotation could encode a rule MLIR does not have, or a line MLIR does not report, and lit
would keep passing. The messages are irq's own and are not compared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from irq.cli.opt import _chunks
from irq.cli.verify_diagnostics import _expectations

ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")

HERE = Path(__file__).parent / "filecheck" / "mlir"
_LINE = re.compile(r'loc\("[^"]*":(\d+):\d+\)')


def _annotated_chunks() -> list[tuple[str, str, list[int]]]:
    """(id, chunk, lines its expected-errors name) of every annotated chunk."""
    out = []
    for path in sorted(HERE.glob("*.mlir")):
        text = path.read_text()
        if "--verify-diagnostics" not in text.partition("\n")[0]:
            continue
        for i, (chunk, _) in enumerate(_chunks(text, "// -----" in text)):
            lines = [line for sev, line, _, _ in _expectations(chunk, 0) if sev == "error"]
            if lines:
                out.append((f"{path.name}#{i}", chunk, lines))
    return out


CHUNKS = _annotated_chunks()


def _mlir_error_lines(chunk: str) -> list[int] | None:
    """The lines of MLIR's error diagnostics for the chunk, or None when MLIR accepts it."""
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    try:
        ir.Module.parse(chunk, ctx)
    except ir.MLIRError as e:
        return [int(m.group(1)) for d in e.error_diagnostics if (m := _LINE.search(str(d.location)))]
    return None


def test_there_are_annotated_chunks():
    assert len(CHUNKS) >= 60


@pytest.mark.parametrize("case,chunk,lines", CHUNKS, ids=[c[0] for c in CHUNKS])
def test_mlir_rejects_at_an_annotated_line(case: str, chunk: str, lines: list[int]):
    got = _mlir_error_lines(chunk)
    assert got is not None, f"MLIR C++ accepts {case}:\n{chunk}"
    assert set(got) & set(lines), f"MLIR reports {case} at lines {got}, the annotations name {lines}:\n{chunk}"
