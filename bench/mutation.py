"""Mutation testing: how many small, plausible bugs in the modules that decide numbers and shapes
does the test suite catch?

cosmic-ray (`pip install -e ".[mutation]"`) generates the mutants of each target module and applies
them one at a time; this script decides which tests run against each and prints per module: mutants
killed / non-equivalent mutants run, and every survivor (file:line, operator, the mutated line). Not
part of CI. docs/design.md ("Test strength") records the last figures.

    python bench/mutation.py --list                              # targets and their tests
    python bench/mutation.py fixedpoint --keep .mutation-runs --jobs 2   # unsampled; resumable
    python bench/mutation.py fixedpoint --replay .mutation-runs  # survivors against the current tests
    python bench/mutation.py cse --sample 40 --time-box 900      # at most 40 mutants / 15 min

How a run stays bounded without sampling (bench/_mutation_exec.py): one unmutated run of the
target's tests under coverage.py records which tests execute each line; a mutant inside a function
body runs only the tests that execute its statement, fastest first, `-x`, in a forked child of a
process that imported torch, irq and the tests once (the mutant's code objects are swapped into the
live functions). A mutant that acts at import time (a module constant, a default, a decorator)
runs all the target's tests in a fresh pytest. A mutant is killed when its tests fail or time out.
Mutants judged equivalent (no behaviour can tell them apart) are listed in EQUIVALENT with the
reason and left out of the score; mutants inside annotations are not run (never evaluated).

Each target runs in scratch copies of the working tree (one per --jobs executor; the source is
never mutated in place, so other runs of the suite are unaffected). `--keep DIR` keeps the session
(cosmic-ray's database, the coverage map, the copies) in DIR/<target>: running the same command
again resumes the mutants not yet run. `--replay DIR` re-applies every survivor of a kept session
to a copy of the current tree and runs its tests again plus the target's tests/test_mutation_kills_*
files (and test files added to the target since), so a new test is credited only with the mutants it
fails against; `--fresh` runs each in a new pytest, an independent check of the fork server.

Adding a module is one line in TARGETS: name -> (source files, test files, lit files).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: cosmic-ray's own dependency reads TOML too
    import toml as tomllib

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    lit: tuple[str, ...] = ()


_LIT_PASSES = "tests/filecheck/passes/"

#: name -> the modules mutated and the tests that decide their behaviour (paths from the repo root)
TARGETS: dict[str, Target] = {
    "frontend-mapping": Target(
        ("irq/frontend/mapping.py", "irq/frontend/module_mapping.py", "irq/frontend/emit.py"),
        (
            "tests/test_op_options.py",
            "tests/test_shape_rules.py",
            "tests/test_static_shapes.py",
            "tests/test_frontend_zoo.py",
        ),
    ),
    "dialect-shapes": Target(
        ("dialects/_shapes.py",),
        ("tests/test_op_options.py", "tests/test_shape_rules.py", "tests/test_torch_dialect.py"),
    ),
    "frontend-shapes": Target(
        ("irq/frontend/shapes.py",),
        ("tests/test_static_shapes.py", "tests/test_op_options.py", "tests/test_shape_rules.py"),
    ),
    "torch-executor": Target(
        ("runtime/torch/builder.py", "runtime/torch/functions.py", "runtime/torch/resolve.py"),
        ("tests/test_op_options.py", "tests/test_fused_executor.py"),
    ),
    "rewrite-driver": Target(
        ("irq/rewrite/driver.py",),
        (
            "tests/test_rewrite_driver.py",
            "tests/test_canonicalize_pass.py",
            "tests/test_driver_seed_order.py",
            "tests/test_pass_semantics.py",
            "tests/test_dag_matcher.py",
        ),
        (_LIT_PASSES + "canonicalize.irq", _LIT_PASSES + "canonicalize-multi-result.irq"),
    ),
    "cse": Target(
        ("passes/cse.py",),
        ("tests/test_pass_semantics.py",),
        (_LIT_PASSES + "cse.irq", _LIT_PASSES + "cse-regions.irq"),
    ),
    "canonicalize": Target(
        ("passes/canonicalize.py",),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py"),
        (_LIT_PASSES + "canonicalize.irq", _LIT_PASSES + "canonicalize-multi-result.irq"),
    ),
    # The fixed-point modules run unsampled: each mutant runs only the tests that execute its statement
    # (bench/_mutation_exec.py), so their lists can hold every fast test that checks their numbers against
    # an oracle. Left out for time: test_chain_consistency.py and test_mixed_precision.py (minutes each).
    # the fixed-point contract: multipliers/shifts, quantized biases and weights, lookup tables, softmax and
    # layer norm parameters, accumulator widths
    "fixedpoint": Target(
        ("irq/fixedpoint.py",),
        (
            "tests/test_fixedpoint.py",
            "tests/test_mutation_kills_fixedpoint.py",
            "tests/test_reference_requantize.py",
            "tests/test_reference_ops.py",
            "tests/test_lower_bpu.py",
            "tests/test_quant_validation.py",
            "tests/test_transformer_quant.py",
        ),
    ),
    # the reference runtime: the integer arithmetic (requantize, rounding shifts), the bpu ops, the float
    # islands and the interpreter
    "reference-runtime": Target(
        (
            "runtime/reference/arithmetic.py",
            "runtime/reference/ops.py",
            "runtime/reference/float_ops.py",
            "runtime/reference/interpreter.py",
        ),
        (
            "tests/test_reference_requantize.py",
            "tests/test_reference_ops.py",
            "tests/test_reference_without_torch.py",
            "tests/test_mutation_kills_reference.py",
            "tests/test_float_islands.py",
            "tests/test_lower_bpu.py",
            "tests/test_transformer_quant.py",
            "tests/test_convert_artifact.py",
        ),
    ),
    # lowering's parameter code: requantize insertion, weight/bias codes, multipliers and shifts, LUTs,
    # rescaled add/cat, accumulator widths
    "lower-bpu": Target(
        ("passes/lower_bpu.py",),
        (
            "tests/test_lower_bpu.py",
            "tests/test_mutation_kills_lower_bpu.py",
            "tests/test_transformer_quant.py",
            "tests/test_convert_artifact.py",
        ),
    ),
    "quant-validation": Target(
        ("irq/quant/validation.py",),
        ("tests/test_quant_validation.py", "tests/test_transformer_quant.py", "tests/test_qat_operand_slot.py"),
    ),
    # arith's folds and canonicalization patterns: the integer arithmetic canonicalize applies
    "arith-folds": Target(
        ("dialects/arith.py", "dialects/_arith_semantics.py"),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py"),
        (_LIT_PASSES + "canonicalize.irq",),
    ),
}

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
        "passes/lower_bpu.py",
        "_add_sub",
        'if self.rounding != "half_up":',
        "core/ReplaceComparisonOperator_NotEq_LtE",
    ): "all four modes sort <= 'half_up', so the mutant only adds rounding = half_up explicitly, the "
    "attribute's default",
    (
        "passes/lower_bpu.py",
        "_clamp_attrs",
        "if clamp[1] != hi:",
        "core/ReplaceComparisonOperator_NotEq_Is",
    ): "`is not` on equal ints above 256 writes max = qmax explicitly: the same clamp as the storage range",
    (
        "passes/lower_bpu.py",
        "_weighted",
        "out_shape = _shape(op.results[0])",
        "core/NumberReplacer",
    ): "conv, conv_transpose and linear have one result: results[-1] is results[0] ([1] raises and is killed)",
    (
        "passes/lower_bpu.py",
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
        "passes/lower_bpu.py",
        "lower_mean",
        'dims = sorted(d % rank for d in _ints(op, "dim", 1, 0)) if op.get_attr("dim") is not None else []',
        "core/NumberReplacer",
    ): "the count and the default only change a single or empty dim list, and the only list accepted is [2, 3]: "
    "every other is refused either way",
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
}


# ----------------------------------------------------------------------------- scratch copy
def _package_links() -> dict[str, str]:
    """Subpackages that pyproject maps outside irq/ (irq.dialects -> dialects/): link name -> directory."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dirs = cfg["tool"]["setuptools"]["package-dir"]
    return {pkg.split(".", 1)[1]: d for pkg, d in dirs.items() if pkg.startswith("irq.")}


def make_scratch_copy(dest: Path) -> Path:
    """Copy the working tree (tracked and untracked, not ignored files) to `dest`, importable as irq.

    The editable install maps irq.dialects etc. to the original tree; in the copy, symlinks
    irq/dialects -> ../dialects make the copy's files the ones imported when it is first on
    PYTHONPATH.
    """
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
        )
        .stdout.decode()
        .split("\0")
    )
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    for name, d in _package_links().items():
        link = dest / "irq" / name
        if not link.exists():
            link.symlink_to(Path("..") / d, target_is_directory=True)
    # Byte-compile once: cosmic-ray runs tests with PYTHONDONTWRITEBYTECODE, so otherwise every
    # pytest and irq-opt process compiles all of irq again. A mutated file (new mtime) is still
    # recompiled from source; mutations happen well after this second, so no stale .pyc is used.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(dest / "irq"),
            str(dest / "dialects"),
            str(dest / "passes"),
            str(dest / "runtime"),
            str(dest / "tests"),
        ],
        check=True,
    )
    return dest


def _annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of the annotations in a module with `from __future__ import annotations`.

    Such annotations are never evaluated, so a mutant inside one (`tuple | None` -> `tuple ** None`)
    is equivalent by construction.
    """
    tree = ast.parse(path.read_text())
    future = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    if not future:
        return []
    spans = []
    for node in ast.walk(tree):
        anns = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            anns = [
                x.annotation
                for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                if x is not None and x.annotation is not None
            ]
            if node.returns is not None:
                anns.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            anns = [node.annotation]
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in anns]
    return spans


def _env(copy: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["IRQ_CACHE_DIR"] = str(cache)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"  # one core per run on a shared machine
    env["HYPOTHESIS_PROFILE"] = "ci"  # derandomized: a mutant is killed or not, the same every run
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


# ----------------------------------------------------------------------------- the test command
def run_target_tests(name: str) -> int:
    """What cosmic-ray runs for each mutant (cwd = the scratch copy): pytest -x, then lit."""
    t = TARGETS[name]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--timeout",
            "600",
            *t.tests,
        ]
    )
    if r.returncode != 0:
        return 1
    if t.lit:
        out = tempfile.mkdtemp(prefix="irq-mut-lit-")
        try:
            env = dict(os.environ, IRQ_LIT_OUTPUT=out)
            r = subprocess.run([sys.executable, "-c", "import lit.main; lit.main.main()", "-q", *t.lit], env=env)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if r.returncode != 0:
            return 1
    return 0


def _run_lit(files: tuple[str, ...]) -> int:
    out = tempfile.mkdtemp(prefix="irq-mut-lit-")
    try:
        env = dict(os.environ, IRQ_LIT_OUTPUT=out)
        return subprocess.run(
            [sys.executable, "-c", "import lit.main; lit.main.main()", "-q", *files],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
    finally:
        shutil.rmtree(out, ignore_errors=True)


def execute(name: str, session: Path, coverage_map: Path, stride: tuple[int, int] = (0, 1)) -> int:
    """Run every pending mutant of the session (cwd = the scratch copy); results go to the session as they come.

    Each mutant runs the tests that execute its statement (bench/_mutation_exec.py): in a forked
    child of a process that imported everything once, or, when the mutant acts at import time, in a
    fresh pytest. A survivor of the pytest tests then meets the target's lit tests.
    """
    import cosmic_ray.plugins
    from _mutation_exec import CoverageMap, ForkServer, StatementIndex, run_fresh, select_tests, statement_lines
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    t = TARGETS[name]
    copy = Path.cwd()
    cmap = CoverageMap.load(coverage_map)
    unmeasured = [src for src in t.sources if not cmap.lines.get(src)]
    if unmeasured:  # e.g. the editable install's finder imported the worktree's file instead of the copy's
        raise SystemExit(f"{name}: coverage saw nothing of {', '.join(unmeasured)} in the scratch copy")
    server = ForkServer(cmap, list(t.sources))
    index = {src: StatementIndex(copy / src) for src in t.sources}
    log = session.with_suffix(f".child-{stride[0]}.log")
    counts: dict[str, int] = {}
    started = time.monotonic()
    with use_db(str(session), WorkDB.Mode.open) as db:
        # partition by job id, not by position: the executors read the pending list at different moments,
        # after the others may have finished some mutants, so positions would shift between them
        items = [w for w in db.pending_work_items if int(w.job_id[:8], 16) % stride[1] == stride[0]]
        for n, item in enumerate(items, 1):
            m = item.mutations[0]
            src = os.path.relpath(m.module_path, copy) if os.path.isabs(m.module_path) else str(m.module_path)
            tests, why = select_tests(cmap, index[src], src, *m.start_pos)
            operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
            with use_mutation(copy / src, operator, m.occurrence) as (original, mutated):
                if mutated is None:
                    result = WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
                    verdict = "no-mutation"
                else:
                    verdict, seconds, how = "survived", 0.0, "not run"
                    if tests:
                        budget = 60 + 10 * sum(cmap.durations.get(x, 1.0) for x in tests)
                        if server.hot(src, statement_lines(index[src], *m.start_pos)):
                            how = "forked"
                            verdict, seconds = server.run_hot(src, original, mutated, tests, budget, log)
                        else:
                            how = "fresh process"
                            try:
                                compile(mutated, src, "exec")
                                verdict, seconds = run_fresh(tests, budget + 30, log)
                            except SyntaxError:
                                verdict = "invalid"
                    if verdict == "survived" and t.lit and _run_lit(t.lit) != 0:
                        verdict = "killed"
                    outcome = {
                        "killed": TestOutcome.KILLED,
                        "timeout": TestOutcome.KILLED,
                        "survived": TestOutcome.SURVIVED,
                    }.get(verdict, TestOutcome.INCOMPETENT)
                    note = f"{verdict}, {len(tests)} tests ({why}), {how}, {seconds:.1f} s"
                    result = WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=outcome, output=note)
            db.set_result(item.job_id, result)
            counts[verdict] = counts.get(verdict, 0) + 1
            if n % 50 == 0 or n == len(items):
                rate = (time.monotonic() - started) / n
                print(f"[{name}] {n}/{len(items)} mutants, {rate:.2f} s each: {counts}", flush=True)
    return 0


# ----------------------------------------------------------------------------- one target
@dataclass
class Outcome:
    total: int
    run: int
    killed: int
    survivors: list[str]
    equivalent: list[str]
    seconds: float
    in_annotations: int = 0
    incompetent: list[str] = field(default_factory=list)
    invalid: int = 0
    pending: int = 0

    @property
    def score(self) -> float:
        counted = self.killed + len(self.survivors)
        return self.killed / counted if counted else float("nan")


def _enclosing_functions(path: Path) -> dict[int, str]:
    """Line -> name of the innermost function containing it."""
    out: dict[int, str] = {}
    nodes = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for n in sorted(nodes, key=lambda n: n.end_lineno - n.lineno, reverse=True):  # outermost first
        for line in range(n.lineno, n.end_lineno + 1):
            out[line] = n.name
    return out


def _line(copy: Path, module_path: str, line: int) -> str:
    try:
        return (copy / module_path).read_text().splitlines()[line - 1].strip()
    except (OSError, IndexError):
        return "?"


def run_target(name: str, work: Path, sample: int | None, time_box: float, seed: int, jobs: int = 1) -> Outcome:

    t = TARGETS[name]
    session = work / "session.sqlite"
    digests = {src: hashlib.sha256((ROOT / src).read_bytes()).hexdigest() for src in t.sources}
    if session.exists():  # resume a kept session: the pending mutants only
        if json.loads((work / "sources.json").read_text()) != digests:
            raise SystemExit(f"{name}: the sources changed since the session in {work} began; delete it to start over")
        copy, cache, cmap = work / "tree", work / "cache", work / "coverage.json"
        for src in t.sources:  # undo a mutation left by an interrupted run
            shutil.copy2(ROOT / src, copy / src)
        env = _env(copy, cache)
        started = time.monotonic()
        print(f"[{name}] resuming the session in {work}", flush=True)
        return _run_session(name, t, copy, env, session, cmap, started, None, sample, seed, time_box, jobs)
    copy = make_scratch_copy(work / "tree")
    cache = work / "cache"
    cache.mkdir()
    env = _env(copy, cache)
    started = time.monotonic()
    cmap = work / "coverage.json"
    baseline = subprocess.run(
        [sys.executable, str(copy / "bench" / "mutation.py"), "--coverage-map", name, str(cmap)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    base_seconds = time.monotonic() - started
    if baseline.returncode != 0:
        raise SystemExit(f"{name}: the tests fail without any mutation:\n{baseline.stdout[-3000:]}{baseline.stderr}")
    config = work / "cosmic-ray.toml"
    modules = ", ".join(f'"{s}"' for s in t.sources)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        "timeout = 600\n"
        "excluded-modules = []\n"
        f'test-command = "{sys.executable} bench/mutation.py --run-tests {name}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    subprocess.run(["cosmic-ray", "init", str(config), str(session)], cwd=copy, env=env, check=True)
    (work / "sources.json").write_text(json.dumps(digests))
    return _run_session(name, t, copy, env, session, cmap, started, base_seconds, sample, seed, time_box, jobs)


def _run_session(name: str, t: Target, copy: Path, env: dict[str, str], session: Path, cmap: Path, started: float,
                 base_seconds: float | None, sample: int | None, seed: int, time_box: float, jobs: int = 1) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    annotations = {src: _annotation_spans(copy / src) for src in t.sources}

    def in_annotation(m) -> bool:
        path = os.path.relpath(m.module_path, copy) if os.path.isabs(m.module_path) else str(m.module_path)
        return any(a <= tuple(m.start_pos) < b for a, b in annotations.get(path, ()))

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = list(db.pending_work_items)
        every = list(db.work_items)
        total = len(every)
        # equivalent by construction: not worth a test run each (often a quarter of all mutants)
        unevaluated = [w.job_id for w in every if in_annotation(w.mutations[0])]
        pending = [w.job_id for w in items if not in_annotation(w.mutations[0])]
        skipped = [w.job_id for w in items if in_annotation(w.mutations[0])]
        if sample is not None and sample < len(pending):
            keep = set(random.Random(seed).sample(pending, sample))
            skipped += [j for j in pending if j not in keep]
        if skipped:
            db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    print(
        f"[{name}] {total} mutants, {len(unevaluated)} inside annotations (equivalent, not run)"
        f"{f', sampling {sample}' if sample and sample < len(pending) else ''}"
        + (f"; tests take {base_seconds:.0f} s unmutated under coverage" if base_seconds is not None else ""),
        flush=True,
    )
    # cosmic-ray restores each spot after its test run; a time box interrupts it mid-mutant, so keep
    # the unmutated text to put back and to read lines, functions and annotations from
    pristine = {src: (copy / src).read_text() for src in t.sources}
    procs = []
    for i in range(jobs):  # each executor mutates files on disk: one scratch copy per executor
        tree = copy if i == 0 else copy.parent / f"tree-{i}"
        if i and not tree.exists():
            make_scratch_copy(tree)
        for src in (*t.sources, "bench/mutation.py", "bench/_mutation_exec.py"):  # sources unmutated, tool current
            shutil.copy2(ROOT / src, tree / src)
        procs.append(subprocess.Popen(
            [sys.executable, str(tree / "bench" / "mutation.py"), "--execute", name, str(session), str(cmap),
             "--stride", str(i), str(jobs)],
            cwd=tree,
            env=_env(tree, copy.parent / "cache"),
            start_new_session=True,
        ))
    deadline = time.monotonic() + time_box
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            print(f"[{name}] time box of {time_box:.0f} s reached: scoring the mutants run so far", flush=True)
    for src, text in pristine.items():
        (copy / src).write_text(text)
    return score_session(name, session, time.monotonic() - started)


def score_session(name: str, session: Path, seconds: float | None = None) -> Outcome:
    """Score a session (running, stopped or finished) from cosmic-ray's database; lines from the worktree."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    t = TARGETS[name]
    tree = session.parent / "tree"
    annotations = {src: _annotation_spans(ROOT / src) for src in t.sources}
    killed, survivors, equivalent, incompetent, ran, invalid, test_seconds = 0, [], [], [], 0, 0, 0.0
    functions = {src: _enclosing_functions(ROOT / src) for src in t.sources}
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        pending = sum(1 for _ in db.pending_work_items)
        in_annotations = 0
        for item, result in db.completed_work_items:
            m = item.mutations[0]
            path = os.path.relpath(m.module_path, tree) if os.path.isabs(m.module_path) else str(m.module_path)
            start = tuple(m.start_pos)
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                in_annotations += any(a <= start < b for a, b in annotations.get(path, ()))
                continue
            ran += 1
            line = _line(ROOT, path, m.start_pos[0])
            fn = functions.get(path, {}).get(m.start_pos[0], "<module>")
            where = f"{path}:{m.start_pos[0]} in {fn}, {m.operator_name} #{m.occurrence}: {line}"
            reason = _equivalent_reason(path, line, functions.get(path, {}).get(m.start_pos[0]), m.operator_name,
                                        m.start_pos[1])
            if reason is None and any(a <= start < b for a, b in annotations.get(path, ())):
                reason = "inside a type annotation, never evaluated (from __future__ import annotations)"
            took = re.search(r"([0-9.]+) s$", result.output or "")
            test_seconds += float(took.group(1)) if took else 0.0
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                ran -= 1
            elif result.test_outcome == TestOutcome.KILLED:
                killed += 1  # a killed mutant is not equivalent, whatever the table says about its spot
            elif result.test_outcome == TestOutcome.INCOMPETENT and result.output.startswith("invalid"):
                invalid += 1  # not Python: no test run, no score
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent.append(f"{where}  [{result.output}]")
            elif reason is not None:
                equivalent.append(f"{where}  ({reason})")
            else:
                survivors.append(f"{where}  [{result.output}]")
    return Outcome(total, ran - invalid, killed, survivors, equivalent, test_seconds if seconds is None else seconds,
                   in_annotations, incompetent, invalid, pending)


def _equivalent_reason(path: str, line: str, fn: str | None, operator: str, col: int) -> str | None:
    """The EQUIVALENT entry of a mutant; an entry's operator may end in @COL or @FIRST-LAST (columns of the
    stripped line)."""
    indent = None
    for (f, f_fn, text, op), why in EQUIVALENT.items():
        if f != path or text != line or (f_fn != fn and not (f_fn == "<module>" and fn is None)):
            continue
        name, _, at = op.partition("@")
        if name not in (operator, "*", "core/*"):
            continue
        if at:  # a column, or a span of columns "first-last"
            indent = indent if indent is not None else len(_raw_line(path, line)) - len(line)
            first, _, last = at.partition("-")
            if not int(first) <= col - indent <= int(last or first):
                continue
        return why
    return None


def _raw_line(path: str, stripped: str) -> str:
    return next(x for x in (ROOT / path).read_text().splitlines() if x.strip() == stripped)


def replay(name: str, work: Path, fresh: bool) -> int:
    """Re-apply every survivor of a kept session to a new scratch copy of the current tree and run its tests again.

    The tests are the ones the session chose plus every test of the target's tests/test_mutation_kills_*.py
    files, so a new test is credited only with the mutants it fails against. `fresh` runs each in a new
    pytest process instead of the fork server (an independent check of the fork server's verdicts).
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    t = TARGETS[name]
    session = work / "session.sqlite"
    old_tree = work / "tree"
    functions = {src: _enclosing_functions(ROOT / src) for src in t.sources}
    jobs = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.test_outcome != TestOutcome.SURVIVED:
                continue
            m = item.mutations[0]
            path = os.path.relpath(m.module_path, old_tree) if os.path.isabs(m.module_path) else str(m.module_path)
            fn = functions.get(path, {}).get(m.start_pos[0])
            if _equivalent_reason(path, _line(ROOT, path, m.start_pos[0]), fn, m.operator_name, m.start_pos[1]) is None:
                jobs.append(item.job_id)
    print(f"[{name}] replaying {len(jobs)} survivors{' in fresh processes' if fresh else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"irq-replay-{name}-") as tmp:
        copy = make_scratch_copy(Path(tmp) / "tree")
        (Path(tmp) / "cache").mkdir()
        env = _env(copy, Path(tmp) / "cache")
        jobs_file = Path(tmp) / "jobs.json"
        jobs_file.write_text(json.dumps(jobs))
        cmd = [sys.executable, str(copy / "bench" / "mutation.py"), "--replay-exec", name, str(session),
               str(work / "coverage.json"), str(jobs_file)]
        return subprocess.run(cmd + (["--fresh"] if fresh else []), cwd=copy, env=env).returncode


def replay_exec(name: str, session: Path, coverage_map: Path, jobs_file: Path, fresh: bool) -> int:
    """The replay's worker (cwd = the new scratch copy): one line per survivor, then the count."""
    import cosmic_ray.plugins
    from _mutation_exec import CoverageMap, ForkServer, StatementIndex, run_fresh, select_tests, statement_lines
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db

    t = TARGETS[name]
    copy = Path.cwd()
    cmap = CoverageMap.load(coverage_map)
    # the kill tests, and test files added to the target after the session's coverage map was taken
    kill_tests = [x for x in t.tests if (copy / x).exists() and ("mutation_kills" in x or not any(
        o.startswith(x + "::") for o in cmap.order))]
    server = None if fresh else ForkServer(cmap, list(t.sources))
    index = {src: StatementIndex(copy / src) for src in t.sources}
    log = copy / "replay.child.log"
    jobs = set(json.loads(jobs_file.read_text()))
    killed = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = [item for item, _ in db.completed_work_items if item.job_id in jobs]
    for item in items:
        m = item.mutations[0]
        src = os.path.relpath(m.module_path, session.parent / "tree") if os.path.isabs(m.module_path) else str(
            m.module_path)
        tests, _ = select_tests(cmap, index[src], src, *m.start_pos)
        tests = kill_tests + tests
        operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
        with use_mutation(copy / src, operator, m.occurrence) as (original, mutated):
            budget = 120 + 10 * sum(cmap.durations.get(x, 1.0) for x in tests)
            if server is not None and server.hot(src, statement_lines(index[src], *m.start_pos)):
                verdict, _ = server.run_hot(src, original, mutated, tests, budget, log)
            else:
                verdict, _ = run_fresh(tests, budget, log)
            if verdict == "survived" and t.lit and _run_lit(t.lit) != 0:
                verdict = "killed"
        killed += verdict in ("killed", "timeout")
        print(f"  {verdict:8s} {src}:{m.start_pos[0]} {m.operator_name} #{m.occurrence}: "
              f"{_line(copy, src, m.start_pos[0])}", flush=True)
    print(f"[{name}] {killed} of {len(items)} survivors killed now", flush=True)
    return 0


def _report(name: str, o: Outcome) -> None:
    print(
        f"[{name}] killed {o.killed} / {o.killed + len(o.survivors)} non-equivalent = {100 * o.score:.1f}% "
        f"({o.run} of {o.total} mutants run, {o.pending} not yet, {len(o.equivalent)} equivalent, "
        f"{o.in_annotations} in annotations not run, {o.invalid} not valid Python, {o.seconds:.0f} s)",
        flush=True,
    )
    for s in o.survivors:
        print(f"    survived: {s}")
    for s in o.equivalent:
        print(f"    equivalent: {s}")
    for s in o.incompetent:
        print(f"    not decided (the test selection failed): {s}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"targets (default: all): {', '.join(TARGETS)}")
    ap.add_argument("--sample", type=int, help="run at most this many mutants per target, drawn at random")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample")
    ap.add_argument("--time-box", type=float, default=3600, help="seconds per target (default 3600)")
    ap.add_argument("--list", action="store_true", help="list the targets and their tests")
    ap.add_argument("--keep", metavar="DIR", help="keep each target's session in DIR/<target>; run again to resume it")
    ap.add_argument("--run-tests", metavar="TARGET", help=argparse.SUPPRESS)  # cosmic-ray's test command
    ap.add_argument("--replay", metavar="DIR", help="re-run the survivors of the sessions kept in DIR against the "
                    "current tests (new kill tests included)")
    ap.add_argument("--score", metavar="DIR", help="score the sessions kept in DIR as they stand (a run may "
                    "still be going)")
    ap.add_argument("--fresh", action="store_true", help="with --replay: a new pytest process per mutant")
    ap.add_argument("--replay-exec", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--stride", nargs=2, type=int, default=[0, 1], help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=1, help="executors per target, each on its own scratch copy "
                    "(default 1; the machine is shared)")
    ap.add_argument("--coverage-map", nargs=2, metavar=("TARGET", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--execute", nargs=3, metavar=("TARGET", "SESSION", "MAP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_tests:
        return run_target_tests(args.run_tests)
    if args.coverage_map:
        from _mutation_exec import write_coverage_map

        name, out = args.coverage_map
        status = write_coverage_map(list(TARGETS[name].sources), list(TARGETS[name].tests), Path(out))
        return status or (_run_lit(TARGETS[name].lit) if TARGETS[name].lit else 0)
    if args.replay_exec:
        name, session, cmap, jobs = args.replay_exec
        return replay_exec(name, Path(session), Path(cmap), Path(jobs), args.fresh)
    if args.score:
        for n in args.targets or list(TARGETS):
            session = Path(args.score).resolve() / n / "session.sqlite"
            if session.exists():
                _report(n, score_session(n, session))
        return 0
    if args.replay:
        return max(replay(n, Path(args.replay).resolve() / n, args.fresh) for n in args.targets or list(TARGETS))
    if args.execute:
        name, session, cmap = args.execute
        return execute(name, Path(session), Path(cmap), tuple(args.stride))
    if args.list:
        for name, t in TARGETS.items():
            print(f"{name:18s} {' '.join(t.sources)}\n{'':18s} tests: {' '.join(t.tests + t.lit)}")
        return 0
    unknown = [n for n in args.targets if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    results: dict[str, Outcome] = {}
    for name in args.targets or list(TARGETS):
        if args.keep:
            work = Path(args.keep).resolve() / name
            work.mkdir(parents=True, exist_ok=True)
            results[name] = o = run_target(name, work, args.sample, args.time_box, args.seed, args.jobs)
        else:
            with tempfile.TemporaryDirectory(prefix=f"irq-mutation-{name}-") as tmp:
                results[name] = o = run_target(name, Path(tmp), args.sample, args.time_box, args.seed, args.jobs)
        _report(name, o)
    print("\nmodule              killed/non-equivalent   score   run/total")
    for name, o in results.items():
        print(
            f"{name:18s} {o.killed:6d}/{o.killed + len(o.survivors):<6d}          {100 * o.score:5.1f}%   "
            f"{o.run}/{o.total}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
