"""Dialects group ops, types and attributes; a Context says which are loaded.

The parser and verifier consult a context: registered ops get their class
(accessors, verifier, custom syntax), unknown ones become `UnregisteredOp`
unless the context is strict. `default_context()` loads every dialect shipped
with irq plus those installed packages declare under the `irq.dialects` entry
point group.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.ir.attributes import DialectAttribute
    from irq.ir.operation import Operation
    from irq.ir.types import DialectType


class Dialect:
    """A namespace of ops, types and attributes (`arith`, `quant`, `bpu`, ...)."""

    def __init__(self, name: str, summary: str = "") -> None:
        self.name = name
        self.summary = summary
        self.ops: dict[str, type[Operation]] = {}
        self.types: dict[str, type[DialectType]] = {}
        self.attributes: dict[str, type[DialectAttribute]] = {}
        #: `(value, type, location) -> Operation | None`: builds a constant op for folding.
        self.materialize_constant = None

    def _check_prefix(self, full: str, what: str) -> None:
        if not full.startswith(self.name + "."):
            raise ValueError(f"{what} '{full}' does not belong to dialect '{self.name}'")

    def op(self, cls: type[Operation]) -> type[Operation]:
        """Class decorator registering an op class."""
        self._check_prefix(cls.name, "op")
        _register(self.ops, cls.name, cls, "op", f"dialect '{self.name}'")
        return cls

    def type(self, cls: type[DialectType]) -> type[DialectType]:
        self._check_prefix(cls.type_name, "type")
        _register(self.types, cls.type_name, cls, "type", f"dialect '{self.name}'")
        return cls

    def attribute(self, cls: type[DialectAttribute]) -> type[DialectAttribute]:
        self._check_prefix(cls.attr_name, "attribute")
        _register(self.attributes, cls.attr_name, cls, "attribute", f"dialect '{self.name}'")
        return cls

    def __repr__(self) -> str:
        return f"Dialect({self.name!r}, ops={len(self.ops)})"


class Context:
    """The loaded dialects; `allow_unregistered=False` rejects unknown ops (strict mode)."""

    def __init__(self, dialects: Iterable[Dialect] = (), *, allow_unregistered: bool = True) -> None:
        self.dialects: dict[str, Dialect] = {}
        self.ops: dict[str, type[Operation]] = {}
        self.types: dict[str, type[DialectType]] = {}
        self.attributes: dict[str, type[DialectAttribute]] = {}
        self.allow_unregistered = allow_unregistered
        for d in dialects:
            self.load(d)

    def load(self, *dialects: Dialect) -> None:
        """Make the dialects' ops, types and attributes known. Loading a dialect again is a no-op;
        a different class for a name already known is an error, not a silent replacement."""
        for d in dialects:
            for table, entries, what in ((self.ops, d.ops, "op"), (self.types, d.types, "type"),
                                         (self.attributes, d.attributes, "attribute")):
                for name, cls in entries.items():
                    _check_free(table, name, cls, what, "this context")
            self.dialects[d.name] = d
            self.ops.update(d.ops)
            self.types.update(d.types)
            self.attributes.update(d.attributes)

    def lookup_op(self, name: str) -> type[Operation] | None:
        return self.ops.get(name)

    def copy(self, *, allow_unregistered: bool | None = None) -> Context:
        c = Context(self.dialects.values(),
                    allow_unregistered=self.allow_unregistered if allow_unregistered is None else allow_unregistered)
        return c


def _same_definition(a: type, b: type) -> bool:
    """The same class, or the same class statement executed again (a plugin file loaded twice,
    a module reloaded): same qualified name in the same source file."""
    if a is b:
        return True
    fa = getattr(sys.modules.get(a.__module__), "__file__", None)
    fb = getattr(sys.modules.get(b.__module__), "__file__", None)
    return a.__qualname__ == b.__qualname__ and fa is not None and fa == fb


def _check_free(table: dict, name: str, cls: type, what: str, where: str) -> None:
    old = table.get(name)
    if old is not None and not _same_definition(old, cls):
        raise ValueError(f"{what} '{name}' is already registered in {where} by {old.__module__}.{old.__qualname__}; "
                         f"{cls.__module__}.{cls.__qualname__} cannot replace it (choose another name)")


def _register(table: dict, name: str, cls: type, what: str, where: str) -> None:
    _check_free(table, name, cls, what, where)
    table[name] = cls


#: Modules under irq.dialects that define the dialects shipped with irq.


def builtin_dialect_modules() -> list[str]:
    """The modules of `irq.dialects` that define a `DIALECT`, found by scanning the package.

    Discovery by scan (not a hand-kept list) means a new dialect file is loaded by being there,
    and parallel branches adding dialects never conflict on a registry line. Private modules
    (`_name`) are helpers. `builtin` comes first because the others use its types."""
    import pkgutil

    import irq.dialects as package
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
    return sorted(names, key=lambda n: n != "builtin")

_default: Context | None = None


def _discover_plugin_dialects() -> list[Dialect]:
    from importlib.metadata import entry_points
    found = []
    for ep in entry_points(group="irq.dialects"):
        obj = ep.load()
        found.extend(obj if isinstance(obj, (list, tuple)) else [obj])
    return found


def default_context() -> Context:
    """The process-wide context with irq's dialects and installed plugin dialects."""
    global _default
    if _default is None:
        ctx = Context()
        for mod in builtin_dialect_modules():
            m = importlib.import_module(f"irq.dialects.{mod}")
            if hasattr(m, "DIALECT"):
                ctx.load(m.DIALECT)
        for d in _discover_plugin_dialects():
            ctx.load(d)
        _default = ctx
    return _default


def register_dialect(dialect: Dialect) -> None:
    """Load a user dialect into the default context (what `--load-pass-plugin` files call)."""
    default_context().load(dialect)
