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
from irq.text.lexer import _BALANCED, _FOLLOWS_EQ, _RESULTS_REST, _SUFFIX_ID, _TYPE_KEYWORD, MAX_NESTING, Tok

if TYPE_CHECKING:
    from irq.text.lexer import Lexer

#: Whether the lexer tries the fast path at all (tests compare both settings).
FAST_PATH = not os.environ.get("IRQ_NO_FAST_PARSE")

#: Deepest array nesting read here (deeper ones go to the grammar, which bounds nesting itself).
_MAX_DEPTH = 32

#: Blanks, line breaks and comments; a comment runs to the end of its line (possessive, as the
#: lexer's `_SKIP_TEXT`: a comment cannot end early and let the rest of its line match as tokens).
_W = r"[ \t\r\n]*+(?://[^\n]*+[ \t\r\n]*+)*+"
_VALUE = rf"%{_SUFFIX_ID}(?:#[0-9]+)?"
_RESULT = rf"%{_SUFFIX_ID}(?:#[0-9]+)?(?:{_W}:{_W}(?:-?0x[0-9a-fA-F]+|-?[0-9]+))?"
#: Types the lexer makes one TYPE token of without a balanced scan (its `flat` and `kwtype` groups,
#: and the bare words `_TYPE_KEYWORD` names).
_SIMPLE_TYPE = (
    r"(?:(?:tensor|vector|memref|complex|tuple)<[^<>()\[\]{}\"]*(?<!-)>"
    r"|(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.])"
    rf"|{_TYPE_KEYWORD.pattern}(?![\w$.]))"
)
#: The lexer's string (`"(?:[^"\\\n]|\\.)*"`) unrolled: runs of plain characters, then escapes.
_STRING = r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"'

#: `%a, %b:2 =` (or nothing) up to the op name, whose first character tells the forms apart.
_RESULTS_HEAD = re.compile(rf"{_W}(?:(?P<results>{_RESULT}(?:{_W},{_W}{_RESULT})*){_W}={_W})?")
#: `"d.op"(%x, %y)`, after the results, up to the closing parenthesis.
_GENERIC_HEAD = re.compile(rf'(?P<name>{_STRING}){_W}\({_W}(?P<operands>{_VALUE}(?:{_W},{_W}{_VALUE})*)?{_W}\)')
_RESULT_ITEM = re.compile(rf"(?P<v>%{_SUFFIX_ID}(?:#[0-9]+)?)(?:{_W}:{_W}(?P<n>-?0x[0-9a-fA-F]+|-?[0-9]+))?")
_VALUE_ITEM = re.compile(_VALUE)
#: `: (t1, t2) -> t3` or `-> (t3, t4)` with simple types only.
_FUNCTION_TYPE = re.compile(
    rf"{_W}(?P<colon>:){_W}\({_W}(?P<ins>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*)?{_W}\){_W}->{_W}"
    rf"(?:(?P<out>{_SIMPLE_TYPE})|\({_W}(?P<outs>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*)?{_W}\))"
)
_TYPE_ITEM = re.compile(_SIMPLE_TYPE)
_SKIP = re.compile(_W)

#: One token of an attribute value, classified as `Lexer.tokens` classifies it.
_ATOM = re.compile(
    _W
    + "(?:"
    + "|".join(
        [
            rf"(?P<symbol>@(?:[A-Za-z_$.][\w$.\-]*|{_STRING})(?:::@(?:[A-Za-z_$.][\w$.\-]*|{_STRING}))*)",
            rf"(?P<string>{_STRING})",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
            r"(?P<int>-?0x[0-9a-fA-F]+|-?[0-9]+)",
            r"(?P<flat>(?P<flat_kw>tensor|vector|memref|complex|tuple|dense|dense_resource|array)"
            r"<[^<>()\[\]{}\"]*(?<!-)>)",
            r"(?P<kwtype>(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.]))",
            r"(?P<bare>[A-Za-z_][\w$.]*)",
            r"(?P<lbracket>\[)",
        ]
    )
    + ")"
)
#: A dictionary key: a word or a string, then `=`, `,` or `}`.
_KEY = re.compile(rf"{_W}(?:(?P<word>[A-Za-z_][\w$.]*)|(?P<string>{_STRING})){_W}(?P<after>[=,}}])")
#: What may end an attribute value inside a dictionary or array.
_AFTER_VALUE = re.compile(rf"{_W}(?P<c>[,:}}\]])")
#: One item of a flat custom form.
_ITEM = re.compile(
    _W
    + "(?:"
    + "|".join(
        [
            rf"(?P<value>{_VALUE})",
            r"(?P<punct>[,:])",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
            r"(?P<int>-?0x[0-9a-fA-F]+|-?[0-9]+)",
            r"(?P<flat>(?:tensor|vector|memref|complex|tuple)<[^<>()\[\]{}\"]*(?<!-)>)",
            r"(?P<kwtype>(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.]))",
            r"(?P<bare>[A-Za-z_][\w$.]*)",
        ]
    )
    + ")"
)
#: The commonest custom form in one match, after the results: `name %a, %b : t1, t2` or `name 1.5 : f32`.
_FLAT_OP = re.compile(
    r"(?P<name>[A-Za-z_][\w$.]*)(?![\w$.])"
    rf"(?:{_W}(?P<operands>{_VALUE}(?:{_W},{_W}{_VALUE})*)"
    rf"|{_W}(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)"
    rf"|{_W}(?P<int>-?0x[0-9a-fA-F]+|-?[0-9]+))?"
    rf"(?:{_W}(?P<colon>:){_W}(?P<types>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*))?"
)
_OPERAND_OR_COMMA = re.compile(rf"{_VALUE}|,")
_TYPE_OR_COMMA = re.compile(rf"{_SIMPLE_TYPE}|,")
#: After a statement: the start of the next one, classified as the lexer would see it.
_NEXT = re.compile(
    _W
    + r"(?:(?P<end>\Z)|(?P<close>\})|(?P<value>%)|(?P<string>\")|(?P<block>\^)|(?P<res>\{-\#)"
    + r"|(?P<alias>[#!][A-Za-z_][\w$.]*)|(?P<word>[A-Za-z_][\w$.]*))"
)
_PUNCT_TYPES = {",": "COMMA", ":": "COLON"}
_BLANKS = " \t\r\n"

#: Literals whose attribute depends on their text (and type) alone.
_NUMBER = r"(?:-?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?)?))"  # float, hex or decimal
_SCALAR = rf"(?:{_NUMBER}|{_STRING})(?:{_W}:{_W}{_SIMPLE_TYPE})?|(?:true|false|unit)(?![\w$.])"
#: `key = literal [: type]`, `key = [literal, ...]` or a unit `key`, then `,` or `}`.
_SIMPLE_ENTRY = re.compile(
    rf"{_W}(?P<key>(?P<word>[A-Za-z_][\w$.]*)|(?P<string>{_STRING}))"
    rf"(?P<entry>{_W}={_W}(?:(?P<scalar>{_NUMBER}|{_STRING})(?:{_W}:{_W}(?P<type>{_SIMPLE_TYPE}))?"
    r"|(?P<kw>true|false|unit)(?![\w$.])"
    rf"|(?P<array>\[{_W}(?:(?:{_SCALAR})(?:{_W},{_W}(?:{_SCALAR}))*)?{_W}\]))|){_W}(?P<after>[,}}])"
)
_ELEMENT = re.compile(
    rf"(?P<el>{_NUMBER}|{_STRING}|(?:true|false|unit)(?![\w$.]))(?:{_W}:{_W}(?P<ty>{_SIMPLE_TYPE}))?"
)
HIT, MISS = 0, 1


class _Comment(Exception):
    """A comment inside a span read with `finditer`, which would look into it: not the fast path's."""


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


class FastCustom:
    """The pieces of a flat custom-form op: its results, name and item tokens.

    `plan` is how an op of the same shape was built before in this parse (see
    `irq/text/replay.py`); then `items` is None (built only if the plan does not apply, from
    `match`) and `operands` holds the operand tokens. `key` is the shape, None if not cacheable.
    """

    __slots__ = ("results", "name", "items", "key", "plan", "operands", "match")

    def __init__(self, results, name, items, key=None, plan=None, operands=None, match=None) -> None:
        self.results = results
        self.name = name
        self.items = items
        self.key = key
        self.plan = plan
        self.operands = operands
        self.match = match


def match_statement(lexer: Lexer, pos: int) -> tuple[Tok, int] | None:
    """(FAST_OP token, end offset) for the statement at `pos` if the fast path covers it, else None.

    When it returns a token, the lexer would end the statement with SEP at the end offset
    (`statement_ends_at`), so the caller emits that SEP itself.
    """
    text = lexer.text
    if len(lexer.stack) > MAX_NESTING - _MAX_DEPTH - 4:
        return None  # near the nesting limit: the grammar path reports the bracket that crosses it
    try:
        head = _RESULTS_HEAD.match(text, pos)
        pos = head.end()
        if text.startswith('"', pos):
            m = _GENERIC_HEAD.match(text, pos)
            return None if m is None else _generic(lexer, text, head, m)
        m = _FLAT_OP.match(text, pos)
        if m is None or not _custom_name(lexer, m.group("name")):
            return None
        if text[m.end("name") : m.end("name") + 1] in ("<", "(", "["):
            return None  # a group after the name: the grammar path reads it
        hit = _flat_custom(lexer, text, head, m)
        if hit is not None:
            return hit
        return _custom(lexer, text, head, m)
    except (ParseError, _Comment):  # a lexical error: the grammar path reports it where it always has
        return None


def _custom_name(lexer: Lexer, name: str) -> bool:
    """Whether the lexer takes `name` at a statement start for a custom op's name (cached per parse)."""
    known = lexer.fast_names.get(name)
    if known is None:
        known = lexer.fast_names[name] = ("." in name or name in lexer.op_words) and not _TYPE_KEYWORD.fullmatch(name)
    return known


def _results(text: str, m: re.Match) -> list[tuple[Tok, Tok | None]]:
    raw = m.group("results")
    if raw is None:
        return []
    base = m.start("results")
    if "," not in raw and ":" not in raw and "/" not in raw:  # one result, `%x`, the common case
        return [(Tok("VALUE_ID", raw, base), None)]
    if "/" in raw:
        raise _Comment
    out = []
    for r in _RESULT_ITEM.finditer(raw):
        v = Tok("VALUE_ID", r.group("v"), base + r.start("v"))
        n = r.group("n")
        out.append((v, None if n is None else Tok("INT", n, base + r.start("n"))))
    return out


def _generic(lexer: Lexer, text: str, head: re.Match, m: re.Match):
    results = _results(text, head)
    name = Tok("STRING", m.group("name"), m.start("name"))
    raw = m.group("operands")
    operands = []
    if raw is not None:
        if "/" in raw:
            return None  # a comment between operands
        operands = _split_values(raw, m.start("operands"))
    pos = m.end()
    props = attrs = None
    pos = _SKIP.match(text, pos).end()
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
    if not statement_ends_at(lexer, end, "TYPE" if out is not None else "RPAREN", generic=True, after_name=False):
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


def _word_type(word: str) -> str:
    """The token type the lexer gives a bare word not followed by `<`, `(` or `[`."""
    if _TYPE_KEYWORD.fullmatch(word):
        return "TYPE"
    return "BARE_ID"


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


def _flat_custom(lexer: Lexer, text: str, head: re.Match, m: re.Match):
    """`_FLAT_OP`'s match as items, if it is the whole statement (else `_custom` reads it item by item)."""
    name, operands, flt, integer, colon, types = m.groups()
    if (operands is not None and "/" in operands) or (types is not None and "/" in types):
        return None  # a comment inside a list: the grammar path reads it
    if types is not None:
        last = "TYPE"
    elif operands is not None:
        last = "VALUE_ID"
        if text.startswith("=", _SKIP.match(text, m.end("operands")).end()):
            return None  # `name %a, %b = ...`: the lexer ends the statement before `%a`
    elif flt is not None:
        last = "FLOAT"
    elif integer is not None:
        last = "INT"
    else:
        last = "BARE_ID"
    end = m.end()
    if not statement_ends_at(lexer, end, last, generic=False, after_name=last == "BARE_ID"):
        return None
    results = _results(text, head)
    name_tok = Tok("BARE_ID", name, m.start("name"))
    pos = results[0][0].pos if results else name_tok.pos
    raw_results = head.group("results")
    if raw_results is None or ":" not in raw_results:  # `%a:2 =` binds a count: not a shape of its own here
        key = (name, len(results), flt, integer, types, 0 if operands is None else operands.count(",") + 1)
        plan = lexer.fast_cache.get(key)
        if plan is not None:
            toks = [] if operands is None else _split_values(operands, m.start("operands"))
            return Tok("FAST_OP", FastCustom(results, name_tok, None, key, plan, toks, m), pos), end
    else:
        key = None
    return Tok("FAST_OP", FastCustom(results, name_tok, flat_items(m), key), pos), end


def flat_items(m: re.Match) -> list[Tok]:
    """The item tokens of a `_FLAT_OP` match (`_flat_custom` checked it holds no comment)."""
    items: list[Tok] = []
    if m.group("operands") is not None:
        _comma_list(items, m, "operands", _OPERAND_OR_COMMA, "VALUE_ID")
    else:
        for kind in ("float", "int"):
            lit = m.group(kind)
            if lit is not None:
                items.append(Tok(kind.upper(), lit, m.start(kind)))
    if m.group("colon") is not None:
        items.append(Tok("COLON", ":", m.start("colon")))
        _comma_list(items, m, "types", _TYPE_OR_COMMA, "TYPE")
    return items


def _comma_list(items: list[Tok], m: re.Match, group: str, pattern: re.Pattern, kind: str) -> bool:
    """Append the tokens of `a, b, ...` (group `group` of `m`; items of type `kind`) to `items`;
    False if a comment lies inside, which the grammar path reads."""
    raw = m.group(group)
    if "/" in raw:
        return False
    base = m.start(group)
    if "<" in raw:  # a type may hold commas (`tuple<i32, f32>`): find the items with their pattern
        for t in pattern.finditer(raw):
            v = t.group()
            items.append(Tok("COMMA", v, base + t.start()) if v == "," else Tok(kind, v, base + t.start()))
        return True
    _split_items(items, raw, base, kind)
    return True


def _split_items(items: list[Tok], raw: str, base: int, kind: str) -> None:
    """Tokens of a matched comma-separated list without commas inside its items (values, plain
    types) at offset `base`: a split, not a regex search at every blank."""
    if "," not in raw:
        items.append(Tok(kind, raw, base))  # the group starts and ends with an item: no blanks around
        return
    off = base
    for i, piece in enumerate(raw.split(",")):
        if i:
            items.append(Tok("COMMA", ",", off - 1))
        item = piece.strip(_BLANKS)
        items.append(Tok(kind, item, off + piece.index(item[0])))
        off += len(piece) + 1


def _split_values(raw: str, base: int) -> list[Tok]:
    """VALUE_ID tokens of a matched `%a, %b` list at offset `base` (no comment inside), without the commas."""
    if "," not in raw:
        return [Tok("VALUE_ID", raw, base)]
    out = []
    off = base
    for piece in raw.split(","):
        item = piece.lstrip(_BLANKS)
        lead = len(piece) - len(item)
        out.append(Tok("VALUE_ID", item.rstrip(_BLANKS), off + lead))
        off += len(piece) + 1
    return out


def _custom_op_tok(text: str, head: re.Match, m: re.Match, items: list[Tok]) -> Tok:
    """The FAST_OP token of a custom-form op: results from `head`, name from `m`."""
    results = _results(text, head)
    name = Tok("BARE_ID", m.group("name"), m.start("name"))
    return Tok("FAST_OP", FastCustom(results, name, items), results[0][0].pos if results else name.pos)


def _custom(lexer: Lexer, text: str, head: re.Match, m: re.Match):
    """A custom-form op read item by item up to where the lexer would end its statement."""
    name_end = m.end("name")
    items: list[Tok] = []
    last = "BARE_ID"
    pos = name_end
    match = _ITEM.match
    op_words = lexer.op_words
    while True:
        it = match(text, pos)
        if it is None:
            break
        kind = it.lastgroup
        start = it.start(kind)
        value = it.group(kind)
        end = it.end()
        if kind == "value":
            if last != "COMMA" and _RESULTS_REST.match(text, end):
                break  # `%x = ...`: the next statement
            tok = Tok("VALUE_ID", value, start)
        elif kind == "punct":
            tok = Tok(_PUNCT_TYPES[value], value, start)
        elif kind == "float":
            tok = Tok("FLOAT", value, start)
        elif kind == "int":
            tok = Tok("INT", value, start)
        elif kind == "flat" or kind == "kwtype":
            tok = Tok("TYPE", value, start)
        else:  # bare
            if "." in value or value in op_words or text[end : end + 1] in ("<", "(", "["):
                break  # the next statement's op name, or a group the grammar path reads
            tok = Tok(_word_type(value), value, start)
        items.append(tok)
        last = tok.type
        pos = end
    if not statement_ends_at(lexer, pos, last, generic=False, after_name=not items):
        return None
    return _custom_op_tok(text, head, m, items), pos


def statement_ends_at(lexer: Lexer, pos: int, last: str, *, generic: bool, after_name: bool) -> bool:
    """Whether `Lexer.tokens`, having just emitted a token of type `last` ending at `pos` at
    statement level, would close the statement with SEP before the next token.

    Mirrors the lexer's statement-start rules (see `Lexer.tokens`) for the tokens that can
    follow; anything it is unsure of answers False, so the grammar path takes the statement.
    """
    text = lexer.text
    m = _NEXT.match(text, pos)
    if m is None:
        return False
    kind = m.lastgroup
    if kind == "end":
        return not lexer.stack  # else the lexer reports the open bracket before it would end the statement
    if kind == "res":
        return True
    if kind == "close":
        return bool(lexer.stack)  # the region's `}` (statement level: the top is a region)
    end = m.end()
    if kind == "value":
        v = _VALUE_ITEM.match(text, end - 1)
        return v is not None and last != "EQUAL" and last != "COMMA" and _RESULTS_REST.match(text, v.end()) is not None
    if kind == "string":
        try:
            s = lexer.scan_string(end - 1)
        except ParseError:
            return False
        if not _follows_paren(text, s):
            return False
        # `torch.call "pkg.fn"(%x)`: directly after a custom op's name only a line break ends it
        return generic or not after_name or "\n" in text[pos : end - 1]
    if kind == "block":
        b = _BLOCK_ID.match(text, end - 1)
        return b is not None and lexer._label_follows(b.end())
    if kind == "alias":
        word = m.group(kind)
        if text.startswith("<", end) or (word[0] == "#" and "." in word):
            return False
        return _FOLLOWS_EQ.match(text, end) is not None
    word = m.group(kind)  # kind == "word"
    if text[end : end + 1] in ("<", "(", "[") or _TYPE_KEYWORD.fullmatch(word):
        return False
    return "." in word or word in lexer.op_words


_FOLLOWS_PAREN = re.compile(_W + r"\(")
_BLOCK_ID = re.compile(rf"\^{_SUFFIX_ID}")


def _follows_paren(text: str, pos: int) -> bool:
    return _FOLLOWS_PAREN.match(text, pos) is not None
