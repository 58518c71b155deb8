"""The VNNI int8 GEMM route (runtime/numba/kernels/vnni.py) against an int64 numpy oracle, bit for bit.

The micro-kernel has edges a small conv never reaches: row blocks of MR = 6 with a 1-row tail, panels of
four 16-column vectors with a 1-3 vector tail, K padded to 4, A as a column slice of a wider buffer
(grouped convs), the unsigned-offset correction, and the int32 lane bound at the largest K. Skipped on
CPUs without AVX-512 VNNI (the float route then serves every GEMM; tests/test_numba_kernels.py covers it).
"""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime.numba.kernels import launch, vnni
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.linear import LinearPlan

pytestmark = pytest.mark.skipif(not vnni.available(), reason="no AVX-512 VNNI on this CPU")


def _gemm(x: np.ndarray, w: np.ndarray, a_width: int | None = None) -> np.ndarray:
    """x (M, K) int8 @ w (K, N) int8 through VnniGemm, corrected: the exact int64 product."""
    m = x.shape[0]
    g = vnni.VnniGemm(m, w)
    width = g.kp if a_width is None else a_width
    a = np.full((m, width), 77, np.uint8)  # pad bytes are arbitrary: they meet zero weights
    vnni.to_unsigned(x, a[:, :x.shape[1]])
    return g.result(a[:, :g.kp])[:, :w.shape[1]].astype(np.int64) + g.correction


@given(m=st.integers(1, 40), k=st.integers(1, 700), n=st.integers(1, 300), extreme=st.booleans(),
       wide=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_vnni_gemm_matches_int64(m, k, n, extreme, wide, seed):
    rng = np.random.default_rng(seed)
    if extreme:
        x = rng.choice(np.array([-128, 127], np.int8), size=(m, k))
        w = rng.choice(np.array([-128, 127], np.int8), size=(k, n))
    else:
        x = rng.integers(-128, 128, size=(m, k)).astype(np.int8)
        w = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    # `wide`: A is a column slice of a wider buffer, as for one group of a grouped conv
    got = _gemm(x, w, vnni.padded_k(k) + 12 if wide else None)
    np.testing.assert_array_equal(got, x.astype(np.int64) @ w.astype(np.int64))


@pytest.mark.parametrize("xv, wv", [(127, -128), (127, 127), (-128, -128), (-128, 127)])
def test_vnni_worst_case_sums_at_the_largest_k_do_not_wrap(xv, wv):
    # the unsigned lane sum reaches K * 255 * 128 = 2,139,095,040 for x = 127, w = -128 at K = MAX_K
    k = vnni.MAX_K
    x = np.full((7, k), xv, np.int8)
    w = np.full((k, 17), wv, np.int8)
    np.testing.assert_array_equal(_gemm(x, w), np.full((7, 17), k * xv * wv, np.int64))


def test_route_selection():
    w8 = np.zeros((4, 3, 3, 3), np.int8)
    assert Conv2dPlan((1, 5, 5, 3), np.dtype(np.int8), w8, None, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                      (-2**31, 2**31 - 1)).vnni
    # int16 activations and wider weight values take the float route
    assert not Conv2dPlan((1, 5, 5, 3), np.dtype(np.int16), w8, None, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                          (-2**63, 2**63 - 1)).vnni
    w_wide = np.full((4, 3), 300, np.int64)
    assert not LinearPlan(2, np.dtype(np.int8), w_wide, None, (-2**63, 2**63 - 1)).vnni
    # K beyond the int32 lane bound
    assert not LinearPlan(2, np.dtype(np.int8), np.zeros((2, vnni.MAX_K + 1), np.int8), None, (-2**63, 2**63 - 1)).vnni


def test_irq_no_vnni_forces_the_float_route_with_identical_results(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(2, 9, 11, 8)).astype(np.int8)
    w = rng.integers(-128, 128, size=(12, 4, 3, 3)).astype(np.int8)
    bias = rng.integers(-5000, 5000, size=12)
    outs = []
    for flag in ("0", "1"):
        monkeypatch.setenv("IRQ_NO_VNNI", flag)
        plan = Conv2dPlan(x.shape, np.dtype(np.int8), w, bias, (2, 1), (1, 0, 2, 1), (1, 2), 2, (-2**31, 2**31 - 1))
        assert plan.vnni == (flag == "0")
        out = np.empty(plan.out_shape, np.int64)
        assert plan.raw(x, out) == 0
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_micro_kernel_is_vpdpbusd():
    # the route's speed comes from the instruction; a refactor that loses it would still be exact.
    # A fresh uncached function: Numba cannot show the assembly of code loaded from its cache.
    @numba.njit
    def micro(a, lda, b, k4, c, ldc):
        vnni._mk6_4(a, lda, b, k4, c, ldc)

    a, b, c = np.zeros((6, 8), np.uint8), np.zeros(512, np.int8), np.zeros((6, 64), np.int32)
    micro(a.ctypes.data, 8, b.ctypes.data, 2, c.ctypes.data, 64)
    asm = "".join(micro.inspect_asm().values())
    assert asm.count("vpdpbusd") >= 24  # 6 rows x 4 vectors per k step


def test_serial_twin_and_parallel_kernel_agree():
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(50, 40)).astype(np.int8)
    a_par, a_ser = np.zeros((50, 40), np.uint8), np.zeros((50, 40), np.uint8)
    vnni.to_unsigned.parallel(x, a_par)
    vnni.to_unsigned.serial(x, a_ser)
    np.testing.assert_array_equal(a_par, a_ser)
    np.testing.assert_array_equal(a_ser, (x.astype(np.int16) + 128).astype(np.uint8))
    # the twin is cached under its own name (one cache entry per variant)
    assert vnni.to_unsigned.serial.py_func.__qualname__ == "to_unsigned_serial"
    assert launch.Kernel.pick(vnni.to_unsigned, 0) is vnni.to_unsigned.serial
