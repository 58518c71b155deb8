"""Reviewed equivalent mutants of lower-bpu and lower-layer-ops.

passes/_lowering.py, _lower_ops.py, _lower_layer_ops.py and lower_bpu.py.

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

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

LOWERING: dict[tuple[str, str, str, str], str] = {
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
    (
        "passes/_lowering.py",
        "_ints",
        "return vals * n if len(vals) == 1 else vals",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "an empty list returned the default above, so len(vals) <= 1 is len(vals) == 1",
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
            # sixth round
            ("lower_div", "result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))])).out"),
            ("lower_div", "self.q[qc.results[0]] = QValue(y, s_out, dtype)"),
            ("_int_div", "result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],"),
            ("_int_div", "self.q[qc.results[0]] = QValue(y, s_out, dtype)"),
            ("lower_log_softmax", "x = self.act(op.operands[0])"),
            ("lower_log_softmax", "result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],"),
            ("lower_log_softmax", "self.q[qc.results[0]] = QValue(y, s_out, dtype)"),
            ("lower_cumsum", "x = self.act(op.operands[0])"),
        )
    },
    # passes/_lower_layer_ops.py (sixth round)
    ("passes/_lower_layer_ops.py", "_rounding",
     'return {"rounding": StringAttr(self.rounding)} if self.rounding != "half_up" else {}',
     "core/ReplaceComparisonOperator_NotEq_LtE"): "all four modes sort <= 'half_up', so the mutant only adds "
    "rounding = half_up explicitly, the attribute's default",
    ("passes/_lower_layer_ops.py", "_normalize_groups",
     'attrs = {"sqrt_frac_bits": IntegerAttr(sqrt_frac, i64)} if sqrt_frac != frac else {}',
     "core/ReplaceComparisonOperator_NotEq_LtE"): "fp.layer_norm_sqrt_frac_bits counts G down from F, so G <= F "
    "always holds: the mutant also writes sqrt_frac_bits = frac_bits, the attribute's default (dialects: g = f "
    "when absent)",
    ("passes/_lower_layer_ops.py", "lower_pad",
     'if mode == "constant" and v != 0.0 and float(np.float32(code * x.scale)) != float(np.float32(v)) and \\',
     "core/ReplaceComparisonOperator_Eq_GtE"): "of the modes >= 'constant', reflect and replicate carry no value "
    "(the frontend writes none, so v = 0.0) and `v != 0.0` is false for them as for constant's 0",
    ("passes/_lower_layer_ops.py", "lower_prelu",
     "if slope.size > 1 and (len(shape) < 2 or shape[1] != slope.size):",
     "core/ReplaceComparisonOperator_Gt_NotEq"): "`!= 1` differs from `> 1` only for zero slopes, and a PReLU "
    "weight has at least one (torch.prelu refuses an empty weight before anything is traced)",
    **{
        ("passes/_lower_layer_ops.py", fn, line, "core/ReplaceOrWithAnd"): "the hint only names the constant's "
        "resource blob (Lowering.constant makes every key unique with a counter); no reader parses it, so the "
        "program computes the same numbers under any name"
        for fn, line in (("lower_batch_norm", 'owner = _str(op, "owner") or "batch_norm"'),
                         ("lower_log_softmax", 'owner = _str(op, "owner") or "log_softmax"'),
                         # seventh round
                         ("lower_div_scalar_rounded", 'b = self.constant(np.array([1 if c > 0 else -1]), "i8", '
                          'f"{_str(op, \'owner\') or \'div_scalar\'}.divisor")'))
    },
    # passes/_lower_layer_ops.py (seventh round)
    **{
        ("passes/_lower_layer_ops.py", fn, line, "core/NumberReplacer"): "index into a list that always holds "
        "one element (a one-input, one-result op): [-1] is [0] ([1] raises and is killed)"
        for fn, line in (
            ("lower_div", "result_types=[TensorType(_shape(op.results[0]), _int_type(dtype))],"),
            ("lower_sum", "in_shape = _shape(op.operands[0])"),
        )
    },
    ("passes/_lower_layer_ops.py", "lower_pad", 'pad = _ints(op, "pad", 1, 0, empty=[])', "core/NumberReplacer"):
        "torch's F.pad takes (before, after) pairs (an odd-length pad is refused when traced) and the frontend "
        "always writes `pad`: the one-value repeat count and the missing-attribute default are never read",
    ("passes/_lower_layer_ops.py", "lower_pad",
     'code = int(fp.quantize_to_codes(np.float32(v), x.scale, x.dtype)) if mode == "constant" else 0',
     "core/ReplaceComparisonOperator_Eq_LtE"): "circular, the one mode sorting below 'constant', carries no "
    "value (v = 0.0), whose code is the else branch's 0",
    ("passes/_lower_layer_ops.py", "_reaches_return", 'if u.name == "func.return":',
     "core/ReplaceComparisonOperator_Eq_LtE"): "a frozen value's users are hl., torch., quant. ops and "
    "func.return (one function, no calls): none sorts below 'func.return'",
}
