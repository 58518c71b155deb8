"""MLIR string literal escapes.

MLIR strings are byte strings: `\\\\`, `\\"`, `\\n`, `\\t` and two-hex-digit `\\XX`
escapes. irq keeps them as Python `str`, decoding UTF-8 with `surrogateescape`
so arbitrary bytes survive a round trip; the printer escapes quotes, backslashes,
control characters and those raw bytes, and leaves printable Unicode readable.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r'\\(?:([0-9a-fA-F]{2})|(.))', re.DOTALL)
_SIMPLE = {"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\"}
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f\udc80-\udcff]')


class EscapeError(ValueError):
    """A bad escape; `offset` is its position in the token (quote included)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def unescape_string(token: str) -> str:
    """Value of a quoted string token (quotes included). Raises EscapeError on a bad escape."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos:m.start()].encode("utf-8", "surrogateescape")
        if m.group(1) is not None:
            out.append(int(m.group(1), 16))
        else:
            c = m.group(2)
            if c not in _SIMPLE:
                raise EscapeError(f"unknown escape sequence '\\{c}' in string", 1 + m.start())
            out += _SIMPLE[c]
        pos = m.end()
    rest = body[pos:]
    if rest.endswith("\\"):
        raise EscapeError("string ends with a lone backslash", len(token) - 2)
    out += rest.encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


def _escape_char(m: re.Match) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a raw byte carried by surrogateescape
        return f"\\{o - 0xDC00:02X}"
    return f"\\{o:02X}"


def quote_string(value: str) -> str:
    """The MLIR string literal for `value`."""
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'
