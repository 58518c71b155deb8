"""symbol-dce: erase private symbols (functions, globals) that nothing references."""

from __future__ import annotations

from irq.ir.attributes import ArrayAttr, Attribute, DictionaryAttr, StringAttr, SymbolRefAttr
from irq.ir.operation import Operation
from irq.ir.traits import Symbol, SymbolTable
from irq.transform.pass_base import Pass, register_pass


def _refs(a: Attribute, out: set[str]) -> None:
    if isinstance(a, SymbolRefAttr):
        out.add(a.root)
    elif isinstance(a, ArrayAttr):
        for e in a.value:
            _refs(e, out)
    elif isinstance(a, DictionaryAttr):
        for e in a.value.values():
            _refs(e, out)


def referenced_symbols(root: Operation, skip: Operation | None = None) -> set[str]:
    """Root names of all symbol references under `root`, ignoring those inside `skip`."""
    out: set[str] = set()
    for op in root.walk():
        if skip is not None and skip.is_ancestor_of(op):
            continue
        for a in op.properties.values():
            _refs(a, out)
        for a in op.attributes.values():
            _refs(a, out)
    return out


@register_pass("symbol-dce")
class SymbolDCE(Pass):
    """Erase private symbols not referenced from anywhere else (repeats until stable)."""

    def run(self, op: Operation) -> None:
        tables = [t for t in op.walk() if t.has_trait(SymbolTable)]
        changed = True
        while changed:
            changed = False
            for table in tables:
                for r in table.regions:
                    for b in r.blocks:
                        for sym in list(b.ops):
                            if not sym.has_trait(Symbol):
                                continue
                            vis = sym.get_attr("sym_visibility")
                            if not (isinstance(vis, StringAttr) and vis.value == "private"):
                                continue
                            name = sym.get_attr("sym_name").value
                            if name not in referenced_symbols(op, skip=sym):
                                sym.erase()
                                self.statistics["erased"] += 1
                                changed = True
