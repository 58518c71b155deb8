"""Logic on masks: which torch callables become `logical` / `logical_not` (issue 12).

A comparison imports as an i1 mask (irq/frontend/compare_mapping.py); combining masks (`~m`, `m1 & m2`,
`m1 | m2`, `torch.logical_and/or/xor/not`, `m.logical_not()`) used to stay an opaque `torch.call` no march runs,
so a padding mask combined with a causal one could not deploy. On bool tensors the bitwise operators are the
logical ones, so both spellings map here; on any other dtype (`~x` of int codes is a bitwise complement, and
torch.logical_and of floats tests `!= 0`) the call is left as it was, so no integer is read as a mask.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch

from irq.frontend.emit import _MISSING, Emit, bind
from irq.frontend.indexing import _tensor_value
from irq.ir.types import IntegerType, ShapedType

KINDS = ("and", "or", "xor")


def _is_mask(x: Any) -> bool:
    """A traced i1 tensor (a comparison's result, a bool constant or input)."""
    if not _tensor_value(x):
        return False
    t = x.meta.get("irq_type")
    return isinstance(t, ShapedType) and isinstance(t.element_type, IntegerType) and t.element_type.width == 1


def logical(kind: str) -> Callable:
    """Handler of `input <kind> other` on two masks."""

    def h(args, kwargs):
        b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
        if b is None or not (_is_mask(b["input"]) and _is_mask(b["other"])):
            return None
        return Emit("logical", {"input": b["input"], "other": b["other"]}, {"kind": kind})

    return h


def logical_not(args, kwargs):
    b = bind((("input", _MISSING),), args, kwargs)
    if b is None or not _is_mask(b["input"]):
        return None
    return Emit("logical_not", {"input": b["input"]})


def install(functions: dict, methods: dict) -> None:
    """Add the mask-logic handlers to irq.frontend.mapping's function and method tables."""
    for kind in KINDS:
        h = logical(kind)
        for fn in (
            getattr(torch, f"logical_{kind}"),
            getattr(torch, f"bitwise_{kind}"),
            getattr(operator, f"{kind}_" if kind != "xor" else "xor"),
            getattr(operator, f"i{kind}"),
        ):
            functions[fn] = h
        for name in (f"logical_{kind}", f"bitwise_{kind}"):
            methods[name] = h
    for fn in (torch.logical_not, torch.bitwise_not, operator.invert):  # fx records `~m` as operator.invert
        functions[fn] = logical_not
    for name in ("logical_not", "bitwise_not"):
        methods[name] = logical_not


def aten_entries(aten: Any) -> dict:
    """The ATen overloads `torch.export` records for the same calls (`m1 & m2` is aten.bitwise_and.Tensor)."""
    out: dict = {aten.logical_not.default: logical_not, aten.bitwise_not.default: logical_not}
    for kind in KINDS:
        out[getattr(aten, f"logical_{kind}").default] = logical(kind)
        out[getattr(aten, f"bitwise_{kind}").Tensor] = logical(kind)
        for name in (f"__{kind}__", f"__i{kind}__"):  # `m1 & m2` in some torch versions, `m &= m2`
            overload = getattr(getattr(aten, name, None), "Tensor", None)
            if overload is not None:
                out[overload] = logical(kind)
    return out
