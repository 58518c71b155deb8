"""Resolve the qualified names torch.call records back to Python objects.

Only the torch executor does this (parsing IR never imports anything). Functions
decorated with irq.wrap are found in its registry first, so functions defined in
local scopes (tests, notebooks) resolve in the process that imported them.
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any

from irq.frontend.wrapping import REGISTRY


class ResolveError(LookupError):
    """A torch.call target that cannot be found."""


def resolve(name: str, extra: dict[str, Any] | None = None) -> Any:
    if extra and name in extra:
        return extra[name]
    if name in REGISTRY:
        return REGISTRY[name]
    if name.startswith("builtins."):
        return getattr(builtins, name[len("builtins."):])
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod_name = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(mod_name)
        except ImportError:
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            continue
        return obj
    raise ResolveError(f"cannot find '{name}': pass it to to_module(callables={{'{name}': fn}}) or make it "
                       "importable by that name")
