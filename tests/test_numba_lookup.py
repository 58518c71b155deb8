"""`bpu.lut` on the numba runtime (kernels/lookup.py: the index is the code's bits with the top bit flipped)
against the reference runtime and numpy's indexing: every int8 and int16 code, int8 and int16 tables."""

import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from support.bpu_text import ProgramText


@pytest.mark.parametrize("in_dtype", ["i8", "i16"])
@pytest.mark.parametrize("out_dtype", ["i8", "i16"])
def test_every_code_reads_its_entry(in_dtype, out_dtype):
    rng = np.random.default_rng(0)
    bits = int(in_dtype[1:])
    lo, hi = (-128, 127) if out_dtype == "i8" else (-32768, 32767)
    codes = np.arange(-2 ** (bits - 1), 2 ** (bits - 1)).astype(f"int{bits}")
    rng.shuffle(codes)
    shape = (2, codes.size // 2)
    table = rng.integers(lo, hi + 1, size=2**bits)
    p = ProgramText([("x", shape, in_dtype)])
    p.const("t", table, out_dtype)
    p.op("y", "bpu.lut", ["x", "t"], (shape, out_dtype))
    prog = p.module(["y"])
    x = codes.reshape(shape)
    got = rn.compile(prog)(x)
    np.testing.assert_array_equal(got, reference.run(prog, x)[0])
    np.testing.assert_array_equal(got, table[x.astype(np.int64) + 2 ** (bits - 1)])  # numpy's own indexing
