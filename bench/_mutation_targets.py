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
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    lit: tuple[str, ...] = ()


_LIT_PASSES = "tests/filecheck/passes/"

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
    # VALIDATION: the integer arithmetic quantized models run in torch, checked against the deployed program
    # (bit for bit) and the numpy emulator
    "quant-validation": Target(
        ("irq/quant/validation.py",),
        ("tests/test_quant_validation.py", "tests/test_transformer_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_mutation_kills_validation.py", "tests/test_embedding_quant.py"),
    ),
    # arith's folds and canonicalization patterns: the integer arithmetic canonicalize applies
    "arith-folds": Target(
        ("dialects/arith.py", "dialects/_arith_semantics.py"),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py"),
        (_LIT_PASSES + "canonicalize.irq",),
    ),
    # the quantizers: the range each observer picks and the scale it becomes (min-max, moving average, per
    # channel, percentile, MSE, clipped and fixed ranges) ...
    "quant-observers": Target(
        ("irq/quant/observers.py",),
        ("tests/test_quant_observers.py", "tests/test_mutation_kills_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_quant_prepare.py", "tests/test_quant_copy.py"),
    ),
    # ... and the fake-quant module: rounding, clamping, the STE and LSQ gradients, VALIDATION's exact codes
    "quant-fakequant": Target(
        ("irq/quant/fake_quantize.py",),
        ("tests/test_quant_observers.py", "tests/test_mutation_kills_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_quant_prepare.py", "tests/test_quant_copy.py"),
    ),
}
