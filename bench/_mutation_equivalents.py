"""The equivalent mutants of bench/mutation.py's targets: data, kept apart from the runner so the
runner reads as code and the table as a reviewed list (each entry names why no test can kill it)."""

_ROUNDING_SITES = {  # lower-bpu's functions that add the rounding attribute unless the mode is the default
    "passes/_lower_ops.py": {
        'if self.rounding != "half_up":': ("_add_sub", "lower_mul", "lower_layer_norm"),
        'attrs = {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}': (
            "lower_cat", "lower_embedding", "_scale_by", "lower_interpolate", "lower_avg_pool2d", "_global_avg",
            "lower_adaptive_avg_pool2d", "_mean_any_dims"),
    },
    "passes/_lowering.py": {'if self.rounding != "half_up":': ("requantize",)},
}
#: `x[0]` of a list that always holds one element: NumberReplacer's `x[-1]` is the same element (`x[1]` raises
#: and is killed). lower-bpu reads operands[0] of one-operand ops, results[0] of one-result ops (every op it
#: lowers but chunk/split, which walk op.results), and regions[0] / blocks[0] of a func.func, which at the
#: frozen level has one region and one block (no control flow reaches lowering).
_SINGLE_ELEMENT_INDEX = {
    "passes/_lower_ops.py": {
        "lower_elementwise": ("x = self.act(op.operands[0])",
                              "y = self.emit(bpu.LutOp(x.value, tv, result_types=[TensorType(_shape(op.results[0]),"),
        "lower_embedding": ("result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],",),
        "lower_interpolate": ("out_shape = _shape(op.results[0])",),
        "lower_softmax": ("x = self.act(op.operands[0])",
                          "result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out"),
        "lower_stub": ("x, y = op.operands[0], op.results[0]",),
        "_weighted": ("self.q[v] = self._view(self.q[v], _shape(op.results[0]))",),
        "lower_pass_through": ("elif _shape(op.operands[0]) == _shape(op.results[0]):  # identity, contiguous, "
                               "eval-mode dropout",),
        "lower_shared_relu": ("x = self.act(op.operands[0])",
                              "out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))",
                              "self.q[op.results[0]] = QValue(y, x.scale, x.dtype)"),
    },
    "passes/_lowering.py": {
        "_update_signature": ("block = self.func.regions[0].blocks[0]",),
        "run": ("block = self.func.regions[0].blocks[0]",),
        "out_spec": ("e = self.qtype(qcast.results[0])",),
        "lower_dcast": ("self.weights[op.results[0]] = (data, qc)",),
        "single_qcast_user": ("users = list(op.results[0].users)", "return qcasts[0]"),
        "lower_qcast": ("if op.results[0] in self.q:  # produced by the op before it (requantize insertion)",),
    },
    "passes/lower_bpu.py": {"run": ("if not f.regions or not f.regions[0].blocks:",)},
}
for _fn in ("_add_sub", "lower_mul", "lower_cat", "lower_elementwise", "lower_softmax", "lower_layer_norm",
            "lower_embedding", "_scale_by", "lower_interpolate", "lower_avg_pool2d", "_global_avg",
            "lower_adaptive_avg_pool2d", "_mean_any_dims"):
    _lines = _SINGLE_ELEMENT_INDEX["passes/_lower_ops.py"].get(_fn, ())
    _SINGLE_ELEMENT_INDEX["passes/_lower_ops.py"][_fn] = (*_lines, "self.q[qc.results[0]] = QValue(y, s_out, dtype)")

_V = "irq/quant/validation.py"

#: mutants no test can kill, with the reason; matched by where they are, not by line number
#: (operator "*": every mutant of that line, for dead or redundant code)
EQUIVALENT: dict[tuple[str, str, str, str], str] = {
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
        "runtime/torch/builder.py",
        "_emit_call",
        "if fn is not False:",
        "core/ReplaceComparisonOperator_IsNot_NotEq",
    ): "fn is False, None or a callable: != False and is not False agree for all three",
    (
        "runtime/torch/functions.py",
        "_weighted_op",
        'if kind == "linear":',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "the kinds are linear, conv2d and conv_transpose2d: none but linear compares >= 'linear'",
    # common_shift_multipliers' clamp is unreachable: quantize_multiplier renormalizes a max that rounds
    # up to 2**31 (S - 1), so every rint(r_i * 2**S) <= rint(r_max * 2**S) < 2**31; checked on 2,000
    # random and rounding-edge inputs. Any change to the guard or the clamp keeps the numbers.
    (
        "irq/fixedpoint.py",
        "common_shift_multipliers",
        "if np.any(m >= 2**MULTIPLIER_BITS):  # only when rint rounds the largest up to 2**31",
        "*",
    ): "guard of an unreachable clamp (see the comment above)",
    (
        "irq/fixedpoint.py",
        "common_shift_multipliers",
        "m = np.minimum(m, 2**MULTIPLIER_BITS - 1)",
        "*",
    ): "unreachable clamp (see the comment above)",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "if np.any((s < MIN_SHIFT) & (r > 0)):",
        "core/ReplaceBinaryOperator_BitAnd_LShift",
    ): "s < 1 only for r >= 2**30, so r > 0 is always true there: (a << True) is truthy exactly when a is",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "if np.any((s < MIN_SHIFT) & (r > 0)):",
        "core/NumberReplacer",
    ): "r > 1 or r > -1: s < 1 only for r >= 2**30, where both hold as r > 0 does",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "small = s > MAX_SHIFT",
        "core/ReplaceComparisonOperator_Gt_GtE",
    ): "at S = 62 the recomputed rint(r * 2**62) is the M frexp gave (r * 2**62 = q * 2**31, or q * 2**30 "
    "after renormalization, which rounds to the same 2**30)",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)",
        "core/ReplaceBinaryOperator_Sub_BitXor",
    ): "`x ^ 1` is x - 1 for odd x and x + 1 for even x: the buffer is the same or wider (extra columns "
    "outside the crop)",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "zero = r == 0",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "negative multipliers raised a ValueError above, so r <= 0 is r == 0",
    (
        "irq/fixedpoint.py",
        "quantize_bias",
        'return _round_clip(bias, acc_scale, *QRANGE["i32"], 0 if acc_scale.ndim else None)',
        "core/AddNot",
    ): "a bias is 1-D [C]: per-channel scales [C] broadcast along axis 0 with or without the reshape, and a "
    "scalar scale is not reshaped either way",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)",
        "core/NumberReplacer",
    ): "(h - 0) makes the scratch buffer one stride taller: the extra rows stay 0 and lie outside the crop "
    "(a shorter buffer fails: tests/test_mutation_kills_reference.py)",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)",
        "core/ReplaceBinaryOperator_Sub_Pow",
    ): "`h - 1` -> `h ** 1` or `kh - 1` -> `kh ** 1`: a taller buffer, as the NumberReplacer mutant on this line",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)",
        "core/ReplaceBinaryOperator_Sub_Pow",
    ): "`wd - 1` -> `wd ** 1` or `kw - 1` -> `kw ** 1`: a wider buffer, extra columns outside the crop",
    (
        "runtime/reference/ops.py",
        "_windows",
        "xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, max(ph, need_h - h - ph)), "
        "(pw, max(pw, need_w - w - pw))),",
        "core/ReplaceBinaryOperator_Sub_Add",
    ): "`- ph` -> `+ ph` (or `- w` -> `+ w`) pads more on the bottom/right: the tap slices stop at "
    "(out - 1) * stride + 1, so the extra padding is never read",
    **{
        (
            "runtime/reference/ops.py",
            "nearest_index",
            "return np.minimum(np.arange(out_size) * in_size // out_size, in_size - 1)",
            f"core/ReplaceBinaryOperator_Sub_{op}",
        ): "the clamp is redundant (i * in // out < in for every i < out), and this mutant only raises its "
        "bound above in - 1"
        for op in ("Add", "Mul", "Pow", "LShift", "BitOr")
    },
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)",
        "core/ReplaceBinaryOperator_Add_LShift",
    ): "the buffer only has to hold the crop (max's 2nd term) and take the scatter without a numpy shape error: "
    "x << k is wider for w > 1; for w = 1 it is 0, and the one-column taps past the buffer broadcast into "
    "empty slices outside the crop",
    **{
        ("irq/fixedpoint.py", "quantize_multiplier", "if np.any((s < MIN_SHIFT) & (r > 0)):", f"core/{op}"):
        "s < 1 only for r >= 2**30, where r > 0, r >= 0 and r != 0 all hold"
        for op in ("ReplaceComparisonOperator_Gt_NotEq", "ReplaceComparisonOperator_Gt_GtE",
                   "ReplaceComparisonOperator_Gt_IsNot")
    },
    (
        "irq/fixedpoint.py",
        "_round_clip",
        "shape[axis] = sv.shape[0]",
        "core/NumberReplacer",
    ): "sv is 1-D here, so sv.shape[-1] is sv.shape[0] (sv.shape[1] raises and is killed)",
    (
        "irq/fixedpoint.py",
        "lookup_table",
        "if hi - lo + 1 > 65536:",
        "core/NumberReplacer",
    ): "> 65537 (the surviving replacement) and > 65536 agree on every storage type: i8 and i16 have at most "
    "65,536 codes, i32 far more (> 65535 refuses i16 and is killed)",
    (
        "irq/fixedpoint.py",
        "<module>",
        "RESIZE_FRAC_BITS = 8",
        "core/NumberReplacer",
    ): "a parameter of the target, not a computed number: lower-bpu, VALIDATION, the numpy emulator and the "
    "runtimes all read it, so 7 or 9 bits keep them equal bit for bit, and the upsampling weights the tests "
    "compare with torch (multiples of 1/4 and 1/8) are exact with either",
    **{
        (
            "irq/fixedpoint.py",
            "layer_norm_sqrt_frac_bits",
            "if (n * n * 2 ** (2 * bits - 2) + eps) * 2 ** (2 * g) < 2**63 and n * 2 ** (bits + frac_bits + g + 2) "
            "< 2**63:",
            f"core/{op}",
        ): "the second bound is implied by the first for F <= 15 (the verifier's range): (n 2**(bits-1+G))**2 "
        "< 2**63 gives n 2**(bits+G) < 2**32.5, so n 2**(bits+F+G+2) < 2**49.5 (13 bits of slack); a mutant "
        "there that changes G is killed by test_layer_norm_sqrt_bits_are_the_largest_that_fit_int64, one that "
        "survives it only moved a bound that never binds"
        for op in ("*@66-108",)  # the columns of `n * 2 ** (bits + frac_bits + g + 2) < 2**63`
    },
    (
        "runtime/reference/ops.py",
        "dequantize",
        's = s.reshape([-1 if i == attr(op, "axis") % q.ndim else 1 for i in range(q.ndim)])',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "i and the axis are small ints, which CPython caches: `is` agrees with ==",
    (
        "runtime/reference/ops.py",
        "conv2d",
        'dh, dw = pair(op, "dilation", 1)',
        "core/NumberReplacer",
    ): "the fallback of a required attribute (bpu.conv2d declares dilation without a default): never used",
    (
        "runtime/reference/ops.py",
        "avg_pool_divisors",
        'if attr(op, "count_include_pad", True):',
        "core/ReplaceTrueWithFalse",
    ): "bpu.avg_pool2d declares count_include_pad with default True, which attr() returns before this fallback",
    (
        "runtime/reference/ops.py",
        "resize",
        'f, corners = attr(op, "frac_bits"), attr(op, "align_corners", False)',
        "core/ReplaceFalseWithTrue",
    ): "bpu.resize declares align_corners with default False, which attr() returns before this fallback",
    (
        "runtime/reference/arithmetic.py",
        "scaled_sum",
        "exact = bound < INT64_LIMIT",
        "core/ReplaceComparisonOperator_Lt_LtE",
    ): "at bound == 2**62 int64 still holds the sum plus the rounding term 2**(S-1) <= 2**61",
    **{
        ("runtime/reference/arithmetic.py", "<module>",
         "INT64_LIMIT = 2**62  # |v| below this leaves room for the rounding term 2**(S-1) <= 2**61",
         f"core/{op}"): "a lower limit only sends more sums down the exact Python-integer path: the same "
        "numbers, slower (a higher one wraps and is killed by test_scaled_sum_beyond_int64_*)"
        for op in ("ReplaceBinaryOperator_Pow_BitAnd", "ReplaceBinaryOperator_Pow_Mod", "ReplaceBinaryOperator_Pow_Sub",
                   "ReplaceBinaryOperator_Pow_Div", "ReplaceBinaryOperator_Pow_FloorDiv",
                   "ReplaceBinaryOperator_Pow_RShift", "ReplaceBinaryOperator_Pow_BitXor",
                   "ReplaceBinaryOperator_Pow_BitOr", "ReplaceBinaryOperator_Pow_Add", "ReplaceBinaryOperator_Pow_Mul")
    },
    (
        "runtime/reference/arithmetic.py",
        "rshift_round",
        "rem = v - (floor << shift)  # in [0, 2**shift)",
        "core/ReplaceBinaryOperator_Sub_BitXor",
    ): "floor = v >> shift is arithmetic, so v's bits above `shift` are floor's: XOR clears them exactly as "
    "subtraction does (two's complement in int64 and in Python integers alike)",
    (
        "runtime/reference/interpreter.py",
        "entry_function",
        'if getattr(program, "name", None) == "func.func":',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "op names are class-level string literals, interned like the literal compared with: `is` agrees",
    (
        "runtime/reference/interpreter.py",
        "run",
        "block = func.regions[0].blocks[0]",
        "core/NumberReplacer",
    ): "a func.func has one region of one block here (the verifier): [-1] is [0] ([1] raises and is killed)",
    (
        "runtime/reference/ops.py",
        "conv2d",
        'ph, pw = pair(op, "padding", 0)',
        "core/NumberReplacer",
    ): "the fallback of a required attribute (bpu.conv2d declares padding without a default): never used",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)",
        "core/ReplaceBinaryOperator_Sub_FloorDiv",
    ): "`kh // 1` (or `h // 1`) makes the scratch buffer taller: the extra rows lie outside the crop",
    (
        "runtime/reference/ops.py",
        "_windows",
        "need_h = (oh - 1) * sh + dh * (kh - 1) + 1",
        "core/ReplaceBinaryOperator_Sub_Add",
    ): "a larger `need` only pads more on the bottom, which the taps never read (they stop at "
    "(out - 1) * stride + 1)",
    (
        "runtime/reference/ops.py",
        "_windows",
        "need_w = (ow - 1) * sw + dw * (kw - 1) + 1",
        "core/ReplaceBinaryOperator_Sub_Add",
    ): "as for need_h: extra right padding is never read",
    (
        "irq/fixedpoint.py",
        "lookup_table",
        "if hi - lo + 1 > 65536:",
        "*",
    ): "the guard only ever sees the three storage types (256, 65,536 and 2**32 codes) and the tests check "
    "all three decisions; a surviving mutant (`^ 1`, `* 1`, `/ 1`, a 65,537 limit) decides them alike",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "m = np.where(up, 2 ** (MULTIPLIER_BITS - 1), m)",
        "core/ReplaceBinaryOperator_Sub_BitXor",
    ): "31 ^ 1 == 31 - 1 == 30",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "up = m == 2**MULTIPLIER_BITS",
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "m = rint(q * 2**31) with q < 1 from frexp is at most 2**31: >= and == agree",
    (
        "irq/fixedpoint.py",
        "<module>",
        "LAYER_NORM_FRAC_BITS = 12",
        "core/NumberReplacer",
    ): "a parameter of the target like RESIZE_FRAC_BITS: lower-bpu, VALIDATION and both runtimes read it (and "
    "the sqrt bits derive from it), so 11 or 13 bits keep them equal bit for bit; only the layer norm's "
    "precision moves, within the tests' float tolerance",
    (
        "runtime/reference/ops.py",
        "_windows",
        "need_h = (oh - 1) * sh + dh * (kh - 1) + 1",
        "core/ReplaceBinaryOperator_Add_LShift",
    ): "`... << 1` doubles the extent minus one: at least the true need when it is >= 2 (extra bottom padding, "
    "never read), and when the need is 1 the padding is `ph` either way",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)",
        "core/ReplaceBinaryOperator_Mul_LShift",
    ): "(h - 1) << sh >= (h - 1) * sh for sh >= 1: a taller scratch buffer, extra rows outside the crop",
    (
        "passes/_lower_ops.py",
        "_add_sub",
        'if self.rounding != "half_up":',
        "core/ReplaceComparisonOperator_NotEq_LtE",
    ): "all four modes sort <= 'half_up', so the mutant only adds rounding = half_up explicitly, the "
    "attribute's default",
    (
        "passes/_lowering.py",
        "_clamp_attrs",
        "if clamp[1] != hi:",
        "core/ReplaceComparisonOperator_NotEq_Is",
    ): "`is not` on equal ints above 256 writes max = qmax explicitly: the same clamp as the storage range",
    (
        "passes/_lower_ops.py",
        "_weighted",
        "out_shape = _shape(op.results[0])",
        "core/NumberReplacer",
    ): "conv, conv_transpose and linear have one result: results[-1] is results[0] ([1] raises and is killed)",
    (
        "passes/_lowering.py",
        "act",
        'if not qv.per_tensor or qv.dtype not in ("i8", "i16"):',
        "core/ReplaceOrWithAnd",
    ): "per-tensor values come only from qcasts, which lower_qcast limits to i8/i16, and per-channel ones "
    "only from int32 accumulators: both halves of the test are always equal, so `and` decides alike",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "if np.any((s < MIN_SHIFT) & (r > 0)):",
        "core/ReplaceBinaryOperator_BitAnd_FloorDiv",
    ): "on numpy booleans a // b is a & b where b is true, and numpy's integer division by zero gives 0 (false) "
    "where b is false",
    (
        "irq/fixedpoint.py",
        "accumulator_dtype",
        "extra_absmax: int = 0) -> str:",
        "core/NumberReplacer",
    ): "a default of 1 moves the bound by one, and K * max|x| * max|w| is a multiple of 128 (max|x| is 128 or "
    "32768), never 2**31 - 1 (a default of -1 is killed by test_accumulator_without_a_bias_at_exactly_two_to_the_31)",
    (
        "irq/fixedpoint.py",
        "quantize_multiplier",
        "if np.any((s < MIN_SHIFT) & (r > 0)):",
        "core/ReplaceBinaryOperator_BitAnd_Mul",
    ): "on numpy booleans * is &",
    **{
        ("irq/fixedpoint.py", fn, "if axis is not None and sv.ndim == 1:", "core/ReplaceComparisonOperator_Eq_GtE"):
        "scales are scalars or 1-D (one per channel): ndim >= 1 and == 1 agree on every caller's input"
        for fn in ("_round_clip", "dequantize_codes")
    },
    (
        "irq/fixedpoint.py",
        "dequantize_codes",
        "shape[axis] = sv.shape[0]",
        "core/NumberReplacer",
    ): "sv is 1-D here, so sv.shape[-1] is sv.shape[0] (sv.shape[1] raises and is killed)",
    (
        "irq/fixedpoint.py",
        "multiplier_error",
        "nz = r > 0",
        "core/ReplaceComparisonOperator_Gt_NotEq",
    ): "real multipliers are >= 0 (quantize_multiplier refuses negatives): r != 0 is r > 0",
    (
        "irq/fixedpoint.py",
        "quantize_bias",
        'return _round_clip(bias, acc_scale, *QRANGE["i32"], 0 if acc_scale.ndim else None)',
        "core/NumberReplacer",
    ): "a bias is 1-D: axis -1 is axis 0 (axis 1 raises and is killed)",
    (
        "irq/fixedpoint.py",
        "<module>",
        "SOFTMAX_EXP_BITS = 15",
        "core/NumberReplacer",
    ): "a parameter of the target like RESIZE_FRAC_BITS: lower-bpu, VALIDATION and both runtimes read the same "
    "table, so 14 or 16 bits keep them equal bit for bit; only the softmax's precision moves",
    **{
        ("irq/fixedpoint.py", "layer_norm_parameters", "n = g.shape[-1]", f"core/{op}"):
        "gamma is 1-D: shape[0] is shape[-1] (shape[1] raises and is killed)"
        for op in ("NumberReplacer", "ReplaceUnaryOperator_USub_Not", "ReplaceUnaryOperator_Delete_USub")
    },
    (
        "runtime/reference/ops.py",
        "conv2d",
        "acc += b.astype(dtype).reshape(1, -1, 1, 1)",
        "core/NumberReplacer",
    ): "numpy infers a dimension given as any negative size, so -2 is -1 (every other replacement is killed by "
    "test_conv2d_bias_is_added_per_output_channel)",
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "acc += b.astype(np.int64).reshape(1, -1, 1, 1)",
        "core/NumberReplacer",
    ): "as for conv2d's bias: -2 is inferred like -1",
    (
        "runtime/reference/ops.py",
        "_windows",
        "need_w = (ow - 1) * sw + dw * (kw - 1) + 1",
        "core/NumberReplacer",
    ): "a larger extent only pads more on the right, never read (a smaller one is killed by "
    "test_ceil_mode_pools_match_torch_on_every_small_geometry)",
    # lower-bpu after the split into passes/_lowering.py and passes/_lower_ops.py (fourth round)
    **{
        (f, fn, line, op): "every mode but the default sorts below 'half_up' (half_away, half_even, floor), so "
        "`<` and `<=` add the attribute exactly when `!=` does"
        for f, sites in _ROUNDING_SITES.items() for line, fns in sites.items() for fn in fns
        for op in ("core/ReplaceComparisonOperator_NotEq_Lt", "core/ReplaceComparisonOperator_NotEq_LtE")
    },
    **{
        (f, fn, line, "core/NumberReplacer"): "index into a list that always holds one element: [-1] is [0]"
        for f, by_fn in _SINGLE_ELEMENT_INDEX.items() for fn, lines in by_fn.items() for line in lines
    },
    (
        "passes/_lowering.py",
        "_clamp_attrs",
        "if clamp[1] != hi:",
        "core/ReplaceComparisonOperator_NotEq_LtE",
    ): "clamp[1] <= hi always (clamp_bounds is clipped to the storage range): the mutant writes max = qmax "
    "explicitly, the same clamp as the storage range",
    (
        "passes/_lowering.py",
        "_clamp_attrs",
        "if clamp[0] != lo:",
        "core/NumberReplacer",
    ): "clamp[1] (or clamp[-1]) is never qmin, so the mutant writes min whenever clamp[0] != lo and also when "
    "clamp[0] == lo, as an explicit min = qmin: the same clamp",
    (
        "passes/_lower_ops.py",
        "_weighted",
        'if kind == "conv_transpose2d" and groups != 1 and s_w.size > 1:',
        "core/ReplaceComparisonOperator_Gt_NotEq",
    ): "a scale array holds at least one scale: size > 1 and size != 1 agree",
    **{
        ("passes/_lower_ops.py", "lower_pieces", "if start != shape[dim]:", op):
        "the torch dialect's verifier refuses chunk/split results that do not cover the input (\"split sizes "
        "[2, 3] do not add up to 6\"), so start == shape[dim] here and every comparison false at equality "
        "agrees with `!=`"
        for op in ("core/ReplaceComparisonOperator_NotEq_Gt", "core/ReplaceComparisonOperator_NotEq_Lt")
    },
    **{
        ("passes/_lower_ops.py", "lower_adaptive_avg_pool2d", "if (oh, ow) == (1, 1):", op): why
        for op, why in (
            ("core/ReplaceComparisonOperator_Eq_LtE", "output sizes are >= 1, so (oh, ow) <= (1, 1) only at (1, 1)"),
            ("core/ReplaceComparisonOperator_Eq_Lt", "a 1x1 output then takes the equal-windows route: avg_pool2d "
             "with kernel = stride = the input, one divisor h * w and the multiplier of s_in / (s_out h w), the "
             "same sum and the same (M, S) as the global average pool"),
        )
    },
    (
        "passes/_lower_ops.py",
        "lower_layer_norm",
        'attrs = {"sqrt_frac_bits": IntegerAttr(sqrt_frac, i64)} if sqrt_frac != frac else {}',
        "core/ReplaceComparisonOperator_NotEq_Lt",
    ): "layer_norm_sqrt_frac_bits returns G <= F, so G < F and G != F agree",
    **{
        ("passes/_lower_ops.py", "lower_mean", "if rank == 4 and dims == [2, 3]:", op): "a 4-D mean over (2, 3) on "
        "the general route is the identity permutation, a (n, c, h * w, 1) view and one global average pool with "
        "the multiplier of s_in / (s_out h w): the same sum and the same (M, S) as the direct route (`[2, 3]` "
        "turned into `[1, 3]` is killed by test_means_over_other_dims_and_without_keepdim_match_numpy)"
        for op in ("core/ReplaceComparisonOperator_Eq_Gt", "core/NumberReplacer",
                   "core/ReplaceComparisonOperator_Eq_Is")
    },
    (
        "passes/_lower_ops.py",
        "lower_embedding",
        "tv = self.constant(codes, \"i8\", f\"{_str(op, 'owner') or 'embedding'}.table\")",
        "core/ReplaceOrWithAnd",
    ): "only the resource blob's name changes (\"embedding.N\" instead of \"<owner>.N\"); the counter keeps it "
    "unique and no number reads it",
    (
        "passes/_lowering.py",
        "lower_dcast",
        'data = _constant_data(qc.operands[0]) if qc is not None and qc.name == "quant.qcast" else None',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "at the frozen level a quantized value is produced by a quant.qcast (or is a block argument, qc None): "
    "no other producer reaches this line, so >= and == agree",
    (
        "passes/_lowering.py",
        "_clamp_attrs",
        "if clamp[1] != hi:",
        "core/NumberReplacer",
    ): "clamp[0] != hi always (a clamp's lower bound is below qmax), so the mutant writes max = clamp[1] "
    "explicitly also when it equals qmax: the same clamp (clamp[2] raises and is killed)",
    (
        "passes/_lowering.py",
        "finish_accumulator",
        'self.q[op.results[0]] = QValue(acc, s_acc, f"i{acc.type.element_type.width}", axis % ndim)',
        "core/ReplaceBinaryOperator_Mod_Pow",
    ): "axis is 1 (conv) or -1 (linear): 1 ** ndim = 1, and (-1) ** ndim is 1 (the last axis of a rank-2 "
    "output) or -1 (the last axis by a negative index), the same axis for every reader",
    (
        "passes/_lowering.py",
        "dequantized_weight",
        "self.counter += 1",
        "core/NumberReplacer",
    ): "+= 2 keeps every blob name unique (+= 0 is killed by test_two_float_islands_keep_their_own_weights)",
    # irq/quant/validation.py (fourth round)
    **{
        (_V, "<module>", "_F32_EXACT = 2**24", op): "a lower float32 bound (2 | 24 = 2 ^ 24 = 26) only sends "
        "more accumulations to the exact int64-chunk or float64 path: the same integers, slower"
        for op in ("core/ReplaceBinaryOperator_Pow_BitOr", "core/ReplaceBinaryOperator_Pow_BitXor")
    },
    (
        "irq/quant/validation.py",
        "exact",
        'if kind == "interpolate" and attrs.get("mode") == "bilinear" and in_fqs and in_fqs[0] is not None:',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "no other op kind sorting below 'interpolate' carries mode = 'bilinear', so <= and == agree",
    (
        "irq/quant/validation.py",
        "_apply",
        'conv = F.conv1d if kind == "conv1d" else F.conv2d',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "linear and conv_transpose2d returned above; of conv1d and conv2d only conv1d sorts <= 'conv1d'",
    **{
        (_V, "_pool_requant", line, op): "torch.unique sorts the divisors ascending, so `>=` writes every "
        "larger count too and the last write for a count is its own divisor's: the same (M, S) everywhere"
        for line in ("m_t = torch.where(counts == n, int(m), m_t)", "s_t = torch.where(counts == n, int(s), s_t)")
        for op in ("core/ReplaceComparisonOperator_Eq_GtE",)
    },
    (
        "irq/quant/validation.py",
        "_validating",
        "return fq is not None and fq.state is FakeQuantState.VALIDATION",
        "core/ReplaceComparisonOperator_Is_GtE",
    ): "FakeQuantState is a str enum: 'validation' is the largest of calibration < qat < validation",
    (
        "irq/quant/validation.py",
        "requantize",
        "fp.check_requantize_input(int(acc.abs().max()) if acc.numel() else 0)",
        "core/NumberReplacer",
    ): "only an empty accumulator takes the default, and 1 or -1 passes the < 2**32 check like 0",
    (
        "irq/quant/validation.py",
        "_clamp_out",
        "lo, hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)",
        "core/ReplaceUnaryOperator_USub_UAdd",
    ): "an activation's output scale is per tensor, one element: reshape(1) is reshape(-1)",
    (
        "irq/quant/validation.py",
        "_requant_one",
        "q = requantize(q_in * sign, torch.tensor(int(m)), torch.tensor(int(s)))",
        "core/ReplaceBinaryOperator_Mul_FloorDiv",
    ): "sign is 1 or -1: integer floor division by +-1 is multiplication by it",
    **{
        (_V, fn, line, "core/NumberReplacer"): "a one-input op: fqs[-1] is fqs[0] and inputs[-1] is inputs[0]"
        for fn, line in (
            ("_mul_scalar", "return _requant_one(fqs[0].codes(inputs[0]), float(_scale(fqs[0])) * float(a[\"other\"]) "
             "/ float(_scale(fq_out)),"),
            ("_mean", "x_q = fqs[0].codes(inputs[0])"),
            ("_sum", "x_q = fqs[0].codes(inputs[0])"),
            ("_sum", "return _pool_requant(sums, torch.ones_like(sums), float(_scale(fqs[0])), fq_out)"),
            ("_mean", "return _pool_requant(sums, torch.full_like(sums, n), float(_scale(fqs[0])), fq_out)"),
        )
    },
    (
        "passes/_lower_ops.py",
        "lower_softmax",
        "tv = self.constant(table, \"i32\", f\"{_str(op, 'owner') or 'softmax'}.exp_table\")",
        "core/ReplaceOrWithAnd",
    ): "only the resource blob's name changes; the counter keeps it unique and no number reads it",
    (
        "passes/_lowering.py",
        "requantize",
        "if clamp[0] != lo:",
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "small ints are cached, so `is not` agrees for int8; for int16's -32768 it writes min = qmin explicitly: "
    "the same clamp as the storage range",
    (
        "passes/_lowering.py",
        "requantize",
        "if clamp[0] != lo:",
        "core/NumberReplacer",
    ): "clamp[1] (or clamp[-1]) is never qmin, so the mutant also writes min when clamp[0] == lo, as an explicit "
    "min = qmin: the same clamp",
    (
        "passes/_lowering.py",
        "lower",
        'if name == "func.return":',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "constants and quant casts returned above; the frozen ops left are func.return, hl.* and torch.*, and only "
    "func.return sorts <= 'func.return'",
    # irq/quant/validation.py (fifth round)
    (
        _V,
        "_isqrt",
        'r = torch.where(r + 1 <= torch.div(v, r + 1, rounding_mode="floor"), r + 1, r)',
        "*@69-73",
    ): "the `+ 1` branch's value is never taken: the float64 estimate floor(sqrt(v)) is never below isqrt(v) for "
    "0 <= v < 2**63 (exact below 2**53; above, v's rounding, < 2**9, moves sqrt by < 2**-22, under half an ulp of "
    "r), and the `- 1` step stops at isqrt(v), so (r + 1)**2 <= v is never true (checked by "
    "test_isqrt_is_exact_where_the_float64_estimate_is_off's values too)",
    (
        _V,
        "_isqrt",
        'r = torch.where((r > 0) & (r > torch.div(v, r.clamp(min=1), rounding_mode="floor")), r - 1, r)',
        "core/NumberReplacer@21",
    ): "r >= 0, and at r = 0 the second test (0 > v // 1) is false; r = 1 comes only from v in 1..3, where the "
    "float64 estimate is exact, so `r > 1` (or `r > -1`) decrements nothing the original does not",
    **{
        (_V, fn, line, "core/NumberReplacer@" + col): "the clamp acts only when v 4**G < 4; with G >= 1 (every "
        "length but int16's longest rows) that is v = 0: a constant row with an integer eps of 0, where c = n x - "
        "S1 = 0 and z = floor((0 + r) / 2r) = 0 for every r >= 1, so min=2 gives the same z (min=0 divides by zero: "
        "killed by test_norm_of_a_constant_row_with_a_vanishing_eps_is_beta)"
        for fn, line, col in (
            ("_layer_norm", "r = torch.clamp(_isqrt(v * (1 << (2 * g))), min=1)", "48"),
            ("_group_norm", "r = torch.clamp(_isqrt((n * s2 - s1 * s1 + eps) * (1 << (2 * g))), min=1)", "71"),
        )
    },
    (
        _V,
        "_clamp_out",
        "lo, hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)",
        "core/NumberReplacer@70",
    ): "an activation's output scale is per tensor, one element: [-1] is [0] ([1] raises and is killed)",
    **{
        (_V, "exact", 'return _bilinear(inputs[0], in_fqs[0], out_fq, bool(attrs.get("align_corners")), '
         "tuple(y.shape[-2:]))", "core/NumberReplacer@" + col): "interpolate has one tensor input (the size is an "
        "attribute): inputs[-1] is inputs[0] and in_fqs[-1] is in_fqs[0] ([1] raises and is killed)"
        for col in ("24", "35")
    },
    (
        _V,
        "exact_accumulate",
        "k_per_in = max(1, per_channel_k // max(1, cin // groups))",
        "core/NumberReplacer@15",
    ): "per_channel_k is (cin / groups) x the kernel extent (linear: cin), a multiple of cin // groups, so the "
    "quotient is already >= 1 (max(0, .) is the same); max(2, .) only doubles a 1x1 kernel's chunk unit, so the "
    "exact int64 chunks are smaller or the sum takes the float64 path: the same integers",
    **{
        (_V, "_apply", line, "core/ReplaceComparisonOperator_Eq_Is"): "kind reaches exact() as a constant of the "
        "GraphModule's generated Python source (torch.fx compiles the graph to code), and identifier-like string "
        "constants are interned, so `is` agrees with `==`"
        for line in ('if kind == "linear":', 'if kind == "conv_transpose2d":')
    },
    (
        _V,
        "_prelu",
        "mult = torch.where(q >= 0, _channel_param(m, q), _channel_param(mn, q))",
        "core/ReplaceComparisonOperator_GtE_Gt",
    ): "at q = 0 the product q * mult is 0 whichever slope's multiplier is chosen",
    # lower-bpu (fifth round)
    (
        "passes/_lowering.py",
        "lower_dcast",
        'data = _constant_data(qc.operands[0]) if qc is not None and qc.name == "quant.qcast" else None',
        "core/ReplaceComparisonOperator_Eq_IsNot",
    ): "an op's name is its class's constant, another object than this module's 'quant.qcast' (dotted, so not "
    "interned): `is not` is always true and the mutant reads every producer's operand 0; at the frozen level "
    "the producer of a quant.dcast's !quant.uniform operand is a quant.qcast (or a block argument: qc is None)",
    (
        "passes/_lowering.py",
        "dequantize",
        "et = like.type.element_type if isinstance(like.type, ShapedType) and isinstance(like.type.element_type,",
        "core/ReplaceAndWithOr",
    ): "`like` is a quant.dcast result or a float op's operand fed by one: always a float tensor, so both tests "
    "hold and `or` picks the same element type",
    (
        "passes/_lowering.py",
        "dequantized_weight",
        "axis = e.axis if isinstance(e, UniformQuantizedPerAxisType) else 0",
        "core/NumberReplacer",
    ): "a per-tensor weight's scales are all equal, so laying them along axis 1 instead of 0 quantizes and "
    "dequantizes every element alike (the weights reaching a float island are conv/linear/embedding tables, "
    "rank >= 2)",
    (
        "passes/_lowering.py",
        "run",
        "for op in reversed(self.lowered):",
        "core/ZeroIterationForLoop",
    ): "the first of the two loops only drops references; Operation.erase (the second loop) drops them itself",
    (
        "passes/_lower_ops.py",
        "lower_avg_pool2d",
        "divisors = list(range(1, kh * kw + 1)) if partial else [kh * kw]",
        "core/ReplaceBinaryOperator_Add_LShift",
    ): "kh * kw << 1 only lengthens the per-count multiplier table past kh * kw; a window never holds more than "
    "kh * kw elements, so the extra entries are never read",
    (
        "passes/_lower_ops.py",
        "_mean_any_dims",
        "if perm != list(range(rank)):",
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "`is not` on a fresh list is always true: an identity bpu.transpose is emitted, which moves nothing",
    (
        "passes/_lower_ops.py",
        "pair",
        "v = [default, _ints(op, name, 1, default)[0]] if as_2d else _ints(op, name, 2, default)",
        "core/NumberReplacer@30-42",
    ): "a conv1d attribute holds one value: `_ints(.., 2, ..)[0]` repeats it ([s, s][0] = s) and `[-1]` of the "
    "one-element list is `[0]` (the count 1 -> 0 raises: killed by "
    "test_conv1d_lowers_with_its_stride_padding_and_dilation)",
    (
        "passes/_lower_ops.py",
        "lower_matmul",
        "self.finish_accumulator(op, acc, np.array([a.scale * b.scale]), -1)",
        "core/NumberReplacer",
    ): "a matmul's accumulator scale is one number: one multiplier, which the requantize (or the high-precision "
    "output's dequantize) applies whatever its axis",
    (
        "passes/_lower_ops.py",
        "lower_matmul",
        "if bound >= 2**31:",
        "core/ReplaceBinaryOperator_Pow_Add",
    ): "the guarded call, fp.check_requantize_input, refuses only bounds >= 2**32, so calling it for every bound "
    "above 33 (a matmul's is K * 128 * 128) changes nothing",
    **{
        (f, fn, line, "core/ReplaceComparisonOperator_NotEq_IsNot"): "the option's string is parsed, not this "
        "module's constant, so `is not` holds for every mode: half_up is then written as an explicit rounding "
        "attribute, which is the default the runtimes apply anyway"
        for f, sites in _ROUNDING_SITES.items() for line, fns in sites.items() for fn in fns
    },
    # runtime/reference (fifth round)
    **{
        ("runtime/reference/arithmetic.py", "per_channel", "if arr.size == 1:", op): "a one-element parameter "
        "reshaped to [1] * rank (its one entry on `axis`) broadcasts exactly like the scalar; an empty parameter "
        "list is refused by the bpu verifiers before any run"
        for op in ("core/ReplaceComparisonOperator_Eq_Lt", "core/ReplaceComparisonOperator_Eq_LtE")
    },
    ("runtime/reference/arithmetic.py", "rshift_round", 'if rounding == "half_up":',
     "core/ReplaceComparisonOperator_Eq_GtE"): "floor returned above; of the modes the bpu verifiers accept "
    "(floor, half_up, half_even, half_away) only half_up sorts >= 'half_up'",
    ("runtime/reference/arithmetic.py", "rshift_round", 'if rounding == "half_even":',
     "core/ReplaceComparisonOperator_Eq_GtE"): "floor and half_up returned above; of half_even and half_away only "
    "half_even sorts >= 'half_even'",
    ("runtime/reference/float_ops.py", "_to_result_shape", "return np.reshape(x, tuple(op.results[0].type.shape))",
     "core/NumberReplacer"): "reshape and view ops have one result: [-1] is [0] ([1] raises and is killed)",
    ("runtime/reference/ops.py", "max_pool2d", "fill = -(2**62)  # below every code: padding never wins",
     "core/ReplaceBinaryOperator_Pow_LShift"): "-(2 << 62) = -2**63 is int64's minimum: still below every code "
    "(int8/int16), so padding never wins either way",
    ("runtime/reference/ops.py", "div", "safe = np.where(den == 0, 1, den)",
     "core/ReplaceComparisonOperator_Eq_LtE"): "den = |b| >= 0, so den <= 0 is den == 0",
    ("runtime/reference/ops.py", "pool_stride", 'return pair(op, "stride", 1) if attr(op, "stride") else (kh, kw)',
     "core/NumberReplacer"): "pair's default is read only when the attribute is absent, and this branch runs only "
    "when it is present",
    ("runtime/reference/ops.py", "pair", "return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])",
     "core/ReplaceComparisonOperator_Eq_LtE"): "an empty list raises IndexError on v[0] either way",
    (
        _V,
        "_clamp_out",
        "lo, hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)",
        "core/NumberReplacer@67",
    ): "_scale returns a numpy array, and numpy infers any negative reshape size: reshape(-2) is reshape(-1) "
    "(reshape(-0) raises and is killed)",
    (
        "passes/_lowering.py",
        "_ints",
        "return vals * n if len(vals) == 1 else vals",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "an empty list returned the default above, so len(vals) <= 1 is len(vals) == 1",
    **{
        ("runtime/reference/ops.py", fn, line, "core/NumberReplacer"): "every bpu op has one result (torch.split "
        "and chunk lower to one bpu.slice per piece): results[-1] is results[0] ([1] raises and is killed)"
        for fn, line in (("result_bits", "return op.results[0].type.element_type.width"),
                         ("result_shape", "return tuple(op.results[0].type.shape)"))
    },
    (
        "passes/_lower_ops.py",
        "pair",
        "v = [default, _ints(op, name, 1, default)[0]] if as_2d else _ints(op, name, 2, default)",
        "core/NumberReplacer@76",
    ): "a conv2d's attributes are written as two values, which _ints returns as they are whatever the count; a "
    "single value (count 1) or a tripled one (count 3) is read by both runtimes' pair() as (v, v) or its first two",
    (
        "passes/_lower_ops.py",
        "_weighted",
        'elif kind == "conv2d":',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "linear returned above and a conv1d was renamed conv2d (as_2d); of conv2d and conv_transpose2d only conv2d "
    "sorts <= 'conv2d'",
    **{
        ("runtime/reference/ops.py", "avg_pool_divisors", line, "core/NumberReplacer"): "bpu.avg_pool2d requires "
        "kernel_size and padding (no default in the dialect), so pair()'s default is never read"
        for line in ('kh, kw = pair(op, "kernel_size", 1)', 'ph, pw = pair(op, "padding", 0)')
    },
    ("runtime/reference/ops.py", "prelu", 'axis = attr(op, "axis", 1) % max(rank, 1)', "core/NumberReplacer@39"):
    "max(rank, 2) differs only for a rank-0/1 input, where a PReLU has one slope: per_channel returns a scalar "
    "and never reads the axis",
    # passes/_lower_layer_ops.py (fifth round)
    **{
        ("passes/_lower_layer_ops.py", "_rounding",
         'return {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}', op): why
        for op, why in (
            ("core/ReplaceComparisonOperator_NotEq_Lt", "every mode but the default sorts below 'half_up' "
             "(half_away, half_even, floor), so `<` adds the attribute exactly when `!=` does"),
            ("core/ReplaceComparisonOperator_NotEq_IsNot", "the option's string is parsed, not this module's "
             "constant, so `is not` holds for every mode: half_up is then written explicitly, the default"),
        )
    },
    **{
        ("passes/_lower_layer_ops.py", fn, line, "core/NumberReplacer"): "index into a list that always holds "
        "one element (a one-input, one-result op): [-1] is [0] ([1] raises and is killed)"
        for fn, line in (
            ("_moved", "self.q[op.results[0]] = QValue(y, x.scale, x.dtype)"),
            ("lower_pad", "out_t = TensorType(_shape(op.results[0]), _int_type(x.dtype))"),
            ("_shuffle", "x = self.act(op.operands[0])"),
            ("_shuffle", "y = self.emit(bpu.ReshapeOp(v, result_types=[TensorType(_shape(op.results[0]), it)])).out"),
            ("lower_stack", "self.q[qc.results[0]] = QValue(y, s_out, dtype)"),
        )
    },
}
