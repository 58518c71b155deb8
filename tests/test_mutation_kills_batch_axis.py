"""Where the batch lives (irq/batch_axis.py) on cases mutation testing (bench/mutation.py, target batch-axis)
found unexercised.

Each test names the planted bug it catches. Oracles: numpy slicing of the same codes (what torch's `x[a:b]`
keeps), and the refusal a user must see instead of a program that silently keeps other samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.planner import ProgramError
from irq.runtime.reference.interpreter import ReferenceRuntimeError
from support.bpu_text import ProgramText


def test_a_finite_slice_end_along_the_batch_is_not_open():
    """Bug caught: the open-end bound `_OPEN_END = 2**62` written `2 * 62` (124): a slice of the batch with an
    explicit end of 130 (`x[0:130]`) was read as open-ended, so at batch 131 the program kept all 131 samples
    where torch keeps 130. At the traced batch it runs; at another it must refuse naming the slice and the value
    by its name in the program (retype_at_batch's `%name if name_hint else #index` inverted named it `#1`)."""
    p = ProgramText([("x", (2, 4), "i8")])
    p.op("y", "bpu.slice", ["x"], ((2, 4), "i8"), {"dim": 0, "start": 0, "end": 130, "step": 1})
    prog = p.module(["y"])
    x = np.arange(8, dtype=np.int8).reshape(2, 4)
    np.testing.assert_array_equal(rn.compile(prog)(x), x[0:130])
    np.testing.assert_array_equal(reference.run(prog, x)[0], x[0:130])
    big = np.arange(131 * 4).astype(np.int8).reshape(131, 4)
    refusal = r"'bpu.slice' moves the batch .*\(value %y of shape \[2, 4\]\).*only runs at batch 2"
    with pytest.raises(ProgramError, match=refusal):
        rn.compile(prog)(big)
    with pytest.raises(ReferenceRuntimeError, match=refusal):
        reference.run(prog, big)


def test_a_batched_operand_broadcast_to_a_higher_rank_keeps_its_batch_aligned_from_the_right():
    """Bug caught: BatchAxes._visit taking an operand's axis unchanged when the result has *more* dims (`len(rs)
    == len(vs)` written `>`), so `x (B, 3) + c (2, 1, 1) -> (2, B, 3)` put the batch on axis 0 whenever the
    traced batch equals the constant's 2: at batch 3 the program was sized (3, 2, 3). The oracle is numpy's
    broadcast of the same integer codes at each batch (multipliers 2**30 and shift 30: a plain add)."""
    p = ProgramText([("x", (2, 3), "i16")])
    c = np.array([100, -200], np.int64).reshape(2, 1, 1)
    p.const("c", c, "i16")
    attrs = {"lhs_multiplier": 1 << 30, "rhs_multiplier": 1 << 30, "shift": 30}
    p.op("y", "bpu.add", ["x", "c"], ((2, 2, 3), "i16"), attrs)
    prog = p.module(["y"])
    for batch in (2, 3, 5):
        x = np.arange(batch * 3, dtype=np.int16).reshape(batch, 3) * 7 - 20
        want = x.astype(np.int64)[None, :, :] + c
        np.testing.assert_array_equal(rn.compile(prog)(x), want)
        np.testing.assert_array_equal(reference.run(prog, x)[0], want)


def test_a_slice_of_the_batch_after_an_ambiguous_reshape_is_refused_not_reread():
    """Bug caught: BatchAxes._lose recording every lost batch as a contradiction (its default `contradiction=False`
    written True, or `contradiction and ...` written `or`): a slice that takes part of the batch (the traced batch
    1's first reading of `[5, N*2, 8] -> [5, N*16]` puts it in the 16) then sent the search to the next reading,
    which moves the batch where the slice no longer sees it, and the program ran at batch 3 (on rows torch never
    meant) instead of refusing. Only a contraction over the batch (a linear, a matmul) may replace a reading."""
    p = ProgramText([("x", (1, 5, 16), "i8")])
    p.op("t", "bpu.permute", ["x"], ((5, 1, 16), "i8"), {"dims": [1, 0, 2]})
    p.op("h", "bpu.reshape", ["t"], ((5, 2, 8), "i8"))
    p.op("r", "bpu.reshape", ["h"], ((5, 16), "i8"))
    p.op("y", "bpu.slice", ["r"], ((5, 8), "i8"), {"dim": 1, "start": 0, "end": 8, "step": 1})
    prog = p.module(["y"])
    x = np.arange(80).astype(np.int8).reshape(1, 5, 16)
    np.testing.assert_array_equal(rn.compile(prog)(x), x[0, :, :8])
    refusal = r"'bpu.slice' moves the batch .*only runs at batch 1"
    with pytest.raises(ProgramError, match=refusal):
        rn.compile(prog)(np.zeros((3, 5, 16), np.int8))
    with pytest.raises(ReferenceRuntimeError, match=refusal):
        reference.run(prog, np.zeros((3, 5, 16), np.int8))
