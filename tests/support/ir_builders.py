"""Small builders and invariant checks shared by the in-memory IR tests."""

from __future__ import annotations

from irq.ir import UnregisteredOp
from irq.ir.types import i32


def mk(name: str, *operands, results: int = 1, regions: int = 0, **kw) -> UnregisteredOp:
    """An unregistered op with i32 results: IR structure without any dialect's rules."""
    return UnregisteredOp(name, operands=operands, result_types=[i32] * results, regions=regions, **kw)


def check_use_list(v) -> None:
    """Every use knows its slot, and the slot holds it; every use points back at `v`."""
    for slot, u in enumerate(v._uses):
        assert u._slot == slot
        assert u.owner.operands[u.index] is v
