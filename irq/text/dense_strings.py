"""`dense<["foo", "bar"]> : tensor<2x!d.string>`: MLIR's dense string elements, kept as text.

Why: MLIR's DenseStringElementsAttr holds strings for an element type that has no numbers
(a dialect's string type); no irq op reads one, so irq keeps the attribute as its text, like
`sparse<...>`, but in the spelling mlir-opt prints (so both spellings are one attribute): the
elements as a nested list separated by ", ", or the one string when every element is the same
(MLIR's splat, also for a one-element list). The literal's shape must be the type's.
"""

from __future__ import annotations

import re

from irq.text.type_parser import BodySyntaxError

__all__ = ["is_string_literal_body", "normalize_dense_strings"]

_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<punct>[\[\],]))')


def is_string_literal_body(body: str) -> bool:
    """Whether a `dense<...>` body is written with string elements (`"..."` or `["...", ...]`)."""
    return bool(re.match(r'\s*\[*\s*"', body))


def normalize_dense_strings(body: str, shape: tuple[int, ...]) -> str:
    """The body in mlir-opt's spelling; BodySyntaxError (offset into `body`) when malformed or when
    its shape is not `shape`."""
    items: list[str] = []
    dims: list[int] = []
    counts: list[int] = []
    pos, n, expect_value = 0, len(body), True
    while pos < n:
        m = _TOKEN.match(body, pos)
        if m is None:
            if body[pos:].strip():
                raise BodySyntaxError(pos, "expected a string element in dense string literal")
            break
        pos = m.end()
        s, p = m.group("string"), m.group("punct")
        if s is not None:
            if not expect_value:
                raise BodySyntaxError(m.start(), "expected ',' or ']' in dense string literal")
            items.append(s)
            if counts:
                counts[-1] += 1
            elif len(items) > 1:
                raise BodySyntaxError(m.start(), "expected one string or a list of strings")
            expect_value = False
        elif p == "[":
            if not expect_value:
                raise BodySyntaxError(m.start(), "expected ',' or ']' in dense string literal")
            if counts:
                counts[-1] += 1
            counts.append(0)
            if len(dims) < len(counts):
                if items:
                    raise BodySyntaxError(m.start(), "dense string literal is not rectangular")
                dims.append(-1)
        elif p == "]":
            if not counts:
                raise BodySyntaxError(m.start(), "unbalanced ']' in dense string literal")
            depth = len(counts) - 1
            c = counts.pop()
            if dims[depth] == -1:
                dims[depth] = c
            elif dims[depth] != c:
                raise BodySyntaxError(m.start(), "dense string literal is not rectangular")
            expect_value = False
        else:  # ","
            if expect_value or not counts:
                raise BodySyntaxError(m.start(), "unexpected ',' in dense string literal")
            expect_value = True
    if counts:
        raise BodySyntaxError(n, "unbalanced '[' in dense string literal")
    if not items:
        raise BodySyntaxError(0, "a dense string literal needs at least one string")
    splat = not dims
    if not splat and tuple(dims) != tuple(shape):
        raise BodySyntaxError(0, f"inferred shape of elements literal ([{', '.join(map(str, dims))}]) does not "
                                 f"match type ([{', '.join(map(str, shape))}])")
    if splat or all(x == items[0] for x in items):
        return items[0]
    return _nest(items, list(shape))


def _nest(items: list[str], shape: list[int]) -> str:
    if len(shape) <= 1:
        return "[" + ", ".join(items) + "]"
    step = len(items) // shape[0]
    return "[" + ", ".join(_nest(items[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"
