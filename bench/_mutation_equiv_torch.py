"""Reviewed equivalent mutants of the torch executor (runtime/torch/: builder.py, functions.py, resolve.py).

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number. Reviewed in the
ninth round (docs/design.md, "Test strength"). A NumberReplacer entry matches both of its line's variants (+1
and -1), so one is listed only where the other variant is equivalent too or raises at once (killed, and a
killed verdict in a session always wins).
"""

_B = "runtime/torch/builder.py"
_F = "runtime/torch/functions.py"
_R = "runtime/torch/resolve.py"

TORCH_EXECUTOR: dict[tuple[str, str, str, str], str] = {
    # (file, enclosing function, mutated line, operator): reason
    (
        _B,
        "_tensor",
        'if isinstance(et, FloatType) and et.kind == "bf16":',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "FloatType is interned per kind (irq/ir/types.py `_intern`) and created first from the literal 'bf16' at "
    'irq.ir.types\' import (`bf16 = FloatType("bf16")`), so every bf16 type holds that one string',
    (
        _B,
        "constant",
        'parent.register_buffer(leaf, t, persistent=kind == "buffer")',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "the verifier admits kind 'buffer' or 'constant' only (dialects/torch.py ConstantOp), and 'constant' does "
    "not sort <= 'buffer'",
    (
        _B,
        "__init__",
        "self._opaque_paths = sorted(modules, key=len, reverse=True)",
        "core/ReplaceTrueWithFalse",
    ): "the paths are only read by `any(key.startswith(p + '.') ...)`, which no order changes",
    (
        _B,
        "__init__",
        "self.quantized = False  # the module holds qat.fake_quant ops",
        "core/ReplaceFalseWithTrue",
    ): "to_module, the only maker of a _Builder, sets `b.quantized` from the function's ops before any op is emitted",
    (
        _B,
        "_emit_call",
        "b.nodes[op.results[0]] = node",
        "core/NumberReplacer",
    ): "guarded by `len(op.results) == 1`: results[-1] is results[0] (results[1] raises and is killed)",
    (
        _B,
        "_max_pool2d",
        'return b.call(F.max_pool2d, b.v(op.operands[0]), a["kernel_size"], a["stride"], a["padding"], a["dilation"],',
        "core/NumberReplacer",
    ): "max_pool2d has one operand: operands[-1] is operands[0] (operands[1] raises and is killed)",
    (
        _B,
        "<module>",
        '"hardshrink": lambda b, op, a: b.call(F.hardshrink, b.v(op.operands[0]), a["lambd"]),',
        "core/NumberReplacer",
    ): "hardshrink has one operand: operands[-1] is operands[0] (operands[1] raises and is killed)",
    (
        _B,
        "<module>",
        '"dropout": lambda b, op, a: b.call(F.dropout, b.v(op.operands[0]), a["p"], _training_flag(b, a)),',
        "core/NumberReplacer",
    ): "dropout has one operand: operands[-1] is operands[0] (operands[1] raises and is killed)",
    (
        _F,
        "_weighted_op",
        'if kind == "conv_transpose2d":',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "the kinds left here are conv1d, conv2d and conv_transpose2d (linear returned above): 'conv1d' and "
    "'conv2d' sort below 'conv_transpose2d' ('1' and '2' < '_')",
    (
        _F,
        "_weighted_op",
        'conv = F.conv1d if kind == "conv1d" else F.conv2d',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "`kind` comes from the generated GraphModule's Python source, whose identifier-like string constants are "
    "interned, as is this literal",
    (
        _F,
        "activation",
        'if kind == "relu6":',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "the verifier admits activation 'relu' or 'relu6' only (dialects/hl.py ACTIVATIONS); 'relu' and None "
    "returned above, so `<=` and `==` meet 'relu6' alone",
    (
        _F,
        "apply_attention_mask",
        "if mask.dtype == torch.bool:",
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "torch dtypes are singletons: == and is agree",
    (
        _F,
        "sdpa_masked_softmax",
        "if mask.dtype == torch.bool:",
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "torch dtypes are singletons: == and is agree",
    (
        _F,
        "batch_norm",
        "use_batch = training or (running_mean is None and running_var is None)",
        "core/ReplaceAndWithOr",
    ): "differs only with exactly one running statistic given out of training, which eager F.batch_norm refuses "
    "('running_var must be defined in evaluation mode'), so the import's run on the example inputs fails first",
    (
        _F,
        "batch_norm",
        "factor = 0.0 if momentum is None else momentum",
        "core/NumberReplacer",
    ): "momentum None comes only from nn.BatchNorm(momentum=None) (F.batch_norm refuses None); then the factor is "
    "read only in training with running statistics, where nn.BatchNorm always has num_batches_tracked and the "
    "factor is 1 / count",
    (
        _R,
        "resolve",
        "for i in range(len(parts) - 1, 0, -1):",
        "core/ReplaceBinaryOperator_Sub_FloorDiv",
    ): "the whole name is tried as a module first: call targets and #torch.ref values name functions, classes and "
    "their attributes, never a module, so that import fails and the loop goes on to the prefixes it tried before",
    (
        _R,
        "resolve",
        "for i in range(len(parts) - 1, 0, -1):",
        "core/ReplaceBinaryOperator_Sub_BitOr",
    ): "`len | 1` is len or len + 1: the whole name is tried as a module first (as `// 1`), which fails for every "
    "name a call target or #torch.ref holds",
    (
        _B,
        "_tensor",
        'if isinstance(et, FloatType) and et.kind == "bf16":',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "of the float kinds irq admits (irq/ir/types.py FLOAT_KINDS: f*, tf32, bf16) only 'bf16' sorts <= 'bf16'",
    (
        _B,
        "__init__",
        "self._const = 0",
        "core/NumberReplacer",
    ): "the first number of the unnamed constants' buffer names: any start keeps them distinct (1 and -1 checked "
    "by hand: `_irq_constant-1` registers and runs)",
    (
        _B,
        "impl",
        'conv = F.conv1d if kind == "conv1d" else F.conv2d',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): '`kind` is one of this module\'s own literals (`_weighted("conv1d")` in IMPLS), the same interned object',
    (
        _B,
        "<module>",
        '"softplus": lambda b, op, a: b.call(F.softplus, b.v(op.operands[0]), a["beta"], a["threshold"]),',
        "core/NumberReplacer",
    ): "softplus has one operand: operands[-1] is operands[0] (operands[1] raises and is killed)",
    (
        _B,
        "<module>",
        '"softshrink": lambda b, op, a: b.call(F.softshrink, b.v(op.operands[0]), a["lambd"]),',
        "core/NumberReplacer",
    ): "softshrink has one operand: operands[-1] is operands[0] (operands[1] raises and is killed)",
    (
        _F,
        "batch_norm",
        "return sync_batch_norm(x, running_mean, running_var, weight, bias, factor if training else 0.0, eps)",
        "core/NumberReplacer",
    ): "out of training the batch statistics are used only when there are no running statistics "
    "(`use_batch`), and sync_batch_norm reads the factor only to update running statistics",
    # round 12's fresh draw (seed 1, K = 4): an index 0 read as -1 where there is one result or one operand
    ("runtime/torch/builder.py", "emit", "b.nodes[op.results[0]] = out", "core/NumberReplacer"): "one result: "
    "results[-1] is results[0] (results[1] raises and is killed)",
    ("runtime/torch/builder.py", "_multi", "b.nodes[op.results[0]] = node", "core/NumberReplacer"): "the single-"
    "result branch: results[-1] is results[0]",
    ("runtime/torch/builder.py", "_max_pool2d", 'return b.call(F.adaptive_max_pool2d, b.v(op.operands[0]), '
     'a["adaptive_output_size"])', "core/NumberReplacer"): "one operand: operands[-1] is operands[0]",
    ("runtime/torch/builder.py", "_unary", "return lambda b, op, a: b.call(fn, b.v(op.operands[0]))",
     "core/NumberReplacer"): "one operand: operands[-1] is operands[0]",
    ("runtime/torch/builder.py", "_stub", "return b.v(op.operands[0])", "core/NumberReplacer"): "one operand: "
    "operands[-1] is operands[0]",
    ("runtime/torch/builder.py", "<module>",
     '"celu": lambda b, op, a: b.call(F.celu, b.v(op.operands[0]), a["alpha"]),', "core/NumberReplacer"):
    "operands[-1] is the one operand (operands[1] raises: the celu case in "
    "tests/test_mutation_kills_torch_executor.py)",
    ("runtime/torch/functions.py", "_distributed_world",
     "return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1", "core/NumberReplacer"):
    "`else 0`: its one reader asks `> 1`, false for 0 and 1 alike (`else 2` is killed: "
    "test_sync_batch_norm_without_a_process_group_is_batch_norm)",
}

_S = "dialects/_shapes.py"
_ONE_OPERAND = (
    "{} has one operand (torch and hl, and bpu where bpu uses the rule): operands[-1] is operands[0] "
    "(operands[1] raises and is killed)"
)
_REQUIRED = (
    "the op definitions require `{}` (dialects/_tensor_specs.py), so the verifier refuses an op without "
    "it and the frontend always writes it: the rule's default is never read for a program that verifies"
)

#: the torch/hl shape rules (dialects/_shapes.py), reviewed in the ninth round
SHAPE_RULES: dict[tuple[str, str, str, str], str] = {
    (_S, "flatten", "x = shape_of(op.operands[0])", "core/NumberReplacer"): _ONE_OPERAND.format("flatten"),
    (_S, "permute", "x = shape_of(op.operands[0])", "core/NumberReplacer"): _ONE_OPERAND.format("permute"),
    (_S, "reduce", "x = shape_of(op.operands[0])", "core/NumberReplacer"): _ONE_OPERAND.format("every reduction"),
    (_S, "slice_", "x = list(shape_of(op.operands[0]))", "core/NumberReplacer"): _ONE_OPERAND.format("slice"),
    (_S, "flatten", 'e = norm_dim(int_attr(op, "end_dim", -1), len(x))', "core/NumberReplacer"): _REQUIRED.format(
        "end_dim"
    ),
    (
        _S,
        "reduce",
        'keep = bool(getattr(op.get_attr("keepdim"), "value", False))',
        "core/ReplaceFalseWithTrue",
    ): _REQUIRED.format("keepdim") + " (sum, mean, amax, amin, max_dim, min_dim)",
    (_S, "unbind", 'd = norm_dim(int_attr(op, "dim", 0), len(x))', "core/NumberReplacer"): _REQUIRED.format("dim"),
    (_S, "topk", 'd = norm_dim(int_attr(op, "dim", -1), len(x))', "core/NumberReplacer"): _REQUIRED.format("dim"),
    (
        _S,
        "pool2d",
        "out = [_pool_out(x[-2 + i], k[i], s[i], p[i], d[i], ceil) for i in range(2)]",
        "core/ReplaceBinaryOperator_Add_BitXor",
    ): "i is 0 or 1: -2 ^ 0 = -2 and -2 ^ 1 = -1, the same indices as -2 + i",
    (
        _S,
        "adaptive_pool2d",
        "return [(*x[:-2], *(x[-2 + i] if v is None or v < 0 else v for i, v in enumerate(vals)))]",
        "core/ReplaceBinaryOperator_Add_RShift",
    ): "i is 0 or 1: -2 >> 0 = -2 and -2 >> 1 = -1, the same indices as -2 + i",
    (
        _S,
        "_check_count",
        "if results is not None and count != len(results):",
        "core/ReplaceComparisonOperator_NotEq_Gt",
    ): "fewer pieces than results is refused right after by the verifier's own count check (dialects/_opspec.py "
    "_verify_shapes, the same message); more pieces than results still stop here before any piece is built",
    (
        _S,
        "pool2d",
        "out = [_pool_out(x[-2 + i], k[i], s[i], p[i], d[i], ceil) for i in range(2)]",
        "core/ReplaceBinaryOperator_Add_BitOr",
    ): "i is 0 or 1: -2 | 0 = -2 and -2 | 1 = -1, the same indices as -2 + i",
    (_S, "reshape", "if known == 0 or n % known:", "core/ReplaceComparisonOperator_Eq_LtE"): (
        "known < 0 needs a negative size other than -1, which torch refuses: the rule then computes a negative "
        "size no result type can hold, so the op is refused either way"
    ),
    (
        _S,
        "getitem",
        "if len(op.operands) > 1 or not isinstance(index, ArrayAttr):",
        "core/ReplaceOrWithAnd",
    ): "with a tensor operand some entry is a #torch.operand, where the loop returns None as this test does; the "
    "entries before it raise only on indices torch itself refuses",
    (_S, "cat", "out = list(shapes[0])", "core/NumberReplacer"): (
        "the shapes agree everywhere but along `d` (checked above) and out[d] is overwritten: shapes[-1] gives the "
        "same (shapes[1] raises for a one-tensor cat and is killed)"
    ),
    (_S, "stack", "out = list(shapes[0])", "core/NumberReplacer"): (
        "the shapes are all equal (checked above): shapes[-1] is the same (shapes[1] raises for a one-tensor "
        "stack and is killed)"
    ),
    (_S, "squeeze", "x = shape_of(op.operands[0])", "core/NumberReplacer"): _ONE_OPERAND.format("squeeze"),
    (
        _S,
        "pixel_unshuffle",
        "return [(*x[:-3], x[-3] * r * r, x[-2] // r, x[-1] // r)]",
        "core/ReplaceBinaryOperator_FloorDiv_Div",
    ): "x[-2] is divisible by r (checked above), so x[-2] / r is a float equal to the int under ==, how the "
    "verifier compares; the frontend's static inference cannot build a type of a float size and falls back to "
    "running the graph (irq/frontend/importer.py), which types it from torch",
    # session 17's fresh draw (seed 1, K = 4)
    (_S, "existing_dim", "if rank == 0:", "core/ReplaceComparisonOperator_Eq_LtE"): "a rank is never negative",
    (_S, "reshape", "known = math.prod(d for d in target if d != -1)", "core/ReplaceComparisonOperator_NotEq_IsNot"):
    "-1 is a cached small int, and no other value is -1 by identity either",
    (_S, "reshape", "known = math.prod(d for d in target if d != -1)", "core/ReplaceComparisonOperator_NotEq_Gt"):
    "a dim below -1 is refused just above, so `> -1` and `!= -1` pick the same dims",
    (_S, "ints", "if n is not None and len(vals) == 1 and n > 1:", "core/NumberReplacer"): "`n > 0`: vals * 1 is vals",
    (_S, "same_along_dim", 'norm_dim(int_attr(op, "dim", 0), len(x))', "core/NumberReplacer"): "softmax, log_softmax "
    "and cumsum declare `dim` required (dialects/_tensor_specs.py): the default is never read",
    (_S, "cat", 'd = norm_dim(int_attr(op, "dim", 0), rank)', "core/NumberReplacer"): "torch.cat declares `dim` "
    "required: the default is never read",
    (_S, "split", 'd = existing_dim(int_attr(op, "dim", 0), len(x))', "core/NumberReplacer"): "torch.split declares "
    "`dim` required: the default is never read",
    (_S, "topk", 'd = norm_dim(int_attr(op, "dim", -1), len(x))', "*"): "torch.topk declares `dim` required: the "
    "default is never read",
    (_S, "stack", 'd = norm_dim(int_attr(op, "dim", 0), len(shapes[0]) + 1)', "core/NumberReplacer"): "the shapes "
    "were just checked equal: shapes[-1] is shapes[0]'s rank (shapes[1] raises for one tensor and is killed)",
    (_S, "transpose", "x = list(shape_of(op.operands[0]))", "core/NumberReplacer"): "one operand: operands[-1] is "
    "operands[0] (operands[1] raises and is killed)",
    (_S, "getitem", "if len(op.operands) > 1 or not isinstance(index, ArrayAttr):",
     "core/ReplaceComparisonOperator_Gt_Lt"): "a fast path: an index tensor operand is named by an `index` entry "
    "(#torch.operand<i>), on which the loop below returns None anyway",
}
