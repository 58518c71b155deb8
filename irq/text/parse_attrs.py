"""Attributes from tokens: the part of a parse's state that turns literal tokens into attributes.

Why a module of its own: converting a token (`42 : i32`, `"s"`, `dense<...> : t`, `@a::@b`,
`#alias`, `affine_map<...>`) is one concern with its own caches and checks, apart from the
scopes, values and regions `ParseState` keeps; `ParseState` inherits these methods, so
reducers and custom parsers call them on the state as before. Repeated spellings are
converted once per parse (`attr_cache`, keyed by the token texts): most literals of a large
module repeat (`0.5 : f32`, a layer's name prefix).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from irq.diagnostics import ParseError
from irq.ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    OpaqueAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnitAttr,
)
from irq.ir.dense import DenseResourceElementsAttr, storage_dtype
from irq.ir.dense_small import is_small_float
from irq.ir.resources import ResourceHandle
from irq.ir.types import FloatType, IndexType, IntegerType, ShapedType, Type, f64, i64
from irq.text.dense_strings import is_string_literal_body, normalize_dense_strings
from irq.text.float_specials import is_special, special_bits
from irq.text.floats import decimal_value
from irq.text.literals import decimal_int, parse_dense, parse_dense_array
from irq.text.sparse import check_sparse, shorten_sparse
from irq.text.strings import unescape_string
from irq.text.type_parser import BodySyntaxError, DialectAsmParser

if TYPE_CHECKING:
    from irq.ir.dialect import Context
    from irq.text.lexer import Tok


class AttributeBuilder:
    """Token -> attribute conversions of one parse (mixed into `ParseState`, which provides
    `error`, `type_of`, `resolve_type_text` and the fields named below)."""

    ctx: Context
    attr_aliases: dict[str, Attribute]
    attr_cache: dict[tuple, Attribute]
    distinct_ids: dict[str, str]
    handles: dict[str, ResourceHandle]
    resource_uses: list[tuple[DenseResourceElementsAttr, int]]

    # provided by ParseState (declared, not defined, so a missing one fails as an AttributeError at once)
    error: Callable[..., ParseError]
    type_of: Callable[[Tok], Type]
    resolve_type_text: Callable[[str], Type]

    # -- attributes ---------------------------------------------------------------------------
    def string_value(self, tok: Tok) -> str:
        try:
            return unescape_string(tok.value)
        except ValueError as e:
            raise self.error(tok.pos + getattr(e, "offset", 0), str(e)) from None

    def int_attr(self, tok: Tok, type_tok: Tok | None) -> Attribute:
        key = (tok.value, None if type_tok is None else type_tok.value)
        a = self.attr_cache.get(key)
        if a is not None:
            return a
        t = i64 if type_tok is None else self.type_of(type_tok)
        text = tok.value
        if isinstance(t, FloatType) and text.startswith("-0x"):
            raise self.error(tok.pos, "hexadecimal float literal should not have a leading minus")
        if isinstance(t, FloatType) and not text.startswith("0x"):  # MLIR: `42 : f32` is an error
            raise self.error(
                tok.pos,
                "unexpected decimal integer literal for a floating point value "
                "(add a trailing dot to make the literal a float)",
            )
        try:
            if isinstance(t, FloatType):
                # a hex integer of float type is MLIR's bit pattern (`0x7FC00000 : f32`), kept exactly
                a = FloatAttr.from_bits(int(text, 16), t)
            elif isinstance(t, (IntegerType, IndexType)):
                a = IntegerAttr(decimal_int(text), t)
            else:
                raise self.error(type_tok.pos, f"integer literal needs an integer, index or float type, got {t}")
        except ValueError as e:  # at the digits after a `-`, as MLIR reports a value out of range
            raise self.error(tok.pos + text.startswith("-"), str(e)) from None
        self.attr_cache[key] = a
        return a

    def float_attr(self, tok: Tok, type_tok: Tok | None) -> Attribute:
        key = (tok.value, None if type_tok is None else type_tok.value)
        a = self.attr_cache.get(key)
        if a is not None:
            return a
        t = f64 if type_tok is None else self.type_of(type_tok)
        if not isinstance(t, FloatType):
            raise self.error(type_tok.pos, f"float literal needs a float type, got {t}")
        text = tok.value
        try:
            if is_special(text):  # `+inf`, `-nan(0x1)`: exact bits, payloads kept
                a = FloatAttr.from_bits(special_bits(text, t.kind), t)
            else:
                a = FloatAttr(decimal_value(text, t.kind), t)
        except ValueError as e:
            raise self.error(tok.pos, str(e)) from None
        self.attr_cache[key] = a
        return a

    def string_attr(self, tok: Tok) -> StringAttr:
        key = (tok.value,)
        a = self.attr_cache.get(key)
        if a is None:
            a = StringAttr(self.string_value(tok))
            self.attr_cache[key] = a
        return a

    def keyword_attr(self, tok: Tok) -> Attribute:
        w = tok.value
        if w == "true":
            return BoolAttr(True)
        if w == "false":
            return BoolAttr(False)
        if w == "unit":
            return UnitAttr()
        raise self.error(tok.pos, f"expected an attribute value, found '{w}'")

    def symbol_attr(self, tok: Tok) -> SymbolRefAttr:
        parts = []
        for raw in _split_symbol(tok.value):
            parts.append(self.string_value_text(raw, tok.pos) if raw.startswith('"') else raw)
        return SymbolRefAttr(parts[0], parts[1:])

    def string_value_text(self, text: str, pos: int) -> str:
        try:
            return unescape_string(text)
        except ValueError as e:
            raise self.error(pos + getattr(e, "offset", 0), str(e)) from None

    def dense_attr(self, tok: Tok, type_tok: Tok) -> Attribute:
        t = self.type_of(type_tok)
        body = tok.value[len("dense<") : -1]
        if is_string_literal_body(body) and isinstance(t, ShapedType) and t.has_static_shape and not _numeric(t):
            # MLIR's dense string elements (`tensor<2x!d.string>`): kept as text, in mlir-opt's spelling
            try:
                return OpaqueAttr("builtin", f"dense<{normalize_dense_strings(body, t.shape)}> : {t._text}")
            except BodySyntaxError as e:
                raise self.error(tok.pos + len("dense<") + e.offset, e.message) from None
        try:
            return parse_dense(tok.value, t)
        except BodySyntaxError as e:
            raise self.error(tok.pos + e.offset, e.message) from None

    def dense_resource_attr(self, tok: Tok, type_tok: Tok) -> Attribute:
        t = self.type_of(type_tok)
        if not isinstance(t, ShapedType) or not t.has_static_shape:
            raise self.error(type_tok.pos, f"dense_resource needs a static tensor or vector type, got {t}")
        try:
            storage_dtype(t.element_type)
        except TypeError as e:
            raise self.error(type_tok.pos, f"dense_resource: {e}") from None
        if is_small_float(t.element_type):  # irq keeps these as bits in a wider container than MLIR's blob
            raise self.error(
                type_tok.pos, f"dense_resource of {t.element_type} elements is not supported; use dense<...>"
            )
        key = tok.value[len("dense_resource<") : -1].strip()
        if key.startswith('"'):
            key = self.string_value_text(key, tok.pos)
        elif not key or not re.fullmatch(r"[A-Za-z_][\w$.\-]*", key):
            raise self.error(tok.pos, f"malformed resource key '{key}'")
        h = self.handles.get(key)
        if h is None:
            h = self.handles[key] = ResourceHandle(key)
        a = DenseResourceElementsAttr(t, h)
        self.resource_uses.append((a, tok.pos))
        return a

    def dense_array_attr(self, tok: Tok) -> Attribute:
        try:
            return parse_dense_array(tok.value, self.resolve_type_text)
        except BodySyntaxError as e:
            raise self.error(tok.pos + e.offset, e.message) from None

    def dialect_attr(self, tok: Tok) -> Attribute:
        text = tok.value
        name = text[1:].partition("<")[0]
        cls = self.ctx.attributes.get(name)
        if cls is None:
            return OpaqueAttr(name.partition(".")[0], text)
        start = len(name) + 2
        p = DialectAsmParser(text, start, max(len(text) - 1, start), type_resolver=self.resolve_type_text)
        try:
            a = cls.parse_body(p)
            p.expect_end()
        except BodySyntaxError as e:
            raise self.error(tok.pos + e.offset, e.message) from None
        except (ValueError, TypeError) as e:
            raise self.error(tok.pos, str(e)) from None
        return a

    def alias_attr(self, tok: Tok) -> Attribute:
        a = self.attr_aliases.get(tok.value)
        if a is None:
            raise self.error(tok.pos, f"undefined attribute alias '{tok.value}'")
        return a

    def atom_attr(self, tok: Tok, type_tok: Tok | None = None) -> Attribute:
        """An attribute from a single token (plus the type after ':' for typed literals)."""
        k = tok.type
        if type_tok is not None and k in ("STRING", "DIALECT_ATTR", "OPAQUE_ATTR"):
            # `"s" : !foo.string`, `#foo.attr : i32`, `sparse<...> : tensor<2xf32>`: kept as written,
            # the type in its printed form
            self.atom_attr(tok)  # the attribute itself must be valid (affine maps are checked)
            if k == "OPAQUE_ATTR" and tok.value.startswith("sparse<"):
                shaped = self.type_of(type_tok)
                problem = check_sparse(tok.value, shaped.shape) if getattr(shaped, "shape", None) is not None else None
                if problem:
                    raise self.error(tok.pos, problem)
            dialect = tok.value[1:].partition(".")[0] if k == "DIALECT_ATTR" else "builtin"
            text = shorten_sparse(tok.value) if k == "OPAQUE_ATTR" else tok.value  # MLIR's spelling
            return OpaqueAttr(dialect, f"{text} : {self.type_of(type_tok)._text}")
        if k == "INT":
            return self.int_attr(tok, type_tok)
        if k == "FLOAT":
            return self.float_attr(tok, type_tok)
        if k == "STRING":
            return self.string_attr(tok)
        if k == "BARE_ID":
            return self.keyword_attr(tok)
        if k == "SYMBOL":
            return self.symbol_attr(tok)
        if k == "TYPE":
            return TypeAttr(self.type_of(tok))
        if k == "DENSE":
            return self.dense_attr(tok, type_tok)
        if k == "DENSE_RESOURCE":
            return self.dense_resource_attr(tok, type_tok)
        if k == "DENSE_ARRAY":
            return self.dense_array_attr(tok)
        if k == "DIALECT_ATTR":
            return self.dialect_attr(tok)
        if k == "ATTR_ALIAS":
            return self.alias_attr(tok)
        if k == "OPAQUE_ATTR":
            if tok.value.startswith(("affine_map<", "affine_set<")):
                from irq.text.affine import check_affine

                try:
                    check_affine(tok.value)
                except BodySyntaxError as e:
                    raise self.error(tok.pos + e.offset, e.message) from None
            if tok.value.startswith("distinct["):
                key, _, body = tok.value.partition("]")
                first = self.distinct_ids.setdefault(key, body)
                if first != body:
                    raise self.error(
                        tok.pos,
                        f"referenced attribute does not match previous definition: {key}]{first} was defined before",
                    )
            return OpaqueAttr("builtin", shorten_sparse(tok.value))
        raise self.error(tok.pos, f"expected an attribute, found '{tok.value}'")

    @staticmethod
    def array_attr(values: list[Attribute]) -> ArrayAttr:
        return ArrayAttr(values)

    @staticmethod
    def dict_attr(entries: dict[str, Attribute]) -> DictionaryAttr:
        return DictionaryAttr(entries)


def _split_symbol(text: str) -> list[str]:
    """`@a::@"b c"` -> ['a', '"b c"']."""
    parts = []
    i = 0
    n = len(text)
    while i < n:
        assert text[i] == "@"
        i += 1
        if text[i] == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            parts.append(text[i : j + 1])
            i = j + 1
        else:
            j = text.find("::@", i)
            j = n if j < 0 else j
            parts.append(text[i:j])
            i = j
        if text.startswith("::", i):
            i += 2
    return parts


def _numeric(t: ShapedType) -> bool:
    """Whether a shaped type's elements are numbers (integers of any width, floats, index, complex);
    else (a dialect's type) only strings can fill a dense literal, and `"0x..."` is a string too."""
    from irq.ir.types import ComplexType

    return isinstance(t.element_type, (IntegerType, FloatType, IndexType, ComplexType))
