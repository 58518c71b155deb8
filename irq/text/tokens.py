"""The lexer's token table: token regexes, punctuation, balanced-token keywords, `Tok`.

Why apart from `Lexer`: the fast path (irq/text/fast_patterns.py), the grammar tests and the
scanner read the same definitions, and the lexer's statement logic reads better without them.
"""

from __future__ import annotations

import re

MAX_NESTING = 8192

_ID = r"[A-Za-z_][\w$.]*"
_SUFFIX_ID = r"(?:[0-9]+|[A-Za-z_$.\-][\w$.\-]*)"
#: MLIR's `@` identifier: a bare id (a letter or `_` first) or a string
_SYM_PART = r"(?:[A-Za-z_][\w$.]*|\"(?:[^\"\\\n]|\\.)*\")"

# Every match also swallows the blanks before its token (half of all matches used to be
# a lone space), and the frequent simple cases get their own groups: one-character
# punctuation, builtin type keywords, and `tensor<...>`-style bodies without nested
# brackets or strings (anything else falls back to `scan_balanced`).
_MASTER = re.compile(
    r"[ \t\r]*(?:"
    + "|".join(
        [
            # current MLIR's signed special floats (`+inf`, `-nan(0x1)`: irq.text.float_specials)
            r"(?P<special>[-+](?:inf|qnan|snan|nan)(?:\((?:0[xX][0-9a-fA-F]+|[0-9]+)\))?(?![\w$.]))",
            r"(?P<simple>[,:=*?+|])",
            r"(?P<nl>\n)",
            r"(?P<comment>//[^\n]*)",
            rf"(?P<value>%{_SUFFIX_ID}(?:#[0-9]+)?)",
            rf"(?P<block>\^{_SUFFIX_ID})",
            rf"(?P<symbol>@{_SYM_PART}(?:::@{_SYM_PART})*)",
            r"(?P<string>\")",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|-?0[xX][0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?[pP][-+]?[0-9]+)",
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
