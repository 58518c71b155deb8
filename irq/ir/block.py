"""Blocks and regions.

A block holds its operations in a doubly linked list (insert, erase and move are
O(1)) and its arguments in a Python list. Relative order of two ops in a block,
needed by the dominance check, is answered from lazily computed indices that any
insertion invalidates, as MLIR does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from irq.ir.values import BlockArgument

if TYPE_CHECKING:
    from irq.ir.location import Location
    from irq.ir.operation import Operation
    from irq.ir.types import Type


class Block:
    """A list of operations with typed arguments, ending in a terminator where required."""

    __slots__ = ("args", "parent", "_first", "_last", "_size", "_order_valid", "name_hint",
                 "__weakref__")

    def __init__(self, arg_types: Iterable[Type] = (), *, arg_locations: Sequence[Location] | None = None) -> None:
        self.args: list[BlockArgument] = []
        self.parent: Region | None = None
        self._first: Operation | None = None
        self._last: Operation | None = None
        self._size = 0
        self._order_valid = False
        self.name_hint: str | None = None
        for i, t in enumerate(arg_types):
            self.add_argument(t, arg_locations[i] if arg_locations else None)

    # -- arguments ----------------------------------------------------------
    def add_argument(self, type: Type, location: Location | None = None, name_hint: str | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name_hint, location)
        self.args.append(arg)
        return arg

    def insert_argument(self, index: int, type: Type, location: Location | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, index, None, location)
        self.args.insert(index, arg)
        for i in range(index + 1, len(self.args)):
            self.args[i].index = i
        return arg

    def erase_argument(self, index: int) -> None:
        arg = self.args[index]
        if arg._uses:
            raise ValueError(f"cannot erase block argument #{index}: it still has {len(arg._uses)} use(s)")
        del self.args[index]
        for i in range(index, len(self.args)):
            self.args[i].index = i

    @property
    def arg_types(self) -> tuple[Type, ...]:
        return tuple(a.type for a in self.args)

    # -- operations ---------------------------------------------------------
    @property
    def ops(self) -> Iterator[Operation]:
        """Iterate the operations; erasing the op just yielded is safe."""
        op = self._first
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def ops_reversed(self) -> Iterator[Operation]:
        op = self._last
        while op is not None:
            prv = op._prev
            yield op
            op = prv

    @property
    def first_op(self) -> Operation | None:
        return self._first

    @property
    def last_op(self) -> Operation | None:
        return self._last

    def __len__(self) -> int:
        return self._size

    def is_empty(self) -> bool:
        return self._first is None

    def _link(self, op: Operation, prev: Operation | None, nxt: Operation | None) -> None:
        if op.parent is not None:
            raise ValueError(f"operation '{op.name}' is already in a block; detach it first")
        op.parent = self
        op._prev = prev
        op._next = nxt
        if prev is None:
            self._first = op
        else:
            prev._next = op
        if nxt is None:
            self._last = op
        else:
            nxt._prev = op
        self._size += 1
        self._order_valid = False

    def append(self, op: Operation) -> Operation:
        self._link(op, self._last, None)
        return op

    def prepend(self, op: Operation) -> Operation:
        self._link(op, None, self._first)
        return op

    def extend(self, ops: Iterable[Operation]) -> None:
        for op in ops:
            self._link(op, self._last, None)

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor operation is not in this block")
        self._link(op, anchor._prev, anchor)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor operation is not in this block")
        self._link(op, anchor, anchor._next)
        return op

    def _unlink(self, op: Operation) -> None:
        prev, nxt = op._prev, op._next
        if prev is None:
            self._first = nxt
        else:
            prev._next = nxt
        if nxt is None:
            self._last = prev
        else:
            nxt._prev = prev
        op._prev = op._next = None
        op.parent = None
        self._size -= 1

    @property
    def terminator(self) -> Operation | None:
        """The last operation if it carries the IsTerminator trait."""
        last = self._last
        if last is not None and last.is_terminator():
            return last
        return None

    def _ensure_order(self) -> None:
        if not self._order_valid:
            for i, op in enumerate(self.ops):
                op._order = i
            self._order_valid = True

    # -- structure ----------------------------------------------------------
    @property
    def parent_op(self) -> Operation | None:
        return self.parent.parent if self.parent is not None else None

    @property
    def index_in_region(self) -> int:
        if self.parent is None:
            raise ValueError("block is not in a region")
        return self.parent.blocks.index(self)

    @property
    def successors(self) -> tuple[Block, ...]:
        term = self._last
        return tuple(term.successors) if term is not None else ()

    @property
    def predecessors(self) -> list[Block]:
        """Blocks of the same region whose terminator branches here."""
        if self.parent is None:
            return []
        return [b for b in self.parent.blocks if any(s is self for s in b.successors)]

    def detach(self) -> Block:
        if self.parent is not None:
            self.parent.blocks.remove(self)
            self.parent = None
        return self

    def erase(self) -> None:
        """Erase this block and everything in it; its arguments must be unused outside."""
        for op in list(self.ops_reversed()):
            op.drop_all_references()
        for op in list(self.ops_reversed()):
            op.erase(check_uses=False)
        for arg in self.args:
            if arg._uses:
                raise ValueError("cannot erase block: an argument is still used outside it")
        self.detach()

    def __repr__(self) -> str:
        return f"<Block args={len(self.args)} ops={self._size}>"


class Region:
    """An ordered list of blocks owned by an operation."""

    __slots__ = ("blocks", "parent")

    def __init__(self, blocks: Iterable[Block] = ()) -> None:
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block | None = None) -> Block:
        block = Block() if block is None else block
        if block.parent is not None:
            raise ValueError("block already belongs to a region")
        block.parent = self
        self.blocks.append(block)
        return block

    def insert_block(self, index: int, block: Block) -> Block:
        if block.parent is not None:
            raise ValueError("block already belongs to a region")
        block.parent = self
        self.blocks.insert(index, block)
        return block

    @property
    def entry(self) -> Block | None:
        return self.blocks[0] if self.blocks else None

    @property
    def block(self) -> Block:
        """The single block of a single-block region."""
        if len(self.blocks) != 1:
            raise ValueError(f"expected a region with one block, it has {len(self.blocks)}")
        return self.blocks[0]

    @property
    def ops(self) -> Iterator[Operation]:
        """Operations of a single-block region."""
        return self.block.ops

    def is_empty(self) -> bool:
        return not self.blocks

    def take_body(self, other: Region) -> None:
        """Move all blocks of `other` to the end of this region."""
        for b in list(other.blocks):
            b.parent = self
            self.blocks.append(b)
        other.blocks.clear()

    def __repr__(self) -> str:
        return f"<Region blocks={len(self.blocks)}>"
