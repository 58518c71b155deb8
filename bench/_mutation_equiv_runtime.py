"""Reviewed equivalent mutants of the reference runtime (runtime/reference/) and the torch executor's builders.

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

RUNTIME: dict[tuple[str, str, str, str], str] = {
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
    (
        "runtime/reference/ops.py",
        "conv_transpose2d",
        "full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)",
        "core/ReplaceBinaryOperator_Sub_BitXor",
    ): "`x ^ 1` is x - 1 for odd x and x + 1 for even x: the buffer is the same or wider (extra columns "
    "outside the crop)",
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
    ("runtime/reference/arithmetic.py", "round_from_floor", 'if rounding == "half_up":',
     "core/ReplaceComparisonOperator_Eq_GtE"): "floor returned above; of the modes the bpu verifiers accept "
    "(floor, half_up, half_even, half_away) only half_up sorts >= 'half_up'",
    ("runtime/reference/arithmetic.py", "round_from_floor", 'elif rounding == "half_even":',
     "core/ReplaceComparisonOperator_Eq_GtE"): "floor and half_up handled above; of half_even and half_away only "
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
    **{
        ("runtime/reference/ops.py", fn, line, "core/NumberReplacer"): "every bpu op has one result (torch.split "
        "and chunk lower to one bpu.slice per piece): results[-1] is results[0] ([1] raises and is killed)"
        for fn, line in (("result_bits", "return op.results[0].type.element_type.width"),
                         ("result_shape", "return tuple(op.results[0].type.shape)"))
    },
    **{
        ("runtime/reference/ops.py", "avg_pool_divisors", line, "core/NumberReplacer"): "bpu.avg_pool2d requires "
        "kernel_size and padding (no default in the dialect), so pair()'s default is never read"
        for line in ('kh, kw = pair(op, "kernel_size", 1)', 'ph, pw = pair(op, "padding", 0)')
    },
    ("runtime/reference/ops.py", "prelu", 'axis = attr(op, "axis", 1) % max(rank, 1)', "core/NumberReplacer@39"):
    "max(rank, 2) differs only for a rank-0/1 input, where a PReLU has one slope: per_channel returns a scalar "
    "and never reads the axis",
}
