"""The AMX route of the int8 GEMM (runtime/numba/kernels/amx.py; IRQ_AMX=1 puts every eligible GEMM on it,
the default only those whose shape pays): bit for bit the
VNNI route's codes and the int64 oracle's, on the shapes where its tiles meet edges (K not a multiple of
64, rows not a multiple of 32, blocks copied at the end of the A buffer, 16/24/64-column panels, a
residual, a stride-1 conv's dropped virtual rows), on two threads, and from Numba's on-disk cache in a
second process (the tile kernels read memory through integer addresses: a scratch buffer allocated
inside the driver gave wrong codes only when the cache was on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from irq.runtime.numba.kernels import amx, vnni
from irq.runtime.numba.kernels.conv import Conv2dPlan
from irq.runtime.numba.kernels.linear import LinearPlan
from support.int_oracle import conv2d_nhwc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def amx_on(monkeypatch):
    monkeypatch.setenv("IRQ_AMX", "1")
    if not amx.available():
        pytest.skip("this CPU or OS offers no AMX-INT8")


def _half_up(acc, mult, shift, res=None, res_mult=None):
    total = acc * mult + (np.int64(1) << (shift - 1))
    if res is not None:
        total = total + res.astype(np.int64) * res_mult
    return np.clip(total >> shift, -128, 127)


def _scales(rng, acc, n):
    mult = rng.integers(2**30, 2**31, n).astype(np.int64)
    top = np.abs(acc * mult).max(axis=tuple(range(acc.ndim - 1)))
    return mult, np.maximum(np.array([int(t).bit_length() for t in top]) - 7, 1).astype(np.int64)


def test_settings(monkeypatch):
    monkeypatch.setenv("IRQ_AMX", "0")
    assert amx.setting() == "off" and not amx.available()
    monkeypatch.setenv("IRQ_AMX", "1")
    assert amx.setting() == "all"
    monkeypatch.setenv("IRQ_NO_VNNI", "1")
    assert not amx.available()
    monkeypatch.delenv("IRQ_NO_VNNI")
    monkeypatch.delenv("IRQ_AMX")
    assert amx.setting() == "auto"


@pytest.mark.parametrize("rows, k, n, taken", [
    (128, 768, 768, True),   # the benchmark's matmul: 1.4-2.4x on tiles
    (32, 768, 768, True),    # one full block of rows
    (31, 768, 768, False),   # under one block of rows
    (128, 60, 16, False),    # K x N = 960 < MIN_KN
    (128, 61, 16, True),     # K is padded to 4-byte groups: 61 counts as 64, K x N = 1024
    (128, 16, 64, True),     # a short K with enough columns
    (64, 12, 256, False),    # (as one tap) 12 of a chunk's 64 bytes
    (64, 16, 256, True),     # 16 bytes: a quarter of the chunk
])
def test_the_default_setting_takes_the_gemms_whose_shape_pays(monkeypatch, rows, k, n, taken):
    monkeypatch.delenv("IRQ_AMX", raising=False)
    if not amx.available():
        pytest.skip("this CPU or OS offers no AMX-INT8")
    rng = np.random.default_rng(rows + k)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    wt = rng.integers(-127, 128, (n, k)).astype(np.int8)
    bias = rng.integers(-2**16, 2**16, n)
    acc = x.astype(np.int64) @ wt.astype(np.int64).T + bias
    mult, shift = _scales(rng, acc, n)
    plan = LinearPlan(rows, np.int8, wt, bias, (-2**31, 2**31 - 1))
    out = np.full((rows, n), 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
    np.testing.assert_array_equal(out, _half_up(acc, mult, shift))
    routes = [route for _, route in plan.gemm._amx_routes.values()]
    assert any(r is not None for r in routes) == taken


@pytest.mark.parametrize("rows, k, n", [(128, 768, 768), (50, 100, 24), (7, 64, 16), (40, 100, 16), (33, 3, 64),
                                        (64, 130, 40), (96, 1152, 128), (1, 64, 64),
                                        # a last panel of 3 vectors: full (240 = 3 * 64 + 48), 8 lanes in its last
                                        (70, 256, 240), (45, 200, 232)])
def test_linear_matches_int64_and_the_vnni_route(amx_on, monkeypatch, rows, k, n):
    rng = np.random.default_rng(rows * 1000 + k + n)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    wt = rng.integers(-128, 128, (n, k)).astype(np.int8)
    bias = rng.integers(-2**20, 2**20, n)
    acc = x.astype(np.int64) @ wt.astype(np.int64).T + bias
    mult, shift = _scales(rng, acc, n)
    outs = []
    for flag in ("1", "0"):
        monkeypatch.setenv("IRQ_AMX", flag)
        plan = LinearPlan(rows, np.int8, wt, bias, (-2**31, 2**31 - 1))
        assert (plan.gemm._w_kn is not None) == (flag == "1")
        out = np.full((rows, n), 99, np.int8)
        assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
        # every shape here runs on the tiles under IRQ_AMX=1 (3-vector last panels included)
        assert any(r is not None for _, r in plan.gemm._amx_routes.values()) == (flag == "1")
        outs.append(out)
    np.testing.assert_array_equal(outs[0], _half_up(acc, mult, shift))
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("shape, o, pad, residual", [((2, 13, 11, 64), 64, 1, False), ((1, 9, 9, 24), 40, 1, True),
                                                     ((3, 7, 7, 16), 16, 0, True), ((1, 56, 56, 64), 64, 1, False)])
def test_stride1_conv_matches_int64(amx_on, shape, o, pad, residual):
    # direct 3x3 convs: virtual rows past each image row's width are computed and dropped, the last blocks
    # read past the padded buffer's end and are copied, channel counts below one 64-byte chunk
    rng = np.random.default_rng(o + shape[1])
    x = rng.integers(-128, 128, shape).astype(np.int8)
    wt = rng.integers(-128, 128, (o, shape[3], 3, 3)).astype(np.int8)
    bias = rng.integers(-2**16, 2**16, o)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (pad,) * 4, (1, 1), 1, (-2**31, 2**31 - 1))
    assert plan.route == "direct" and plan.gemm._w_kn is not None
    acc = conv2d_nhwc(x, wt, (1, 1), (pad,) * 4, (1, 1)) + bias
    mult, shift = _scales(rng, acc, o)
    out = np.full(plan.out_shape, 99, np.int8)
    if residual:
        res = rng.integers(-128, 128, plan.out_shape).astype(np.int8)
        res_mult = rng.integers(2**28, 2**30, o).astype(np.int64)
        assert plan.requantize(x, out, mult, shift, 0, -128, 127, res, res_mult) == 0
        want = _half_up(acc, mult, shift, res, res_mult)
    else:
        assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
        want = _half_up(acc, mult, shift)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("shape, o, k, stride, pad, groups, route", [
    ((2, 15, 15, 3), 32, 3, 2, 1, 1, "direct"),      # the stem: 3 channels padded to 4, output rows as images
    ((1, 14, 14, 64), 32, 3, 2, 1, 1, "direct"),     # 3x3 s2 on 64 channels: output rows as images too
    ((1, 9, 9, 160), 32, 3, 2, 1, 1, "im2col"),      # past DIRECT_STRIDED_MAX_C
    ((1, 23, 23, 3), 24, 7, 2, 3, 1, "direct"),      # a 7x7 s2 stem: 49 taps of 4 bytes
    ((2, 9, 9, 64), 64, 3, 1, 1, 2, "direct"),       # two groups of few channels: one block-diagonal dense conv
    ((1, 5, 5, 256), 64, 3, 1, 1, 2, "im2col"),      # two long-K groups: the second GEMM writes columns 32..63
    ((2, 7, 7, 96), 24, 1, 1, 0, 1, "direct"),       # a 1x1 projection, every row valid
    ((1, 6, 6, 240), 240, 1, 1, 0, 1, "direct"),     # 240 channels: rows 240 bytes apart, a 3-vector last panel
    ((1, 5, 9, 48), 112, 3, 1, 1, 1, "direct"),      # 112 = 64 + 48: a 3x3 conv's 3-vector last panel
])
def test_other_convs_match_int64(amx_on, shape, o, k, stride, pad, groups, route):
    rng = np.random.default_rng(o * k + stride)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    wt = rng.integers(-128, 128, (o, shape[3] // groups, k, k)).astype(np.int8)
    bias = rng.integers(-2**16, 2**16, o)
    plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (stride, stride), (pad,) * 4, (1, 1), groups,
                      (-2**31, 2**31 - 1))
    assert plan.route == route
    og = o // groups
    acc = np.concatenate([conv2d_nhwc(x[..., g * (shape[3] // groups):(g + 1) * (shape[3] // groups)],
                                      wt[g * og:(g + 1) * og], (stride, stride), (pad,) * 4, (1, 1))
                          for g in range(groups)], axis=-1) + bias
    mult, shift = _scales(rng, acc, o)
    out = np.full(plan.out_shape, 99, np.int8)
    assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
    np.testing.assert_array_equal(out, _half_up(acc, mult, shift))
    gemms = [plan.gemm] if route == "direct" else plan.gemms
    assert all(any(route for _, route in g._amx_routes.values()) for g in gemms)  # the tiles were packed: the route ran


@pytest.mark.parametrize("rows, k, n", [
    (200, 768, 768),  # 7 blocks, 12 panels: the parts split the columns
    (200, 256, 200),  # columns again, 4 panels, the last one a single masked vector
    (1000, 256, 64),  # 32 blocks, one panel: the parts split the rows
])
def test_two_threads_equal_one(amx_on, rows, k, n):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    wt = rng.integers(-128, 128, (n, k)).astype(np.int8)
    plan = LinearPlan(rows, np.int8, wt, None, (-2**31, 2**31 - 1))
    acc = x.astype(np.int64) @ wt.astype(np.int64).T
    mult, shift = _scales(rng, acc, n)
    outs = []
    before = numba.get_num_threads()
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            assert amx.gemm_codes.parts_for(rows * k * n) == threads
            out = np.zeros((rows, n), np.int8)
            plan.requantize(x, out, mult, shift, 0, -128, 127)
        finally:
            numba.set_num_threads(before)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], _half_up(acc, mult, shift))
    np.testing.assert_array_equal(outs[1], outs[0])


SECOND_PROCESS = """
import json, sys
import numpy as np
from irq.runtime.numba.kernels import amx
from irq.runtime.numba.kernels.linear import LinearPlan
assert amx.available()
rng = np.random.default_rng(1)
equal = True
for n in (16, 24, 64):
    x = rng.integers(-128, 128, (40, 100)).astype(np.int8)
    wt = rng.integers(-128, 128, (n, 100)).astype(np.int8)
    acc = x.astype(np.int64) @ wt.astype(np.int64).T
    mult, shift = np.full(n, 2**30, np.int64), np.full(n, 40, np.int64)
    for _ in range(20):  # fresh buffers each call: the wrong codes depended on where they lay
        out = np.zeros((40, n), np.int8)
        LinearPlan(40, np.int8, wt, None, (-2**31, 2**31 - 1)).requantize(x.copy(), out, mult, shift, 0, -128, 127)
        equal &= bool((out == np.clip((acc * mult + (1 << 39)) >> 40, -128, 127)).all())
# the kernel called directly with plain arguments, on A buffers of varying allocations: the call pattern in
# which a scratch buffer allocated inside the driver gave stale sums (30 of 200 calls compiling, 200 of 200
# loading from the cache)
w = rng.integers(-128, 128, (100, 16)).astype(np.int8)
x = rng.integers(-128, 128, (40, 100)).astype(np.int8)
packed, offsets, kc = amx.pack_weights(w, 1)
scratch = np.zeros((1, amx.scratch_bytes(1, 100, 0, kc)), np.uint8)
bias = -128 * w.astype(np.int64).sum(axis=0)
want = np.clip((x.astype(np.int64) @ w.astype(np.int64) + 128) >> 8, -128, 127)
for trial in range(200):
    buf = np.empty(4000 + 4096 * (trial % 3), np.uint8)[:4000]
    buf[:] = x.reshape(-1).view(np.uint8)
    out = np.zeros((40, 16), np.int8)
    amx.gemm_codes(1, buf, 100, np.zeros(1, np.int64), kc, packed, offsets, 1, 16, 1, 0, 40, 40, 40, 0, bias,
                   np.ones(16, np.int64), np.full(16, 8, np.int64), np.full(16, 128, np.int64), -128, 127,
                   np.zeros((0, 0), np.int8), np.ones(16, np.int64), 1, 0, out, scratch)
    equal &= bool((out == want).all())
print(json.dumps({"equal": equal, "hits": sum(amx.gemm_codes.fn.stats.cache_hits.values())}))
"""


def test_a_second_process_runs_the_cached_kernels_exactly(amx_on):
    # 40 rows: the second 32-row block is copied (its reads leave the A buffer); K = 100 is two chunks. The
    # suite's own on-disk cache: the first process compiles what this worker has not (cache on: where the
    # stale sums showed), the second loads everything from the disk
    env = dict(os.environ, IRQ_AMX="1")
    results = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, cwd=ROOT,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert results[0]["equal"] and results[1]["equal"]
    assert results[1]["hits"] > 0


def test_pack_weights_layout():
    # each tile is 16 k4-rows x 16 columns x 4 bytes, rows past a tap's channels zero, offsets 128 * colsum
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (2 * 24, 20)).astype(np.int8)  # 2 taps of 24 bytes (k4 = 6)
    packed, offsets, kc = amx.pack_weights(w, 2)
    assert kc == 1
    tiles = packed.reshape(2, 1, 2, 16, 16, 4)  # [tap][chunk][vector][k4][lane][k]
    for t in range(2):
        for col in range(20):
            v, lane = divmod(col, 16)
            got = tiles[t, 0, v, :, lane, :].reshape(-1)
            np.testing.assert_array_equal(got[:24], w[24 * t:24 * (t + 1), col])
            assert not got[24:].any()
    np.testing.assert_array_equal(offsets[:20], 128 * w.astype(np.int64).sum(axis=0))
    assert not offsets[20:].any()
    with pytest.raises(ValueError, match="taps"):
        amx.pack_weights(w[:47], 2)
    assert vnni.padded_k(3) == 4


def test_the_default_setting_leaves_taps_that_fill_little_of_a_chunk_on_vnni(monkeypatch):
    # a direct 3x3 conv on 3 channels has 3 taps (kernel rows) of 12 bytes (3 x C padded to 4): K x N is
    # enough, but each tap would pad its 12 bytes to a 64-byte tile row; a 7x7 one (28 bytes) takes the tiles
    monkeypatch.delenv("IRQ_AMX", raising=False)
    if not amx.available():
        pytest.skip("this CPU or OS offers no AMX-INT8")
    rng = np.random.default_rng(7)
    for k, pad, tiles in ((3, 1, False), (7, 3, True)):
        x = rng.integers(-128, 128, (1, 24, 24, 3)).astype(np.int8)
        wt = rng.integers(-127, 128, (64, 3, k, k)).astype(np.int8)
        bias = rng.integers(-2**16, 2**16, 64)
        plan = Conv2dPlan(x.shape, np.dtype(np.int8), wt, bias, (1, 1), (pad,) * 4, (1, 1), 1, (-2**31, 2**31 - 1))
        assert plan.route == "direct"
        acc = conv2d_nhwc(x, wt, (1, 1), (pad,) * 4, (1, 1)) + bias
        mult, shift = _scales(rng, acc, 64)
        out = np.full(plan.out_shape, 99, np.int8)
        assert plan.requantize(x, out, mult, shift, 0, -128, 127) == 0
        np.testing.assert_array_equal(out, _half_up(acc, mult, shift))
        routes = plan.gemm._amx_routes.values()
        assert routes and any(route is not None for _, route in routes) == tiles
