"""bpu dialect: parameter ranges shared with irq.fixedpoint, programmatic construction, proved accumulators."""

from __future__ import annotations

import numpy as np
import pytest
from irq.dialects import bpu

import irq
from irq import fixedpoint
from irq.ir.dense import DenseElementsAttr
from irq.ir.types import TensorType, i8, i32


def test_parameter_ranges_match_the_fixedpoint_contract():
    # the dialect repeats them to keep numpy out of irq-opt's start-up; a drift would let the verifier accept
    # parameters the lowering never produces (or reject ones it does)
    assert bpu.ROUNDING_MODES == fixedpoint.ROUNDING_MODES
    assert (bpu.MIN_SHIFT, bpu.MAX_SHIFT, bpu.MULTIPLIER_BITS) == (fixedpoint.MIN_SHIFT, fixedpoint.MAX_SHIFT,
                                                                     fixedpoint.MULTIPLIER_BITS)


def _linear_program(weight: np.ndarray, bias: np.ndarray, acc_type):
    x = TensorType((1, weight.shape[1]), i8)
    src = (f"func.func @f(%x: {x}) -> tensor<1x{weight.shape[0]}x{acc_type}> {{\n"
           f"  %w = bpu.constant dense<{weight.tolist()}> : tensor<{weight.shape[0]}x{weight.shape[1]}xi8>\n"
           f"  %b = bpu.constant dense<{bias.tolist()}> : tensor<{bias.shape[0]}xi32>\n"
           f"  %0 = bpu.linear %x, %w bias %b : ({x}, tensor<{weight.shape[0]}x{weight.shape[1]}xi8>, "
           f"tensor<{bias.shape[0]}xi32>) -> tensor<1x{weight.shape[0]}x{acc_type}>\n"
           f"  return %0 : tensor<1x{weight.shape[0]}x{acc_type}>\n}}\n")
    return irq.parse_module(src)


def test_accumulator_bound_uses_the_constant_weights_and_bias():
    # K = 2**18 int8 products: with |w| <= 127 the bound 2^18 * 128 * 127 overflows int32, with |w| <= 1 it fits.
    k = 2**18
    small = np.ones((1, k), dtype=np.int64)
    irq.verify(_linear_program(small, np.array([0]), "i32"))
    big = np.full((1, k), 127, dtype=np.int64)
    with pytest.raises(irq.VerifyError, match="cannot hold 262144 products"):
        irq.verify(_linear_program(big, np.array([0]), "i32"))
    irq.verify(_linear_program(big, np.array([0]), "i64"))
    # the bias enters the bound: small weights plus a huge bias no longer fit int32
    with pytest.raises(irq.VerifyError, match="cannot hold"):
        irq.verify(_linear_program(small, np.array([2**31 - 1]), "i32"))


def test_ops_build_from_python():
    w = bpu.ConstantOp(DenseElementsAttr(TensorType((2, 3), i8), [[1, 2, 3], [4, 5, 6]]))
    assert w.out.type == TensorType((2, 3), i8)
    acc_t = TensorType((1, 2), i32)
    from irq.ir import Block
    blk = Block([TensorType((1, 3), i8)])
    blk.append(w)
    lin = bpu.LinearOp(blk.args[0], w.out, result_types=[acc_t])
    blk.append(lin)
    rq = bpu.RequantizeOp(lin.out, multiplier=[2**30, 2**30], shift=[31, 31], axis=-1, rounding="half_even",
                          result_types=[TensorType((1, 2), i8)])
    blk.append(rq)
    assert list(rq.multiplier) == [2**30, 2**30] and rq.rounding.value == "half_even"
    rq.verify_op()
    lin.verify_op()


def test_every_bpu_op_has_a_reference_implementation():
    # a new op without one would verify, save and load, then fail only when a user runs the program
    from irq.runtime.reference.ops import IMPLS
    assert sorted(set(bpu.DIALECT.ops) - set(IMPLS)) == []


def test_every_bpu_op_is_specified_in_the_dialect_docstring():
    # the docstring is the contract the numba runtime and VALIDATION implement
    missing = [name for name in bpu.DIALECT.ops if f"``{name}" not in bpu.__doc__]
    assert missing == []
