"""Tests that kill mutants of FakeQuantize's VALIDATION arithmetic (bench/mutation.py target `quant-fakequant`,
irq/quant/fake_quantize.py: `codes`, `_float32_exact`, `dequantize`, `quantize_exact`) that the suite did not.

Since commit 56a0a92 `dequantize` and `quantize_exact` multiply in float32 when that equals the float64 rule
(int8/int16 codes, a float32 scale) and in float64 otherwise. Every test in the suite took the float32 route, so
a bug that sent other codes or scales down it, or broke the float64 route, gave wrong numbers unseen. The oracle
is the documented rule itself, written here in numpy: ``float32(float64(q) * float64(s))`` (bpu.dequantize).
"""

from __future__ import annotations

import numpy as np
import torch

from irq.quant import FakeQuantize, FakeQuantState


def _fq(dtype: str, scale: float, *, double: bool = False) -> FakeQuantize:
    m = FakeQuantize(owner="t", slot="out", dtype=dtype, observer="min_max", qscheme="per_tensor")
    if double:
        m = m.double()  # every floating buffer, the scale too, becomes float64
    m.scale.fill_(scale)
    m.state = FakeQuantState.VALIDATION
    return m.eval()


def _rule(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """bpu.dequantize: the exact float64 product, rounded once to float32."""
    return (q.astype(np.float64) * np.float64(scale)).astype(np.float32)


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).view(np.int32)


def test_int32_codes_dequantize_by_the_float64_rule() -> None:
    """int32 codes (beyond float32's 2**24) must take the float64 route: float32(q) already rounds them.
    Catches fake_quantize.py:189 `and` as `or` (every float32 scale takes the float32 route),
    fake_quantize.py:193 and :199 `if not self._float32_exact()` (the routes swapped), and every operator of
    :196's float64 product (`q.double() * s` as +, -, /, //, %, **, <<, >>, |, &, ^), which no test reached."""
    rng = np.random.default_rng(15)
    m = _fq("qint32", 0.0123)
    codes = np.concatenate(
        [[m.qmin, m.qmax, 2**24 + 1, -(2**24) - 3, 0, 1, -1], rng.integers(m.qmin, m.qmax, size=4000, endpoint=True)]
    )
    want = _rule(codes, m.scale.double().item())
    got = m.dequantize(torch.from_numpy(codes))
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(_bits(got), _bits(want))
    # quantize_exact: the codes of values that are exact multiples of the scale in float64, then the same rule
    x = torch.from_numpy(codes.astype(np.float64) * m.scale.double().item())
    np.testing.assert_array_equal(_bits(m.quantize_exact(x)), _bits(want))


def test_a_float64_scale_dequantizes_in_float64() -> None:
    """A module cast to float64 (`model.double()`) keeps a float64 scale, which float32 arithmetic would round
    first. Catches fake_quantize.py:189 `scale.dtype == torch.float32` as `!=` / `is not` (float64 scales take
    the float32 route, float32 ones the float64 route) and `and` as `or`."""
    for scale in (0.1, 1 / 3, 2.0**-20 / 3):
        m = _fq("qint8", scale, double=True)
        assert m.scale.dtype == torch.float64
        codes = np.arange(m.qmin, m.qmax + 1)
        want = _rule(codes, scale)
        np.testing.assert_array_equal(_bits(m.dequantize(torch.from_numpy(codes))), _bits(want))
        x = torch.from_numpy(codes.astype(np.float64) * scale)
        np.testing.assert_array_equal(_bits(m.quantize_exact(x)), _bits(want))


def test_dequantize_leaves_float32_codes_unchanged() -> None:
    """dequantize multiplies in place on its own float32 copy: float32 codes passed in (as `codes(x,
    torch.float32)` returns them) must not be that copy. Catches fake_quantize.py:194 `copy=True` as
    `copy=False` (the caller's codes overwritten by the dequantized values)."""
    m = _fq("qint16", 0.037)
    codes = torch.arange(-300, 300, dtype=torch.float32)
    before = codes.clone()
    got = m.dequantize(codes)
    assert torch.equal(codes, before)
    np.testing.assert_array_equal(_bits(got), _bits(_rule(before.numpy(), m.scale.double().item())))


def test_a_moving_average_quantizer_built_directly_averages_with_0_01() -> None:
    """FakeQuantize's own default averaging constant is horizon's and torch.ao's 0.01 (the torch executor passes
    the qconfig's; a quantizer built directly relies on the default). Oracle: the moving average written here,
    ``m += 0.01 (batch - m)`` after the first batch. Catches fake_quantize.py:61 `averaging_constant: float =
    0.01` as 1.01 / -0.99."""
    m = FakeQuantize(owner="t", slot="out", dtype="qint8", observer="moving_average_min_max", qscheme="per_tensor")
    m.state = FakeQuantState.CALIBRATION
    m.train()
    lo, hi = -1.0, 2.0
    for batch_lo, batch_hi in ((-1.0, 2.0), (-5.0, 10.0), (-3.0, 4.0)):
        m(torch.tensor([batch_lo, 0.5, batch_hi]))
        if int(m.observed) > 1:
            lo, hi = lo + 0.01 * (batch_lo - lo), hi + 0.01 * (batch_hi - hi)
    assert abs(m.min_val.item() - lo) < 1e-6
    assert abs(m.max_val.item() - hi) < 1e-6
    assert abs(m.scale.item() - max(-lo, hi) / 127) < 1e-7
