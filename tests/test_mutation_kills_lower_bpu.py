"""lower-bpu on cases mutation testing (bench/mutation.py, target `lower-bpu`) found unexercised.

Each test names the planted bug it catches. Oracles: the exact integer bound an accumulator must hold,
torch float64 on the frozen graph's dequantized values (within one output step), and the refusal a
user must see instead of a silently different number.
"""

from __future__ import annotations

import numpy as np
import pytest
from irq.runtime.reference import run
from support.frozen import FrozenBuilder
from test_lower_bpu import assert_within_one_step, lower, qdq

from irq.transform.pass_base import PassFailure


@pytest.mark.parametrize("k", [2, 3])
def test_int16_matmul_accumulates_in_int64(k: int) -> None:
    """Two int16 operands: K * 32768 * 32768 >= 2**31 already for K = 2, so the accumulator is int64 and
    the product exact. Catches the bound computed as `k + ...` or from the batch dim instead of K."""
    b = FrozenBuilder([("a", (1, 2, k)), ("c", (1, k, 2))])  # batch 1: K, not the batch, sets the bound
    mm = b.op("hl.matmul", [b.qdq("a", 2.0**-12, "i16"), b.qdq("c", 2.0**-12, "i16")], (1, 2, 2),
              attrs='owner = "mm"')
    m = lower(b.module([b.qdq(mm, 2.0**-6, "i16")]))
    (acc,) = [op for op in m.walk() if op.name == "bpu.matmul"]
    assert acc.results[0].type.element_type.width == 64
    rng = np.random.default_rng(k)
    a = (rng.uniform(-7.9, 7.9, size=(1, 2, k))).astype(np.float32)  # near the int16 range at 2**-12
    c = (rng.uniform(-7.9, 7.9, size=(1, k, 2))).astype(np.float32)
    (got,) = run(m, a, c)
    want = qdq(a, 2.0**-12, "i16") @ qdq(c, 2.0**-12, "i16")
    assert_within_one_step(got, want, 2.0**-6, "i16")


def test_int16_matmul_past_the_requantize_limit_is_refused() -> None:
    """K = 4 int16 products reach 2**32, past what requantize's int64 product holds: refused, not wrapped."""
    b = FrozenBuilder([("a", (1, 2, 4)), ("c", (1, 4, 2))])
    mm = b.op("hl.matmul", [b.qdq("a", 2.0**-12, "i16"), b.qdq("c", 2.0**-12, "i16")], (1, 2, 2),
              attrs='owner = "mm"')
    with pytest.raises(PassFailure, match="too large to requantize"):
        lower(b.module([b.qdq(mm, 2.0**-6, "i16")]))


@pytest.mark.parametrize("mode", ["bicubic", "area", "nearest-exact", "trilinear"])
def test_interpolate_modes_other_than_nearest_and_bilinear_are_refused(mode: str) -> None:
    """Only nearest and bilinear have integer semantics: any other mode is named in the error. Catches the
    mode test written as an ordering (`mode < "bilinear"` lets bicubic and area through as bilinear)."""
    b = FrozenBuilder([("x", (1, 2, 4, 4))])
    y = b.op("hl.interpolate", [b.qdq("x", 0.05)], (1, 2, 8, 8),
             attrs=f'size = [8, 8], mode = "{mode}", align_corners = false, owner = "up"')
    with pytest.raises(PassFailure, match=f"interpolate mode '{mode}' is not supported"):
        lower(b.module([b.qdq(y, 0.05)]))


def test_global_mean_and_a_mean_over_other_dims_both_lower() -> None:
    """x.mean((2, 3), keepdim=True) of a 4-D activation is a global average pool; a mean over other dims
    (channels here, tokens in a ViT) is the same sum and one requantize over a permuted view. Catches the
    rank/dims test inverted into an ordering, and a wrong permutation or divisor on the general route."""
    b = FrozenBuilder([("x", (1, 3, 4, 4))])
    y = b.op("hl.mean", [b.qdq("x", 0.05)], (1, 3, 1, 1), attrs='dim = [2, 3], keepdim = true, owner = "gap"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float32)
    (got,) = run(m, x)
    assert_within_one_step(got, qdq(x, 0.05).mean(axis=(2, 3), keepdims=True), 0.01, exact_fraction=0.5)
    b = FrozenBuilder([("x", (2, 3, 4, 4))])
    y = b.op("hl.mean", [b.qdq("x", 0.05)], (2, 1, 4, 4), attrs='dim = [1], keepdim = true, owner = "cm"')
    m = lower(b.module([b.qdq(y, 0.01)]))
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32)
    (got,) = run(m, x)
    assert got.shape == (2, 1, 4, 4)
    assert_within_one_step(got, qdq(x, 0.05).mean(axis=1, keepdims=True), 0.01, exact_fraction=0.5)


def test_an_int32_high_precision_output_cannot_feed_another_op() -> None:
    """A linear without an output qcast keeps its int32 accumulator, per channel: a model output only.
    Feeding it to another op is refused by name (catches the check dropped: the add would then rescale
    int32 accumulators as if they were int8 codes). An int32 qcast of an activation is refused earlier,
    by the qcast itself."""
    b = FrozenBuilder([("x", (3, 16))])
    w = np.random.default_rng(4).standard_normal((5, 16)) * 0.2
    y = b.op("hl.linear", [b.qdq("x", 0.03), b.weight(w, np.abs(w).max(axis=1) / 127)], (3, 5), attrs='owner = "fc"')
    z = b.op("hl.add", [y, y], (3, 5), attrs='owner = "add"')
    with pytest.raises(PassFailure, match="int32 high-precision output"):
        lower(b.module([b.qdq(z, 0.1)]))
    b = FrozenBuilder([("x", (3, 16))])
    z = b.op("hl.add", [b.qdq("x", 0.03, "i32"), b.qdq("x", 0.03, "i32")], (3, 16), attrs='owner = "add"')
    with pytest.raises(PassFailure, match="activations are i8 or i16, got i32"):
        lower(b.module([b.qdq(z, 0.1)]))
