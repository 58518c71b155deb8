"""IR -> text, in MLIR's syntax.

SSA names follow mlir-opt's scheme so irq's output reads like MLIR's: results
and non-entry block arguments are numbered `%0, %1, ...`, entry block arguments
`%arg0, ...`; a nested region continues from the counters its parent region
reached, and sibling regions start from the same point. Values with a name
hint print under it (`%conv1`), made unique with a `_N` suffix.

Attributes cache their text on first print, and types render once at creation,
so printing a large module is mostly string joins. The printer is also the
`OpAsmPrinter` handed to custom printers.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from irq.ir.attributes import (
    Attribute,
)
from irq.ir.block import Block, Region
from irq.ir.location import UNKNOWN_LOC, Location
from irq.ir.operation import Operation, UnregisteredOp
from irq.ir.traits import IsolatedFromAbove
from irq.ir.types import Type
from irq.text.affine_aliases import NO_ALIAS, NOT_VISITED, alias_affine, visit_order
from irq.text.custom_form_check import _branched_to, _custom_form_is_faithful
from irq.text.loc_aliases import LocAliases, locations_in
from irq.text.print_values import ELIDED, ValuePrinter, _print_resources, attr_key_text, symbol_text  # noqa: F401 - API here too
from irq.text.strings import quote_string

if TYPE_CHECKING:
    from irq.ir.resources import ResourceHandle
    from irq.ir.values import Value

_BARE_ID = re.compile(r"[A-Za-z_][\w$.]*\Z")
_SUFFIX_ID = re.compile(r"[A-Za-z_$.\-][\w$.\-]*\Z")
_AUTO_NAME = re.compile(r"(?:[0-9]+|arg[0-9]+)\Z")
_set = object.__setattr__



class _Names(dict):
    def __missing__(self, v: Value) -> str:
        return "%<<UNKNOWN SSA VALUE>>"


@contextmanager
def deep_recursion(limit: int = 60000) -> Iterator[None]:
    """Allow deep (pure-Python) recursion for deeply nested IR; 3.11 keeps those frames off the C stack."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        if old < limit:
            sys.setrecursionlimit(old)


class _NameScope:
    """Value names taken in one region; lookups see the enclosing regions' names too."""

    __slots__ = ("names", "parent")

    def __init__(self, parent: _NameScope | None) -> None:
        self.names: set[str] = set()
        self.parent = parent

    def taken(self, name: str) -> bool:
        scope = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


class Printer(ValuePrinter):
    """Prints ops, regions, types and attributes; custom op printers call its methods."""

    def __init__(self, *, generic: bool = False, debuginfo: bool = False,
                 elide_elements_if_larger: int | None = None, elide_resources_if_larger: int | None = None) -> None:
        self.generic = generic
        self.debuginfo = debuginfo
        #: MLIR's --mlir-elide-elementsattrs-if-larger: non-splat dense values with more elements
        #: print as `dense_resource<__elided__>`; for reading, not for parsing back
        self.elide_elements = elide_elements_if_larger
        #: MLIR's --mlir-elide-resource-strings-if-larger: blobs of more bytes print as "__elided__"
        self.elide_resources = elide_resources_if_larger
        self.out: list[str] = []
        self.indent = ""
        self.names: dict[Value, str] = _Names()
        self.block_names: dict[Block, str] = {}
        self._scope = _NameScope(None)
        self._conflict = 0
        self.default_dialect = ["builtin"]
        self.resources: dict[str, ResourceHandle] = {}
        self._resource_keys: dict[int, str] = {}
        self._saw_resource = False

    # -- writing --------------------------------------------------------------------------
    def write(self, text: str) -> None:
        self.out.append(text)

    def text(self) -> str:
        return "".join(self.out)

    # -- names ----------------------------------------------------------------------------
    def _hint(self, hint: str) -> str | None:
        """A unique `%name` for a name hint (None for hints that look like automatic names).

        As mlir-opt: names taken in this region or an enclosing one are avoided by probing
        `name_0`, `name_1`, ... with a counter carried along the region nesting; sibling
        regions may reuse each other's names.
        """
        if not hint or _AUTO_NAME.match(hint):
            return None
        if not _SUFFIX_ID.match(hint):
            hint = re.sub(r"[^\w$.\-]", "_", hint)
            if not _SUFFIX_ID.match(hint):
                hint = "_" + hint
        scope = self._scope
        name = hint
        if scope.taken(name):
            while True:
                name = f"{hint}_{self._conflict}"
                self._conflict += 1
                if not scope.taken(name):
                    break
        scope.names.add(name)
        return "%" + name

    def number(self, root: Operation) -> None:
        """Assign SSA and block names for everything nested in `root` (MLIR's scheme)."""
        names = self.names
        hint = self._hint
        top = _NameScope(None)
        self._scope = top
        self._conflict = 0
        if root.results:
            self._name_results(root, 0)
        work: list[tuple[Region, int, int, int, _NameScope]] = [(r, 0, 0, 0, top) for r in reversed(root.regions)]
        while work:
            region, next_value, next_arg, self._conflict, parent_scope = work.pop()
            scope = self._scope = _NameScope(parent_scope)
            nested: list[Operation] = []
            block_names = self.block_names
            for bi, block in enumerate(region.blocks):
                block_names[block] = f"^bb{bi}"
                entry = bi == 0
                for a in block.args:
                    h = a.name_hint
                    n = hint(h) if h else None
                    if n is None:
                        if entry:
                            n = f"%arg{next_arg}"
                            next_arg += 1
                        else:
                            n = f"%{next_value}"
                            next_value += 1
                    names[a] = n
                op = block._first
                while op is not None:
                    res = op.results
                    if res:
                        next_value = self._name_results(op, next_value)
                    if op.regions:
                        nested.append(op)
                    op = op._next
            for op in reversed(nested):
                for r in reversed(op.regions):
                    work.append((r, next_value, next_arg, self._conflict, scope))

    def _name_results(self, op: Operation, next_value: int) -> int:
        res = op.results
        names = self.names
        h = res[0].name_hint
        if h is None and op.suggest_result_name is not None:
            h = op.suggest_result_name()
        if len(res) == 1:
            n = self._hint(h) if h else None
            if n is None:
                n = f"%{next_value}"
                next_value += 1
            names[res[0]] = n
            return next_value
        if all(r.name_hint and not _AUTO_NAME.match(r.name_hint) for r in res):
            for r in res:  # `%a, %b = ...`: one name per result
                names[r] = self._hint(r.name_hint)
            return next_value
        base = self._hint(h) if h else None
        if base is None:
            base = f"%{next_value}"
            next_value += 1
        for i in range(len(res)):
            names[res[i]] = f"{base}#{i}"
        return next_value

    def value(self, v: Value) -> str:
        """The printed name of a value (operand position)."""
        return self.names[v]

    def values(self, vs: Iterable[Value]) -> str:
        names = self.names
        return ", ".join([names[v] for v in vs])

    def results_prefix(self, op: Operation) -> str:
        res = op.results
        if not res:
            return ""
        names = self.names
        first = names[res[0]]
        if len(res) == 1:
            return first + " = "
        if first.endswith("#0"):
            return f"{first[:-2]}:{len(res)} = "
        return ", ".join(names[r] for r in res) + " = "

    # -- helpers for custom printers ---------------------------------------------------------
    def attr_dict(self, op: Operation, elided: Iterable[str] = (), *, with_keyword: bool = False) -> str:
        """` {k = v, ...}` of properties and attributes not in `elided` ('' if none)."""
        props, attrs = op.properties, op.attributes
        if not props and not attrs:
            return ""
        if len(attrs) > 1:
            attrs = dict(sorted(attrs.items()))  # by name, as MLIR's (sorted) attribute dictionary
        if elided:
            el = set(elided)
            d = {k: v for k, v in props.items() if k not in el}
            d.update((k, v) for k, v in attrs.items() if k not in el)
        elif not attrs:
            d = props
        elif not props:
            d = attrs
        else:
            d = dict(props)
            d.update(attrs)
        if not d:
            return ""
        return (" attributes " if with_keyword else " ") + self.dict_text(d, sort=False)

    def symbol(self, name: str) -> str:
        return symbol_text(name)

    def successor(self, b: Block) -> str:
        return self.block_names.get(b, "^<<UNKNOWN BLOCK>>")

    def op_name(self, op: Operation) -> str:
        """The op name, without the prefix of the enclosing default dialect (MLIR's rule)."""
        name = op.name
        d = self.default_dialect[-1]
        if d and name.startswith(d) and name[len(d):len(d) + 1] == "." and name.count(".") == 1:
            return name[len(d) + 1:]
        return name

    # -- ops, regions, blocks --------------------------------------------------------------------------
    def print_op(self, op: Operation) -> None:
        out = self.out
        out.append(self.indent)
        if self.generic or isinstance(op, UnregisteredOp) or not _custom_form_is_faithful(op):
            self._print_generic(op)
        else:
            self._print_custom_else_generic(op)
        if self.debuginfo:
            out.append(self.location_suffix(op.location))
        out.append("\n")

    def _print_custom_else_generic(self, op: Operation) -> None:
        """The op's custom form; if its printer raises, what it wrote is dropped and the op prints
        generically, so a buggy or surprised custom printer never makes printing fail or lose the op."""
        out = self.out
        mark, indent, depth = len(out), self.indent, len(self.default_dialect)
        try:
            out.append(self.results_prefix(op))
            type(op).print_custom(op, self)
        except _GenericFormFailed:
            raise
        except Exception:
            del out[mark:]
            del self.default_dialect[depth:]
            self.indent = indent
            try:
                self._print_generic(op)
            except Exception as e:  # not retried by the enclosing ops' fallbacks: printing them fails the same way
                raise _GenericFormFailed(e) from e

    def _print_generic(self, op: Operation, with_results: bool = True) -> None:
        names = self.names
        out = self.out
        res = op.results
        if res and with_results:
            out.append(self.results_prefix(op))
        out.append(quote_string(op.name))
        out.append("(" + ", ".join([names[v] for v in op.operands]) + ")")
        if op.successors:
            out.append("[" + ", ".join(self.successor(b) for b in op.successors) + "]")
        if op.properties:
            props = self.dict_text(op.properties, sort=False)  # declaration order (docs/design.md)
            if isinstance(op, UnregisteredOp) and ("affine_" in props or "distinct[" in props):
                props = NO_ALIAS + props + NO_ALIAS  # MLIR leaves an unknown op's properties unaliased
            out.append(" <" + props + ">")
        if op.regions:
            out.append(" (")
            first = True
            for r in op.regions:
                if not first:
                    out.append(", ")
                first = False
                self.print_region(r, print_entry_args=True, print_empty_block=True)
            out.append(")")
        if op.attributes:
            out.append(" " + self.dict_text(op.attributes))
        ins = ", ".join([v.type._text for v in op.operands])
        if len(res) == 1:
            rt = res[0].type._text
            out.append(f" : ({ins}) -> {rt}" if rt[0] != "(" else f" : ({ins}) -> ({rt})")
        else:
            out.append(f" : ({ins}) -> (" + ", ".join([r.type._text for r in res]) + ")")

    def print_region(self, region: Region, *, print_entry_args: bool = True, print_empty_block: bool = False) -> None:
        """`{` newline, blocks, indented `}`; the entry label only when it must be printed (MLIR's rule)."""
        out = self.out
        out.append("{\n")
        outer = self.indent
        inner = outer + "  "
        owner = region.parent
        self.default_dialect.append(type(owner).default_dialect if owner is not None else "")
        for bi, block in enumerate(region.blocks):
            if bi == 0:
                # Without printed arguments, the op's custom parser creates the entry block from its
                # signature (func.func); a label then must not repeat them.
                show_args = print_entry_args and bool(block.args)
                label_needed = (show_args or _branched_to(block, region)
                                or (print_empty_block and block.is_empty() and (print_entry_args or not block.args)))
            else:
                show_args = label_needed = True
            if label_needed:
                out.append(f"{outer}{self.block_names[block]}")
                if show_args and block.args:
                    args = []
                    for a in block.args:
                        s = f"{self.names[a]}: {a.type._text}"
                        if self.debuginfo:
                            s += self.arg_location_suffix(a.location)
                        args.append(s)
                    out.append("(" + ", ".join(args) + ")")
                out.append(":\n")
            self.indent = inner
            op = block._first
            while op is not None:
                self.print_op(op)
                op = op._next
            self.indent = outer
        self.default_dialect.pop()
        out.append(outer + "}")


class _GenericFormFailed(Exception):
    """Even the generic form of an op could not be printed (an attribute the printer does not know)."""


def _root_for_names(op: Operation) -> Operation:
    """The op whose numbering `op` is printed with: its nearest isolated ancestor, else the top."""
    top = op
    for anc in op.ancestors():
        top = anc
        if anc.has_trait(IsolatedFromAbove):
            return anc
    return top


def print_operation(op: Operation, *, generic: bool = False, debuginfo: bool = False, local_scope: bool = True,
                    elide_elements_if_larger: int | None = None, elide_resources_if_larger: int | None = None) -> str:
    """Text of one op (a module prints with its resource section).

    With `debuginfo`, locations print inline (`local_scope`, mlir-opt's --mlir-print-local-scope),
    or, with `local_scope=False` for a whole module, through `#loc` aliases as mlir-opt prints
    them by default (irq.text.loc_aliases).

    `elide_elements_if_larger=N` prints non-splat dense values of more than N elements as
    `dense_resource<__elided__>` and `elide_resources_if_larger=N` resource blobs of more
    than N bytes as "__elided__", as mlir-opt's elision flags do: a 28 MB model reads as its
    ops alone. Elided text does not parse back (the parser says the data was elided).
    """
    from irq.dialects.builtin import ModuleOp
    p = Printer(generic=generic, debuginfo=debuginfo, elide_elements_if_larger=elide_elements_if_larger,
                elide_resources_if_larger=elide_resources_if_larger)
    with deep_recursion():
        if op.parent is None:
            p.number(op)
        else:
            root = _root_for_names(op)
            p.number(root)
            p.default_dialect = [_default_dialect_at(op)]
        loc_defs = None
        if debuginfo and not local_scope and op.parent is None:
            p.loc_aliases = _location_aliases(op, p)
            loc_defs = p.loc_aliases.definitions()
        try:
            p.print_op(op)
        except _GenericFormFailed as e:
            raise e.__cause__ from None
        if loc_defs is not None:
            p.out.extend(loc_defs[2])  # deferred aliases: after the op, before the resources
        if isinstance(op, ModuleOp) and op.parent is None:
            _print_resources(p, op)
    text = p.text()
    if op.parent is None:  # a whole module or top-level op: maps, sets, distinct attributes by alias, as MLIR prints
        order = None
        if "affine_" in text or "distinct[" in text:
            if generic:
                order = visit_order(_texts_only(_alias_visit_texts(op, p)))
            else:
                with deep_recursion():
                    order = visit_order(_texts_only(_custom_alias_visit_texts(op, p)))
        text = alias_affine(text, order)
        if loc_defs is not None:
            text = _with_top_loc_aliases(text, loc_defs[0], loc_defs[1])
        return text
    if NO_ALIAS in text or NOT_VISITED in text:  # an op printed alone keeps its maps inline: no marks
        text = text.replace(NO_ALIAS, "").replace(NOT_VISITED, "")
    return text.rstrip("\n")


def _alias_visit_texts(root: Operation, p: Printer) -> list[str]:
    """The texts of `root`'s types and attributes in the order MLIR's alias collector visits them
    for the generic form, which numbers the aliases (AsmPrinter's `DummyAliasOperationPrinter`):
    per op, pre-order, its operand types, result types, regions (each block's argument types,
    then its ops), properties (a registered op's: an unregistered op's are not aliased), then
    discardable attributes by name. Iterative, as the printer: deep nests do not recurse."""
    texts: list = []
    #: an op to visit, or (texts to emit) for block arguments and an op's attributes, which come
    #: after ops visited before them
    stack: list[Operation | list[str] | tuple[Operation]] = [root]
    while stack:
        item = stack.pop()
        if type(item) is list:
            texts.extend(item)
            continue
        if type(item) is tuple:
            op = item[0]
            if op.properties and not isinstance(op, UnregisteredOp):
                texts.extend([p.attr(v) for _, v in sorted(op.properties.items())])
            texts.extend([p.attr(v) for _, v in sorted(op.attributes.items())])
            texts.extend(_attribute_loc_visits(op, p))
            continue
        op = item
        if p.debuginfo and op.location is not None:
            texts.append(LocVisit(op.location, True))
        texts.extend([v.type._text for v in op.operands])
        texts.extend([r.type._text for r in op.results])
        later: list = []
        for region in op.regions:
            for block in region.blocks:
                later.append([a.type._text for a in block.args] + _arg_loc_visits(block, p))
                later.extend(block.ops)
        later.append((op,))
        stack.extend(reversed(later))
    return texts


class LocVisit:
    """A location MLIR's alias collector visits at this point (`deferrable`: an op's own)."""

    __slots__ = ("loc", "deferrable")

    def __init__(self, loc: Location, deferrable: bool) -> None:
        self.loc = loc
        self.deferrable = deferrable


def _texts_only(items: list) -> list[str]:
    return [t for t in items if type(t) is str]


def _arg_loc_visits(block: Block, p: Printer) -> list[LocVisit]:
    if not p.debuginfo:
        return []
    return [LocVisit(UNKNOWN_LOC if a.location is None else a.location, False) for a in block.args]


def _attribute_loc_visits(op: Operation, p: Printer) -> list[LocVisit]:
    """Locations used as attribute values (properties of a registered op, then attributes)."""
    if not p.debuginfo:
        return []
    values = [v for _, v in sorted(op.properties.items())] if not isinstance(op, UnregisteredOp) else []
    values += [v for _, v in sorted(op.attributes.items())]
    return [LocVisit(loc, False) for v in values for loc in locations_in(v)]


def _location_aliases(root: Operation, p: Printer) -> LocAliases:
    """The `#loc` aliases of printing `root`, numbered in MLIR's visit order for its form."""
    saved = (p.resources, p._resource_keys)  # the dry run must not register resources out of order
    p.resources, p._resource_keys = {}, {}
    try:
        items = _alias_visit_texts(root, p) if p.generic else _custom_alias_visit_texts(root, p)
    finally:
        p.resources, p._resource_keys = saved
    aliases = LocAliases(p)
    for item in items:
        if type(item) is LocVisit:
            aliases.visit(item.loc, item.deferrable)
    aliases.finish()
    return aliases


def _with_top_loc_aliases(text: str, leaves: list[str], nesting: list[str]) -> str:
    """`text` with the non-deferred `#loc` definitions among the other aliases at its top, in
    MLIR's order (by depth, then by name: `#distinct` < `#loc` < `#map` < `#set`)."""
    if not leaves and not nesting:
        return text
    lines = text.split("\n")
    first_map = n_defs = 0
    while n_defs < len(lines) and _TOP_ALIAS.match(lines[n_defs]):
        if lines[n_defs].startswith("#distinct"):
            first_map = n_defs + 1
        n_defs += 1
    head = [line + "\n" for line in lines[:n_defs]]
    rest = "\n".join(lines[n_defs:])
    return "".join(head[:first_map] + leaves + head[first_map:] + nesting) + rest


_TOP_ALIAS = re.compile(r"#(?:distinct|map|set)[0-9]* = ")


_REGION_MARK = "\x00region\x00"


def _custom_alias_visit_texts(root: Operation, p: Printer) -> list[str]:
    """The texts of `root`'s types and attributes in the order MLIR's alias collector visits them
    for the custom form. MLIR collects aliases by running each op's own printer on a dummy stream,
    so a custom-form op is visited in the order its printer writes (the op's text, each region's
    contents where the printer prints that region), and an op printed generically by the generic
    rule (`_alias_visit_texts`). The custom text is written again here with each region replaced by
    a mark, which tells where its contents are visited, whatever the op's printer does."""
    texts: list[str] = []
    regions: list[tuple[Region, bool]] = []  # the regions the op being written asked to print

    def mark_region(region: Region, *, print_entry_args: bool = True, print_empty_block: bool = False) -> None:
        p.out.append(_REGION_MARK)
        regions.append((region, print_entry_args))

    stack: list = [root]
    while stack:
        item = stack.pop()
        if type(item) is str:
            texts.append(item)
            continue
        if type(item) is tuple:  # (region, print its entry block's arguments)
            region, entry_args = item
            later: list = []
            for i, block in enumerate(region.blocks):
                if i or entry_args:
                    later.append(" ".join([a.type._text for a in block.args]))
                    later.extend(_arg_loc_visits(block, p))
                later.extend(block.ops)
            stack.extend(reversed(later))
            continue
        if type(item) is LocVisit:
            texts.append(item)
            continue
        op = item
        if p.debuginfo and op.location is not None:
            texts.append(LocVisit(op.location, True))
        if isinstance(op, UnregisteredOp) or not _custom_form_is_faithful(op):
            later = [" ".join([v.type._text for v in op.operands] + [r.type._text for r in op.results])]
            later.extend((r, True) for r in op.regions)
            attrs = [p.attr(v) for _, v in sorted(op.properties.items())] if not isinstance(op, UnregisteredOp) else []
            later.append(" ".join(attrs + [p.attr(v) for _, v in sorted(op.attributes.items())]))
            later.extend(_attribute_loc_visits(op, p))
            stack.extend(reversed(later))
            continue
        regions.clear()
        start, indent, depth = len(p.out), p.indent, len(p.default_dialect)
        p.print_region = mark_region  # the instance attribute hides the method while this op prints
        p.arg_loc_visits = []  # the block argument locations its printer writes (func.func's signature)
        try:
            p._print_custom_else_generic(op)
            texts.extend(LocVisit(loc, False) for loc in p.arg_loc_visits)
        finally:
            del p.print_region
            p.arg_loc_visits = None
            p.indent = indent
            del p.default_dialect[depth:]
        texts.extend(_attribute_loc_visits(op, p))
        parts = "".join(p.out[start:]).split(_REGION_MARK)
        del p.out[start:]
        later = [parts[0]]
        for region, text in zip(list(regions), parts[1:]):
            later += [region, text]
        stack.extend(reversed(later))
    return texts


def _default_dialect_at(op: Operation) -> str:
    parent = op.parent_op
    if parent is None:
        return "builtin"
    return getattr(type(parent), "default_dialect", "")


def print_module(module: Operation, *, generic: bool = False, debuginfo: bool = False, local_scope: bool = True,
                 elide_elements_if_larger: int | None = None, elide_resources_if_larger: int | None = None) -> str:
    """The module's full text, resource section included (see print_operation for elision and
    `local_scope`)."""
    return print_operation(module, generic=generic, debuginfo=debuginfo, local_scope=local_scope,
                           elide_elements_if_larger=elide_elements_if_larger,
                           elide_resources_if_larger=elide_resources_if_larger)


def attribute_text(a: Attribute) -> str:
    return Printer().attr(a)


def type_text(t: Type) -> str:
    return t._text
