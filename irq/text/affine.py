"""Affine maps and integer sets: `affine_map<(d0, d1)[s0] -> (d0 + s0, d1 floordiv 2)>` and
`affine_set<(d0)[s0] : (d0 >= 0, s0 - d0 - 1 >= 0, d0 mod 2 == 0)>`.

MLIR's grammar (AffineParser.cpp): a dimension list, an optional symbol list, then results
(maps) or constraints (sets). Each expression uses only the declared dimensions and symbols,
integer constants, `+ - *`, `floordiv`, `ceildiv`, `mod` and parentheses; `*` needs a constant
side and the right side of `floordiv`/`ceildiv`/`mod` must be constant (the expression stays
affine). The parser checks all that, so an invalid map is rejected where it is written; the
attribute keeps MLIR's text, since re-printing it is MLIR's canonical form only after
simplification, which irq does not do.
"""

from __future__ import annotations

import re

from irq.text.type_parser import BodySyntaxError

_INT64_MAX = 2**63 - 1
_TOKEN = re.compile(r"\s*(?:(?P<int>[0-9]+)|(?P<id>[A-Za-z_][\w$]*)|(?P<op>->|>=|<=|==|[-+*()\[\],:]))")


class _Affine:
    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.pos, self.end = text, start, end
        self.dims: list[str] = []
        self.syms: list[str] = []

    def error(self, message: str) -> BodySyntaxError:
        return BodySyntaxError(self.pos, message)

    def peek(self) -> tuple[str, str] | None:
        m = _TOKEN.match(self.text, self.pos, self.end)
        if m is None:
            rest = self.text[self.pos : self.end].strip()
            if rest:
                raise self.error(f"unexpected '{rest[:10]}' in affine expression")
            return None
        return m.lastgroup, m.group(m.lastgroup)

    def take(self) -> tuple[str, str]:
        m = _TOKEN.match(self.text, self.pos, self.end)
        if m is None:
            raise self.error("unexpected end of affine expression")
        self.pos = m.end()
        return m.lastgroup, m.group(m.lastgroup)

    def accept(self, op: str) -> bool:
        t = self.peek()
        if t is not None and t[1] == op and t[0] in ("op", "id"):
            self.take()
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            t = self.peek()
            raise self.error(f"expected '{op}', found {repr(t[1]) if t else 'the end'}")

    def id_list(self, close: str) -> list[str]:
        names: list[str] = []
        if self.accept(close):
            return names
        while True:
            kind, name = self.take()
            if kind != "id":
                raise self.error(f"expected an identifier, found '{name}'")
            if name in names or name in self.dims:
                raise self.error(f"redefinition of identifier '{name}'")
            names.append(name)
            if self.accept(close):
                return names
            self.expect(",")

    # expressions: returns True when the expression is a constant (for the affine checks)
    def expr(self) -> bool:
        const = self.term()
        while True:
            t = self.peek()
            if t is None or t[1] not in ("+", "-"):
                return const
            self.take()
            const = self.term() and const

    def term(self) -> bool:
        const = self.factor()
        while True:
            t = self.peek()
            if t is None or t[1] not in ("*", "floordiv", "ceildiv", "mod"):
                return const
            at = self.pos
            self.take()
            rhs = self.factor()
            if t[1] == "*":
                if not (const or rhs):
                    self.pos = at
                    raise self.error(
                        "non-affine expression: at least one of the multiply operands has to be a constant"
                    )
            elif not rhs:
                self.pos = at
                raise self.error(f"non-affine expression: right operand of {t[1]} has to be a constant")
            const = const and rhs

    def factor(self) -> bool:
        at = self.pos
        kind, tok = self.take()
        if tok == "-":
            return self.factor()
        if tok == "(":
            const = self.expr()
            self.expect(")")
            return const
        if kind == "int":
            if int(tok) > _INT64_MAX:  # MLIR reads affine constants as int64
                self.pos = at
                raise self.error("constant too large for index")
            return True
        if kind == "id":
            if tok in self.dims or tok in self.syms:
                return tok in self.syms  # symbols are symbolic constants: `d0 * s0` is affine
            self.pos = at
            raise self.error(f"use of undeclared identifier '{tok}'")
        self.pos = at
        raise self.error(f"expected an affine expression, found '{tok}'")

    def header(self) -> None:
        self.expect("(")
        self.dims = self.id_list(")")
        if self.accept("["):
            self.syms = self.id_list("]")

    def results(self) -> int:
        self.expect("(")
        n = 0
        if self.accept(")"):
            return n
        while True:
            self.expr()
            n += 1
            if self.accept(")"):
                return n
            self.expect(",")

    def constraints(self) -> int:
        """`(e1 >= e2, e3 == e4, ...)`, possibly empty; MLIR reads `a >= b` as `a - b >= 0`, so the
        right side is any affine expression."""
        self.expect("(")
        n = 0
        if self.accept(")"):
            return n
        while True:
            self.expr()
            if not (self.accept(">=") or self.accept("==") or self.accept("<=")):
                raise self.error("expected '== affine-expr' or '>= affine-expr' at end of affine constraint")
            self.expr()
            n += 1
            if self.accept(")"):
                return n
            self.expect(",")


def check_affine(text: str) -> None:
    """Raise BodySyntaxError (offset into `text`) unless `text` is a valid `affine_map<...>` or
    `affine_set<...>` (the whole attribute text, keyword included)."""
    head = text.partition("<")[0]
    p = _Affine(text, len(head) + 1, len(text) - 1)
    p.header()
    if head == "affine_map":
        p.expect("->")
        p.results()
    else:
        p.expect(":")
        p.constraints()
    if p.peek() is not None:
        raise p.error(f"unexpected '{p.text[p.pos : p.end].strip()[:10]}' after the affine {head[7:]}")
