"""The dominator tree against a brute-force oracle, and dominance errors it must still find.

Oracle: in a region's control-flow graph, `a` dominates a reachable `b` iff `b` cannot be
reached from the entry once `a` is removed (Lengauer and Tarjan's definition); every block
dominates an unreachable one and an unreachable block dominates only itself (LLVM, MLIR).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irq
from irq.ir import Block, Region, UnregisteredOp
from irq.ir.dominance import DominanceInfo


def cfg(n: int, edges: list[tuple[int, int]]) -> tuple[Region, list[Block]]:
    region = Region()
    blocks = [region.add_block() for _ in range(n)]
    for i, b in enumerate(blocks):
        b.append(UnregisteredOp("t.br", successors=[blocks[j] for s, j in edges if s == i]))
    return region, blocks


def reachable(n: int, edges: list[tuple[int, int]], removed: int | None) -> set[int]:
    if removed == 0:
        return set()
    seen, work = {0}, [0]
    while work:
        x = work.pop()
        for s, t in edges:
            if s == x and t != removed and t not in seen:
                seen.add(t)
                work.append(t)
    return seen


def oracle(n: int, edges, a: int, b: int) -> bool:
    live = reachable(n, edges, None)
    if a == b or b not in live:
        return True
    if a not in live:
        return False
    return b not in reachable(n, edges, a)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n)
        )
    )
)
def test_dominator_tree_matches_the_definition(graph):
    n, edges = graph
    region, blocks = cfg(n, edges)
    dom = DominanceInfo(region)
    for a in range(n):
        for b in range(n):
            assert dom.dominates(blocks[a], blocks[b]) == oracle(n, edges, a, b), (a, b, edges)


def test_irreducible_loop():
    # 0 -> 1, 0 -> 2, 1 <-> 2: neither loop block dominates the other
    region, b = cfg(4, [(0, 1), (0, 2), (1, 2), (2, 1), (2, 3)])
    dom = DominanceInfo(region)
    assert not dom.dominates(b[1], b[2]) and not dom.dominates(b[2], b[1])
    assert dom.dominates(b[0], b[3]) and not dom.dominates(b[1], b[3])


DIAMOND = """
func.func @f(%c: i1) -> i32 {
  cf.cond_br %c, ^a, ^b
^a:
  %x = arith.constant 1 : i32
  cf.br ^join
^b:
  cf.br ^join
^join:
  return %x : i32
}
"""


def test_verifier_reports_use_not_dominated_through_a_diamond():
    text = DIAMOND.replace("cf.cond_br %c, ^a, ^b", '"cf.cond_br"(%c)[^a, ^b] : (i1) -> ()').replace(
        "cf.br ^join", '"cf.br"()[^join] : () -> ()'
    )
    m = irq.parse_module(text)
    with pytest.raises(irq.VerifyError, match="does not dominate"):
        irq.verify(m)
    # defined in the entry block instead: dominates every block
    ok = text.replace("  %x = arith.constant 1 : i32\n", "").replace(
        "-> i32 {\n", "-> i32 {\n  %x = arith.constant 1 : i32\n", 1
    )
    irq.verify(irq.parse_module(ok))
