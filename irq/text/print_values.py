"""The printer's types, attributes and locations: `ValuePrinter`, the half of `Printer` that
turns values (not ops) into text, as `ValueReducer` is the parser's half that reads them.

Why apart: op and region printing (names, custom forms, regions) and value rendering
(elision, dense bodies, resource keys, location bodies) change for different reasons; a
custom printer sees both through one `Printer` (irq/text/printer.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from irq.ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DialectAttribute,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    OpaqueAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnitAttr,
)
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.location import (
    UNKNOWN_LOC,
    CallSiteLoc,
    FileLineColLoc,
    FusedLoc,
    Location,
    NameLoc,
    SourcePosLoc,
    UnknownLoc,
)
from irq.ir.types import Type, f64, i64
from irq.text.floats import format_float, hex_digits, is_exact_double
from irq.text.literals import dense_array_text, dense_body
from irq.text.strings import quote_string

if TYPE_CHECKING:
    from irq.ir.operation import Operation
    from irq.ir.resources import ResourceHandle

_set = object.__setattr__
_BARE_ID = re.compile(r"[A-Za-z_][\w$.]*\Z")

#: What elided data prints as (MLIR's word for it).
ELIDED = "__elided__"


def attr_key_text(key: str) -> str:
    return key if _BARE_ID.match(key) else quote_string(key)


def symbol_text(name: str) -> str:
    return "@" + (name if _BARE_ID.match(name) else quote_string(name))


class ValuePrinter:
    """Types, attributes and locations as text; `Printer` supplies the state (`elide_*`, resources)."""

    # -- types and attributes -----------------------------------------------------------------
    @staticmethod
    def type(t: Type) -> str:
        return t._text

    @staticmethod
    def types(ts: Iterable[Type]) -> str:
        return ", ".join([t._text for t in ts])

    @staticmethod
    def function_type(inputs: Sequence[Type], results: Sequence[Type]) -> str:
        ins = ", ".join([t._text for t in inputs])
        if len(results) == 1 and not results[0]._text.startswith("("):
            return f"({ins}) -> {results[0]._text}"
        return f"({ins}) -> (" + ", ".join([t._text for t in results]) + ")"

    #: the `#loc` aliases of the print in progress (irq.text.loc_aliases), None: inline locations
    loc_aliases = None

    def attr(self, a: Attribute) -> str:
        if self.elide_elements is not None and type(a) in (DenseElementsAttr, ArrayAttr, DictionaryAttr):
            return self._attr_eliding(a)
        if self.loc_aliases is not None:
            if isinstance(a, Location):
                name = self.loc_aliases.name(a)
                if name is not None:
                    self._saw_resource = True  # text of this print only: not cached in enclosing attributes
                    return name
            elif type(a) in (ArrayAttr, DictionaryAttr):  # may hold a location: not from the cached text
                return self._render_cached(a)
        t = a._text
        if t is not None:
            return t
        if type(a) is DenseResourceElementsAttr:
            self._saw_resource = True
            return f"dense_resource<{self.resource_key(a.handle)}> : {a.type._text}"
        return self._render_cached(a)

    def _render_cached(self, a: Attribute) -> str:
        """Render `a` and cache its text on it, unless the text holds something of this print only (a
        resource key, a location alias), which must not leak into a later print."""
        saved = self._saw_resource
        self._saw_resource = False
        t = self._render(a)
        if not self._saw_resource:
            _set(a, "_text", t)
        self._saw_resource = saved or self._saw_resource
        return t

    def _attr_eliding(self, a: Attribute) -> str:
        """Text of `a` with large dense values elided; never cached on the attribute, whose
        cached text is the full one."""
        if type(a) is DenseElementsAttr:
            if not a.is_splat and a.type.num_elements > self.elide_elements:
                return f"dense_resource<{ELIDED}> : {a.type._text}"
            t = a._text
            return t if t is not None else self._render(a)
        return self._render(a)

    def _render(self, a: Attribute) -> str:
        cls = type(a)
        if cls is IntegerAttr:
            return f"{a.value} : {a.type._text}"
        if cls is BoolAttr:
            return "true" if a.value else "false"
        if cls is FloatAttr:
            kind = a.type.kind
            if not math.isfinite(a.value) or (kind in ("f80", "f128") and not is_exact_double(a._bits, kind)):
                # the exact bits: NaN payloads and extended precision survive
                return f"0x{a._bits:0{hex_digits(a.type.kind)}X} : {a.type._text}"
            return f"{format_float(a.value, a.type.kind)} : {a.type._text}"
        if cls is StringAttr:
            return quote_string(a.value)
        if cls is ArrayAttr:
            return "[" + ", ".join([self._array_elem(e) for e in a.value]) + "]"
        if cls is DictionaryAttr:
            return self.dict_text(a.value)
        if cls is DenseElementsAttr:
            return f"dense<{dense_body(a)}> : {a.type._text}"
        if cls is DenseArrayAttr:
            return dense_array_text(a)
        if cls is TypeAttr:
            return a.value._text
        if cls is SymbolRefAttr:
            return "::".join(symbol_text(p) for p in (a.root, *a.nested))
        if cls is UnitAttr:
            return "unit"
        if isinstance(a, Location):
            return "loc(" + self.loc_body(a) + ")"
        if isinstance(a, (OpaqueAttr,)):
            return a.text
        if isinstance(a, DialectAttribute):
            return a._render()
        raise TypeError(f"cannot print attribute of type {cls.__name__}")

    def _array_elem(self, e: Attribute) -> str:
        cls = type(e)
        if cls is IntegerAttr and e.type is i64:
            return str(e.value)
        if cls is FloatAttr and e.type is f64 and math.isfinite(e.value):
            # a bare decimal reads back as f64; the hex form of inf/nan would read back as an integer
            return format_float(e.value, "f64")
        return self.attr(e)

    def dict_text(self, d: dict[str, Attribute], *, sort: bool = True) -> str:
        """`{k = v, ...}`, by key as MLIR prints a dictionary (its DictionaryAttr is sorted by name,
        so the order text gave has no meaning); `sort=False` keeps `d`'s order (properties)."""
        parts = []
        for k, v in (sorted(d.items()) if sort and len(d) > 1 else d.items()):
            key = k if _BARE_ID.match(k) else quote_string(k)
            if type(v) is UnitAttr:
                parts.append(key)
            else:
                parts.append(f"{key} = {self.attr(v)}")
        return "{" + ", ".join(parts) + "}"

    def resource_key(self, handle: ResourceHandle) -> str:
        key = self._resource_keys.get(id(handle))
        if key is not None:
            return key
        base = handle.key
        key = base
        n = 0
        while key in self.resources and self.resources[key] is not handle:
            n += 1
            key = f"{base}_{n}"
        self.resources[key] = handle
        text = key if _BARE_ID.match(key) else quote_string(key)
        self._resource_keys[id(handle)] = text
        return text

    # -- locations --------------------------------------------------------------------------------
    def loc_body(self, loc: Location) -> str:
        """The text inside `loc(...)`. Iterative: parsed locations nest up to the bracket limit
        (8,192), and `str(loc)` runs outside print_module's raised recursion limit."""
        out: list[str] = []
        todo: list[Location | str] = [loc]
        aliases = self.loc_aliases
        while todo:
            item = todo.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            cls = type(item)
            if aliases is not None and item is not loc and (name := aliases.name(item)) is not None:
                out.append(name)  # a nested location by its alias, as MLIR prints it
                continue
            if cls is NameLoc:
                if item.child is None:
                    out.append(quote_string(item.name))
                else:
                    todo += [")", item.child, quote_string(item.name) + "("]
            elif cls is FusedLoc:
                meta = f"<{self.attr(item.metadata)}>" if item.metadata is not None else ""
                todo.append("]")
                for i, x in enumerate(reversed(item.locations)):
                    todo += [", ", x] if i else [x]
                todo.append(f"fused{meta}[")
            elif cls is CallSiteLoc:
                todo += [")", item.caller, " at ", item.callee, "callsite("]
            else:
                out.append(self._leaf_loc_body(item))
        return "".join(out)

    @staticmethod
    def _leaf_loc_body(loc: Location) -> str:
        cls = type(loc)
        if cls is SourcePosLoc:
            f, line, col = loc.file_line_col()
            return f"{quote_string(f)}:{line}:{col}"
        if cls is FileLineColLoc:
            text = f"{quote_string(loc.filename)}:{loc.line}:{loc.col}"
            if loc.end_col is not None:
                text += f" to :{loc.end_col}" if loc.end_line == loc.line else f" to {loc.end_line}:{loc.end_col}"
            return text
        if cls is UnknownLoc:
            return "unknown"
        raise TypeError(f"cannot print location {cls.__name__}")

    def location_suffix(self, loc: Location | None) -> str:
        """An op's ` loc(...)`: by alias when the print uses `#loc` aliases."""
        if not self.debuginfo or loc is None:
            return ""
        if self.loc_aliases is not None:
            name = self.loc_aliases.name(loc)
            if name is not None:
                return f" loc({name})"
        return f" loc({self.loc_body(loc)})"

    #: block argument locations written while MLIR's alias visit order is computed (printer.py)
    arg_loc_visits = None

    def arg_location_suffix(self, loc: Location | None) -> str:
        """A block argument's ` loc(...)`: always inline (its parts by alias), as MLIR prints it. An
        argument built without a location has MLIR's default, `loc(unknown)`, so text printed with
        locations reads back to the same ones (parsing gives an argument without `loc` its position)."""
        if not self.debuginfo:
            return ""
        if loc is None:
            loc = UNKNOWN_LOC
        if self.arg_loc_visits is not None:
            self.arg_loc_visits.append(loc)
        return f" loc({self.loc_body(loc)})"


def _print_resources(p: ValuePrinter, module: Operation) -> None:
    """Append the `{-# ... #-}` section piece by piece: a 50 MB blob is hex-encoded once, never re-concatenated."""
    extra = getattr(module, "extra_resources", None) or []
    if not p.resources and not extra:
        return
    groups: dict[str, dict[str, list[list[str]]]] = {}
    if p.resources:
        entries = groups.setdefault("dialect_resources", {}).setdefault("builtin", [])
        for key, handle in p.resources.items():
            blob = handle.blob
            if blob is None:
                raise ValueError(f"resource '{key}' has no data to print")
            data = blob.data
            header = blob.alignment.to_bytes(4, "little") if blob.alignment else (
                max(1, min(16, data.dtype.itemsize))).to_bytes(4, "little")
            if p.elide_resources is not None and data.nbytes > p.elide_resources:
                entries.append([attr_key_text(key), f': "{ELIDED}"'])
                continue
            raw = data.data if data.flags.c_contiguous else data.tobytes()  # the buffer itself, no copy
            entries.append([attr_key_text(key), ': "0x', header.hex().upper(), raw.hex().upper(), '"'])
    for group, dialect, key, value in extra:
        groups.setdefault(group, {}).setdefault(dialect, []).append([attr_key_text(key), ": ", value])
    out = p.out
    out.append("\n{-#\n")
    for gi, (group, dialects) in enumerate(groups.items()):
        out.append(f",\n  {group}: {{\n" if gi else f"  {group}: {{\n")
        for di, (dialect, dentries) in enumerate(dialects.items()):
            out.append(f",\n    {attr_key_text(dialect)}: {{\n" if di else f"    {attr_key_text(dialect)}: {{\n")
            for ei, pieces in enumerate(dentries):
                out.append(",\n      " if ei else "      ")
                out.extend(pieces)
            out.append("\n    }")
        out.append("\n  }")
    out.append("\n#-}\n")
