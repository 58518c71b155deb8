"""Alias groups: consecutive top-level alias definitions may use each other in any order.

Current MLIR (llvm-project mlir/test/IR/alias-def-groups.mlir) reads

    #array = [#integer_attr, !integer_type]
    !integer_type = i32
    #integer_attr = 8 : !integer_type

because the three definitions form one group (no operation between them), which it resolves
as a whole; an alias used by a group but defined only after a later operation stays undefined.
(MLIR C++ 3.13, the iree-base-compiler the interop tests run, predates this and rejects both.)

irq's LALR parser resolves an alias when its definition is reduced, so this module reorders the
token stream instead of the grammar: it holds back each top-level group of definitions and hands
them to the parser in dependency order, each token keeping its source position, so every error
still names the line it comes from. A cycle is reported at the first definition on it. Text
without an alias definition at a line start is not wrapped (the parse's hot loop stays as is).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from irq.text.tokens import Tok

#: A line that starts an alias definition: `#name =` or `!name =` (MLIR's suffix-id characters). Searched
#: from a literal newline, not `^` under re.MULTILINE: a pattern with a literal first character lets the
#: regex engine skip to each newline at C speed, where `^` is tried at every character (a 100 MB hex blob
#: line took 0.48 s, the rest of its parse 0.15 s: bench/text_throughput.py's dense_resource row).
_DEFINITION_START = re.compile(r"\n[ \t]*[#!][\w$.-]+[ \t]*=")
_FIRST_LINE_DEFINITION = re.compile(r"[ \t]*[#!][\w$.-]+[ \t]*=")
#: An alias name used inside a definition's tokens (a `#map` in a memref, `!t` in a tensor...).
_USE = re.compile(r"[#!][A-Za-z_$.-][\w$.-]*")


def may_hold_groups(text: str) -> bool:
    """Whether `text` has an alias definition, so its token stream needs `in_group_order`."""
    return _FIRST_LINE_DEFINITION.match(text) is not None or _DEFINITION_START.search(text) is not None


def in_group_order(tokens: Iterator[Tok], lexer) -> Iterator[Tok]:
    """`tokens` with each top-level group of alias definitions in an order where every alias is
    defined before it is used (stable: the written order wherever it already is one)."""
    depth = 0  # open regions and dictionaries: definitions stand only at depth 0
    at_start = True  # the next token starts a top-level statement
    pending: Tok | None = None
    source = iter(tokens)
    while True:
        if pending is not None:
            tok, pending = pending, None
        else:
            tok = next(source, None)
            if tok is None:
                return
        kind = tok.type
        if depth == 0 and at_start and kind in ("TYPE", "ATTR_ALIAS"):
            second = next(source, None)
            if second is not None and second.type == "EQUAL":
                group: list[list[Tok]] = []
                definition = [tok, second]
                lexer.top_fast = False  # no op is built while the group is held back
                while True:
                    nxt = next(source, None)
                    if nxt is None:  # cut short: the parser reports what is missing
                        group.append(definition)
                        yield from _ordered(group, lexer)
                        lexer.top_fast = True
                        return
                    definition.append(nxt)
                    if nxt.type == "REGION_OPEN":  # no definition has a region: malformed, so the
                        # parser reports it; the held tokens go first, as written, before the
                        # lexer's fast path builds any op in that region
                        for d in (*group, definition):
                            yield from d
                        lexer.top_fast = True
                        opened = sum(t.type in ("REGION_OPEN", "LBRACE") for t in definition)
                        depth, at_start = opened - sum(t.type == "RBRACE" for t in definition), False
                        break
                    if nxt.type != "SEP":
                        continue
                    group.append(definition)
                    head = next(source, None)
                    if head is not None and head.type in ("TYPE", "ATTR_ALIAS"):
                        eq = next(source, None)
                        if eq is not None and eq.type == "EQUAL":
                            definition = [head, eq]
                            continue
                        yield from _ordered(group, lexer)
                        lexer.top_fast = True
                        yield head
                        if eq is None:
                            return
                        pending, at_start = eq, False
                        break
                    yield from _ordered(group, lexer)
                    lexer.top_fast = True
                    if head is None:
                        return
                    pending, at_start = head, True
                    break
                continue
            yield tok
            at_start = False
            if second is None:
                return
            pending = second
            continue
        if kind == "SEP":
            at_start = depth == 0
        elif kind in ("REGION_OPEN", "LBRACE"):
            depth += 1
            at_start = False
        elif kind == "RBRACE":
            depth -= 1
            at_start = False
        else:
            at_start = False
        yield tok


def _ordered(group: list[list[Tok]], lexer) -> Iterator[Tok]:
    """The definitions of one group, each after the group's definitions it uses."""
    names = {d[0].value: i for i, d in enumerate(group)}
    uses: list[set[int]] = []
    for i, d in enumerate(group):
        found: set[int] = set()
        if len(d) > 2 and d[2].type == "LOC":  # a location alias: resolved after the whole file, in
            uses.append(found)  # any order (irq.text.parse_state reports its cycles at the use)
            continue
        for t in d[2:]:
            if t.type != "STRING" and isinstance(t.value, str) and ("#" in t.value or "!" in t.value):
                for name in _USE.findall(t.value):
                    j = names.get(name)
                    if j is not None:
                        found.add(j)
        if i in found:
            raise lexer.error(d[0].pos, f"alias '{d[0].value}' is defined in terms of itself")
        uses.append(found)
    if all(j < i for i, used in enumerate(uses) for j in used):
        for d in group:
            yield from d
        return
    done: set[int] = set()
    order: list[int] = []
    while len(order) < len(group):
        ready = next((i for i in range(len(group)) if i not in done and uses[i] <= done), None)
        if ready is None:
            cycle = _cycle(uses, done)
            path = " -> ".join(f"'{group[i][0].value}'" for i in [*cycle, cycle[0]])
            first = min(cycle, key=lambda i: group[i][0].pos)
            raise lexer.error(group[first][0].pos, f"cyclic alias definitions: {path}")
        done.add(ready)
        order.append(ready)
    for i in order:
        yield from group[i]


def _cycle(uses: list[set[int]], done: set[int]) -> list[int]:
    """One cycle among the definitions not yet placed (each of them uses another unplaced one)."""
    start = min(i for i in range(len(uses)) if i not in done)
    seen: list[int] = []
    i = start
    while i not in seen:
        seen.append(i)
        i = min(j for j in uses[i] if j not in done)
    return seen[seen.index(i) :]
