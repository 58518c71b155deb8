"""The lexer's scanning helpers: errors with line and caret, strings, balanced tokens, brackets,
and the look-aheads that decide what a `{` opens and whether a block label follows.

`Scanner` holds them for `Lexer` (irq/text/lexer.py), whose `tokens` is the statement logic.
"""

from __future__ import annotations

import re

from irq.diagnostics import ParseError
from irq.text.tokens import (
    _AFTER_LABEL,
    _BRACE_CONTENT,
    _BRACKETS,
    _OPENERS,
    _PARENS_OR_STRING,
    _SKIP,
    BRACKET,
    LOCPAREN,
    MAX_NESTING,
    PAREN,
)


class Scanner:
    """Offsets into `self.text` and the open-bracket `self.stack`; set up by `Lexer.__init__`."""

    text: str
    filename: str
    stack: list[tuple[int, int]]

    # -- errors --------------------------------------------------------------------------
    def line_col(self, pos: int) -> tuple[int, int, str]:
        text = self.text
        pos = min(max(pos, 0), len(text))
        line = text.count("\n", 0, pos) + 1
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        return line, pos - start + 1, text[start:end]

    def error(self, pos: int, message: str, expected: list[str] | None = None) -> ParseError:
        line, col, src = self.line_col(pos)
        return ParseError(message, self.filename, line, col, src, expected)

    # -- helpers ---------------------------------------------------------------------------
    def scan_string(self, pos: int) -> int:
        """End offset (after the closing quote) of the string starting at `pos`."""
        text = self.text
        find = text.find
        i = pos + 1
        while True:
            j = find('"', i)
            if j < 0:
                raise self.error(pos, "unterminated string")
            nl = find("\n", i, j)
            if nl >= 0:
                raise self.error(pos, "string literal spans a line break (unterminated string?)")
            # count backslashes before the quote
            k = j - 1
            while k >= pos + 1 and text[k] == "\\":
                k -= 1
            if (j - 1 - k) % 2 == 0:
                return j + 1
            i = j + 1

    def scan_balanced(self, start: int) -> int:
        """End offset after the `>` matching the `<` at `start` (strings and `->` respected)."""
        text = self.text
        depth = 0
        pos = start
        search = _BRACKETS.search
        closers = {">": "<", ")": "(", "]": "[", "}": "{"}
        stack: list[str] = []
        while True:
            m = search(text, pos)
            if m is None:
                raise self._missing_closer(start, len(text))
            c = m.group()
            pos = m.end()
            if c == "->" or c == ">=" or c == "<=":
                continue
            if c == '"':
                pos = self.scan_string(m.start())
                continue
            if c in "<([{":
                stack.append(c)
                depth += 1
                if depth > MAX_NESTING:
                    raise self.error(m.start(), "nesting too deep")
            else:
                if not stack or stack[-1] != closers[c]:
                    if "<" in stack:  # a closer is missing: MLIR stops the type where it can no longer go on
                        raise self._missing_closer(start, m.start(), stack[-1])
                    raise self.error(m.start(), f"unbalanced '{c}' in type or attribute body")
                stack.pop()
                depth -= 1
                if depth == 0:
                    return pos

    def _missing_closer(self, start: int, failed: int, inner: str = "<") -> ParseError:
        """The error for a `<` at `start` whose `>` is missing, found unbalanced at `failed`.

        MLIR's parser reads a type's body token by token and reports the first token that cannot
        continue it, at the end of the token before it (Parser::emitWrongTokenError), so
        `%0 = arith.addi %a, %a : tensor<4 x i8` is missing its `>` at the end of its line, not at
        the `}` three lines down where brackets stop balancing. The lexer, which only balances
        brackets, takes as that token the first of: a line starting a statement (an op, result
        list, label, alias or the region's `}`: what the lexer would end a statement before), a
        `{` after a word (`-> tensor<4xi8 {`: a body, which no type continues with), the closer
        that failed, or the end of the input."""
        text = self.text
        stop = failed
        for m in _TYPE_STOP.finditer(text, start, failed):
            if m.group("brace") is not None or self._starts_statement(m.end()):
                stop = m.end() if m.group("brace") is None else m.start("brace")
                break
        head = _HEAD.search(text, max(0, start - 256), start)
        word = head.group(1) if head else ""
        if head and text[head.start() - 1 : head.start()] in ("!", "#"):  # MLIR's lexer balances these
            return self.error(start, "unbalanced '<' character in pretty dialect name")
        if word in _LITERAL_HEADS:
            colon = _top_level_colon(text, start + 1, stop, skip_first=word == "array")
            if colon is not None:  # `dense<[1, 2] : tensor<2xi32>`: the literal ended before the `:`
                if not text[start + 1 : colon].strip():
                    return self.error(colon, "expected element literal of primitive type")
                return self.error(_before_blanks(text, colon), f"expected '>' to close '{word}<'")
        if inner != "<":  # `dense<[1, 2>`: the innermost bracket is the one left open
            message = f"expected '{_CLOSER[inner]}'"
        else:
            message = "expected '>'" + (f" in {word} type" if word in _BUILTIN_SHAPED else f" to close '{word}<'")
        return self.error(_before_blanks(text, stop), message)

    def _starts_statement(self, pos: int) -> bool:
        """Whether the code at `pos` (a line's first token) is where the lexer starts a statement."""
        m = _LINE_START.match(self.text, pos)
        if m is None:
            return False
        word = m.group("word")
        return word is None or "." in word or word in self.op_words

    def _push(self, kind: int, pos: int) -> None:
        self.stack.append((kind, pos))
        if len(self.stack) > MAX_NESTING:
            raise self.error(pos, f"brackets nested deeper than {MAX_NESTING} levels")

    def _pop(self, kinds: tuple[int, ...], pos: int, char: str) -> int:
        if not self.stack:
            raise self.error(pos, f"unexpected '{char}' with nothing open")
        kind, opened = self.stack[-1]
        if kind not in kinds:
            if kind in (PAREN, BRACKET, LOCPAREN):  # `: (tensor<4xi8>` then the next op: missing at the line's end
                for m in _TYPE_STOP.finditer(self.text, opened, pos):
                    if m.group("brace") is None and self._starts_statement(m.end()):
                        closer = "]" if kind == BRACKET else ")"
                        where = " in location" if kind == LOCPAREN else ""  # MLIR's words (IR/invalid-locations.mlir)
                        return_at = _before_blanks(self.text, m.end())
                        raise self.error(return_at, f"expected '{closer}'{where}")
            line, col, _ = self.line_col(opened)
            raise self.error(pos, f"unexpected '{char}': '{_OPENERS[kind]}' opened at line {line}:{col} is not closed")
        self.stack.pop()
        return kind

    # -- statement boundaries ------------------------------------------------------------
    def _label_follows(self, pos: int) -> bool:
        """Whether a block id ending at `pos` is a label: `^bb:` or `^bb(args):` followed by what
        may follow a label (an op, another label, the region's `}`), not by a type as in a
        custom form's `to ^bb0 : i32`."""
        text = self.text
        pos = _SKIP.match(text, pos).end()
        if text.startswith("(", pos):
            end = self._skip_parens(pos)
            if end is None:
                return False
            pos = _SKIP.match(text, end).end()
        if not text.startswith(":", pos):
            return False
        m = _AFTER_LABEL.match(text, pos + 1)
        if m is None:
            return False
        word = m.group("word")
        return word is None or "." in word or word in self.op_words

    def _skip_parens(self, pos: int) -> int | None:
        """Offset after the `)` matching the `(` at `pos`, or None if it is unbalanced."""
        text = self.text
        depth = 0
        search = _PARENS_OR_STRING.search
        while True:
            m = search(text, pos)
            if m is None:
                return None
            c = m.group()
            if c == '"':
                try:
                    pos = self.scan_string(m.start())
                except ParseError:
                    return None
                continue
            pos = m.end()
            depth += 1 if c == "(" else -1
            if depth == 0:
                return pos

    def _brace_is_region(self, pos: int, last: str) -> bool:
        """Whether the `{` before `pos`, at statement level or in parentheses, opens a region.

        MLIR decides from the op's own parser; the lexer decides from what follows, since a
        region starts with an operation or a block label and a dictionary with `key =`,
        `key,` or `key}` (a unit attribute). Only `{word}` is ambiguous; it is a region when
        `word` names a registered op (`{ return }`), a dictionary otherwise (`{llvm.emit_c_interface}`).
        """
        text = self.text
        m = _BRACE_CONTENT.match(text, pos)
        if m is None:
            return False
        kind = m.lastgroup
        if kind == "close":  # `{}`: a region only where a dictionary cannot be (`({})`) or across lines
            return (
                "\n" in m.group()
                or (last == "LPAREN" or last == "COMMA")
                and bool(self.stack)
                and self.stack[-1][0] == PAREN
            )
        if kind == "ssa":
            return True
        if kind == "str":
            return text.startswith("(", _SKIP.match(text, m.end()).end())
        after = _SKIP.match(text, m.end()).end()
        nxt = text[after : after + 1]
        if nxt == "=" or nxt == ",":
            return False
        if nxt == "}":
            return m.group("word") in self.op_words
        return True

    # -- the token stream ------------------------------------------------------------------


_CLOSER = {"(": ")", "[": "]", "{": "}", "<": ">"}
_BUILTIN_SHAPED = frozenset({"tensor", "vector", "memref", "complex", "tuple"})
#: the word before a `<`: the type or attribute it opens
_HEAD = re.compile(r"([A-Za-z_][\w$.]*)\s*\Z")
#: inside an unclosed `<...>`: a line break (then blank or comment lines) before the next line's
#: code, or a `{` after a word and blanks
_TYPE_STOP = re.compile(r"\n(?:[ \t\r]*(?://[^\n]*)?\n)*[ \t\r]*|(?<=[\w>\])?*])[ \t]+(?P<brace>\{|loc\()")
#: a statement start at a line's first token (results `%a, %b:2 =`, a generic op `"d.op"(`, a
#: label, an alias definition, the region's `}`, or a word the caller checks is an op name)
_LINE_START = re.compile(
    r'%[\w$.\-]+(?::[0-9]+)?\s*(?:,\s*%[\w$.\-]+(?::[0-9]+)?\s*)*=(?!=)|"[^"\n]*"\s*\(|\^[\w$.\-]+|\}'
    r"|[#!][A-Za-z_][\w$.]*\s*=|(?P<word>[A-Za-z_][\w$.]*)(?![\w$.<(\[])"
)


#: attributes whose body is a literal MLIR reads before it expects `>`: a `:` at the body's top
#: level (the attribute's type, written inside by mistake) is the token that cannot continue it
_LITERAL_HEADS = frozenset({"dense", "sparse", "dense_resource", "array"})


def _top_level_colon(text: str, pos: int, end: int, skip_first: bool) -> int | None:
    """Offset of the first `:` outside brackets and strings in `text[pos:end]` (the second one
    when `skip_first`: `array<i32: 1, 2` has its own), or None."""
    depth = 0
    while pos < end:
        c = text[pos]
        if c == '"':
            close = text.find('"', pos + 1)
            while close > 0 and text[close - 1] == "\\":
                close = text.find('"', close + 1)
            if close < 0:
                return None
            pos = close
        elif c in "([{<":
            depth += 1
        elif c in ")]}>" and not (c == ">" and text[pos - 1] == "-"):
            depth -= 1
        elif c == ":" and depth == 0:
            if not skip_first:
                return pos
            skip_first = False
        pos += 1
    return None


def _before_blanks(text: str, pos: int) -> int:
    """`pos` moved back over blanks, line breaks and `//` comments to the end of the previous
    token, as MLIR's Parser::emitWrongTokenError reports a wrong token."""
    from irq.text.lexer import missing_token_position

    return missing_token_position(text, pos)
