"""bpu.compare / bpu.select (issue 12) and the parameters lower-bpu gives them (irq.selection), against oracles
that share no code with the runtimes: Python's integers and exact rationals.

- irq.selection.compare_threshold: for every int8 code, every predicate and numbers on, next to and between code
  boundaries (and +-inf, nan), ``q <pred'> t`` equals the exact ``Fraction(q) * s <pred> Fraction(c)``; the
  case where float32's ``q * s`` rounds onto c (c = 0.5, s = float32(0.1), q = 5) is pinned.
- fill_code: -inf / +inf saturate, ties round to even, nan is refused.
- The reference runtime's bpu.compare / bpu.select against Python's integer predicates element by element, and
  numba equal to it bit for bit on random shapes with broadcasting (hypothesis), parsed from text (so the ops
  print and parse back).
- The verifiers refuse what has no meaning: an unknown predicate, both or neither of rhs and threshold,
  a select whose values are not in the result's dtype, shapes that do not broadcast.

Bugs each catches: a threshold one code off (floor vs ceil, a float division), eq at a non-integer ratio
matching a code, -inf filled as 0 or as a wrapped code, a select with the branches swapped, a broadcast mask
read with the wrong stride, numba and the reference disagreeing on a predicate code.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference

import irq
from irq import selection

_EXACT = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
          "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def _values(scale: float) -> list[float]:
    """Numbers on a code boundary, a hair either side of one, halfway between two, far outside, and the
    non-finite ones."""
    out = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e9, -1e9]
    for k in (-129, -128, -3, -1, 1, 2, 127, 128):
        edge = k * scale
        out += [edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf), (k + 0.5) * scale]
    return out


@pytest.mark.parametrize("scale", [float(np.float32(0.1)), 0.0625, float(np.float32(0.0213)), 1.0])
@pytest.mark.parametrize("predicate", selection.PREDICATES)
def test_threshold_agrees_with_exact_rationals_for_every_int8_code(predicate, scale):
    for value in _values(scale):
        p, t = selection.compare_threshold(predicate, value, scale)
        for q in range(-128, 128):
            if math.isnan(value):
                want = predicate == "ne"
            elif math.isinf(value):
                want = _EXACT[predicate](0, 1 if value > 0 else -1)  # every code is finite
            else:
                want = _EXACT[predicate](Fraction(q) * Fraction(scale), Fraction(value))
            assert selection.holds(p, q, t) == want, (predicate, value, scale, q, p, t)


def test_a_product_float32_rounds_onto_the_number_compares_by_its_exact_value():
    """float32(5 * float32(0.1)) == 0.5, but 5 * 0.100000001490116 > 0.5: the deployed mask says 5 > 0.5 / s."""
    s = float(np.float32(0.1))
    assert float(np.float32(5) * np.float32(s)) == 0.5
    assert selection.compare_threshold("gt", 0.5, s) == ("gt", 4)
    assert selection.compare_threshold("eq", 0.5, s) == selection.NEVER


def test_fill_codes_saturate_and_round_half_to_even():
    assert selection.fill_code(float("-inf"), 0.1, "i8") == -128
    assert selection.fill_code(float("inf"), 0.1, "i16") == 32767
    assert selection.fill_code(-1e9, 0.1, "i8") == -128
    assert selection.fill_code(0.25, 0.5, "i8") == 0 and selection.fill_code(0.75, 0.5, "i8") == 2
    with pytest.raises(ValueError, match="nan"):
        selection.fill_code(float("nan"), 0.1, "i8")


def _run_text(body: str, args: list[tuple[str, tuple[int, ...], str]], result: str, *inputs):
    sig = ", ".join(f"%{n}: tensor<{'x'.join(map(str, s))}x{t}>" for n, s, t in args)
    program = irq.parse_module(f"func.func @f({sig}) -> {result} {{\n{body}\n}}")
    irq.verify(program)
    again = irq.parse_module(program.to_text())  # the ops print and parse back
    assert again.to_text() == program.to_text()
    want = reference.run(program, *inputs)[0]
    got = rn.compile(program)(*inputs)
    got = got[0] if isinstance(got, (list, tuple)) else got
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    return want


def _t(shape, dtype: str) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


_SHAPES = st.sampled_from([((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (1, 3, 1)), ((4, 1), (1, 5)), ((6,), (1,)),
                           ((2, 1, 1, 5), (2, 3, 5, 5))])


@given(shapes=_SHAPES, predicate=st.sampled_from(selection.PREDICATES), dtypes=st.sampled_from(
    [("i8", "i8"), ("i16", "i8"), ("i16", "i16"), ("i64", "i64")]), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_compare_of_two_tensors_matches_python_integers(shapes, predicate, dtypes, seed):
    rng = np.random.default_rng(seed)
    (sa, sb), (da, db) = shapes, dtypes
    a = rng.integers(-4, 4, sa).astype(np.dtype(f"int{da[1:]}"))  # a small range: ties happen
    b = rng.integers(-4, 4, sb).astype(np.dtype(f"int{db[1:]}"))
    out = np.broadcast_shapes(sa, sb)
    got = _run_text(f"  %m = bpu.compare %a, %b {{predicate = \"{predicate}\"}} : ({_t(sa, da)}, {_t(sb, db)}) -> "
                    f"{_t(out, 'i8')}\n  return %m : {_t(out, 'i8')}", [("a", sa, da), ("b", sb, db)],
                    _t(out, "i8"), a, b)
    ab, bb = np.broadcast_arrays(a, b)
    want = [int(_EXACT[predicate](int(x), int(y))) for x, y in zip(ab.ravel(), bb.ravel())]
    np.testing.assert_array_equal(got.ravel(), want)


@given(predicate=st.sampled_from(selection.PREDICATES), threshold=st.sampled_from(
    [-(2**63), -32769, -129, -128, -1, 0, 1, 127, 128, 32767, 2**63 - 1]), dtype=st.sampled_from(["i8", "i16", "i64"]),
       seed=st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_compare_with_a_threshold_matches_python_integers(predicate, threshold, dtype, seed):
    lo, hi = {"i8": (-128, 128), "i16": (-32768, 32768), "i64": (-(2**40), 2**40)}[dtype]
    a = np.random.default_rng(seed).integers(lo, hi, (3, 7)).astype(np.dtype(f"int{dtype[1:]}"))
    a.flat[:2] = (lo, hi - 1)
    got = _run_text(f"  %m = bpu.compare %a {{predicate = \"{predicate}\", threshold = {threshold} : i64}} : "
                    f"({_t((3, 7), dtype)}) -> {_t((3, 7), 'i8')}\n  return %m : {_t((3, 7), 'i8')}",
                    [("a", (3, 7), dtype)], _t((3, 7), "i8"), a)
    np.testing.assert_array_equal(got.ravel(), [int(_EXACT[predicate](int(x), threshold)) for x in a.ravel()])


@given(shapes=st.sampled_from([((2, 3, 4), (2, 3, 4), (2, 3, 4)), ((2, 1, 1, 4), (2, 3, 4, 4), (1,)),
                               ((1, 4), (3, 1), (3, 4)), ((5,), (5,), (1,))]),
       dtype=st.sampled_from(["i8", "i16"]), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_select_matches_python_picks(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes
    lo, hi = (-128, 128) if dtype == "i8" else (-32768, 32768)
    cond = rng.integers(0, 2, sc).astype(np.int8)
    a, b = (rng.integers(lo, hi, s).astype(np.dtype(f"int{dtype[1:]}")) for s in (sa, sb))
    out = np.broadcast_shapes(sc, sa, sb)
    args = [("c", sc, "i8"), ("a", sa, dtype), ("b", sb, dtype)]
    got = _run_text(f"  %y = bpu.select %c, %a, %b : ({_t(sc, 'i8')}, {_t(sa, dtype)}, {_t(sb, dtype)}) -> "
                    f"{_t(out, dtype)}\n  return %y : {_t(out, dtype)}", args, _t(out, dtype), cond, a, b)
    cb, ab, bb = np.broadcast_arrays(cond, a, b)
    np.testing.assert_array_equal(got.ravel(), [int(x) if int(c) else int(y)
                                                for c, x, y in zip(cb.ravel(), ab.ravel(), bb.ravel())])


@pytest.mark.parametrize("op, message", [
    ('bpu.compare %a {predicate = "gte", threshold = 0 : i64} : (tensor<4xi8>) -> tensor<4xi8>', "predicate"),
    ('bpu.compare %a {predicate = "gt"} : (tensor<4xi8>) -> tensor<4xi8>', "exactly one"),
    ('bpu.compare %a, %a {predicate = "gt", threshold = 0 : i64} : (tensor<4xi8>, tensor<4xi8>) -> tensor<4xi8>',
     "exactly one"),
    ('bpu.compare %a {predicate = "gt", threshold = 0 : i64} : (tensor<4xi8>) -> tensor<5xi8>', "broadcast"),
    ('bpu.select %a, %a, %w : (tensor<4xi8>, tensor<4xi8>, tensor<4xi16>) -> tensor<4xi8>', "requantize"),
    ('bpu.select %a, %a, %a : (tensor<4xi8>, tensor<4xi8>, tensor<4xi8>) -> tensor<2x4xi8>', "broadcast"),
])
def test_the_verifier_refuses_what_has_no_meaning(op, message):
    src = (f"func.func @f(%a: tensor<4xi8>, %w: tensor<4xi16>) -> () {{\n  %r = {op}\n  return\n}}")
    with pytest.raises(Exception, match=message):
        irq.verify(irq.parse_module(src))
