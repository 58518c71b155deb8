"""Block dominance in a region: a dominator tree, as MLIR's DominanceInfo builds.

The tree comes from Cooper, Harvey and Kennedy's iterative algorithm ("A Simple,
Fast Dominance Algorithm", 2001): immediate dominators are refined over the blocks
in reverse postorder until nothing changes, which on the control flow of real
programs takes two or three sweeps. Each block then gets the interval of a
depth-first walk of the tree, so `dominates(a, b)` is two comparisons. Time and
memory are linear in the blocks and edges; the per-block dominator sets this
replaces were quadratic (8,000 blocks: 6.2 s and 2 GB).

Unreachable blocks follow LLVM and MLIR: every block dominates an unreachable
block, and an unreachable block dominates only itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.ir.block import Block, Region


class DominanceInfo:
    """Dominance between the blocks of one region."""

    __slots__ = ("_children", "_enter", "_exit")

    def __init__(self, region: Region) -> None:
        blocks = region.blocks
        self._enter: dict[Block, int] = {}
        self._exit: dict[Block, int] = {}
        self._children: dict[Block, list[Block]] = {}
        if not blocks:
            return
        order = _reverse_postorder(blocks[0], region)
        index = {b: i for i, b in enumerate(order)}
        preds: list[list[int]] = [[] for _ in order]
        for i, b in enumerate(order):
            for s in b.successors:
                j = index.get(s)
                if j is not None:
                    preds[j].append(i)
        idom = _immediate_dominators(preds)
        self._number(order, idom)

    def _number(self, order: list[Block], idom: list[int]) -> None:
        children: list[list[int]] = [[] for _ in order]
        for i in range(1, len(order)):
            children[idom[i]].append(i)
        self._children = {order[i]: [order[c] for c in cs] for i, cs in enumerate(children)}
        enter, exit_ = self._enter, self._exit
        clock = 0
        stack = [(0, False)]
        while stack:
            i, done = stack.pop()
            if done:
                exit_[order[i]] = clock
                clock += 1
                continue
            enter[order[i]] = clock
            clock += 1
            stack.append((i, True))
            stack.extend((c, False) for c in children[i])

    def children(self, b: Block) -> list[Block]:
        """The blocks `b` immediately dominates (none for an unreachable block): CSE walks this tree."""
        return self._children.get(b, [])

    def is_reachable(self, b: Block) -> bool:
        return b in self._enter

    def dominates(self, a: Block, b: Block) -> bool:
        """Whether every path from the entry to `b` passes through `a` (a block dominates itself)."""
        if a is b:
            return True
        eb = self._enter.get(b)
        if eb is None:
            return True  # unreachable: dominated by everything
        ea = self._enter.get(a)
        if ea is None:
            return False
        return ea <= eb and self._exit[b] <= self._exit[a]


def _reverse_postorder(entry: Block, region: Region) -> list[Block]:
    """Blocks reachable from `entry` within `region`, in reverse postorder (iterative DFS)."""
    seen = {entry}
    post: list[Block] = []
    stack = [(entry, iter(entry.successors))]
    while stack:
        block, it = stack[-1]
        for s in it:
            if s not in seen and s.parent is region:
                seen.add(s)
                stack.append((s, iter(s.successors)))
                break
        else:
            stack.pop()
            post.append(block)
    post.reverse()
    return post


def _immediate_dominators(preds: list[list[int]]) -> list[int]:
    """Immediate dominator of each block, blocks numbered in reverse postorder (0 is the entry)."""
    n = len(preds)
    undefined = -1
    idom = [undefined] * n
    idom[0] = 0
    changed = True
    while changed:
        changed = False
        for b in range(1, n):
            new = undefined
            for p in preds[b]:
                if idom[p] == undefined:
                    continue
                if new == undefined:
                    new = p
                    continue
                x, y = p, new  # walk both up the tree to their common ancestor (larger number = deeper)
                while x != y:
                    while x > y:
                        x = idom[x]
                    while y > x:
                        y = idom[y]
                new = x
            if new != idom[b]:
                idom[b] = new
                changed = True
    return idom
