"""`irq.wrap`: keep a function or method opaque to tracing (horizon's fx_wrap, torch.fx.wrap).

    @irq.wrap
    def decode(boxes, scores): ...          # becomes one torch.call "pkg.decode"

    class RetinaNet(nn.Module):
        @irq.wrap()
        def _post_process(self, feats): ...  # `self` is passed as #torch.module<"">

Outside tracing the wrapper just calls the function. While irq traces, a call
whose arguments contain traced values becomes one `torch.call` node; the body,
with its `if self.training:` branches and data-dependent loops, never runs under
the tracer. This module does not import torch, so decorating costs nothing.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

#: qualified name -> original function, so the torch executor can find wrapped functions
#: that are not importable by name (defined inside functions, tests).
REGISTRY: dict[str, Callable] = {}

#: The active tracer (set by irq.frontend while tracing); wrapped calls divert to it.
ACTIVE: list[Any] = []


def qualified_name(fn: Callable) -> str:
    """The name a user would write for `fn`, resolvable by importing it.

    torch's C functions report an internal home (`torch._VariableFunctionsClass.zeros_like`,
    no `__module__`) that cannot be imported, and functions torch builds at import time report
    where they were built (`F.max_pool1d` is `boolean_dispatch.<locals>.fn`); they are named by
    the public `torch.<name>` (or `torch.nn.functional.<name>`) that is the same object.
    """
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
    if module is None or module.startswith("torch._C") or qualname.startswith("_") or "<locals>" in qualname:
        public = _public_torch_name(fn)
        if public is not None:
            return public
    return f"{module or 'builtins'}.{qualname}"


def _public_torch_name(fn: Callable) -> str | None:
    name = getattr(fn, "__name__", None)
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(name, str):
        return None
    for prefix, namespace in (("torch", torch), ("torch.nn.functional", torch.nn.functional),
                              ("torch.special", torch.special), ("torch.linalg", torch.linalg)):
        if getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    return None


def wrap(fn: Callable | None = None) -> Callable:
    """Decorator (`@irq.wrap` or `@irq.wrap()`) making a function or method opaque to irq's tracer."""

    def decorate(f: Callable) -> Callable:
        original = getattr(f, "__irq_wrapped__", f)
        REGISTRY[qualified_name(original)] = original

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if ACTIVE:
                return ACTIVE[-1].call_wrapped(original, args, kwargs)
            return original(*args, **kwargs)

        wrapper.__irq_wrapped__ = original
        return wrapper

    return decorate(fn) if fn is not None else decorate
