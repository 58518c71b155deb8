"""Malformed input: always a ParseError with file, line, column, a caret excerpt and a useful message.

Never a bare lark or Python exception, never a RecursionError, whatever the bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irq
from irq.ir import UnregisteredOp
from irq.text.lexer import MAX_NESTING

CORPUS = sorted((Path(__file__).parent / "ir").glob("*.mlir"))


def parse_error(text, filename: str = "bad.mlir") -> irq.ParseError:
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text, filename=filename)
    return info.value


def check_located(e: irq.ParseError, text: str, line: int, column: int, *message_parts: str) -> None:
    """The error names the file and position, shows that line with a caret under the column."""
    assert (e.filename, e.line, e.column) == ("bad.mlir", line, column), str(e)
    for part in message_parts:  # in the message or the list of expected tokens
        assert part in str(e).split("\n")[0], str(e)
    src_line = text.split("\n")[line - 1]
    assert e.excerpt == f"{src_line}\n{' ' * (column - 1)}^"
    assert str(e).startswith(f"bad.mlir:{line}:{column}: error: {e.message}")
    assert isinstance(e, ValueError)


BLOB = '{{-#\n  dialect_resources: {{\n    builtin: {{\n      w: "{}"\n    }}\n  }}\n#-}}\n'

# (name, text, line, column, message fragments)
CASES = [
    ("truncated_attr", '"t.a"() {k = [1, 2', 1, 17, ["end of input", "'['", "not closed"]),
    ("truncated_type", '"t.a"() : () -> tensor<4x', 1, 25, ["expected '>' in tensor type"]),
    ("truncated_op", '"t.a"(', 1, 6, ["end of input"]),
    ("truncated_arrow", '"t.a"() : () ->\n', 1, 16, ["unexpected end of statement"]),
    ("wrong_nesting", '"t.a"() ({\n  "t.b"() : () -> ()\n) : () -> ()\n', 3, 1, ["unexpected ')'", "line 1:10"]),
    ("extra_brace", '"t.a"() : () -> ()\n}\n', 2, 1, ["unexpected '}'"]),
    ("dangling_value", '"t.a"(%x) : (i32) -> ()\n', 1, 7, ["undeclared SSA value", "%x"]),
    ("dangling_in_region", '"t.a"() ({\n  "t.b"(%nope) : (i32) -> ()\n}) : () -> ()\n', 2, 9, ["%nope"]),
    ("bad_result_number", '%0:2 = "t.a"() : () -> (i32, i32)\n"t.b"(%0#2) : (i32) -> ()\n', 2, 7,
     ["invalid result number"]),
    ("undefined_block", '"t.a"() ({\n  "t.br"()[^bb7] : () -> ()\n}) : () -> ()\n', 2, 12, ["undefined block", "^bb7"]),
    ("block_outside_region", '^bb0:\n', 1, 1, ["block label"]),
    ("redefined_value", '%0 = "t.a"() : () -> i32\n%0 = "t.a"() : () -> i32\n', 2, 1, ["redefinition", "%0"]),
    ("redefined_block", '"t.a"() ({\n^bb0:\n  "t.b"() : () -> ()\n^bb0:\n  "t.b"() : () -> ()\n}) : () -> ()\n',
     4, 1, ["redefinition of block"]),
    ("operand_type_mismatch", '%0 = "t.a"() : () -> i32\n"t.b"(%0) : (f32) -> ()\n', 2, 7,
     ["expects different type", "f32", "i32"]),
    ("forward_ref_type_mismatch", '"t.b"(%1) : (f32) -> ()\n%1 = "t.a"() : () -> i32\n', 1, 7,
     ["expects different type"]),
    ("operand_count_mismatch", '%0 = "t.a"() : () -> i32\n"t.b"(%0, %0) : (i32) -> ()\n', 2, 1,
     ["2 operand type(s)", "1"]),
    ("result_count_mismatch", '%0:2 = "t.a"() : () -> i32\n', 1, 1, ["defines 1 results", "2 to bind"]),
    ("func_return_type", 'func.func @f(%a: i32) -> i32 {\n  return %a : f32\n}\n', 2, 10, ["expects different type"]),
    ("custom_form_extra_operand", 'func.func @f(%a: i32) {\n  %0 = arith.addi %a, %a, %a : i32\n  return\n}\n', 2,
     25, ["custom op 'arith.addi'", "expected ':'", "found ','"]),
    ("bad_hex_blob", '"t.c"() {v = dense_resource<w> : tensor<2xi8>} : () -> ()\n' + BLOB.format("0x01000000ZZ01"),
     5, 10, ["malformed hex blob", "'w'"]),
    ("blob_without_header", '"t.c"() {v = dense_resource<w> : tensor<0xi8>} : () -> ()\n' + BLOB.format("0x0100"),
     5, 10, ["shorter than its 4-byte alignment header"]),
    ("blob_bad_alignment", '"t.c"() {v = dense_resource<w> : tensor<1xi8>} : () -> ()\n' + BLOB.format("0x0300000001"),
     5, 10, ["alignment 3"]),
    ("blob_size_vs_type", '"t.c"() {v = dense_resource<w> : tensor<4xi32>} : () -> ()\n'
     + BLOB.format("0x040000000100000002000000"), 1, 14, ["holds 8 bytes", "tensor<4xi32> needs 16"]),
    ("blob_defined_twice", '"t.c"() {v = dense_resource<w> : tensor<1xi8>} : () -> ()\n{-#\n  dialect_resources: {\n'
     '    builtin: {\n      w: "0x0100000001",\n      w: "0x0100000002"\n    }\n  }\n#-}\n', 6, 10, ["defined twice"]),
    ("unknown_resource_key", '"t.c"() {v = dense_resource<missing> : tensor<2xi8>} : () -> ()\n', 1, 14,
     ["unknown resource key 'missing'"]),
    ("resource_needs_numpy_type", '"t.c"() {v = dense_resource<w> : tensor<2xi65>} : () -> ()\n', 1, 34,
     ["no numpy representation"]),
    ("dense_wrong_shape", '"t.c"() {v = dense<[1, 2, 3]> : tensor<2xi32>} : () -> ()\n', 1, 20,
     ["shape [3]", "tensor<2xi32>"]),
    ("dense_ragged", '"t.c"() {v = dense<[[1, 2], [3]]> : tensor<2x2xi32>} : () -> ()\n', 1, 31, ["not rectangular"]),
    ("dense_bad_element", '"t.c"() {v = dense<[1, x]> : tensor<2xi32>} : () -> ()\n', 1, 20,
     ["malformed dense element"]),
    ("dense_double_comma", '"t.c"() {v = dense<[1,, 2]> : tensor<2xi32>} : () -> ()\n', 1, 23, ["unexpected ','"]),
    ("dense_unclosed_list", '"t.c"() {v = dense<[1, 2> : tensor<2xi32>} : () -> ()\n', 1, 25, ["expected ']'"]),
    ("dense_out_of_range", '"t.c"() {v = dense<[1, 300]> : tensor<2xi8>} : () -> ()\n', 1, 20, ["out of range for i8"]),
    ("dense_hex_length", '"t.c"() {v = dense<"0x0102"> : tensor<3xi8>} : () -> ()\n', 1, 20, ["2 bytes", "needs 3"]),
    ("dense_bad_hex", '"t.c"() {v = dense<"0x01G2"> : tensor<2xi8>} : () -> ()\n', 1, 20, ["malformed hex"]),
    ("dense_needs_type", '"t.c"() {v = dense<1>} : () -> ()\n', 1, 22, ["unexpected '}'", "(expected ':')"]),
    ("dense_dynamic_type", '"t.c"() {v = dense<1> : tensor<?xi8>} : () -> ()\n', 1, 14, ["static"]),
    ("dense_empty_for_nonempty", '"t.c"() {v = dense<> : tensor<2xi8>} : () -> ()\n', 1, 20, ["empty dense literal"]),
    ("int_out_of_range", '"t.a"() {x = 300 : i8} : () -> ()\n', 1, 14, ["out of range for i8"]),
    ("float_bits_too_wide", '"t.a"() {x = 0x10000 : f16} : () -> ()\n', 1, 14, ["does not fit f16"]),
    ("bad_escape", '"t.a"() {s = "ab\\q"} : () -> ()\n', 1, 17, ["unknown escape"]),
    ("unterminated_string", '"t.a"() {s = "abc} : () -> ()\n', 1, 14, ["unterminated string"]),
    ("bad_character", '"t.a"() ` : () -> ()\n', 1, 9, ["unexpected character"]),
    ("undefined_attr_alias", '"t.a"() {a = #nope} : () -> ()\n', 1, 14, ["undefined attribute alias '#nope'"]),
    ("undefined_type_alias", '"t.a"() : () -> !nope\n', 1, 17, ["undefined type alias '!nope'"]),
    ("undefined_loc_alias", '"t.a"() : () -> () loc(#missing)\n', 1, 24, ["undefined location alias"]),
    ("redefined_alias", '#a = 1\n#a = 2\n', 2, 1, ["redefinition of attribute alias"]),
    ("negative_quant_scale", '"t.a"() {t = !quant.uniform<i8:f32, -1.0>} : () -> ()\n', 1, 37,
     ["scale out of expressed type range"]),
    ("bad_storage_range", '"t.a"() {t = !quant.uniform<i8<-200:1>:f32, 1.0>} : () -> ()\n', 1, 31,
     ["illegal storage type minimum: -200"]),
    ("unknown_custom_op", 'foo.bar %x : i32\n', 1, 1, ["custom op 'foo.bar' is unknown", "generic form"]),
    # after the op's name, where its value is missing (MLIR C++: 2:22, "expected attribute value")
    ("custom_op_garbage", 'func.func @f() {\n  %0 = arith.constant\n  return\n}\n', 2, 22,
     ["custom op 'arith.constant'", "expected an attribute value"]),
    ("constant_needs_typed_value", '%0 = arith.constant "str"\n', 1, 21, ["needs a typed value attribute"]),
    ("hex_line_number", '"t.a"() : () -> () loc("f":-1:2)\n', 1, 28, ["non-negative"]),
    ("duplicate_dict_key", '"t.a"() {a = 1, a = 2} : () -> ()\n', 1, 17, ["duplicate key 'a'"]),
]


@pytest.mark.parametrize("name,text,line,column,parts", CASES, ids=[c[0] for c in CASES])
def test_error_is_located_and_explained(name, text, line, column, parts):
    check_located(parse_error(text), text, line, column, *parts)


def test_syntax_errors_say_what_was_expected():
    e = parse_error('"t.a"() : () -> ()\n"t.b" : () -> ()\n')
    assert e.line == 2 and e.column == 6 and "unexpected ':'" in e.message  # after `"t.b"`, as MLIR
    assert "'('" in e.expected and "(expected" in str(e)


def test_truncated_file_points_at_the_end():
    text = 'func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n'
    e = parse_error(text)
    # after the last token, where MLIR reports it too (2:31), not at the empty line after it
    assert (e.line, e.column) == (2, 31) and "'{' opened at line 1 is not closed" in e.message


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_prefix_of_a_valid_file_fails_cleanly(path: Path):
    """Cut anywhere, a valid file parses or raises ParseError (never another exception)."""
    text = path.read_text(encoding="utf-8")
    for cut in range(0, len(text), 3):
        try:
            irq.parse_module(text[:cut], filename="cut.mlir")
        except irq.ParseError as e:
            assert e.filename == "cut.mlir" and e.line >= 1 and e.column >= 1


# ----------------------------------------------------------------------------- bytes and sizes
def test_non_utf8_bytes_are_located():
    data = b'"t.a"() {s = "caf\xc3\xa9"} : () -> ()\n"t.b"() {s = "bad \xff here"} : () -> ()\n'
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(data, filename="bytes.mlir")
    e = info.value
    assert (e.filename, e.line, e.column) == ("bytes.mlir", 2, 19) and "0xFF" in e.message
    assert e.excerpt.endswith("^") and e.excerpt.startswith('"t.b"() {s = "bad ')


def test_non_utf8_file_names_the_file(tmp_path):
    p = tmp_path / "latin1.mlir"
    p.write_bytes('"t.a"() {s = "é"} : () -> ()\n'.encode("latin-1"))
    with pytest.raises(irq.ParseError) as info:
        irq.parse_file(p)
    assert info.value.filename == str(p) and (info.value.line, info.value.column) == (1, 15)


def test_ten_megabyte_string_attribute():
    body = "x" * (10 * 1024 * 1024)
    text = f'"t.big"() {{s = "\\22{body}\\09"}} : () -> ()\n'
    m = irq.parse_module(text)
    assert next(m.ops).attributes["s"].value == '"' + body + "\t"
    assert irq.print_module(m, generic=True).count("\n") == 3
    # an error far into the line is reported with a short excerpt around it
    bad = text.replace('"} : ()', '\\q"} : ()')
    e = parse_error(bad)
    assert e.line == 1 and e.column == text.index('"} : ()') + 1 and "unknown escape" in e.message
    assert len(e.excerpt) < 400 and e.excerpt.split("\n")[0].endswith('\\q"} : () -> ()')


def test_ten_megabyte_dense_hex_line():
    data = (np.arange(5 * 1024 * 1024, dtype=np.int64) % 65521).astype(np.uint16)
    text = f'"t.big"() {{d = dense<"0x{data.tobytes().hex().upper()}"> : tensor<{data.size}xi16>}} : () -> ()\n'
    assert len(text) > 10 * 1024 * 1024
    m = irq.parse_module(text)
    assert np.array_equal(next(m.ops).attributes["d"].to_numpy().view(np.uint16), data)
    out = irq.print_module(m, generic=True)
    assert f'"0x{data.tobytes().hex().upper()}"' in out
    at = text.index("> : tensor") + 1
    e = parse_error(text[:at] + " oops" + text[at:])
    assert e.line == 1 and e.column == at + 1 and "unexpected identifier 'oops'" in e.message
    assert len(e.excerpt) < 400 and e.excerpt.split("\n")[0].count("oops") == 1


# ----------------------------------------------------------------------------- deep nesting
def nested_text(depth: int) -> str:
    lines = ["  " * i + '"t.r"() ({' for i in range(depth)]
    lines.append("  " * depth + '"t.leaf"() : () -> ()')
    lines += ["  " * i + "}) : () -> ()" for i in reversed(range(depth))]
    return "\n".join(lines) + "\n"


def test_thousand_deep_regions_work_everywhere():
    text = nested_text(1000)
    m = irq.parse_module(text)
    ops = list(m.walk())
    assert len(ops) == 1002 and ops[-1].name == "t.leaf"
    assert [o.name for o in m.walk(post_order=True)][:2] == ["t.leaf", "t.r"]
    assert irq.print_module(m, generic=True) == '"builtin.module"() ({\n' + "".join(
        "  " + line + "\n" for line in text.splitlines()) + "}) : () -> ()\n"
    irq.verify(m)
    c = m.clone()
    assert irq.structurally_equal(m, c)
    assert irq.print_module(irq.parse_module(irq.print_module(m))) == irq.print_module(m)
    ops[-1].attributes["changed"] = irq.UnitAttr()
    assert not irq.structurally_equal(m, c)
    assert "t.leaf" in irq.structural_diff(m, c)


def test_nesting_limit_is_the_documented_one():
    # docs/design.md: at most 8,192 brackets ( [ { < open at once. Changing it is a format change.
    assert MAX_NESTING == 8192


@pytest.mark.parametrize("depth", [2_500, MAX_NESTING // 2 - 2, MAX_NESTING // 2 - 1])
def test_regions_nested_up_to_the_limit_parse(depth):
    # each region level opens two brackets, `(` and `{`; the leaf's `()` opens one more
    m = irq.parse_module(nested_text(depth), filename="deep.mlir")
    ops = list(m.walk())
    assert len(ops) == depth + 2 and ops[-1].name == "t.leaf"
    irq.verify(m)
    assert irq.structurally_equal(m, m.clone())


@pytest.mark.parametrize("depth", [MAX_NESTING // 2, 10_000])
def test_regions_nested_past_the_limit_are_rejected_where_they_cross_it(depth):
    e = parse_error(nested_text(depth), filename="bad.mlir")
    assert e.message == f"brackets nested deeper than {MAX_NESTING} levels"
    # the first bracket past the limit is the `(` on line 4097, after 4096 levels of 2-space indent
    # and the op name: `"t.leaf"` at depth 4096 exactly, `"t.r"` deeper
    name = '"t.leaf"' if depth == MAX_NESTING // 2 else '"t.r"'
    assert (e.filename, e.line, e.column) == ("bad.mlir", MAX_NESTING // 2 + 1, MAX_NESTING + len(name) + 1)


def test_ten_thousand_deep_ir_built_in_memory():
    root = UnregisteredOp("t.r", regions=1)
    cur = root
    for _ in range(10_000):
        nxt = UnregisteredOp("t.r", regions=1)
        cur.regions[0].add_block().append(nxt)
        cur = nxt
    assert len(list(root.walk(post_order=True))) == 10_001
    irq.verify(root)
    assert irq.structurally_equal(root, root.clone())


def _nested_attribute(n: int) -> str:
    return '"t.a"() {a = ' + "[" * n + "]" * n + "} : () -> ()\n"


def test_deep_attribute_nesting_fails_cleanly():
    # the attribute dictionary's `{` counts: n `[` inside it parse up to n = MAX_NESTING - 1
    ok = irq.parse_module(_nested_attribute(MAX_NESTING - 1))
    assert irq.print_module(ok, generic=True).count("[") == MAX_NESTING - 1
    for n in (MAX_NESTING, 20_000):
        e = parse_error(_nested_attribute(n))
        assert e.message == f"brackets nested deeper than {MAX_NESTING} levels"
        # `"t.a"() {a = ` is 13 characters; the `[` that crosses the limit is the MAX_NESTING-th
        assert (e.line, e.column) == (1, 13 + MAX_NESTING)


# ----------------------------------------------------------------------------- garbage
def _only_parse_errors(data) -> None:
    try:
        irq.parse_module(data, filename="fuzz.mlir")
    except irq.ParseError as e:
        assert e.filename == "fuzz.mlir" and e.line >= 1 and e.column >= 1 and e.message
        str(e)  # renders


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_parse_errors(data):
    _only_parse_errors(data)


TOKENS = ['"t.a"', '"t.b"', "%0", "%1", "%0#1", "^bb0", "^bb1", "@f", "(", ")", "[", "]", "{", "}", "<", ">",
          "<{", "}>", ":", ",", "=", "->", "\n", " ", "i32", "f32", "tensor<2xf32>", "!quant.uniform<i8:f32, 0.5>",
          "dense<[1, 2]>", "dense_resource<w>", "array<i32: 1>", "loc(", "unknown", "fused", "callsite", "at",
          "#a", "!t", "1", "-2", "0x7F", "1.5", "true", "unit", "func.func", "return", "arith.addi", "module",
          "{-#", "#-}", "dialect_resources", "builtin", '"0x0100000001"', "//c\n", '"\\"', "\\", "#", "!", "%", "^",
          "@"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup_raises_only_parse_errors(text):
    _only_parse_errors(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([p.read_text(encoding="utf-8") for p in CORPUS]),
       st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 6), st.sampled_from(TOKENS + [""])), min_size=1,
                max_size=4))
def test_mutated_corpus_raises_only_parse_errors(text, edits):
    for pos, cut, insert in edits:
        pos %= len(text) + 1
        text = text[:pos] + insert + text[pos + cut:]
    _only_parse_errors(text)
