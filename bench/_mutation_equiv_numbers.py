"""Reviewed equivalent mutants where the fixed-point numbers are decided off the runtime.

irq/fixedpoint.py and VALIDATION (irq/quant/validation.py).

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

_V = "irq/quant/validation.py"

NUMBERS: dict[tuple[str, str, str, str], str] = {
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
    (
        _V,
        "_clamp_out",
        "lo, hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)",
        "core/NumberReplacer@67",
    ): "_scale returns a numpy array, and numpy infers any negative reshape size: reshape(-2) is reshape(-1) "
    "(reshape(-0) raises and is killed)",
    # irq/quant/validation.py (tenth round: the in-place passes of commit 56a0a92)
    (
        _V,
        "_absmax",
        "return 0",
        "core/NumberReplacer",
    ): "only an empty tensor takes it: 1 or -1 passes check_requantize_input as 0 does, and an empty operand's "
    "accumulation is empty on every path (a weight with no input channels has per_channel_k 0: the float32 path)",
    **{
        (_V, "_clamp_out", "a_lo, a_hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), "
         "fq_out.storage)", op): "an activation's output scale is per tensor, one element, and numpy infers any "
        "negative reshape size: reshape(1), reshape(+1), reshape(~1) and reshape(-2) are reshape(-1) (reshape(-0) "
        "raises and is killed)"
        for op in ("core/ReplaceUnaryOperator_USub_Invert@70", "core/ReplaceUnaryOperator_Delete_USub@70",
                   "core/ReplaceUnaryOperator_USub_UAdd@70", "core/NumberReplacer@71")
    },
    (
        _V,
        "_clamp_out",
        "a_lo, a_hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)",
        "core/NumberReplacer@74",
    ): "an activation's output scale is per tensor, one element: [-1] is [0] ([1] raises and is killed)",
    (
        _V,
        "_weighted",
        "axis = fq_w.axis if fq_w.axis is not None else 0",
        "core/NumberReplacer",
    ): "only a per-tensor weight quantizer takes the `else`, and its scale is 0-d: fp._round_clip reads the axis "
    "only for a 1-d scale",
    (
        _V,
        "_weighted",
        'x_q = fq_in.codes(x, torch.float32 if fq_in.storage in ("i8", "i16") else torch.int64)',
        "core/AddNot",
    ): "a qint32 quantizer is always a marker and exact() refuses a marker input before _weighted, so fq_in is "
    "int8 or int16: its codes are the same integers as int64 or float32, and exact_accumulate converts either "
    "to float32 or float64 before any arithmetic",
    (
        _V,
        "_weighted",
        'channels = acc.shape[-1] if kind == "linear" else acc.shape[1]',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "of the four kinds _weighted serves (conv1d, conv2d, conv_transpose2d, linear) only 'linear' sorts >= "
    "'linear'",
    (
        _V,
        "exact_accumulate",
        "per_channel_k = w_q[0].numel() if kind != \"conv_transpose2d\" else (w_q.shape[0] // groups) * "
        "w_q[0, 0].numel()",
        "core/ReplaceBinaryOperator_FloorDiv_Mul@80",
    ): "a bound `groups` times larger (the same with one group) only sends a grouped transposed conv to the "
    "float64 path, exact below 2**53, and makes k_per_in larger (smaller int64 chunks): the same integers",
    **{
        (_V, "exact_accumulate", "k_per_in = max(1, per_channel_k // max(1, cin // groups))", op): "k_per_in only "
        "sizes the int64 chunks, which one group takes: there cin // groups is cin (`*` is the same), and `%` "
        "(0, so max(1, .) = 1), `>>` (cin // 2) or the first `//` as `<<` only make k_per_in larger: smaller exact "
        "chunks or the float64 path, the same integers"
        for op in ("core/ReplaceBinaryOperator_FloorDiv_LShift@32", "core/ReplaceBinaryOperator_FloorDiv_Mul@46",
                   "core/ReplaceBinaryOperator_FloorDiv_Mod@46", "core/ReplaceBinaryOperator_FloorDiv_RShift@46")
    },
    (
        _V,
        "exact_accumulate",
        "unit = max(1, k_per_in * xmax * wmax)",
        "core/ReplaceBinaryOperator_Mul_LShift@30",
    ): "(k_per_in * xmax) << wmax is k_per_in * xmax * 2**wmax >= the product (2**w >= w, and >= max(1, 0) at "
    "wmax 0): a larger unit, so smaller exact chunks or the float64 path, the same integers",
    (
        _V,
        "exact_accumulate",
        "if per_channel_k * xmax * wmax < _F32_EXACT:",
        "core/ReplaceBinaryOperator_Mul_Pow@17",
    ): "K ** xmax * wmax >= K * xmax * wmax for K >= 2 and xmax >= 1 (slower exact paths); at xmax 0 both bounds "
    "pass, and K <= 1 sums one product, below 2**24 for int16 codes times int8 weights: exact on any path",
    (
        _V,
        "exact_accumulate",
        "if per_channel_k * xmax * wmax < _F32_EXACT:",
        "core/ReplaceComparisonOperator_Lt_LtE",
    ): "every integer of magnitude <= 2**24 is a float32, so a sum whose products' magnitudes add up to 2**24 "
    "is still exact in any order",
    **{
        (_V, "exact_accumulate", "step = (_F32_EXACT - 1) // unit", op): "every integer of magnitude <= 2**24 is a "
        "float32, so chunks whose products' magnitudes sum to at most 2**24 (`* 1`, `- 0`) are still summed "
        "exactly in any order; a smaller step (`- 2`; `& 1` and `% 1` give 0: the float64 path) is exact too"
        for op in ("core/ReplaceBinaryOperator_Sub_Mul", "core/ReplaceBinaryOperator_Sub_BitAnd",
                   "core/ReplaceBinaryOperator_Sub_Mod", "core/NumberReplacer@21",
                   "core/ReplaceBinaryOperator_Sub_FloorDiv", "core/ReplaceBinaryOperator_Sub_RShift",
                   "core/ReplaceBinaryOperator_Sub_Pow", "core/ReplaceBinaryOperator_FloorDiv_RShift")
    },
    **{
        (_V, "exact_accumulate", "if per_channel_k * xmax * wmax < _F32_EXACT:", op): "the float32 path is taken "
        "only at a bound of exactly 2**24 (exact: every integer of magnitude <= 2**24 is a float32) or never (a "
        "product is never the constant's int object): the other sums take the exact int64-chunk or float64 paths"
        for op in ("core/ReplaceComparisonOperator_Lt_Eq", "core/ReplaceComparisonOperator_Lt_Is")
    },
    (
        _V,
        "exact_accumulate",
        "if groups == 1 and step >= 1:",
        "core/ReplaceComparisonOperator_Eq_Lt",
    ): "groups >= 1, so `groups < 1` sends every reduction past the float32 bound to float64, exact below 2**53 "
    "(int16 codes times int8 weights: K < 2**31): the same integers",
    **{
        (_V, "exact_accumulate", "per_channel_k = w_q[0].numel() if kind != \"conv_transpose2d\" else "
         "(w_q.shape[0] // groups) * w_q[0, 0].numel()", op): "Cin << groups and Cin | groups are >= Cin // groups: "
        "a larger bound and k_per_in, so smaller exact int64 chunks or the float64 path, the same integers"
        for op in ("core/ReplaceBinaryOperator_FloorDiv_LShift@80", "core/ReplaceBinaryOperator_FloorDiv_BitOr@80",
                   "core/ReplaceBinaryOperator_FloorDiv_Add@80", "core/ReplaceBinaryOperator_FloorDiv_Pow@80",
                   "core/ReplaceBinaryOperator_Mul_LShift@91")
    },
    (
        _V,
        "exact_accumulate",
        "k_per_in = max(1, per_channel_k // max(1, cin // groups))",
        "core/ReplaceBinaryOperator_FloorDiv_Sub@46",
    ): "k_per_in only sizes the chunks of one group, where cin - 1 (max(1, .) at cin = 1) makes it larger or "
    "equal: smaller exact chunks or the float64 path, the same integers",
    **{
        (_V, fn, line, "core/ReplaceComparisonOperator_" + op): "kind reaches exact() as a constant of the "
        "GraphModule's generated Python source (torch.fx compiles the graph to code), as do the tests' literals, "
        "and identifier-like string constants are interned, so `is` agrees with `==`"
        for fn, line, op in (
            ("_weighted", 'channels = acc.shape[-1] if kind == "linear" else acc.shape[1]', "Eq_Is"),
            ("exact_accumulate", 'cin_axis = 1 if kind != "linear" else -1', "NotEq_IsNot"),
            ("exact_accumulate", 'w_in_axis = 0 if kind == "conv_transpose2d" else 1', "Eq_Is"),
            ("exact_accumulate", 'per_channel_k = w_q[0].numel() if kind != "conv_transpose2d" else '
             "(w_q.shape[0] // groups) * w_q[0, 0].numel()", "NotEq_IsNot"),
        )
    },
    (
        _V,
        "exact_accumulate",
        "k_per_in = max(1, per_channel_k // max(1, cin // groups))",
        "core/ReplaceBinaryOperator_FloorDiv_Pow@46",
    ): "k_per_in only sizes the chunks of one group, where cin ** 1 is cin // 1",
    **{
        (_V, "exact_accumulate", "unit = max(1, k_per_in * xmax * wmax)", op): "a unit at least as large (max(2, "
        ".) differs only below 2, max(0, .) only at a bound of 0, which the float32 path takes first; "
        "`k_per_in << xmax * wmax` is astronomically larger): smaller exact chunks or the float64 path"
        for op in ("core/NumberReplacer@11", "core/ReplaceBinaryOperator_Mul_LShift@23")
    },
    (
        _V,
        "exact_accumulate",
        "if per_channel_k * xmax * wmax < _F32_EXACT:",
        "core/ReplaceBinaryOperator_Mul_LShift@24",
    ): "(K * xmax) << wmax >= K * xmax * wmax: a larger bound, so the exact int64-chunk or float64 path",
    (
        _V,
        "exact_accumulate",
        "if groups == 1 and step >= 1:",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "groups >= 1: `<= 1` is `== 1`",
    **{
        (_V, "exact_accumulate", "if groups == 1 and step >= 1:", "core/ReplaceComparisonOperator_" + op): "a step "
        "of 1 (or of 2 and more) then takes the float64 path, exact below 2**53, instead of int64 chunks; a step of "
        "0 still does: the same integers"
        for op in ("GtE_Eq", "GtE_Gt")
    },
    (
        _V,
        "exact_accumulate",
        "k_per_in = max(1, per_channel_k // max(1, cin // groups))",
        "core/ReplaceBinaryOperator_FloorDiv_BitAnd@46",
    ): "k_per_in only sizes the chunks of one group, where cin & 1 is 0 or 1: max(1, .) is 1, so k_per_in is "
    "per_channel_k, at least the true one: smaller exact chunks or the float64 path",
    **{
        (_V, "exact_accumulate", "k_per_in = max(1, per_channel_k // max(1, cin // groups))",
         "core/ReplaceBinaryOperator_FloorDiv_" + op + "@32"): "K + c, K * c, K ** c and K | c are all >= K // c "
        "(K, c >= 1): a larger k_per_in, so smaller exact chunks or the float64 path, the same integers"
        for op in ("Add", "Mul", "Pow", "BitOr")
    },
    (
        _V,
        "exact_accumulate",
        "if per_channel_k * xmax * wmax < _F32_EXACT:",
        "core/ReplaceBinaryOperator_Mul_LShift@17",
    ): "K << (xmax * wmax) >= K * xmax * wmax, and equals K only when a code bound is 0, where every product is 0: "
    "a larger bound, so an exact path",
    (
        _V,
        "exact_accumulate",
        'cin_axis = 1 if kind != "linear" else -1',
        "core/ReplaceComparisonOperator_NotEq_Lt",
    ): "of the four weighted kinds exactly the three convs sort below 'linear': `<` is `!=`",
    # saturating_reals (session 14): the capped multiplier only has to pass the saturation threshold
    (
        "irq/fixedpoint.py",
        "saturating_reals",
        "capped = 2.0 * (float(out_hi) - float(out_lo) + others + 1.0)",
        "*",
    ): "the cap only has to exceed range + others (a rounding moves the sum by < 1): a factor 1 or 3 for 2, the +1 "
       "dropped or negated, keep every nonzero code saturated; the mutants that cut it below are killed",
    (
        "irq/fixedpoint.py",
        "saturating_reals",
        "others = sum(float(r[j]) * float(input_absmax[j]) for j in range(r.size) if j != k)",
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "`j is not k` on small ints is `j != k` in CPython (ints below 257 are cached objects)",
    (
        "irq/fixedpoint.py",
        "saturating_reals",
        "if capped >= MAX_REAL_MULTIPLIER:",
        "core/ReplaceComparisonOperator_GtE_Gt",
    ): "at capped == 2**30 exactly both return a sum with no multiplier: common_shift_multipliers refuses 2**30",
    (
        "irq/fixedpoint.py",
        "saturating_reals",
        "r = np.array(reals, dtype=np.float64).reshape(-1)",
        "core/NumberReplacer",
    ): "numpy takes any negative size as the unknown one: reshape(-2) is reshape(-1)",
    (
        "irq/fixedpoint.py",
        "saturating_reals",
        "k = int(big[0])",
        "core/NumberReplacer",
    ): "big has exactly one element here (big.size == 1 is checked above): big[-1] is big[0]",
}
