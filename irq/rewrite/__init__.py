"""Pattern rewriting: patterns, the rewriter, the greedy driver and a DAG matcher."""

from irq.rewrite.dag import DagPattern, Match, OpPattern, any_value, constant, match_op, op
from irq.rewrite.driver import apply_patterns_greedily, is_trivially_dead
from irq.rewrite.pattern import FunctionPattern, Listener, PatternRewriter, RewritePattern, pattern

__all__ = ["DagPattern", "Match", "OpPattern", "any_value", "constant", "match_op", "op", "apply_patterns_greedily",
           "is_trivially_dead", "FunctionPattern", "Listener", "PatternRewriter", "RewritePattern", "pattern"]
