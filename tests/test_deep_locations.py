"""Locations nested thousands deep (issue 14): the parser accepts them up to the bracket limit, so
equality, hashing, `file_line_col` and structural comparison with locations must not recurse
(they raised RecursionError 1,000 levels down)."""

from __future__ import annotations

import pytest

import irq
from irq.ir import structural_diff
from irq.ir.location import CallSiteLoc, FileLineColLoc, FusedLoc, NameLoc

DEPTH = 3000  # three times Python's default recursion limit, well inside the 8,192-bracket limit


def nested(kind: str, leaf: str = '"f":1:2', depth: int = DEPTH) -> str:
    if kind == "name":
        return '"a"(' * depth + leaf + ")" * depth
    if kind == "callsite":
        return "callsite(" * depth + leaf + ' at "g":3:4)' * depth
    return "fused[" * depth + leaf + "]" * depth


def op_location(loc_text: str):
    m = irq.parse_module(f'"t.a"() : () -> () loc({loc_text})')
    return m, next(op for op in m.walk() if op.name == "t.a").location


@pytest.mark.parametrize("kind", ["name", "callsite", "fused"])
def test_deep_equal_locations_compare_and_hash_equal(kind):
    m1, a = op_location(nested(kind))
    m2, b = op_location(nested(kind))
    assert a is not b
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert structural_diff(m1, m2, locations=True) is None


@pytest.mark.parametrize("kind", ["name", "callsite", "fused"])
def test_a_difference_at_the_deepest_leaf_is_seen(kind):
    m1, a = op_location(nested(kind, '"f":1:2'))
    m2, b = op_location(nested(kind, '"f":1:3'))
    assert a != b
    assert "location" in structural_diff(m1, m2, locations=True)
    assert structural_diff(m1, m2) is None  # locations aside, the modules are the same


@pytest.mark.parametrize("kind", ["name", "callsite", "fused"])
def test_deep_location_names_its_innermost_file_position(kind):
    _, a = op_location(nested(kind, '"deep.py":7:9'))
    assert a.file_line_col() == ("deep.py", 7, 9)


def test_deep_location_round_trips_through_text():
    m, _ = op_location(nested("name"))
    back = irq.parse_module(irq.print_module(m, debuginfo=True))
    assert structural_diff(m, back, locations=True) is None


def test_location_equality_rules_kept():
    leaf = FileLineColLoc("a.py", 1, 2)
    assert NameLoc("x", leaf) == NameLoc("x", FileLineColLoc("a.py", 1, 2))
    assert NameLoc("x", leaf) != NameLoc("y", leaf)
    assert NameLoc("x") != NameLoc("x", leaf)
    assert FusedLoc([leaf, leaf]) != FusedLoc([leaf])
    assert FusedLoc([leaf], irq.ir.attributes.StringAttr("m")) != FusedLoc([leaf])
    assert CallSiteLoc(NameLoc("f"), leaf) != CallSiteLoc(leaf, NameLoc("f"))
    assert CallSiteLoc(NameLoc("f"), leaf).file_line_col() == ("a.py", 1, 2)  # callee has none: the caller's
    assert NameLoc("x", leaf) != leaf and leaf != NameLoc("x", leaf)


@pytest.mark.parametrize("kind", ["name", "callsite", "fused"])
def test_str_of_a_deep_location_is_its_text(kind):
    # str() prints outside print_module's raised recursion limit: the printer must not recurse
    _, a = op_location(nested(kind))
    assert str(a) == f"loc({nested(kind)})"


def test_mixed_location_prints_in_mlir_order():
    leaf = FileLineColLoc("a.py", 1, 2)
    loc = FusedLoc([NameLoc("n", leaf), CallSiteLoc(NameLoc("f"), leaf), leaf], irq.ir.attributes.StringAttr("m"))
    assert str(loc) == 'loc(fused<"m">["n"("a.py":1:2), callsite("f" at "a.py":1:2), "a.py":1:2])'
