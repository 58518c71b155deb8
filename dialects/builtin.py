"""The builtin dialect: `builtin.module` and `builtin.unrealized_conversion_cast`.

`ModuleOp` is the top of every program and the deployable unit: `save()` writes
its text with the resource blobs, `irq.parse_file` reads it back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from irq.ir.attributes import StringAttr
from irq.ir.block import Block, Region
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, region, variadic_operand, variadic_result
from irq.ir.operation import Operation
from irq.ir.traits import IsolatedFromAbove, NoTerminator, Pure, SingleBlock, SymbolTable

DIALECT = Dialect("builtin", "The top-level module and casts between type systems.")


@DIALECT.op
class ModuleOp(Op):
    """A module: a single block of top-level ops (functions, constants, programs)."""

    __slots__ = ("extra_resources",)
    name = "builtin.module"
    traits = frozenset({IsolatedFromAbove, SymbolTable, NoTerminator, SingleBlock})
    default_dialect = "builtin"

    sym_name = attribute(StringAttr, optional=True)
    sym_visibility = attribute(StringAttr, optional=True)
    body_region = region(single_block=True)

    def __init__(self, ops: Iterable[Operation] = (), *, sym_name: str | None = None, location=None) -> None:
        props = {"sym_name": StringAttr(sym_name)} if sym_name else {}
        block = Block()
        for op in ops:
            block.append(op)
        self._init_generic((), (), None, props, [Region([block])], (), location)
        self.extra_resources = []

    @property
    def ops(self) -> Iterator[Operation]:
        """The top-level ops of the module."""
        return self.body.ops

    def save(self, path: str | os.PathLike, *, generic: bool = False, debuginfo: bool = True) -> None:
        """Write the module (with its resource blobs) to `path`: a regular file is replaced whole
        or not at all, a FIFO or device is written through (see irq.output_file); OutputError on failure."""
        from irq.output_file import write_text
        from irq.text.printer import print_module
        write_text(path, print_module(self, generic=generic, debuginfo=debuginfo))

    def print_custom(self, p) -> None:
        """`module @name <sym_visibility = "private"> attributes {...} {...}`, as mlir-opt prints it."""
        p.out.append(p.op_name(self))
        name = self.get_attr("sym_name")
        if isinstance(name, StringAttr):
            p.out.append(" " + p.symbol(name.value))
        visibility = self.get_attr("sym_visibility")
        elided: tuple[str, ...] = ("sym_name",)
        if isinstance(visibility, StringAttr):
            p.out.append(f" <sym_visibility = {p.attr(visibility)}>")
            elided = ("sym_name", "sym_visibility")
        p.out.append(p.attr_dict(self, elided, with_keyword=True))
        p.out.append(" ")
        p.print_region(self.regions[0])

    @classmethod
    def parse_custom(cls, p) -> ModuleOp:
        name = p.parse_optional_symbol_name()
        props = {"sym_name": StringAttr(name)} if name is not None else {}
        props.update(_parse_module_properties(p))
        attrs = p.parse_optional_attr_dict_with_keyword()
        body = p.parse_region()
        p.expect_end()
        if not body.blocks:
            body.add_block()
        for k in ("sym_name", "sym_visibility"):  # irq also reads them from `attributes {...}`
            if k in attrs:
                if k in props:
                    raise p.error(f"'{k}' is given twice")
                props[k] = attrs.pop(k)
        return cls.create((), (), attrs, props, [body])

    def verify_op(self) -> None:
        r = self.regions[0]
        if len(r.blocks) != 1:
            raise self.error("expects a body region with exactly one block")
        if r.blocks[0].args:
            raise self.error("expects a body block without arguments")


def _parse_module_properties(p) -> dict:
    """MLIR's property syntax after the module's name: `<{sym_visibility = "private"}>` or the
    shorter `<sym_visibility = "private">` mlir-opt prints. `sym_name` is the `@name` (MLIR rejects
    it here), and the visibility must be a string."""
    t = p.peek()
    if t is None:
        return {}
    if t.type == "PROPS":
        p.next()
        written = list(t.value.items())
    elif t.type == "LESS":
        p.next()
        written = []
        while not p.parse_optional_punct(">"):
            if written:
                p.expect_punct(",")
            key_tok = p.peek()
            key = p.parse_keyword()
            p.expect_punct("=")
            if any(k == key for k, _ in written):
                raise p.error(f"duplicate or unknown property in properties dictionary: {key}", key_tok)
            written.append((key, p.parse_attribute()))
    else:
        return {}
    props = {}
    for key, value in written:
        if key != "sym_visibility":
            raise p.error(f"unknown key '{key}' in the properties of 'builtin.module'", t)
        if not isinstance(value, StringAttr):
            raise p.error(f"property 'sym_visibility' must be a string, got {value}", t)
        props[key] = value
    return props


@DIALECT.op
class UnrealizedConversionCastOp(Op):
    """A cast between type systems that a later conversion must remove."""

    name = "builtin.unrealized_conversion_cast"
    traits = frozenset({Pure})
    inputs = variadic_operand()
    outputs = variadic_result()
    assembly_format = "($inputs^ `:` type($inputs))? `to` type($outputs) attr-dict"

    def verify_op(self) -> None:
        if not self.results:  # MLIR's UnrealizedConversionCastOp::verify
            raise self.error("expected at least one result for cast operation")
