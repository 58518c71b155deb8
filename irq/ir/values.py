"""SSA values and their use lists.

A `Value` knows every `Use` of itself, so `replace_all_uses_with` and dead-code
checks never scan the program. Each `Use` remembers its slot in the value's use
list, which makes adding and removing a use O(1) (swap-with-last), the property
MLIR gets from its intrusive lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.ir.block import Block
    from irq.ir.operation import Operation
    from irq.ir.types import Type


class Use:
    """One operand slot of an operation: `owner.operands[index]` is the used value."""

    __slots__ = ("owner", "index", "_slot")

    def __init__(self, owner: Operation, index: int) -> None:
        self.owner = owner
        self.index = index
        self._slot = -1

    @property
    def value(self) -> Value:
        return self.owner.operands[self.index]

    def __repr__(self) -> str:
        return f"Use({self.owner.name}#{self.index})"


class Value:
    """An SSA value: an operation result or a block argument."""

    __slots__ = ("type", "_uses", "name_hint")

    def __init__(self, type: Type, name_hint: str | None = None) -> None:
        self.type = type
        self._uses: list[Use] = []
        self.name_hint = name_hint

    # -- use list -----------------------------------------------------------
    def _add_use(self, use: Use) -> None:
        use._slot = len(self._uses)
        self._uses.append(use)

    def _remove_use(self, use: Use) -> None:
        uses = self._uses
        last = uses.pop()
        if last is not use:
            slot = use._slot
            uses[slot] = last
            last._slot = slot
        use._slot = -1

    @property
    def uses(self) -> tuple[Use, ...]:
        """A snapshot of the uses (safe to iterate while rewriting)."""
        return tuple(self._uses)

    @property
    def users(self) -> Iterator[Operation]:
        """The operations using this value (an op using it twice appears twice)."""
        return (use.owner for use in tuple(self._uses))

    @property
    def num_uses(self) -> int:
        return len(self._uses)

    def has_uses(self) -> bool:
        return bool(self._uses)

    def has_one_use(self) -> bool:
        return len(self._uses) == 1

    def replace_all_uses_with(self, new: Value) -> None:
        """Make every user of this value use `new` instead."""
        if new is self:
            return
        if not isinstance(new, Value):  # set_operand raises the error naming the op and slot
            for use in tuple(self._uses):
                use.owner.set_operand(use.index, new)
            return
        # `set_operand` for every use, in one pass: this use list empties, `new`'s grows by it in
        # order. The parser resolves every use of a function's arguments here (they are bound
        # after its body is parsed), one per op of a chain, so the per-use calls were ~10% of it.
        moved = self._uses
        target = new._uses
        base = len(target)
        for k, use in enumerate(moved):
            owner = use.owner
            i = use.index
            ops = owner.operands
            owner.operands = (*ops[:i], new, *ops[i + 1 :])
            use._slot = base + k
        target.extend(moved)
        self._uses = []

    def replace_uses_where(self, new: Value, predicate) -> None:
        """Replace the uses for which `predicate(use)` is true."""
        for use in tuple(self._uses):
            if predicate(use):
                use.owner.set_operand(use.index, new)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name_hint or ''}: {self.type}>"


class OpResult(Value):
    """Result number `index` of operation `owner`."""

    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: Operation, index: int, name_hint: str | None = None) -> None:
        self.type = type
        self._uses = []
        self.name_hint = name_hint
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op

    def parent_block(self) -> Block | None:
        return self.op.parent


class BlockArgument(Value):
    """Argument number `index` of block `block`."""

    __slots__ = ("block", "index", "location")

    def __init__(self, type: Type, block: Block, index: int, name_hint: str | None = None,
                 location=None) -> None:
        self.type = type
        self._uses = []
        self.name_hint = name_hint
        self.block = block
        self.index = index
        self.location = location

    @property
    def owner(self) -> Block:
        return self.block

    def parent_block(self) -> Block | None:
        return self.block
