"""The fast path's custom forms and statement ends (see irq/text/fast_path.py for the whole story).

A flat custom-form op (`%r = arith.addf %a, %b : t`: values, `,`, `:`, numbers, keywords and
builtin types) is read here, as `FastCustom`; `statement_ends_at` decides, for both forms,
whether the lexer would end the statement where the fast path stops reading, which is what
keeps the token stream around a fast statement the grammar path's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from irq.diagnostics import ParseError
from irq.text.fast_patterns import (
    _BLANKS,
    _BLOCK_ID,
    _FOLLOWS_PAREN,
    _ITEM,
    _NEXT,
    _NEXT_RESULTS,
    _OPERAND_OR_COMMA,
    _PUNCT_TYPES,
    _RESULT_ITEM,
    _SKIP,
    _TYPE_OR_COMMA,
    _VALUE_ITEM,
)
from irq.text.tokens import _FOLLOWS_EQ, _RESULTS_REST, _TYPE_KEYWORD, Tok

if TYPE_CHECKING:
    from irq.text.lexer import Lexer


class _Comment(Exception):
    """A comment inside a span read with `finditer`, which would look into it: not the fast path's."""


class FastCustom:
    """The pieces of a flat custom-form op: its results, name and item tokens.

    `plan` is how an op of the same shape was built before in this parse (see
    `irq/text/replay.py`); then `items` is None (built only if the plan does not apply, from
    `match`) and `operands` holds the operands as (reference, offset) pairs. `key` is the shape, None if not cacheable.
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


def _custom_name(lexer: Lexer, name: str) -> bool:
    """Whether the lexer takes `name` at a statement start for a custom op's name (cached per parse)."""
    known = lexer.fast_names.get(name)
    if known is None:
        known = lexer.fast_names[name] = ("." in name or name in lexer.op_words) and not _TYPE_KEYWORD.fullmatch(name)
    return known


def _results(text: str, m: re.Match, raw: str | None = "") -> list[tuple[Tok, Tok | None]]:
    """The result tokens of a statement head `m` (`raw`: its `results` group, if read already)."""
    if raw == "":
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


def _word_type(word: str) -> str:
    """The token type the lexer gives a bare word not followed by `<`, `(` or `[`."""
    if _TYPE_KEYWORD.fullmatch(word):
        return "TYPE"
    return "BARE_ID"


def _flat_custom(lexer: Lexer, text: str, head: re.Match, m: re.Match):
    """`_FLAT_OP`'s match as items, if it is the whole statement (else `_custom` reads it item by item)."""
    name, operands, flt, integer, types = m.group("name", "operands", "float", "int", "types")
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
    # the next statement's results (`statement_ends_at`'s commonest case) checked here without the call
    if _NEXT_RESULTS.match(text, end) is None and not statement_ends_at(
        lexer, end, last, generic=False, after_name=last == "BARE_ID"
    ):
        return None
    raw_results = head.group("results")
    results = _results(text, head, raw_results)
    name_tok = Tok("BARE_ID", name, m.start("name"))
    pos = results[0][0].pos if results else name_tok.pos
    if raw_results is None or ":" not in raw_results:  # `%a:2 =` binds a count: not a shape of its own here
        key = (name, len(results), flt, integer, types, 0 if operands is None else operands.count(",") + 1)
        plan = lexer.fast_cache.get(key)
        if plan is not None:
            refs = [] if operands is None else _split_refs(operands, m.start("operands"))
            return Tok("FAST_OP", FastCustom(results, name_tok, None, key, plan, refs, m), pos), end
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


def _split_refs(raw: str, base: int) -> list[tuple[str, int]]:
    """(reference, offset) of each value of a matched `%a, %b` list at offset `base` (no comment
    inside): what a replay resolves, without token objects."""
    if "," not in raw:
        return [(raw, base)]
    out = []
    off = base
    for piece in raw.split(","):
        item = piece.lstrip(_BLANKS)
        out.append((item.rstrip(_BLANKS), off + len(piece) - len(item)))
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
    if last != "EQUAL" and last != "COMMA" and _NEXT_RESULTS.match(text, pos) is not None:
        return True  # the next op's results, the commonest case (the `value` one below, in one match)
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


def _follows_paren(text: str, pos: int) -> bool:
    return _FOLLOWS_PAREN.match(text, pos) is not None
