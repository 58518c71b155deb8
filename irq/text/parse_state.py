"""State of one parse: SSA scopes, forward references, aliases, resources.

LALR reduces bottom-up, so a region's ops are built before the op that owns the
region. Names are resolved through a stack of scopes, one per open region; a use
of a name not yet defined creates a placeholder value that the definition later
replaces (MLIR's forward references). Names a region used but did not define are
handed to its owner op: a custom parser may bind them as entry-block arguments
(`func.func @f(%arg0: i32) {...}`), and whatever remains moves to the enclosing
scope.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from irq.diagnostics import ParseError
from irq.ir.attributes import (
    Attribute,
)
from irq.ir.block import Block, Region
from irq.ir.dense import DenseResourceElementsAttr, storage_dtype
from irq.ir.location import CallSiteLoc, FusedLoc, Location, NameLoc, NestedLoc, SourcePosLoc, SourceText
from irq.ir.resources import Blob, ResourceHandle
from irq.ir.types import Type
from irq.ir.values import Value
from irq.text.literals import decimal_int
from irq.text.parse_attrs import AttributeBuilder
from irq.text.type_parser import BodySyntaxError, TypeCache

if TYPE_CHECKING:
    from irq.ir.dialect import Context
    from irq.ir.operation import Operation
    from irq.text.lexer import Lexer, Tok

_AUTO_NAME = re.compile(r"(?:[0-9]+|arg[0-9]+)\Z")


def _is_auto_name(name: str) -> bool:
    """`_AUTO_NAME.match(name)` (a name the printer makes up: `%3`, `%arg0`) without a regex call,
    once per result of every op parsed."""
    return (name.isdigit() or name[:3] == "arg" and name[3:].isdigit()) and name.isascii()


class Placeholder(Value):
    """Stands for a value used before its definition."""

    __slots__ = ("pos", "ref")

    def __init__(self, type: Type, pos: int, ref: str) -> None:
        super().__init__(type)
        self.pos = pos
        self.ref = ref


class Scope:
    """Names visible in one region (or at top level)."""

    __slots__ = ("region", "block", "values", "forward", "forward_names", "blocks", "forward_blocks",
                 "default_dialect", "owner")

    def __init__(self, region: Region | None, default_dialect: str, owner: str | None) -> None:
        self.region = region
        self.block: Block | None = None
        self.values: dict[str, list[Value]] = {}
        self.forward: dict[str, Placeholder] = {}
        #: base name -> the forward references to it (`%x`, `%x#1`), so a definition finds its
        #: pending uses without scanning every forward reference of the region (linear parsing)
        self.forward_names: dict[str, list[str]] = {}
        self.blocks: dict[str, Block] = {}
        self.forward_blocks: dict[str, tuple[Block, int]] = {}
        self.default_dialect = default_dialect
        self.owner = owner

    def current_block(self) -> Block:
        b = self.block
        if b is None:
            b = Block()
            if self.region is not None:
                self.region.add_block(b)
            self.block = b
        return b


class OpEntry:
    """An op being parsed: its name, the result names bound to it, its start offset (where errors
    about the statement, like a result count, are reported) and its name's offset (its location,
    as MLIR's parser places an op at its name, not at the results before it)."""

    __slots__ = ("name", "results", "pos", "name_pos")

    def __init__(self, name: str, results: list | None, pos: int, name_pos: int) -> None:
        self.name = name
        self.results = results
        self.pos = pos
        self.name_pos = name_pos


class DeferredLoc(Location):
    """`loc(#alias)` used before `#alias = loc(...)` is defined (MLIR allows this)."""

    __slots__ = ("alias", "pos")

    def __init__(self, alias: str, pos: int) -> None:
        object.__setattr__(self, "alias", alias)
        object.__setattr__(self, "pos", pos)
        object.__setattr__(self, "_text", None)

    def _key(self) -> tuple:
        return (self.alias,)


class ParseState(AttributeBuilder):
    """One parse: scopes and forward references, aliases, resources, the op being built;
    attributes from tokens come from `AttributeBuilder` (irq/text/parse_attrs.py)."""

    def __init__(self, ctx: Context, lexer: Lexer, source: SourceText) -> None:
        self.ctx = ctx
        self.lexer = lexer
        self.source = source
        self.types = _type_cache(ctx)
        self.type_aliases: dict[str, Type] = {}
        self.attr_aliases: dict[str, Attribute] = {}
        self.attr_cache: dict[tuple, Attribute] = {}
        #: `distinct[N]` -> the attribute text it was first given: one id is one attribute (MLIR)
        self.distinct_ids: dict[str, str] = {}
        #: id(region) -> where its entry block's label is, for the error when the op names them too
        self.entry_labels: dict[int, int] = {}
        self.scopes: list[Scope] = [Scope(None, "builtin", None)]
        self.top_ops: list[Operation] = []
        self.op_stack: list[OpEntry] = []
        self.next_results: list | None = None
        #: id(region) -> the scope of a closed region that left forward references
        self.region_forward: dict[int, Scope] = {}
        self.handles: dict[str, ResourceHandle] = {}
        self.resource_uses: list[tuple[DenseResourceElementsAttr, int]] = []
        self.extra_resources: list[tuple[str, str, str, str]] = []
        self.deferred_locs = False

    # -- errors -----------------------------------------------------------------------------
    def error(self, pos: int, message: str, expected: list[str] | None = None) -> ParseError:
        return self.lexer.error(pos, message, expected)

    # -- types --------------------------------------------------------------------------------
    def type_of(self, tok: Tok) -> Type:
        try:
            return self.types.get(tok.value, self.type_aliases)
        except BodySyntaxError as e:
            raise self.error(tok.pos + e.offset, e.message) from None
        except (ValueError, TypeError) as e:
            raise self.error(tok.pos, str(e)) from None

    def resolve_type_text(self, text: str) -> Type:
        return self.types.get(text, self.type_aliases)

    # -- integers ---------------------------------------------------------------------------
    def result_number(self, digits: str, pos: int) -> int:
        """The `N` of `%x#N`; a number too long to be a result index is a syntax error, not a ValueError."""
        try:
            return decimal_int(digits)
        except ValueError as e:
            raise self.error(pos, f"bad result number: {e}") from None

    def unsigned(self, tok: Tok) -> int:
        """An unsigned integer token (decimal or hex), as MLIR's getUnsignedIntegerValue reads it."""
        text = tok.value
        if text.startswith("-"):
            raise self.error(tok.pos, f"expected a non-negative integer, found '{text}'")
        try:
            return decimal_int(text)
        except ValueError as e:
            raise self.error(tok.pos, str(e)) from None

    # -- values -------------------------------------------------------------------------------
    def use_value(self, tok: Tok, type: Type | None) -> Value:
        """Resolve `%name` / `%name#i`, creating a forward reference if it is not defined yet."""
        return self.use_ref(tok.value, tok.pos, type)

    def use_ref(self, ref: str, pos: int, type: Type | None) -> Value:
        """`use_value` for the reference text `ref` at offset `pos` (a replayed op's operands come
        as these, without token objects)."""
        if "#" not in ref:  # the commonest uses: `%name` defined in this region, or used before in it
            scope = self.scopes[-1]
            group = scope.values.get(ref[1:])
            if group:
                v = group[0]
                if type is not None and v.type is not type:
                    raise self.error(pos, f"use of value '{ref}' expects different type than prior uses: "
                                              f"'{type}' vs '{v.type}'")
                return v
            # A placeholder of this region: no enclosing region defines the name (they were complete
            # when this region opened, and one did not when the placeholder was made), so the loop
            # below would come to the same one. A function's arguments are used this way in its body.
            ph = scope.forward.get(ref)
            if ph is not None:
                if type is not None and ph.type is not type:
                    raise self.error(pos, f"use of value '{ref}' expects different type than prior uses: "
                                              f"'{type}' vs '{ph.type}'")
                return ph
        name, _, idx = ref[1:].partition("#")
        index = self.result_number(idx, pos) if idx else 0
        for scope in reversed(self.scopes):
            group = scope.values.get(name)
            if group is not None:
                if index >= len(group):
                    raise self.error(pos, f"reference to invalid result number in '{ref}'")
                v = group[index]
                if type is not None and v.type is not type:
                    raise self.error(pos, f"use of value '{ref}' expects different type than prior uses: "
                                              f"'{type}' vs '{v.type}'")
                return v
        scope = self.scopes[-1]
        ph = scope.forward.get(ref)
        if ph is None:
            if type is None:
                raise self.error(pos, f"use of undeclared SSA value name '{ref}'")
            ph = scope.forward[ref] = Placeholder(type, pos, ref)
            scope.forward_names.setdefault(name, []).append(ref)
        elif type is not None and ph.type is not type:
            raise self.error(pos, f"use of value '{ref}' expects different type than prior uses: "
                                      f"'{type}' vs '{ph.type}'")
        return ph

    def define(self, name: str, values: Sequence[Value], pos: int) -> None:
        """Bind `%name` in the innermost scope (to a tuple or list of values), resolving forward references to it."""
        scope = self.scopes[-1]
        if name in scope.values:
            raise self.error(pos, f"redefinition of SSA value '%{name}'")
        scope.values[name] = values
        if not _is_auto_name(name):
            values[0].name_hint = name
        if scope.forward:
            refs = scope.forward_names.pop(name, None)  # every forward reference is indexed by its name
            if refs:
                self._resolve_forward(scope.forward, name, values, refs)

    def _resolve_forward(self, fwd: dict[str, Placeholder], name: str, values: list[Value],
                         refs: list[str] | None = None) -> None:
        """Replace the placeholders for `%name`, `%name#i` by `values` (`refs`: those references, if known)."""
        if refs is None:
            refs = [r for r in fwd if r[1:].partition("#")[0] == name]
        for ref in refs:
            ph = fwd.pop(ref, None)
            if ph is None:
                continue
            _, _, idx = ref[1:].partition("#")
            i = self.result_number(idx, ph.pos) if idx else 0
            if i >= len(values):
                raise self.error(ph.pos, f"reference to invalid result number in '{ref}'")
            v = values[i]
            if v.type is not ph.type:
                raise self.error(ph.pos, f"use of value '{ref}' expects different type than prior uses: "
                                         f"'{ph.type}' vs '{v.type}'")
            ph.replace_all_uses_with(v)

    def bind_region_arguments(self, region: Region, names: list[tuple[Tok, Type, Location | None]]) -> None:
        """Give `region` an entry block with these arguments, resolving uses inside it."""
        if region.blocks and region.blocks[0].args:
            if not names:  # `func.func @f(i32) { ^bb0(%a: i32): ... }`: the label names them (MLIR allows it)
                return
            # MLIR reports it at the label, which is what the user wrote twice
            raise self.error(self.entry_labels.get(id(region), names[0][0].pos),
                             "invalid block name in region with named arguments: the region's arguments "
                             "are already named")
        entry = region.blocks[0] if region.blocks else region.add_block()
        closed = self.region_forward.get(id(region))
        fwd = closed.forward if closed is not None else {}
        seen: set[str] = set()
        for tok, t, loc in names:
            name = tok.value[1:]
            if "#" in name:
                raise self.error(tok.pos, "argument names cannot have a result number")
            if name in seen:
                raise self.error(tok.pos, f"redefinition of SSA value '%{name}'")
            seen.add(name)
            # no `loc(...)`: the argument's name token, where MLIR's parser places it
            arg = entry.add_argument(t, loc if loc is not None else self.op_location(tok.pos))
            if not _is_auto_name(name):
                arg.name_hint = name
            if fwd:
                self._resolve_forward(fwd, name, [arg], closed.forward_names.pop(name, None) or [])

    # -- scopes -------------------------------------------------------------------------------
    def open_region(self) -> Scope:
        owner = self.op_stack[-1].name if self.op_stack else None
        cls = self.op_class(owner) if owner else None
        default = getattr(cls, "default_dialect", "") if cls is not None else ""
        scope = Scope(Region(), default, owner)
        self.scopes.append(scope)
        return scope

    def op_class(self, written: str) -> type | None:
        """The registered class of an op name as written: in full, or in the custom form without
        the prefix of the enclosing default dialect (`func` for `func.func` inside a function) or `builtin.`."""
        ops = self.ctx.ops
        cls = ops.get(written)
        if cls is None and "." not in written.strip('"'):
            default = self.scopes[-1].default_dialect
            if default:
                cls = ops.get(f"{default}.{written}")
            if cls is None:
                cls = ops.get(f"builtin.{written}")
        return cls

    def close_region(self, pos: int) -> Region:
        scope = self.scopes.pop()
        if scope.forward_blocks:
            label, (_, p) = next(iter(scope.forward_blocks.items()))
            raise self.error(p, f"reference to an undefined block '{label}'")
        if scope.forward:
            self.region_forward[id(scope.region)] = scope
        return scope.region

    def adopt_region_forwards(self, op: Operation) -> None:
        """After building `op`, move its regions' unresolved names to the enclosing scope."""
        if not self.region_forward:
            return
        outer = self.scopes[-1]
        for r in op.regions:
            closed = self.region_forward.pop(id(r), None)
            if closed is None or not closed.forward:
                continue
            for ref, ph in closed.forward.items():
                name, _, idx = ref[1:].partition("#")
                v = None
                for scope in reversed(self.scopes):
                    group = scope.values.get(name)
                    if group is not None:
                        i = self.result_number(idx, ph.pos) if idx else 0
                        if i >= len(group):
                            raise self.error(ph.pos, f"reference to invalid result number in '{ref}'")
                        v = group[i]
                        break
                if v is not None:
                    if v.type is not ph.type:
                        raise self.error(ph.pos, f"use of value '{ref}' expects different type than prior uses: "
                                                 f"'{ph.type}' vs '{v.type}'")
                    ph.replace_all_uses_with(v)
                elif ref in outer.forward:
                    other = outer.forward[ref]
                    if other.type is not ph.type:
                        raise self.error(ph.pos, f"use of value '{ref}' expects different type than prior uses: "
                                                 f"'{ph.type}' vs '{other.type}'")
                    ph.replace_all_uses_with(other)
                else:
                    outer.forward[ref] = ph
                    outer.forward_names.setdefault(name, []).append(ref)

    # -- blocks -------------------------------------------------------------------------------
    def block_ref(self, tok: Tok) -> Block:
        scope = self.scopes[-1]
        label = tok.value
        b = scope.blocks.get(label)
        if b is None:
            fb = scope.forward_blocks.get(label)
            if fb is None:
                b = Block()
                scope.forward_blocks[label] = (b, tok.pos)
            else:
                b = fb[0]
        return b

    def define_block(self, tok: Tok) -> Block:
        scope = self.scopes[-1]
        if scope.region is None:
            raise self.error(tok.pos, "block labels are only allowed inside regions")
        label = tok.value
        if label in scope.blocks:
            raise self.error(tok.pos, f"redefinition of block '{label}'")
        fb = scope.forward_blocks.pop(label, None)
        b = fb[0] if fb is not None else Block()
        if scope.block is None and scope.region.blocks:
            raise self.error(tok.pos, "internal error: region has blocks but no current block")
        if not scope.region.blocks:
            self.entry_labels[id(scope.region)] = tok.pos
        scope.region.add_block(b)
        scope.blocks[label] = b
        scope.block = b
        if not re.fullmatch(r"\^bb[0-9]+", label):
            b.name_hint = label[1:]
        return b

    # -- resources ----------------------------------------------------------------------------
    def set_blob(self, key: str, tok: Tok) -> None:
        text = tok.value
        if text == '"__elided__"':
            raise self.error(tok.pos, f"the data of resource '{key}' was elided when this text was printed "
                                      f"(--elide-resource-strings-if-larger); it cannot be parsed back")
        if not text.startswith('"0x') or not text.endswith('"'):
            raise self.error(tok.pos, f"resource '{key}' must be a hex string \"0x...\"")
        try:
            raw = _fromhex(text, 3, len(text) - 1)
        except ValueError:
            raise self.error(tok.pos, f"malformed hex blob for resource '{key}'") from None
        if len(raw) < 4:
            raise self.error(tok.pos, f"resource '{key}' is shorter than its 4-byte alignment header")
        align = int.from_bytes(raw[:4], "little")
        if align == 0 or align & (align - 1):
            raise self.error(tok.pos, f"resource '{key}' has alignment {align}, not a power of two")
        h = self.handles.get(key)
        if h is None:
            h = self.handles[key] = ResourceHandle(key)
        elif h.blob is not None:
            raise self.error(tok.pos, f"resource '{key}' is defined twice")
        h.blob = Blob(memoryview(raw)[4:], alignment=align)

    def check_resources(self) -> None:
        for attr, pos in self.resource_uses:
            h = attr.handle
            if h.blob is None:
                if h.key == "__elided__":
                    raise self.error(pos, "this dense value was elided when the text was printed "
                                          "(--mlir-elide-elementsattrs-if-larger); it cannot be parsed back")
                raise self.error(pos, f"unknown resource key '{h.key}' (no blob in the dialect_resources section)")
            t = attr.type
            need = t.num_elements * storage_dtype(t.element_type).itemsize
            if h.blob.nbytes != need:
                raise self.error(pos, f"resource '{h.key}' holds {h.blob.nbytes} bytes, {t} needs {need}")

    # -- locations ----------------------------------------------------------------------------
    def op_location(self, pos: int) -> Location:
        return SourcePosLoc(self.source, pos)

    def resolve_deferred_locations(self, module: Operation) -> None:
        """Replace every `loc(#alias)` parsed before its alias by the alias's location.

        Aliases may refer to aliases (`#a = loc(#b)`); a cycle (`#a = loc(#a)`) is a
        ParseError at the first alias in it, found by following the chain, not by recursion.
        """
        resolved: dict[str, Location] = {}
        active: set[str] = set()  # aliases being resolved: meeting one again is a cycle
        done: dict[int, Location] = {}  # id(location) -> resolved (every node is alive: IR or alias table)

        def fix(root: Location) -> Location:
            """Post-order over the nested locations, iterative: printed `#loc` aliases chain one
            per nesting level, and parsed locations nest 8,192 deep."""
            stack: list[tuple[Location, bool]] = [(root, False)]
            while stack:
                node, ready = stack.pop()
                if id(node) in done:
                    continue
                if isinstance(node, DeferredLoc):
                    if node.alias in resolved:
                        done[id(node)] = resolved[node.alias]
                    elif not ready:
                        if node.alias in active:
                            raise self.error(node.pos, f"location alias '{node.alias}' refers to itself")
                        nxt = self.attr_aliases.get(node.alias)
                        if not isinstance(nxt, Location):
                            raise self.error(node.pos, f"undefined location alias '{node.alias}'")
                        active.add(node.alias)
                        stack += [(node, True), (nxt, False)]
                    else:
                        found = done[id(self.attr_aliases[node.alias])]
                        resolved[node.alias] = done[id(node)] = found
                        active.discard(node.alias)
                    continue
                children = node._children() if isinstance(node, NestedLoc) else ()
                if not ready and children:
                    stack.append((node, True))
                    stack.extend((c, False) for c in reversed(children))
                    continue
                new = [done[id(c)] for c in children]
                if all(a is b for a, b in zip(new, children)):
                    done[id(node)] = node
                elif isinstance(node, NameLoc):
                    done[id(node)] = NameLoc(node.name, new[0])
                elif isinstance(node, FusedLoc):
                    done[id(node)] = FusedLoc(new, node.metadata)
                else:
                    done[id(node)] = CallSiteLoc(new[0], new[1])
            return done[id(root)]

        for op in module.walk():
            op.location = fix(op.location)
            for r in op.regions:
                for b in r.blocks:
                    for a in b.args:
                        if a.location is not None:
                            a.location = fix(a.location)


_HEX_CHUNK = 1 << 20  # even, so chunks never split a byte's two digits


def _fromhex(text: str, start: int, end: int) -> bytes | bytearray:
    """`bytes.fromhex(text[start:end])` without copying the whole span first.

    A weight blob is tens of MB of hex; decoding it in 1 MB slices into one
    preallocated buffer keeps the peak at the text plus the bytes. Anything the
    fast path does not handle (odd length, whitespace between digit pairs, bad
    digits) is decided by the one-shot call, so accepted inputs and errors are the same.
    """
    n = end - start
    if n <= _HEX_CHUNK or n % 2:
        return bytes.fromhex(text[start:end])
    out = bytearray(n // 2)
    o = 0
    try:
        for i in range(start, end, _HEX_CHUNK):
            piece = bytes.fromhex(text[i:min(i + _HEX_CHUNK, end)])
            out[o:o + len(piece)] = piece
            o += len(piece)
    except ValueError:
        o = -1
    if o != len(out):
        return bytes.fromhex(text[start:end])
    return out


_TYPE_CACHES: dict[int, Any] = {}


def _type_cache(ctx: Context) -> TypeCache:
    tc = getattr(ctx, "_type_cache", None)
    if tc is None:
        tc = TypeCache(ctx)
        ctx._type_cache = tc
    return tc


#: Modules whose functions are grammar reducers taking the rule's children as `c`.
_REDUCER_MODULES = frozenset({"irq.text.parser", "irq.text.reduce_values"})


def unexpected_error(state: ParseState, exc: BaseException) -> ParseError:
    """A ParseError for an exception a constructor raised while the text was being reduced.

    Types, attributes and ops check their own values (a dimension over 64 bits, an attribute
    alias that expands past the cap) and raise ValueError or TypeError; the parser reports it
    at the first token of the grammar rule being reduced, found in the reducer's frame (`c`,
    its children), else at the op being parsed, else at the start of the text.
    """
    pos = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        children = frame.f_locals.get("c") if frame.f_globals.get("__name__") in _REDUCER_MODULES else None
        if isinstance(children, list):
            first = _first_token_pos(children)
            if first is not None:
                pos = first
        tb = tb.tb_next
    if pos is None:
        pos = state.op_stack[-1].pos if state.op_stack else 0
    message = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        message = "out of memory while parsing"
    where = f" in '{state.op_stack[-1].name}'" if state.op_stack else ""
    return state.error(pos, f"{message}{where}")


def _first_token_pos(items: list) -> int | None:
    from irq.text.lexer import Tok
    for x in items:
        if isinstance(x, Tok):
            return x.pos
    return None


def inherent_to_properties(cls: type, attrs: dict | None, props: dict | None) -> tuple[dict | None, dict | None]:
    """A registered op's inherent attributes written in its attribute dictionary, moved to its
    properties: MLIR's generic parser does so (`"arith.constant"() {value = 42 : i32}`, the
    spelling from before properties, prints `<{value = 42 : i32}>`), so both spellings are one op."""
    d = getattr(cls, "definition", None)
    if not attrs or d is None:
        return attrs, props
    names = d.attr_names
    moved = {k: v for k, v in attrs.items() if k in names and (props is None or k not in props)}
    if not moved:
        return attrs, props
    return {k: v for k, v in attrs.items() if k not in moved}, {**(props or {}), **moved}
