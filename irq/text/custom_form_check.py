"""Whether an op prints in its custom form: MLIR prints an op that fails verification generically.

Why apart from the printer: these are questions about the op (does its shape fit its syntax,
does it pass its own checks, is its entry block a branch target) that the printer asks for
every op; the printer only acts on the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.ir.block import Block, Region
    from irq.ir.operation import Operation


def _custom_form_is_faithful(op: Operation) -> bool:
    """Whether the op's custom form reads back as the same op: its shape fits the syntax and it
    passes its own checks (declared attributes, traits, `verify_op`).

    MLIR's printer prints ops that fail verification in generic form; the check is made here,
    for every op, so no custom printer has to guard against invalid ops (a `function_type` that
    is not a type, a result type its inference would not give back). Operand dominance and
    region structure are not checked: they do not change what the custom form can express.
    """
    if not op.fits_custom_form():
        return False
    try:
        d = op.definition
        if d is not None and d.verify(op):
            return False
        for t in op.traits:
            if t.verify(op):
                return False
        op.verify_op()
    except Exception:
        return False
    return True


def _branched_to(entry: Block, region: Region) -> bool:
    """True if an op of `region` names its entry block as a successor.

    Valid IR never branches to an entry block, but the printer must still write a
    label such IR can be read back with (the verifier reports the branch).
    """
    for b in region.blocks:
        op = b._first
        while op is not None:
            if op.successors and any(s is entry for s in op.successors):
                return True
            op = op._next
    return False
