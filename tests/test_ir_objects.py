"""The in-memory IR: use lists, blocks, op mutation, walking, cloning."""

from __future__ import annotations

import pytest
from irq.dialects.builtin import ModuleOp

import irq
from irq.ir import (
    Block,
    IntegerAttr,
    IRMapping,
    StringAttr,
    UnitAttr,
)
from irq.ir.types import f32, i32, i64
from tests.support.ir_builders import check_use_list, mk


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
