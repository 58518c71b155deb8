"""The VNNI int8 GEMM route (runtime/numba/kernels/vnni.py) against an int64 numpy oracle, bit for bit.

The micro-kernel has edges a small conv never reaches: row blocks of MR = 6 with a 1-row tail, panels of
four 16-column vectors with a 1-3 vector tail, K padded to 4, A as a column slice of a wider buffer
(grouped convs), the unsigned-offset correction, and the int32 lane bound at the largest K. Skipped on
CPUs without AVX-512 VNNI (the float route then serves every GEMM; tests/test_numba_kernels.py covers it).
"""

from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.runtime.numba.kernels import conv, gemm, launch, native_parts, spin_pool, vnni
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.linear import LinearPlan, MatmulPlan
from support.int_oracle import conv2d_nhwc

pytestmark = pytest.mark.skipif(not vnni.available(), reason="no AVX-512 VNNI on this CPU")


_NONE = np.zeros(0, np.int64)


def _gemm(x: np.ndarray, w: np.ndarray, a_width: int | None = None) -> np.ndarray:
    """x (M, K) int8 or int16 @ w (K, N) int8 through `gemm_epilogue`'s raw output: the exact int64 product."""
    m, k = x.shape
    dual = x.dtype == np.int16
    g = vnni.VnniGemm(w, dual)
    kp = vnni.padded_k(k)
    width = kp if a_width is None else a_width
    # pad bytes are arbitrary: they meet zero weights
    hi, lo = np.full((m, width), 77, np.int8), np.full((m, width), 77, np.int8)
    if dual:
        hi[:, :k], lo[:, :k] = (x >> 8).astype(np.int8), ((x & 255) - 128).astype(np.int8)
    else:
        hi[:, :k] = x
    out = np.empty((m, w.shape[1]), np.int64)
    ep = (_NONE, _NONE, _NONE, 0, 0, 0, np.zeros((0, 0), np.int8), _NONE, True)
    a_lo = lo.reshape(-1).view(np.uint8) if dual else np.zeros(0, np.uint8)
    bad = g.run(hi.reshape(-1).view(np.uint8), a_lo, width, np.zeros(1, np.int64), kp // 4, 1, 0, m, m, m, 0,
                g.correction, -2**62, 2**62, ep, out)
    assert bad == 0
    return out


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


@given(m=st.integers(1, 20), k=st.integers(1, 300), n=st.integers(1, 140), extreme=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_vnni_int16_split_matches_int64(m, k, n, extreme, seed):
    # int16 x int8 through the hi/lo byte planes: 256 * C_hi + C_lo - 32768 * colsum(W), exact
    rng = np.random.default_rng(seed)
    if extreme:
        x = rng.choice(np.array([-32768, 32767, -1, 255, 256], np.int16), size=(m, k))
        w = rng.choice(np.array([-128, 127], np.int8), size=(k, n))
    else:
        x = rng.integers(-32768, 32768, size=(m, k)).astype(np.int16)
        w = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    np.testing.assert_array_equal(_gemm(x, w), x.astype(np.int64) @ w.astype(np.int64))


@pytest.mark.parametrize("xv, wv", [(127, -128), (127, 127), (-128, -128), (-128, 127),
                                    (32767, -128), (-32768, -128), (-32768, 127), (32767, 127)])
def test_vnni_worst_case_sums_at_the_largest_k_do_not_wrap(xv, wv):
    # the unsigned lane sum reaches K * 255 * 128 = 2,139,095,040 for x = 127, w = -128 at K = MAX_K;
    # int16's lo plane (255 for x = 32767) and hi plane (-128 + 128 .. 127 + 128) stay within the same bound
    k = vnni.MAX_K
    x = np.full((7, k), xv, np.int8 if -128 <= xv <= 127 else np.int16)
    w = np.full((k, 17), wv, np.int8)
    np.testing.assert_array_equal(_gemm(x, w), np.full((7, 17), k * xv * wv, np.int64))


def test_route_selection():
    w8 = np.zeros((4, 3, 3, 3), np.int8)
    assert Conv2dPlan((1, 5, 5, 3), np.dtype(np.int8), w8, None, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                      (-2**31, 2**31 - 1)).vnni
    # int16 activations take the float route unless the conv runs direct (one group, stride 1 or an equal
    # stride over at most DIRECT_STRIDED_MAX_C channels; a grouped conv of few channels is one dense conv)
    assert not Conv2dPlan((1, 5, 5, 256), np.dtype(np.int16), np.zeros((4, 128, 3, 3), np.int8), None, (1, 1),
                          (1, 1, 1, 1), (1, 1), 2, (-2**63, 2**63 - 1)).vnni
    assert Conv2dPlan((1, 5, 5, 6), np.dtype(np.int16), np.zeros((4, 3, 3, 3), np.int8), None, (1, 1),
                      (1, 1, 1, 1), (1, 1), 2, (-2**63, 2**63 - 1)).route == "direct"
    assert Conv2dPlan((1, 5, 5, 3), np.dtype(np.int16), w8, None, (2, 2), (1, 1, 1, 1), (1, 1), 1,
                      (-2**63, 2**63 - 1)).route == "direct"  # the stem: C = 3 padded to 4, K = 36
    w4 = np.zeros((4, 4, 3, 3), np.int8)
    assert Conv2dPlan((1, 5, 5, 4), np.dtype(np.int16), w4, None, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                      (-2**63, 2**63 - 1)).route == "direct"
    assert Conv2dPlan((1, 5, 5, 4), np.dtype(np.int8), w4, None, (2, 1), (1, 1, 1, 1), (1, 1), 1,
                      (-2**63, 2**63 - 1)).route == "im2col"
    # a grouped conv of few channels, or a 1x1 one of narrow groups, runs as one dense conv (block-diagonal
    # weight); other groups of under 64 channels are merged up to 64; groups of 64 or more stay
    for (c, g, k), (groups, route) in (((64, 4, 3), (1, "direct")), ((128, 32, 3), (1, "direct")),
                                       ((256, 8, 1), (1, "direct")), ((256, 2, 3), (2, "im2col")),
                                       ((256, 128, 1), (4, "im2col")), ((512, 32, 3), (8, "im2col")),
                                       ((256, 32, 3), (4, "im2col"))):
        plan = Conv2dPlan((1, 6, 6, c), np.dtype(np.int8), np.zeros((c, c // g, k, k), np.int8), None, (1, 1),
                          (k // 2,) * 4, (1, 1), g, (-2**31, 2**31 - 1))
        assert (plan.groups, plan.route) == (groups, route), (c, g, k)
    # an equal stride runs direct up to DIRECT_STRIDED_MAX_C channels (padded to 4), im2col past it
    for c, route in ((128, "direct"), (125, "direct"), (129, "im2col"), (256, "im2col")):
        for dtype in (np.int8, np.int16):
            plan = Conv2dPlan((1, 9, 9, c), np.dtype(dtype), np.zeros((8, c, 3, 3), np.int8), None, (2, 2),
                              (1, 1, 1, 1), (1, 1), 1, (-2**63, 2**63 - 1))
            assert plan.route == (route if dtype == np.int8 or route == "direct" else "float"), (c, dtype)
    assert LinearPlan(2, np.dtype(np.int16), np.zeros((4, 3), np.int8), None, (-2**63, 2**63 - 1)).vnni
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
    def micro(a, lda, taps, ntaps, b, k4, c, ldc):
        vnni._mk6_4(a, lda, taps, ntaps, b, k4, c, ldc)

    a, b, c = np.zeros((6, 8), np.uint8), np.zeros(512, np.int8), np.zeros((6, 64), np.int32)
    taps = np.zeros(1, np.int64)
    micro(a.ctypes.data, 8, taps.ctypes.data, 1, b.ctypes.data, 2, c.ctypes.data, 64)
    asm = "".join(micro.inspect_asm().values())
    assert asm.count("vpdpbusd") >= 24  # 6 rows x 4 vectors per k step


def test_serial_twin_and_parallel_kernel_agree():
    rng = np.random.default_rng(5)
    src = rng.integers(-32768, 32768, size=(37, 53)).astype(np.int16)
    outs = [np.zeros(src.shape, np.float32) for _ in range(2)]
    gemm.to_float.parallel(src, outs[0])
    gemm.to_float.serial(src, outs[1])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[1], src.astype(np.float32))
    # the twin is cached under its own name (one cache entry per variant)
    assert gemm.to_float.serial.py_func.__qualname__ == "to_float_serial"
    assert launch.Kernel.pick(gemm.to_float, 0) is gemm.to_float.serial


def test_int16_split_into_padded_byte_planes_by_row_ranges(monkeypatch):
    # pad_split16 over 2 threads (row ranges) writes what one call writes, and the planes join back to x
    rng = np.random.default_rng(5)
    x = rng.integers(-32768, 32768, size=(2, 300, 700, 8)).astype(np.int16)  # above COPY_MIN_ELEMENTS
    planes = [(np.zeros((2, 303, 703, 8), np.int8), np.full((2, 303, 703, 8), -128, np.int8)) for _ in range(2)]
    vnni.pad_split16.rows(0, 2 * 300, x, 2, 1, *planes[0])
    monkeypatch.setattr(launch.numba, "get_num_threads", lambda: 2)
    native = (np.zeros((2, 303, 703, 8), np.int8), np.full((2, 303, 703, 8), -128, np.int8))
    posts = spin_pool.pool(1).board[native_parts.POST]
    vnni.pad_split16(x, 2, 1, *native)  # the pool's native launch: rows 300 .. 600 on the worker
    assert spin_pool.pool(1).board[native_parts.POST] == posts + 1
    assert (spin_pool.pool(1).board[native_parts.PART], spin_pool.pool(1).board[native_parts.PARTS]) == (300, 600)
    calls = []
    rows = vnni.pad_split16.rows
    monkeypatch.setattr(native_parts, "ENABLED", False)  # the Python path, whose calls the test can count
    monkeypatch.setattr(vnni.pad_split16, "rows", lambda r0, r1, *a: calls.append((r0, r1)) or rows(r0, r1, *a))
    vnni.pad_split16(x, 2, 1, *planes[1])
    assert sorted(calls) == [(0, 300), (300, 600)]
    for a, b, c in zip(*planes, native):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    hi, lo = planes[1]
    joined = hi.astype(np.int64) * 256 + (lo.view(np.uint8) ^ 0x80)
    np.testing.assert_array_equal(joined, np.pad(x, ((0, 0), (2, 1), (1, 2), (0, 0))))


def test_row_kernel_threads_split_rows_like_one_call(monkeypatch):
    # a RowKernel (pad_copy) split over 2 Python threads writes what one call writes: each range its rows
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(3, 300, 600, 4)).astype(np.int8)  # above COPY_MIN_ELEMENTS
    want = np.pad(x, ((0, 0), (2, 1), (1, 2), (0, 0)))
    one = np.zeros(want.shape, np.int8)
    vnni.pad_copy.rows(0, 3 * 300, x, 2, 1, one)
    np.testing.assert_array_equal(one, want)
    split = np.zeros(want.shape, np.int8)
    monkeypatch.setattr(launch.numba, "get_num_threads", lambda: 2)
    native = np.zeros(want.shape, np.int8)
    vnni.pad_copy(x, 2, 1, native)  # the pool's native launch
    np.testing.assert_array_equal(native, want)
    calls = []
    rows = vnni.pad_copy.rows
    monkeypatch.setattr(native_parts, "ENABLED", False)  # the Python path, whose calls the test can count
    monkeypatch.setattr(vnni.pad_copy, "rows", lambda r0, r1, *a: calls.append((r0, r1)) or rows(r0, r1, *a))
    vnni.pad_copy(x, 2, 1, split)
    assert sorted(calls) == [(0, 450), (450, 900)]
    np.testing.assert_array_equal(split, want)
    # a copy below COPY_MIN_ELEMENTS (the 56x56x64 conv's 200 KB, above PARALLEL_MIN_ELEMENTS) stays on one
    # thread: handing half of it to the pool cost 26 us against 8 us for the whole copy
    calls.clear()
    small = rng.integers(-128, 128, size=(1, 56, 56, 64)).astype(np.int8)
    vnni.pad_copy(small, 1, 1, np.zeros((1, 58, 58, 64), np.int8))
    assert small.size > launch.PARALLEL_MIN_ELEMENTS and calls == [(0, 56)]


def test_accumulator_proof_is_tight():
    # the per-element range check is dropped only when x_abs * sum|w| + |bias| fits the declared width
    w = np.full((3, 2), -128, np.int8)  # sum |w| = 384 per column; int8 worst case 128 * 384 = 49,152
    bias = np.array([10, -10])
    assert vnni.accumulator_proven(w, bias, 128, (-49_162, 49_162))
    assert not vnni.accumulator_proven(w, bias, 128, (-49_161, 49_162))
    assert not vnni.accumulator_proven(w, bias, 128, (-49_162, 49_161))
    # int16: 32768 * 384 + 10 = 12,582,922
    assert vnni.accumulator_proven(w, bias, 32768, (-12_582_922, 12_582_922))
    assert not vnni.accumulator_proven(w, bias, 32768, (-12_582_921, 12_582_922))


def test_unproven_conv_still_reports_overflow():
    # a 16-bit declared accumulator that 128 * 9 * 64 * 127 can exceed: the check stays and fires
    x = np.full((1, 4, 4, 64), -128, np.int8)
    w = np.full((8, 64, 3, 3), -128, np.int8)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, (-2**15, 2**15 - 1))
    assert plan.route == "direct" and (plan.acc_lo, plan.acc_hi) != vnni.NO_CHECK
    out = np.empty(plan.out_shape, np.int16)
    assert plan.raw(x, out) > 0
    mult, shift = np.full(8, 2**30, np.int64), np.full(8, 40, np.int64)
    assert plan.requantize(x, np.empty(plan.out_shape, np.int8), mult, shift, 0, -128, 127) > 0


@given(batch=st.integers(1, 3), m=st.integers(1, 13), k=st.integers(1, 150), n=st.integers(1, 140),
       dtype=st.sampled_from([np.int8, np.int16]), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_activation_matmul_on_vnni_matches_int64(batch, m, k, n, dtype, extreme, seed):
    # the right operand is packed at run time, twice with different values: the second run must not see the first
    rng = np.random.default_rng(seed)
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    plan = MatmulPlan(batch, m, k, n, np.dtype(dtype), np.dtype(np.int8), (-2**62, 2**62))
    assert plan.vnni
    for _ in range(2):
        x = (rng.choice([lo, hi], size=(batch, m, k)) if extreme else rng.integers(lo, hi + 1, (batch, m, k)))
        y = (rng.choice([-128, 127], size=(batch, k, n)) if extreme else rng.integers(-128, 128, (batch, k, n)))
        x, y = x.astype(dtype), y.astype(np.int8)
        out = np.empty((batch, m, n), np.int64)
        assert plan.run(x, y, out) == 0
        np.testing.assert_array_equal(out, x.astype(np.int64) @ y.astype(np.int64))


@pytest.mark.parametrize("workers", [1, 2, 3, 7, 1000])
def test_gemm_split_into_worker_parts_covers_every_chunk_once(workers):
    # the GEMM splits its chunks (8 row blocks of 6 rows, per image) into `workers` contiguous
    # parts with one scratch tile each: a part boundary that drops or repeats a chunk, or an image whose
    # chunks straddle two parts, shows as a wrong or unwritten row. 3 images x 100 rows = 3 chunks each.
    rng = np.random.default_rng(workers)
    images, m, k, n = 3, 100, 36, 70
    x = rng.integers(-128, 128, size=(images * m, k)).astype(np.int8)
    w = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    g = vnni.VnniGemm(w)
    kp = vnni.padded_k(k)
    a = np.zeros((images * m, kp), np.int8)
    a[:, :k] = x
    out = np.full((images * m, n), -7, np.int64)
    ep = (_NONE, _NONE, _NONE, 0, 0, 0, np.zeros((0, 0), np.int8), _NONE, True)
    args = (a.reshape(-1).view(np.uint8), np.zeros(0, np.uint8), kp, np.zeros(1, np.int64), kp // 4, g.packed, 0,
            g.n_vectors, n, images, m * kp, m, m, m, 0, g.correction, 0, -2**62, 2**62, *ep, 1, 0, *vnni.as_bytes(out))
    # each part on its own, in turn (as the pool's threads would run them): parts past the last chunk do nothing
    bad = sum(vnni.gemm_epilogue.fn(part, workers, *args) for part in range(workers))
    assert bad == 0
    np.testing.assert_array_equal(out, x.astype(np.int64) @ w.astype(np.int64))


@given(n=st.integers(1, 3), c=st.sampled_from([1, 2, 3, 4, 7, 16, 24, 64, 128]), h=st.integers(3, 16),
       w=st.integers(3, 16), o=st.integers(2, 40), k=st.sampled_from([1, 2, 3, 5, 7]), s=st.integers(2, 3),
       pad=st.tuples(*[st.integers(0, 3)] * 4),
       dil=st.integers(1, 2), dtype=st.sampled_from([np.int8, np.int16]), residual=st.booleans(),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_strided_direct_conv_one_call_per_image_matches_int64(n, c, h, w, o, k, s, pad, dil, dtype, residual,
                                                              extreme, seed):
    # the strided direct route runs each image's output rows as the kernel's "images" (no dropped virtual
    # rows): a wrong row pitch, image offset or residual slice shows as a wrong pixel in some image. Up to
    # DIRECT_STRIDED_MAX_C = 128 channels (C padded to 4 past a multiple: 1, 2, 3, 7), kernels up to the 7x7
    # stems, int16 activations (which took the float route through im2col before session 24)
    rng = np.random.default_rng(seed)
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    if (h + pad[0] + pad[2] - dil * (k - 1) - 1) < 0 or (w + pad[1] + pad[3] - dil * (k - 1) - 1) < 0:
        return
    x = (rng.choice([lo, hi], size=(n, h, w, c)) if extreme else rng.integers(lo, hi + 1, (n, h, w, c))).astype(dtype)
    wt = (rng.choice([-128, 127], size=(o, c, k, k)) if extreme else rng.integers(-128, 128, (o, c, k, k)))
    wt = wt.astype(np.int8)
    bias = rng.integers(-2**20, 2**20, o)
    plan = Conv2dPlan(x.shape, np.dtype(dtype), wt, bias, (s, s), pad, (dil, dil), 1, (-2**62, 2**62))
    assert plan.route == "direct" and plan.row_images
    acc = conv2d_nhwc(x, wt, (s, s), pad, (dil, dil)) + bias
    raw = np.empty(plan.out_shape, np.int64)
    assert plan.raw(x, raw) == 0
    np.testing.assert_array_equal(raw, acc)
    # requantize with the largest multiplier, a residual of the output's dtype, half_up (the fast path) and
    # half_even (the general one)
    mult, shift = np.full(o, 2**31 - 1, np.int64), np.full(o, 36, np.int64)
    res = rng.integers(lo, hi + 1, plan.out_shape).astype(dtype) if residual else None
    res_mult = np.full(o, 2**30, np.int64) if residual else None
    for mode in (0, 1):
        out = np.empty(plan.out_shape, dtype)
        assert plan.requantize(x, out, mult, shift, mode, lo, hi, res, res_mult) == 0
        p = acc * (2**31 - 1) + (res.astype(np.int64) * 2**30 if residual else 0)
        q = (p + 2**35) >> 36
        if mode == 1:  # exact ties go to even
            tie = (p & (2**36 - 1)) == 2**35
            q = np.where(tie & (q & 1 == 1), q - 1, q)
        np.testing.assert_array_equal(out, np.clip(q, lo, hi))


@given(n=st.integers(1, 2), c=st.sampled_from([4, 8, 20, 64]), h=st.integers(1, 9), w=st.integers(1, 9),
       o=st.sampled_from([1, 16, 24, 40, 64, 96, 130]), k=st.sampled_from([1, 3]),
       dtype=st.sampled_from([np.int8, np.int16]), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_fused_residual_requantize_matches_int64_unsaturated(n, c, h, w, o, k, dtype, extreme, seed):
    # conv + residual + half_up with overflow proven impossible: the epilogue's branch-free residual path
    # (int8) and the general one (int16). Shifts are chosen per channel so that most outputs land inside the
    # code range: with saturated outputs (the other tests' largest multipliers) a residual weighted wrongly,
    # read at another pixel or dropped would not show.
    rng = np.random.default_rng(seed)
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    x = (rng.choice([lo, hi], size=(n, h, w, c)) if extreme else rng.integers(lo, hi + 1, (n, h, w, c))).astype(dtype)
    wt = (rng.choice([-128, 127], size=(o, c, k, k)) if extreme else rng.integers(-128, 128, (o, c, k, k)))
    wt = wt.astype(np.int8)
    pad = ((k - 1) // 2,) * 4
    plan = Conv2dPlan(x.shape, np.dtype(dtype), wt, rng.integers(-2**20, 2**20, o), (1, 1), pad, (1, 1), 1,
                      (-2**62, 2**62))
    assert plan.route == "direct"
    raw = np.empty(plan.out_shape, np.int64)
    assert plan.raw(x, raw) == 0
    np.testing.assert_array_equal(raw - plan.bias + plan.gemm.correction, conv2d_nhwc(x, wt, (1, 1), pad, (1, 1)))
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    res = rng.integers(lo, hi + 1, plan.out_shape).astype(dtype)
    res_mult = rng.integers(0, 2**31, o).astype(np.int64)
    p = raw * mult + res.astype(np.int64) * res_mult
    # |p| >> shift spans about the code range: bit length of the channel's largest |p| minus the code width
    top = np.abs(p).reshape(-1, o).max(axis=0)
    bits = np.array([int(t).bit_length() for t in top])
    shift = np.maximum(bits - (np.iinfo(dtype).bits - 1), 1).astype(np.int64)
    out = np.empty(plan.out_shape, dtype)
    assert plan.requantize(x, out, mult, shift, 0, lo, hi, res, res_mult) == 0
    want = np.clip((p + (np.int64(1) << (shift - 1))) >> shift, lo, hi)
    np.testing.assert_array_equal(out, want)
    assert np.mean((want > lo) & (want < hi)) > 0.5  # the test sees unsaturated codes


@given(n=st.integers(1, 2), c=st.sampled_from([4, 16, 24]), h=st.integers(1, 9), w=st.integers(1, 20),
       o=st.sampled_from([1, 8, 16, 24, 32, 40, 48, 64, 80, 88, 112, 128, 144]), k=st.sampled_from([1, 3]),
       s=st.sampled_from([1, 2]),
       d=st.sampled_from([(1, 1), (2, 1), (1, 2)]), relu6=st.booleans(), extreme=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_requantize_in_registers_matches_int64(n, c, h, w, o, k, s, d, relu6, extreme, seed):
    # int8 codes, half_up, no residual, overflow proven impossible and whole 16-column vectors: the
    # micro-kernel requantizes in registers and stores codes (no int32 tile). 1x1 stride 1, the strided
    # direct route's rows, im2col rows, and the stride-1 3x3 conv whose virtual rows ox >= OW are dropped
    # through the row address table (blocks that straddle two image rows, and images); a kernel row's
    # taps merged into one (dilation 1 across) or kept apart (dilation 2 across); 6-row blocks end in
    # 1-row tails, panels of 1-4 vectors (a last panel of 3: 40, 48, 112 columns, the last of them 8 lanes at
    # 40); unsaturated shifts so a wrong lane, column, row address, bias fold or shift shows.
    rng = np.random.default_rng(seed)
    pad = (0,) * 4 if k == 1 else (d[0], d[1], d[0], d[1])
    def draw(shape):
        return rng.choice([-128, 127], size=shape) if extreme else rng.integers(-128, 128, shape)

    x, wt = draw((n, h, w, c)).astype(np.int8), draw((o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2**20, 2**20, o)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (s, s), pad, d, 1, (-2**31, 2**31 - 1))
    assert plan.route in ("direct", "im2col") and (plan.acc_lo, plan.acc_hi) == vnni.NO_CHECK
    # in registers whatever the column count; a last vector of fewer than 16 columns (1, 8, 24, 40, 88) stores
    # through a lane mask
    assert vnni._fused_ok(False, False, 0, 0, plan.acc_lo, plan.acc_hi, 1)
    acc = conv2d_nhwc(x, wt, (s, s), pad, d) + bias
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    top = np.abs(acc * mult).reshape(-1, o).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)
    lo, hi = (0, 6) if relu6 else (-128, 127)
    out = np.full(plan.out_shape, 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, lo, hi) == 0
    want = np.clip((acc * mult + (np.int64(1) << (shift - 1))) >> shift, lo, hi)
    np.testing.assert_array_equal(out, want)


@given(rows=st.integers(1, 40), k=st.integers(1, 300), n=st.sampled_from([16, 48, 64, 96, 272]),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_linear_requantize_in_registers_matches_int64(rows, k, n, seed):
    # the linear form of the in-register requantize: row tails of 1-5 rows, K padded to 4, panels of 1-4
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    wt = rng.integers(-128, 128, (n, k)).astype(np.int8)
    bias = rng.integers(-2**20, 2**20, n)
    plan = LinearPlan(rows, np.int8, wt, bias, (-2**31, 2**31 - 1))
    acc = x.astype(np.int64) @ wt.astype(np.int64).T + bias
    mult = rng.integers(2**30, 2**31, n).astype(np.int64)
    top = np.abs(acc * mult).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)
    out = np.full((rows, n), 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
    np.testing.assert_array_equal(out, np.clip((acc * mult + (np.int64(1) << (shift - 1))) >> shift, -128, 127))


@pytest.mark.parametrize("xv, wv", [(127, -128), (-128, -127), (-128, 127)])
def test_stride1_3x3_in_registers_at_the_largest_proven_k(xv, wv):
    # the stride-1 3x3 conv's in-register route at its widest: K = 9 * 7280 = 65,520 (the micro-kernel's
    # MAX_K is 65,536), every code and weight at an extreme, so the int32 lane sums reach
    # about K * 255 * 128 and the accumulator 9 * 7280 * 128 * 127 (about 2**30; the plan's proof bound
    # 128 * sum|w| + |bias| stays below 2**31); border pixels see fewer taps. Against the int64 oracle,
    # with a shift that leaves codes unsaturated.
    c, o = 7280, 32
    x = np.full((1, 3, 4, c), xv, np.int8)
    wt = np.full((o, c, 3, 3), wv, np.int8)
    bias = np.arange(o, dtype=np.int64) * 1000 - 16000
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (1, 1, 1, 1), (1, 1), 1, (-2**31, 2**31 - 1))
    assert plan.route == "direct" and (plan.acc_lo, plan.acc_hi) == vnni.NO_CHECK and not plan.row_images
    assert vnni._fused_ok(False, False, 0, 0, plan.acc_lo, plan.acc_hi, 1)
    acc = conv2d_nhwc(x, wt, (1, 1), (1, 1, 1, 1), (1, 1)) + bias
    assert np.abs(acc).max() > 2**29
    mult = np.full(o, 2**30, np.int64)
    shift = np.full(o, 54, np.int64)
    out = np.full(plan.out_shape, 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
    want = np.clip((acc * mult + (np.int64(1) << (shift - 1))) >> shift, -128, 127)
    np.testing.assert_array_equal(out, want)
    assert len(np.unique(want)) > 2 and np.abs(want).max() < 128  # border and interior differ, unsaturated


@given(n=st.integers(1, 2), c=st.sampled_from([16, 32, 64]), h=st.integers(5, 8), w=st.integers(16, 40),
       o=st.sampled_from([16, 64, 80]), k=st.sampled_from([1, 3]), pad=st.tuples(*[st.integers(0, 2)] * 4),
       d=st.sampled_from([(1, 1), (2, 2)]), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_conv_reading_nchw_transposes_into_its_padded_copy(n, c, h, w, o, k, pad, d, extreme, seed):
    # `pad_transpose`: a direct conv handed its int8 input as NCHW copies it into the zero-bordered NHWC
    # buffer in 16 x 16 blocks, the last block of a row overlapping when 16 does not divide w. A block
    # written to the wrong pixel, channel or row, or over the border, changes the codes; the same plan
    # then takes the same input as NHWC and must give the same bytes.
    rng = np.random.default_rng(seed)
    if k == 1 and not any(pad):
        pad = (0, 1, 0, 0)  # an unpadded 1x1 conv reads its input in place (NHWC only)
    x = (rng.choice([-128, 127], (n, h, w, c)) if extreme else rng.integers(-128, 128, (n, h, w, c))).astype(np.int8)
    wt = rng.integers(-128, 128, (o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2**20, 2**20, o)
    args = (x.shape, np.dtype(np.int8), wt, bias, (1, 1), pad, d, 1, (-2**31, 2**31 - 1))
    plan, twin = Conv2dPlan(*args), Conv2dPlan(*args)
    assert plan.reads_nchw
    plan.take_nchw()
    acc = conv2d_nhwc(x, wt, (1, 1), pad, d) + bias
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    top = np.abs(acc * mult).reshape(-1, o).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)
    out, ref = np.full(plan.out_shape, 99, np.int8), np.full(plan.out_shape, 98, np.int8)
    assert plan.requantize(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), out, mult, shift, 0, -128, 127) == 0
    assert twin.requantize(x, ref, mult, shift, 0, -128, 127) == 0
    np.testing.assert_array_equal(out, np.clip((acc * mult + (np.int64(1) << (shift - 1))) >> shift, -128, 127))
    np.testing.assert_array_equal(out, ref)


def test_nchw_routes_need_16_channel_blocks_and_a_padded_copy():
    def plan(c, w, k=3, pad=(1, 1, 1, 1), dtype=np.int8):
        wt = np.ones((16, c, k, k), np.int8)
        return Conv2dPlan((1, 4, w, c), np.dtype(dtype), wt, None, (1, 1), pad, (1, 1), 1, (-2**31, 2**31 - 1))

    assert plan(16, 16).reads_nchw and plan(64, 56).reads_nchw
    assert not plan(8, 56).reads_nchw       # channels not a multiple of 16
    assert not plan(16, 15).reads_nchw      # narrower than one block
    assert not plan(16, 56, 1, (0, 0, 0, 0)).reads_nchw  # read in place: no padded copy to fuse into
    assert not plan(16, 56, dtype=np.int16).reads_nchw   # int16 splits into byte planes instead


@pytest.mark.parametrize("shared", [False, True])
def test_model_input_codes_go_straight_into_the_convs_padded_copy(shared):
    # a program taking NCHW int8 codes (the conv benchmark's form) plans no NCHW -> NHWC step before its
    # 3x3 conv: the conv transposes into its padded copy. With a second conv reading the same input
    # through an NHWC copy first, the input has both layouts and each conv must still see the same image.
    from irq.runtime import numba as rn
    from support.both_runtimes import run_both
    from support.bpu_text import ProgramText

    rng = np.random.default_rng(3)
    shape = (2, 32, 9, 20)
    p = ProgramText([("x", shape, "i8")])
    outs = []
    for i, (k, pad) in enumerate([(1, 0), (3, 1)] if shared else [(3, 1)]):
        p.const(f"w{i}", rng.integers(-127, 128, size=(16, 32, k, k)), "i8")
        p.const(f"b{i}", rng.integers(-1000, 1000, size=16), "i32")
        p.op(f"acc{i}", "bpu.conv2d", ["x", f"w{i}", f"b{i}"], ((2, 16, 9, 20), "i32"),
             {"stride": [1, 1], "padding": [pad, pad], "dilation": [1, 1], "groups": 1}, keywords={2: "bias"})
        p.op(f"y{i}", "bpu.requantize", [f"acc{i}"], ((2, 16, 9, 20), "i8"),
             {"multiplier": ("array", rng.integers(2**30, 2**31, size=16)), "shift": ("array", [42] * 16)})
        outs.append(f"y{i}")
    program = p.module(outs)
    x = rng.integers(-128, 128, size=shape).astype(np.int8)
    labels = [s.label for s in rn.compile(program).plan(2).steps]
    assert labels.count("layout->nhwc") == (1 if shared else 0), labels
    if shared:
        from irq.runtime import reference

        want = reference.run(program, x)
        got = rn.compile(program)(x)
        for g, wnt in zip(got, want):
            np.testing.assert_array_equal(g, wnt)
        assert len(np.unique(got[1])) > 20  # unsaturated codes
    else:
        assert len(np.unique(run_both(program, x))) > 20


@given(n=st.integers(1, 2), c=st.sampled_from([8, 16, 24]), hw=st.integers(2, 9), og=st.sampled_from([1, 8, 24, 40]),
       groups=st.sampled_from([1, 2, 3, 4]), k=st.sampled_from([1, 3]), residual=st.booleans(), extreme=st.booleans(),
       dtype=st.sampled_from([np.int8, np.int16]), res16=st.booleans(), merge=st.sampled_from([1, 2, 4]),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_partial_vectors_and_residuals_in_registers_stay_in_their_columns(n, c, hw, og, groups, k, residual,
                                                                          extreme, dtype, res16, merge, seed):
    # columns that are not a multiple of 16 (24 = 16 + 8) store their last vector through a lane mask, and an
    # int8 residual is read in registers through the same mask. Grouped convs write each group's columns with
    # one GEMM call per group, so a lane stored past a group's columns would overwrite the next group's (or,
    # for the last group, the next pixel's first group, already written); the last pixel's would land past
    # the output: bytes after it are checked untouched. An int16 input runs the dual (two byte planes) kernel,
    # with an int8 or an int16 residual in registers too (MobileNetV2's residual projections of an int16
    # depthwise output; an int16 residual's rows are twice as far apart as the int8 codes'). Grouped convs run
    # with `merge` neighbouring groups merged into one on a block-diagonal weight (`conv_routes.group_merge`, drawn
    # here): as given (1), in pairs (4 groups as 2) or all (one dense conv). int16 grouped convs that stay
    # grouped would take the float route, so int16 runs ungrouped then.
    rng = np.random.default_rng(seed)
    merge = merge if groups % merge == 0 else groups
    groups = groups if dtype == np.int8 or merge == groups else 1
    merge = min(merge, groups)
    cin, o = c * groups, og * groups
    def draw(shape, lo=-128, hi=127):
        return rng.choice([lo, hi], size=shape) if extreme else rng.integers(lo, hi + 1, shape)

    info = np.iinfo(dtype)
    x = draw((n, hw, hw, cin), info.min, info.max).astype(dtype)
    wt = draw((o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2**20, 2**20, o)
    pad = ((k - 1) // 2,) * 4
    acc_range = (-2**31, 2**31 - 1) if dtype == np.int8 else (-2**62, 2**62)
    with mock.patch.object(conv, "group_merge", lambda *shape: merge):
        plan = Conv2dPlan(x.shape, np.dtype(dtype), wt, bias, (1, 1), pad, (1, 1), groups, acc_range)
    assert plan.route in ("direct", "im2col") and (plan.acc_lo, plan.acc_hi) == vnni.NO_CHECK
    assert plan.groups == groups // merge
    res_dtype = np.int16 if dtype == np.int16 and res16 else np.int8
    res_size = np.dtype(res_dtype).itemsize if residual else 0
    assert vnni._fused_ok(dtype == np.int16, False, 0, res_size, plan.acc_lo, plan.acc_hi, 1)
    acc = np.concatenate([conv2d_nhwc(x[..., g * c:(g + 1) * c], wt[g * og:(g + 1) * og], (1, 1), pad, (1, 1))
                          for g in range(groups)], axis=-1) + bias
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    res_info = np.iinfo(res_dtype)
    res = draw(acc.shape, res_info.min, res_info.max).astype(res_dtype) if residual else None
    res_mult = rng.integers(0, 2**31, o).astype(np.int64) if residual else None
    p = acc * mult + (res.astype(np.int64) * res_mult if residual else 0)
    top = np.abs(p).reshape(-1, o).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)
    size = int(np.prod(plan.out_shape))
    backing = np.full(size + 64, 99, np.int8)
    out = backing[:size].reshape(plan.out_shape)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127, res, res_mult) == 0
    np.testing.assert_array_equal(out, np.clip((p + (np.int64(1) << (shift - 1))) >> shift, -128, 127))
    assert (backing[size:] == 99).all()


@pytest.mark.parametrize("xv, wv, rv", [(-128, 127, -128), (127, -128, 127), (-128, -128, -128)])
def test_residual_in_registers_at_the_largest_proven_k(xv, wv, rv):
    # the in-register residual at its widest: a 1x1 conv with K = 16,384 (accumulators near 2**28 with every
    # code and weight at an extreme), residual codes at an extreme times the largest multiplier the dialect
    # allows (2**31 - 1; the epilogue multiplies both as signed 32-bit factors), 24 columns (a masked last
    # vector); on odd columns the sum's multiplier is small, so the residual's term is as large as the sum's
    # and both reach the codes; against the int64 oracle with per-column shifts that leave codes unsaturated
    c, o = 16384, 24
    x = np.full((1, 2, 7, c), xv, np.int8)
    wt = np.full((o, c, 1, 1), wv, np.int8)
    bias = np.arange(o, dtype=np.int64) * 1000 - 12000
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (0, 0, 0, 0), (1, 1), 1, (-2**31, 2**31 - 1))
    assert plan.route == "direct" and (plan.acc_lo, plan.acc_hi) == vnni.NO_CHECK
    assert vnni._fused_ok(False, False, 0, 1, plan.acc_lo, plan.acc_hi, 1)
    acc = conv2d_nhwc(x, wt, (1, 1), (0, 0, 0, 0), (1, 1)) + bias
    assert np.abs(acc).max() > 2**27
    mult = np.where(np.arange(o) % 2, 2**10 + np.arange(o), 2**31 - 1).astype(np.int64)
    res = np.full(plan.out_shape, rv, np.int8)
    res_mult = np.full(o, 2**31 - 1, np.int64)
    p = acc * mult + res.astype(np.int64) * res_mult
    top = np.abs(p).reshape(-1, o).max(axis=0)
    shift = np.array([max(int(t).bit_length() - 7, 1) for t in top], np.int64)
    out = np.full(plan.out_shape, 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127, res, res_mult) == 0
    want = np.clip((p + (np.int64(1) << (shift - 1))) >> shift, -128, 127)
    np.testing.assert_array_equal(out, want)
    assert len(np.unique(want)) > 1


@given(n=st.integers(1, 2), h=st.integers(1, 7), w=st.integers(1, 19), o=st.sampled_from([8, 16, 24, 64, 80]),
       bounds=st.sampled_from([(-128, 127), (0, 47), (-5, 100), (-128, -128), (127, 127), (0, 0)]),
       residual=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_in_register_codes_saturate_like_the_int64_clamp(n, h, w, o, bounds, residual, seed):
    # The in-register store saturates each int64 lane to [-128, 127] as it narrows (`vpmovsqb`) and clamps
    # to [lo, hi] in byte lanes. With small shifts most values lie far outside int8 on both sides (up to
    # about 2**20), so a narrowing that wrapped instead of saturating, or a byte clamp that compared
    # unsigned, changes codes; bounds at the int8 extremes, empty-width and asymmetric. A stride-1 3x3 conv
    # with widths 1-19: its 6-pixel blocks straddle image rows and images, its last pixels (fewer than 6)
    # take the tile path, both read through the per-pixel A row addresses; residuals in and out.
    rng = np.random.default_rng(seed)
    c = 16
    x = rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)
    wt = rng.integers(-128, 128, (o, c, 3, 3)).astype(np.int8)
    bias = rng.integers(-2**10, 2**10, o)  # small: each channel's sums take both signs
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (1, 1, 1, 1), (1, 1), 1, (-2**31, 2**31 - 1))
    assert plan.route == "direct" and not plan.row_images
    assert vnni._fused_ok(False, False, 0, 1 if residual else 0, plan.acc_lo, plan.acc_hi, 1)
    acc = conv2d_nhwc(x, wt, (1, 1), (1, 1, 1, 1), (1, 1)) + bias
    mult = rng.integers(2**30, 2**31, o).astype(np.int64)
    res = rng.integers(-128, 128, acc.shape).astype(np.int8) if residual else None
    res_mult = rng.integers(0, 2**31, o).astype(np.int64) if residual else None
    p = acc * mult + (res.astype(np.int64) * res_mult if residual else 0)
    top = np.abs(p).reshape(-1, o).max(axis=0)
    shift = np.maximum(np.array([int(t).bit_length() for t in top]) - 21, 1).astype(np.int64)
    lo, hi = bounds
    out = np.full(plan.out_shape, 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, lo, hi, res, res_mult) == 0
    q = (p + (np.int64(1) << (shift - 1))) >> shift
    np.testing.assert_array_equal(out, np.clip(q, lo, hi))
    if lo < hi and h * w >= 4:
        assert (q > 300).any() and (q < -300).any()  # the saturation was exercised on both sides
