"""Text kept verbatim in IR objects must print as the one token it came from.

Opaque types and attributes of unknown dialects (`!foo.bar<...>`, `#foo<...>`) and tensor
encodings are stored as text and printed as is. Built through the API, such text could
close the brackets around it and splice arbitrary IR into the output (the way an unescaped
`sym_visibility` once added a function). Their constructors call `check_one_token`, which
lexes the text as the parser would and accepts it only if it is exactly one token of the
expected kind spanning all of it: what is printed then reads back as that same one value.
Opaque attributes may also carry the type MLIR writes after them (`"s" : !foo.string`,
`sparse<...> : tensor<2xf32>`): `check_typed_token` accepts exactly `<token> : <type token>`.
"""

from __future__ import annotations


def _tokens(text: str, what: str) -> list:
    from irq.diagnostics import ParseError
    from irq.text.lexer import Lexer

    if not isinstance(text, str):
        raise TypeError(f"{what} must be text, got {type(text).__name__}")
    try:
        # `SEP` is the virtual statement separator (no text of its own); it carries no value.
        return [t for t in Lexer(text, "<verbatim>").tokens() if t.type != "SEP"]
    except ParseError as e:
        raise ValueError(f"{what} {text!r} is not well-formed: {e.message}") from None


def check_one_token(text: str, kinds: tuple[str, ...], what: str) -> None:
    """Raise ValueError unless `text` lexes as a single token of one of `kinds`, covering all of it."""
    toks = _tokens(text, what)
    if len(toks) != 1 or toks[0].type not in kinds or toks[0].value != text:
        raise ValueError(f"{what} {text!r} must be exactly one {' or '.join(kinds)} token")


def check_typed_token(text: str, kinds: tuple[str, ...], typed_kinds: tuple[str, ...], what: str) -> None:
    """Like `check_one_token`, but also accept `<token of typed_kinds> : <type token>`, spelled as printed.

    A bare string is a StringAttr, not opaque text, so strings are typically in `typed_kinds` only.
    """
    toks = _tokens(text, what)
    if len(toks) == 1 and toks[0].type in kinds and toks[0].value == text:
        return
    if (len(toks) == 3 and toks[0].type in typed_kinds and toks[1].type == "COLON" and toks[2].type == "TYPE"
            and text == f"{toks[0].value} : {toks[2].value}"):
        return
    raise ValueError(f"{what} {text!r} must be exactly one {' or '.join(kinds)} token, optionally ': <type>'")
