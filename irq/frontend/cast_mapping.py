"""Dtype casts the fixed-point program can express: a cast to the dtype the value has (the identity) and a cast of
integers or floats to bool (`!= 0`, an i1 mask). Other casts stay opaque calls (folded when constant).

Hugging Face's mask builders read the tokenizer's int64 attention_mask as `mask.to(torch.bool)` and re-cast the
bool mask to bool on the way (torch.export records `aten.to.device` / `aten.to.dtype_layout`); those opaque calls
kept BERT's own forward from converting. fx users write `mask.bool()` or `mask.to(torch.bool)`.
"""

from __future__ import annotations

from typing import Any

import torch

from irq.frontend.emit import Emit
from irq.frontend.propagate import torch_dtype
from irq.ir.types import ShapedType

aten = torch.ops.aten


def cast(x: Any, dtype: Any) -> Emit | None:
    """`x` cast to torch dtype `dtype` as a typed op, or None when it is another cast (or `x`'s dtype is unknown)."""
    t = x.meta.get("irq_type") if hasattr(x, "meta") else None
    if not isinstance(t, ShapedType) or not isinstance(dtype, torch.dtype):
        return None
    try:
        have = torch_dtype(t.element_type)
    except KeyError:
        return None
    if have == dtype:
        return Emit("identity", {"input": x})
    if dtype == torch.bool:
        return Emit("compare_scalar", {"input": x}, {"predicate": "ne", "other": 0})
    return None


def _on_cpu(device: Any) -> bool:
    return device is None or str(device) == "cpu"


def _method_to(args: tuple, kwargs: dict) -> Emit | None:
    """`x.to(dtype)`, `x.to(device, dtype)`, `x.to(dtype=...)`: a dtype and at most the CPU as device; `x.to("cpu")`
    (no dtype) is the identity, as torch.export's ATen form is (until 2026-12-02 it stayed an opaque call under fx,
    which no march runs)."""
    if not args:
        return None
    x, rest = args[0], list(args[1:])
    dtype = kwargs.get("dtype")
    device = kwargs.get("device")
    if set(kwargs) - {"dtype", "device", "non_blocking", "copy"}:
        return None
    for a in rest:
        if isinstance(a, torch.dtype) and dtype is None:
            dtype = a
        elif isinstance(a, (str, torch.device)) and device is None:
            device = a
        elif not isinstance(a, bool):  # non_blocking / copy flags
            return None
    if not _on_cpu(device):
        return None
    if dtype is None:  # `x.to("cpu")`, `x.to(device=...)`: no cast; torch returns x itself on the CPU
        tensor = isinstance(getattr(x, "meta", {}).get("irq_type"), ShapedType)
        return Emit("identity", {"input": x}) if tensor else None
    return cast(x, dtype)


def _method_bool(args: tuple, kwargs: dict) -> Emit | None:
    return cast(args[0], torch.bool) if len(args) == 1 and not kwargs else None


def _aten_to(args: tuple, kwargs: dict) -> Emit | None:
    """aten.to.device(x, device, dtype, ...), aten.to.dtype(x, dtype, ...), aten.to.dtype_layout(x, dtype=...) and
    aten._to_copy(x, dtype=...): the dtype cast, when the layout is strided and the device the CPU."""
    if not args:
        return None
    dtype = kwargs.get("dtype")
    device = kwargs.get("device")
    for a in args[1:]:
        if isinstance(a, torch.dtype) and dtype is None:
            dtype = a
        elif isinstance(a, torch.device) or isinstance(a, str):
            device = a
    if kwargs.get("layout") not in (None, torch.strided) or kwargs.get("memory_format") not in (
        None,
        torch.preserve_format,
    ):
        return None
    if dtype is None:
        return Emit("identity", {"input": args[0]}) if _on_cpu(device) else None
    return cast(args[0], dtype) if _on_cpu(device) else None


def install(methods: dict) -> None:
    """Add the cast handlers to irq.frontend.mapping's method table."""
    methods["to"] = _method_to
    methods["bool"] = _method_bool


def aten_entries() -> dict:
    """The export's ATen casts (irq.frontend.export ATEN)."""
    return {op: _aten_to for op in (aten.to.device, aten.to.dtype, aten.to.dtype_layout, aten._to_copy.default)}
