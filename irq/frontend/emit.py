"""What a mapping handler returns, and how it binds a call's arguments: shared by the function,
method and module mappings (irq.frontend.mapping, irq.frontend.module_mapping) and their readers
(importer, shapes, convert, export), so none of those imports the handler tables to name an Emit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import fx

_MISSING = object()


@dataclass
class ParamRef:
    """A module's parameter or buffer used by a module call (state_dict key)."""

    key: str


@dataclass
class ConstantRef(ParamRef):
    """A tensor constant a handler makes from the import's static shapes (a causal mask of torch.export's traced
    sizes): imported as a `torch.constant {kind = "constant"}` named `key`."""

    tensor: Any = None


#: An Emit operand standing for the previous Emit's result (handlers returning a chain of ops). An operand may
#: also be an earlier Emit object of the same chain: its result (a value two ops of the chain read).
PREV = type("Prev", (), {"__repr__": lambda self: "PREV"})()


@dataclass
class Emit:
    spec: str
    operands: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


def bind(params: tuple, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """Bind call arguments to `params` ((name, default) pairs; default _MISSING = required).

    None also when a parameter whose default is a Python number holds a traced value (a number the model
    receives): a flag's truth is only known when the model runs, and a handler's `bool(node)` is always True, so
    `x.mean(1, keepdim=flag)` was typed keepdim=True whatever the flag (a wrong shape at flag=False, without an
    error); `float(node)` (`F.dropout(x, p)`) failed the import with a bare TypeError. The call stays opaque
    instead, and computes what torch does. (Shape-derived numbers are folded to constants before binding.)
    """
    out: dict[str, Any] = {}
    if len(args) > len(params):
        return None
    for (name, _), a in zip(params, args):
        out[name] = a
    for k, v in kwargs.items():
        if k in out or k not in {p for p, _ in params}:
            return None
        out[k] = v
    for name, default in params:
        if name not in out:
            if default is _MISSING:
                return None
            out[name] = default
        elif isinstance(default, (bool, int, float)) and is_node(out[name]):
            return None
    return out


def _n(v: Any, nd: int) -> list:
    return list(v) * (nd if len(v) == 1 else 1) if isinstance(v, (list, tuple)) else [v] * nd


def is_node(x: Any) -> bool:
    return isinstance(x, fx.Node)
