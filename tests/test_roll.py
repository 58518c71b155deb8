"""torch.roll as data movement on both runtimes (passes/_lower_roll.py): bpu.slice + bpu.concat per rolled dim.

Oracle: numpy's np.roll of the codes (the codes and the scale pass through: quant-annotate shares the input's
quantizer). Shifts of either sign, zero, larger than the dimension, several dims at once, and the flattened form.

Bugs each catches: the two pieces concatenated in the wrong order (a roll the other way), a shift not taken
modulo the size (a negative or oversized shift slicing out of range), a concat that rescales the codes.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.both_runtimes import run_both
from support.frozen import FrozenBuilder

import irq

SHAPE = (2, 3, 4, 5)


def _program(attrs: str):
    b = FrozenBuilder([("x", SHAPE)])
    xd = b.qdq("x", 0.5)
    y = b.op("torch.roll", [xd], SHAPE, attrs=attrs)
    return irq.convert(b.module([y]), march="bayes")


@pytest.mark.parametrize("shifts,dims", [([1], [3]), ([-2], [2]), ([0], [1]), ([7], [3]), ([-1, 3], [2, 3]),
                                         ([1, 1, -4], [1, 2, 3])])
def test_roll_equals_numpy_roll_of_the_codes(shifts, dims):
    program = _program(f"shifts = [{', '.join(map(str, shifts))}], dims = [{', '.join(map(str, dims))}]")
    assert {op.name for op in program.walk()} & {"bpu.slice", "bpu.concat"} or shifts == [0]
    q = np.arange(np.prod(SHAPE)).reshape(SHAPE) % 256 - 128
    got = run_both(program, (q * 0.5).astype(np.float32))
    np.testing.assert_array_equal(got, np.roll(q, shifts, dims) * 0.5)


def test_a_roll_of_the_flattened_tensor():
    program = _program("shifts = [13]")
    q = np.arange(np.prod(SHAPE)).reshape(SHAPE) % 256 - 128
    np.testing.assert_array_equal(run_both(program, (q * 0.5).astype(np.float32)), np.roll(q, 13) * 0.5)
