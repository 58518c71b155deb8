"""A user-written dialect op, two rewrite patterns and a pass with an option.

This file is the example of docs/writing-a-pass.md. It works two ways:

    # from Python
    import irq, runpy
    runpy.run_path("examples/custom_pass_plugin.py")
    irq.PassManager.parse("builtin.module(func.func(strength-reduce{max-shift=8}))").run(module)

    # from the command line
    irq-opt --load-pass-plugin examples/custom_pass_plugin.py in.irq \
        -p 'builtin.module(func.func(strength-reduce{max-shift=8}))'

`strength-reduce` rewrites `x * 2^k` into `mylib.shl x, k` (a new op of the
user's own `mylib` dialect) and `shl(shl(x, a), b)` into `shl(x, a + b)`.
"""

from __future__ import annotations

from irq.dialects import arith

from irq.ir import Dialect, IntegerAttr, Op, Operation, attribute, operand, register_dialect, result
from irq.ir.traits import Pure, SameOperandsAndResultType
from irq.rewrite import DagPattern, apply_patterns_greedily, constant, op
from irq.transform import Option, Pass, register_pass

# -- a user dialect with one op -------------------------------------------------------------------
MYLIB = Dialect("mylib", "Example dialect of the pass-writing guide.")


@MYLIB.op
class ShiftLeftOp(Op):
    """Shift an integer left by a constant amount."""

    name = "mylib.shl"
    traits = frozenset({Pure, SameOperandsAndResultType})
    input = operand(arith.IntegerLike)
    amount = attribute(IntegerAttr)
    output = result(arith.IntegerLike)
    assembly_format = "$input `by` $amount attr-dict `:` type($output)"

    def verify_op(self) -> None:
        if not 0 <= self.amount.value < 64:
            raise self.error(f"shift amount {self.amount.value} is out of range [0, 64)")


register_dialect(MYLIB)


def _power_of_two(a) -> bool:
    return isinstance(a, IntegerAttr) and a.value > 0 and a.value & (a.value - 1) == 0


# -- pattern 1: x * 2^k  ->  shl x by k ------------------------------------------------------------
class MulToShift(DagPattern):
    dag = op("arith.muli", "x", constant("c", where=_power_of_two), commutative=True)

    def __init__(self, max_shift: int) -> None:
        self.max_shift = max_shift

    def rewrite(self, m, rewriter) -> bool:
        k = m["c"].value.bit_length() - 1
        if k > self.max_shift:
            return False
        x = m["x"]
        shl = rewriter.insert(ShiftLeftOp(x, amount=IntegerAttr(k)))
        rewriter.replace_op(m.root, shl)
        return True


# -- pattern 2: shl(shl(x, a), b)  ->  shl(x, a + b) -----------------------------------------------
class CombineShifts(DagPattern):
    dag = op("mylib.shl", op("mylib.shl", "x", name="inner", one_use=True), name="outer")

    def rewrite(self, m, rewriter) -> None:
        total = m["inner"].amount.value + m["outer"].amount.value
        combined = rewriter.insert(ShiftLeftOp(m["x"], amount=IntegerAttr(total)))
        rewriter.replace_op(m["outer"], combined)


# -- the pass ---------------------------------------------------------------------------------------
@register_pass("strength-reduce")
class StrengthReduce(Pass):
    """Turn multiplications by powers of two into shifts (mylib.shl) and merge shift chains."""

    max_shift = Option(int, default=31, help="largest shift amount to introduce")

    def run(self, target: Operation) -> None:
        before = sum(1 for o in target.walk() if o.name == "arith.muli")
        apply_patterns_greedily(target, [MulToShift(self.max_shift), CombineShifts()])
        after = sum(1 for o in target.walk() if o.name == "arith.muli")
        self.statistics["multiplications removed"] += before - after
