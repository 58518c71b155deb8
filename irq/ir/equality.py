"""Structural equality of IR: same ops, attributes, types and SSA wiring.

Two modules are structurally equal when a bijection between their values and
blocks maps one onto the other: names and (unless asked) locations do not
matter, attribute values do, bit for bit. Iterative, so nesting depth is free.
"""

from __future__ import annotations

from collections.abc import Mapping

from irq.ir.attributes import Attribute, attributes_equal
from irq.ir.location import UNKNOWN_LOC
from irq.ir.operation import Operation


def _arg_loc(arg):
    return UNKNOWN_LOC if arg.location is None else arg.location


def _diff(a: Operation, b: Operation, locations: bool) -> str | None:
    vmap: dict = {}
    bmap: dict = {}
    pending: list = []
    stack = [(a, b, "")]
    while stack:
        x, y, path = stack.pop()
        where = f"{path}/{x.name}"
        if x.name != y.name or type(x) is not type(y):
            return f"{where}: op '{x.name}' vs '{y.name}'"
        if not _named_equal(x.properties, y.properties):
            return f"{where}: properties {_names(x.properties)} vs {_names(y.properties)} differ"
        if not _named_equal(x.attributes, y.attributes):
            return f"{where}: attributes {_names(x.attributes)} vs {_names(y.attributes)} differ"
        if locations and x.location != y.location:
            return f"{where}: location {x.location} vs {y.location}"
        if len(x.results) != len(y.results):
            return f"{where}: {len(x.results)} vs {len(y.results)} results"
        for rx, ry in zip(x.results, y.results):
            if rx.type is not ry.type:
                return f"{where}: result type {rx.type} vs {ry.type}"
            vmap[rx] = ry
        if len(x.operands) != len(y.operands):
            return f"{where}: {len(x.operands)} vs {len(y.operands)} operands"
        if len(x.regions) != len(y.regions) or len(x.successors) != len(y.successors):
            return f"{where}: region or successor count differs"
        for i, (rx, ry) in enumerate(zip(x.regions, y.regions)):
            if len(rx.blocks) != len(ry.blocks):
                return f"{where}: region #{i} has {len(rx.blocks)} vs {len(ry.blocks)} blocks"
            for bx, by in zip(rx.blocks, ry.blocks):
                bmap[bx] = by
                if bx.arg_types != by.arg_types:
                    return f"{where}: block argument types {bx.arg_types} vs {by.arg_types}"
                for ax, ay in zip(bx.args, by.args):
                    vmap[ax] = ay
                    # an argument built without a location has MLIR's default, unknown (as printed)
                    if locations and _arg_loc(ax) != _arg_loc(ay):
                        return f"{where}: block argument location differs"
                if len(bx) != len(by):
                    return f"{where}: block has {len(bx)} vs {len(by)} ops"
                # pushed in reverse so ops are compared in order (defs before uses in SSACFG)
                pairs = list(zip(bx.ops, by.ops))
                for ox, oy in reversed(pairs):
                    stack.append((ox, oy, where))
        pending.append((x, y, where))
    # operands and successors are compared once every value has a counterpart
    for x, y, where in pending:
        for i, (vx, vy) in enumerate(zip(x.operands, y.operands)):
            mapped = vmap.get(vx, vx)
            if mapped is not vy:
                return f"{where}: operand #{i} refers to a different value"
        for i, (sx, sy) in enumerate(zip(x.successors, y.successors)):
            if bmap.get(sx, sx) is not sy:
                return f"{where}: successor #{i} differs"
    return None


def _named_equal(x: Mapping[str, Attribute], y: Mapping[str, Attribute]) -> bool:
    """Equal attribute dictionaries, compared without recursion (arrays may nest thousands deep)."""
    return x.keys() == y.keys() and all(attributes_equal(v, y[k]) for k, v in x.items())


def _names(d: Mapping[str, Attribute]) -> str:
    """The keys only: printing values that differ could be megabytes, or nested too deep to print."""
    return "{" + ", ".join(d) + "}"


def structural_diff(a: Operation, b: Operation, *, locations: bool = False) -> str | None:
    """None if equal, else a description of the first difference found."""
    return _diff(a, b, locations)


def structurally_equal(a: Operation, b: Operation, *, locations: bool = False) -> bool:
    return structural_diff(a, b, locations=locations) is None
