"""bench/mutation.py's targets: which modules are mutated and which tests decide their behaviour.

Data, kept apart from the runner (as the equivalents are in _mutation_equivalents.py) so that adding a
module is one reviewed line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    """The modules mutated, the tests that decide them, and the environment every run of them gets.

    `env` is set for the unmutated coverage run, every executor (fork server and fresh pytest alike)
    and the replay: the Numba kernels run with NUMBA_DISABLE_JIT=1, so their functions are plain Python
    whose code objects the fork server can swap and coverage can see (see NUMBA_AS_PYTHON).
    """

    sources: tuple[str, ...]
    tests: tuple[str, ...]
    lit: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    #: functions whose code only runs on a path `env` turns off (the VNNI route under IRQ_NO_VNNI): no test of the
    #: target can execute them, so their mutants are not drawn into subsets and never scored (listed apart)
    off_path: tuple[str, ...] = ()


_LIT_PASSES = "tests/filecheck/passes/"

#: How the Numba kernels are mutated: a jitted function never runs its Python code object, so swapping a
#: mutant's `__code__` into it changes nothing, and Numba's on-disk cache keys a function on its own file
#: only (a caller that inlined a mutated `round_shift` from another module would load its stale machine
#: code). With NUMBA_DISABLE_JIT=1 `numba.njit` returns the Python function itself, `prange` is `range`,
#: and every kernel runs as Python on numpy scalars: the fork server swaps mutants in like any other
#: module's. Small test shapes keep that fast (the numba tests of the target take ~2 min as Python). What
#: it cannot run: the llvmlite intrinsics (VNNI micro-kernel, the 16x16 register transpose), so
#: IRQ_NO_VNNI=1 routes GEMMs through the float-BLAS route and its epilogue (gemm.py), and the two
#: register-transpose tests skip. One difference from compiled code: int64 overflow of numpy scalars
#: wraps with a RuntimeWarning, as Numba's wraps silently; Python ints (loop indices) never wrap, but no
#: kernel's numbers rely on an index wrapping.
NUMBA_AS_PYTHON = (("NUMBA_DISABLE_JIT", "1"), ("IRQ_NO_VNNI", "1"))


#: name -> the modules mutated and the tests that decide their behaviour (paths from the repo root)
TARGETS: dict[str, Target] = {
    "frontend-mapping": Target(
        ("irq/frontend/mapping.py", "irq/frontend/module_mapping.py", "irq/frontend/view_mapping.py",
         "irq/frontend/emit.py"),
        (
            "tests/test_op_options.py",
            "tests/test_shape_rules.py",
            "tests/test_static_shapes.py",
            "tests/test_frontend_zoo.py",
            "tests/test_mutation_kills_frontend.py",
            "tests/test_mutation_kills_static_shapes.py",
            "tests/test_mutation_kills_frontend_draw2.py",
        ),
    ),
    "dialect-shapes": Target(
        ("dialects/_shapes.py",),
        ("tests/test_op_options.py", "tests/test_shape_rules.py", "tests/test_torch_dialect.py",
         "tests/test_mutation_kills_dialect_shapes.py"),
    ),
    "frontend-shapes": Target(
        ("irq/frontend/shapes.py",),
        (
            "tests/test_static_shapes.py",
            "tests/test_op_options.py",
            "tests/test_shape_rules.py",
            "tests/test_mutation_kills_static_shapes.py",
            "tests/test_mutation_kills_frontend.py",
        ),
    ),
    "torch-executor": Target(
        ("runtime/torch/builder.py", "runtime/torch/functions.py", "runtime/torch/resolve.py"),
        (
            "tests/test_op_options.py",
            "tests/test_fused_executor.py",
            "tests/test_mutation_kills_torch_executor.py",
            "tests/test_fuse_dropout.py",  # the fused op's dropout in training (functions.py `fused`)
            # to_module's checks of sizes and Python numbers torch.export fixed (builder.py to_module)
            "tests/test_regressions_batch_sizes_modes.py",
        ),
    ),
    "rewrite-driver": Target(
        ("irq/rewrite/driver.py",),
        (
            "tests/test_rewrite_driver.py",
            "tests/test_canonicalize_pass.py",
            "tests/test_driver_seed_order.py",
            "tests/test_pass_semantics.py",
            "tests/test_dag_matcher.py",
            "tests/test_mutation_kills_driver.py",
            # folds that return a value, and a dialect without a materialize_constant hook (the driver warns)
            "tests/test_dialect_authoring.py",
            "tests/test_mutation_kills_arith.py",
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
            "tests/test_layer_ops.py",
            "tests/test_embedding_quant.py",
            "tests/test_mutation_kills_validation.py",
        ),
    ),
    # lowering's parameter code: requantize insertion, weight/bias codes, multipliers and shifts, LUTs,
    # rescaled add/cat, accumulator widths
    "lower-bpu": Target(
        ("passes/lower_bpu.py", "passes/_lowering.py", "passes/_lower_ops.py"),
        (
            "tests/test_lower_bpu.py",
            "tests/test_mutation_kills_lower_bpu.py",
            "tests/test_transformer_quant.py",
            "tests/test_convert_artifact.py",
            "tests/test_embedding_quant.py",
            "tests/test_mutation_kills_validation.py",
            "tests/test_float_fallback.py",
            "tests/test_empty_int_lists.py",
        ),
    ),
    # lowering of the users' layers (standalone batch norm, PReLU, group norm, pad, pixel shuffle, stack, sum, div):
    # a target of its own, so the lower-bpu sessions kept so far stay resumable (their sources are fixed)
    "lower-layer-ops": Target(
        ("passes/_lower_layer_ops.py",),
        ("tests/test_layer_ops.py", "tests/test_mutation_kills_layer_ops.py", "tests/test_mutation_kills_validation.py",
         "tests/test_user_models.py", "tests/test_empty_int_lists.py"),
    ),
    # the Numba runtime's kernels where numbers are decided: rounding and requantize, the float-BLAS GEMM's
    # epilogue, conv (depthwise, im2col, plans), pooling, element-wise, division; run as Python (NUMBA_AS_PYTHON),
    # checked against the int64 oracle (tests/support/int_oracle.py) and the reference runtime
    "numba-kernels": Target(
        ("runtime/numba/kernels/requantize.py", "runtime/numba/kernels/gemm.py", "runtime/numba/kernels/eltwise.py",
         "runtime/numba/kernels/pool.py", "runtime/numba/kernels/conv.py", "runtime/numba/kernels/depthwise.py",
         "runtime/numba/kernels/conv_routes.py", "runtime/numba/kernels/divide.py",
         "runtime/numba/kernels/int_divide.py"),
        ("tests/test_numba_kernels.py", "tests/test_mutation_kills_numba.py", "tests/test_numba_vs_reference.py",
         "tests/test_numba_transformer_kernels.py",
         "tests/test_numba_residual_linear.py", "tests/test_numba_siblings.py",
         "tests/test_numba_runtime.py"),
        env=NUMBA_AS_PYTHON,
        # the VNNI route (llvmlite intrinsics; tests/test_numba_vnni.py checks it compiled, against the reference)
        off_path=("vnni_route", "direct_route", "im2col_bytes", "_plan_direct", "reads_nchw", "take_nchw",
                  "_vnni_run"),
    ),
    # where the batch lives in each value (attention at any batch): both runtimes size their values with it, checked
    # at batches other than the traced one against VALIDATION and per-sample runs
    "batch-axis": Target(
        ("irq/batch_axis.py",),
        ("tests/test_numba_batch_axes.py", "tests/test_mutation_kills_batch_axis.py",
         "tests/test_export_dynamic_batch.py", "tests/test_constant_operands.py", "tests/test_user_models.py"),
    ),
    # a parameter, buffer or tensor constant used as data: its lowering to codes (LoweringBase.constant_operand,
    # LoweringBase.act) and the numba planner's slot over it (Planner.input); run with
    # `--functions constant_operand,act,input`: the rest of both modules belongs to lower-bpu and numba-kernels
    "constant-operands": Target(
        ("passes/_lowering.py", "runtime/numba/planner.py"),
        ("tests/test_constant_operands.py", "tests/test_numba_runtime.py",
         "tests/test_mutation_kills_constant_operands.py"),
    ),
    # quant-annotate: which values get a quantizer, the ones that share their input's scale (data movement, nearest
    # resize), the transformer's int16 placements, per-use weight quantizers
    "quant-annotate": Target(
        ("passes/quant_annotate.py",),
        ("tests/test_quant_prepare.py", "tests/test_qconfig.py", "tests/test_transformer_quant.py",
         "tests/test_constant_operands.py"),
        (_LIT_PASSES + "quant-annotate.irq", _LIT_PASSES + "quant-annotate-eager.irq",
         _LIT_PASSES + "quant-annotate-transpose-weights.irq", _LIT_PASSES + "quant-annotate-single-user.irq",
         _LIT_PASSES + "quant-annotate-int32-consumer.irq", _LIT_PASSES + "quant-annotate-rules.irq"),
    ),
    # VALIDATION: the integer arithmetic quantized models run in torch, checked against the deployed program
    # (bit for bit) and the numpy emulator
    "quant-validation": Target(
        ("irq/quant/validation.py",),
        ("tests/test_quant_validation.py", "tests/test_transformer_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_mutation_kills_validation.py", "tests/test_embedding_quant.py"),
    ),
    # fuse: which chains become one op (a quantizer fewer between them), the refusals the model check reports, and
    # where a fused dropout runs in training (the order of torch's random draws)
    "fuse": Target(
        ("passes/fuse.py",),
        ("tests/test_fuse_dropout.py", "tests/test_fused_executor.py", "tests/test_hl_zoo.py",
         "tests/test_frontend_features.py", "tests/test_mutation_kills_fuse.py"),
        tuple(_LIT_PASSES + f for f in ("fuse.irq", "fuse-dropout.irq", "fuse-heads.irq", "fuse-hl-input.irq",
                                        "fuse-options.irq", "fuse-refusals.irq", "fuse-records.irq")),
    ),
    # arith's folds and canonicalization patterns: the integer arithmetic canonicalize applies
    "arith-folds": Target(
        ("dialects/arith.py", "dialects/_arith_semantics.py"),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py",
         # the folds against MLIR's own folders (iree-base-compiler), and the verifier's width rules
         "tests/test_arith_folding.py", "tests/test_mlir_truncf_rounding.py", "tests/test_mlir_upstream_audit.py",
         "tests/test_mutation_kills_arith.py"),
        (_LIT_PASSES + "canonicalize.irq", "tests/filecheck/mlir/arith-ops.mlir", "tests/filecheck/mlir/invalid.mlir"),
    ),
    # the quantizers: the range each observer picks and the scale it becomes (min-max, moving average, per
    # channel, percentile, MSE, clipped and fixed ranges) ...
    "quant-observers": Target(
        ("irq/quant/observers.py",),
        ("tests/test_quant_observers.py", "tests/test_mutation_kills_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_quant_prepare.py", "tests/test_quant_copy.py"),
    ),
    # what a torch model imports as, written in sessions 9-11: dropout kinds and their train/eval mode, casts (to the
    # value's own dtype: identity; to bool: != 0), an index by whole aranges as unsqueezes (an export keeps its dynamic
    # batch). Left out for time (import-time mutants run every listed test): test_causal_masks.py (147 s) and
    # test_export_any_batch.py (83 s), whose lines here are the cheaper files' too
    "frontend-late": Target(
        ("irq/frontend/dropout_mapping.py", "irq/frontend/cast_mapping.py", "irq/frontend/export_index_by_arange.py"),
        ("tests/test_dropout_variants.py", "tests/test_hf_style_masks.py", "tests/test_fuse_dropout.py",
         "tests/test_mutation_kills_frontend.py", "tests/test_regressions_batch_sizes_modes.py",
         "tests/test_mutation_kills_frontend_late.py",
         "tests/test_mutation_kills_frontend_draw2.py"),  # x.bool() (cast_mapping.py)
    ),
    # ... and the fake-quant module: rounding, clamping, the STE and LSQ gradients, VALIDATION's exact codes
    "quant-fakequant": Target(
        ("irq/quant/fake_quantize.py",),
        ("tests/test_quant_observers.py", "tests/test_mutation_kills_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_quant_prepare.py", "tests/test_quant_copy.py",
         # VALIDATION's codes / dequantize / quantize_exact (the float32 rule, the input copy) are tested here
         "tests/test_quant_validation.py", "tests/test_mutation_kills_fakequant.py"),
    ),
}
