"""canonicalize: fold constants and apply every op's canonicalization patterns to a fixpoint."""

from __future__ import annotations

from irq.diagnostics import capture_diagnostics, emit
from irq.ir.dialect import default_context
from irq.ir.operation import Operation
from irq.rewrite.driver import GreedyDriver
from irq.rewrite.pattern import RewritePattern
from irq.transform.pass_base import Option, Pass, register_pass


def canonicalization_patterns() -> list[RewritePattern]:
    """Patterns every loaded op class contributes through `canonicalization_patterns()`."""
    out: list[RewritePattern] = []
    seen: set = set()
    for cls in default_context().ops.values():
        hook = getattr(cls, "canonicalization_patterns", None)
        if hook is not None and hook not in seen:
            seen.add(hook)  # ops may share one hook; collect its patterns once
            out.extend(hook())
    return out


@register_pass("canonicalize")
class Canonicalize(Pass):
    """Fold constants, erase dead pure ops and apply op canonicalization patterns greedily."""

    max_iterations = Option(int, default=10, help="rescans of the whole op before giving up")
    test_convergence = Option(bool, default=False, help="fail when no fixpoint is reached")

    def run(self, op: Operation) -> bool:
        driver = GreedyDriver(op, canonicalization_patterns(), max_iterations=self.max_iterations)
        with capture_diagnostics() as diags:
            converged = driver.run()
        self.statistics["rewrites"] += driver.num_rewrites
        for d in diags:
            emit(d)
        return converged or not self.test_convergence
