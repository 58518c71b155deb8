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
    # fuse, round 12 (session 17): the survivors no test can tell apart
    ("passes/fuse.py", "build_dag", "last = i == len(todo) - 1", "core/ReplaceBinaryOperator_Sub_FloorDiv"): "`last` "
    "is then never true, which only changes the root's flag: one_use on a DAG's root is never checked (irq/rewrite/"
    "dag.py tests it on the edge into a consumer, and the root has none); `- 2` (an inner step marked last) is "
    "killed by fuse-options.irq @inner_output_also_returned",
    ("passes/fuse.py", "_applies_in_training",
     "return not (training is not None and not training.value) and not (isinstance(p, FloatAttr) and p.value <= 0)",
     "core/ReplaceComparisonOperator_LtE_Eq"): "a negative rate fails verification (torch.dropout's rule in "
    "dialects/_shapes.py, as torch refuses it), so `<= 0` and `== 0` agree on every verified dropout",
    ("passes/fuse.py", "_residual_before", "if not isinstance(r, OpResult) or r.op.parent is not drop.parent:",
     "core/ReplaceComparisonOperator_IsNot_NotEq"): "Block defines no __eq__: `!=` is identity",
    ("passes/fuse.py", "_chain_steps", 'if s == "add" and "drop" in m:', "core/ReplaceComparisonOperator_Eq_Is"):
    "`s` is a step of CHAINS's literal tuples, and the identifier-like constant \"add\" is interned: `is` agrees "
    "with `==`",
    ("passes/fuse.py", "_chain_steps", 'if s == "add" and "drop" in m:', "core/ReplaceComparisonOperator_Eq_LtE"):
    "\"add\" sorts before the other step names (\"bn\", \"relu\"): `<= \"add\"` is `== \"add\"`",
    ("passes/fuse.py", "problems", "if len(r._uses) != 1:", "core/ReplaceComparisonOperator_NotEq_Gt"): "every "
    "chain op but the last feeds the next, so its result has at least one use: `!= 1` and `> 1` agree",
    ("passes/fuse.py", "_next_in_chain", "return chain[i + 1] if i + 1 < len(chain) else None",
     "core/ReplaceComparisonOperator_Lt_LtE"): "its one caller passes members of chain[:-1], so i + 1 < len(chain) "
    "always holds",
    ("passes/fuse.py", "_next_in_chain", "return chain[i + 1] if i + 1 < len(chain) else None",
     "core/ReplaceComparisonOperator_Lt_NotEq"): "its one caller passes members of chain[:-1], so i + 1 < len(chain) "
    "always holds",
    ("passes/fuse.py", "_next_in_chain", "return chain[i + 1] if i + 1 < len(chain) else None",
     "core/ReplaceBinaryOperator_Add_BitAnd@25"): "the condition: i & 1 <= 1 < len(chain) holds as i + 1 < len(chain) "
    "does for every member of chain[:-1]",
    ("passes/fuse.py", "match_and_rewrite", "fused_parts(v.op) == head_parts):",
     "core/ReplaceComparisonOperator_Eq_GtE"): "a pre-filter before the DAG matcher, whose head node tests "
    "fused_parts(o) == have itself: a weaker filter, the same matches",
    ("passes/fuse.py", "find_refusals", "if steps[-1] != _step_of(target):", "core/ReplaceComparisonOperator_NotEq_Gt"):
    "a fast path: a DAG whose root step is not the target's never matches it, so skipping fewer DAGs finds the "
    "same refusals",
    ("passes/fuse.py", "find_refusals", "continue", "core/ReplaceContinueWithBreak"): "a match without reasons "
    "under the relaxed DAG (uses checked by problems) is one the strict patterns fused (uses checked by one_use), "
    "so its root no longer exists when refusals are recorded: no target reaches that branch",
    # the rewrite driver and CSE, round 12 (session 17)
    ("irq/rewrite/driver.py", "run", "if self.max_rewrites is not None and self.num_rewrites >= self.max_rewrites:",
     "core/ReplaceComparisonOperator_GtE_Eq"): "_drain returns the moment num_rewrites reaches the limit (it grows "
    "by one per op visit), so here it is never above it: `==` and `>=` agree",
    ("irq/rewrite/driver.py", "_drain", "if limit is not None and self.num_rewrites >= limit:",
     "core/ReplaceComparisonOperator_GtE_Eq"): "checked after every op visit, which adds at most one rewrite: the "
    "count meets a limit >= 1 exactly before passing it (a limit of 0 still allows the first rewrite either way)",
    ("irq/rewrite/driver.py", "_apply_fold", "if len(result) != len(op.results):",
     "core/ReplaceComparisonOperator_NotEq_IsNot"): "small ints are cached: lengths compare the same by identity",
    ("irq/rewrite/driver.py", "_apply_fold", "if hook is _MISSING:", "core/ReplaceComparisonOperator_Is_Eq"):
    "the sentinel is a bare object() and the hooks are functions or None: `==` is identity for all of them",
    ("irq/rewrite/driver.py", "_apply_fold", "if all(v is r for v, r in zip(values, op.results)):",
     "core/ReplaceComparisonOperator_Is_Eq"): "Value defines no __eq__: `==` is identity",
    ("irq/rewrite/driver.py", "_has_fold", "r = cache[cls] = fold is not None and fold is not Op.fold",
     "core/ReplaceComparisonOperator_IsNot_NotEq"): "functions compare by identity",
    ("irq/rewrite/driver.py", "_patterns_for", "if not self.generic or all(g.root is None for g in self.generic):",
     "*"): "only decides whether the merged list is cached by op name; _generic_matches reads the op's name and "
    "class, and one name has one class, so the cached list is the one recomputing would give",
    ("passes/cse.py", "_key", "(results[0].type,) if len(results) == 1 else tuple(r.type for r in results),", "*"):
    "a fast path: both branches give the same tuple for one result, and results[-1] is results[0] then (a mutant "
    "indexing past the results raises and is killed)",
    ("passes/cse.py", "region", "if len(region.blocks) == 1:", "core/ReplaceComparisonOperator_Eq_Lt"): "a fast "
    "path: `< 1` never holds for the non-empty region, and the dominator-tree walk of one block is that block",
    ("passes/cse.py", "region", "self.block(region.blocks[0], scope)", "core/NumberReplacer"): "blocks[-1] is "
    "blocks[0] in a one-block region (blocks[1] raises and is killed)",
    ("passes/cse.py", "run", "c.region(r, scope if not op.has_trait(IsolatedFromAbove) else [{}])", "*"): "the pass "
    "runs on one op, whose `scope` is a fresh [{}]: both branches give an empty scope (a func.func or module has one "
    "region)",
}
