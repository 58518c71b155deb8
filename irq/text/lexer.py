"""The lexer feeding lark's LALR parser: one compiled regex plus bracket tracking.

lark's own lexer costs about 10k lines/s on MLIR text; one master regex with a
`lastgroup` dispatch runs several times faster. Three things happen here that a
regular lexer cannot do and that keep the grammar small and LALR(1):

* Newlines are significant only at statement level (top level or directly in a
  region); inside `(`, `[`, `<`, attribute dictionaries and the resource section
  they are whitespace. A run of blank lines is one `NL`.
* A `{` that ends its line opens a region (`REGION_OPEN`); any other `{` opens an
  attribute dictionary (`LBRACE`).
* Builtin and dialect types, `dense<...>`, `array<...>` and `#dialect.attr<...>`
  bodies are scanned as one balanced token. Their insides are parsed (and cached)
  by `irq.text.type_parser`, so `tensor<1x64x56x56xf32>` costs the LALR parser one
  token instead of a dozen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from irq.diagnostics import ParseError

MAX_NESTING = 8192

_ID = r"[A-Za-z_][\w$.]*"
_SUFFIX_ID = r"(?:[0-9]+|[A-Za-z_$.\-][\w$.\-]*)"
_SYM_PART = r"(?:[A-Za-z_$.][\w$.\-]*|\"(?:[^\"\\\n]|\\.)*\")"

# Every match also swallows the blanks before its token (half of all matches used to be
# a lone space), and the frequent simple cases get their own groups: one-character
# punctuation, builtin type keywords, and `tensor<...>`-style bodies without nested
# brackets or strings (anything else falls back to `scan_balanced`).
_MASTER = re.compile(r"[ \t\r]*(?:" + "|".join([
    r"(?P<simple>[,:=*?+|])",
    r"(?P<nl>\n)",
    r"(?P<comment>//[^\n]*)",
    rf"(?P<value>%{_SUFFIX_ID}(?:#[0-9]+)?)",
    rf"(?P<block>\^{_SUFFIX_ID})",
    rf"(?P<symbol>@{_SYM_PART}(?:::@{_SYM_PART})*)",
    r"(?P<string>\")",
    r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
    r"(?P<hexint>0x[0-9a-fA-F]+)",
    r"(?P<int>-?[0-9]+)",
    r"(?P<arrow>->)",
    r"(?P<res_close>\#-\})",
    rf"(?P<bang>!{_ID})",
    rf"(?P<hash>\#{_ID})",
    r"(?P<res_open>\{-\#)",
    r"(?P<props_open><\{)",
    r"(?P<flat>(?P<flat_kw>tensor|vector|memref|complex|tuple|dense|dense_resource|array)<[^<>()\[\]{}\"]*(?<!-)>)",
    r"(?P<kwtype>(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.]))",
    rf"(?P<bare>{_ID})",
    r"(?P<punct>[()\[\]{}<>])",
]) + ")")
_BLANKS = re.compile(r"[ \t\r]*")
_EMPTY_BRACES_REST = re.compile(r"\s*\}")

_PUNCT = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET", "}": "RBRACE",
          ",": "COMMA", ":": "COLON", "=": "EQUAL", "*": "STAR", "?": "QUESTION", "+": "PLUS",
          "<": "LESS", ">": "GREATER", "|": "PIPE"}

#: Builtin keywords followed by a balanced `<...>` body, and the token they make.
_BALANCED = {"tensor": "TYPE", "vector": "TYPE", "memref": "TYPE", "complex": "TYPE", "tuple": "TYPE",
             "dense": "DENSE", "dense_resource": "DENSE_RESOURCE", "array": "DENSE_ARRAY",
             "affine_map": "OPAQUE_ATTR", "affine_set": "OPAQUE_ATTR", "strided": "OPAQUE_ATTR",
             "sparse": "OPAQUE_ATTR", "opaque": "OPAQUE_ATTR", "dense_elements": "OPAQUE_ATTR"}

_TYPE_KEYWORD = re.compile(
    r"(?:[su]?i[0-9]+|f16|bf16|f32|f64|tf32|f80|f128|f8E5M2|f8E4M3FN|f8E5M2FNUZ|f8E4M3FNUZ|f8E4M3B11FNUZ"
    r"|f8E4M3|f8E3M4|f4E2M1FN|f6E2M3FN|f6E3M2FN|f8E8M0FNU|index|none)")

_BRACKETS = re.compile(r'->|[<>()\[\]{}"]')
_REST_OF_LINE_BLANK = re.compile(r"[ \t\r]*(?://[^\n]*)?(?:\n|$)")

# Kinds of open brackets on the lexer's stack.
REGION, PAREN, BRACKET, DICT, PROPS, ANGLE, RES, LOCPAREN = range(8)
_OPENERS = {PAREN: "(", BRACKET: "[", DICT: "{", PROPS: "<{", ANGLE: "<", RES: "{-#", REGION: "{", LOCPAREN: "loc("}


class Tok:
    """A token: `type` (terminal name), `value` (text or a parsed object) and offset `pos`.

    Lighter than lark's Token; lark's LALR loop only reads `.type`. The extra
    properties let lark build its end-of-input token from the last one.
    """

    __slots__ = ("type", "value", "pos")

    def __init__(self, type: str, value: object, pos: int) -> None:
        self.type = type
        self.value = value
        self.pos = pos

    start_pos = property(lambda self: self.pos)
    end_pos = property(lambda self: self.pos)
    line = column = end_line = end_column = None

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.value!r}@{self.pos})"


class Lexer:
    """Tokenizes one text; `error(pos, msg)` builds ParseErrors with line and caret."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.stack: list[tuple[int, int]] = []  # (kind, position of the opener)
        self.loc_depth = 0  # open `loc(`: inside one, the word `to` is the range keyword TO

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
                raise self.error(start, "unbalanced '<' (missing '>')")
            c = m.group()
            pos = m.end()
            if c == "->":
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
                    raise self.error(m.start(), f"unbalanced '{c}' in type or attribute body")
                stack.pop()
                depth -= 1
                if depth == 0:
                    return pos

    def _push(self, kind: int, pos: int) -> None:
        self.stack.append((kind, pos))
        if len(self.stack) > MAX_NESTING:
            raise self.error(pos, f"brackets nested deeper than {MAX_NESTING} levels")

    def _pop(self, kinds: tuple[int, ...], pos: int, char: str) -> int:
        if not self.stack:
            raise self.error(pos, f"unexpected '{char}' with nothing open")
        kind, opened = self.stack[-1]
        if kind not in kinds:
            line, col, _ = self.line_col(opened)
            raise self.error(pos, f"unexpected '{char}': '{_OPENERS[kind]}' opened at line {line}:{col} is not closed")
        self.stack.pop()
        return kind

    # -- the token stream ------------------------------------------------------------------
    def tokens(self) -> Iterator[Tok]:
        text = self.text
        n = len(text)
        match = _MASTER.match
        stack = self.stack
        pos = 0
        last = "NL"  # suppress leading newlines
        last_word = None
        blank_rest = _REST_OF_LINE_BLANK.match
        empty_braces = _EMPTY_BRACES_REST.match
        while pos < n:
            m = match(text, pos)
            if m is None:
                pos = _BLANKS.match(text, pos).end()
                if pos == n:
                    break
                raise self.error(pos, f"unexpected character {text[pos]!r}")
            kind = m.lastgroup
            start = m.start(kind)
            pos = m.end()
            if kind == "simple":
                c = m.group(kind)
                tok = Tok(_PUNCT[c], c, start)
            elif kind == "value":
                tok = Tok("VALUE_ID", m.group(kind), start)
            elif kind == "punct":
                c = m.group(kind)
                if c == "{":
                    top = stack[-1][0] if stack else REGION
                    if top in (REGION, PAREN) and (blank_rest(text, pos) or (
                            top == PAREN and last in ("LPAREN", "COMMA") and empty_braces(text, pos))):
                        # `({})`: an empty region of a generic op (a dictionary never
                        # directly follows `(` or `,` there)
                        self._push(REGION, start)
                        tok = Tok("REGION_OPEN", "{", start)
                    else:
                        self._push(DICT, start)
                        tok = Tok("LBRACE", "{", start)
                elif c == "}":
                    if stack and stack[-1][0] == PROPS and text.startswith(">", pos):
                        self._pop((PROPS,), start, "}>")
                        pos += 1
                        tok = Tok("PROPS_CLOSE", "}>", start)
                    else:
                        self._pop((REGION, DICT), start, "}")
                        tok = Tok("RBRACE", "}", start)
                elif c == "(":
                    self._push(PAREN, start)
                    tok = Tok("LPAREN", c, start)
                elif c == ")":
                    if self._pop((PAREN, LOCPAREN), start, ")") == LOCPAREN:
                        self.loc_depth -= 1
                    tok = Tok("RPAREN", c, start)
                elif c == "[":
                    self._push(BRACKET, start)
                    tok = Tok("LBRACKET", c, start)
                elif c == "]":
                    self._pop((BRACKET,), start, "]")
                    tok = Tok("RBRACKET", c, start)
                else:
                    tok = Tok(_PUNCT[c], c, start)
            elif kind == "flat":
                tok = Tok(_BALANCED[m.group("flat_kw")], m.group(kind), start)
            elif kind == "kwtype":
                tok = Tok("TYPE", m.group(kind), start)
            elif kind == "nl":
                if last != "NL" and last != "REGION_OPEN" and (not stack or stack[-1][0] == REGION):
                    last = "NL"
                    yield Tok("NL", None, start)
                continue
            elif kind == "comment":
                continue
            elif kind == "bare":
                word = m.group(kind)
                nxt = text[pos:pos + 1]
                if nxt == "<" and word in _BALANCED:
                    end = self.scan_balanced(pos)
                    tok = Tok(_BALANCED[word], text[start:end], start)
                    pos = end
                elif nxt == "(" and word == "loc":
                    self._push(LOCPAREN, pos)
                    self.loc_depth += 1
                    pos += 1
                    tok = Tok("LOC", "loc(", start)
                elif word == "to" and self.loc_depth and last == "INT":  # `"f":1:2 to 3:4`
                    tok = Tok("TO", word, start)
                elif _TYPE_KEYWORD.fullmatch(word):
                    tok = Tok("TYPE", word, start)
                else:
                    tok = Tok("BARE_ID", word, start)
            elif kind == "string":
                end = self.scan_string(start)
                tok = Tok("STRING", text[start:end], start)
                pos = end
            elif kind == "int" or kind == "hexint":
                tok = Tok("INT", m.group(kind), start)
            elif kind == "float":
                tok = Tok("FLOAT", m.group(kind), start)
            elif kind == "block":
                tok = Tok("BLOCK_ID", m.group(kind), start)
            elif kind == "symbol":
                tok = Tok("SYMBOL", m.group(kind), start)
            elif kind == "arrow":
                tok = Tok("ARROW", "->", start)
            elif kind == "bang":
                if text.startswith("<", pos):
                    pos = self.scan_balanced(pos)
                tok = Tok("TYPE", text[start:pos], start)
            elif kind == "hash":
                word = m.group(kind)
                if text.startswith("<", pos):
                    pos = self.scan_balanced(pos)
                    tok = Tok("DIALECT_ATTR", text[start:pos], start)
                elif "." in word:
                    tok = Tok("DIALECT_ATTR", word, start)
                else:
                    tok = Tok("ATTR_ALIAS", word, start)
            elif kind == "props_open":
                if last == "BARE_ID" and last_word == "fused":
                    # `fused<{k = v}>[...]`: location metadata that is a dictionary, not properties
                    pos = start + 1
                    tok = Tok("LESS", "<", start)
                else:
                    self._push(PROPS, start)
                    tok = Tok("PROPS_OPEN", "<{", start)
            elif kind == "res_open":
                self._push(RES, start)
                tok = Tok("RES_OPEN", "{-#", start)
            else:  # res_close
                self._pop((RES,), start, "#-}")
                tok = Tok("RES_CLOSE", "#-}", start)
            last = tok.type
            last_word = tok.value
            yield tok
        if stack:
            kind, opened = stack[-1]
            raise self.error(n, f"unexpected end of input: '{_OPENERS[kind]}' opened at line "
                                f"{self.line_col(opened)[0]} is not closed")
        if last != "NL":
            yield Tok("NL", None, n)
