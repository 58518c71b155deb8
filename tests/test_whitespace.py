"""Whitespace, newlines included, is not significant in the text format (as in MLIR).

Upstream files covered (llvm/llvm-project, read for the layouts MLIR accepts; the cases
below are written anew): mlir/test/IR/parser.mlir (signatures and `attributes` continued
on the next line, `{` inside a line, one-line functions), mlir/test/IR/region.mlir and
mlir/test/IR/invalid.mlir (regions opened mid-line, `({...})`), mlir/test/IR/print-op-generic.mlir
(the type of a generic op on its own line), mlir/test/Dialect/Func/func-bufferize.mlir style
multi-line attribute dictionaries.

Each layout must parse to the same IR as its canonical one-statement-per-line form; and
any printed module (the random modules of ir_strategies and the corpus) must parse to the
same IR when all of its tokens share one line, and when every token starts a new line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from ir_strategies import context, modules

import irq
from irq.text.lexer import Lexer

CONTEXT = context()

#: (layout MLIR accepts, the same IR one statement per line)
LAYOUTS = [
    (
        "signature continued",
        "func.func @f(%a: i32)\n    -> i32 {\n  return %a : i32\n}",
        "func.func @f(%a: i32) -> i32 {\n  return %a : i32\n}",
    ),
    (
        "attributes on the next line",
        "func.func @f(%a: i32) -> i32\n    attributes {foo} {\n  return %a : i32\n}",
        "func.func @f(%a: i32) -> i32 attributes {foo} {\n  return %a : i32\n}",
    ),
    (
        "nested generic region on one line",
        '"foo"() ({"bar"() : () -> ()}) : () -> ()',
        '"foo"() ({\n  "bar"() : () -> ()\n}) : () -> ()',
    ),
    ("one-line function", "func.func @f() { return }", "func.func @f() {\n  return\n}"),
    (
        "generic type on the next line",
        '%0 = "t.a"()\n   : () -> i32\n"t.b"(%0) : (i32) -> ()',
        '%0 = "t.a"() : () -> i32\n"t.b"(%0) : (i32) -> ()',
    ),
    (
        "multi-line attribute dictionary",
        '"t.b"() {\n  a = 1,\n  b = "x"\n} : () -> ()',
        '"t.b"() {a = 1, b = "x"} : () -> ()',
    ),
    (
        "several ops on one line",
        "func.func @f(%a: i32) -> i32 { %0 = arith.addi %a, %a : i32 %1 = arith.muli %0, %0 : i32 return %1 : i32 }",
        "func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  %1 = arith.muli %0, %0 : i32\n"
        "  return %1 : i32\n}",
    ),
    (
        "block labels and successors on one line",
        '"t.r"() ({ ^bb0(%x: i32): "t.br"()[^bb1] : () -> () ^bb1: "t.y"(%x) : (i32) -> () }) : () -> ()',
        '"t.r"() ({\n^bb0(%x: i32):\n  "t.br"()[^bb1] : () -> ()\n^bb1:\n  "t.y"(%x) : (i32) -> ()\n}) : () -> ()',
    ),
    (
        "results split over lines",
        '%a,\n %b:2\n =\n "t.m"() : () -> (i1, i2, i3)',
        '%a, %b:2 = "t.m"() : () -> (i1, i2, i3)',
    ),
    ("aliases on one line", '#a = 1 : i32 !t = i32 "t.u"() {x = #a} : () -> !t', '"t.u"() {x = 1 : i32} : () -> i32'),
    (
        "comments between tokens",
        "func.func @f(%a: i32) // the argument\n  -> i32 // the result\n{ // body\n return %a : i32 }",
        "func.func @f(%a: i32) -> i32 {\n  return %a : i32\n}",
    ),
    ("module on one line", "module { func.func @f() { return } }", "func.func @f() {\n  return\n}"),
]


@pytest.mark.parametrize("layout,canonical", [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS])
def test_layout_parses_like_its_canonical_form(layout: str, canonical: str):
    got = irq.parse_module(layout, context=CONTEXT)
    want = irq.parse_module(canonical, context=CONTEXT)
    assert irq.structural_diff(got, want) is None
    assert irq.print_module(got) == irq.print_module(want)


def test_a_missing_token_is_reported_at_the_end_of_the_line():
    """As MLIR does: the error points after the last token of the statement, not at the next line."""
    text = '%0 = "t.a"() : () -> i32\n%1 = "t.b"(%0)\n%2 = "t.c"() : () -> i32\n'
    with pytest.raises(irq.ParseError) as info:
        irq.parse_module(text)
    assert (info.value.line, info.value.column) == (2, 15)
    assert "end of statement" in info.value.message and "':'" in info.value.expected


def test_a_dictionary_after_attributes_is_never_a_region():
    m = irq.parse_module("func.func @f() attributes {llvm.emit_c_interface} {\n  return\n}")
    f = next(iter(m.body.ops))
    assert "llvm.emit_c_interface" in f.attributes and len(list(f.regions[0].blocks)) == 1


def _pieces(text: str) -> list[tuple[str, str]]:
    """(token type, token text) of every token of printed IR (no comments in printed text)."""
    toks = [t for t in Lexer(text, "x").tokens() if t.type != "SEP"]
    out = []
    for i, t in enumerate(toks):
        end = toks[i + 1].pos if i + 1 < len(toks) else len(text)
        out.append((t.type, text[t.pos : end].rstrip(" \t\r\n")))
    return out


def _reflow(text: str, sep: str) -> str:
    pieces = _pieces(text)
    parts = []
    for i, (kind, piece) in enumerate(pieces):
        if i:
            # `torch.call "pkg.fn"(%x)`: only here a line break decides (see docs/design.md)
            keep_line = kind == "STRING" and pieces[i - 1][0] == "BARE_ID"
            parts.append(" " if keep_line else sep)
        parts.append(piece)
    return "".join(parts)


def _check_reflows(text: str) -> None:
    want = irq.parse_module(text, context=CONTEXT)
    for sep in (" ", "\n"):
        reflowed = _reflow(text, sep)
        try:
            got = irq.parse_module(reflowed, context=CONTEXT)
        except irq.ParseError as e:
            raise AssertionError(f"sep={sep!r}: {e}\n--- text ---\n{reflowed}") from None
        assert irq.structural_diff(got, want) is None, f"sep={sep!r}\n--- text ---\n{reflowed}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(m=modules())
def test_random_modules_parse_on_one_line_and_one_token_per_line(m):
    for generic in (False, True):
        _check_reflows(irq.print_module(m, generic=generic))


CORPUS = sorted((Path(__file__).parent / "ir").glob("*.mlir"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_parses_on_one_line_and_one_token_per_line(path: Path):
    m = irq.parse_file(path, context=CONTEXT)
    _check_reflows(irq.print_module(m, debuginfo=".debug." in path.name))
