"""Property: any module the IR can hold prints, parses back to the same IR, and re-prints identically.

Random modules (see ir_strategies) cover nested and multi-block regions, successors, block
arguments, multi-result ops, every builtin type and attribute kind, quant types, resources,
locations, and registered ops in their custom forms. Checked in generic and custom form,
with and without debug locations.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_strategies import attributes, context, locations, modules, types, unique_resource_keys
from irq.dialects.builtin import ModuleOp

import irq
from irq.ir import Block, UnregisteredOp

CONTEXT = context()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.data_too_large])


def check_round_trip(m, *, generic: bool, debuginfo: bool) -> None:
    """print(parse(print(m))) == print(m) and parse(print(m)) is structurally m."""
    mode = f"generic={generic} debuginfo={debuginfo}"
    text = irq.print_module(m, generic=generic, debuginfo=debuginfo)
    try:
        m2 = irq.parse_module(text, context=CONTEXT)
    except irq.ParseError as e:
        raise AssertionError(f"[{mode}] printed text does not parse: {e}\n--- text ---\n{text}") from None
    text2 = irq.print_module(m2, generic=generic, debuginfo=debuginfo)
    assert text2 == text, f"[{mode}] re-printed text differs"
    diff = irq.structural_diff(m2, m, locations=debuginfo)
    assert diff is None, f"[{mode}] {diff}\n--- text ---\n{text}"


@SETTINGS
@given(m=modules())
def test_module_round_trip(m):
    # one generated module, all four printing modes (generation costs more than the checks)
    for generic in (False, True):
        for debuginfo in (False, True):
            check_round_trip(m, generic=generic, debuginfo=debuginfo)


@settings(SETTINGS, max_examples=25)
@given(m=modules(registered=False, max_depth=3))
def test_unregistered_module_round_trip(m):
    check_round_trip(m, generic=False, debuginfo=True)


def _holder(attrs=None, result_types=(), loc=None, arg_types=()):
    op = UnregisteredOp("t.holder", result_types=result_types, attributes=attrs or {}, regions=1 if arg_types else 0,
                        location=loc)
    if arg_types:
        op.regions[0].add_block(Block(arg_types))
    m = ModuleOp([op])
    unique_resource_keys(m)
    return m


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=attributes)
def test_attribute_round_trip(a):
    """Every attribute, alone, comes back equal (bit-equal floats) and prints the same."""
    check_round_trip(_holder({"a": a}), generic=True, debuginfo=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=types)
def test_type_round_trip(t):
    """Every type survives as a result type, a block argument type and a type attribute."""
    m = _holder({"t": irq.TypeAttr(t)}, result_types=[t], arg_types=[t])
    check_round_trip(m, generic=True, debuginfo=False)
    op = next(m2.ops) if (m2 := irq.parse_module(irq.print_module(m))) else None
    assert op.results[0].type is t and op.attributes["t"].value is t


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loc=locations)
def test_location_round_trip(loc):
    m = _holder(loc=loc, arg_types=[irq.ir.types.i32])
    m.body.first_op.regions[0].blocks[0].args[0].location = loc
    check_round_trip(m, generic=False, debuginfo=True)
    assert next(irq.parse_module(irq.print_module(m, debuginfo=True)).ops).location == loc


@SETTINGS
@given(st.data())
def test_structural_equality_detects_changed_attribute(data):
    """The comparison the other properties rely on is not vacuous."""
    a = data.draw(attributes)
    b = data.draw(attributes)
    m1, m2 = _holder({"a": a}), _holder({"a": b})
    assert irq.structurally_equal(m1, m2) == (a == b)
