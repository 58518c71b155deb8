"""Rewrite patterns and the rewriter they mutate IR through.

A `RewritePattern` matches one op (optionally only ops of one name or class)
and rewrites it through a `PatternRewriter`. Every change goes through the
rewriter so the driver hears about it (MLIR's RewriterBase::Listener) and can
revisit exactly the ops a change may have enabled, instead of rescanning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from irq.ir.block import Block, Region
from irq.ir.operation import Operation
from irq.ir.values import Value

if TYPE_CHECKING:
    pass


class RewritePattern:
    """Subclass and implement `match_and_rewrite`; set `root` to restrict the op kind.

    `root` is an op name ("arith.muli"), an op class, a tuple of either, or None
    for any op. Patterns with a higher `benefit` are tried first.
    """

    root: str | type | tuple | None = None
    benefit: int = 1

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        raise TypeError(f"{type(self).__name__} must implement match_and_rewrite")

    def root_names(self) -> tuple[str, ...] | None:
        """Op names this pattern can match, or None for any op."""
        r = self.root
        if r is None:
            return None
        items = r if isinstance(r, tuple) else (r,)
        names = []
        for x in items:
            if isinstance(x, str):
                names.append(x)
            elif isinstance(x, type) and getattr(x, "name", ""):
                names.append(x.name)
            else:
                return None  # a base class: match by isinstance on every op
        return tuple(names)

    def __repr__(self) -> str:
        return type(self).__name__


class FunctionPattern(RewritePattern):
    """A pattern from a plain function `fn(op, rewriter) -> bool`."""

    def __init__(self, fn: Callable[[Operation, PatternRewriter], bool], root=None, benefit: int = 1) -> None:
        self.fn = fn
        self.root = root
        self.benefit = benefit

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        return bool(self.fn(op, rewriter))

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", "FunctionPattern")


def pattern(root=None, benefit: int = 1) -> Callable[[Callable], FunctionPattern]:
    """Decorator: `@pattern("arith.muli")` turns a function into a RewritePattern."""
    def wrap(fn: Callable) -> FunctionPattern:
        return FunctionPattern(fn, root, benefit)
    return wrap


class Listener:
    """Callbacks for IR changes made through a rewriter."""

    def op_inserted(self, op: Operation) -> None: ...
    def op_modified(self, op: Operation) -> None: ...
    def op_replaced(self, op: Operation, values: Sequence[Value]) -> None: ...
    def op_erased(self, op: Operation) -> None: ...


class PatternRewriter:
    """Creates, replaces, erases and modifies ops, notifying its listener of each change."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener or Listener()
        self._block: Block | None = None
        self._before: Operation | None = None  # insert before this op; None = at end of block
        self.changed = False

    # -- insertion point -------------------------------------------------------------------
    def set_insertion_point_before(self, op: Operation) -> None:
        self._block, self._before = op.parent, op

    def set_insertion_point_after(self, op: Operation) -> None:
        self._block, self._before = op.parent, op._next

    def set_insertion_point_to_start(self, block: Block) -> None:
        self._block, self._before = block, block._first

    def set_insertion_point_to_end(self, block: Block) -> None:
        self._block, self._before = block, None

    @contextmanager
    def insertion_guard(self) -> Iterator[None]:
        saved = (self._block, self._before)
        try:
            yield
        finally:
            self._block, self._before = saved

    # -- creation ------------------------------------------------------------------------------
    def insert(self, op: Operation) -> Operation:
        """Insert a new op at the insertion point."""
        block = self._block
        if block is None:
            raise ValueError("the rewriter has no insertion point")
        if self._before is None:
            block.append(op)
        else:
            block.insert_before(self._before, op)
        self.changed = True
        listener = self.listener
        listener.op_inserted(op)
        if op.regions:
            for nested in op.walk(include_self=False):
                listener.op_inserted(nested)
        return op

    create = insert

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        with self.insertion_guard():
            self.set_insertion_point_before(anchor)
            return self.insert(op)

    # -- replacement and erasure -----------------------------------------------------------------
    def replace_all_uses_with(self, old: Value, new: Value) -> None:
        if old is new:
            return
        for use in old.uses:
            self.listener.op_modified(use.owner)
        old.replace_all_uses_with(new)
        self.changed = True

    def replace_op(self, op: Operation, new: Operation | Sequence[Value] | Value) -> None:
        """Replace all uses of `op`'s results, then erase it. A new op must already be inserted."""
        if isinstance(new, Operation):
            values = new.results
        elif isinstance(new, Value):
            values = (new,)
        else:
            values = tuple(new)
        if len(values) != len(op.results):
            raise ValueError(f"replacing '{op.name}' ({len(op.results)} results) with {len(values)} values")
        self.listener.op_replaced(op, values)
        for r, v in zip(op.results, values):
            self.replace_all_uses_with(r, v)
        self.erase_op(op)

    def erase_op(self, op: Operation) -> None:
        """Erase an op whose results are unused (nested ops are reported erased too)."""
        for r in op.results:
            if r._uses:
                raise ValueError(f"cannot erase '{op.name}': its results still have uses")
        listener = self.listener
        if op.regions:
            for nested in op.walk(post_order=True):
                listener.op_erased(nested)
        else:
            listener.op_erased(op)
        op.erase(check_uses=False)
        self.changed = True

    @contextmanager
    def modify_op_in_place(self, op: Operation) -> Iterator[Operation]:
        """`with rewriter.modify_op_in_place(op): op.set_attr(...)` — the driver revisits it."""
        yield op
        self.changed = True
        self.listener.op_modified(op)

    def notify_modified(self, op: Operation) -> None:
        self.changed = True
        self.listener.op_modified(op)

    # -- blocks and regions ----------------------------------------------------------------------
    def inline_block_before(self, source: Block, anchor: Operation, arg_values: Sequence[Value] = ()) -> None:
        """Move `source`'s ops before `anchor`, replacing its arguments with `arg_values`."""
        if len(arg_values) != len(source.args):
            raise ValueError("inline_block_before: one value per block argument is required")
        for a, v in zip(source.args, arg_values):
            self.replace_all_uses_with(a, v)
        for op in list(source.ops):
            op.detach()
            anchor.parent.insert_before(anchor, op)
            self.listener.op_inserted(op)
        self.changed = True

    def move_region_blocks(self, source: Region, dest: Region) -> None:
        """Move all blocks of `source` to the end of `dest`."""
        dest.take_body(source)
        for b in dest.blocks:
            for op in b.ops:
                self.listener.op_modified(op)
        self.changed = True

    def erase_block(self, block: Block) -> None:
        for op in list(block.ops_reversed()):
            for nested in op.walk(post_order=True):
                self.listener.op_erased(nested)
        block.erase()
        self.changed = True
