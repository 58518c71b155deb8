"""Types and attributes: interning, element types, floats by bit pattern, dense and resource elements."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from irq.dialects.builtin import ModuleOp

import irq
from irq.ir import (
    ArrayAttr,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceElementsAttr,
    DictionaryAttr,
    FloatAttr,
    FloatType,
    FunctionType,
    IndexType,
    IntegerAttr,
    IntegerType,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
    TypeAttr,
    UnitAttr,
    VectorType,
)
from irq.ir.types import bf16, f16, f32, f64, i1, i8, i32, i64
from tests.support.ir_builders import mk


# ----------------------------------------------------------------------------- types
class TestTypes:
    def test_interning(self):
        assert TensorType((1, 2), f32) is TensorType((1, 2), f32)
        assert TensorType([1, 2], f32) is TensorType((1, 2), f32)
        assert TensorType((1, None), f32) is TensorType((1, None), f32)
        assert TensorType((1, 2), f32) is not TensorType((2, 1), f32)
        assert TensorType(None, f32) is not TensorType((), f32)
        assert IntegerType(8) is i8 and IntegerType(8, "s") is not i8
        assert FloatType("bf16") is bf16
        assert FunctionType([i32], [f32]) is FunctionType((i32,), (f32,))
        assert TupleType([i32, TupleType([])]) is TupleType((i32, TupleType(())))
        assert VectorType((4,), f16) is VectorType([4], f16)
        assert IndexType() is IndexType()

    def test_text(self):
        assert str(TensorType((1, None, 3), f32)) == "tensor<1x?x3xf32>"
        assert str(TensorType(None, i8)) == "tensor<*xi8>"
        assert str(TensorType((), f64)) == "tensor<f64>"
        assert str(IntegerType(4, "u")) == "ui4"
        assert str(FunctionType([i32], [FunctionType([], [])])) == "(i32) -> (() -> ())"
        assert str(FunctionType([], [i32, i32])) == "() -> (i32, i32)"

    def test_immutability_and_validation(self):
        with pytest.raises(AttributeError):
            i32.width = 9
        with pytest.raises(ValueError):
            IntegerType(-1)  # (MLIR has i0)
        with pytest.raises(ValueError):
            TensorType((-1,), f32)
        with pytest.raises(ValueError):
            VectorType((None,), f32)
        with pytest.raises(ValueError):
            FloatType("f17")

    def test_types_hash_by_identity(self):
        assert len({TensorType((1,), f32), TensorType((1,), f32), TensorType((2,), f32)}) == 2


# ----------------------------------------------------------------------------- attributes
class TestAttributes:
    def test_float_equality_is_bitwise(self):
        nan = float("nan")
        assert FloatAttr(nan, f32) == FloatAttr(nan, f32)
        assert hash(FloatAttr(nan, f32)) == hash(FloatAttr(nan, f32))
        assert FloatAttr(-0.0) != FloatAttr(0.0)
        assert FloatAttr(1.0, f32) != FloatAttr(1.0, f64)
        assert FloatAttr(0.1, f32) == FloatAttr(float(np.float32(0.1)), f32)  # rounded on construction
        assert FloatAttr(0.1, f32).value != 0.1
        assert len({FloatAttr(nan), FloatAttr(nan), FloatAttr(-0.0), FloatAttr(0.0)}) == 3

    def test_float_rounding_to_type(self):
        assert FloatAttr(1e10, f16).value == math.inf
        # bf16 keeps 7 fraction bits: ulp(1.0) = 2**-7; halfway cases round to even
        assert FloatAttr(1.0 + 2 ** -8, bf16).value == 1.0
        assert FloatAttr(1.0 + 3 * 2 ** -8, bf16).value == 1.0 + 2 ** -6
        assert FloatAttr(1.0 + 3 * 2 ** -9, bf16).value == 1.0 + 2 ** -7
        assert FloatAttr(2 ** -149, f32).value == 2 ** -149          # smallest f32 denormal survives

    def test_bf16_rounds_doubles_once(self):
        """Doubles round to bf16 directly (as MLIR's APFloat does), not through a nearest f32.

        Oracle: exact rational arithmetic, round half to even on bf16's 8-bit significand.
        """
        def oracle(x: float) -> float:
            q = Fraction(abs(x))
            exp = max(q.numerator.bit_length() - q.denominator.bit_length(), -126)
            if Fraction(2) ** exp > q:
                exp -= 1
            ulp = Fraction(2) ** (max(exp, -126) - 7)
            n, rem = divmod(q, ulp)
            if rem > ulp / 2 or (rem == ulp / 2 and n % 2):
                n += 1
            r = n * ulp
            return math.copysign(math.inf if r >= 2 ** 128 else float(r), x)

        rng = np.random.default_rng(7)
        cases = [1 + 2 ** -8 + 2 ** -40, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 2 ** -133 * 1.5 + 2 ** -160, 3.3961e38, 1e39]
        for _ in range(2000):  # doubles just off bf16 midpoints: where double rounding goes wrong
            mid = float(np.float32(rng.uniform(-1, 1) * 2.0 ** rng.integers(-130, 127)))
            bits = int(np.float32(mid).view(np.uint32)) & 0xFFFF0000 | 0x8000
            cases.append(float(np.uint32(bits).view(np.float32)) * (1 + rng.choice([-1, 1]) * 2.0 ** -45))
        got_vec = DenseElementsAttr(TensorType((len(cases),), bf16), np.array(cases)).to_numpy()
        for x, v in zip(cases, got_vec.tolist()):
            assert FloatAttr(x, bf16).value == oracle(x) == v, x

    def test_exact_bits_nan_payloads_survive_text(self):
        snan = FloatAttr.from_bits(0x7F800001, f32)  # a signalling NaN: a Python float would quiet it
        assert snan._bits == 0x7F800001 and math.isnan(snan.value)
        assert snan != FloatAttr(float("nan"), f32)
        with pytest.raises(ValueError):
            FloatAttr.from_bits(0x10000, f16)
        body = ('a = 0x7C01 : f16, b = 0x7F800001 : f32, c = 0xFFC1 : bf16, d = 0x7FF0000000000001 : f64, '
                'e = dense<[0x7E05, 1.5, 0xFC00]> : tensor<3xf16>, f = dense<0x7F800002> : tensor<2xf32>')
        text = f'"builtin.module"() ({{\n  "t.c"() {{{body}}} : () -> ()\n}}) : () -> ()\n'
        m = irq.parse_module(text)
        assert irq.print_module(m, generic=True) == text
        attrs = next(m.ops).attributes
        assert attrs["b"] == snan
        assert attrs["e"].raw.view(np.uint16).tolist() == [0x7E05, 0x3E00, 0xFC00]

    def test_float_text_is_shortest_that_reads_back(self):
        assert str(FloatAttr(0.1, bf16)) == "0.1 : bf16"          # not the f32 digits 0.10009766
        assert str(FloatAttr(0.1, f32)) == "0.1 : f32"
        assert str(FloatAttr(0.1)) == "0.1 : f64"
        assert str(FloatAttr(1e-5, f16)) == "1.0e-05 : f16"
        assert str(FloatAttr(1 / 3)) == "0.3333333333333333 : f64"  # all 17 digits: %e would drop bits
        assert str(FloatAttr(float("-inf"), bf16)) == "0xFF80 : bf16"
        for kind in ("f16", "bf16", "f32", "f64"):
            for v in (0.1, 1 / 3, 65504.0, 3.0e38, 1e-300, 5e-324, -2.5e-7):
                a = FloatAttr(v, FloatType(kind))
                again = next(irq.parse_module(f'"t.c"() {{v = {a}}} : () -> ()').ops).attributes["v"]
                assert again == a, (kind, v, str(a))

    def test_integer_attributes(self):
        assert IntegerAttr(5, i32) == IntegerAttr(5, i32) and IntegerAttr(5, i32) != IntegerAttr(5, i64)
        assert isinstance(IntegerAttr(1, i1), BoolAttr) and IntegerAttr(1, i1) == BoolAttr(True)
        # signless admits the unsigned reading and keeps the bits, read signed as MLIR prints them
        assert IntegerAttr(255, i8).value == -1 and IntegerAttr(255, i8) == IntegerAttr(-1, i8)
        with pytest.raises(ValueError):
            IntegerAttr(256, i8)
        with pytest.raises(ValueError):
            IntegerAttr(-1, IntegerType(8, "u"))
        with pytest.raises(TypeError):
            IntegerAttr(1, f32)

    def test_structured_attributes(self):
        assert ArrayAttr([IntegerAttr(1), StringAttr("a")]) == ArrayAttr((IntegerAttr(1), StringAttr("a")))
        d1 = DictionaryAttr({"a": UnitAttr(), "b": IntegerAttr(1)})
        d2 = DictionaryAttr({"b": IntegerAttr(1), "a": UnitAttr()})
        assert d1 == d2 and hash(d1) == hash(d2)
        assert UnitAttr() is UnitAttr()
        assert SymbolRefAttr("a", ["b"]) == SymbolRefAttr("a", ("b",)) != SymbolRefAttr("a")
        assert str(SymbolRefAttr("a", ["b c"])) == '@a::@"b c"'
        assert TypeAttr(i32) == TypeAttr(IntegerType(32))
        assert DenseArrayAttr(f32, [float("nan")]) == DenseArrayAttr(f32, [float("nan")])
        assert DenseArrayAttr(f32, [-0.0]) != DenseArrayAttr(f32, [0.0])
        assert StringAttr("a") != TypeAttr(i32)
        with pytest.raises(AttributeError):
            StringAttr("a").value = "b"

    def test_to_attribute(self):
        assert irq.to_attribute([1, 2.0, "s", True]) == ArrayAttr(
            [IntegerAttr(1, i64), FloatAttr(2.0, f64), StringAttr("s"), BoolAttr(True)])
        assert irq.to_attribute({"k": None}) == DictionaryAttr({"k": UnitAttr()})


class TestDense:
    def test_splat_detection(self):
        t = TensorType((2, 3), f32)
        s = DenseElementsAttr(t, np.full((2, 3), 0.5, np.float32))
        assert s.is_splat and s.raw.shape == ()  # stored once, not 6 times
        assert str(s) == "dense<0.5> : tensor<2x3xf32>"
        assert s == DenseElementsAttr(t, 0.5) and hash(s) == hash(DenseElementsAttr(t, 0.5))
        assert s.to_numpy().shape == (2, 3) and (s.to_numpy() == 0.5).all()
        full = DenseElementsAttr(t, np.arange(6, dtype=np.float32))
        assert not full.is_splat and full.to_numpy().shape == (2, 3)
        # -0.0 and 0.0 differ by bits: not a splat
        assert not DenseElementsAttr(TensorType((2,), f32), [0.0, -0.0]).is_splat
        # NaNs with identical bits are a splat
        assert DenseElementsAttr(TensorType((2,), f32), [math.nan, math.nan]).is_splat

    def test_bool_and_integer_elements(self):
        b = DenseElementsAttr(TensorType((3,), i1), [True, False, True])
        assert str(b) == "dense<[true, false, true]> : tensor<3xi1>"
        assert DenseElementsAttr(TensorType((2,), i1), [True, True]).is_splat
        with pytest.raises(ValueError):
            DenseElementsAttr(TensorType((2,), i8), [1, 300])
        with pytest.raises(ValueError):
            DenseElementsAttr(TensorType((3,), i8), [1, 2])

    def test_bf16_storage_and_rounding(self):
        t = TensorType((3,), bf16)
        d = DenseElementsAttr(t, np.array([1.0, 1.0 + 2 ** -9, -2.5], np.float32))
        assert d.raw.dtype == np.uint16
        assert list(d.raw) == [0x3F80, 0x3F80, 0xC020]
        assert list(d.to_numpy()) == [1.0, 1.0, -2.5]
        again = irq.parse_module(f'"t.c"() {{v = {d}}} : () -> ()')
        assert next(again.ops).attributes["v"] == d

    def test_empty_tensor_has_one_representation(self):
        t = TensorType((0,), f32)
        a = DenseElementsAttr(t, [])
        assert not a.is_splat and a.to_numpy().shape == (0,)
        assert DenseElementsAttr(t, 0.0) == a
        assert str(a) == "dense<> : tensor<0xf32>"

    def test_dense_resource_from_array_round_trip(self):
        data = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
        t = TensorType((3, 4), f32)
        attr = DenseResourceElementsAttr.from_array("w0", t, data)
        assert attr.key == "w0" and np.array_equal(attr.to_numpy(), data)
        m = ModuleOp([mk("t.const", results=0, attributes={"value": attr})])
        text = irq.print_module(m)
        assert "dense_resource<w0> : tensor<3x4xf32>" in text and "dialect_resources" in text
        assert "0x04000000" in text  # alignment header: float32 -> 4
        m2 = irq.parse_module(text)
        got = next(m2.ops).attributes["value"]
        assert isinstance(got, DenseResourceElementsAttr)
        assert np.array_equal(got.to_numpy(), data) and got.to_numpy().dtype == np.float32
        assert got == attr
        assert irq.print_module(m2) == text

    def test_dense_resource_bf16_and_int(self):
        a = DenseResourceElementsAttr.from_array("b", TensorType((2,), bf16), np.array([1.5, -3.0], np.float32))
        i = DenseResourceElementsAttr.from_array("i", TensorType((2, 2), IntegerType(8, "u")), [[0, 255], [7, 8]])
        m = ModuleOp([mk("t.c", results=0, attributes={"a": a, "i": i})])
        m2 = irq.parse_module(irq.print_module(m))
        op = next(m2.ops)
        assert list(op.attributes["a"].to_numpy()) == [1.5, -3.0]
        assert op.attributes["i"].to_numpy().tolist() == [[0, 255], [7, 8]]
