"""The lexer's fast path (irq/text/fast_path.py) is the grammar path, only faster.

For every IR text of the suite (each `// -----` chunk, comments kept), for thousands of
seeded mutants of them and for generated leaf ops with random spacing, comments and line
breaks, parsing with the fast path on and off gives the same result: the same IR (printed
with locations, and structurally equal) or the same ParseError (message, line, column and
expected tokens). A fast path that accepted a statement the grammar rejects, read a token
differently, or converted attributes in another order would show up here as a difference.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irq
from irq.text import fast_path
from irq.text.lexer import Lexer
from irq.text.parser import _op_words
from tests.support import fuzz

ROOT = Path(__file__).resolve().parents[1]


def _chunks() -> list[str]:
    files = sorted((ROOT / "tests" / "ir").glob("*.mlir"))
    files += sorted((ROOT / "tests" / "filecheck").glob("**/*.irq"))
    files += sorted((ROOT / "tests" / "filecheck").glob("**/*.mlir"))
    files += sorted((ROOT / "examples").glob("*.irq"))
    out = []
    for f in files:
        out += [c for c in f.read_text(encoding="utf-8").split("// -----") if c.strip()]
    return out


CHUNKS = _chunks()


def _outcome(text: str, fast: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(fast_path, "FAST_PATH", fast)
    try:
        m = irq.parse_module(text, "in.mlir")
    except irq.ParseError as e:
        return ("error", e.message, e.line, e.column, tuple(e.expected or ()))
    return ("ok", irq.print_module(m, generic=True, debuginfo=True), m)


def _assert_same(text: str, monkeypatch) -> str:
    fast = _outcome(text, True, monkeypatch)
    slow = _outcome(text, False, monkeypatch)
    assert fast[:2] == slow[:2], text
    if fast[0] == "ok":
        assert irq.structurally_equal(fast[2], slow[2], locations=True), text
    else:
        assert fast == slow, text
    return fast[0]


def _fast_ops(text: str) -> int:
    ctx = irq.ir.dialect.default_context()
    count = 0
    try:
        for t in Lexer(text, "in.mlir", _op_words(ctx)).tokens():
            count += t.type == "FAST_OP"
    except irq.ParseError:
        pass
    return count


def test_the_corpus_exercises_the_fast_path():
    """Otherwise the comparisons below would compare the grammar path with itself."""
    assert len(CHUNKS) > 100
    assert sum(_fast_ops(c) > 0 for c in CHUNKS if "FAST_OP" not in c) > 50


def test_fast_path_takes_the_common_forms():
    text = (
        '%0 = "t.op"(%a, %b) <{p = 1 : i32}> {x = 0.5 : f32, d = [1, 2], s = "n", u} : (i32, i32) -> i32\n'
        "%1 = arith.addi %0, %0 : i32\n"
        "return %1 : i32\n"
        '"t.r"() : () -> ()\n'
    )
    assert _fast_ops(text) == 4
    # a region, a location or a nested dictionary is the grammar's
    assert _fast_ops('"t.op"() ({\n}) : () -> ()\n') == 0
    assert _fast_ops('"t.op"() : () -> () loc("a":1:2)\n') == 0
    assert _fast_ops('"t.op"() {d = {k = 1}} : () -> ()\n') == 0


def test_fast_path_is_on_by_default():
    assert fast_path.FAST_PATH


def test_corpus_parses_the_same_either_way(monkeypatch):
    kinds = {_assert_same(c, monkeypatch) for c in CHUNKS}
    assert kinds == {"ok", "error"}  # both valid and invalid inputs were compared


def test_mutants_parse_the_same_either_way(monkeypatch):
    rng = random.Random(13)
    texts = fuzz.corpus() + CHUNKS
    kinds = []
    for _ in range(1500):
        kinds.append(_assert_same(fuzz.mutate(rng.choice(texts), rng), monkeypatch))
    assert kinds.count("ok") > 100 and kinds.count("error") > 100


# -- generated leaf ops: every token separated by random blanks, line breaks and comments -------
_SPACE = st.sampled_from(["", " ", "  ", "\n", " // c, %x = 1 : i32\n", "\t", "\n\n  "])
_TYPES = st.sampled_from(["i32", "f32", "index", "tensor<2x?xf32>", "memref<4xf32, 1>", "none", "i1", "bf16"])
_LITERALS = st.sampled_from(
    ["1", "-3", "0x10", "-0x10", "-0x", "1.5", "-2.5e3", "1.", '"s"', '"a,b:c"', "true", "unit", "foo", "@sym",
     "i32", "dense<1>", "dense<[1, 2]>", "array<i32: 1>", "[]", "[1, 2]", "[1 : i32, \"x\"]", "[[1], 2]", "12abc", "%v"]
)


@st.composite
def _statement(draw) -> str:
    sp = lambda: draw(_SPACE)  # noqa: E731
    parts = []
    if draw(st.booleans()):
        parts += ["%r", sp(), "=", sp()]
    if draw(st.booleans()):  # generic
        operands = draw(st.lists(st.sampled_from(["%a", "%b", "%r", "%a#1", "%0x"]), max_size=3))
        parts += ['"t.op"', sp(), "(", sp()]
        for i, o in enumerate(operands):
            parts += ([",", sp()] if i else []) + [o, sp()]
        parts += [")", sp()]
        for opener, closer in (("<{", "}>"), ("{", "}")):
            if draw(st.booleans()):
                parts += [opener, sp()]
                for i in range(draw(st.integers(0, 3))):
                    parts += ([",", sp()] if i else []) + [draw(st.sampled_from(["k", "j", '"q"', "i32"])), sp()]
                    if draw(st.booleans()):
                        parts += ["=", sp(), draw(_LITERALS), sp()]
                        if draw(st.booleans()):
                            parts += [":", sp(), draw(_TYPES), sp()]
                parts += [closer, sp()]
        parts += [":", sp(), "(", sp()]
        ins = [draw(_TYPES) for _ in operands] if draw(st.integers(0, 9)) else [draw(_TYPES)]
        for i, t in enumerate(ins):
            parts += ([",", sp()] if i else []) + [t, sp()]
        parts += [")", sp(), "->", sp()]
        parts += [draw(st.sampled_from(["i32", "(i32)", "()", "(f32, i1)", "tensor<2x?xf32>"]))]
    else:  # custom
        parts += [draw(st.sampled_from(["arith.addi", "arith.constant", "return", "func.return", "test.x", "foo"]))]
        for _ in range(draw(st.integers(0, 5))):
            item = draw(st.sampled_from(["%a", "%b", ",", ":", "i32", "f32", "1", "-0x1", "2.0", "slt", "%r"]))
            parts += [sp(), item]
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(st.lists(_statement(), min_size=1, max_size=4), st.sampled_from(["", " ", "\n", " // end\n"]))
def test_generated_statements_parse_the_same_either_way(statements, tail):
    # the values the statements use are defined by the enclosing function's arguments
    body = "\n".join(statements)
    text = f"func.func @f(%a: i32, %b: i32) {{\n{body}{tail}\n}}\n"
    with pytest.MonkeyPatch.context() as mp:
        _assert_same(text, mp)
        _assert_same(body + tail, mp)
