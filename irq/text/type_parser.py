"""Parsing the inside of type tokens and dialect type/attribute bodies.

The lexer hands whole types (`tensor<1x3x!quant.uniform<i8:f32, 0.1>>`) to the
grammar as one token; this module turns such text into a `Type`, with results
cached per context so a type repeated on every line is parsed once.

`DialectAsmParser` is what a dialect's `parse_body` receives for its
`!dialect.name<...>` or `#dialect.name<...>` syntax, like MLIR's
DialectAsmParser: typed helpers over a small tokenizer, errors carrying the
offset into the text so the caller can point at the right column of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from irq.ir.types import (
    ComplexType,
    FloatType,
    FunctionType,
    IndexType,
    IntegerType,
    MemRefType,
    NoneType,
    OpaqueType,
    TensorType,
    TupleType,
    Type,
    VectorType,
)

if TYPE_CHECKING:
    from irq.ir.dialect import Context


class BodySyntaxError(Exception):
    """A syntax error at `offset` inside a type or attribute text."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<arrow>->)
  | (?P<float>[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)
  | (?P<int>0x[0-9a-fA-F]+|[-+]?[0-9]+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<bang>![A-Za-z_][\w$.]*)
  | (?P<hash>\#[A-Za-z_][\w$.]*)
  | (?P<id>[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*)
  | (?P<punct>[<>()\[\]{},:=*?+|])
""",
    re.VERBOSE,
)

#: `2x?x`, and MLIR's spaced spelling `1 x ? x` (`vector<1 x f32>`): blanks around each `x`.
_DIMS = re.compile(r"(?:(?:[0-9]+|\?)\s*x\s*)*")
_INT64_MAX = 2**63 - 1
#: a vector's dims: `4x`, and `[4]x` for a scalable one
_VECTOR_DIMS = re.compile(r"(?:(?:\[\s*[0-9]+\s*\]|[0-9]+)\s*x\s*)*")
_VECTOR_DIM = re.compile(r"\[\s*([0-9]+)\s*\]|([0-9]+)")
_INT_TYPE = re.compile(r"([su]?)i([0-9]+)\Z")


class DialectAsmParser:
    """Cursor over a type or attribute body; the methods mirror MLIR's AsmParser."""

    def __init__(
        self, text: str, pos: int = 0, end: int | None = None, *, type_resolver: Callable[[str], Type] | None = None
    ) -> None:
        self.text = text
        self.pos = pos
        self.end = len(text) if end is None else end
        self._resolve_type_text = type_resolver

    # -- low level ------------------------------------------------------------------------
    def _skip_ws(self) -> None:
        text, pos, end = self.text, self.pos, self.end
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def _peek(self) -> tuple[str, str, int, int] | None:
        self._skip_ws()
        if self.pos >= self.end:
            return None
        m = _TOKEN.match(self.text, self.pos, self.end)
        if m is None:
            raise self.error(f"unexpected character {self.text[self.pos]!r}")
        return m.lastgroup, m.group(), m.start(), m.end()

    def error(self, message: str, offset: int | None = None) -> BodySyntaxError:
        return BodySyntaxError(self.pos if offset is None else offset, message)

    def at_end(self) -> bool:
        self._skip_ws()
        return self.pos >= self.end

    def expect_end(self) -> None:
        if not self.at_end():
            raise self.error(f"unexpected '{self.text[self.pos : self.pos + 12]}' after the end")

    # -- punctuation and keywords -------------------------------------------------------
    def parse_optional(self, punct: str) -> bool:
        tok = self._peek()
        if tok is not None and tok[1] == punct and tok[0] in ("punct", "arrow"):
            self.pos = tok[3]
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.parse_optional(punct):
            tok = self._peek()
            found = "end of input" if tok is None else f"'{tok[1]}'"
            raise self.error(f"expected '{punct}', found {found}")

    def parse_optional_keyword(self, *words: str) -> str | None:
        tok = self._peek()
        if tok is not None and tok[0] == "id" and (not words or tok[1] in words):
            self.pos = tok[3]
            return tok[1]
        return None

    def parse_keyword(self, *words: str) -> str:
        w = self.parse_optional_keyword(*words)
        if w is None:
            raise self.error(f"expected {' or '.join(repr(x) for x in words) if words else 'a keyword'}")
        return w

    # -- literals -------------------------------------------------------------------------
    def parse_optional_integer(self) -> int | None:
        tok = self._peek()
        if tok is not None and tok[0] == "int":
            self.pos = tok[3]
            return int(tok[1], 0) if tok[1].startswith("0x") else int(tok[1])
        return None

    def parse_integer(self) -> int:
        v = self.parse_optional_integer()
        if v is None:
            raise self.error("expected an integer")
        return v

    def parse_float(self) -> float:
        """A float; integers are accepted (`1` is 1.0), as MLIR's parseFloat does."""
        tok = self._peek()
        if tok is None or tok[0] not in ("float", "int"):
            raise self.error("expected a floating point number")
        self.pos = tok[3]
        if tok[1].startswith("0x"):
            from irq.text.floats import float_from_bits

            return float_from_bits(int(tok[1], 16), "f64")
        return float(tok[1])

    def parse_string(self) -> str:
        tok = self._peek()
        if tok is None or tok[0] != "string":
            raise self.error("expected a string")
        self.pos = tok[3]
        from irq.text.strings import unescape_string

        return unescape_string(tok[1])

    # -- types ----------------------------------------------------------------------------
    def parse_type(self) -> Type:
        self._skip_ws()
        start = self.pos
        text = self.text
        if text.startswith("(", start):
            return self._parse_function_type()
        m = _TOKEN.match(text, start, self.end)
        if m is None or m.lastgroup not in ("id", "bang"):
            raise self.error("expected a type")
        word = m.group()
        pos = m.end()
        if m.lastgroup == "bang" or word in ("tensor", "vector", "tuple", "complex", "memref"):
            if text.startswith("<", pos):
                pos = _balanced_end(text, pos, self.end)
        self.pos = pos
        if self._resolve_type_text is not None:
            try:
                return self._resolve_type_text(text[start:pos])
            except BodySyntaxError as e:
                raise BodySyntaxError(start + e.offset, e.message) from None
        return parse_type_text(text[start:pos])

    def _parse_function_type(self) -> FunctionType:
        self.expect("(")
        inputs = []
        if not self.parse_optional(")"):
            inputs.append(self.parse_type())
            while self.parse_optional(","):
                inputs.append(self.parse_type())
            self.expect(")")
        self.expect("->")
        if self.parse_optional("("):
            results = []
            if not self.parse_optional(")"):
                results.append(self.parse_type())
                while self.parse_optional(","):
                    results.append(self.parse_type())
                self.expect(")")
        else:
            results = [self.parse_type()]
        return FunctionType(inputs, results)


def _balanced_end(text: str, pos: int, end: int) -> int:
    """Offset after the `>` matching the `<` at `pos`."""
    depth = 0
    i = pos
    while i < end:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < end and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if (c == "-" or c == "<") and text.startswith(("->", "<="), i) or c == ">" and text.startswith(">=", i):
            i += 2  # an arrow, or a comparison of an affine set: not brackets
            continue
        if c in "<([{":
            depth += 1
        elif c in ">)]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise BodySyntaxError(pos, "unbalanced '<'")


# -- whole type texts -----------------------------------------------------------------------
_BUILTIN_SIMPLE = {"index": IndexType(), "none": NoneType()}


def parse_type_text(text: str, ctx: Context | None = None, aliases: dict[str, Type] | None = None) -> Type:
    """Parse one complete type (what the lexer produced as a TYPE token)."""
    simple = _BUILTIN_SIMPLE.get(text)
    if simple is not None:
        return simple
    m = _INT_TYPE.match(text)
    if m:
        width = int(m.group(2))
        if width > 1 << 24:  # MLIR's limit; i0 is a valid (zero-bit) type
            raise BodySyntaxError(0, f"invalid integer width {width}")
        return IntegerType(width, m.group(1))
    if text[:1] == "!":
        return _parse_dialect_type(text, ctx, aliases)
    head, lt, _ = text.partition("<")
    if not lt:
        try:
            return FloatType(text)
        except ValueError:
            raise BodySyntaxError(0, f"unknown type '{text}'") from None
    if not text.endswith(">"):
        raise BodySyntaxError(len(text), "expected '>'")
    body_start = len(head) + 1
    body_end = len(text) - 1

    def resolve(t: str) -> Type:
        return parse_type_text(t, ctx, aliases)

    p = DialectAsmParser(text, body_start, body_end, type_resolver=resolve)
    if head == "tensor":
        if p.parse_optional("*"):
            p._skip_ws()
            if not text.startswith("x", p.pos):
                raise p.error("expected 'x' after '*'")
            p.pos += 1
            p._skip_ws()
            elem = p.parse_type()
            p.expect_end()
            return TensorType(None, elem)
        shape, elem = _shape_and_element(p)
        encoding = None
        if p.parse_optional(","):
            from irq.text.memref_parts import encoding_text

            encoding_start = p.pos
            p.pos = body_end
            try:
                encoding = encoding_text(text[encoding_start:body_end].strip(), ctx, aliases)
            except BodySyntaxError as e:
                raise BodySyntaxError(encoding_start + e.offset, e.message) from None
        p.expect_end()
        return TensorType(shape, elem, encoding)
    if head == "memref":
        return _parse_memref(p, text, body_end, aliases, ctx)
    if head == "vector":
        p._skip_ws()
        m = _VECTOR_DIMS.match(p.text, p.pos, p.end)
        shape, scalable = [], []
        for d in _VECTOR_DIM.finditer(m.group()):
            scalable.append(d.group(1) is not None)
            shape.append(int(d.group(1) or d.group(2)))
        p.pos = m.end()
        elem = p.parse_type()
        p.expect_end()
        return VectorType(shape, elem, scalable)
    if head == "tuple":
        types = []
        if not p.at_end():
            types.append(p.parse_type())
            while p.parse_optional(","):
                types.append(p.parse_type())
        p.expect_end()
        return TupleType(types)
    if head == "complex":
        t = p.parse_type()
        p.expect_end()
        return ComplexType(t)
    raise BodySyntaxError(0, f"unsupported builtin type '{head}'")


def _shape_and_element(p: DialectAsmParser) -> tuple[list[int | None], Type]:
    p._skip_ws()
    m = _DIMS.match(p.text, p.pos, p.end)
    dims_text = m.group()
    shape: list[int | None] = []
    if dims_text:
        start = p.pos  # offset of each dimension, so an error points at the one at fault
        for d in dims_text.rstrip()[:-1].split("x"):
            at = start + len(d) - len(d.lstrip())
            start += len(d) + 1
            d = d.strip()
            if d == "?":
                shape.append(None)
                continue
            n = int(d)
            if n > _INT64_MAX:
                raise p.error(f"dimension {n} does not fit in int64", at)
            shape.append(n)
    p.pos = m.end()
    return shape, p.parse_type()


_STRIDED = re.compile(
    r"strided<\s*\[\s*(?:(?:-?[0-9]+|\?)\s*(?:,\s*(?:-?[0-9]+|\?)\s*)*)?\](?:\s*,\s*offset\s*:\s*(?:-?[0-9]+|\?))?\s*>"
)
_MAP_DIMS = re.compile(r"affine_map<\s*\(([^)]*)\)")


def _parse_memref(
    p: DialectAsmParser, text: str, body_end: int, aliases: dict | None = None, ctx: Context | None = None
) -> MemRefType:
    """`memref<dims x elem [, layout] [, memory space]>`; MLIR tells the layout from the memory space
    by kind: `strided<...>` and `affine_map<...>` are layouts, anything else a memory space. As in
    MLIR's parser, a later layout replaces an earlier one and the memory space comes last, once;
    the parts are kept in MLIR's canonical text (irq.text.memref_parts)."""
    from irq.text.memref_parts import is_identity_map, memory_space_text, strided_text

    unranked = p.parse_optional("*")
    if unranked:
        p._skip_ws()
        if not text.startswith("x", p.pos):
            raise p.error("expected 'x' after '*'")
        p.pos += 1
        shape, elem = None, p.parse_type()
    else:
        shape, elem = _shape_and_element(p)
    extras: list[tuple[int, str]] = []
    while p.parse_optional(","):
        p._skip_ws()
        start = p.pos
        i = _list_item_end(text, start, body_end)
        extras.append((start, text[start:i].strip()))
        p.pos = i
    p.expect_end()
    layout = space = None
    has_space = False
    for at, item in extras:
        if item.startswith("#") and "." not in item.partition("<")[0] and aliases and item in aliases:
            item = str(aliases[item])  # `#map`: an attribute alias (the parser lists them with the type aliases)
        if not item:
            raise BodySyntaxError(at, "expected a layout or a memory space after ','")
        if item in ("strided", "affine_map"):
            raise BodySyntaxError(at, f"expected '<' after '{item}'")
        if item.startswith(("strided<", "affine_map<")):
            if unranked:
                raise BodySyntaxError(at, "an unranked memref has no layout")
            if has_space:
                raise BodySyntaxError(at, "expected memory space to be last in memref type")
            if item.startswith("strided<"):
                if not _STRIDED.fullmatch(item):
                    raise BodySyntaxError(at, f"expected strided<[strides], offset: n>, found '{item}'")
                layout = (at, strided_text(item))
            else:
                from irq.text.affine import check_affine

                try:
                    check_affine(item)
                except BodySyntaxError as e:
                    raise BodySyntaxError(at + e.offset, e.message) from None
                layout = (at, item)
        elif item.startswith("#") and "." not in item.partition("<")[0] and "<" not in item:
            raise BodySyntaxError(at, f"undefined attribute alias '{item}' (or not a memref layout)")
        else:
            if has_space:
                raise BodySyntaxError(at, "a memref has one memory space")
            has_space = True
            try:
                space = memory_space_text(item, ctx, aliases)
            except BodySyntaxError as e:
                raise BodySyntaxError(at + e.offset, e.message) from None
    if layout is not None:  # MLIR verifies only the layout that stays (a later one replaces an earlier)
        at, item = layout
        rank = len(shape)
        if item.startswith("strided<"):
            strides = item[item.index("[") + 1 : item.index("]")].strip()
            count = len(strides.split(",")) if strides else 0
            if count != rank:
                raise BodySyntaxError(at, f"expected the number of strides ({count}) to match the rank ({rank})")
            layout = item
        else:
            dims = _MAP_DIMS.match(item)
            n_dims = len([d for d in dims.group(1).split(",") if d.strip()]) if dims else None
            if n_dims is not None and n_dims != rank:
                raise BodySyntaxError(at, f"memref layout mismatch between rank and affine map: {rank} != {n_dims}")
            layout = None if is_identity_map(item) else item  # the identity map is the default layout
    return MemRefType(shape, elem, layout, space)


def _list_item_end(text: str, start: int, end: int) -> int:
    """End of the comma-separated item at `start`: the next `,` outside brackets and strings."""
    depth, i = 0, start
    while i < end:
        c = text[i]
        if c == '"':
            i += 1
            while i < end and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "<([{":
            depth += 1
        elif c in ">)]}" and not (c == ">" and text[i - 1 : i + 1] == "->"):
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return i


def _parse_dialect_type(text: str, ctx: Context | None, aliases: dict[str, Type] | None) -> Type:
    name, lt, _ = text[1:].partition("<")
    if "." not in name:
        if lt:  # opaque form  !dialect<"body">
            return OpaqueType(name, text)
        if aliases is not None and text in aliases:
            return aliases[text]
        raise BodySyntaxError(0, f"undefined type alias '{text}'")
    if ctx is None:
        from irq.ir.dialect import default_context

        ctx = default_context()
    cls = ctx.types.get(name)
    if cls is None:
        dialect, _, mnemonic = name.partition(".")
        if dialect in ctx.dialects:  # a registered dialect owns its namespace: `!quant.unifrom` is a typo
            raise BodySyntaxError(1, f"unknown type '{mnemonic}' in dialect '{dialect}'")
        return OpaqueType(dialect, text)
    start = len(name) + 2
    end = len(text) - 1 if lt else start - 1
    if lt and not text.endswith(">"):
        raise BodySyntaxError(len(text), "expected '>'")

    def resolve(t: str) -> Type:
        return parse_type_text(t, ctx, aliases)

    p = DialectAsmParser(text, start, max(end, start), type_resolver=resolve)
    t = cls.parse_body(p) if lt else cls.parse_body(DialectAsmParser("", 0, 0, type_resolver=resolve))
    p.expect_end()
    return t


class TypeCache:
    """Per-context cache from type text to Type (only alias-free texts are cached)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache: dict[str, Type] = {}

    def get(self, text: str, aliases: dict[str, Type] | None) -> Type:
        t = self.cache.get(text)
        if t is None:
            t = parse_type_text(text, self.ctx, aliases)
            if not aliases or not any(a in text for a in aliases):
                self.cache[text] = t
        return t
