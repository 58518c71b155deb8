"""The numba runtime against the reference runtime (the oracle), bit for bit, op by op and end to end.

Hypothesis draws shapes, strides, padding, dilation, groups, dtypes, rounding modes, clamps and
values including the extremes; programs hold their parameters as `bpu.constant`s, as deployed files do.
Layout changes (NHWC inside), fusion (conv/linear/matmul + requantize) and buffer reuse are all on
the path, so a planning bug shows up as a wrong number here.
"""

import contextlib
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import conv as conv_kernels
from support.bpu_text import ProgramText

from irq import fixedpoint

MODES = ["half_up", "half_even", "half_away", "floor"]
RANGES = {"i8": (-128, 127), "i16": (-32768, 32767)}
EXAMPLES = settings(max_examples=25, deadline=None)


def codes(rng, shape, dtype="i8", extreme=False):
    lo, hi = RANGES[dtype]
    if extreme:
        return rng.choice(np.array([lo, hi]), size=shape).astype(f"int{dtype[1:]}")
    return rng.integers(lo, hi + 1, size=shape).astype(f"int{dtype[1:]}")


def assert_same(prog, *inputs):
    want = reference.run(prog, *inputs)
    got = rn.compile(prog)(*inputs)
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    return got


def requant_attrs(rng, channels, mode, out_dtype, act):
    m = rng.integers(2**30, 2**31, size=channels)
    s = rng.integers(28, 40, size=channels)
    attrs = {"multiplier": ("array", m), "shift": ("array", s), "rounding": mode}
    lo, hi = RANGES[out_dtype]
    if act == "relu":
        attrs["min"] = 0
    elif act == "relu6":
        attrs["min"], attrs["max"] = 0, min(hi, 77)
    return attrs


@st.composite
def conv_programs(draw):
    depthwise = draw(st.booleans())
    if depthwise:
        c = o = groups = draw(st.integers(1, 6))
    else:
        groups = draw(st.integers(1, 2))
        c, o = draw(st.integers(1, 4)) * groups, draw(st.integers(1, 4)) * groups
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    dilation = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    padding = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(h + 2 * padding[0] >= dilation[0] * (k[0] - 1) + 1 and w + 2 * padding[1] >= dilation[1] * (k[1] - 1) + 1)
    return dict(n=n, c=c, o=o, h=h, w=w, k=k, stride=stride, dilation=dilation, padding=padding, groups=groups,
                dtype=draw(st.sampled_from(["i8", "i16"])), mode=draw(st.sampled_from(MODES)),
                out_dtype=draw(st.sampled_from(["i8", "i16"])), act=draw(st.sampled_from([None, "relu", "relu6"])),
                per_tensor=draw(st.booleans()), residual=draw(st.booleans()), raw=draw(st.booleans()),
                extreme=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@contextlib.contextmanager
def conv_row_tiles(tiny: bool):
    """With `tiny`, every conv GEMM runs one output image row per tile (the tiled path, last tile partial)."""
    saved = conv_kernels.TILE_BYTES, conv_kernels.MIN_TILE_PIXELS
    if tiny:
        conv_kernels.TILE_BYTES, conv_kernels.MIN_TILE_PIXELS = 1, 1
    try:
        yield
    finally:
        conv_kernels.TILE_BYTES, conv_kernels.MIN_TILE_PIXELS = saved


@given(conv_programs(), st.booleans())
@EXAMPLES
def test_conv2d_requantize(case, tiny_tiles):
    with conv_row_tiles(tiny_tiles):
        _check_conv2d_requantize(case)


@given(conv_programs(), st.sampled_from([1, 3, 4, 5, 8, 12]), st.integers(1, 70), st.integers(1, 3))
@EXAMPLES
def test_conv2d_direct_vnni_route(case, c, o, s):
    """Single-group convs with an equal stride (the direct route on VNNI: padded copy with C padded to 4,
    taps, strided virtual rows, fused epilogue; more than one 64-column panel and an MR-row tail; the
    im2col route where K is too long for a strided direct conv), int8 and int16, every epilogue."""
    case = dict(case, c=c, o=o, groups=1, stride=[s, s])
    kh, kw = case["k"]
    assume(case["h"] + 2 * case["padding"][0] >= case["dilation"][0] * (kh - 1) + 1)
    assume(case["w"] + 2 * case["padding"][1] >= case["dilation"][1] * (kw - 1) + 1)
    _check_conv2d_requantize(case)


def _check_conv2d_requantize(case):
    rng = np.random.default_rng(case["seed"])
    n, c, o, h, w = case["n"], case["c"], case["o"], case["h"], case["w"]
    kh, kw = case["k"]
    oh = (h + 2 * case["padding"][0] - case["dilation"][0] * (kh - 1) - 1) // case["stride"][0] + 1
    ow = (w + 2 * case["padding"][1] - case["dilation"][1] * (kw - 1) - 1) // case["stride"][1] + 1
    acc_t = "i32" if case["dtype"] == "i8" else "i64"
    p = ProgramText([("x", (n, c, h, w), case["dtype"])] + ([("r", (n, o, oh, ow), "i8")] if case["residual"] else []))
    wt = codes(rng, (o, c // case["groups"], kh, kw), "i8", case["extreme"]).clip(-127, 127)
    p.const("w", wt, "i8")
    p.const("b", rng.integers(-(2**16), 2**16, size=o), "i32")
    p.op("acc", "bpu.conv2d", ["x", "w", "b"], ((n, o, oh, ow), acc_t),
         {"stride": case["stride"], "padding": case["padding"], "dilation": case["dilation"], "groups": case["groups"]},
         keywords={2: "bias"})
    results = ["acc"] if case["raw"] else []
    attrs = requant_attrs(rng, 1 if case["per_tensor"] else o, case["mode"], case["out_dtype"], case["act"])
    operands = ["acc"]
    if case["residual"]:
        attrs["residual_multiplier"] = ("array", rng.integers(0, 2**31, size=len(attrs["multiplier"][1])))
        operands.append("r")
    p.op("y", "bpu.requantize", operands, ((n, o, oh, ow), case["out_dtype"]), attrs,
         keywords={1: "residual"} if case["residual"] else None)
    prog = p.module(results + ["y"])
    inputs = [codes(rng, (n, c, h, w), case["dtype"], case["extreme"])]
    if case["residual"]:
        inputs.append(codes(rng, (n, o, oh, ow), "i8", case["extreme"]))
    assert_same(prog, *inputs)


@given(rows=st.integers(1, 4), k=st.sampled_from([1, 9, 1024, 1500]), nout=st.integers(1, 6),
       dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES), per_tensor=st.booleans(),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_linear_requantize(rows, k, nout, dtype, mode, per_tensor, extreme, seed):
    rng = np.random.default_rng(seed)
    acc_t = "i32" if dtype == "i8" else "i64"
    p = ProgramText([("x", (rows, k), dtype)])
    p.const("w", codes(rng, (nout, k), "i8", extreme).clip(-127, 127), "i8")
    p.const("b", rng.integers(-1000, 1000, size=nout), "i32")
    p.op("acc", "bpu.linear", ["x", "w", "b"], ((rows, nout), acc_t), keywords={2: "bias"})
    attrs = requant_attrs(rng, 1 if per_tensor else nout, mode, "i8", None)
    attrs["shift"] = ("array", [s + 6 for s in attrs["shift"][1]])
    attrs["axis"] = -1
    p.op("y", "bpu.requantize", ["acc"], ((rows, nout), "i8"), attrs)
    assert_same(p.module(["y"]), codes(rng, (rows, k), dtype, extreme))
    # the raw accumulator as an output too (no fusion: two users)
    assert_same(p.module(["acc", "y"]), codes(rng, (rows, k), dtype, extreme))


@given(batch=st.sampled_from([(), (2,), (2, 3)]), m=st.integers(1, 5), k=st.sampled_from([1, 8, 1030]),
       n=st.integers(1, 5), bcast=st.booleans(), extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_matmul_requantize(batch, m, k, n, bcast, extreme, seed):
    rng = np.random.default_rng(seed)
    bshape = (k, n) if bcast else batch + (k, n)
    p = ProgramText([("a", batch + (m, k), "i8"), ("b", bshape, "i8")])
    p.op("acc", "bpu.matmul", ["a", "b"], (batch + (m, n), "i32"))
    attrs = requant_attrs(rng, 1, "half_even", "i8", None)
    attrs["shift"] = ("array", [40])
    p.op("y", "bpu.requantize", ["acc"], (batch + (m, n), "i8"), attrs)
    a, b = codes(rng, batch + (m, k), "i8", extreme), codes(rng, bshape, "i8", extreme)
    assert_same(p.module(["y"]), a, b)
    assert_same(p.module(["acc"]), a, b)


@given(shape=st.sampled_from([(2, 3, 4, 5), (3, 7), (1, 4, 1, 1)]), bcast=st.sampled_from([None, "row", "scalar"]),
       dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES), extreme=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_add_sub_mul_lut_clamp(shape, bcast, dtype, mode, extreme, seed):
    rng = np.random.default_rng(seed)
    bshape = {None: shape, "row": (1,) * (len(shape) - 1) + (shape[-1],), "scalar": (1,)}[bcast]
    p = ProgramText([("a", shape, dtype), ("b", bshape, dtype)])
    ma, mb = (int(v) for v in rng.integers(2**29, 2**31, size=2))
    p.op("s", "bpu.add", ["a", "b"], (shape, dtype), {"lhs_multiplier": ma, "rhs_multiplier": mb, "shift": 31,
                                                      "rounding": mode, "min": -100})
    p.op("d", "bpu.sub", ["a", "b"], (shape, dtype), {"lhs_multiplier": mb, "rhs_multiplier": ma, "shift": 32,
                                                      "rounding": mode})
    p.op("m", "bpu.mul", ["a", "b"], (shape, dtype), {"multiplier": ma, "shift": 40 if dtype == "i8" else 46,
                                                      "rounding": mode, "max": 50})
    size = 256 if dtype == "i8" else 65536
    p.const("t", rng.integers(-128, 128, size=size), "i8")
    p.op("l", "bpu.lut", ["s", "t"], (shape, "i8"))
    p.op("c", "bpu.clamp", ["d"], (shape, dtype), {"min": -3, "max": 90})
    assert_same(p.module(["s", "d", "m", "l", "c"]), codes(rng, shape, dtype, extreme),
                codes(rng, bshape, dtype, extreme))


@given(k=st.integers(1, 3), s=st.integers(1, 3), pad=st.integers(0, 1), ceil=st.booleans(), include=st.booleans(),
       dil=st.integers(1, 2), h=st.integers(3, 8), w=st.integers(3, 8), mode=st.sampled_from(MODES),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_pools_after_a_conv(k, s, pad, ceil, include, dil, h, w, mode, extreme, seed):
    """Pools read the conv's NHWC output; max/avg/global pools, ceil mode and divisor tables."""
    assume(pad <= k // 2)
    rng = np.random.default_rng(seed)

    def osize(n, d=1):
        eff = d * (k - 1) + 1
        num = n + 2 * pad - eff
        out = (-(-num // s) if ceil else num // s) + 1
        if ceil and (out - 1) * s >= n + pad:
            out -= 1
        return out
    oh, ow, mh, mw = osize(h), osize(w), osize(h, dil), osize(w, dil)
    assume(min(oh, ow, mh, mw) >= 1 and n_ok(h, w, k, dil, pad))
    c = 3
    p = ProgramText([("x", (2, c, h, w), "i8")])
    p.const("w", codes(rng, (c, c, 1, 1), "i8").clip(-127, 127), "i8")
    p.op("acc", "bpu.conv2d", ["x", "w"], ((2, c, h, w), "i32"), {"stride": [1, 1], "padding": [0, 0],
                                                                  "dilation": [1, 1], "groups": 1})
    p.op("y", "bpu.requantize", ["acc"], ((2, c, h, w), "i8"), {"multiplier": ("array", [2**30]),
                                                                 "shift": ("array", [36]), "rounding": mode})
    geo = {"kernel_size": [k, k], "stride": [s, s], "padding": [pad, pad], "ceil_mode": ceil}
    p.op("mp", "bpu.max_pool2d", ["y"], ((2, c, mh, mw), "i8"), {**geo, "dilation": [dil, dil]})

    divs = sorted(set(np.unique(_divisors(geo, include, h, w, oh, ow)).tolist()))
    m, sh = fixedpoint.quantize_multiplier([0.9 / d for d in divs])
    p.op("ap", "bpu.avg_pool2d", ["y"], ((2, c, oh, ow), "i8"),
         {**geo, "count_include_pad": include, "divisors": ("array", divs), "multiplier": ("array", m),
          "shift": ("array", sh), "rounding": mode})
    gm, gs = fixedpoint.quantize_multiplier(1.1 / (h * w))
    p.op("g", "bpu.global_avg_pool", ["y"], ((2, c, 1, 1), "i8"),
         {"multiplier": int(gm), "shift": int(gs), "rounding": mode})
    assert_same(p.module(["mp", "ap", "g"]), codes(rng, (2, c, h, w), "i8", extreme))


def n_ok(h, w, k, dil, pad):
    return h + 2 * pad >= dil * (k - 1) + 1 and w + 2 * pad >= dil * (k - 1) + 1


def _divisors(geo, include, h, w, oh, ow):
    """torch.nn.AvgPool2d's divisor at every output position (window clipped to the padded input or the image)."""
    (k, _), (st_, _), (pad, _) = geo["kernel_size"], geo["stride"], geo["padding"]

    def extent(o, size):
        start = np.arange(o) * st_ - pad
        end = np.minimum(start + k, size + pad)
        return (end - start) if include else (np.minimum(end, size) - np.maximum(start, 0))
    return np.outer(extent(oh, h), extent(ow, w))


@given(ih=st.integers(1, 5), iw=st.integers(1, 5), oh=st.integers(1, 9), ow=st.integers(1, 9),
       bilinear=st.booleans(), align=st.booleans(), f=st.integers(1, 10), mode=st.sampled_from(MODES),
       seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_resize(ih, iw, oh, ow, bilinear, align, f, mode, seed):
    rng = np.random.default_rng(seed)
    p = ProgramText([("x", (2, 3, ih, iw), "i8")])
    attrs = {"mode": "bilinear" if bilinear else "nearest"}
    if bilinear:
        attrs.update(align_corners=align, frac_bits=f, multiplier=2**30, shift=30 + 2 * f, rounding=mode)
    p.op("y", "bpu.resize", ["x"], ((2, 3, oh, ow), "i8"), attrs)
    assert_same(p.module(["y"]), codes(rng, (2, 3, ih, iw), "i8", True))


@given(dim=st.integers(-4, 3), after_conv=st.booleans(), mode=st.sampled_from(MODES), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_concat_any_dim_any_layout(dim, after_conv, mode, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = [2, 3, 4, 5], [2, 3, 4, 5]
    shape_b[dim % 4] = 2
    out = list(shape_a)
    out[dim % 4] += 2
    p = ProgramText([("a", tuple(shape_a), "i8"), ("b", tuple(shape_b), "i8")])
    src = "a"
    if after_conv:  # the first input arrives NHWC from a conv
        p.const("w", np.eye(3, dtype=np.int8).reshape(3, 3, 1, 1), "i8")
        p.op("acc", "bpu.conv2d", ["a", "w"], (tuple(shape_a), "i32"), {"stride": [1, 1], "padding": [0, 0],
                                                                        "dilation": [1, 1], "groups": 1})
        p.op("a2", "bpu.requantize", ["acc"], (tuple(shape_a), "i8"), {"multiplier": ("array", [2**30]),
                                                                        "shift": ("array", [30])})
        src = "a2"
    p.op("c", "bpu.concat", [src, "b"], (tuple(out), "i8"),
         {"dim": dim, "multiplier": ("array", [2**30, 1518500250]), "shift": ("array", [30, 31]), "rounding": mode})
    assert_same(p.module(["c"]), codes(rng, tuple(shape_a), "i8", True), codes(rng, tuple(shape_b), "i8", True))


def test_data_movement_and_boundaries():
    rng = np.random.default_rng(0)
    p = ProgramText([("x", (2, 3, 4, 4), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((2, 3, 4, 4), "i8"), {"scale": 0.0125})
    p.const("w", codes(rng, (4, 3, 3, 3)).clip(-127, 127), "i8")
    p.op("acc", "bpu.conv2d", ["q", "w"], ((2, 4, 4, 4), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                  "dilation": [1, 1], "groups": 1})
    p.op("y", "bpu.requantize", ["acc"], ((2, 4, 4, 4), "i8"), {"multiplier": ("array", [2**30] * 4),
                                                                 "shift": ("array", [35, 36, 37, 38])})
    p.op("pm", "bpu.permute", ["y"], ((2, 4, 4, 4), "i8"), {"dims": [0, 2, 3, 1]})
    p.op("sl", "bpu.slice", ["pm"], ((2, 4, 2, 4), "i8"), {"dim": 2, "start": 1, "end": 4, "step": 2})
    p.op("rs", "bpu.reshape", ["sl"], ((2, 32), "i8"))
    p.op("fd", "bpu.dequantize", ["y"], ((2, 4, 4, 4), "f32"), {"scale": ("farray", [0.5, 0.25, 0.125, 0.0625]),
                                                                "axis": 1})
    p.op("acc2", "bpu.conv2d", ["q", "w"], ((2, 4, 4, 4), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                   "dilation": [1, 1], "groups": 1})
    p.op("hp", "bpu.dequantize", ["acc2"], ((2, 4, 4, 4), "f32"), {"scale": ("farray", [1e-3, 2e-3, 3e-3, 4e-3]),
                                                                   "axis": 1})
    x = (rng.standard_normal((2, 3, 4, 4)) * 2).astype(np.float32)
    x[0, 0, 0, :2] = [0.00625, -0.00625]  # exact ties of x / scale: half to even
    assert_same(p.module(["rs", "fd", "hp"]), x)


def test_standalone_requantize_with_two_users_and_residual():
    rng = np.random.default_rng(1)
    p = ProgramText([("x", (1, 4, 5, 5), "i8")])
    p.const("w", codes(rng, (4, 1, 3, 3)).clip(-127, 127), "i8")
    p.op("acc", "bpu.conv2d", ["x", "w"], ((1, 4, 5, 5), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                  "dilation": [1, 1], "groups": 4})
    p.op("y", "bpu.requantize", ["acc"], ((1, 4, 5, 5), "i8"), {"multiplier": ("array", [2**30]),
                                                                 "shift": ("array", [34]), "rounding": "half_even"})
    p.op("z", "bpu.requantize", ["acc", "y"], ((1, 4, 5, 5), "i16"),
         {"multiplier": ("array", [2**30, 2**30 + 5, 2**30 + 7, 2**31 - 1]), "shift": ("array", [33, 33, 34, 35]),
          "residual_multiplier": ("array", [7, 2**20, 2**25, 2**30]), "rounding": "half_away"},
         keywords={1: "residual"})
    assert_same(p.module(["y", "z"]), codes(rng, (1, 4, 5, 5), "i8", True))


@pytest.mark.parametrize("batch", [1, 3])
def test_small_network_end_to_end_and_batches(batch):
    """quantize -> conv+relu -> depthwise+relu6 -> residual requantize -> avg pool -> linear -> dequantize."""
    rng = np.random.default_rng(7)
    p = ProgramText([("x", (1, 3, 8, 8), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((1, 3, 8, 8), "i8"), {"scale": 0.02})
    p.const("w1", codes(rng, (8, 3, 3, 3)).clip(-127, 127), "i8")
    p.const("b1", rng.integers(-500, 500, size=8), "i32")
    p.op("a1", "bpu.conv2d", ["q", "w1", "b1"], ((1, 8, 8, 8), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                         "dilation": [1, 1], "groups": 1},
         keywords={2: "bias"})
    p.op("y1", "bpu.requantize", ["a1"], ((1, 8, 8, 8), "i8"),
         {"multiplier": ("array", rng.integers(2**30, 2**31, size=8)), "shift": ("array", [36] * 8), "min": 0})
    p.const("w2", codes(rng, (8, 1, 3, 3)).clip(-127, 127), "i8")
    p.op("a2", "bpu.conv2d", ["y1", "w2"], ((1, 8, 8, 8), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                   "dilation": [1, 1], "groups": 8})
    p.op("y2", "bpu.requantize", ["a2", "y1"], ((1, 8, 8, 8), "i8"),
         {"multiplier": ("array", [2**30] * 8), "shift": ("array", [34] * 8),
          "residual_multiplier": ("array", [2**29] * 8), "min": 0, "max": 60}, keywords={1: "residual"})
    p.op("ap", "bpu.avg_pool2d", ["y2"], ((1, 8, 4, 4), "i8"),
         {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "ceil_mode": False, "count_include_pad": True,
          "divisors": ("array", [4]), "multiplier": ("array", [2**30]), "shift": ("array", [32])})
    p.op("fl", "bpu.reshape", ["ap"], ((1, 128), "i8"))
    p.const("w3", codes(rng, (10, 128)).clip(-127, 127), "i8")
    p.op("a3", "bpu.linear", ["fl", "w3"], ((1, 10), "i32"))
    p.op("o", "bpu.dequantize", ["a3"], ((1, 10), "f32"), {"scale": 1e-4})
    prog = p.module(["o"])
    x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
    got = rn.compile(prog)(x)
    want = np.concatenate([reference.run(prog, x[i:i + 1])[0] for i in range(batch)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs,convert_kwargs", [
    ({}, {}),
    ({"kernel": 1, "stride": 2}, {"rounding": "half_even"}),
    ({"in_dtype": "i16"}, {"march": "nash"}),
    ({"sqrt": True}, {"float_fallback": True}),  # a sqrt table on bayes since issue 12 (nothing left in float)
])
def test_converted_programs_end_to_end(kwargs, convert_kwargs):
    """Programs lowered by irq.convert (lower-bpu) from frozen graphs: numba equals the reference, batch 1 and 4."""
    from test_convert_artifact import small_net

    import irq
    program = irq.convert(small_net(**kwargs), **{"march": "bayes", **convert_kwargs})
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((4, 3, 8, 8)) * 3).astype(np.float32)
    assert_same(program, x[:1])
    got = rn.compile(program)(x)
    want = np.concatenate([reference.run(program, x[i:i + 1])[0] for i in range(4)])
    np.testing.assert_array_equal(got, want)


def step_labels(prog, *inputs) -> set[str]:
    """Labels of the steps a compiled program ran: "softmax"/"layer_norm" are the numba kernels, not the fallback."""
    _, rows = rn.compile(prog).profile(*inputs)
    return {row[1] for row in rows}


@given(shape=st.sampled_from([(3, 7), (2, 3, 5), (1, 4, 2, 3), (5, 1), (2, 16)]), dim=st.integers(-4, 3),
       in_dtype=st.sampled_from(["i8", "i8", "i16"]), out_dtype=st.sampled_from(["i8", "i16"]),
       table_kind=st.sampled_from(["exp", "random", "sparse"]), extreme=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_softmax(shape, dim, in_dtype, out_dtype, table_kind, extreme, seed):
    """Any axis, i8/i16 codes, real and adversarial exp tables (mostly zeros, exp(0) as small as 1), any scale."""
    assume(-len(shape) <= dim < len(shape))
    rng = np.random.default_rng(seed)
    lo, hi = RANGES[in_dtype]
    span = hi - lo
    if table_kind == "exp":
        table = np.rint(np.exp(np.arange(-span, 1) * rng.uniform(0.01, 0.5)) * 2**15)
    elif table_kind == "random":
        table = rng.integers(0, 2**15 + 1, size=span + 1)
    else:  # mostly zeros; exp(0) stays positive: the verifier refuses a zero there (every row sum includes it)
        table = rng.integers(0, 2**15 + 1, size=span + 1) * (rng.random(span + 1) < 0.3)
        table[-1] = max(int(table[-1]), 1)
    p = ProgramText([("x", shape, in_dtype)])
    p.const("t", table, "i32")
    # den = sum(e) << S stays below 2**60 for rows of <= 16 entries of <= 2**15 when S <= 40
    mult = int(rng.choice([0, 1, 2**30, 2**31 - 1, int(rng.integers(0, 2**31))]))
    p.op("y", "bpu.softmax", ["x", "t"], (shape, out_dtype),
         {"dim": dim, "multiplier": mult, "shift": int(rng.integers(1, 41))})
    prog = p.module(["y"])
    x = codes(rng, shape, in_dtype, extreme)
    assert_same(prog, x)
    assert "softmax" in step_labels(prog, x)


@given(rows=st.sampled_from([(1,), (3,), (2, 5)]), n=st.integers(1, 48), frac_bits=st.integers(1, 15),
       eps=st.sampled_from([0, 1, 5, 2**20]), out_dtype=st.sampled_from(["i8", "i16"]), mode=st.sampled_from(MODES),
       extreme=st.booleans(), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_layer_norm(rows, n, frac_bits, eps, out_dtype, mode, extreme, seed):
    """Statistics, the integer square root, and the requantize of acc = z*gamma + beta up to 2^33 (past int64
    once multiplied by M: the oracle switches to Python integers there, the kernel to a split product)."""
    assume((n * n * 2**14 + eps) * 2 ** (2 * frac_bits) < 2**63)
    rng = np.random.default_rng(seed)
    shape = rows + (n,)
    p = ProgramText([("x", shape, "i8")])
    p.const("g", codes(rng, (n,), "i8", extreme), "i8")
    beta = rng.choice([-(2**31), 2**31 - 1], size=n) if extreme else rng.integers(-(2**20), 2**20, size=n)
    p.const("b", beta, "i32")
    mult = int(rng.choice([0, 2**31 - 1, int(rng.integers(2**30, 2**31))]))
    # a shift matched to the largest |acc| * M keeps outputs inside the storage range (rounding visible)
    bound = max(1, (int(np.abs(beta).max()) + 128 * (math.isqrt(n) + 1) * 2**frac_bits) * max(mult, 1))
    matched = min(62, max(1, bound.bit_length() - (6 if out_dtype == "i8" else 14)))
    shift = int(rng.choice([1, 15, 16, 17, int(rng.integers(1, 63)), matched, matched]))
    p.op("y", "bpu.layer_norm", ["x", "g", "b"], (shape, out_dtype),
         {"frac_bits": frac_bits, "eps": eps, "multiplier": mult, "shift": shift, "rounding": mode})
    prog = p.module(["y"])
    x = codes(rng, shape, "i8", extreme)
    if extreme and rng.random() < 0.5:
        x[..., :] = x[..., :1]  # constant rows: variance 0, the square root of eps alone (or 1)
    assert_same(prog, x)
    assert "layer_norm" in step_labels(prog, x)


@given(a=st.one_of(st.integers(-(2**34), 2**34), st.sampled_from([-(2**34), 2**34, -(2**31), 2**31 - 1, 0, -1])),
       m=st.one_of(st.integers(0, 2**31 - 1), st.sampled_from([0, 1, 2**16, 2**31 - 1])), s=st.integers(1, 62),
       mode=st.sampled_from(MODES))
@settings(max_examples=300, deadline=None)
def test_wide_round_shift_against_python_integers(a, m, s, mode):
    """The split product layer norm uses when acc * M leaves int64, against the oracle's Python-int rounding."""
    from irq.runtime.numba.kernels.normalize import product_round_shift
    from irq.runtime.numba.kernels.requantize import rounding_code
    from irq.runtime.reference.arithmetic import rshift_round

    want = int(rshift_round(np.array([a * m], dtype=object), np.array([s], dtype=object), mode)[0])
    got = int(product_round_shift(np.int64(a), np.int64(m), np.int64(s), rounding_code(mode)))
    if s < 16 and m and abs(a) >= 2**62 // m:  # documented: only the side of saturation is returned
        assert abs(got) >= 2**46 and (got > 0) == (want > 0)
    else:
        assert got == want


@given(t=st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 2**20).map(lambda r: r * r),
                   st.integers(1, 3_037_000_499).map(lambda r: r * r - 1)))
@settings(max_examples=300, deadline=None)
def test_isqrt_against_math_isqrt(t):
    from irq.runtime.numba.kernels.normalize import isqrt

    assert int(isqrt(np.int64(t))) == math.isqrt(t)


@given(groups=st.integers(1, 2), cin_g=st.integers(1, 3), cout_g=st.integers(1, 3), k=st.tuples(st.integers(1, 3),
       st.integers(1, 3)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), pad=st.integers(0, 2),
       dil=st.integers(1, 2), outpad=st.integers(0, 2), hw=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       bias=st.booleans(), then_requantize=st.booleans(), mode=st.sampled_from(MODES), extreme=st.booleans(),
       batch=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
@EXAMPLES
def test_conv_transpose2d(groups, cin_g, cout_g, k, stride, pad, dil, outpad, hw, bias, then_requantize, mode, extreme,
                          batch, seed):
    """Strides, dilation, padding, output_padding (pixels no input reaches: bias alone), groups, bias, both
    as a raw accumulator output and feeding a requantize (the NHWC output converted for its reader)."""
    assume(outpad < max(stride[0], dil) and outpad < max(stride[1], dil))
    (h, w), (kh, kw), (sh, sw) = hw, k, stride
    oh = (h - 1) * sh - 2 * pad + dil * (kh - 1) + outpad + 1
    ow = (w - 1) * sw - 2 * pad + dil * (kw - 1) + outpad + 1
    assume(oh >= 1 and ow >= 1)
    rng = np.random.default_rng(seed)
    cin, cout = groups * cin_g, groups * cout_g
    p = ProgramText([("x", (batch, cin, h, w), "i8")])
    p.const("w", codes(rng, (cin, cout_g, kh, kw), "i8", extreme).clip(-127, 127), "i8")
    operands, kws = ["x", "w"], {}
    if bias:
        b = rng.choice([-(2**20), 2**20], size=cout) if extreme else rng.integers(-5000, 5000, size=cout)
        p.const("b", b, "i32")
        operands.append("b")
        kws = {2: "bias"}
    out_shape = (batch, cout, oh, ow)
    p.op("acc", "bpu.conv_transpose2d", operands, (out_shape, "i32"),
         {"stride": [sh, sw], "padding": [pad, pad], "output_padding": [outpad, outpad], "dilation": [dil, dil],
          "groups": groups}, keywords=kws)
    results = ["acc"]
    if then_requantize:
        p.op("y", "bpu.requantize", ["acc"], (out_shape, "i8"), requant_attrs(rng, cout, mode, "i8", "relu"))
        results = ["y", "acc"]
    prog = p.module(results)
    x = codes(rng, (batch, cin, h, w), "i8", extreme)
    assert_same(prog, x)
    assert "conv_transpose2d" in step_labels(prog, x)


@pytest.mark.parametrize("tiny_tiles", [False, True])
def test_conv2d_long_reduction_in_row_tiles(tiny_tiles):
    """K = 160 * 3 * 3 = 1440 > 1024: two exact float chunks summed as int64, per row tile, grouped and not."""
    rng = np.random.default_rng(5)
    p = ProgramText([("x", (2, 160, 5, 6), "i8")])
    p.const("w", codes(rng, (8, 160, 3, 3), "i8", True).clip(-127, 127), "i8")
    p.const("wg", codes(rng, (6, 80, 3, 3), "i8", True).clip(-127, 127), "i8")
    conv = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1]}
    p.op("a", "bpu.conv2d", ["x", "w"], ((2, 8, 5, 6), "i32"), {**conv, "groups": 1})
    p.op("y", "bpu.requantize", ["a"], ((2, 8, 5, 6), "i8"), requant_attrs(rng, 8, "half_even", "i8", None))
    p.op("g", "bpu.conv2d", ["x", "wg"], ((2, 6, 5, 6), "i32"), {**conv, "groups": 2})
    with conv_row_tiles(tiny_tiles):
        assert_same(p.module(["y", "g"]), codes(rng, (2, 160, 5, 6), "i8", True))



def test_quantize_kernels_agree_on_nan_and_infinities():
    """Both runtimes refuse NaN / inf model inputs, but the quantize kernels themselves must still agree on them
    (a float island's output is quantized mid-program): the reference cast a NaN's rounding to int64 (undefined:
    INT64_MIN, then clipped to the range's minimum) where the numba kernel gives 0; +-inf saturate."""
    from irq.runtime.numba.kernels.requantize import quantize as numba_quantize
    from irq.runtime.reference.ops import quantize as reference_quantize

    p = ProgramText([("x", (1, 6), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((1, 6), "i8"), {"scale": 0.5})
    op = next(o for o in p.module(["q"]).walk() if o.name == "bpu.quantize")
    x = np.array([[np.nan, np.inf, -np.inf, 1.0, -np.nan, 200.0]], dtype=np.float32)
    want = reference_quantize(op, x)
    got = np.zeros(6, dtype=np.int64)
    numba_quantize(x.ravel(), 0.5, -128, 127, got)
    np.testing.assert_array_equal(want.ravel(), got)
    np.testing.assert_array_equal(got, [0, 127, -128, 2, 0, 127])
