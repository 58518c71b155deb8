"""The canonicalize pass's options and statistics, as `irq-opt -p 'canonicalize{...}'` users set and read them."""

from __future__ import annotations

import pytest

import irq
from irq.transform import PassManager

TEXT = """func.func @f(%a: i32) -> i32 {
  %c1 = arith.constant 1 : i32
  %c2 = arith.constant 2 : i32
  %c3 = arith.constant 3 : i32
  %0 = arith.addi %c2, %c3 : i32
  %1 = arith.muli %a, %c1 : i32
  %2 = arith.addi %1, %0 : i32
  return %2 : i32
}
"""


def _run(pipeline: str) -> tuple[irq.Operation, PassManager]:
    m = irq.parse_module(TEXT)
    pm = PassManager.parse(pipeline)
    pm.run(m)
    return m, pm


def test_rewrites_statistic_counts_folds_and_pattern_applications():
    m, pm = _run("builtin.module(func.func(canonicalize))")
    # 2 + 3 folds to 5 (one rewrite), a * 1 becomes a (one rewrite); the dead constants are
    # erased, which is not a rewrite
    (p,) = pm.passes()
    assert p.statistics["rewrites"] == 2
    body = next(o for o in m.walk() if o.name == "func.func").regions[0].blocks[0]
    assert [o.name for o in body.ops] == ["arith.constant", "arith.addi", "func.return"]


def test_convergence_failure_is_an_error_only_when_asked():
    # one iteration rewrites; a second is needed to confirm the fixpoint
    with irq.diagnostics.capture_diagnostics() as diags:
        _run("builtin.module(func.func(canonicalize{max-iterations=1}))")
    assert any("did not converge after 1 iterations" in d.message for d in diags)
    with pytest.raises(irq.PassFailure), irq.diagnostics.capture_diagnostics():
        _run("builtin.module(func.func(canonicalize{max-iterations=1 test-convergence=true}))")
    with irq.diagnostics.capture_diagnostics() as diags:
        _run("builtin.module(func.func(canonicalize{max-iterations=2 test-convergence=true}))")
    assert not diags


def test_default_iteration_budget_is_mlirs():
    # MLIR's GreedyRewriteConfig.maxIterations is 10; pipelines written for mlir-opt rely on it
    (p,) = PassManager.parse("builtin.module(func.func(canonicalize))").passes()
    assert p.max_iterations == 10 and p.test_convergence is False
