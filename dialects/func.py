"""The func dialect: `func.func`, `func.return`, `func.call`, with MLIR's syntax.

func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.ir.attributes import ArrayAttr, DictionaryAttr, StringAttr, SymbolRefAttr, TypeAttr
from irq.ir.block import Block, Region
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, region, variadic_operand, variadic_result
from irq.ir.operation import Operation
from irq.ir.traits import HasParent, IsolatedFromAbove, IsTerminator, Pure, ReturnLike, Symbol, SymbolTable
from irq.ir.types import FunctionType, Type
from irq.text.affine_aliases import NOT_VISITED

DIALECT = Dialect("func", "Functions, calls and returns.")


def _function_type(value: object) -> TypeAttr:
    if isinstance(value, FunctionType):
        return TypeAttr(value)
    raise TypeError(f"function_type must be a FunctionType, got {value!r}")


#: MLIR's symbol visibilities, printed as keywords before the name.
_VISIBILITIES = ("public", "private", "nested")


@DIALECT.op
class FuncOp(Op):
    """A function: a symbol with a signature and a body (empty for declarations)."""

    name = "func.func"
    traits = frozenset({IsolatedFromAbove, Symbol})
    default_dialect = "func"

    sym_name = attribute(StringAttr)
    function_type = attribute(TypeAttr, coerce=_function_type)
    sym_visibility = attribute(StringAttr, optional=True)
    arg_attrs = attribute(ArrayAttr, optional=True)
    res_attrs = attribute(ArrayAttr, optional=True)
    body_region = region()

    def __init__(
        self,
        sym_name: str,
        function_type: FunctionType,
        *,
        visibility: str | None = None,
        location=None,
        declaration: bool = False,
    ) -> None:
        props = {"sym_name": StringAttr(sym_name), "function_type": TypeAttr(function_type)}
        if visibility:
            props["sym_visibility"] = StringAttr(visibility)
        body = Region()
        if not declaration:
            body.add_block(Block(function_type.inputs))
        self._init_generic((), (), None, props, [body], (), location)

    @property
    def type(self) -> FunctionType:
        return self.function_type.value

    @property
    def sym(self) -> str:
        return self.sym_name.value

    @property
    def is_declaration(self) -> bool:
        return not self.regions[0].blocks

    @property
    def arguments(self) -> list:
        return self.regions[0].blocks[0].args if self.regions[0].blocks else []

    def print_custom(self, p) -> None:
        out = p.out
        out.append(p.op_name(self))
        vis = self.get_attr("sym_visibility")
        if isinstance(vis, StringAttr):
            if vis.value not in _VISIBILITIES:  # a keyword here; anything else prints in generic form
                raise ValueError(f"'{vis.value}' is not a symbol visibility")
            out.append(" " + vis.value)
        out.append(" " + p.symbol(self.sym_name.value))
        ft: FunctionType = self.function_type.value
        arg_attrs = self.get_attr("arg_attrs")
        res_attrs = self.get_attr("res_attrs")
        body = self.regions[0]
        args = []
        entry_args = body.blocks[0].args if body.blocks else None
        for i, t in enumerate(ft.inputs):
            if entry_args is not None and i < len(entry_args):
                text = p.value(entry_args[i]) + ": " + t._text
            else:
                text = t._text
            extra = _entry(arg_attrs, i)
            if extra:
                attrs = p.dict_text(extra)
                if entry_args is not None and ("affine_" in attrs or "distinct[" in attrs):
                    # mlir-opt's alias collector does not visit a defined function's argument
                    # attributes (they print with the entry block's arguments): no alias of their own
                    attrs = NOT_VISITED + attrs + NOT_VISITED
                text += " " + attrs
            if entry_args is not None and i < len(entry_args):
                text += p.arg_location_suffix(entry_args[i].location)
            args.append(text)
        out.append("(" + ", ".join(args) + ")")
        if ft.results:
            res = []
            for i, t in enumerate(ft.results):
                extra = _entry(res_attrs, i)
                res.append(t._text + (" " + p.dict_text(extra) if extra else ""))
            if len(res) == 1 and not _entry(res_attrs, 0) and not res[0].startswith("("):
                out.append(" -> " + res[0])
            else:
                out.append(" -> (" + ", ".join(res) + ")")
        out.append(
            p.attr_dict(
                self, ("sym_name", "function_type", "sym_visibility", "arg_attrs", "res_attrs"), with_keyword=True
            )
        )
        if body.blocks:
            out.append(" ")
            p.print_region(body, print_entry_args=False, print_empty_block=True)

    @classmethod
    def parse_custom(cls, p) -> FuncOp:
        visibility = p.parse_optional_keyword("private", "public", "nested")
        sym = p.parse_symbol_name()
        sig = p.parse_parens()
        named_args: list = []
        input_types: list[Type] = []
        arg_attrs: list[dict] = []
        if not sig.at_end():
            is_named = sig.peek_type() == "VALUE_ID"
            while True:
                if is_named:
                    tok, t, loc = sig.parse_argument()
                else:
                    t = sig.parse_type()
                input_types.append(t)
                arg_attrs.append(sig.parse_optional_attr_dict())
                if is_named:  # MLIR's order: `%arg0: i32 {attrs} loc(...)`
                    named_args.append((tok, t, loc if loc is not None else sig.parse_optional_location()))
                if not sig.parse_optional_punct(","):
                    break
            sig.expect_end()
        result_types: list[Type] = []
        res_attrs: list[dict] = []
        if p.parse_optional_punct("->"):
            group = p.parse_optional_parens()
            if group is not None:
                if not group.at_end():
                    while True:
                        result_types.append(group.parse_type())
                        res_attrs.append(group.parse_optional_attr_dict())
                        if not group.parse_optional_punct(","):
                            break
                group.expect_end()
            else:
                result_types.append(p.parse_type())
                res_attrs.append({})
        attrs = p.parse_optional_attr_dict_with_keyword()
        reserved = sorted(_RESERVED_ATTRS.intersection(attrs or ()))
        if reserved:  # the syntax sets these; a copy in the dictionary would silently lose
            raise p.error(f"'{reserved[0]}' is a reserved attribute of func.func, set by its syntax")
        body = p.parse_optional_region(named_args) if named_args or p.peek_type() in ("REGION", "ATTR_DICT") else None
        if named_args and body is None:
            raise p.error("a function with named arguments needs a body")
        p.expect_end()
        if body is None:
            body = Region()
        elif not body.blocks:
            raise p.error("function body must have an entry block")
        props = {"sym_name": StringAttr(sym), "function_type": TypeAttr(FunctionType(input_types, result_types))}
        if visibility:
            props["sym_visibility"] = StringAttr(visibility)
        if any(arg_attrs):
            props["arg_attrs"] = ArrayAttr(DictionaryAttr(d) for d in arg_attrs)
        if any(res_attrs):
            props["res_attrs"] = ArrayAttr(DictionaryAttr(d) for d in res_attrs)
        return cls.create((), (), attrs, props, [body])

    def verify_op(self) -> None:
        vis = self.get_attr("sym_visibility")
        if vis is not None and (not isinstance(vis, StringAttr) or vis.value not in _VISIBILITIES):
            raise self.error(f"visibility must be one of {', '.join(_VISIBILITIES)}, got {vis}")
        ft = self.function_type
        if not isinstance(ft, TypeAttr) or not isinstance(ft.value, FunctionType):
            raise self.error("requires a 'function_type' attribute of function type")
        for key, what in (("arg_attrs", "arguments"), ("res_attrs", "results")):
            # MLIR's function_interface_impl: names without a dialect prefix are reserved for the op
            for entry in self.get_attr(key) or ():
                plain = [n for n in getattr(entry, "value", {}) if "." not in n]
                if plain:
                    raise self.error(f"{what} may only have dialect attributes ('{plain[0]}' has no dialect prefix)")
        body = self.regions[0]
        if body.blocks:
            entry = body.blocks[0]
            if entry.arg_types != ft.value.inputs:
                raise self.error(
                    f"entry block arguments ({', '.join(map(str, entry.arg_types))}) do not match "
                    f"the function type {ft.value}"
                )
        elif self.get_attr("sym_visibility") is None or self.get_attr("sym_visibility").value == "public":
            raise self.error("a function declaration (no body) cannot be public")


#: Attributes that func.func's custom syntax writes itself (MLIR's function_interface_impl).
_RESERVED_ATTRS = frozenset({"sym_name", "function_type", "sym_visibility", "arg_attrs", "res_attrs"})


def _entry(array: ArrayAttr | None, i: int) -> dict:
    if isinstance(array, ArrayAttr) and i < len(array) and isinstance(array[i], DictionaryAttr):
        return dict(array[i].value)
    return {}


@DIALECT.op
class ReturnOp(Op):
    """Return from a function with its results."""

    name = "func.return"
    traits = frozenset({Pure, IsTerminator, ReturnLike, HasParent("func.func")})
    operands_ = variadic_operand()
    assembly_format = "attr-dict ($operands_^ `:` type($operands_))?"

    def __init__(self, values: Sequence = (), *, location=None) -> None:
        self._init_generic(values, (), None, None, 0, (), location)

    def verify_op(self) -> None:
        func = self.parent_op
        ft = func.get_attr("function_type") if isinstance(func, FuncOp) else None
        if isinstance(ft, TypeAttr) and isinstance(ft.value, FunctionType):  # else the func reports it
            want = ft.value.results
            got = tuple(v.type for v in self.operands)
            if want != got:
                raise self.error(
                    f"has {len(got)} operand(s) of type(s) ({', '.join(map(str, got))}) but the "
                    f"enclosing function returns ({', '.join(map(str, want))})"
                )


@DIALECT.op
class CallOp(Op):
    """Call a function by symbol."""

    name = "func.call"
    callee = attribute(SymbolRefAttr, coerce=lambda s: SymbolRefAttr(s))
    args = variadic_operand()
    outs = variadic_result()
    assembly_format = "$callee `(` $args `)` attr-dict `:` functional-type($args, results)"

    def verify_op(self) -> None:
        callee = self.callee
        if callee.nested:  # MLIR's callee is a FlatSymbolRefAttr
            raise self.error(f"requires a flat symbol reference as callee, got {callee}")
        # @outer::@inner resolves @outer in the nearest symbol table, then @inner inside it
        target = lookup_symbol(self, callee.root)
        for name in callee.nested:
            target = symbol_in_table(target, name) if target is not None and target.has_trait(SymbolTable) else None
        if not isinstance(target, FuncOp):
            raise self.error(f"'{callee.to_python()}' does not reference a valid function")
        ft = target.get_attr("function_type")
        if isinstance(ft, TypeAttr) and isinstance(ft.value, FunctionType):
            ft = ft.value
            if tuple(v.type for v in self.operands) != ft.inputs or tuple(r.type for r in self.results) != ft.results:
                raise self.error(f"call signature does not match the type of {callee}: {ft}")


def lookup_symbol(op: Operation, name: str) -> Operation | None:
    """Find `@name` in the nearest enclosing symbol table."""
    table = op.parent_op
    while table is not None and not table.has_trait(SymbolTable):
        table = table.parent_op
    if table is None:
        return None
    return symbol_in_table(table, name)


def symbol_in_table(table: Operation, name: str) -> Operation | None:
    """The op named `@name` directly inside the symbol table op `table`."""
    if not table.regions or not table.regions[0].blocks:
        return None
    for candidate in table.regions[0].blocks[0].ops:
        sym = candidate.get_attr("sym_name")
        if isinstance(sym, StringAttr) and sym.value == name:
            return candidate
    return None


@DIALECT.op
class ConstantOp(Op):
    """A function as a value: `%f = func.constant @g : (i32) -> i32`, for func.call_indirect."""

    name = "func.constant"
    traits = frozenset({Pure})
    value = attribute(SymbolRefAttr, coerce=lambda s: SymbolRefAttr(s))
    result = variadic_result()
    assembly_format = "$value attr-dict `:` type(results)"

    def verify_op(self) -> None:
        if self.value.nested:
            raise self.error(f"requires a flat symbol reference, got {self.value}")
        if len(self.results) != 1 or not isinstance(self.results[0].type, FunctionType):
            raise self.error("must have one result of function type")
        target = lookup_symbol(self, self.value.root)
        if not isinstance(target, FuncOp):
            raise self.error(f"reference to undefined function '{self.value.root}'")
        if target.function_type.value is not self.results[0].type:
            raise self.error(f"reference to function with mismatched type: {target.function_type.value}")


@DIALECT.op
class CallIndirectOp(Op):
    """Call a function value: `%r = func.call_indirect %f(%a) : (i32) -> i32`."""

    name = "func.call_indirect"
    callee = variadic_operand()  # the function value first, then its arguments
    outs = variadic_result()

    def verify_op(self) -> None:
        if not self.operands or not isinstance(self.operands[0].type, FunctionType):
            raise self.error("requires a callee of function type as its first operand")
        ft = self.operands[0].type
        if tuple(v.type for v in self.operands[1:]) != ft.inputs or tuple(r.type for r in self.results) != ft.results:
            raise self.error(f"operand and result types do not match the callee's type {ft}")

    def print_custom(self, p) -> None:
        if not self.operands:
            return super().print_custom(p)
        f, *args = self.operands
        p.out.append(f"{p.op_name(self)} {p.value(f)}({p.values(args)}){p.attr_dict(self)} : {f.type._text}")

    @classmethod
    def parse_custom(cls, p) -> CallIndirectOp:
        f = p.parse_operand()
        group = p.parse_parens()
        args = [] if group.at_end() else group.parse_operand_list()
        group.expect_end()
        attrs = p.parse_optional_attr_dict()
        ft = p.parse_colon_type()
        p.expect_end()
        if not isinstance(ft, FunctionType):
            raise p.error(f"expected a function type, found {ft}")
        operands = p.resolve_operands([f, *args], [ft, *ft.inputs])
        return cls.create(operands, list(ft.results), attrs, None, [])
