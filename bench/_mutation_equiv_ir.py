"""Reviewed equivalent mutants of the IR core: the rewrite driver, CSE and the shape rules.

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

IR: dict[tuple[str, str, str, str], str] = {
    # (file, enclosing function, mutated line, operator): reason
    (
        "irq/rewrite/driver.py",
        "op_replaced",
        "for r in op.results:",
        "core/ZeroIterationForLoop",
    ): "redundant notification: PatternRewriter.replace_op goes through replace_all_uses_with, "
    "whose op_modified pushes the same users",
    (
        "irq/rewrite/driver.py",
        "op_replaced",
        "for use in r._uses:",
        "core/ZeroIterationForLoop",
    ): "redundant notification: PatternRewriter.replace_op goes through replace_all_uses_with, "
    "whose op_modified pushes the same users",
    (
        "passes/cse.py",
        "_key",
        "(results[0].type,) if len(results) == 1 else tuple(r.type for r in results),",
        "core/ReplaceComparisonOperator_Eq_NotEq",
    ): "a fast path: both branches give the same tuple for one result; for several, the types of the "
    "Pure multi-result ops (chunk, split) follow from the operands and attributes already in the key",
    (
        "passes/cse.py",
        "_key",
        "(results[0].type,) if len(results) == 1 else tuple(r.type for r in results),",
        "core/AddNot",
    ): "as the == -> != mutant on the same line",
    (
        "passes/cse.py",
        "region",
        "if len(region.blocks) == 1:",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "a region without blocks returned just above, so <= 1 and == 1 agree",
    (
        "irq/rewrite/driver.py",
        "_callables",
        "return tuple(p.fn if type(p) is FunctionPattern else p.match_and_rewrite for p in patterns)",
        "core/ReplaceComparisonOperator_Is_Eq",
    ): "type(p) == cls and type(p) is cls agree (type equality is identity)",
    (
        "dialects/_shapes.py",
        "same_as_input",
        "return [shape_of(op.operands[0])]",
        "core/NumberReplacer",
    ): "every op using this rule has exactly one operand, so operands[-1] is operands[0] "
    "(operands[1] raises and is killed)",
    (
        "dialects/_shapes.py",
        "reduce",
        'keep = bool(getattr(op.get_attr("keepdim"), "value", False))',
        "core/ReplaceFalseWithTrue",
    ): "keepdim is a required attribute of torch.mean/sum: the verifier rejects an op without it "
    "before the shape rule's default could apply",
    (
        "irq/frontend/shapes.py",
        "infer_shapes",
        "if v is _TYPED:",
        "core/ReplaceComparisonOperator_Is_Eq",
    ): "_TYPED is a bare object() sentinel: == falls back to identity",
    (
        "irq/frontend/shapes.py",
        "_emit_types",
        "hit = memo.get(key) if key is not None else None",
        "core/ReplaceComparisonOperator_IsNot_Is",
    ): "disables a cache that never holds a None key: the same types are computed again, only slower",
    (
        "irq/frontend/shapes.py",
        "_query",
        'if args[1] == "shape":',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "args[1] is the attribute name fx recorded from `x.shape`: Python interns attribute names, so `is` agrees",
    (
        "irq/frontend/shapes.py",
        "_query",
        'if node.op == "call_method" and node.target in _SIZE_METHODS and shape is not None:',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "fx sets Node.op from string literals, which CPython interns: `is` agrees with ==",
    (
        "irq/batch_axis.py",
        "retype_at_batch",
        "block = func_op.regions[0].blocks[0]",
        "core/NumberReplacer",
    ): "a func.func has one region holding one block: [-1] is [0] ([1] raises IndexError and is killed)",
    ("irq/batch_axis.py", "<module>", "_OPEN_END = 2**62", "core/NumberReplacer"): "`2**61`: a slice end between "
    "2**61 and 2**62 is past any tensor's size either way, and the frontend writes INT64_MAX for an open end "
    "(`2**63` or `3**62` miss that end and `1**62` takes every end as open: killed)",
    (
        "irq/batch_axis.py",
        "retype_at_batch",
        "if shape != _shape(v):",
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "two tuples built apart are never identical, so every value is retyped: an unchanged shape gets an equal "
    "TensorType, which is the type it had",
    ("irq/batch_axis.py", "_ints", 'if hasattr(a, "value") and isinstance(a.value, int):', "core/AddNot"): "its one "
    "caller reads bpu.permute's `dims`, which the dialect types as an integer array, never one integer: the "
    "branch is false with or without the `not`",
    # fuse (session 15's round; bench/_mutation_targets.py "fuse")
    ("passes/fuse.py", "fused_parts",
     "if isinstance(seg, DenseArrayAttr) and len(seg.value) == len(o.definition.operands):", "*"): "a fast path: "
    "the segment sizes and `o.residual is not None` say the same for every registered hl op",
    ("passes/fuse.py", "<module>", "@functools.cache", "core/RemoveDecorator"): "a cache of a pure builder",
    ("passes/fuse.py", "__init__", "def __init__(self, steps: tuple[str, ...], split: int, enabled: set, counts: dict, "
     "dropout: bool = False) -> None:", "core/ReplaceFalseWithTrue"): "the default: Fuse.run passes `dropout` "
    "to every FusionPattern",
    ("passes/fuse.py", "record_refusals", "ops = list(root.walk(include_self=False))", "core/ReplaceFalseWithTrue"):
    "the root (a func.func) is no head and carries no hl.unfused",
    ("passes/fuse.py", "_unconverted", "for o in root.walk(include_self=False):", "core/ReplaceFalseWithTrue"):
    "the root (a func.func) is no torch batch norm or weighted op",
    ("passes/fuse.py", "build_fused", "new.results[0].name_hint = last.results[0].name_hint", "core/NumberReplacer"):
    "results[-1] is results[0] for the one result (results[1] raises and is killed)",
    ("passes/fuse.py", "problems", "r = o.results[0]", "core/NumberReplacer"): "results[-1] is results[0] for the "
    "one result of a chain op",
    ("passes/fuse.py", "problems", "for step, o in _chain_steps(m, steps, split)[1:]:", "core/NumberReplacer"):
    "[0:] adds the head's own step first, which no branch checks and whose result is the starting value",
    ("passes/fuse.py", "match_and_rewrite", "return True", "core/ReplaceTrueWithFalse"): "the rewrite is done and "
    "notified through the rewriter either way; the greedy driver only rescans",
    ("passes/fuse.py", "run", "except ValueError as e:", "core/ExceptionReplacer"): "dead: the `patterns` option's "
    "validator (parse_patterns) rejects bad patterns before run",
    ("passes/fuse.py", "__init__", "self.head_parts = steps[:split] if split == len(steps) - 1 and not dropout "
     "else None", "core/ReplaceBinaryOperator_Sub_BitOr"): "a pre-filter before the DAG matcher: len | 1 is never "
    "split + 1 here, so no filter, the same matches (slower)",
}
