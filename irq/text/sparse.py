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
import re

from irq.text.literals import _nested_elements
from irq.text.type_parser import BodySyntaxError

__all__ = ["check_sparse", "shorten_sparse"]


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


_NEGATED_ZERO = re.compile(r"-(?:0+|0x0+)")


def check_sparse(text: str, shape: tuple[int | None, ...]) -> str | None:
    """Why `sparse<indices, values>` cannot be an attribute of a tensor of `shape` (None when it can).

    MLIR's SparseElementsAttr::verify (mlir/lib/IR/BuiltinAttributes.cpp): the values are a 1-d
    list (or one splat element), the indices a list of `rank`-long index lists (or, for rank 1, a
    list of indices; or one splat index, every coordinate that number), and every index lies
    inside the shape. Only what the text says for certain is checked: a body irq cannot read
    (strings, hex blobs) passes here and stays as written.
    """
    if not text.startswith("sparse<") or not text.endswith(">") or None in shape:
        return None
    body = text[len("sparse<") : -1]
    cut = _top_level_comma(body)
    if cut is None:
        return None
    indices, values = body[:cut].strip(), body[cut + 1 :].strip()
    try:
        index_items, index_shape = _nested_elements(indices, 0) if indices.startswith("[") else ([indices], [])
        value_items, value_shape = _nested_elements(values, 0) if values.startswith("[") else ([values], [])
    except BodySyntaxError:
        return None
    for item in index_items + value_items:
        if _NEGATED_ZERO.fullmatch(item):  # as decimal_int refuses it in dense and plain integers
            return f"integer constant '{item}' out of range for type (a negated zero, which MLIR refuses)"
    if len(value_shape) > 1:
        return "expected 1-d tensor for sparse element values"
    rank = len(shape)
    if not index_shape:
        rows = [[index_items[0]] * rank]
    elif len(index_shape) == 1 and rank == 1:
        rows = [[x] for x in index_items]
    elif len(index_shape) == 2 and index_shape[1] == rank:
        rows = [index_items[i * rank : (i + 1) * rank] for i in range(index_shape[0])]
    else:
        return (f"expected shape ([{', '.join(map(str, shape))}]); inferred shape of indices literal "
                f"([{', '.join(map(str, index_shape))}])")
    for n, row in enumerate(rows):
        try:
            index = [int(x, 0) for x in row]
        except ValueError:
            return None
        if any(not 0 <= i < d for i, d in zip(index, shape)):
            return (f"sparse index #{n} is not contained within the value shape, with "
                    f"index=[{', '.join(map(str, index))}], and shape [{', '.join(map(str, shape))}]")
    return None
