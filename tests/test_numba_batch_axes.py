"""The numba runtime follows the batch through permutes, reshapes and slices (runtime/numba/batch.py).

A program is typed at its traced batch; run at another one, each value is sized with the batch on the
axis it was followed to. The oracle is the reference runtime at the traced batch, one sample at a time:
a planner that puts the batch on the wrong axis mixes samples (a wrong number), which these catch; a
program that slices or concatenates along the batch must say it only runs at its own batch.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.planner import ProgramError
from irq.runtime.reference.interpreter import ReferenceRuntimeError
from support.bpu_text import ProgramText

from irq.batch_axis import Axis, reshape_axes, reshape_axis


@pytest.mark.parametrize("src,dst,axis,batch,want", [
    ((4, 7, 3), (28, 3), Axis(0), 4, Axis(0, 7)),        # flatten the batch with the tokens
    ((28, 3), (4, 7, 3), Axis(0, 7), 4, Axis(0, 1)),     # and split it back
    ((2, 8), (1, 4, 4), Axis(0), 2, Axis(1, 2)),         # a leading 1 before the batch's group
    ((2, 3), (3, 2), Axis(0), 2, None),                  # the samples interleave: not a batch axis any more
    ((3, 4, 5), (3, 20), Axis(1), 4, Axis(1, 5)),        # the batch second (a ViT's qkv) merged with what follows
    ((3, 4, 5), (12, 5), Axis(1), 4, Axis(0, 1, 3)),     # merged with the dimension before it ([L, N, E] -> [L*N, E])
    ((5, 2, 16), (5, 4, 8), Axis(1), 2, Axis(1, 2)),     # heads split off the features: [L, N*heads, d]
    ((5, 4, 8), (10, 16), Axis(1, 2), 2, Axis(0, 1, 5)),  # and merged back with the sequence
    ((10, 16), (5, 2, 16), Axis(0, 1, 5), 2, Axis(1)),   # the sequence split off again
    ((3, 4, 5), (6, 10), Axis(1), 4, None),              # the batch split across two dimensions
    ((1, 8), (1, 2, 4), Axis(0), 1, Axis(0, 1)),         # at batch 1 the outermost factor of the first group
])
def test_reshape_axis(src, dst, axis, batch, want):
    assert reshape_axis(src, dst, axis, batch) == want


def test_at_batch_1_a_merge_has_several_readings_the_outermost_first():
    """nn.MultiheadAttention traced at batch 1: `[L, N*heads, d] -> [L*N, E]` at N = 1 reads either way; the
    batch outermost in its group comes first (BatchAxes replaces it when a linear would contract over it)."""
    assert reshape_axes((5, 2, 8), (5, 16), Axis(1, 2), 1) == [Axis(1, 16), Axis(0, 1, 5)]
    assert reshape_axes((5, 2, 8), (5, 16), Axis(1, 2), 2) == []  # at N = 2 the sizes say no: 16 != 5 * 2 ...
    assert reshape_axes((5, 4, 8), (10, 16), Axis(1, 2), 2) == [Axis(0, 1, 5)]  # ... and here they say which


def _mha_tail_program(traced: int):
    """[N, L, E] -> permute [L, N, E] -> reshape [L, N*heads, d] -> reshape [L*N, E] -> linear -> reshape
    [L, N, E] -> permute [N, L, E]: nn.MultiheadAttention's head split and tail, sequence-first inside."""
    L, heads, d = 3, 2, 2
    p = ProgramText([("x", (traced, L, heads * d), "i8")])
    p.const("w", (np.arange(16).reshape(4, 4) % 7) - 3, "i8")
    p.op("t", "bpu.permute", ["x"], ((L, traced, heads * d), "i8"), {"dims": [1, 0, 2]})
    p.op("h", "bpu.reshape", ["t"], ((L, traced * heads, d), "i8"))
    p.op("r", "bpu.reshape", ["h"], ((L * traced, heads * d), "i8"))
    p.op("y", "bpu.linear", ["r", "w"], ((L * traced, heads * d), "i32"))
    p.op("s", "bpu.reshape", ["y"], ((L, traced, heads * d), "i32"))
    p.op("o", "bpu.permute", ["s"], ((traced, L, heads * d), "i32"), {"dims": [1, 0, 2]})
    return p.module(["o"])


@pytest.mark.parametrize("traced", [1, 2])
def test_a_traced_batch_1_reading_that_contracts_over_the_batch_is_replaced(traced):
    """Bug this catches: at batch 1 the first reading of `[L, N*heads, d] -> [L*N, E]` puts the batch in E,
    which the linear then contracts (ProgramError); the second reading (L*N) is the one torch means. Oracle:
    the same program one traced-size chunk at a time, at its traced batch."""
    prog = _mha_tail_program(traced)
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(4 * traced, 3, 4)).astype(np.int8)
    want = np.concatenate([reference.run(prog, x[i:i + traced])[0] for i in range(0, 4 * traced, traced)])
    np.testing.assert_array_equal(rn.compile(prog)(x), want)
    np.testing.assert_array_equal(reference.run(prog, x)[0], want)


def _permute_program(traced: int, heads: int, d: int):
    """x (B, N, H*D) -> reshape (B, N, H, D) -> permute to (H, B, N, D) -> lut -> permute back -> reshape (B*N, H*D)."""
    n = 3
    p = ProgramText([("x", (traced, n, heads * d), "i8")])
    p.const("t", (np.arange(256) * 7 % 255) - 127, "i8")
    p.op("r", "bpu.reshape", ["x"], ((traced, n, heads, d), "i8"))
    p.op("p", "bpu.permute", ["r"], ((heads, traced, n, d), "i8"), {"dims": [2, 0, 1, 3]})
    p.op("l", "bpu.lut", ["p", "t"], ((heads, traced, n, d), "i8"))
    p.op("q", "bpu.permute", ["l"], ((traced, n, heads, d), "i8"), {"dims": [1, 2, 0, 3]})
    p.op("y", "bpu.reshape", ["q"], ((traced * n, heads * d), "i8"))
    return p.module(["y"]), n


@given(traced=st.sampled_from([1, 2]), batch=st.integers(1, 5), heads=st.integers(1, 3), d=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_batch_moved_by_permutes_and_merged_by_reshapes(traced, batch, heads, d, seed):
    prog, n = _permute_program(traced, heads, d)
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(batch * traced, n, heads * d)).astype(np.int8)
    got = rn.compile(prog)(x)
    want = np.concatenate([reference.run(prog, x[i:i + traced])[0] for i in range(0, batch * traced, traced)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("op", ["slice", "concat"])
def test_an_op_along_the_batch_only_runs_at_the_traced_batch(op):
    p = ProgramText([("x", (2, 4), "i8")])
    if op == "slice":
        p.op("y", "bpu.slice", ["x"], ((1, 4), "i8"), {"dim": 0, "start": 0, "end": 1, "step": 1})
    else:
        p.op("y", "bpu.concat", ["x", "x"], ((4, 4), "i8"),
             {"dim": 0, "multiplier": ("array", [1 << 30, 1 << 30]), "shift": ("array", [30, 30])})
    prog = p.module(["y"])
    run = rn.compile(prog)
    x = np.arange(8, dtype=np.int8).reshape(2, 4)
    np.testing.assert_array_equal(run(x), reference.run(prog, x)[0])
    with pytest.raises(ProgramError, match=rf"'bpu.{op}' moves the batch dimension.*only runs at batch 2"):
        run(np.zeros((3, 4), np.int8))
    with pytest.raises(ReferenceRuntimeError, match=rf"'bpu.{op}' moves the batch dimension.*only runs at batch 2"):
        reference.run(prog, np.zeros((3, 4), np.int8))


def test_an_open_slice_of_the_batch_keeps_it():
    """`x[:, 0]` lowers its `:` to a slice of the batch with an open end: every sample stays."""
    p = ProgramText([("x", (1, 3, 4), "i8")])
    p.op("a", "bpu.slice", ["x"], ((1, 3, 4), "i8"), {"dim": 0, "start": 0, "end": 2**63 - 1, "step": 1})
    p.op("y", "bpu.slice", ["a"], ((1, 1, 4), "i8"), {"dim": 1, "start": 0, "end": 1, "step": 1})
    prog = p.module(["y"])
    x = np.arange(36, dtype=np.int8).reshape(3, 3, 4)
    np.testing.assert_array_equal(rn.compile(prog)(x), x[:, :1])
