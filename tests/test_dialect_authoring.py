"""Dialect authoring (issue 14, item 6): mistakes a dialect writer makes get a clear error
where they are made, and large constants can be elided from printed IR."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import irq
from irq.diagnostics import Diagnostic, capture_diagnostics
from irq.ir import Dialect, IntegerAttr, Op, UnregisteredOp, attribute, operand, region, result
from irq.ir.dense import DenseResourceElementsAttr
from irq.ir.dialect import Context
from irq.ir.traits import ConstantLike, Pure
from irq.ir.types import TensorType, f32, i32
from irq.rewrite import apply_patterns_greedily
from irq.text.asm_format import FormatError


# -- assembly formats are checked when the op class is created ----------------------------------
@pytest.mark.parametrize(
    "fmt, members, message",
    [
        ("$a attr-dict `:` type($a) `->` type($out)", "ab", "operand 'b' does not appear"),
        ("$a `,` $b `:` type($a) `,` type($b) `->` type($out)", "ab", "'attr-dict' directive not found"),
        ("$a `,` $b attr-dict `:` type($a) `->` type($out)", "ab", "the type of operand 'b' is not in the format"),
        ("$a `,` $b attr-dict `:` type($a) `,` type($b)", "ab", "the type of result 'out' is not in the format"),
        ("$a attr-dict `:` type($a) `->` type($out)", "ar", "region 'body_region' does not appear"),
        ("$a attr-dict `:` type($a) `->` type($nope)", "a", "'nope' in type.* is not an operand or result"),
    ],
)
def test_unparseable_assembly_format_is_rejected_at_class_definition(fmt, members, message):
    ns = {"name": "fmt.op", "a": operand(), "out": result(), "assembly_format": fmt}
    if "b" in members:
        ns["b"] = operand()
    if "r" in members:
        ns["body_region"] = region()
    with pytest.raises(FormatError, match=message) as info:
        type(Op)("Bad", (Op,), ns)
    assert "assembly_format of Bad ('fmt.op')" in str(info.value)


def test_complete_formats_are_accepted_including_derived_types():
    from irq.ir.traits import SameOperandsAndResultType

    type(Op)(
        "Same",
        (Op,),
        {
            "name": "fmt.same",
            "traits": frozenset({SameOperandsAndResultType}),
            "a": operand(),
            "b": operand(),
            "out": result(),
            "assembly_format": "$a `,` $b attr-dict `:` type($out)",
        },
    )
    type(Op)(
        "Functional",
        (Op,),
        {
            "name": "fmt.fn",
            "a": operand(),
            "b": operand(),
            "out": result(),
            "assembly_format": "operands attr-dict `:` functional-type(operands, results)",
        },
    )


# -- registering twice ----------------------------------------------------------------------------
def _op_class(name: str, cls_name: str):
    return type(Op)(cls_name, (Op,), {"name": name, "out": result()})


def test_registering_another_class_under_a_taken_op_name_is_an_error():
    d = Dialect("twice")
    d.op(_op_class("twice.op", "First"))
    with pytest.raises(ValueError, match="'twice.op' is already registered in dialect 'twice'"):
        d.op(_op_class("twice.op", "Second"))


def test_context_refuses_a_second_dialect_redefining_an_op_but_reloads_the_same_one():
    first, second = Dialect("dup"), Dialect("dup")
    first.op(_op_class("dup.op", "First"))
    second.op(_op_class("dup.op", "Second"))
    ctx = Context([first])
    ctx.load(first)  # the same dialect again: fine
    with pytest.raises(ValueError, match="'dup.op' is already registered in this context"):
        ctx.load(second)
    assert ctx.ops["dup.op"] is first.ops["dup.op"]


# -- plugins --------------------------------------------------------------------------------------
def test_plugin_can_import_a_module_next_to_it(tmp_path):
    (tmp_path / "helper_for_plugin.py").write_text("PASS_NAME = 'plugin-helper-pass'\n")
    (tmp_path / "plugin.py").write_text(
        "from helper_for_plugin import PASS_NAME\n"
        "from irq.transform import Pass, register_pass\n"
        "@register_pass(PASS_NAME)\n"
        "class P(Pass):\n"
        "    '''Does nothing.'''\n"
        "    def run(self, op):\n"
        "        pass\n"
    )
    src = tmp_path / "in.irq"
    src.write_text("func.func @f() {\n  return\n}\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "irq.cli.opt",
            str(src),
            "--load-pass-plugin",
            str(tmp_path / "plugin.py"),
            "-p",
            "builtin.module(plugin-helper-pass)",
        ],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    assert "func.func @f()" in r.stdout
    assert str(tmp_path) not in sys.path


# -- diagnostics and construction mistakes --------------------------------------------------------
def test_diagnostic_with_an_op_takes_its_location():
    m = irq.parse_module('"t.a"() : () -> ()\n"t.b"() : () -> ()', "d.irq")
    b = list(m.body.ops)[1]
    assert Diagnostic("error", "bad", op=b).format(show_op=False) == "d.irq:2:1: error: bad"
    explicit = irq.NameLoc("here")
    assert Diagnostic("error", "bad", explicit, op=b).location is explicit


def test_type_given_for_a_value_names_the_mistake():
    with pytest.raises(TypeError, match=r"'t.x' operand #1 must be a Value, got IntegerType i32 \(a Type was given"):
        a = UnregisteredOp("t.a", result_types=[i32])
        UnregisteredOp("t.x", operands=[a.results[0], i32])
    assert a.results[0].num_uses == 0  # the refused op left no dangling use behind
    x = UnregisteredOp("t.x", operands=[a.results[0]])
    with pytest.raises(TypeError, match="must be a Value"):
        x.set_operand(0, f32)
    with pytest.raises(TypeError, match="must be a Value"):
        x.set_operands([i32])
    assert x.operands == (a.results[0],)  # unchanged after the refused edits


# -- folding without a constant hook --------------------------------------------------------------
_NOHOOK = Dialect("nohook")


@_NOHOOK.op
class _Seven(Op):
    name = "nohook.seven"
    traits = frozenset({Pure})
    out = result()

    def fold(self):
        return IntegerAttr(7, i32)


@_NOHOOK.op
class _Const(Op):
    name = "nohook.const"
    traits = frozenset({Pure, ConstantLike})
    value = attribute(IntegerAttr)
    out = result()


def test_fold_without_materialize_constant_is_not_applied_and_says_so():
    irq.register_dialect(_NOHOOK)
    m = irq.parse_module('%0 = "nohook.seven"() : () -> i32\n"t.use"(%0) : (i32) -> ()')
    with capture_diagnostics() as got:
        apply_patterns_greedily(m, [])
    names = [op.name for op in m.walk()]
    assert "nohook.seven" in names and "arith.constant" not in names
    assert len(got) == 1 and got[0].severity == "warning"
    assert (
        "'nohook.seven' folded to a constant, but dialect 'nohook' has no materialize_constant hook" in got[0].message
    )
    # with the hook, the fold is applied through the dialect's own constant
    _NOHOOK.materialize_constant = lambda value, type, loc: _Const(value=value, result_types=[type], location=loc)
    try:
        apply_patterns_greedily(m, [])
    finally:
        _NOHOOK.materialize_constant = None
    assert [op.name for op in m.walk()][1] == "nohook.const"


# -- elision of large data ------------------------------------------------------------------------
def _big_module():
    m = irq.parse_module(
        '"t.a"() {small = dense<[1.0, 2.0]> : tensor<2xf32>, '
        "splat = dense<1.0> : tensor<1000xf32>, "
        "big = dense<[1.0, 2.0, 3.0, 4.0, 5.0]> : tensor<5xf32>} : () -> ()"
    )
    op = next(iter(m.body.ops))
    op.attributes["w"] = DenseResourceElementsAttr.from_array(
        "w", TensorType([64], f32), np.arange(64, dtype=np.float32)
    )
    return m


def test_printer_elides_large_elements_and_blobs_only_when_asked():
    m = _big_module()
    full = irq.print_module(m)
    elided = irq.print_module(m, elide_elements_if_larger=4, elide_resources_if_larger=100)
    assert "big = dense_resource<__elided__> : tensor<5xf32>" in elided
    assert "small = dense<[1.0, 2.0]>" in elided and "splat = dense<1.0> : tensor<1000xf32>" in elided
    assert 'w: "__elided__"' in elided and '"0x' not in elided
    assert irq.print_module(m) == full  # the elided text was not cached on the attributes
    assert irq.structurally_equal(irq.parse_module(full), m)
    with pytest.raises(irq.ParseError, match="was elided"):
        irq.parse_module(elided)
    blob_only = irq.print_module(m, elide_resources_if_larger=100)
    with pytest.raises(irq.ParseError, match="resource 'w' was elided"):
        irq.parse_module(blob_only)


def test_irq_opt_elision_flags(tmp_path):
    src = tmp_path / "big.irq"
    _big_module().save(src)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "irq.cli.opt",
            str(src),
            "--allow-unregistered-dialect",
            "--mlir-elide-elementsattrs-if-larger=4",
            "--elide-resource-strings-if-larger=100",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "dense_resource<__elided__> : tensor<5xf32>" in r.stdout and 'w: "__elided__"' in r.stdout
