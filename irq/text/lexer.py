"""The lexer feeding lark's LALR parser: one compiled regex plus bracket tracking.

lark's own lexer costs about 10k lines/s on MLIR text; one master regex with a
`lastgroup` dispatch runs several times faster. Three things happen here that a
regular lexer cannot do and that keep the grammar small and LALR(1):

* Whitespace, newlines included, is never significant (as in MLIR). Statements are
  delimited by a virtual `SEP` token that the lexer emits where the next statement
  starts (see `Lexer.tokens`), so a custom op's items can reach its parser as one
  flat list and still end where the op ends.
* A `{` opens a region (`REGION_OPEN`) or an attribute dictionary (`LBRACE`),
  decided from its context and from what follows it (`Lexer._brace_is_region`).
* Builtin and dialect types, `dense<...>`, `array<...>` and `#dialect.attr<...>`
  bodies are scanned as one balanced token. Their insides are parsed (and cached)
  by `irq.text.type_parser`, so `tensor<1x64x56x56xf32>` costs the LALR parser one
  token instead of a dozen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from irq.diagnostics import ParseError

MAX_NESTING = 8192

_ID = r"[A-Za-z_][\w$.]*"
_SUFFIX_ID = r"(?:[0-9]+|[A-Za-z_$.\-][\w$.\-]*)"
_SYM_PART = r"(?:[A-Za-z_$.][\w$.\-]*|\"(?:[^\"\\\n]|\\.)*\")"

# Every match also swallows the blanks before its token (half of all matches used to be
# a lone space), and the frequent simple cases get their own groups: one-character
# punctuation, builtin type keywords, and `tensor<...>`-style bodies without nested
# brackets or strings (anything else falls back to `scan_balanced`).
_MASTER = re.compile(
    r"[ \t\r]*(?:"
    + "|".join(
        [
            r"(?P<simple>[,:=*?+|])",
            r"(?P<nl>\n)",
            r"(?P<comment>//[^\n]*)",
            rf"(?P<value>%{_SUFFIX_ID}(?:#[0-9]+)?)",
            rf"(?P<block>\^{_SUFFIX_ID})",
            rf"(?P<symbol>@{_SYM_PART}(?:::@{_SYM_PART})*)",
            r"(?P<string>\")",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
            r"(?P<hexint>-?0x[0-9a-fA-F]+)",  # `-0x10 : i32` is -16 in MLIR
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
        ]
    )
    + ")"
)
_BLANKS = re.compile(r"[ \t\r]*")

_PUNCT = {
    "(": "LPAREN",
    ")": "RPAREN",
    "[": "LBRACKET",
    "]": "RBRACKET",
    "}": "RBRACE",
    ",": "COMMA",
    ":": "COLON",
    "=": "EQUAL",
    "*": "STAR",
    "?": "QUESTION",
    "+": "PLUS",
    "<": "LESS",
    ">": "GREATER",
    "|": "PIPE",
}

#: Builtin keywords followed by a balanced `<...>` body, and the token they make.
_BALANCED = {
    "tensor": "TYPE",
    "vector": "TYPE",
    "memref": "TYPE",
    "complex": "TYPE",
    "tuple": "TYPE",
    "dense": "DENSE",
    "dense_resource": "DENSE_RESOURCE",
    "array": "DENSE_ARRAY",
    "affine_map": "OPAQUE_ATTR",
    "affine_set": "OPAQUE_ATTR",
    "strided": "OPAQUE_ATTR",
    "sparse": "OPAQUE_ATTR",
    "opaque": "OPAQUE_ATTR",
    "dense_elements": "OPAQUE_ATTR",
    "fastmath": "OPAQUE_ATTR",  # arith's flags in custom forms: `arith.addf %a, %b fastmath<fast> : f32`
    "overflow": "OPAQUE_ATTR",
}

_TYPE_KEYWORD = re.compile(
    r"(?:[su]?i[0-9]+|f16|bf16|f32|f64|tf32|f80|f128|f8E5M2|f8E4M3FN|f8E5M2FNUZ|f8E4M3FNUZ|f8E4M3B11FNUZ"
    r"|f8E4M3|f8E3M4|f4E2M1FN|f6E2M3FN|f6E3M2FN|f8E8M0FNU|index|none)"
)

#: Blanks, newlines and comments: what may separate two tokens.
#: Possessive (`*+`): nothing after it starts with a blank or `//`, so giving characters back never
#: helps a match, and a comment cannot end early; 30% faster than the alternation per character.
_SKIP_TEXT = r"[ \t\r\n]*+(?://[^\n]*+[ \t\r\n]*+)*+"  # a comment runs to the end of its line
_SKIP = re.compile(_SKIP_TEXT)
#: After a statement-level `%a`: the rest of a result list, `%a:2, %b =`.
_RESULTS_REST = re.compile(
    rf"{_SKIP_TEXT}(?::{_SKIP_TEXT}[0-9]+{_SKIP_TEXT})?"
    rf"(?:,{_SKIP_TEXT}%{_SUFFIX_ID}{_SKIP_TEXT}(?::{_SKIP_TEXT}[0-9]+{_SKIP_TEXT})?)*="
)
_FOLLOWS_EQ = re.compile(_SKIP_TEXT + "=")
_FOLLOWS_PAREN = re.compile(_SKIP_TEXT + r"\(")
#: What follows a `{`: tells a region from an attribute dictionary (see `Lexer._brace_is_region`).
_BRACE_CONTENT = re.compile(
    _SKIP_TEXT + r'(?:(?P<close>\})|(?P<ssa>[%^])|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<word>[A-Za-z_][\w$.]*))'
)
#: What follows a label's `:`: an op (`%`, `"`, a name), a label, the region's `}`, the end.
_AFTER_LABEL = re.compile(_SKIP_TEXT + r'(?:[%"^}]|$|(?P<word>[A-Za-z_][\w$.]*))')
_DISTINCT_ID = re.compile(r"\[[0-9]+\](?=<)")
_PARENS_OR_STRING = re.compile(r'[()"]')
#: `->`, and an affine set's `>=` / `<=`, are not brackets.
_BRACKETS = re.compile(r'->|>=|<=|[<>()\[\]{}"]')

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

    def __init__(self, text: str, filename: str, op_words: frozenset[str] = frozenset()) -> None:
        self.text = text
        self.filename = filename
        #: Undotted words that name an op (`return`, `module`): they start a statement.
        self.op_words = op_words
        self.stack: list[tuple[int, int]] = []  # (kind, position of the opener)
        self.loc_depth = 0  # open `loc(`: inside one, the word `to` is the range keyword TO
        #: text of attribute entries and function types -> what the fast path's reducer made of it
        self.fast_cache: dict[str, object] = {}
        #: word -> whether the fast path reads it as a custom op's name at a statement start
        self.fast_names: dict[str, bool] = {}
        #: Set by the parser: builds the op of a FAST_OP token and appends it where the statement
        #: stands. Then the lexer builds leaf ops itself instead of yielding FAST_OP and SEP (the
        #: LALR loop has reduced every earlier statement by then: see `ParseTable.default_reductions`),
        #: which saves two tokens, three LALR steps and two reducer calls per leaf op.
        self.build_fast: Callable[[Tok], None] | None = None

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
    def tokens(self) -> Iterator[Tok]:
        """The token stream, with a `SEP` token closing every statement.

        Newlines are whitespace. A statement (operation, alias definition or block label)
        ends where the next one starts, at statement level (top level or directly in a
        region), which the lexer recognizes by its first tokens, as MLIR's op parsers
        would by stopping: results `%a, %b:2 =`, a generic op name `"d.op"(`, a custom op
        name (a dotted word or a registered op's short name like `return`), a block label
        `^bb0(...):`, an alias `#a =` / `!a =`, or the `}` closing the region. `SEP` sits
        at the end of the statement's last token, where MLIR reports what is missing.
        """
        text = self.text
        n = len(text)
        match = _MASTER.match
        stack = self.stack
        op_words = self.op_words
        results_rest = _RESULTS_REST.match
        follows_eq = _FOLLOWS_EQ.match
        follows_paren = _FOLLOWS_PAREN.match
        pos = 0
        prev_end = 0
        last = "SEP"
        last_word = None
        boundary = True  # no statement is open: the next statement-level token starts one
        generic = False  # the open statement is a generic op: its `{` at statement level is a dictionary
        in_label = False  # the open statement is a block label: its `:` ends it
        outer_generic: list[bool] = []  # `generic` of the statements enclosing each open region
        name_end = -1  # end offset of the open statement's op name
        fast = fast_path.FAST_PATH
        fast_match = fast_path.match_statement
        build = self.build_fast
        resources_seen = False  # after `#-}` no statement may follow: the grammar path reports it
        awaiting_name = False  # the open statement began with results: the token after its `=` is the op name
        while pos < n:
            if boundary and fast and not resources_seen and (not stack or stack[-1][0] == REGION):
                hit = fast_match(self, pos)
                if hit is not None:  # a whole leaf op, ended by SEP as the lexer would end it
                    tok, pos = hit
                    if build is not None:
                        build(tok)
                    else:
                        yield tok
                        yield Tok("SEP", None, pos)
                    prev_end = pos
                    last = "SEP"
                    continue
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
                if in_label and c == ":" and (not stack or stack[-1][0] == REGION):
                    in_label = False
                    yield tok
                    last = "SEP"
                    boundary = True
                    prev_end = pos
                    continue
            elif kind == "value":
                tok = Tok("VALUE_ID", m.group(kind), start)
                if (
                    not boundary
                    and last != "EQUAL"
                    and last != "COMMA"
                    and (not stack or stack[-1][0] == REGION)
                    and results_rest(text, pos)
                ):
                    yield Tok("SEP", None, prev_end)
                    boundary = True
                    if fast:  # the next statement starts here: let the fast path try it
                        pos = start
                        continue
            elif kind == "punct":
                c = m.group(kind)
                if c == "{":
                    top = stack[-1][0] if stack else REGION
                    if top == REGION:
                        region = not generic and last_word != "attributes" and self._brace_is_region(pos, last)
                    elif top == PAREN:
                        region = self._brace_is_region(pos, last) if last in ("LPAREN", "COMMA") else False
                    else:
                        region = False
                    if region:
                        self._push(REGION, start)
                        outer_generic.append(generic)
                        yield Tok("REGION_OPEN", "{", start)
                        last = "REGION_OPEN"
                        last_word = None
                        boundary = True
                        generic = in_label = False
                        prev_end = pos
                        continue
                    self._push(DICT, start)
                    tok = Tok("LBRACE", "{", start)
                elif c == "}":
                    if stack and stack[-1][0] == PROPS and text.startswith(">", pos):
                        self._pop((PROPS,), start, "}>")
                        pos += 1
                        tok = Tok("PROPS_CLOSE", "}>", start)
                    else:
                        if self._pop((REGION, DICT), start, "}") == REGION:
                            if not boundary:
                                yield Tok("SEP", None, prev_end)
                            generic = outer_generic.pop()
                            in_label = False
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
            elif kind == "nl" or kind == "comment":
                continue
            elif kind == "bare":
                word = m.group(kind)
                nxt = text[pos : pos + 1]
                if nxt == "<" and word in _BALANCED:
                    end = self.scan_balanced(pos)
                    tok = Tok(_BALANCED[word], text[start:end], start)
                    pos = end
                elif nxt == "[" and word == "distinct" and (m2 := _DISTINCT_ID.match(text, pos)):
                    # `distinct[0]<42 : i32>`: a unique attribute, kept as written
                    end = self.scan_balanced(m2.end())
                    tok = Tok("OPAQUE_ATTR", text[start:end], start)
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
                    if (
                        not boundary
                        and last != "EQUAL"
                        and ("." in word or word in op_words)
                        and (not stack or stack[-1][0] == REGION)
                    ):
                        yield Tok("SEP", None, prev_end)
                        boundary = True
                        if fast:
                            pos = start
                            continue
            elif kind == "string":
                end = self.scan_string(start)
                tok = Tok("STRING", text[start:end], start)
                pos = end
                if (
                    not boundary
                    and last != "EQUAL"
                    and (not stack or stack[-1][0] == REGION)
                    and (
                        generic
                        or follows_paren(text, pos)
                        and (
                            # `torch.call "pkg.fn"(%x)`: a custom op's first item may look like a
                            # generic op; only there a line break decides (see docs/design.md)
                            prev_end != name_end or last != "BARE_ID" or "\n" in text[prev_end:start]
                        )
                    )
                ):
                    yield Tok("SEP", None, prev_end)
                    boundary = True
                    if fast:
                        pos = start
                        continue
            elif kind == "int" or kind == "hexint":
                tok = Tok("INT", m.group(kind), start)
            elif kind == "float":
                tok = Tok("FLOAT", m.group(kind), start)
            elif kind == "block":
                tok = Tok("BLOCK_ID", m.group(kind), start)
                if not boundary and (not stack or stack[-1][0] == REGION) and self._label_follows(pos):
                    yield Tok("SEP", None, prev_end)
                    boundary = True
            elif kind == "symbol":
                tok = Tok("SYMBOL", m.group(kind), start)
            elif kind == "arrow":
                tok = Tok("ARROW", "->", start)
            elif kind == "bang":
                if text.startswith("<", pos):
                    pos = self.scan_balanced(pos)
                elif not boundary and (not stack or stack[-1][0] == REGION) and follows_eq(text, pos):
                    yield Tok("SEP", None, prev_end)  # `!alias = type`
                    boundary = True
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
                    if not boundary and (not stack or stack[-1][0] == REGION) and follows_eq(text, pos):
                        yield Tok("SEP", None, prev_end)  # `#alias = attr`
                        boundary = True
            elif kind == "props_open":
                if last == "BARE_ID" and last_word == "fused":
                    # `fused<{k = v}>[...]`: location metadata that is a dictionary, not properties
                    pos = start + 1
                    tok = Tok("LESS", "<", start)
                else:
                    self._push(PROPS, start)
                    tok = Tok("PROPS_OPEN", "<{", start)
            elif kind == "res_open":
                if not boundary:
                    yield Tok("SEP", None, prev_end)
                self._push(RES, start)
                tok = Tok("RES_OPEN", "{-#", start)
            else:  # res_close
                self._pop((RES,), start, "#-}")
                resources_seen = True
                yield Tok("RES_CLOSE", "#-}", start)
                last = "SEP"
                boundary = True
                prev_end = pos
                continue
            if boundary or (last == "EQUAL" and awaiting_name):
                if not stack or stack[-1][0] == REGION:
                    # the first token of a statement, or the op name after its results (not a
                    # value after `=` among a custom op's items: `module <sym_visibility = "private">`)
                    generic = kind == "string"
                    in_label = kind == "block"
                    name_end = pos
                    awaiting_name = boundary and kind == "value"
                boundary = False
            last = tok.type
            last_word = tok.value
            prev_end = pos
            yield tok
        if stack:
            kind, opened = stack[-1]
            raise self.error(
                n,
                f"unexpected end of input: '{_OPENERS[kind]}' opened at line {self.line_col(opened)[0]} is not closed",
            )
        if not boundary:
            yield Tok("SEP", None, prev_end)


# The fast path reads this module's patterns, so it is imported once they exist.
from irq.text import fast_path  # noqa: E402
