"""The in-memory IR: use lists, blocks, op mutation, walking, cloning, types, attributes, declarative ops."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from irq.dialects.builtin import ModuleOp

import irq
from irq.ir import (
    ArrayAttr,
    Block,
    BoolAttr,
    Context,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceElementsAttr,
    Dialect,
    DictionaryAttr,
    FloatAttr,
    FloatType,
    FunctionType,
    IndexType,
    IntegerAttr,
    IntegerType,
    IRMapping,
    Op,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
    TypeAttr,
    UnitAttr,
    UnregisteredOp,
    VectorType,
    attribute,
    operand,
    optional_operand,
    region,
    result,
    variadic_operand,
    variadic_result,
)
from irq.ir.traits import Pure
from irq.ir.types import bf16, f16, f32, f64, i1, i8, i32, i64


def mk(name: str, *operands, results: int = 1, regions: int = 0, **kw) -> UnregisteredOp:
    return UnregisteredOp(name, operands=operands, result_types=[i32] * results, regions=regions, **kw)


def check_use_list(v) -> None:
    """Every use knows its slot, and the slot holds it; every use points back at `v`."""
    for slot, u in enumerate(v._uses):
        assert u._slot == slot
        assert u.owner.operands[u.index] is v


# ----------------------------------------------------------------------------- use lists
class TestUseLists:
    def test_uses_are_recorded_per_operand_slot(self):
        a = mk("t.a")
        user = mk("t.u", a.result, a.result, results=0)
        v = a.result
        assert v.num_uses == 2 and v.has_uses() and not v.has_one_use()
        assert [u.index for u in v.uses] == [0, 1]
        assert list(v.users) == [user, user]
        check_use_list(v)

    def test_remove_swaps_last_use_into_hole(self):
        a = mk("t.a")
        v = a.result
        users = [mk(f"t.u{i}", v, results=0) for i in range(4)]
        other = mk("t.o").result
        users[1].set_operand(0, other)
        # O(1) removal: the last use moved into slot 1, nothing else moved
        assert [u.owner for u in v._uses] == [users[0], users[3], users[2]]
        check_use_list(v)
        check_use_list(other)
        users[0].set_operand(0, other)
        assert [u.owner for u in v._uses] == [users[2], users[3]]
        check_use_list(v)
        assert other.num_uses == 2

    def test_set_operand_same_value_is_noop(self):
        a = mk("t.a")
        u = mk("t.u", a.result, results=0)
        u.set_operand(0, a.result)
        assert a.result.num_uses == 1
        check_use_list(a.result)

    def test_replace_all_uses_with(self):
        a, b = mk("t.a"), mk("t.b")
        u1 = mk("t.u", a.result, b.result, a.result)
        u2 = mk("t.u", a.result)
        a.result.replace_all_uses_with(b.result)
        assert not a.result.has_uses()
        assert u1.operands == (b.result, b.result, b.result)
        assert u2.operands == (b.result,)
        assert b.result.num_uses == 4
        check_use_list(b.result)
        # replacing with itself keeps everything
        b.result.replace_all_uses_with(b.result)
        assert b.result.num_uses == 4

    def test_op_replace_all_uses_with_checks_arity(self):
        a = mk("t.a", results=2)
        b = mk("t.b", results=2)
        u = mk("t.u", a.results[1], a.results[0])
        a.replace_all_uses_with(b)
        assert u.operands == (b.results[1], b.results[0])
        with pytest.raises(ValueError):
            a.replace_all_uses_with([b.results[0]])

    def test_set_insert_erase_operands_keep_uses_consistent(self):
        a, b, c = mk("t.a"), mk("t.b"), mk("t.c")
        u = mk("t.u", a.result, b.result)
        u.insert_operand(1, c.result)
        assert u.operands == (a.result, c.result, b.result)
        assert [x.index for x in u.operand_uses] == [0, 1, 2]
        u.erase_operand(0)
        assert u.operands == (c.result, b.result)
        assert not a.result.has_uses()
        for v in (a.result, b.result, c.result):
            check_use_list(v)
        assert b.result.uses[0].index == 1

    def test_replace_uses_where(self):
        a, b = mk("t.a"), mk("t.b")
        u1 = mk("t.u1", a.result)
        u2 = mk("t.u2", a.result)
        a.result.replace_uses_where(b.result, lambda use: use.owner is u2)
        assert u1.operands == (a.result,) and u2.operands == (b.result,)


# ----------------------------------------------------------------------------- blocks
class TestBlocks:
    def names(self, block):
        return [o.name for o in block.ops]

    def test_insertion_positions(self):
        blk = Block()
        b = blk.append(mk("t.b"))
        blk.prepend(mk("t.a"))
        d = blk.append(mk("t.d"))
        blk.insert_before(d, mk("t.c"))
        blk.insert_after(d, mk("t.e"))
        blk.insert_after(b, mk("t.b2"))
        assert self.names(blk) == ["t.a", "t.b", "t.b2", "t.c", "t.d", "t.e"]
        assert [o.name for o in blk.ops_reversed()] == list(reversed(self.names(blk)))
        assert len(blk) == 6
        assert blk.first_op.name == "t.a" and blk.last_op.name == "t.e"
        assert d.prev_op.name == "t.c" and d.next_op.name == "t.e"
        assert all(o.parent is blk for o in blk.ops)

    def test_inserting_attached_op_or_foreign_anchor_fails(self):
        b1, b2 = Block(), Block()
        x = b1.append(mk("t.x"))
        with pytest.raises(ValueError):
            b2.append(x)
        with pytest.raises(ValueError):
            b2.insert_before(x, mk("t.y"))

    def test_detach_and_erase(self):
        blk = Block()
        a, b, c = (blk.append(mk(n)) for n in ("t.a", "t.b", "t.c"))
        b.detach()
        assert self.names(blk) == ["t.a", "t.c"] and b.parent is None and len(blk) == 2
        assert a.next_op is c and c.prev_op is a
        blk.append(b)
        c.erase()
        assert self.names(blk) == ["t.a", "t.b"]
        a.erase()
        b.erase()
        assert blk.is_empty() and blk.first_op is None and blk.last_op is None and len(blk) == 0

    def test_erasing_the_yielded_op_while_iterating_is_safe(self):
        blk = Block()
        for i in range(5):
            blk.append(mk(f"t.{i}"))
        for op in blk.ops:
            if op.name in ("t.1", "t.2", "t.4"):
                op.erase()
        assert self.names(blk) == ["t.0", "t.3"]

    def test_block_detach_and_erase(self):
        outer = mk("t.outer", regions=1)
        r = outer.regions[0]
        b0 = r.add_block(Block([i32]))
        b1 = r.add_block(Block())
        user = b0.append(mk("t.use", b0.args[0]))
        b0.append(mk("t.use2", user.result))
        b1.detach()
        assert r.blocks == [b0] and b1.parent is None
        b0.erase()  # ops inside use the block's argument and each other: fine
        assert r.blocks == [] and not b0.args[0].has_uses()

    def test_block_erase_refuses_when_argument_used_outside(self):
        outer = mk("t.outer", regions=1)
        blk = outer.regions[0].add_block(Block([i32]))
        inner = blk.append(mk("t.inner", results=0))
        other = Block()
        other.append(mk("t.user", blk.args[0]))
        with pytest.raises(ValueError):
            blk.erase()
        # nothing was destroyed by the refused erase
        assert blk.parent is outer.regions[0] and inner.parent is blk

    def test_block_arguments(self):
        blk = Block([i32, f32])
        x = blk.insert_argument(1, i64)
        assert [a.type for a in blk.args] == [i32, i64, f32]
        assert [a.index for a in blk.args] == [0, 1, 2]
        mk("t.u", x)
        with pytest.raises(ValueError):
            blk.erase_argument(1)
        blk.erase_argument(0)
        assert [a.index for a in blk.args] == [0, 1] and blk.arg_types == (i64, f32)


class TestOpMutation:
    def test_erase_refuses_when_results_are_used(self):
        blk = Block()
        a = blk.append(mk("t.a"))
        b = blk.append(mk("t.b", a.result))
        with pytest.raises(ValueError, match="still used"):
            a.erase()
        assert a.parent is blk
        b.erase()
        a.erase()
        assert blk.is_empty()

    def test_erase_drops_operand_uses_of_nested_ops(self):
        blk = Block()
        a = blk.append(mk("t.a"))
        holder = blk.append(mk("t.h", results=0, regions=1))
        inner = holder.regions[0].add_block()
        inner.append(mk("t.use", a.result))
        assert a.result.num_uses == 1
        holder.erase()
        assert a.result.num_uses == 0

    def test_move_before_after(self):
        blk = Block()
        a, b, c = (blk.append(mk(n)) for n in ("t.a", "t.b", "t.c"))
        c.move_before(a)
        assert [o.name for o in blk.ops] == ["t.c", "t.a", "t.b"]
        c.move_after(b)
        assert [o.name for o in blk.ops] == ["t.a", "t.b", "t.c"]
        other = Block()
        d = other.append(mk("t.d"))
        a.move_after(d)
        assert [o.name for o in other.ops] == ["t.d", "t.a"] and a.parent is other
        assert [o.name for o in blk.ops] == ["t.b", "t.c"]
        b.move_before(b)  # moving relative to itself leaves it in place
        assert [o.name for o in blk.ops] == ["t.b", "t.c"]

    def test_is_before_in_block_tracks_mutation(self):
        blk = Block()
        a, b, c = (blk.append(mk(n)) for n in ("t.a", "t.b", "t.c"))
        assert a.is_before_in_block(b) and b.is_before_in_block(c) and not c.is_before_in_block(a)
        assert not a.is_before_in_block(a)
        c.move_before(a)
        assert c.is_before_in_block(a) and not b.is_before_in_block(c)
        n = blk.insert_after(c, mk("t.n"))
        assert c.is_before_in_block(n) and n.is_before_in_block(a)
        with pytest.raises(ValueError):
            a.is_before_in_block(mk("t.free"))

    def test_attributes_and_properties(self):
        op = mk("t.a", properties={"p": IntegerAttr(1)}, attributes={"d": StringAttr("x")})
        assert op.get_attr("p") == IntegerAttr(1) and op.get_attr("d") == StringAttr("x")
        op.set_attr("p", IntegerAttr(2))  # an existing property stays a property
        op.set_attr("new", UnitAttr())
        assert op.properties == {"p": IntegerAttr(2)} and "new" in op.attributes
        assert op.remove_attr("d") == StringAttr("x") and op.get_attr("d") is None
        assert op.get_attr("missing", 5) == 5


# ----------------------------------------------------------------------------- walk
def build_nest():
    """root{ a; b{ c; d{ e } }; f{ [g], [h] } } — f has two regions."""
    root = mk("t.root", results=0, regions=1)
    rb = root.regions[0].add_block()
    rb.append(mk("t.a", results=0))
    b = rb.append(mk("t.b", results=0, regions=1))
    bb = b.regions[0].add_block()
    bb.append(mk("t.c", results=0))
    d = bb.append(mk("t.d", results=0, regions=1))
    d.regions[0].add_block().append(mk("t.e", results=0))
    f = rb.append(mk("t.f", results=0, regions=2))
    f.regions[0].add_block().append(mk("t.g", results=0))
    f.regions[1].add_block().append(mk("t.h", results=0))
    return root


class TestWalk:
    def test_pre_order(self):
        names = [o.name[2:] for o in build_nest().walk()]
        assert names == ["root", "a", "b", "c", "d", "e", "f", "g", "h"]

    def test_post_order(self):
        names = [o.name[2:] for o in build_nest().walk(post_order=True)]
        assert names == ["a", "c", "e", "d", "b", "g", "h", "f", "root"]

    def test_without_self(self):
        root = build_nest()
        assert root not in list(root.walk(include_self=False))
        assert root not in list(root.walk(post_order=True, include_self=False))
        assert len(list(root.walk(include_self=False))) == 8

    def test_walk_survives_erasing_current_leaf(self):
        root = build_nest()
        for op in root.walk(post_order=True):
            if op.name in ("t.c", "t.g"):
                op.erase()
        assert [o.name[2:] for o in root.walk()] == ["root", "a", "b", "d", "e", "f", "h"]

    def test_parent_links(self):
        root = build_nest()
        e = next(o for o in root.walk() if o.name == "t.e")
        assert [o.name for o in e.ancestors()] == ["t.d", "t.b", "t.root"]
        assert root.is_ancestor_of(e) and not e.is_ancestor_of(root)
        assert e.parent_op.name == "t.d" and e.parent_region is e.parent_op.regions[0]


# ----------------------------------------------------------------------------- clone
class TestClone:
    def test_deep_clone_maps_inner_values_and_keeps_outer(self):
        outer_blk = Block()
        ext = outer_blk.append(mk("t.ext"))
        root = outer_blk.append(mk("t.root", ext.result, regions=1))
        body = root.regions[0].add_block(Block([i32]))
        x = body.append(mk("t.x", body.args[0], ext.result))
        body.append(mk("t.y", x.result, results=2))
        mapping = IRMapping()
        new = root.clone(mapping)
        assert new is not root and new.parent is None
        assert irq.structurally_equal(new, root)
        nb = new.regions[0].blocks[0]
        nx, ny = list(nb.ops)
        assert nx is not x and nx.operands[0] is nb.args[0]
        assert nx.operands[1] is ext.result            # defined outside: unchanged
        assert new.operands[0] is ext.result
        assert ny.operands[0] is nx.result
        assert mapping.lookup(x.result) is nx.result and mapping.lookup_block(body) is nb
        assert ext.result.num_uses == 4                 # root, x, and their clones
        # the original is untouched
        assert list(body.ops)[0] is x and x.operands[0] is body.args[0]

    def test_clone_uses_given_mapping_for_outside_values(self):
        a, b = mk("t.a"), mk("t.b")
        op = mk("t.u", a.result)
        m = IRMapping()
        m.map(a.result, b.result)
        c = op.clone(m)
        assert c.operands == (b.result,) and op.operands == (a.result,)

    def test_clone_forward_references_in_graph_region(self):
        g = mk("t.graph", results=0, regions=1)
        blk = g.regions[0].add_block()
        user = blk.append(mk("t.user", mk("t.tmp").result))
        late = blk.append(mk("t.late"))
        user.set_operand(0, late.result)          # use before def (graph region)
        c = g.clone()
        cu, cl = list(c.regions[0].blocks[0].ops)
        assert cu.operands[0] is cl.result and cl is not late
        assert irq.structurally_equal(c, g)

    def test_clone_successors_and_attributes(self):
        g = mk("t.cfg", results=0, regions=1)
        r = g.regions[0]
        b0, b1 = r.add_block(), r.add_block(Block([i32]))
        b0.append(mk("t.br", results=0, successors=[b1], attributes={"k": IntegerAttr(3)}))
        b1.append(mk("t.ret", b1.args[0], results=0))
        c = g.clone()
        cb0, cb1 = c.regions[0].blocks
        br = cb0.first_op
        assert br.successors == (cb1,) and br.attributes == {"k": IntegerAttr(3)}
        assert br.attributes is not b0.first_op.attributes  # a new dict, shared immutable values

    def test_clone_of_registered_op_keeps_class(self):
        m = irq.parse_module("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}\n")
        f = next(m.ops)
        c = f.clone()
        assert type(c) is type(f)
        assert irq.print_module(ModuleOp([c])) == irq.print_module(m)


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
            IntegerType(0)
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
        assert IntegerAttr(255, i8).value == 255  # signless admits the unsigned reading
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
        assert s.is_splat and s.raw.shape == () and str(s) == "dense<5.0e-01> : tensor<2x3xf32>" \
            or str(s) == "dense<0.5> : tensor<2x3xf32>"
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


# ----------------------------------------------------------------------------- declarative ops
TST = Dialect("tst", "ops defined by the IR object tests")


@TST.op
class MixOp(Op):
    """An op with every kind of operand group and attributes with defaults."""

    name = "tst.mix"
    traits = frozenset({Pure})
    a = operand(IntegerType)
    b = optional_operand()
    c = variadic_operand(FloatType)
    out = result()
    k = attribute(IntegerAttr, default=7)
    label = attribute(StringAttr, optional=True)
    req = attribute(StringAttr)

    def verify_op(self) -> None:
        if self.k.value < 0:
            raise self.error("k must be non-negative")


@TST.op
class PackOp(Op):
    """Variadic operands with a declarative assembly format."""

    name = "tst.pack"
    xs = variadic_operand()
    r = result()
    count = attribute(IntegerAttr, default=0)
    assembly_format = "$xs attr-dict `:` type($xs) `->` type($r)"


@TST.op
class SplitOp(Op):
    """One operand, variadic results, a region."""

    name = "tst.split"
    x = operand()
    parts = variadic_result()
    body = None  # not a member: plain class attributes are allowed
    inner = region()


def tst_context() -> Context:
    base = irq.default_context()
    return Context([*base.dialects.values(), TST])


class TestDeclarativeOps:
    def values(self):
        blk = Block([i32, i32, f32, f32])
        return blk, blk.args

    def test_constructor_and_accessors(self):
        blk, (x, y, z, w) = self.values()
        op = MixOp(x, None, [z, w], result_types=[i32], req="hi")
        assert op.a is x and op.b is None and op.c == (z, w)
        assert op.operands == (x, z, w)
        assert list(op.properties["operandSegmentSizes"]) == [1, 0, 2]
        assert op.k == IntegerAttr(7) and "k" not in op.properties  # default, not stored
        assert op.label is None and op.req == StringAttr("hi")
        assert op.out is op.result and op.out.type is i32
        op2 = MixOp(a=x, b=y, c=[z], result_types=[i32], req="x", k=3, label="l")
        assert op2.b is y and op2.c == (z,) and op2.k == IntegerAttr(3) and op2.label == StringAttr("l")
        op2.k = 9
        assert op2.properties["k"] == IntegerAttr(9)
        op2.a = y
        assert op2.operands[0] is y and x.num_uses == 1
        op2.label = None
        assert op2.label is None

    def test_constructor_rejects_bad_arguments(self):
        _, (x, y, z, w) = self.values()
        with pytest.raises(TypeError):
            MixOp(result_types=[i32], req="r")           # missing operand 'a'
        with pytest.raises(TypeError):
            MixOp(x, result_types=[i32], req="r", bogus=1)
        with pytest.raises(TypeError):
            MixOp(x, a=x, result_types=[i32], req="r")
        with pytest.raises(TypeError):
            MixOp(x, req="r")                             # result type cannot be inferred

    def test_structural_verification(self):
        blk, (x, y, z, w) = self.values()
        ok = blk.append(MixOp(x, y, [z], result_types=[i32], req="r"))
        irq.verify(ok)
        missing = blk.append(MixOp(x, None, [], result_types=[i32]))
        with pytest.raises(irq.VerifyError, match="requires attribute 'req'"):
            irq.verify(missing)
        wrong = blk.append(MixOp(z, None, [], result_types=[i32], req="r"))
        with pytest.raises(irq.VerifyError, match="operand 'a' must be integer"):
            irq.verify(wrong)
        wrong_c = blk.append(MixOp(x, None, [x], result_types=[i32], req="r"))
        with pytest.raises(irq.VerifyError, match="operand 'c' must be float"):
            irq.verify(wrong_c)
        neg = blk.append(MixOp(x, None, [], result_types=[i32], req="r", k=-1))
        with pytest.raises(irq.VerifyError, match="k must be non-negative"):
            irq.verify(neg)
        bad_attr = blk.append(MixOp(x, None, [], result_types=[i32], req="r"))
        bad_attr.properties["k"] = StringAttr("seven")
        with pytest.raises(irq.VerifyError, match="attribute 'k' must be IntegerAttr"):
            irq.verify(bad_attr)
        bad_seg = blk.append(MixOp(x, None, [z], result_types=[i32], req="r"))
        bad_seg.properties["operandSegmentSizes"] = DenseArrayAttr(i32, [1, 1, 1])
        with pytest.raises(irq.VerifyError, match="operandSegmentSizes"):
            irq.verify(bad_seg)

    def test_round_trip_through_text(self):
        ctx = tst_context()
        text = ('%a = "t.src"() : () -> i32\n%f = "t.src"() : () -> f32\n'
                '%0 = "tst.mix"(%a, %f, %f) <{operandSegmentSizes = array<i32: 1, 0, 2>, req = "q"}> '
                ': (i32, f32, f32) -> i32\n'
                '%1 = tst.pack %a, %f {count = 2} : i32, f32 -> i64\n'
                '%2 = tst.pack  : -> i64\n')
        m = irq.parse_module(text, context=ctx)
        ops = list(m.ops)
        mix, pack, empty = ops[2], ops[3], ops[4]
        assert isinstance(mix, MixOp) and mix.c == (ops[1].result, ops[1].result) and mix.b is None
        assert isinstance(pack, PackOp) and pack.xs == (ops[0].result, ops[1].result)
        assert pack.count == IntegerAttr(2) and "count" in pack.properties
        assert empty.xs == () and empty.r.type is i64
        irq.verify(m)
        printed = irq.print_module(m)
        assert "%1 = tst.pack %a, %f {count = 2 : i64} : i32, f32 -> i64" in printed
        m2 = irq.parse_module(printed, context=ctx)
        assert irq.print_module(m2) == printed and irq.structurally_equal(m, m2)
        assert irq.print_module(irq.parse_module(irq.print_module(m, generic=True), context=ctx)) == printed

    def test_definition_introspection(self):
        d = MixOp.definition
        assert [n for n, _ in d.operands] == ["a", "b", "c"]
        assert d.operand_segments and not d.result_segments
        assert MixOp.has_trait(Pure) and MixOp.summary.startswith("An op with every kind")
        assert SplitOp.body is None and [n for n, _ in SplitOp.definition.regions] == ["inner"]

    def test_reserved_member_names_are_rejected(self):
        with pytest.raises(TypeError):
            class Bad(Op):  # noqa: F841
                name = "tst.bad"
                operands = variadic_operand()
