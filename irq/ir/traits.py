"""Op traits: static properties passes rely on, each with an optional structural check.

A trait is an object in the op class's `traits` set. Simple traits are singletons
(`Pure`, `IsTerminator`); parameterized ones are instances (`HasParent("func.func")`).
`op.has_trait(Pure)` tests membership; `op.has_trait(HasParent)` tests the kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irq.ir.types import ShapedType, Type

if TYPE_CHECKING:
    from irq.ir.operation import Operation


class Trait:
    """Base trait. `verify` returns an error message or None."""

    name = "trait"

    def verify(self, op: Operation) -> str | None:
        return None

    def __repr__(self) -> str:
        return self.name


class _Simple(Trait):
    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc


Pure = _Simple("Pure", "No side effects: CSE may merge it, DCE may delete it when unused.")
Commutative = _Simple("Commutative", "Operand order does not matter; canonicalization may sort operands.")
IsolatedFromAbove = _Simple("IsolatedFromAbove", "Regions use no values defined outside the op.")
ConstantLike = _Simple("ConstantLike", "Materializes a constant; `fold` returns its value attribute.")
ReturnLike = _Simple("ReturnLike", "Returns control and values to the enclosing op.")
NoTerminator = _Simple("NoTerminator", "Its single-block regions need no terminator.")


class _IsTerminator(Trait):
    name = "IsTerminator"

    def verify(self, op: Operation) -> str | None:
        block = op.parent
        if block is not None and block._last is not op:
            return "must be the last operation in the parent block"
        return None


IsTerminator = _IsTerminator()


class _SingleBlock(Trait):
    name = "SingleBlock"

    def verify(self, op: Operation) -> str | None:
        for i, r in enumerate(op.regions):
            if len(r.blocks) > 1:
                return f"expects region #{i} to have 0 or 1 blocks"
        return None


SingleBlock = _SingleBlock()


class _SymbolTable(Trait):
    """Holds ops with unique `sym_name`s (builtin.module): MLIR's SymbolTable::verifySymbolTable."""

    name = "SymbolTable"

    def verify(self, op: Operation) -> str | None:
        from irq.diagnostics import Diagnostic, VerifyError
        from irq.ir.attributes import StringAttr

        for region in op.regions:
            seen: dict[str, Operation] = {}
            for block in region.blocks:
                for child in block.ops:
                    name = child.get_attr("sym_name")
                    if not isinstance(name, StringAttr):
                        continue
                    first = seen.setdefault(name.value, child)
                    if first is not child:  # reported at the second definition, as MLIR does
                        note = Diagnostic("note", "see existing symbol definition here", first.location, first)
                        raise VerifyError([Diagnostic("error", f"redefinition of symbol named '{name.value}'",
                                                      child.location, child, [note])])
        return None


SymbolTable = _SymbolTable()


class _Symbol(Trait):
    name = "Symbol"

    def verify(self, op: Operation) -> str | None:
        from irq.ir.attributes import StringAttr
        if not isinstance(op.get_attr("sym_name"), StringAttr):
            return "requires string attribute 'sym_name'"
        return None


Symbol = _Symbol()


class _SameOperandsAndResultType(Trait):
    name = "SameOperandsAndResultType"

    def verify(self, op: Operation) -> str | None:
        types = [v.type for v in op.operands] + [r.type for r in op.results]
        if types and any(t is not types[0] for t in types):
            return "requires the same type for all operands and results"
        return None


SameOperandsAndResultType = _SameOperandsAndResultType()


class _SameOperandsAndResultShape(Trait):
    name = "SameOperandsAndResultShape"

    def verify(self, op: Operation) -> str | None:
        # MLIR's verifyCompatibleShapes: a scalable vector dimension is another shape than a fixed one
        # of the same size (`vector<[4]xi32>` vs `vector<4xi32>`), so the flags are part of the key
        shapes = {(t.shape, _scalable_flags(t)) for t in (*op.operand_types, *op.result_types)
                  if isinstance(t, ShapedType)}
        if len(shapes) > 1:
            return "requires the same shape for all operands and results"
        return None


SameOperandsAndResultShape = _SameOperandsAndResultShape()


def _scalable_flags(t: Type) -> tuple[bool, ...] | None:
    """A vector's scalable flags when it has a scalable dimension (None for every other shape)."""
    flags = getattr(t, "scalable_dims", None)
    return flags if flags and any(flags) else None


class _SameOperandsElementType(Trait):
    name = "SameOperandsElementType"

    def verify(self, op: Operation) -> str | None:
        elts = {t.element_type if isinstance(t, ShapedType) else t for t in op.operand_types}
        if len(elts) > 1:
            return "requires the same element type for all operands"
        return None


SameOperandsElementType = _SameOperandsElementType()


class HasParent(Trait):
    """The op may only appear directly inside one of the named ops."""

    def __init__(self, *parents: str) -> None:
        self.parents = parents
        self.name = f"HasParent({', '.join(parents)})"

    def verify(self, op: Operation) -> str | None:
        parent = op.parent_op
        if parent is None or parent.name not in self.parents:
            names = ", ".join(f"'{p}'" for p in self.parents)
            return f"expects parent op {'to be one of ' if len(self.parents) > 1 else ''}{names}"
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HasParent) and other.parents == self.parents

    def __hash__(self) -> int:
        return hash(("HasParent", self.parents))
