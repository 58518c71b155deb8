"""Locations printed through `#loc` aliases, as mlir-opt's `--mlir-print-debuginfo` prints them.

MLIR gives every location an alias named `loc` (the builtin dialect's OpAsmDialectInterface),
collected by a dry run of the printer (AsmPrinter.cpp `AliasInitializer`): each op's location is
visited first, when the op is, then what the op prints; block argument locations and locations
used as attributes are visited too. A location is inserted before the locations nested in it
(a name's child, a fused location's parts, a call site's callee and caller). The aliases are then
stably sorted by depth (a leaf is 1, a nesting location one more than its deepest part) and
numbered in that order: `#loc`, `#loc1`, ... An alias is *deferred*, printed after the top-level
op, when every visit of it allowed that (op locations only); the others (block argument
locations, locations in attributes, and every location nested in one of those) are defined at
the top. Where a location prints: an op's as `loc(#locN)`; a block argument's inline, with its
parts by alias; an attribute's as `#locN`; an alias definition's body with its parts by alias.

Why the whole scheme and not inline locations: users diff irq-opt's output against mlir-opt's,
and files mlir-opt wrote with debug info are aliased this way; the parser reads both.
`tests/test_mlir_loc_aliases.py` compares irq's output with MLIR C++'s byte for byte.

Locations are keyed by value (MLIR's attributes are uniqued), through small integer ids so a
location nested 8,000 deep costs linear time; the walks are iterative for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from irq.ir.attributes import Attribute
from irq.ir.location import Location, NestedLoc

if TYPE_CHECKING:
    from irq.text.print_values import ValuePrinter


@dataclass
class _Entry:
    loc: Location
    index: int
    deferrable: bool
    children: list[int] = field(default_factory=list)
    depth: int = 1


class LocAliases:
    """The `#loc` aliases of one print: visit locations in MLIR's order, then `finish()`."""

    def __init__(self, printer: ValuePrinter) -> None:
        self._p = printer
        self._ids_by_object: dict[int, int] = {}  # id(location) -> value id (objects live during the print)
        self._ids_by_value: dict[tuple, int] = {}
        self._entries: dict[int, _Entry] = {}  # value id -> entry, in visit (insertion) order
        self._names: dict[int, str] = {}

    # -- keys ---------------------------------------------------------------------------------
    def _value_id(self, loc: Location) -> int:
        """A small integer equal for equal locations (children first, iteratively)."""
        known = self._ids_by_object.get(id(loc))
        if known is not None:
            return known
        stack: list[tuple[Location, bool]] = [(loc, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in self._ids_by_object:
                continue
            children = node._children() if isinstance(node, NestedLoc) else ()
            if not ready and children:
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in self._ids_by_object)
                continue
            if isinstance(node, NestedLoc):
                own = tuple(self._p.attr(k) if isinstance(k, Attribute) else k for k in node._own_key())
                key = (type(node).__name__, own, tuple(self._ids_by_object[id(c)] for c in children))
            else:
                key = ("leaf", self._p._leaf_loc_body(node))
            self._ids_by_object[id(node)] = self._ids_by_value.setdefault(key, len(self._ids_by_value))
        return self._ids_by_object[id(loc)]

    # -- visiting ------------------------------------------------------------------------------
    def visit(self, loc: Location, deferrable: bool) -> None:
        """Visit `loc` (and, if new, the locations nested in it) as MLIR's alias collector does."""
        entries = self._entries
        top = self._value_id(loc)
        if top in entries:
            if not deferrable:
                self._mark_non_deferrable(top)
            return
        order: list[int] = []  # post-order, for the depths
        stack = [loc]
        while stack:
            node = stack.pop()
            vid = self._value_id(node)
            if vid in entries:
                if not deferrable:
                    self._mark_non_deferrable(vid)
                continue
            entry = entries[vid] = _Entry(node, len(entries), deferrable)
            order.append(vid)
            children = node._children() if isinstance(node, NestedLoc) else ()
            entry.children = [self._value_id(c) for c in children]
            stack.extend(reversed(children))
        for vid in reversed(order):
            entry = entries[vid]
            if entry.children:
                entry.depth = 1 + max(entries[c].depth for c in entry.children)

    def _mark_non_deferrable(self, vid: int) -> None:
        stack = [vid]
        while stack:
            entry = self._entries[stack.pop()]
            if entry.deferrable:
                entry.deferrable = False
                stack.extend(entry.children)

    def finish(self) -> None:
        """Number the aliases: stably by depth, then in visit order (MLIR's `initializeAliases`)."""
        ordered = sorted(self._entries.items(), key=lambda kv: (kv[1].depth, kv[1].index))
        for n, (vid, _) in enumerate(ordered):
            self._names[vid] = "#loc" + (str(n) if n else "")
        self._ordered = ordered

    # -- printing ------------------------------------------------------------------------------
    def name(self, loc: Location) -> str | None:
        """The alias of `loc`, or None for a location no visit saw (it prints inline)."""
        return self._names.get(self._value_id(loc))

    def definitions(self) -> tuple[list[str], list[str], list[str]]:
        """Alias definitions: (defined at the top, leaves), (at the top, nesting), (deferred)."""
        leaves: list[str] = []
        nesting: list[str] = []
        deferred: list[str] = []
        for vid, entry in self._ordered:
            line = f"{self._names[vid]} = loc({self._p.loc_body(entry.loc)})\n"
            if entry.deferrable:
                deferred.append(line)
            elif entry.depth == 1:
                leaves.append(line)
            else:
                nesting.append(line)
        return leaves, nesting, deferred


def locations_in(attr: object) -> list[Location]:
    """The locations used as attribute values in `attr` (through arrays and dictionaries), in
    print order: the ones MLIR's alias collector visits, not deferrable, with the attribute."""
    from irq.ir.attributes import ArrayAttr, DictionaryAttr

    found: list[Location] = []
    stack = [attr]
    while stack:
        a = stack.pop()
        if isinstance(a, Location):
            found.append(a)
        elif type(a) is ArrayAttr:
            stack.extend(reversed(a.value))
        elif type(a) is DictionaryAttr:
            stack.extend(v for _, v in sorted(a.value.items(), reverse=True))
    return found
