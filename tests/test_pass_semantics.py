"""canonicalize, cse, dce and their pipeline preserve meaning on random programs (independent evaluator)."""

import pytest
from hypothesis import given, settings

import irq
from irq.transform import PassManager
from tests.support.arith_programs import INPUTS, arith_programs, evaluate


@pytest.mark.parametrize("pipeline", [
    "builtin.module(func.func(cse))",
    "builtin.module(func.func(dce))",
    "builtin.module(func.func(canonicalize))",
    "builtin.module(func.func(canonicalize, cse, dce), symbol-dce)",
])
@settings(max_examples=40, deadline=None)
@given(text=arith_programs())
def test_pass_preserves_results(pipeline, text):
    before = irq.parse_module(text)
    after = irq.parse_module(text)
    PassManager.parse(pipeline).run(after)  # verifies after each pass
    for a, b, x in INPUTS:
        assert evaluate(after, a, b, x) == evaluate(before, a, b, x), f"{pipeline}\n{text}\n{after}"


@settings(max_examples=40, deadline=None)
@given(text=arith_programs())
def test_cse_leaves_no_duplicate_pure_ops(text):
    m = irq.parse_module(text)
    PassManager.parse("builtin.module(func.func(cse))").run(m)
    seen = set()
    for op in m.walk():
        if op.name.startswith("arith."):
            key = (op.name, op.operands, tuple(op.properties.items()), tuple(r.type for r in op.results))
            assert key not in seen, m.to_text()
            seen.add(key)


@pytest.mark.parametrize("pass_name", ["cse", "dce"])
@settings(max_examples=30, deadline=None)
@given(text=arith_programs())
def test_erased_statistic_counts_the_ops_removed(pass_name, text):
    # --pass-statistics is how users see what a pass did: the count must be the real one
    m = irq.parse_module(text)
    before = sum(1 for _ in m.walk())
    pm = PassManager.parse(f"builtin.module(func.func({pass_name}))")
    pm.run(m)
    (p,) = pm.passes()
    assert p.statistics["erased"] == before - sum(1 for _ in m.walk())
