"""cse: merge identical side-effect-free ops where one dominates the other.

Scoped hashing over the dominator tree, like MLIR's CSE: an op is looked up by
(name, operands, result types, properties, attributes); if an equivalent op was
seen in a dominating position, its results replace this op's. Nested regions
see the enclosing scope unless their op is isolated from above. Ops with
regions or successors are left alone.
"""

from __future__ import annotations

from irq.ir.block import Block, Region
from irq.ir.dominance import DominanceInfo
from irq.ir.operation import Operation
from irq.ir.traits import IsolatedFromAbove, Pure
from irq.transform.pass_base import Pass, register_pass


def _key(op: Operation) -> tuple | None:
    """What makes two side-effect-free ops interchangeable (regions and successors aside)."""
    results = op.results
    props = op.properties
    attrs = op.attributes
    try:
        return (op.name, op.operands,
                (results[0].type,) if len(results) == 1 else tuple(r.type for r in results),
                tuple(props.items()) if props else (),
                tuple(attrs.items()) if attrs else ())
    except TypeError:  # an unhashable attribute value
        return None


class _CSE:
    def __init__(self) -> None:
        self.erased = 0

    def region(self, region: Region, scope: list[dict]) -> None:
        if not region.blocks:
            return
        if len(region.blocks) == 1:
            self.block(region.blocks[0], scope)
            return
        dom = DominanceInfo(region)
        # depth-first over the dominator tree: a block sees the tables of all its dominators
        stack = [(region.blocks[0], scope)]
        while stack:
            b, s = stack.pop()
            extended = self.block(b, s)
            for c in dom.children(b):
                stack.append((c, extended))

    def block(self, block: Block, scope: list[dict]) -> list[dict]:
        table: dict = {}
        scope = scope + [table]
        innermost_first = scope[::-1]  # the tables themselves fill up, the list does not change
        op = block._first
        while op is not None:
            nxt = op._next
            if op.regions:
                inner = [{}] if op.has_trait(IsolatedFromAbove) else scope
                for r in op.regions:
                    self.region(r, inner)
            elif op.results and Pure in op.traits and not op.successors:
                k = _key(op)
                if k is not None:
                    existing = None
                    for t in innermost_first:
                        if t:  # skip empty tables: a lookup hashes the whole key again
                            existing = t.get(k)
                            if existing is not None:
                                break
                    if existing is not None:
                        op.replace_all_uses_with(existing)
                        op.erase()
                        self.erased += 1
                    else:
                        table[k] = op
            op = nxt
        return scope


@register_pass("cse")
class CSE(Pass):
    """Eliminate common subexpressions among side-effect-free ops."""

    def run(self, op: Operation) -> None:
        c = _CSE()
        scope: list[dict] = [{}]
        for r in op.regions:
            c.region(r, scope if not op.has_trait(IsolatedFromAbove) else [{}])
        self.statistics["erased"] += c.erased
