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

from irq.text.lexer_scan import Scanner
from irq.text.tokens import (  # noqa: F401 - the token table is this module's API too (`lexer._PUNCT`, `Tok`)
    _AFTER_LABEL,
    _BALANCED,
    _BLANKS,
    _BRACE_CONTENT,
    _BRACKETS,
    _DISTINCT_ID,
    _FOLLOWS_EQ,
    _FOLLOWS_PAREN,
    _ID,
    _MASTER,
    _OPENERS,
    _PARENS_OR_STRING,
    _PUNCT,
    _RESULTS_REST,
    _SKIP,
    _SKIP_TEXT,
    _SUFFIX_ID,
    _SYM_PART,
    _TYPE_KEYWORD,
    ANGLE,
    BRACKET,
    DICT,
    LOCPAREN,
    MAX_NESTING,
    PAREN,
    PROPS,
    REGION,
    RES,
    Tok,
)


class Lexer(Scanner):
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
        #: Whether the fast path may build a top-level op now: off while irq.text.alias_groups
        #: holds back an alias group, so no op is built before the aliases it may use.
        self.top_fast = True

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
            if boundary and fast and not resources_seen and (stack[-1][0] == REGION if stack else self.top_fast):
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
                if text[pos] == "@":  # MLIR's wording: `@$f`, `@1f`, `@-f` are not symbol names
                    raise self.error(pos, "@ identifier expected to start with letter or '_'")
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
            elif kind == "float" or kind == "special":
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
            if stack[0][0] == RES and (missing := file_metadata_error(text, n)) is not None:
                raise self.error(*missing)  # a key or a blob is what the input lacks
            raise self.error(
                missing_token_position(text, n),
                f"unexpected end of input: '{_OPENERS[kind]}' opened at line {self.line_col(opened)[0]} is not closed",
            )
        if not boundary:
            yield Tok("SEP", None, prev_end)


# The fast path reads this module's patterns, so it is imported once they exist.
from irq.text import fast_path  # noqa: E402


def missing_token_position(text: str, pos: int) -> int:
    """Where a syntax error at the token starting at `pos` is reported: the end of the previous
    token, past the blanks, line breaks and comments between them (MLIR's
    Parser::emitWrongTokenError: `%x = "t.b"(` followed on the next line by another op is missing
    its `)` after the `(`, not before the next op; `"t.a"(%a : ...` is missing it after `%a`; at
    the end of the input, counted from its last character); the token's start when nothing
    precedes it.

    Runs only when an error is reported, so it scans back through the text instead of making the
    lexer remember every token's end."""
    end = pos
    if end >= len(text) > 0:  # at the end of the input MLIR moves back one character first
        end = len(text) - 1
    while True:
        while end > 0 and text[end - 1] in " \t\r":
            end -= 1
        if end == 0 or text[end - 1] != "\n":
            break
        start = text.rfind("\n", 0, end - 1) + 1
        end = start + _code_length(text[start : end - 1])
    return end if end > 0 else pos


def _code_length(line: str) -> int:
    """The length of `line` before its `//` comment (a `//` inside a string is text)."""
    in_string = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "/" and line.startswith("//", i):
            return i
        i += 1
    return n


def file_metadata_error(text: str, pos: int) -> tuple[int, str] | None:
    """MLIR's error for a key or a blob missing inside a `{-# ... #-}` file metadata section, or
    None when `pos` is not inside one or not where a key or a blob goes. A key: "expected
    identifier key in file metadata dictionary" at the top level, "... for 'resource' entry" inside
    a group; a blob after `key:` in a dialect's resources: "expected hex string blob for key 'key'".
    MLIR's parser emits these at the offending token itself (at the end of the input: its last
    character), not after the token before it as a missing token is reported
    (IR/invalid-file-metadata.mlir; checked against MLIR C++ in tests/test_mlir_file_metadata.py)."""
    opened = text.rfind("{-#", 0, pos)
    if opened < 0 or text.rfind("#-}", opened, pos) >= 0:
        return None
    inside = text[opened + 3 : pos]
    depth = inside.count("{") - inside.count("}")  # blobs are hex strings, keys have no braces
    before = _code_before(text, opened, pos)
    if before.endswith(("{-#", "{", ",")):
        where = "in file metadata dictionary" if depth <= 0 else "for 'resource' entry"
        return min(pos, max(len(text) - 1, 0)), f"expected identifier key {where}"
    key = re.search(r'("(?:[^"\\]|\\.)*"|[\w.$-]+)\s*:$', before)
    if depth == 2 and key is not None:  # (at the end of the input MLIR reports a blob one past it)
        return min(pos, len(text)), f"expected hex string blob for key '{key.group(1).strip(chr(34))}'"
    return None


def _code_before(text: str, start: int, pos: int) -> str:
    """`text[start:pos]` without the blanks and `//` comments that end it."""
    code = text[start:pos].rstrip()
    while True:
        line_start = code.rfind("\n") + 1
        comment = code.find("//", line_start)
        if comment < 0:
            return code
        code = code[:comment].rstrip()
