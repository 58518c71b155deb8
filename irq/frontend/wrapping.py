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
from collections.abc import Callable
from typing import Any

#: qualified name -> original function, so the torch executor can find wrapped functions
#: that are not importable by name (defined inside functions, tests).
REGISTRY: dict[str, Callable] = {}

#: The active tracer (set by irq.frontend while tracing); wrapped calls divert to it.
ACTIVE: list[Any] = []


def qualified_name(fn: Callable) -> str:
    module = getattr(fn, "__module__", None) or "builtins"
    return f"{module}.{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}"


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
