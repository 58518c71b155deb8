"""Affine maps and integer sets printed through aliases, as MLIR prints them.

MLIR's printer never writes an `affine_map<...>` or `affine_set<...>` inline in a module: it
defines `#map`, `#map1`, ... and `#set`, `#set1`, ... at the top, numbered in order of first
use, and writes the alias at each use, attributes and types (memref layouts) alike. irq keeps
affine maps as attributes holding their text, and types print from cached text that dialect
printers splice in directly, so the aliases are made on the finished text of a whole module:
one scan that skips strings (op names, blobs, locations) and the bodies of dialect
attributes and types (`#foo.attr<...>`, `!foo.type<...>`, whose parsers would not resolve an
alias), and replaces each remaining map or set by its alias. Text with neither costs one
substring search. Parsing the result expands the aliases again, so printing what was parsed
gives the same text.

MLIR does not alias inside the properties of an unregistered op (it holds them as one opaque
attribute); the printer brackets such properties with `NO_ALIAS`, a character printed text
never holds otherwise (strings escape control characters), and the scan drops the marks.
Text between two `NOT_VISITED` marks is text MLIR's alias collector does not visit (a defined
function's argument attributes, which it prints with the entry block's arguments): a map there
makes no alias of its own but prints by alias when it has one from elsewhere.
"""

from __future__ import annotations

import re

#: Brackets text the scan leaves as it is (see the module docstring).
NO_ALIAS = "\x00"
#: Brackets text whose maps make no alias of their own (see the module docstring).
NOT_VISITED = "\x01"
#: What the scan stops at: a string, a map or set or a distinct attribute (not inside a longer
#: word), a dialect attribute or type with a body, a span not to alias.
_INTEREST = re.compile(
    r'"|(?<![\w$.])(?:(?P<kind>affine_map|affine_set)|(?P<distinct>distinct)\[[0-9]+\])<|[#!][A-Za-z_][\w$.]*<|[\x00\x01]'
)
#: The rest of a string after its opening quote.
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
#: Inside `<...>`: brackets, strings, and `->`, `>=`, `<=`, which are not brackets.
_ANGLE = re.compile(r'->|>=|<=|[<>"]')
#: Alias name of each kind, in the order MLIR defines them (by name: `distinct` < `map` < `set`).
_ALIAS_NAMES = {"distinct": "#distinct", "affine_map": "#map", "affine_set": "#set"}
_DISTINCT_ID = re.compile(r"distinct\[([0-9]+)\]")


def _occurrences(text: str) -> tuple[list[tuple[int, int, str | None, str]], list[tuple[int, int]]]:
    """The aliasable spans of `text`, (start, end, kind, span text), and the `NO_ALIAS` marks' spans.

    Strings and dialect bodies are skipped; a distinct attribute's body is not looked into (its
    text is its identity here), nor a map's."""
    found: list[tuple[int, int, str | None, str]] = []
    marks: list[tuple[int, int]] = []
    pos = 0
    visited = True
    while True:
        m = _INTEREST.search(text, pos)
        if m is None:
            return found, marks
        c = m.group()
        if c == '"':
            pos = _string_end(text, m.end())
            continue
        if c == NOT_VISITED:
            visited = not visited
            marks.append((m.start(), m.end()))  # one character wide: dropped, nothing between to keep
            pos = m.end()
            continue
        if c == NO_ALIAS:
            end = text.index(NO_ALIAS, m.end())
            marks.append((m.start(), end + 1))
            pos = end + 1
            continue
        end = _angle_end(text, m.end())
        kind = m.group("kind") or m.group("distinct")
        if kind == "distinct" and text[m.end() : end - 1].strip() in ("", "unit"):
            kind = None  # MLIR's builtin alias rule leaves a distinct unit attribute inline
        if kind is not None:
            found.append((m.start(), end, kind if visited else "~" + kind, text[m.start() : end]))
        pos = end


def visit_order(texts: list[str]) -> dict[str, int]:
    """Rank of each aliasable span in `texts` (the types and attributes of a module in the order
    MLIR's alias collector visits them), by first appearance."""
    rank: dict[str, int] = {}
    for t in texts:
        if "affine_" in t or "distinct[" in t:
            for _, _, kind, span in _occurrences(t)[0]:
                if kind[0] != "~":
                    rank.setdefault(span, len(rank))
    return rank


def alias_affine(text: str, order: dict[str, int] | None = None) -> str:
    """`text` with every affine map, integer set and distinct attribute outside strings and
    dialect bodies aliased, as MLIR prints them.

    Each kind is numbered (`#map`, `#map1`, ...) in the order `order` ranks its spans (MLIR's
    visit order, which the generic printer computes from the IR, see `printer.alias_order`),
    else in order of first use in the text; spans `order` does not know come after, in text
    order. Distinct attributes are renumbered `distinct[0]`, `distinct[1]`, ... in alias order,
    as MLIR numbers them when printing, unless some `distinct[` lies where the scan does not
    look (a dialect body), which could then collide with a new number.
    """
    if "affine_map<" not in text and "affine_set<" not in text and "distinct[" not in text:
        return text
    found, marks = _occurrences(text)
    if not found:
        return _drop_marks(text, marks) if marks else text
    first: dict[str, tuple[str, int]] = {}
    for start, _, kind, span in found:
        if span not in first and kind[0] != "~":
            first[span] = (kind, start)
    rank = order or {}
    unranked = len(rank)
    ordered = sorted(first, key=lambda span: (rank.get(span, unranked), first[span][1]))
    names: dict[str, str] = {}
    counts = dict.fromkeys(_ALIAS_NAMES, 0)
    for span in ordered:
        kind = first[span][0]
        n = counts[kind]
        counts[kind] = n + 1
        names[span] = _ALIAS_NAMES[kind] + (str(n) if n else "")
    renumber = counts["distinct"] and text.count("distinct[") == sum(1 for f in found if f[2] == "distinct")
    # a span seen only where MLIR does not visit stays as written
    found = [f for f in found if f[3] in names]
    defs: dict[str, list[str]] = {kind: [] for kind in _ALIAS_NAMES}
    for span in ordered:
        kind = first[span][0]
        body = span
        if kind == "distinct" and renumber:
            body = _DISTINCT_ID.sub(f"distinct[{int(names[span][len('#distinct'):] or 0)}]", span, count=1)
        defs[kind].append(f"{names[span]} = {body}\n")
    pieces: list[str] = []
    last = 0
    spans = sorted([(s, e, names[t]) for s, e, _, t in found] + [(s, e, None) for s, e in marks])
    for start, end, alias in spans:
        pieces.append(text[last:start])
        pieces.append(alias if alias is not None else text[start + 1 : end - 1])
        last = end
    pieces.append(text[last:])
    return "".join(defs["distinct"] + defs["affine_map"] + defs["affine_set"] + pieces)


def _drop_marks(text: str, marks: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in marks:
        pieces.append(text[last:start])
        pieces.append(text[start + 1 : end - 1])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _string_end(text: str, pos: int) -> int:
    m = _STRING_REST.match(text, pos)
    return m.end() if m is not None else len(text)


def _angle_end(text: str, pos: int) -> int:
    """Offset after the `>` closing the `<` just before `pos` (the text's end if it never closes)."""
    depth = 1
    while depth:
        m = _ANGLE.search(text, pos)
        if m is None:
            return len(text)
        c = m.group()
        pos = m.end()
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == '"':
            pos = _string_end(text, pos)
    return pos
