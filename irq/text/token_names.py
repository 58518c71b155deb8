"""Token names for syntax errors: what a user reads instead of lark's terminal names.

Split from parser.py (which formats the "expected ... found ..." message from them).
"""

from __future__ import annotations

_TOKEN_NAMES = {
    "SEP": "end of statement",
    "VALUE_ID": "SSA value",
    "BLOCK_ID": "block label",
    "SYMBOL": "symbol",
    "STRING": "string",
    "INT": "integer",
    "FLOAT": "float",
    "BARE_ID": "identifier",
    "TYPE": "type",
    "LOC": "'loc('",
    "DENSE": "dense literal",
    "DENSE_RESOURCE": "dense_resource",
    "DENSE_ARRAY": "array literal",
    "DIALECT_ATTR": "dialect attribute",
    "ATTR_ALIAS": "attribute alias",
    "OPAQUE_ATTR": "attribute",
    "LPAREN": "'('",
    "RPAREN": "')'",
    "LBRACKET": "'['",
    "RBRACKET": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "REGION_OPEN": "region '{'",
    "PROPS_OPEN": "'<{'",
    "PROPS_CLOSE": "'}>'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "ARROW": "'->'",
    "STAR": "'*'",
    "QUESTION": "'?'",
    "PLUS": "'+'",
    "LESS": "'<'",
    "GREATER": "'>'",
    "PIPE": "'|'",
    "RES_OPEN": "'{-#'",
    "RES_CLOSE": "'#-}'",
    "$END": "end of input",
    "TO": "'to'",
}


def _describe_token(tok) -> str:
    if tok.type == "SEP":
        return "end of statement"
    name = _TOKEN_NAMES.get(tok.type, tok.type)
    value = tok.value if isinstance(tok.value, str) else ""
    if value and len(value) > 40:
        value = value[:37] + "..."
    return f"{name} '{value}'" if value and not name.startswith("'") else name
