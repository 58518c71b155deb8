"""The regular expressions of the fast path (irq/text/fast_path.py), token by token as the lexer reads.

Why a module of their own: the generic and the custom-form recognizers and the statement-end
check share them, and each is built from the lexer's own pieces (`_SUFFIX_ID`, `_TYPE_KEYWORD`)
so that a token read here ends where `Lexer.tokens` would end it.
"""

from __future__ import annotations

import re

from irq.text.tokens import _RESULTS_REST, _SUFFIX_ID, _TYPE_KEYWORD

#: Deepest array nesting read here (deeper ones go to the grammar, which bounds nesting itself).
_MAX_DEPTH = 32

#: Blanks, line breaks and comments; a comment runs to the end of its line (possessive, as the
#: lexer's `_SKIP_TEXT`: a comment cannot end early and let the rest of its line match as tokens).
_W = r"[ \t\r\n]*+(?://[^\n]*+[ \t\r\n]*+)*+"
_VALUE = rf"%{_SUFFIX_ID}(?:#[0-9]+)?"
_RESULT = rf"%{_SUFFIX_ID}(?:#[0-9]+)?(?:{_W}:{_W}(?:(?:-?0x[0-9a-fA-F]+|-?[0-9]+)(?![\w.])))?"
#: Types the lexer makes one TYPE token of without a balanced scan (its `flat` and `kwtype` groups,
#: and the bare words `_TYPE_KEYWORD` names).
_SIMPLE_TYPE = (
    r"(?:(?:tensor|vector|memref|complex|tuple)<[^<>()\[\]{}\"]*(?<!-)>"
    r"|(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.])"
    rf"|{_TYPE_KEYWORD.pattern}(?![\w$.]))"
)
#: The lexer's string (`"(?:[^"\\\n]|\\.)*"`) unrolled: runs of plain characters, then escapes.
_STRING = r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"'

#: `%a, %b:2 =` (or nothing) up to the op name, whose first character tells the forms apart.
_RESULTS_HEAD = re.compile(rf"{_W}(?:(?P<results>{_RESULT}(?:{_W},{_W}{_RESULT})*){_W}={_W})?")
#: `"d.op"(%x, %y)`, after the results, up to the closing parenthesis.
_GENERIC_HEAD = re.compile(rf"(?P<name>{_STRING}){_W}\({_W}(?P<operands>{_VALUE}(?:{_W},{_W}{_VALUE})*)?{_W}\)")
_RESULT_ITEM = re.compile(
    rf"(?P<v>%{_SUFFIX_ID}(?:#[0-9]+)?)(?:{_W}:{_W}(?P<n>(?:-?0x[0-9a-fA-F]+|-?[0-9]+)(?![\w.])))?"
)
_VALUE_ITEM = re.compile(_VALUE)
#: `: (t1, t2) -> t3` or `-> (t3, t4)` with simple types only.
_FUNCTION_TYPE = re.compile(
    rf"{_W}(?P<colon>:){_W}\({_W}(?P<ins>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*)?{_W}\){_W}->{_W}"
    rf"(?:(?P<out>{_SIMPLE_TYPE})|\({_W}(?P<outs>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*)?{_W}\))"
)
_TYPE_ITEM = re.compile(_SIMPLE_TYPE)
_SKIP = re.compile(_W)

#: One token of an attribute value, classified as `Lexer.tokens` classifies it.
_ATOM = re.compile(
    _W
    + "(?:"
    + "|".join(
        [
            rf"(?P<symbol>@(?:[A-Za-z_][\w$.]*|{_STRING})(?:::@(?:[A-Za-z_][\w$.]*|{_STRING}))*)",
            rf"(?P<string>{_STRING})",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
            r"(?P<int>(?:-?0x[0-9a-fA-F]+|-?[0-9]+)(?![\w.]))",
            r"(?P<flat>(?P<flat_kw>tensor|vector|memref|complex|tuple|dense|dense_resource|array)"
            r"<[^<>()\[\]{}\"]*(?<!-)>)",
            r"(?P<kwtype>(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.]))",
            r"(?P<bare>[A-Za-z_][\w$.]*)",
            r"(?P<lbracket>\[)",
        ]
    )
    + ")"
)
#: A dictionary key: a word or a string, then `=`, `,` or `}`.
_KEY = re.compile(rf"{_W}(?:(?P<word>[A-Za-z_][\w$.]*)|(?P<string>{_STRING})){_W}(?P<after>[=,}}])")
#: What may end an attribute value inside a dictionary or array.
_AFTER_VALUE = re.compile(rf"{_W}(?P<c>[,:}}\]])")
#: One item of a flat custom form.
_ITEM = re.compile(
    _W
    + "(?:"
    + "|".join(
        [
            rf"(?P<value>{_VALUE})",
            r"(?P<punct>[,:])",
            r"(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)",
            r"(?P<int>(?:-?0x[0-9a-fA-F]+|-?[0-9]+)(?![\w.]))",
            r"(?P<flat>(?:tensor|vector|memref|complex|tuple)<[^<>()\[\]{}\"]*(?<!-)>)",
            r"(?P<kwtype>(?:[su]?i[0-9]+|f16|bf16|f32|f64|index)(?![\w$.]))",
            r"(?P<bare>[A-Za-z_][\w$.]*)",
        ]
    )
    + ")"
)
#: The commonest custom form in one match, after the results: `name %a, %b : t1, t2` or `name 1.5 : f32`.
_FLAT_OP = re.compile(
    r"(?P<name>[A-Za-z_][\w$.]*)(?![\w$.])"
    rf"(?:{_W}(?P<operands>{_VALUE}(?:{_W},{_W}{_VALUE})*)"
    rf"|{_W}(?P<float>-?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)"
    rf"|{_W}(?P<int>(?:-?0x[0-9a-fA-F]+|-?[0-9]+)(?![\w.])))?"
    rf"(?:{_W}(?P<colon>:){_W}(?P<types>{_SIMPLE_TYPE}(?:{_W},{_W}{_SIMPLE_TYPE})*))?"
)
#: A whole statement head in one match: the results, then a generic op up to its operands'
#: `)` and the blanks after it (groups `gname`, `goperands`) or a flat custom form (`_FLAT_OP`'s groups). Equivalent to
#: `_RESULTS_HEAD` followed by `_GENERIC_HEAD` or `_FLAT_OP` at its end: a result list matched
#: otherwise than greedily would have to end at a `=`, which no shorter one does.
_STATEMENT_HEAD = re.compile(
    _RESULTS_HEAD.pattern
    + "(?:"
    + _GENERIC_HEAD.pattern.replace("?P<name>", "?P<gname>").replace("?P<operands>", "?P<goperands>")
    + _W  # and the blanks after its `)`, which `_generic` would skip next
    + "|"
    + _FLAT_OP.pattern
    + ")"
)
#: After a statement: the next one's result list `%a, %b:2 =`, read as the lexer reads it (its
#: VALUE_ID token, whole, then `_RESULTS_REST`): `statement_ends_at`'s commonest case in one match.
_NEXT_RESULTS = re.compile(rf"{_W}(?>{_VALUE}){_RESULTS_REST.pattern}")
_OPERAND_OR_COMMA = re.compile(rf"{_VALUE}|,")
_TYPE_OR_COMMA = re.compile(rf"{_SIMPLE_TYPE}|,")
#: After a statement: the start of the next one, classified as the lexer would see it.
_NEXT = re.compile(
    _W
    + r"(?:(?P<end>\Z)|(?P<close>\})|(?P<value>%)|(?P<string>\")|(?P<block>\^)|(?P<res>\{-\#)"
    + r"|(?P<alias>[#!][A-Za-z_][\w$.]*)|(?P<word>[A-Za-z_][\w$.]*))"
)
_PUNCT_TYPES = {",": "COMMA", ":": "COLON"}
_BLANKS = " \t\r\n"

#: Literals whose attribute depends on their text (and type) alone. A number is not followed by a
#: word character or `.`: `0x1.8p3` (a C-style hex float) is left to the lexer.
_NUMBER = r"(?:-?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?)?)(?![\w.]))"  # float, hex or decimal
_SCALAR = rf"(?:{_NUMBER}|{_STRING})(?:{_W}:{_W}{_SIMPLE_TYPE})?|(?:true|false|unit)(?![\w$.])"
#: `key = literal [: type]`, `key = [literal, ...]` or a unit `key`, then `,` or `}`.
_SIMPLE_ENTRY = re.compile(
    rf"{_W}(?P<key>(?P<word>[A-Za-z_][\w$.]*)|(?P<string>{_STRING}))"
    rf"(?P<entry>{_W}={_W}(?:(?P<scalar>{_NUMBER}|{_STRING})(?:{_W}:{_W}(?P<type>{_SIMPLE_TYPE}))?"
    r"|(?P<kw>true|false|unit)(?![\w$.])"
    rf"|(?P<array>\[{_W}(?:(?:{_SCALAR})(?:{_W},{_W}(?:{_SCALAR}))*)?{_W}\]))|){_W}(?P<after>[,}}])"
)
_ELEMENT = re.compile(rf"(?P<el>{_NUMBER}|{_STRING}|(?:true|false|unit)(?![\w$.]))(?:{_W}:{_W}(?P<ty>{_SIMPLE_TYPE}))?")
_FOLLOWS_PAREN = re.compile(_W + r"\(")
_BLOCK_ID = re.compile(rf"\^{_SUFFIX_ID}")
