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
