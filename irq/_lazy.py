"""Deferred import of numpy for the modules the text format and IR core load at start-up.

Why: importing numpy costs about 0.1 s, a third of `irq-opt`'s start-up, yet most
runs of a pass pipeline over IR without `dense<...>` literals never touch an array.
`numpy` below is a stand-in whose first attribute access imports the real module;
each attribute is then cached on the stand-in, so later accesses cost one dict
lookup (as for a module). Code that needs numpy at import time imports it directly.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    """Attribute access imports `name` once, then serves (and caches) its attributes."""

    def __init__(self, name: str) -> None:
        self.__dict__["_lazy_name"] = name

    def __getattr__(self, attr: str) -> Any:
        # The module is looked up once and kept: calling import_module again for each new
        # attribute made the first use of, say, `numpy.frombuffer` an import call whenever it
        # happened, so whether parsing "imported something" depended on which test ran first
        # (issue 15: tests/test_no_code_execution.py failed when run alone).
        module: ModuleType | None = self.__dict__.get("_lazy_module")
        if module is None:
            module = importlib.import_module(self.__dict__["_lazy_name"])
            self.__dict__["_lazy_module"] = module
        value = getattr(module, attr)
        self.__dict__[attr] = value
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_name']!r}>"


numpy: Any = _LazyModule("numpy")
