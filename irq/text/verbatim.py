"""Text kept verbatim in IR objects must print as the one token it came from.

Opaque types and attributes of unknown dialects (`!foo.bar<...>`, `#foo<...>`) and tensor
encodings are stored as text and printed as is. Built through the API, such text could
close the brackets around it and splice arbitrary IR into the output (the way an unescaped
`sym_visibility` once added a function). Their constructors call `check_one_token`, which
lexes the text as the parser would and accepts it only if it is exactly one token of the
expected kind spanning all of it: what is printed then reads back as that same one value.
"""

from __future__ import annotations


def check_one_token(text: str, kinds: tuple[str, ...], what: str) -> None:
    """Raise ValueError unless `text` lexes as a single token of one of `kinds`, covering all of it."""
    from irq.diagnostics import ParseError
    from irq.text.lexer import Lexer

    if not isinstance(text, str):
        raise TypeError(f"{what} must be text, got {type(text).__name__}")
    try:
        # `SEP` is the virtual statement separator (no text of its own); it carries no value.
        toks = [t for t in Lexer(text, "<verbatim>").tokens() if t.type != "SEP"]
    except ParseError as e:
        raise ValueError(f"{what} {text!r} is not well-formed: {e.message}") from None
    if len(toks) != 1 or toks[0].type not in kinds or toks[0].value != text:
        raise ValueError(f"{what} {text!r} must be exactly one {' or '.join(kinds)} token")
