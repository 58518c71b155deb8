"""A fast path for the statements most IR consists of, ahead of the LALR grammar.

Why: at 1e5 ops the lexer's token stream plus the LALR loop were three quarters of a
parse (38 tokens per generic op, each a `Tok`, a generator step and a table lookup).
Most statements are leaf ops of two shapes:

* generic: `%r = "d.op"(%a, %b) <{props}> {attrs} : (t1, t2) -> t3`
* custom, flat: `%r = arith.addf %a, %b : f32`, `return %x : i32` (values, `,`, `:`,
  numbers, keywords and types: no group, region, dictionary or string)

At a statement start the lexer asks `match_statement` whether the text there is one of
them; if so it emits one `FAST_OP` token holding the statement's pieces (tokens with their
offsets, unconverted), and the reducers build the op with the very functions the grammar
path uses, in the same order, so the IR and every semantic error are the same. Anything
else (a region, a location, a nested dictionary, an unusual token, and any lexical error)
makes `match_statement` return None and the grammar path lexes the statement as before.

The lark grammar (irq.lark) stays the specification: this recognizer accepts a subset of
its language, tokenized as `Lexer` would tokenize it (every token read here ends at a
delimiter the lexer would also stop at), and only where the statement is followed by what
makes the lexer end it (`statement_ends_at`), so the token stream around it is unchanged.
tests/test_fast_path.py checks, on every IR text of the suite and on mutants of it, that
the result (IR or error) is the same with the fast path on and off.
Set `IRQ_NO_FAST_PARSE=1` (or `FAST_PATH = False`) to parse with the grammar alone.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from irq.diagnostics import ParseError
from irq.text.fast_custom import (  # noqa: F401 - FastCustom, flat_items and statement_ends_at are this module's API too
    FastCustom,
    _Comment,
    _custom,
    _custom_name,
    _flat_custom,
    _results,
    _split_values,
    _word_type,
    flat_items,
    statement_ends_at,
)
from irq.text.fast_patterns import (
    _AFTER_VALUE,
    _ATOM,
    _ELEMENT,
    _FUNCTION_TYPE,
    _KEY,
    _MAX_DEPTH,
    _NEXT_RESULTS,
    _SIMPLE_ENTRY,
    _SKIP,
    _STATEMENT_HEAD,
    _TYPE_ITEM,
)
from irq.text.tokens import _BALANCED, MAX_NESTING, Tok

if TYPE_CHECKING:
    from irq.text.lexer import Lexer

#: Whether the lexer tries the fast path at all (tests compare both settings).
FAST_PATH = not os.environ.get("IRQ_NO_FAST_PARSE")

HIT, MISS = 0, 1


class FastGeneric:
    """The pieces of a generic op read by the fast path, converted by the reducer."""

    __slots__ = ("results", "name", "operands", "props", "attrs", "ftype", "outs", "unused")

    def __init__(self, results, name, operands, props, attrs, ftype, outs, unused) -> None:
        self.results = results  # [(VALUE_ID tok, INT tok | None)]
        self.name = name  # STRING tok
        self.operands = operands  # [VALUE_ID tok]
        self.props = props  # None or entries (see `_dictionary`)
        self.attrs = attrs
        #: the FunctionType converted before from the same text, or (cache key, input TYPE toks,
        #: whether the result is written `-> t` rather than `-> (t)`)
        self.ftype = ftype
        self.outs = outs  # result TYPE toks when `ftype` is not converted yet
        self.unused = unused


def match_statement(lexer: Lexer, pos: int) -> tuple[Tok, int] | None:
    """(FAST_OP token, end offset) for the statement at `pos` if the fast path covers it, else None.

    When it returns a token, the lexer would end the statement with SEP at the end offset
    (`statement_ends_at`), so the caller emits that SEP itself.
    """
    text = lexer.text
    if len(lexer.stack) > MAX_NESTING - _MAX_DEPTH - 4:
        return None  # near the nesting limit: the grammar path reports the bracket that crosses it
    try:
        m = _STATEMENT_HEAD.match(text, pos)  # the results and the op up to its operands
        if m is None:
            return None
        name = m.group("name")
        if name is None:
            return _generic(lexer, text, m)
        if not _custom_name(lexer, name):
            return None
        if text[m.end("name") : m.end("name") + 1] in ("<", "(", "["):
            return None  # a group after the name: the grammar path reads it
        hit = _flat_custom(lexer, text, m, m)
        if hit is not None:
            return hit
        return _custom(lexer, text, m, m)
    except (ParseError, _Comment):  # a lexical error: the grammar path reports it where it always has
        return None


def _generic(lexer: Lexer, text: str, m: re.Match):
    """A generic op from its `_STATEMENT_HEAD` match (results, name, operands) to its function type."""
    results = _results(text, m)
    name = Tok("STRING", m.group("gname"), m.start("gname"))
    raw = m.group("goperands")
    operands = []
    if raw is not None:
        if "/" in raw:
            return None  # a comment between operands
        operands = _split_values(raw, m.start("goperands"))
    pos = m.end()  # after the blanks that follow `)`
    props = attrs = None
    if text.startswith("<{", pos):
        r = _dictionary(lexer, text, pos + 2, "}>")
        if r is None:
            return None
        props, pos = r
        pos = _SKIP.match(text, pos).end()
    if text.startswith("{", pos) and not text.startswith("{-#", pos):
        r = _dictionary(lexer, text, pos + 1, "}")
        if r is None:
            return None
        attrs, pos = r
    f = _FUNCTION_TYPE.match(text, pos)
    if f is None:
        return None
    out = f.group("out")
    end = f.end()
    if _NEXT_RESULTS.match(text, end) is None and not statement_ends_at(  # the commonest case without the call
        lexer, end, "TYPE" if out is not None else "RPAREN", generic=True, after_name=False
    ):
        return None
    span = text[f.start("colon") : end]
    ftype = lexer.fast_cache.get(span)
    if ftype is not None:
        op = FastGeneric(results, name, operands, props, attrs, ftype, None, None)
    else:
        if "//" in span:
            return None  # a comment between the types: `_types` would read inside it
        ins = _types(f, "ins")
        outs = [Tok("TYPE", out, f.start("out"))] if out is not None else _types(f, "outs")
        op = FastGeneric(results, name, operands, props, attrs, (span, ins, out is not None), outs, None)
    return Tok("FAST_OP", op, results[0][0].pos if results else name.pos), end


def _types(f: re.Match, group: str) -> list[Tok]:
    raw = f.group(group)
    if raw is None:
        return []
    base = f.start(group)
    return [Tok("TYPE", t.group(), base + t.start()) for t in _TYPE_ITEM.finditer(raw)]


def _dictionary(lexer: Lexer, text: str, pos: int, close: str):
    """Entries of `{...}` (or `<{...}>`) starting after the opener, and the end offset.

    An entry is `(HIT, key, attribute, key offset)` when the same entry text was converted
    before in this parse (`Lexer.fast_cache`), else `(MISS, cache key or None, key tok, value)`
    with the value a node of `_value` (None for a unit entry).
    """
    entries: list = []
    cache = lexer.fast_cache
    simple = _SIMPLE_ENTRY.match
    while True:
        e = simple(text, pos)
        if e is not None:
            span = text[e.start("key") : e.end("entry")]
            hit = cache.get(span)
            if hit is not None:
                entries.append((HIT, hit[0], hit[1], e.start("key")))
            else:
                if "//" in span:
                    return None  # a comment inside: read token by token below would see it; leave it to the grammar
                entries.append((MISS, span, _key_tok(e), _simple_value(e)))
            after = e.group("after")
            pos = e.end()
        else:
            k = _KEY.match(text, pos)
            if k is None:
                if not entries:  # `{}` / `<{}>`
                    s = _SKIP.match(text, pos).end()
                    if text.startswith(close, s):
                        return entries, s + len(close)
                return None
            after = k.group("after")
            pos = k.end()
            if after == "=":
                r = _value(lexer, text, pos, 0)
                if r is None:
                    return None
                node, pos = r
                a = _AFTER_VALUE.match(text, pos)
                if a is None or a.group("c") not in ",}":
                    return None
                after = a.group("c")
                pos = a.end()
            else:
                node = None
            entries.append((MISS, None, _key_tok(k), node))
        if after == "}":
            if close == "}>":
                if not text.startswith(">", pos):
                    return None
                pos += 1
            return entries, pos


def _key_tok(m: re.Match) -> Tok:
    word = m.group("word")
    if word is not None:
        return Tok(_word_type(word), word, m.start("word"))
    return Tok("STRING", m.group("string"), m.start("string"))


def _simple_value(e: re.Match):
    """The value node of a `_SIMPLE_ENTRY` match (None for a unit entry)."""
    if e.group("scalar") is not None:
        tok = _scalar_tok(e.group("scalar"), e.start("scalar"))
        ty = e.group("type")
        return tok if ty is None else (tok, Tok("TYPE", ty, e.start("type")))
    if e.group("kw") is not None:
        return Tok("BARE_ID", e.group("kw"), e.start("kw"))
    if e.group("array") is not None:
        items: list = []
        base = e.start("array")
        for el in _ELEMENT.finditer(e.group("array")):
            tok = _scalar_tok(el.group("el"), base + el.start("el"))
            ty = el.group("ty")
            items.append(tok if ty is None else (tok, Tok("TYPE", ty, base + el.start("ty"))))
        return ("ARRAY", items, base)
    return None


def _scalar_tok(text: str, pos: int) -> Tok:
    c = text[0]
    if c == '"':
        return Tok("STRING", text, pos)
    if c.isalpha():
        return Tok("BARE_ID", text, pos)
    if "." in text:
        return Tok("FLOAT", text, pos)
    return Tok("INT", text, pos)


def _value(lexer: Lexer, text: str, pos: int, depth: int):
    """One attribute value: an atom (with its `: type`) or an array; (node, end) or None.

    A node is a Tok (a lone atom), a (Tok, type Tok) pair, or ("ARRAY", [nodes], pos).
    """
    a = _ATOM.match(text, pos)
    if a is None:
        return None
    kind = a.lastgroup
    start = a.start(kind)
    end = a.end()
    if kind == "lbracket":
        if depth >= _MAX_DEPTH:
            return None
        items: list = []
        pos = end
        s = _SKIP.match(text, pos).end()
        if text.startswith("]", s):
            return ("ARRAY", items, start), s + 1
        while True:
            r = _value(lexer, text, pos, depth + 1)
            if r is None:
                return None
            node, pos = r
            c = _AFTER_VALUE.match(text, pos)
            if c is None:
                return None
            items.append(node)
            pos = c.end()
            if c.group("c") == "]":
                return ("ARRAY", items, start), pos
            if c.group("c") != ",":
                return None
    if kind == "flat_kw":  # not a group of its own: `flat` always matches with it
        kind = "flat"
    if kind == "symbol":
        tok = Tok("SYMBOL", a.group(kind), start)
    elif kind == "string":
        tok = Tok("STRING", a.group(kind), start)
    elif kind == "float":
        tok = Tok("FLOAT", a.group(kind), start)
    elif kind == "int":
        tok = Tok("INT", a.group(kind), start)
    elif kind == "flat":
        tok = Tok(_BALANCED[a.group("flat_kw")], a.group(kind), start)
    elif kind == "kwtype":
        tok = Tok("TYPE", a.group(kind), start)
    else:  # bare
        word = a.group(kind)
        nxt = text[end : end + 1]
        if nxt == "<" and word in _BALANCED:
            stop = lexer.scan_balanced(end)
            tok = Tok(_BALANCED[word], text[start:stop], start)
            end = stop
        elif nxt in ("<", "(", "["):
            return None  # `loc(`, `distinct[`, `word<`: the grammar path's business
        else:
            tok = Tok(_word_type(word), word, start)
    typed = tok.type in ("DENSE", "DENSE_RESOURCE")  # `dense<...> : type`: the grammar requires the type
    if not typed and tok.type not in ("INT", "FLOAT", "STRING", "OPAQUE_ATTR"):
        return tok, end
    c = _AFTER_VALUE.match(text, end)
    if c is None or c.group("c") != ":":
        return None if typed else (tok, end)
    t = _TYPE_ITEM.match(text, c.end() + len(_SKIP.match(text, c.end()).group()))
    if t is None:
        return None
    return (tok, Tok("TYPE", t.group(), t.start())), t.end()
