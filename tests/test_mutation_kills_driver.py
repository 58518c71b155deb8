"""The greedy driver's budgets and bookkeeping (irq/rewrite/driver.py) that mutation testing (bench/mutation.py,
target rewrite-driver, round 12) found no test held: the default iteration budget, `max_rewrites`, a pattern's
rewrite counting as a change, an op erased while still on the worklist, and the options being keyword-only.

Each test names the planted bug it catches. The oracle is the driver's contract as MLIR's greedy driver states
it (GreedyRewriteConfig: maxIterations defaults to 10; maxNumRewrites bounds the rewrites; a sweep that changed
anything is followed by another).
"""

from __future__ import annotations

import pytest

import irq
from irq.rewrite import FunctionPattern, PatternRewriter, apply_patterns_greedily
from irq.rewrite.driver import GreedyDriver


def _module(n_adds: int = 1):
    body = "".join(f"  %{i} = arith.addi %a, %a : i32\n" for i in range(n_adds))
    return irq.parse_module(f"func.func @f(%a: i32) -> i32 {{\n{body}  return %a : i32\n}}")


def _func(m):
    return next(o for o in m.walk() if o.name == "func.func")


def _always_changes(calls: list):
    """A pattern that reports a change on every visit without touching the IR (so nothing is re-queued):
    each sweep visits the op once, and the driver sweeps until its iteration budget runs out."""

    def fire(op, rewriter: PatternRewriter) -> bool:
        calls.append(op)
        return True

    return FunctionPattern(fire, "arith.addi")


@pytest.mark.parametrize("entry", ["apply_patterns_greedily", "GreedyDriver"])
def test_the_default_iteration_budget_is_ten_sweeps(entry):
    """driver.py `max_iterations: int = 10` as 9 or 11 (GreedyDriver and apply_patterns_greedily), and
    `changed = True` after a pattern's rewrite as False (one sweep, then 'converged')."""
    m, calls = _module(), []
    with irq.diagnostics.capture_diagnostics() as diags:
        if entry == "GreedyDriver":
            converged = GreedyDriver(m, [_always_changes(calls)], fold=False, erase_dead=False).run()
        else:
            converged = apply_patterns_greedily(m, [_always_changes(calls)], fold=False, erase_dead=False)
    assert not converged
    assert len(calls) == 10
    assert any("did not converge after 10 iterations" in d.message for d in diags)


def _mark_once(marked: list):
    """Marks each addi once (in place, notified): one rewrite per op, then nothing to do."""

    def mark(op, rewriter: PatternRewriter) -> bool:
        if "marked" in op.attributes:
            return False
        with rewriter.modify_op_in_place(op):
            op.attributes["marked"] = irq.UnitAttr()
        marked.append(op)
        return True

    return FunctionPattern(mark, "arith.addi")


def test_max_rewrites_stops_after_exactly_that_many():
    """driver.py run's `num_rewrites >= max_rewrites` as `!=` and its `break` as `continue` (the next sweeps
    rewrite on past the limit); _drain's `>=` as `<` / `<=` (a sweep stops after its first op)."""
    m, marked = _module(10), []
    with irq.diagnostics.capture_diagnostics():
        converged = apply_patterns_greedily(m, [_mark_once(marked)], max_rewrites=4, erase_dead=False)
    assert not converged  # stopped by the limit, not at a fixpoint
    assert len(marked) == 4
    assert sum("marked" in o.attributes for o in _func(m).body.ops) == 4
    # one rewrite per sweep (nothing re-queued): the limit ends the sweeps too, not only the current one
    calls: list = []
    with irq.diagnostics.capture_diagnostics():
        apply_patterns_greedily(_module(), [_always_changes(calls)], max_rewrites=4, fold=False, erase_dead=False)
    assert len(calls) == 4


def test_a_limit_not_reached_lets_the_driver_converge():
    """run's `>=` as `<=` (the first sweep that changed anything ends the run, under any limit)."""
    m, marked = _module(10), []
    with irq.diagnostics.capture_diagnostics() as diags:
        converged = apply_patterns_greedily(m, [_mark_once(marked)], max_rewrites=1000, erase_dead=False)
    assert converged and not diags
    assert len(marked) == 10


def test_an_op_erased_while_still_queued_is_skipped():
    """_drain's `op is not root` as `op >= root` (an erased op still on the worklist is compared, TypeError)."""
    m = irq.parse_module(
        "func.func @f(%a: i32) -> i32 {\n  %0 = arith.muli %a, %a : i32\n  %1 = arith.addi %a, %a : i32\n"
        "  return %0 : i32\n}"
    )

    def erase_next(op, rewriter: PatternRewriter) -> bool:
        nxt = op.next_op
        if nxt is None or nxt.name != "arith.addi":
            return False
        rewriter.erase_op(nxt)  # queued after `op` (block order): popped later with no parent
        return True

    assert apply_patterns_greedily(m, [FunctionPattern(erase_next, "arith.muli")], fold=False, erase_dead=False)
    assert [o.name for o in _func(m).body.ops] == ["arith.muli", "func.return"]


def test_the_driver_options_are_keyword_only():
    """apply_patterns_greedily's `*` as `/` (a third positional argument taken as max_iterations)."""
    with pytest.raises(TypeError):
        apply_patterns_greedily(_module(), [], 3)
    with pytest.raises(TypeError):
        GreedyDriver(_module(), [], 3)
