"""Passes: named, documented, with typed options and statistics.

    @register_pass("fuse")
    class FusePass(Pass):
        '''Fuse conv/bn/relu chains.'''
        patterns = Option(list[str], default=["conv-bn", "conv-relu"], help="which fusions")
        max_iterations = Option(int, default=10)

        def run(self, op):
            ...
            self.statistics["fused"] += 1

Option names are written with dashes in pipelines (`fuse{max-iterations=3}`).
Installed packages add passes through the `irq.passes` entry point group; the
registry loads them the first time a name is not found.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from irq.diagnostics import Diagnostic, IRError
from irq.ir.operation import Operation


class PassFailure(IRError):
    """A pass failed (or left invalid IR); carries diagnostics and, if written, a reproducer path."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None,
                 pass_name: str | None = None) -> None:
        self.diagnostics = diagnostics or []
        self.pass_name = pass_name
        self.reproducer: str | None = None
        #: why the reproducer file could not be written (OutputError text), if it could not
        self.reproducer_error: str | None = None
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message
        if self.diagnostics:
            text += "\n" + "\n".join(d.format(show_op=False) for d in self.diagnostics)
        if self.reproducer:
            text += f"\nreproducer written to {self.reproducer}"
        if self.reproducer_error:
            text += f"\nno reproducer: {self.reproducer_error}"
        return text


class OptionError(ValueError):
    pass


_MISSING = object()


class Option:
    """A typed pass option: int, float, bool, str, or list[...] of those."""

    def __init__(self, type: Any, default: Any = _MISSING, help: str = "",
                 validate: Callable[[Any], None] | None = None) -> None:
        self.type = type
        self.default = default
        self.help = help
        self.validate = validate  # raises ValueError for a bad value; checked when the pass is built
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def is_list(self) -> bool:
        return getattr(self.type, "__origin__", None) is list

    @property
    def item_type(self) -> type:
        return self.type.__args__[0] if self.is_list else self.type

    @property
    def cli_name(self) -> str:
        return self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        if self.is_list:
            items = [t.strip() for t in _split_top(text, ",")] if text.strip() else []
            return [self._scalar(t, self.item_type) for t in items]
        return self._scalar(text, self.type)

    def _scalar(self, text: str, t: type) -> Any:
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        try:
            if t is bool:
                if text in ("true", "1", ""):
                    return True
                if text in ("false", "0"):
                    return False
                raise ValueError(text)
            return t(text)
        except ValueError:
            raise OptionError(f"option '{self.cli_name}' expects {t.__name__}, got '{text}'") from None

    def format(self, value: Any) -> str:
        if self.is_list:
            return ",".join(self._fmt(v) for v in value)
        return self._fmt(value)

    @staticmethod
    def _fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        s = str(v)
        return f'"{s}"' if (" " in s or "}" in s) else s

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return obj._options[self.name]


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside braces, brackets, parentheses and quotes."""
    out, depth, cur, quote = [], 0, [], False
    for ch in text:
        if ch == '"':
            quote = not quote
        elif not quote:
            if ch in "{([":
                depth += 1
            elif ch in "})]":
                depth -= 1
            elif ch == sep and depth == 0:
                out.append("".join(cur))
                cur = []
                continue
        cur.append(ch)
    out.append("".join(cur))
    return out


class Pass:
    """Base class. Subclasses set `name` (via @register_pass), a docstring and `run(op)`."""

    name: ClassVar[str] = ""
    #: Op name the pass must run on ("func.func"), or None for any op.
    anchor: ClassVar[str | None] = None

    def __init__(self, **options: Any) -> None:
        self._options: dict[str, Any] = {}
        self._given: list[str] = []
        for opt in self.option_defs():
            if opt.name in options:
                value = options.pop(opt.name)
                if opt.validate is not None:
                    try:
                        opt.validate(value)
                    except ValueError as e:  # a pipeline with a bad option value fails as it is parsed
                        raise OptionError(f"pass '{self.name}' option '{opt.cli_name}': {e}") from None
                self._options[opt.name] = value
                self._given.append(opt.name)
            elif opt.default is _MISSING:
                raise OptionError(f"pass '{self.name}' requires option '{opt.cli_name}'")
            else:
                d = opt.default
                self._options[opt.name] = list(d) if isinstance(d, list) else d
        if options:
            raise OptionError(f"pass '{self.name}' has no option(s) {', '.join(options)}")
        self.statistics: Counter = Counter()

    @classmethod
    def option_defs(cls) -> list[Option]:
        seen: dict[str, Option] = {}
        for klass in reversed(cls.__mro__):
            for v in vars(klass).values():
                if isinstance(v, Option):
                    seen[v.name] = v
        return list(seen.values())

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def from_option_text(cls, text: str) -> Pass:
        """Build from `key=value key2=v1,v2` (the text inside `name{...}`)."""
        defs = {o.cli_name: o for o in cls.option_defs()}
        values: dict[str, Any] = {}
        for item in _split_top(text.strip(), " "):
            item = item.strip()
            if not item:
                continue
            key, eq, val = item.partition("=")
            opt = defs.get(key) or defs.get(key.replace("_", "-"))
            if opt is None:
                known = ", ".join(sorted(defs)) or "none"
                raise OptionError(f"pass '{cls.name}' has no option '{key}' (options: {known})")
            if val.startswith("{") and val.endswith("}"):
                val = val[1:-1]
            values[opt.name] = opt.parse(val) if eq else True
        return cls(**values)

    def option_text(self) -> str:
        """Options as written in a pipeline (only those set explicitly)."""
        parts = []
        defs = {o.name: o for o in self.option_defs()}
        for n in self._given:
            parts.append(f"{defs[n].cli_name}={defs[n].format(self._options[n])}")
        return " ".join(parts)

    def pipeline_text(self) -> str:
        opts = self.option_text()
        return f"{self.name}{{{opts}}}" if opts else self.name

    def run(self, op: Operation) -> bool | None:
        """Transform `op` in place. Return False (or raise PassFailure) to fail."""
        raise TypeError(f"pass '{self.name}' does not implement run()")

    def fail(self, message: str, op: Operation | None = None) -> PassFailure:
        """A PassFailure to raise, pointing at `op`'s location."""
        diag = Diagnostic("error", message, op.location if op is not None else None, op)
        return PassFailure(f"pass '{self.name}' failed", [diag], self.name)

    def __repr__(self) -> str:
        return f"<pass {self.pipeline_text()}>"


# -- registry -------------------------------------------------------------------------------------
_REGISTRY: dict[str, type[Pass]] = {}
_plugins_loaded = False
_builtins_loaded = False

#: Modules of irq.passes that define the built-in passes.


def register_pass(name: str):
    """Class decorator registering a pass under `name` (later registrations of a name win)."""
    def wrap(cls: type[Pass]) -> type[Pass]:
        if not (isinstance(cls, type) and issubclass(cls, Pass)):
            raise TypeError("@register_pass decorates Pass subclasses")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return wrap


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        # every module of irq.passes registers its pass on import: found by scan, one pass per file
        import pkgutil

        import irq.passes as package
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"irq.passes.{info.name}")


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points
    for ep in entry_points(group="irq.passes"):
        ep.load()


def lookup_pass(name: str) -> type[Pass]:
    _load_builtins()
    cls = _REGISTRY.get(name)
    if cls is None:
        _load_plugins()
        cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise OptionError(f"unknown pass '{name}' (registered: {known})")
    return cls


def registered_passes() -> dict[str, type[Pass]]:
    _load_builtins()
    _load_plugins()
    return dict(sorted(_REGISTRY.items()))


def passes_from(names: Iterable[str]) -> list[Pass]:
    return [lookup_pass(n)() for n in names]
