"""Attributes and types the torch dialect uses to spell Python values.

A torch call's arguments are tensors (operands) mixed with Python literals; the
literals become ordinary attributes (ints, floats, strings, `unit` for None, arrays
for lists and tuples, a type such as `f32` for a torch dtype) plus these few:

    #torch.operand<2>            the op's operand #2, where a tensor sits inside a list or dict
    #torch.slice<0, none, 2>     slice(0, None, 2)
    #torch.ellipsis              ...
    #torch.module<"layer1.0">    a submodule passed as an argument (irq.wrap'ed methods get `self` so)
    #torch.ref<"torch.channels_last">  a named Python object (enum, function) the executor imports

and the type `!torch.obj` for values that are neither tensors nor numbers.
"""

from __future__ import annotations

from irq.ir.attributes import DialectAttribute
from irq.ir.types import DialectType
from irq.text.strings import quote_string
from irq.text.type_parser import DialectAsmParser

_set = object.__setattr__


class OperandRefAttr(DialectAttribute):
    """`#torch.operand<N>`: the op's operand N, inside a structured argument."""

    __slots__ = ("index",)
    attr_name = "torch.operand"

    def __init__(self, index: int) -> None:
        _set(self, "index", int(index))
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.index,)

    def _render(self) -> str:
        return f"#torch.operand<{self.index}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> OperandRefAttr:
        return cls(p.parse_integer())


def _opt_int(p: DialectAsmParser) -> int | None:
    if p.parse_optional_keyword("none"):
        return None
    return p.parse_integer()


class SliceAttr(DialectAttribute):
    """`#torch.slice<start, stop, step>`, each an integer or `none`."""

    __slots__ = ("start", "stop", "step")
    attr_name = "torch.slice"

    def __init__(self, start: int | None, stop: int | None, step: int | None) -> None:
        _set(self, "start", start)
        _set(self, "stop", stop)
        _set(self, "step", step)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.start, self.stop, self.step)

    def _render(self) -> str:
        parts = ["none" if v is None else str(v) for v in (self.start, self.stop, self.step)]
        return f"#torch.slice<{', '.join(parts)}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> SliceAttr:
        start = _opt_int(p)
        p.expect(",")
        stop = _opt_int(p)
        p.expect(",")
        step = _opt_int(p)
        return cls(start, stop, step)

    def to_python(self) -> slice:
        return slice(self.start, self.stop, self.step)


class EllipsisAttr(DialectAttribute):
    """`#torch.ellipsis`: Python's `...` in an index."""

    __slots__ = ()
    attr_name = "torch.ellipsis"

    def __init__(self) -> None:
        _set(self, "_text", None)

    def _render(self) -> str:
        return "#torch.ellipsis"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> EllipsisAttr:
        return cls()

    def to_python(self):
        return Ellipsis


class _NamedAttr(DialectAttribute):
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        _set(self, "value", str(value))
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.value,)

    def _render(self) -> str:
        return f"#{self.attr_name}<{quote_string(self.value)}>"

    @classmethod
    def parse_body(cls, p: DialectAsmParser):
        return cls(p.parse_string())


class ModuleRefAttr(_NamedAttr):
    """`#torch.module<"head">`: the submodule at this path ("" is the root model)."""

    __slots__ = ()
    attr_name = "torch.module"


class PyRefAttr(_NamedAttr):
    """`#torch.ref<"pkg.name">`: a Python object by qualified name (resolved by the torch executor only)."""

    __slots__ = ()
    attr_name = "torch.ref"


class PyObjectType(DialectType):
    """`!torch.obj`: a value that is neither a tensor nor a number (a dict, a list, None...)."""

    __slots__ = ()
    type_name = "torch.obj"

    def __new__(cls) -> PyObjectType:
        return cls._intern(())

    def _render(self) -> str:
        return "!torch.obj"

    @classmethod
    def parse_body(cls, p: DialectAsmParser) -> PyObjectType:
        return cls()


ATTRIBUTES = (OperandRefAttr, SliceAttr, EllipsisAttr, ModuleRefAttr, PyRefAttr)
