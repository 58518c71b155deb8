"""The layout and memory space of a `memref<...>` type, in the canonical text MLIR prints.

Why a module of its own: `MemRefType` keeps its layout and memory space as text (irq executes
no memrefs), so two spellings MLIR reads as one type must become one text here, or irq's types
would differ where MLIR's are equal and irq's print would differ from mlir-opt's. MLIR's rules
(BuiltinTypes.cpp `MemRefType::get`, `skipDefaultMemorySpace`; AsmPrinter.cpp, memref case):

* the memory space is any attribute; an integer attribute whose value is 0 (any width, so also
  `false`) is the default space and is dropped; it prints with `AttrTypeElision::May`, so an
  `i64` integer or `f64` float drops its `: type`;
* an identity `affine_map` layout is the default layout and is dropped; `strided<[...]>`
  prints its offset only when it is not 0, with `, ` between strides.

The memory space is read by irq's own attribute parser (a one-attribute module), so whatever
irq accepts as an attribute value is accepted here and nothing else (`memref<2xf32, layout>`
is an error, as in MLIR).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from irq.text.type_parser import BodySyntaxError

if TYPE_CHECKING:
    from irq.ir.attributes import Attribute
    from irq.ir.dialect import Context

_MAP = re.compile(r"affine_map<\s*\(([^()]*)\)\s*(?:\[[^\]]*\])?\s*->\s*\(([^()]*)\)\s*>\Z")
_STRIDED_PARTS = re.compile(r"strided<\s*\[([^\]]*)\]\s*(?:,\s*offset\s*:\s*(-?[0-9]+|\?)\s*)?>\Z")
_PREFIX = "module attributes {memory_space = "


def is_identity_map(text: str) -> bool:
    """`affine_map<(d0, d1) -> (d0, d1)>` (symbols allowed, as MLIR's `AffineMap::isIdentity`).

    Only results written as the bare dimension names count: MLIR also simplifies `d0 + 0` or
    `d0 * 1` to `d0` first, which irq's affine checker does not (such maps stay layouts)."""
    m = _MAP.match(text)
    if m is None:
        return False
    dims = [d.strip() for d in m.group(1).split(",")] if m.group(1).strip() else []
    results = [r.strip() for r in m.group(2).split(",")] if m.group(2).strip() else []
    return dims == results


def strided_text(text: str) -> str:
    """`strided<[4,1], offset: 0>` as MLIR prints it: `strided<[4, 1]>` (the caller checked it)."""
    m = _STRIDED_PARTS.match(text)
    strides = [s.strip() for s in m.group(1).split(",")] if m.group(1).strip() else []
    offset = m.group(2)
    tail = f", offset: {offset}" if offset not in (None, "0") else ""
    return f"strided<[{', '.join(strides)}]{tail}>"


def attribute_from_text(item: str, ctx: Context | None, aliases: dict | None, what: str) -> Attribute:
    """The attribute written `item` inside a type, read by irq's own attribute parser with the
    aliases the enclosing text defined (`memref<4xf32, #space>` where `#space = [#a]`)."""
    from irq.diagnostics import ParseError
    from irq.text.parser import parse_with_aliases

    wrapper = f"{_PREFIX}{item}}} {{}}"
    try:
        module = parse_with_aliases(wrapper, "<string>", ctx, aliases)
    except ParseError as e:
        raise BodySyntaxError(_offset_in_item(wrapper, e), f"invalid {what}: {e.message}") from None
    if set(module.attributes) != {"memory_space"} or list(module.body.ops):
        raise BodySyntaxError(0, f"invalid {what} '{item}'")
    return module.attributes["memory_space"]


def memory_space_text(item: str, ctx: Context | None, aliases: dict | None = None) -> str | None:
    """The canonical text of a memory space written `item`, or None for the default space."""
    from irq.ir.attributes import BoolAttr, FloatAttr, IntegerAttr
    from irq.ir.types import f64, i64

    space = attribute_from_text(item, ctx, aliases, "memory space")
    if isinstance(space, IntegerAttr) and space.value == 0:  # BoolAttr `false` included
        return None
    if type(space) is IntegerAttr and space.type is i64:
        return str(space.value)
    if type(space) is FloatAttr and space.type is f64:
        return str(space).rpartition(" : ")[0]
    if isinstance(space, BoolAttr):
        return "true"
    return str(space)


def encoding_text(item: str, ctx: Context | None, aliases: dict | None = None) -> str:
    """The canonical text of a tensor encoding written `item`: MLIR prints it as any attribute,
    with its type (`tensor<4xf32, 1 : i64>` for `tensor<4xf32, 1>`) and aliases resolved."""
    return str(attribute_from_text(item, ctx, aliases, "tensor encoding"))


def _offset_in_item(wrapper: str, e: object) -> int:
    """Where the nested parse's error lies inside the item (0 if before it)."""
    lines = wrapper.split("\n")
    line = max(1, min(getattr(e, "line", 1) or 1, len(lines)))
    at = sum(len(x) + 1 for x in lines[: line - 1]) + max(0, (getattr(e, "column", 1) or 1) - 1)
    return max(0, at - len(_PREFIX))
