"""The greedy driver seeds its worklist in `Operation.walk` order (what `order=` documents).

The driver collects ops by walking the linked op lists directly (it does so on every
iteration, so it must be cheap); these tests hold it to the generic walk on nested,
multi-block and empty regions.
"""

import random

import irq
from irq.ir.dialect import default_context
from irq.rewrite.driver import _collect_ops


def _nested_program(rnd: random.Random, depth: int = 0) -> str:
    """Generic-form unregistered ops with 0-2 regions of 0-3 blocks each, nested up to depth 3."""
    lines = []
    for i in range(rnd.randint(0, 4)):
        n_regions = rnd.randint(0, 2) if depth < 3 else 0
        if not n_regions:
            lines.append(f'"t.leaf{depth}_{i}"() : () -> ()')
            continue
        regions = []
        for _ in range(n_regions):
            blocks = []
            for b in range(rnd.randint(0, 3)):
                body = _nested_program(rnd, depth + 1)
                blocks.append(f"^bb{b}:\n{body}" if b or rnd.random() < 0.5 else body)
            regions.append("{\n" + "\n".join(blocks) + "\n}")
        lines.append(f'"t.nest{depth}_{i}"() ({", ".join(regions)}) : () -> ()')
    return "\n".join(lines)


def test_collected_ops_follow_walk_order_pre_and_post() -> None:
    ctx = default_context().copy(allow_unregistered=True)
    for seed in range(200):
        text = _nested_program(random.Random(seed))
        module = irq.parse_module(text, context=ctx)
        for post in (False, True):
            expected = list(module.walk(post_order=post, include_self=False))
            assert _collect_ops(module, post_order=post) == expected, (seed, post)


def test_collected_ops_of_an_op_without_regions_is_empty() -> None:
    module = irq.parse_module("")
    assert _collect_ops(module, post_order=True) == []
    assert _collect_ops(module, post_order=False) == []
