"""bench/mlir_audit.py judges each chunk of an upstream test file by the rule of its kind (session 9).

The audit's figures in docs/design.md and the README rest on these rules, so each is held here on
small files written for irq (no upstream text): a file MLIR must fail on without saying where
(`// RUN: not mlir-opt %s`, as IR/fail-invalid-tensor-encoding.mlir), chunks whose expected errors
are rules of a dialect irq does not have (a generic `affine.apply`, a `#dlti.*` attribute, as in
IR/invalid-ops.mlir and IR/module-op.mlir), and chunks that use MLIR's test dialect's resources
(IR/invalid-file-metadata.mlir). Without these rules such chunks counted as irq's failures or
were misread as valid.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "mlir_audit", Path(__file__).resolve().parents[1] / "bench" / "mlir_audit.py"
)
audit = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("mlir_audit", audit)  # its dataclass looks its module up there
_SPEC.loader.exec_module(audit)


def _counts(tmp_path: Path, text: str) -> audit.FileCounts:
    f = tmp_path / "case.mlir"
    f.write_text(text, encoding="utf-8")
    return audit.audit_file(f)


def test_a_file_mlir_must_fail_on_is_invalid_at_any_line(tmp_path):
    c = _counts(tmp_path, "// RUN: not mlir-opt %s\n\n// an alias nobody defines\n!t = tensor<4xf32, #nowhere>\n")
    assert (c.valid_total, c.invalid_total, c.invalid_rejected, c.invalid_at_line) == (0, 1, 1, 1)


def test_a_valid_file_run_the_usual_way_stays_valid(tmp_path):
    c = _counts(tmp_path, '// RUN: mlir-opt %s\n\n"t.a"() : () -> ()\n')
    assert (c.valid_total, c.valid_ok, c.invalid_total) == (1, 1, 0)


@pytest.mark.parametrize(
    "chunk",
    [
        # a generic op of another upstream dialect, rejected there by that dialect's verifier
        '%c = "t.c"() : () -> index\n// expected-error@+1 {{needs its map}}\n'
        '%x = "affine.apply"(%c) : (index) -> index\n',
        # another upstream dialect's attribute, whose rule is that dialect's
        "// expected-error@+1 {{two layouts}}\nmodule attributes {a.x = #dlti.dl_spec<>, a.y = #dlti.dl_spec<>} {\n}\n",
        # MLIR's test dialect's resources
        "// expected-error@+3 {{bad blob}}\n{-#\n  dialect_resources: {\n    test: {\n      b: 1\n    }\n  }\n#-}\n",
    ],
    ids=["foreign_generic_op", "foreign_attribute", "test_dialect_resource"],
)
def test_rules_of_dialects_irq_lacks_are_counted_apart(tmp_path, chunk):
    c = _counts(tmp_path, "// RUN: mlir-opt %s -split-input-file -verify-diagnostics\n\n" + chunk)
    assert (c.foreign, c.invalid_total, c.valid_total) == (1, 0, 0)


def test_an_error_of_irq_own_dialects_stays_in_scope(tmp_path):
    """A generic op of a dialect irq has (`arith`) is irq's to reject, at the annotated line."""
    chunk = (
        '%c = "t.c"() : () -> f32\n// expected-error@+1 {{must be integer}}\n'
        '%x = "arith.addi"(%c, %c) : (f32, f32) -> f32\n'
    )
    c = _counts(tmp_path, "// RUN: mlir-opt %s -verify-diagnostics\n\n" + chunk)
    assert (c.foreign, c.invalid_total, c.invalid_at_line) == (0, 1, 1)


def _interop():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            "mlir_audit_interop", Path(__file__).resolve().parents[1] / "bench" / "mlir_audit_interop.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def test_the_interop_check_agrees_on_located_and_unlocated_ir():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    text = (
        'func.func @f(%a: i32, %b: i32 loc("b.py":2:2)) -> i32 {\n'
        "  %0 = arith.addi %a, %b : i32\n"
        '  %1 = "t.r"(%0) ({\n  ^bb0(%x: i32):\n    "t.y"() : () -> ()\n  }) : (i32) -> i32\n'
        "  return %1 : i32\n}\n"
    )
    assert _interop().check_chunk(ir, text) == ("checked", None)


def test_the_interop_check_reports_a_difference():
    """A fused location MLIR normalizes (one part, no metadata) is reported, not passed over."""
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    status, why = _interop().check_chunk(ir, '"t.a"() : () -> () loc(fused["a.py":1:1])\n')
    assert status == "checked" and why is not None and "locations differ" in why
