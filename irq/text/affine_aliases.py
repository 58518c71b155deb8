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
"""

from __future__ import annotations

import re

#: Brackets text the scan leaves as it is (see the module docstring).
NO_ALIAS = "\x00"
#: What the scan stops at: a string, a map or set (not inside a longer word), a dialect attribute
#: or type with a body, a span not to alias.
_INTEREST = re.compile(r'"|(?<![\w$.])(?P<kind>affine_map|affine_set)<|[#!][A-Za-z_][\w$.]*<|\x00')
#: The rest of a string after its opening quote.
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
#: Inside `<...>`: brackets, strings, and `->`, `>=`, `<=`, which are not brackets.
_ANGLE = re.compile(r'->|>=|<=|[<>"]')


def alias_affine(text: str) -> str:
    """`text` with every affine map and integer set outside strings and dialect bodies aliased."""
    if "affine_map<" not in text and "affine_set<" not in text:
        return text
    names: dict[str, str] = {}
    counts = {"affine_map": 0, "affine_set": 0}
    pieces: list[str] = []
    last = 0
    pos = 0
    while True:
        m = _INTEREST.search(text, pos)
        if m is None:
            break
        if m.group() == '"':
            pos = _string_end(text, m.end())
            continue
        if m.group() == NO_ALIAS:
            end = text.index(NO_ALIAS, m.end())
            pieces.append(text[last : m.start()])
            pieces.append(text[m.end() : end])
            last = pos = end + 1
            continue
        end = _angle_end(text, m.end())
        kind = m.group("kind")
        if kind is None:  # a dialect attribute or type: its body is the dialect's
            pos = end
            continue
        body = text[m.start() : end]
        alias = names.get(body)
        if alias is None:
            n = counts[kind]
            counts[kind] = n + 1
            alias = names[body] = ("#map" if kind == "affine_map" else "#set") + (str(n) if n else "")
        pieces.append(text[last : m.start()])
        pieces.append(alias)
        last = pos = end
    pieces.append(text[last:])
    if not names:
        return "".join(pieces)
    maps = [f"{alias} = {body}\n" for body, alias in names.items() if alias.startswith("#map")]
    sets = [f"{alias} = {body}\n" for body, alias in names.items() if alias.startswith("#set")]
    return "".join(maps + sets + pieces)


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
