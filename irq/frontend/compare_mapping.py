"""Comparisons and clamps by a tensor: which torch callables become `compare` / `compare_scalar` (an i1 mask)
and which clamp becomes `maximum` / `minimum` (issue 12).

Before, `x > 0`, `torch.eq(mask, 0)` and `x.clamp(min=t)` stayed opaque `torch.call`s no march runs, so any model
gating or masking with them (attention masks, `torch.where(x > 0, x, 0.1 * x)`) could not be converted. The
handlers here are merged into irq.frontend.mapping's tables (`install`) and irq.frontend.export's ATen table
(`aten_entries`), so those modules only name this one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch

from irq.frontend.emit import _MISSING, PREV, Emit, bind, is_node
from irq.frontend.indexing import _tensor_value

#: torch's comparison names -> the predicate the op carries
PREDICATES = {"gt": "gt", "greater": "gt", "ge": "ge", "greater_equal": "ge", "lt": "lt", "less": "lt",
              "le": "le", "less_equal": "le", "eq": "eq", "ne": "ne", "not_equal": "ne"}
#: `c < x` is `x > c`: the predicate with its operands swapped
SWAPPED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(predicate: str) -> Callable:
    """Handler of one comparison (function, method, operator or ATen overload)."""
    def h(args, kwargs):
        b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
        if b is None:
            return None
        x, y = b["input"], b["other"]
        if _tensor_value(x) and _tensor_value(y):
            return Emit("compare", {"input": x, "other": y}, {"predicate": predicate})
        if _tensor_value(x) and _number(y):
            return Emit("compare_scalar", {"input": x}, {"predicate": predicate, "other": y})
        if _number(x) and _tensor_value(y):
            return Emit("compare_scalar", {"input": y}, {"predicate": SWAPPED[predicate], "other": x})
        return None
    return h


def _bound(v: Any) -> str:
    return "tensor" if _tensor_value(v) else "none" if v is None else "number" if _number(v) else "other"


def clamp_by_tensor(fallback: Callable, params: tuple) -> Callable:
    """torch.clamp with a tensor bound: `maximum(x, lo)` then `minimum(., hi)` (a number bound stays a clamp
    attribute); any other form goes to `fallback`, the scalar clamp's handler."""
    def h(args, kwargs):
        b = bind((("input", _MISSING), *params), args, kwargs)
        if b is None or not any(_tensor_value(b.get(k)) for k in ("min", "max")):
            return fallback(args, kwargs)
        kinds = {k: _bound(b.get(k)) for k in ("min", "max")}
        if "other" in kinds.values() or not _tensor_value(b["input"]):
            return None
        chain: list[Emit] = []
        for key, spec in (("min", "maximum"), ("max", "minimum")):
            prev = PREV if chain else b["input"]
            if kinds[key] == "tensor":
                chain.append(Emit(spec, {"input": prev, "other": b[key]}))
            elif kinds[key] == "number":
                chain.append(Emit("clamp", {"input": prev}, {key: b[key]}))
        return chain
    return h


_CLAMP = (("min", None), ("max", None))


def install(functions: dict, methods: dict) -> None:
    """Add the comparison handlers and make the clamps take tensor bounds (irq.frontend.mapping's tables)."""
    for name, pred in PREDICATES.items():
        h = compare(pred)
        if hasattr(torch, name):
            functions[getattr(torch, name)] = h
        methods[name] = h
    for name in ("gt", "ge", "lt", "le", "eq", "ne"):
        functions[getattr(operator, name)] = compare(name)
    for fn in (torch.clamp, torch.clip):
        functions[fn] = clamp_by_tensor(functions[fn], _CLAMP)
    for fn, key in ((torch.clamp_min, "min"), (torch.clamp_max, "max")):
        functions[fn] = clamp_by_tensor(functions[fn], ((key, _MISSING),))
    for name in ("clamp", "clip", "clamp_", "clip_"):
        methods[name] = clamp_by_tensor(methods[name], _CLAMP)
    for name, key in (("clamp_min", "min"), ("clamp_max", "max"), ("clamp_min_", "min"), ("clamp_max_", "max")):
        methods[name] = clamp_by_tensor(methods[name], ((key, _MISSING),))


def aten_entries(aten: Any, functions: dict) -> dict:
    """The ATen overloads `torch.export` records for comparisons and tensor-bound clamps."""
    out = {}
    for name, pred in PREDICATES.items():  # export keeps the aliases too (aten.greater.Tensor)
        packet = getattr(aten, name, None)
        for overload in ("Tensor", "Scalar"):
            op = getattr(packet, overload, None) if packet is not None else None
            if op is not None:
                out[op] = compare(pred)
    out[aten.clamp.Tensor] = functions[torch.clamp]
    out[aten.clamp_min.Tensor] = functions[torch.clamp_min]
    out[aten.clamp_max.Tensor] = functions[torch.clamp_max]
    return out


__all__ = ["PREDICATES", "SWAPPED", "aten_entries", "clamp_by_tensor", "compare", "install", "is_node"]
