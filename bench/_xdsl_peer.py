"""xDSL's side of the rewrite benchmark: the same workloads written against xDSL's API.

Imported only when xDSL is measured, so the benchmark runs without it. No
`from __future__ import annotations` here: xDSL's `op_type_rewrite_pattern` reads
the op class from the evaluated parameter annotation.
"""

from collections import Counter

from xdsl.context import Context
from xdsl.dialects import arith, builtin, func
from xdsl.dialects.builtin import IntegerAttr
from xdsl.parser import Parser
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.canonicalize import CanonicalizePass
from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

CTX = Context()
for _d in (builtin.Builtin, func.Func, arith.Arith):
    CTX.load_dialect(_d)


class MulByTwoToAdd(RewritePattern):
    """x * 2 -> x + x: the rewrite irq's benchmark pattern does, in xDSL's API."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: arith.MuliOp, rewriter: PatternRewriter) -> None:
        c = op.rhs.owner
        if isinstance(c, arith.ConstantOp) and isinstance(c.value, IntegerAttr) and c.value.value.data == 2:
            rewriter.replace_op(op, arith.AddiOp(op.lhs, op.lhs))


def parse(text: str) -> builtin.ModuleOp:
    return Parser(CTX, text).parse_module()


def mul2(module: builtin.ModuleOp) -> None:
    """One pattern through xDSL's greedy walker (dead-op erasure on, its default; no folding)."""
    PatternRewriteWalker(GreedyRewritePatternApplier([MulByTwoToAdd()])).rewrite_module(module)


def pipeline(module: builtin.ModuleOp) -> None:
    """xDSL's canonicalize, then its cse, as `xdsl-opt -p canonicalize,cse` applies them."""
    CanonicalizePass().apply(CTX, module)
    CommonSubexpressionElimination().apply(CTX, module)


def counts(module: builtin.ModuleOp) -> Counter:
    return Counter(op.name for op in module.walk())
