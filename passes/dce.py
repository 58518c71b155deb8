"""dce: erase pure ops whose results are unused, repeatedly, innermost first. A `torch.call` counts as pure when
its callee is one fold-constants evaluates (factories, casts, masks' logic: passes/fold_constants.py)."""

from __future__ import annotations

from irq.passes.fold_constants import is_pure_call

from irq.ir.operation import Operation
from irq.rewrite.driver import is_trivially_dead
from irq.transform.pass_base import Pass, register_pass


def _unused_pure_call(op: Operation) -> bool:
    return is_pure_call(op) and not any(r._uses for r in op.results)


def erase_dead_ops(root: Operation) -> int:
    """Erase trivially dead ops under `root` until none is left; returns how many."""
    erased = 0
    work = [o for o in root.walk(post_order=True, include_self=False)]
    present = set(work)
    while work:
        op = work.pop()
        present.discard(op)
        if op.parent is None or not (is_trivially_dead(op) or _unused_pure_call(op)):
            continue
        producers = [v.op for v in op.operands if hasattr(v, "op")]
        op.erase()
        erased += 1
        for p in producers:
            if p not in present and p.parent is not None:
                present.add(p)
                work.append(p)
    return erased


@register_pass("dce")
class DeadCodeElimination(Pass):
    """Erase side-effect-free ops whose results are never used."""

    def run(self, op: Operation) -> None:
        self.statistics["erased"] += erase_dead_ops(op)
