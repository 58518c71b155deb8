"""`sparse<indices, values>` in the spelling MLIR prints: a splat list shortened to its element.

Why: irq keeps a sparse elements attribute as the text it was written in (no op reads one), but
MLIR holds the indices and the values as dense elements, so `sparse<[[0, 0]], [1.0]>` and
`sparse<0, 1.0>` are one attribute, which mlir-opt prints in the short form: a dense literal
whose elements are all equal prints as that one element (`DenseElementsAttr`'s splat). Reading
the text into that form once, when it is parsed, makes both spellings the same attribute in
irq too, and irq's output MLIR's.

Only what is certain is shortened: every element a plain number or `true`/`false`, all equal
by value and, for floats, by sign (MLIR compares the bits: `0.0` and `-0.0` are not a splat).
Anything else (strings, complex pairs, hex float bits, a malformed body, which the parser
reports on its own terms) is left as written.
"""

from __future__ import annotations

import math

from irq.text.literals import _nested_elements
from irq.text.type_parser import BodySyntaxError

__all__ = ["shorten_sparse"]


def shorten_sparse(text: str) -> str:
    """`sparse<...>` text with each all-equal list literal written as its one element."""
    if not text.startswith("sparse<") or not text.endswith(">"):
        return text
    body = text[len("sparse<") : -1]
    cut = _top_level_comma(body)
    if cut is None:
        return text
    parts = [body[:cut].strip(), body[cut + 1 :].strip()]
    short = [_splat(p) for p in parts]
    if short == parts:
        return text
    return f"sparse<{short[0]}, {short[1]}>"


def _top_level_comma(body: str) -> int | None:
    depth = 0
    for i, c in enumerate(body):
        if c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
        elif c == '"':
            return None  # strings (hex blobs) are not shortened
        elif c == "," and depth == 0:
            return i
    return None


def _splat(literal: str) -> str:
    """The one element of a list literal whose elements are all equal, else the literal."""
    if not literal.startswith("["):
        return literal
    try:
        items, _ = _nested_elements(literal, 0)
    except BodySyntaxError:
        return literal
    if not items:
        return literal
    first = _value(items[0])
    if first is None or any(_value(x) != first for x in items[1:]):
        return literal
    return items[0]


def _value(item: str) -> tuple | None:
    """What equality of elements compares: the number (with a float's sign), or None when unsure."""
    if item in ("true", "false"):
        return ("bool", item == "true")
    try:
        if any(c in item for c in ".eE") and not item.lstrip("-").lower().startswith("0x"):
            v = float(item)
            if math.isnan(v):
                return None
            return ("float", v, math.copysign(1.0, v))
        return ("int", int(item, 0))
    except ValueError:
        return None
