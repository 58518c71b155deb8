"""The transformer path's numba kernels against the reference runtime, bit for bit, at the extremes.

softmax and layer norm divide by a per-row integer through a float reciprocal (`floor_divide`) when the
row's bounds allow it, and by int64 division otherwise; these tests draw both sides of that bound
(MiniLM's int16 rows of 16 and 384, tables and shifts that put the denominator just below and above
2**50, frac bits up to 15) and compare with the oracle, which only ever divides integers.
"""

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels.normalize import _FAST_LIMIT, floor_divide
from support.bpu_text import ProgramText

MODES = ["half_up", "half_even", "half_away", "floor"]
RANGES = {"i8": (-128, 127), "i16": (-32768, 32767)}
LIMIT = int(_FAST_LIMIT)


def assert_same(prog, *inputs):
    want = reference.run(prog, *inputs)
    got = rn.compile(prog)(*inputs)
    want = want[0] if isinstance(want, (list, tuple)) else want
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def extreme_codes(rng, shape, dtype, kind):
    """Codes of `dtype`: uniform, only the two extremes, or constant rows (variance 0, one softmax peak)."""
    lo, hi = RANGES[dtype]
    npd = np.int8 if dtype == "i8" else np.int16
    if kind == "extreme":
        return rng.choice(np.array([lo, hi]), size=shape).astype(npd)
    x = rng.integers(lo, hi + 1, size=shape).astype(npd)
    if kind == "constant":
        x[..., :] = x[..., :1]
    return x


edge = st.sampled_from([0, 1, 2, LIMIT - 1, LIMIT - 2, LIMIT // 2, LIMIT // 3, 3, 2**26 + 1])


@given(num=st.one_of(st.integers(-(LIMIT - 1), LIMIT - 1), edge, edge.map(lambda v: -v)),
       den=st.one_of(st.integers(1, LIMIT - 1), edge.filter(lambda v: v > 0)))
@example(num=LIMIT - 1, den=1)
@example(num=-(LIMIT - 1), den=1)
@example(num=LIMIT - 1, den=LIMIT - 1)
@example(num=-(LIMIT - 1), den=LIMIT - 2)
@example(num=LIMIT - 2, den=LIMIT - 1)
@example(num=-1, den=LIMIT - 1)
@settings(max_examples=400, deadline=None)
def test_floor_divide_is_integer_floor_division_below_the_bound(num, den):
    """Off by one at a quotient next to an integer (the float product rounds across it) is the bug this catches."""
    got = int(floor_divide(np.int64(num), np.int64(den), 1.0 / float(den)))
    assert got == num // den


@given(rows=st.sampled_from([(1,), (3, 4), (2, 12)]), n=st.sampled_from([1, 2, 5, 16, 33]),
       dtype=st.sampled_from(["i8", "i16"]), out_dtype=st.sampled_from(["i8", "i16"]),
       kind=st.sampled_from(["uniform", "extreme", "constant"]), table_max=st.sampled_from([1, 3, 2**15]),
       mult=st.sampled_from([0, 1, 2**30, 2130706440, 2**31 - 1]), shift=st.integers(1, 40),
       last_axis=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_softmax_both_division_routes(rows, n, dtype, out_dtype, kind, table_max, mult, shift, last_axis, seed):
    """Shifts up to 40 put rows on both sides of the reciprocal's 2**50 bound (the dialect caps table entries
    at 2**15; MiniLM: int16 logits, rows of 16, a 2**15 table, M = 2130706440, S = 24)."""
    rng = np.random.default_rng(seed)
    lo, hi = RANGES[dtype]
    span = hi - lo
    # an exponential table whose entries fall from table_max to 0 (MiniLM's shape), zeros included
    decay = rng.uniform(0.001, 0.5)
    table = np.floor(np.exp(np.arange(-span, 1) * decay) * table_max).astype(np.int64)
    # den = sum(e) << S must stay inside int64 for the oracle too: that bounds the shift
    assume((n * table_max) << shift < 2**62 and 2 * table_max * mult + ((n * table_max) << shift) < 2**63)
    shape = rows + (n,) if last_axis else (n,) + rows
    dim = -1 if last_axis else 0
    p = ProgramText([("x", shape, dtype)])
    p.const("t", table, "i32")
    p.op("y", "bpu.softmax", ["x", "t"], (shape, out_dtype), {"dim": dim, "multiplier": mult, "shift": shift})
    assert_same(p.module(["y"]), extreme_codes(rng, shape, dtype, kind))


@given(rows=st.sampled_from([(1,), (4,), (2, 3)]), n=st.sampled_from([1, 2, 7, 64, 384]),
       frac_bits=st.sampled_from([1, 8, 12, 15]), sqrt_bits=st.sampled_from([0, 7, 15]),
       eps=st.sampled_from([0, 1, 19, 2**20]), out_dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES),
       kind=st.sampled_from(["uniform", "extreme", "constant"]), gamma_kind=st.sampled_from(["random", "extreme"]),
       mult=st.sampled_from([0, 1, 1113383302, 2**31 - 1]), shift_delta=st.integers(-3, 3),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_layer_norm_int16_rows_both_division_routes(rows, n, frac_bits, sqrt_bits, eps, out_dtype, mode, kind,
                                                    gamma_kind, mult, shift_delta, seed):
    """int16 rows up to MiniLM's 384 at the extremes; F + G up to 30 pushes |c| << (F + G) past the reciprocal's
    bound (the int64-division route), gamma = -128 and beta = +-2**31 push |acc| * M past int64 (the split
    product), and a shift matched to the largest output keeps the rounding visible."""
    sqrt_bits = min(sqrt_bits, frac_bits)
    bits = 16
    assume((n * n * 2 ** (2 * bits - 2) + eps) * 2 ** (2 * sqrt_bits) < 2**63
           and n * 2 ** (bits + frac_bits + sqrt_bits + 2) < 2**63)
    rng = np.random.default_rng(seed)
    shape = rows + (n,)
    p = ProgramText([("x", shape, "i16")])
    gamma = extreme_codes(rng, (n,), "i8", "extreme" if gamma_kind == "extreme" else "uniform")
    p.const("g", gamma, "i8")
    beta = rng.choice([-(2**31), 2**31 - 1], size=n) if gamma_kind == "extreme" else rng.integers(-(2**20), 2**20,
                                                                                                    size=n)
    p.const("b", beta, "i32")
    # |z| is about sqrt(n) * 2**F at most: the shift that maps the largest |acc| * M to the output's range
    bound = max(1, (int(np.abs(beta).max()) + 128 * (int(np.sqrt(n)) + 1) * 2**frac_bits) * max(mult, 1))
    shift = min(62, max(1, bound.bit_length() - (6 if out_dtype == "i8" else 14) + shift_delta))
    p.op("y", "bpu.layer_norm", ["x", "g", "b"], (shape, out_dtype),
         {"frac_bits": frac_bits, "sqrt_frac_bits": sqrt_bits, "eps": eps, "multiplier": mult, "shift": shift,
          "rounding": mode})
    assert_same(p.module(["y"]), extreme_codes(rng, shape, "i16", kind))


@pytest.mark.parametrize("shape,dtype", [((3, 2, 16, 32), "i8"), ((2, 3, 64, 16), "i8"), ((4, 8, 24, 40), "i8"),
                                         ((2, 16, 16, 16), "i16"), ((1, 1, 8, 8), "i8")])
def test_last_two_axes_swapped_as_byte_blocks(shape, dtype):
    """Attention's k^T (dims [0, 1, 3, 2]) of int8 codes with both axes multiples of 8 takes the register
    transpose (16x16 or 8x8 byte blocks, kernels/permute.py), the rest the strided kernel. Bug caught: a block
    written at the other's row stride, or the batch of blocks mis-strided."""
    rng = np.random.default_rng(len(shape) + shape[-1])
    dims = list(range(len(shape) - 2)) + [len(shape) - 1, len(shape) - 2]
    p = ProgramText([("x", shape, dtype)])
    p.op("y", "bpu.permute", ["x"], (tuple(shape[d] for d in dims), dtype), {"dims": dims})
    prog = p.module(["y"])
    x = extreme_codes(rng, shape, dtype, "uniform")
    assert_same(prog, x)
    np.testing.assert_array_equal(rn.compile(prog)(x), x.transpose(dims))


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=6), data=st.data(),
       dtype=st.sampled_from(["i8", "i16"]), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_permute_any_rank_and_order(shape, data, dtype, seed):
    """The strided permute kernel (ranks 1-6 padded to 6): a wrong stride or loop order moves elements."""
    dims = data.draw(st.permutations(range(len(shape))))
    rng = np.random.default_rng(seed)
    p = ProgramText([("x", tuple(shape), dtype)])
    p.op("y", "bpu.permute", ["x"], (tuple(shape[d] for d in dims), dtype), {"dims": list(dims)})
    prog = p.module(["y"])
    x = extreme_codes(rng, tuple(shape), dtype, "uniform")
    assert_same(prog, x)
    np.testing.assert_array_equal(rn.compile(prog)(x), x.transpose(dims))
