"""OpAsmParser: what an op's custom syntax parser reads from.

The grammar delivers a custom-form op as its name plus a flat list of items:
tokens, parenthesized and bracketed groups, attribute dictionaries and already
parsed regions. This cursor gives them meaning the way MLIR's OpAsmParser does
(`parse_operand`, `parse_colon_type`, `parse_optional_attr_dict`, ...), so a
declarative format or a hand-written `parse_custom` reads like MLIR's C++.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from irq.diagnostics import ParseError
from irq.ir.attributes import ArrayAttr, Attribute, DictionaryAttr, TypeAttr, UnitAttr
from irq.ir.block import Block, Region
from irq.ir.types import FunctionType, Type

if TYPE_CHECKING:
    from irq.ir.location import Location
    from irq.ir.values import Value
    from irq.text.lexer import Tok
    from irq.text.parse_state import ParseState

# blanks, line breaks and `//` comments: what lies between an op's last item and the next token
_SKIP_BLANKS = re.compile(r"(?:[ \t\r\n]+|//[^\n]*)*")

_PUNCT = {
    ":": "COLON",
    ",": "COMMA",
    "=": "EQUAL",
    "->": "ARROW",
    "*": "STAR",
    "?": "QUESTION",
    "+": "PLUS",
    "<": "LESS",
    ">": "GREATER",
    "|": "PIPE",
}


class UnresolvedOperand:
    """`%name` read from the text, resolved to a Value once its type is known."""

    __slots__ = ("tok",)

    def __init__(self, tok: Tok) -> None:
        self.tok = tok

    @property
    def name(self) -> str:
        return self.tok.value


class OpAsmParser:
    """Cursor over the items of one custom-form op (or of a group inside it)."""

    #: When a list, `resolve_operand(s)` append (token, type, value) to it: the fast path
    #: learns from it how an op of the same shape is built (irq/text/replay.py).
    resolved: list | None = None

    def __init__(
        self,
        state: ParseState,
        items: list,
        pos: int,
        op_name: str = "",
        num_results: int | None = None,
        end_pos: int | None = None,
        name_end: int | None = None,
    ) -> None:
        self.state = state
        self.items = items
        self.i = 0
        self.pos = pos
        self.op_name = op_name
        self.num_results = num_results
        self.end_pos = end_pos if end_pos is not None else (items[-1].pos if items else pos)
        #: where the op's name ends, for the parser of a whole op (None for a group inside it):
        #: what its items lack is reported after them (`missing`)
        self.name_end = name_end

    # -- cursor ------------------------------------------------------------------------------
    def peek(self) -> Tok | None:
        return self.items[self.i] if self.i < len(self.items) else None

    def peek_type(self) -> str | None:
        return self.items[self.i].type if self.i < len(self.items) else None

    def next(self) -> Tok:
        if self.i >= len(self.items):
            raise self.missing("unexpected end of operation", None)
        t = self.items[self.i]
        self.i += 1
        return t

    def at_end(self) -> bool:
        return self.i >= len(self.items)

    def current_pos(self) -> int:
        t = self.peek()
        return t.pos if t is not None else self.end_pos

    def error(self, message: str, at: Tok | None = None) -> ParseError:
        pos = at.pos if at is not None else self.current_pos()
        prefix = f"custom op '{self.op_name}' " if self.op_name else ""
        return self.state.error(pos, prefix + message)

    def missing(self, message: str, at: Tok | None, keyword: bool = False) -> ParseError:
        """An error for a token the syntax needs: at `at` when there is one, and past the op's
        last item when its items ran out (see `_end_of`). A missing keyword is reported at the
        token after the op instead, often on the next line, as MLIR's parseKeyword reports it at
        its current token (`quant.qcast %a : tensor<2xf32>` without `to`: MLIR C++ 3.13)."""
        if at is None and self.at_end() and self.name_end is not None:
            prefix = f"custom op '{self.op_name}' " if self.op_name else ""
            end = self._end_of(self.items[-1]) if self.items else self.name_end
            if keyword:
                end = _SKIP_BLANKS.match(self.state.lexer.text, end).end()
            return self.state.error(end, prefix + message)
        return self.error(message, at)

    def _end_of(self, tok: Tok) -> int:
        """Where an op's last item ends in the text: an error for what is missing after it is
        reported there, as MLIR's Parser::emitWrongTokenError reports it (`%0 = arith.addi %a,
        %b` then a line break: `expected ':'` after `%b`, not at its start). A flat item's value
        is its text; a group, region or `loc(...)` is measured by balancing its brackets again,
        which runs only here, when an error is raised."""
        if isinstance(tok.value, str):
            return tok.pos + len(tok.value)
        try:
            return self.state.lexer.scan_balanced(tok.pos + 3 if tok.type == "LOC" else tok.pos)
        except ParseError:
            return tok.pos

    def expect_end(self) -> None:
        if not self.at_end():
            t = self.peek()
            raise self.error(f"unexpected '{_describe(t)}'", t)

    def _sub(self, tok: Tok) -> OpAsmParser:
        return OpAsmParser(self.state, tok.value, tok.pos, self.op_name, self.num_results, tok.pos)

    # -- punctuation and keywords ----------------------------------------------------------
    def parse_optional_punct(self, p: str) -> bool:
        t = self.peek()
        if t is not None and t.type == _PUNCT[p]:
            self.i += 1
            return True
        return False

    def expect_punct(self, p: str) -> None:
        if not self.parse_optional_punct(p):
            t = self.peek()
            raise self.missing(f"expected '{p}'" + (f", found '{_describe(t)}'" if t else " before the end"), t)

    def parse_optional_keyword(self, *words: str) -> str | None:
        t = self.peek()
        if t is not None and (
            (t.type == "BARE_ID" and (not words or t.value in words)) or (t.type == "TYPE" and t.value in words)
        ):
            self.i += 1
            return t.value
        return None

    def parse_keyword(self, *words: str) -> str:
        w = self.parse_optional_keyword(*words)
        if w is None:
            t = self.peek()
            want = " or ".join(f"'{w}'" for w in words) if words else "a keyword"
            raise self.missing(f"expected {want}" + (f", found '{_describe(t)}'" if t else ""), t, keyword=True)
        return w

    # -- groups ---------------------------------------------------------------------------------
    def parse_optional_parens(self) -> OpAsmParser | None:
        t = self.peek()
        if t is not None and t.type == "PARENS":
            self.i += 1
            return self._sub(t)
        return None

    def parse_parens(self) -> OpAsmParser:
        p = self.parse_optional_parens()
        if p is None:
            raise self.error("expected '('", self.peek())
        return p

    def parse_optional_brackets(self) -> OpAsmParser | None:
        t = self.peek()
        if t is not None and t.type == "BRACKETS":
            self.i += 1
            return self._sub(t)
        return None

    def parse_brackets(self) -> OpAsmParser:
        p = self.parse_optional_brackets()
        if p is None:
            raise self.error("expected '['", self.peek())
        return p

    # -- operands ----------------------------------------------------------------------------
    def parse_optional_operand(self) -> UnresolvedOperand | None:
        t = self.peek()
        if t is not None and t.type == "VALUE_ID":
            self.i += 1
            return UnresolvedOperand(t)
        return None

    def parse_operand(self) -> UnresolvedOperand:
        u = self.parse_optional_operand()
        if u is None:
            t = self.peek()
            raise self.missing("expected an SSA value" + (f", found '{_describe(t)}'" if t else ""), t)
        return u

    def parse_operand_list(self) -> list[UnresolvedOperand]:
        """Zero or more comma-separated operands."""
        out: list[UnresolvedOperand] = []
        u = self.parse_optional_operand()
        if u is None:
            return out
        out.append(u)
        while (
            self.peek_type() == "COMMA" and self.i + 1 < len(self.items) and self.items[self.i + 1].type == "VALUE_ID"
        ):
            self.i += 1
            out.append(self.parse_operand())
        return out

    def resolve_operand(self, u: UnresolvedOperand, type: Type) -> Value:
        v = self.state.use_value(u.tok, type)
        if self.resolved is not None:
            self.resolved.append((u.tok, type, v))
        return v

    def resolve_operands(self, us: Sequence[UnresolvedOperand], types: Sequence[Type]) -> list[Value]:
        if len(us) != len(types):
            at = us[0].tok if us else None
            raise self.error(f"{len(us)} operands present, but expected {len(types)} types", at)
        use = self.state.use_value
        values = [use(u.tok, t) for u, t in zip(us, types)]
        if self.resolved is not None:
            self.resolved.extend(zip([u.tok for u in us], types, values))
        return values

    # -- types ----------------------------------------------------------------------------------
    def parse_optional_type(self) -> Type | None:
        t = self.peek()
        if t is None:
            return None
        if t.type == "TYPE":
            self.i += 1
            return self.state.type_of(t)
        if t.type == "PARENS" and self.i + 1 < len(self.items) and self.items[self.i + 1].type == "ARROW":
            return self.parse_function_type()
        return None

    def parse_type(self) -> Type:
        ty = self.parse_optional_type()
        if ty is None:
            t = self.peek()
            raise self.missing("expected a type" + (f", found '{_describe(t)}'" if t else ""), t)
        return ty

    def parse_colon_type(self) -> Type:
        self.expect_punct(":")
        return self.parse_type()

    def parse_type_list(self) -> list[Type]:
        """Zero or more comma-separated types."""
        out: list[Type] = []
        ty = self.parse_optional_type()
        if ty is None:
            return out
        out.append(ty)
        while self.parse_optional_punct(","):
            out.append(self.parse_type())
        return out

    def parse_colon_type_list(self) -> list[Type]:
        self.expect_punct(":")
        return self.parse_type_list()

    def parse_paren_type_list(self) -> list[Type]:
        p = self.parse_parens()
        types = p.parse_type_list()
        p.expect_end()
        return types

    def parse_function_type(self) -> FunctionType:
        ins = self.parse_paren_type_list()
        self.expect_punct("->")
        if self.peek_type() == "PARENS":
            outs = self.parse_paren_type_list()
        else:
            outs = [self.parse_type()]
        return FunctionType(ins, outs)

    def parse_arrow_type_list(self) -> list[Type]:
        """`-> t` or `-> (t1, t2)`, nothing if there is no arrow."""
        if not self.parse_optional_punct("->"):
            return []
        if self.peek_type() == "PARENS":
            return self.parse_paren_type_list()
        return [self.parse_type()]

    # -- attributes -------------------------------------------------------------------------------
    def parse_optional_attribute(self, type: Type | None = None) -> Attribute | None:
        t = self.peek()
        if t is None:
            return None
        k = t.type
        st = self.state
        if k in ("INT", "FLOAT"):
            self.i += 1
            if type is not None:  # the caller knows the type: a following ':' is not ours
                from irq.text.lexer import Tok as _Tok

                return st.atom_attr(t, _Tok("TYPE", type._text, t.pos))
            type_tok = None
            if self.peek_type() == "COLON" and self.i + 1 < len(self.items) and self.items[self.i + 1].type == "TYPE":
                self.i += 1
                type_tok = self.next()
            return st.atom_attr(t, type_tok)
        if k in ("DENSE", "DENSE_RESOURCE"):
            self.i += 1
            if type is None:
                self.expect_punct(":")
                type_tok = self.next()
                if type_tok.type != "TYPE":
                    raise self.error("expected a type", type_tok)
            else:
                from irq.text.lexer import Tok as _Tok

                type_tok = _Tok("TYPE", type._text, t.pos)
            return st.atom_attr(t, type_tok)
        if k in ("STRING", "SYMBOL", "DENSE_ARRAY", "DIALECT_ATTR", "ATTR_ALIAS", "OPAQUE_ATTR"):
            self.i += 1
            return st.atom_attr(t)
        if k == "BARE_ID" and t.value in ("true", "false", "unit"):
            self.i += 1
            return st.atom_attr(t)
        if k == "TYPE":
            return TypeAttr(self.parse_type())
        if k == "PARENS" and self.i + 1 < len(self.items) and self.items[self.i + 1].type == "ARROW":
            return TypeAttr(self.parse_function_type())
        if k == "BRACKETS":
            self.i += 1
            sub = self._sub(t)
            elems = []
            if not sub.at_end():
                elems.append(sub.parse_attribute())
                while sub.parse_optional_punct(","):
                    elems.append(sub.parse_attribute())
            sub.expect_end()
            return ArrayAttr(elems)
        if k == "ATTR_DICT":
            self.i += 1
            return DictionaryAttr(t.value)
        return None

    def parse_attribute(self, type: Type | None = None) -> Attribute:
        a = self.parse_optional_attribute(type)
        if a is None:
            t = self.peek()
            raise self.missing("expected an attribute value" + (f", found '{_describe(t)}'" if t else ""), t)
        return a

    def parse_optional_attr_dict(self) -> dict[str, Attribute]:
        t = self.peek()
        if t is not None and t.type == "ATTR_DICT":
            self.i += 1
            return dict(t.value)
        return {}

    def parse_optional_attr_dict_with_keyword(self) -> dict[str, Attribute]:
        if self.parse_optional_keyword("attributes") is None:
            return {}
        t = self.peek()
        if t is None or t.type != "ATTR_DICT":
            raise self.error("expected an attribute dictionary after 'attributes'", t)
        self.i += 1
        return dict(t.value)

    def parse_optional_properties(self) -> dict[str, Attribute]:
        t = self.peek()
        if t is not None and t.type == "PROPS":
            self.i += 1
            return dict(t.value)
        return {}

    def parse_optional_symbol_name(self) -> str | None:
        t = self.peek()
        if t is not None and t.type == "SYMBOL":
            self.i += 1
            ref = self.state.symbol_attr(t)
            if ref.nested:
                raise self.error("expected a flat symbol name", t)
            return ref.root
        return None

    def parse_symbol_name(self) -> str:
        s = self.parse_optional_symbol_name()
        if s is None:
            raise self.error("expected a symbol name (@name)", self.peek())
        return s

    def parse_string(self) -> str:
        t = self.next()
        if t.type != "STRING":
            raise self.error("expected a string", t)
        return self.state.string_value(t)

    def parse_integer(self) -> int:
        t = self.next()
        if t.type != "INT":
            raise self.error("expected an integer", t)
        return int(t.value, 0) if t.value.startswith(("0x", "-0x")) else int(t.value)

    # -- regions and successors ---------------------------------------------------------------
    def parse_optional_region(
        self, arguments: Sequence[tuple[Tok, Type, Location | None]] | None = None
    ) -> Region | None:
        t = self.peek()
        if t is None:
            return None
        if t.type == "ATTR_DICT" and not t.value:
            # `module {}`: the lexer tells regions from dictionaries by the line break after
            # `{`, so a region written empty on one line arrives as an empty dictionary.
            self.i += 1
            region = Region()
            if arguments:
                raise self.error("a region with arguments needs an entry block", t)
            return region
        if t.type == "ATTR_DICT" and len(t.value) == 1 and isinstance(next(iter(t.value.values())), UnitAttr):
            # `{ word }` where a region may stand: a region holding one op the lexer does not know
            # (docs/design.md, the `{word}` rule), which MLIR reports as that unknown op
            word = next(iter(t.value))
            text, at = self.state.source.text, t.pos + 1
            while True:  # the word: past blanks and comments after the `{`
                while at < len(text) and text[at] in " \t\r\n":
                    at += 1
                if not text.startswith("//", at):
                    break
                at = text.find("\n", at) % (len(text) + 1)
            raise self.state.error(at, f"custom op '{word}' is unknown")
        if t.type != "REGION":
            return None
        self.i += 1
        region: Region = t.value
        if arguments is not None:
            self.state.bind_region_arguments(region, list(arguments))
        return region

    def parse_region(self, arguments: Sequence[tuple[Tok, Type, Location | None]] | None = None) -> Region:
        r = self.parse_optional_region(arguments)
        if r is None:
            raise self.error("expected a region '{'", self.peek())
        return r

    def parse_optional_successor(self) -> Block | None:
        t = self.peek()
        if t is not None and t.type == "BLOCK_ID":
            self.i += 1
            return self.state.block_ref(t)
        return None

    def parse_successor(self) -> Block:
        b = self.parse_optional_successor()
        if b is None:
            raise self.error("expected a block (^bb)", self.peek())
        return b

    def parse_argument(self) -> tuple[Tok, Type, Any]:
        """`%name : type` with an optional `loc(...)` (as in function signatures)."""
        t = self.next()
        if t.type != "VALUE_ID":
            raise self.error("expected an argument name", t)
        self.expect_punct(":")
        ty = self.parse_type()
        return (t, ty, self.parse_optional_location())

    def parse_optional_location(self) -> Location | None:
        """A `loc(...)` item (only inside parentheses; an op's own location is not an item)."""
        t = self.peek()
        if t is not None and t.type == "LOC":
            self.i += 1
            return t.value
        return None


def _describe(t: Tok | None) -> str:
    if t is None:
        return "end"
    if t.type in ("PARENS", "BRACKETS"):
        return "(" if t.type == "PARENS" else "["
    if t.type in ("ATTR_DICT", "PROPS"):
        return "{"
    if t.type == "REGION":
        return "{ region"
    return str(t.value)
