"""Hostile input (issue 14, item 1): every text gives a module or a located ParseError.

Each case once raised something else: ValueError from Python's int-string limit,
numpy's shape limit, RecursionError from a location alias naming itself, or ran
out of memory expanding aliases that double at each line.
"""

from __future__ import annotations

import pytest

import irq
from irq.ir.attributes import MAX_EXPANDED_ELEMENTS, ArrayAttr, IntegerAttr
from irq.ir.types import MAX_TYPE_TEXT, TensorType, TupleType, f32, i32

BIG = "9" * 5000


def located(text: str, line: int, column: int, *fragments: str) -> irq.ParseError:
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text, filename="h.mlir")
    e = info.value
    assert (e.filename, e.line, e.column) == ("h.mlir", line, column), str(e)
    for f in fragments:
        assert f in e.message, str(e)
    return e


@pytest.mark.parametrize(
    "text, line, column, fragment",
    [
        (f'"t.op"() : () -> () loc("f":1:{BIG})', 1, 31, "5000 digits"),
        (f'"t.op"() : () -> () loc("f":{BIG}:1)', 1, 29, "5000 digits"),
        (f'%0:{BIG} = "t.op"() : () -> ()', 1, 4, "5000 digits"),
        (f'%0 = "t.op"() : () -> i32\n"t.use"(%0#{BIG}) : (i32) -> ()', 2, 9, "bad result number"),
        (f'"t.use"(%0#{BIG}) : (i32) -> ()\n%0 = "t.op"() : () -> i32', 1, 9, "bad result number"),
        (f'"t.op"() {{a = {BIG} : i64}} : () -> ()', 1, 15, "5000 digits"),
        (f'"t.op"() {{a = dense<[{BIG}]> : tensor<1xi64>}} : () -> ()', 1, 21, "5000 digits"),
        (f'"t.op"() {{a = array<i64: {BIG}>}} : () -> ()', 1, 25, "5000 digits"),
    ],
    ids=[
        "loc_column",
        "loc_line",
        "result_count",
        "result_number",
        "forward_result_number",
        "integer_attr",
        "dense_element",
        "array_element",
    ],
)
def test_huge_integers_are_parse_errors(text, line, column, fragment):
    located(text, line, column, fragment)


def test_hex_integers_have_no_digit_limit():
    # hex converts in linear time: a 2048-bit constant of 512 hex digits is fine
    m = irq.parse_module(f'"t.op"() {{a = 0x{"F" * 512} : i2048, b = 0x{"F" * 512} : ui2048}} : () -> ()')
    attrs = next(iter(m.body.ops)).attributes
    assert attrs["a"].value == -1  # all ones: signless reads signed, as MLIR prints it
    assert attrs["b"].value == (1 << 2048) - 1


@pytest.mark.parametrize(
    "dims, column",
    [
        ("0x99999999999999999999", 33),
        ("99999999999999999999", 31),
        ("9223372036854775808", 31),
        ("2x3x9223372036854775808", 35),
    ],
)
def test_dimensions_over_64_bits_are_parse_errors(dims, column):
    # the error points at the dimension at fault, not at the start of the type
    located(f'"t.c"() {{v = dense<> : tensor<{dims}xf32>}} : () -> ()', 1, column, "does not fit in int64")


def test_type_rejects_dimensions_over_64_bits():
    with pytest.raises(ValueError, match="64 bits"):
        TensorType([1 << 63], f32)
    assert TensorType([(1 << 63) - 1], f32).shape == ((1 << 63) - 1,)


def test_empty_dense_of_unrepresentable_shape_is_a_parse_error():
    located('"t.c"() {v = dense<> : tensor<0x9223372036854775807xf32>} : () -> ()', 1, 20, "numpy")


@pytest.mark.parametrize("shape", ["9223372036854775807", "4294967296x4294967296"])
def test_huge_splat_verifies_prints_and_round_trips(shape):
    text = f'"t.c"() {{v = dense<1.5> : tensor<{shape}xf32>}} : () -> ()'
    m = irq.parse_module(text)
    irq.verify(m)
    for generic in (False, True):
        printed = irq.print_module(m, generic=generic)
        assert f"dense<1.5> : tensor<{shape}xf32>" in printed
        assert irq.print_module(irq.parse_module(printed), generic=generic) == printed


@pytest.mark.parametrize(
    "text, line, column, alias",
    [
        ('#a = loc(#a)\n"t.op"() : () -> () loc(#a)', 1, 10, "#a"),
        ('#a = loc(#b)\n#b = loc(#a)\n"t.op"() : () -> () loc(#a)', 1, 10, "#b"),
        ('#a = loc(fused[#a, "x"])\n"t.op"() : () -> () loc(#a)', 1, 16, "#a"),
        ('#a = loc(callsite(#b at "x"))\n#b = loc(#a)\n"t.op"() : () -> () loc(#a)', 1, 19, "#b"),
    ],
)
def test_location_alias_cycles_are_parse_errors(text, line, column, alias):
    located(text, line, column, "refers to itself", alias)


def test_location_alias_chain_defined_later_still_resolves():
    m = irq.parse_module('"t.op"() : () -> () loc(#a)\n#a = loc(#b)\n#b = loc("f.py":3:4)')
    loc = next(iter(m.body.ops)).location
    assert loc.file_line_col() == ("f.py", 3, 4)


def test_doubling_type_aliases_stop_at_the_cap_without_exhausting_memory():
    lines = ["!t0 = i32"] + [f"!t{i} = tuple<!t{i - 1}, !t{i - 1}>" for i in range(1, 31)]
    e = located("\n".join(lines) + '\n"t.op"() : () -> !t30', 20, 8, "type expands to", "type aliases")
    assert str(MAX_TYPE_TEXT) in e.message


def test_doubling_attribute_aliases_stop_at_the_cap():
    lines = ["#a0 = 1"] + [f"#a{i} = [#a{i - 1}, #a{i - 1}]" for i in range(1, 31)]
    e = located("\n".join(lines) + '\n"t.op"() {x = #a30} : () -> ()', 23, 8, "attribute expands to")
    assert str(MAX_EXPANDED_ELEMENTS) in e.message


def test_shared_aliases_below_the_cap_parse_and_print_in_full():
    lines = [
        "#a0 = 1",
        *(f"#a{i} = [#a{i - 1}, #a{i - 1}]" for i in range(1, 11)),
        "!t0 = i32",
        *(f"!t{i} = tuple<!t{i - 1}, !t{i - 1}>" for i in range(1, 11)),
    ]
    m = irq.parse_module("\n".join(lines) + '\n"t.op"() {x = #a10} : () -> !t10')
    printed = irq.print_module(m)
    assert printed.count("1") >= 1024 and printed.count("i32") == 1024
    assert irq.print_module(irq.parse_module(printed)) == printed


def test_attribute_and_type_caps_hold_for_api_built_values():
    a = IntegerAttr(1, i32)
    for _ in range(21):
        a = ArrayAttr([a, a])
    with pytest.raises(ValueError, match="expands to"):
        ArrayAttr([a, a])
    t = i32
    with pytest.raises(ValueError, match="type expands to"):
        for _ in range(40):
            t = TupleType([t, t])


def test_custom_parser_recursion_is_located_at_its_op():
    from irq.ir import Dialect, Op, result
    from irq.ir.dialect import default_context

    d = Dialect("deep")

    @d.op
    class Deep(Op):
        name = "deep.op"
        out = result()

        @classmethod
        def parse_custom(cls, p):
            return cls.parse_custom(p)  # a hook that never stops: must not surface as RecursionError

    ctx = default_context().copy()
    ctx.load(d)
    e = located_in('"t.a"() : () -> ()\n%0 = deep.op', ctx)
    assert (e.line, e.column) == (2, 6) and "'deep.op' is nested too deeply to parse" in e.message


def located_in(text: str, ctx) -> irq.ParseError:
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text, filename="h.mlir", context=ctx)
    return info.value
