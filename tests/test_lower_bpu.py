"""lower-bpu on hand-written frozen-level graphs: the reference runtime's output against the float
computation on the dequantized values (torch float64 on the frozen graph's QDQ semantics), within one
output step, and exactly against hand-computed integer paths on small cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from irq.runtime.reference import run
from support.frozen import FrozenBuilder

import irq
from irq import fixedpoint as fp
from irq.transform.pass_base import PassFailure

RNG = np.random.default_rng(7)
CONV_ATTRS = 'stride = [{s}, {s}], padding = [{p}, {p}], dilation = [1, 1], groups = {g} : i64, owner = "{o}"'


def lower(m, **options):
    opts = " ".join(f"{k.replace('_', '-')}={v}" for k, v in options.items())
    irq.PassManager.parse(f"builtin.module(lower-bpu{{{opts}}})" if opts else "builtin.module(lower-bpu)").run(m)
    irq.verify(m)
    assert all(op.dialect_name in ("bpu", "func", "builtin") for op in m.walk()), m
    return m


def qdq(x, s, dtype="i8"):
    return fp.quantize_to_codes(x, s, dtype) * np.float64(s)


def wdq(w, s_w, axis=0):
    shape = [1] * w.ndim
    shape[axis] = -1
    return fp.quantize_weight(w, s_w, axis) * np.asarray(s_w).reshape(shape)


def t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def assert_within_one_step(got: np.ndarray, want_float: np.ndarray, s_out: float, dtype="i8", lo=None, hi=None,
                           exact_fraction: float = 0.9):
    """Codes of the program's output vs round_half_up(float / s_out) (the default rounding): never more than one
    step apart, and mostly equal (they differ where the 31-bit multiplier or a rounded bias tips a near-tie)."""
    qmin, qmax = fp.qrange(dtype)
    # a fused clamp's bounds lie inside the storage range: relu6's top rint(6 / s_out) saturates at qmax
    want = np.clip(np.floor(want_float / s_out + 0.5), qmin if lo is None else max(lo, qmin),
                   qmax if hi is None else min(hi, qmax))
    codes = np.rint(got.astype(np.float64) / s_out)
    diff = np.abs(codes - want)
    assert diff.max() <= 1, f"{int((diff > 1).sum())} codes more than one step off"
    assert (diff == 0).mean() >= exact_fraction, f"only {(diff == 0).mean():.3f} exact"


@pytest.mark.parametrize("act,groups,stride", [(None, 1, 1), ("relu", 1, 2), ("relu6", 4, 1)])
def test_conv2d_per_channel(act, groups, stride):
    b = FrozenBuilder([("x", (2, 4, 9, 9))])
    s_x, s_out = 0.021, 0.043
    w = RNG.standard_normal((8, 4 // groups, 3, 3)) * 0.3
    s_w = np.abs(w).reshape(8, -1).max(axis=1) / 127
    bias = RNG.standard_normal(8) * 0.2
    xd = b.qdq("x", s_x)
    attrs = CONV_ATTRS.format(s=stride, p=1, g=groups, o="conv") + (f', activation = "{act}"' if act else "")
    oh = (9 + 2 - 3) // stride + 1
    y = b.op("hl.conv2d", [xd, b.weight(w, s_w)], (2, 8, oh, oh), {"bias": b.const(bias)}, attrs)
    m = lower(b.module([b.qdq(y, s_out)]))
    x = RNG.standard_normal((2, 4, 9, 9)).astype(np.float32) * 1.5
    (got,) = run(m, x)
    ref = F.conv2d(t(qdq(x, s_x)), t(wdq(w, s_w)), t(bias.astype(np.float32)), stride, 1, 1, groups).numpy()
    lo, hi = (0, 127) if act == "relu" else (0, int(np.rint(6 / s_out))) if act == "relu6" else (None, None)
    assert_within_one_step(got, ref, s_out, lo=lo, hi=hi)


def test_conv2d_fused_residual_is_one_rounding():
    b = FrozenBuilder([("x", (1, 4, 6, 6)), ("r", (1, 6, 6, 6))])
    s_x, s_r, s_out = 0.02, 0.03, 0.05
    w = RNG.standard_normal((6, 4, 3, 3)) * 0.2
    s_w = np.abs(w).reshape(6, -1).max(axis=1) / 127
    xd, rd = b.qdq("x", s_x), b.qdq("r", s_r)
    y = b.op("hl.conv2d", [xd, b.weight(w, s_w)], (1, 6, 6, 6), {"residual": rd},
             CONV_ATTRS.format(s=1, p=1, g=1, o="conv") + ', activation = "relu"')
    m = lower(b.module([b.qdq(y, s_out)]))
    rq = [op for op in m.walk() if op.name == "bpu.requantize"]
    assert len(rq) == 1 and rq[0].residual is not None  # one rounding for conv + residual
    x = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    r = RNG.standard_normal((1, 6, 6, 6)).astype(np.float32)
    (got,) = run(m, x, r)
    ref = F.conv2d(t(qdq(x, s_x)), t(wdq(w, s_w)), None, 1, 1).numpy() + qdq(r, s_r)
    assert_within_one_step(got, np.maximum(ref, 0), s_out, lo=0)


def test_linear_exact_hand_computed_path():
    # s_x * s_w / s_out = 0.5 * 0.25 / 0.125 = 1: M = 2^30, S = 30, so the output code is the accumulator itself
    b = FrozenBuilder([("x", (1, 2))])
    xd = b.qdq("x", 0.5)
    w = b.weight(np.array([[0.5, 0.25], [-0.25, 0.75]]), [0.25, 0.25])
    y = b.op("hl.linear", [xd, w], (1, 2), {"bias": b.const(np.array([0.125, -0.25]))}, 'owner = "fc"')
    m = lower(b.module([b.qdq(y, 0.125)]))
    rq = next(op for op in m.walk() if op.name == "bpu.requantize")
    assert list(rq.multiplier) == [2**30, 2**30] and list(rq.shift) == [30, 30]
    (got,) = run(m, np.array([[1.0, -0.5]], dtype=np.float32))
    # x codes [2, -1]; w codes [[2, 1], [-1, 3]]; bias codes at 0.125: [1, -2]
    # acc = [2*2 - 1*1 + 1, -1*2 - 3*1 - 2] = [4, -7] -> out = [4 * 0.125, -7 * 0.125]
    assert got.tolist() == [[0.5, -0.875]]


def test_linear_int32_high_precision_output():
    b = FrozenBuilder([("x", (3, 16))])
    s_x = 0.03
    w = RNG.standard_normal((5, 16)) * 0.2
    s_w = np.abs(w).max(axis=1) / 127
    bias = RNG.standard_normal(5)
    y = b.op("hl.linear", [b.qdq("x", s_x), b.weight(w, s_w)], (3, 5), {"bias": b.const(bias)}, 'owner = "fc"')
    m = lower(b.module([y]))
    deq = next(op for op in m.walk() if op.name == "bpu.dequantize" and op.operands[0].type.element_type.width == 32)
    assert deq.axis.value == 1 and len(deq.scales()) == 5
    x = RNG.standard_normal((3, 16)).astype(np.float32)
    (got,) = run(m, x)
    ref = qdq(x, s_x) @ wdq(w, s_w).T + bias.astype(np.float32)
    # exact sum of products; only the bias is rounded, to half an accumulator step
    assert np.all(np.abs(got - ref) <= 0.5 * s_x * s_w + 1e-6)


def test_add_sub_mul_cat_and_lut():
    b = FrozenBuilder([("a", (1, 3, 4, 4)), ("c", (1, 3, 4, 4))])
    s_a, s_c, s_out = 0.02, 0.035, 0.04
    ad, cd = b.qdq("a", s_a), b.qdq("c", s_c)
    shape = (1, 3, 4, 4)
    outs = {}
    for name in ("add", "sub", "mul"):
        outs[name] = b.qdq(b.op(f"hl.{name}", [ad, cd], shape, attrs=f'owner = "{name}"'), s_out)
    cat = b.qdq(b.op("hl.cat", [ad, cd], (1, 6, 4, 4), attrs='dim = 1 : i64, owner = "cat"'), s_out)
    sig = b.qdq(b.op("hl.sigmoid", [ad], shape, attrs='owner = "sig"'), 1 / 255)
    m = lower(b.module([outs["add"], outs["sub"], outs["mul"], cat, sig]))
    a = RNG.standard_normal(shape).astype(np.float32) * 1.5
    c = RNG.standard_normal(shape).astype(np.float32) * 1.5
    got = run(m, a, c)
    aq, cq = qdq(a, s_a), qdq(c, s_c)
    for g, ref in zip(got, [aq + cq, aq - cq, aq * cq, np.concatenate([aq, cq], axis=1)]):
        assert_within_one_step(g, ref, s_out)
    # the table is the float function of every code: exact
    np.testing.assert_array_equal(np.rint(got[4] * 255), np.clip(np.rint(255 / (1 + np.exp(-aq))), -128, 127))


def test_pools_resize_and_data_movement():
    b = FrozenBuilder([("x", (1, 2, 8, 8))])
    s_x = 0.05
    xd = b.qdq("x", s_x)
    mp = b.op("torch.max_pool2d", [xd], (1, 2, 4, 4),
              attrs="kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], dilation = [1, 1], ceil_mode = false")
    fl = b.op("torch.flatten", [mp], (1, 32), attrs="start_dim = 1 : i64, end_dim = -1 : i64")
    ap = b.qdq(b.op("hl.avg_pool2d", [xd], (1, 2, 4, 4),
                    attrs="kernel_size = [3, 3], stride = [2, 2], padding = [1, 1], ceil_mode = false, "
                          'count_include_pad = false, owner = "ap"'), 0.03)
    gp = b.qdq(b.op("hl.adaptive_avg_pool2d", [xd], (1, 2, 1, 1), attrs='output_size = [1, 1], owner = "gp"'), 0.02)
    near = b.op("hl.interpolate", [xd], (1, 2, 16, 16), attrs='size = [16, 16], mode = "nearest", owner = "up"')
    bil = b.qdq(b.op("hl.interpolate", [xd], (1, 2, 16, 16),
                     attrs='size = [16, 16], mode = "bilinear", align_corners = false, owner = "up2"'), s_x)
    m = lower(b.module([fl, ap, gp, near, bil]))
    x = RNG.standard_normal((1, 2, 8, 8)).astype(np.float32) * 2
    got = run(m, x)
    xq = t(qdq(x, s_x))
    np.testing.assert_array_equal(got[0], F.max_pool2d(xq, 2).flatten(1).numpy().astype(np.float32))
    assert_within_one_step(got[1], F.avg_pool2d(xq, 3, 2, 1, False, False).numpy(), 0.03)
    assert_within_one_step(got[2], xq.mean(dim=(2, 3), keepdim=True).numpy(), 0.02, exact_fraction=0.5)
    np.testing.assert_array_equal(got[3], F.interpolate(xq, size=(16, 16), mode="nearest").numpy().astype(np.float32))
    assert_within_one_step(got[4], F.interpolate(xq, size=(16, 16), mode="bilinear").numpy(), s_x)


def test_conv_transpose2d_and_matmul():
    b = FrozenBuilder([("x", (1, 4, 5, 5)), ("a", (2, 3, 8)), ("c", (2, 8, 4))])
    w = RNG.standard_normal((4, 3, 3, 3)) * 0.3
    s_w = np.abs(w).transpose(1, 0, 2, 3).reshape(3, -1).max(axis=1) / 127
    y = b.op("hl.conv_transpose2d", [b.qdq("x", 0.02), b.weight(w, s_w, axis=1)], (1, 3, 10, 10),
             attrs='stride = [2, 2], padding = [1, 1], output_padding = [1, 1], groups = 1 : i64, '
                   'dilation = [1, 1], owner = "up"')
    mm = b.op("hl.matmul", [b.qdq("a", 0.03), b.qdq("c", 0.04)], (2, 3, 4), attrs='owner = "mm"')
    m = lower(b.module([b.qdq(y, 0.05), b.qdq(mm, 0.1)]))
    x = RNG.standard_normal((1, 4, 5, 5)).astype(np.float32)
    a, c = RNG.standard_normal((2, 3, 8)).astype(np.float32), RNG.standard_normal((2, 8, 4)).astype(np.float32)
    got = run(m, x, a, c)
    ref = F.conv_transpose2d(t(qdq(x, 0.02)), t(wdq(w, s_w, axis=1)), None, 2, 1, 1).numpy()
    assert_within_one_step(got[0], ref, 0.05)
    assert_within_one_step(got[1], qdq(a, 0.03) @ qdq(c, 0.04), 0.1)


def test_requantize_between_different_scales_and_rounding_option():
    b = FrozenBuilder([("x", (1, 64))])
    xd = b.qdq("x", 0.01)
    y = b.op("torch.reshape", [xd], (8, 8), attrs="shape = [8, 8]")
    m = lower(b.module([b.qdq(y, 0.02)]), rounding="half_even")
    rq = next(op for op in m.walk() if op.name == "bpu.requantize")
    assert rq.rounding.value == "half_even"
    x = (np.arange(64, dtype=np.float32) - 32) * 0.01  # codes -32..31: ties at every odd code
    (got,) = run(m, x.reshape(1, 64))
    want = np.rint(np.arange(-32, 32) / 2) * 0.02  # numpy's rint is half to even
    np.testing.assert_array_equal(got.ravel(), want.astype(np.float32))


def test_unsupported_ops_are_listed_with_locations():
    b = FrozenBuilder([("x", (2, 3, 8))])
    xd = b.qdq("x", 0.1)
    # no integer form (maximum has one since issue 12, ones_like / zeros_like since its selections)
    s = b.op("torch.select", [xd], (2, 8), attrs="dim = 1, index = 2")
    e = b.op("torch.select", [b.qdq(s, 1 / 128)], (2,), attrs="dim = 1, index = 0")
    m = b.module([b.qdq(e, 0.1)])
    with pytest.raises(PassFailure) as info:
        lower(m)
    text = str(info.value)
    assert "2 op(s) cannot be lowered" in text
    assert text.count("'torch.select' cannot be lowered to bpu") == 2
    assert "<string>:" in text  # each with its file:line:col


def test_bn_must_be_folded():
    b = FrozenBuilder([("x", (1, 2, 4, 4))])
    w = b.weight(RNG.standard_normal((2, 2, 1, 1)), [0.01, 0.01])
    g = b.const(np.ones(2))
    y = b.op("hl.conv2d", [b.qdq("x", 0.1), w], (1, 2, 4, 4),
             {"bn_weight": g, "bn_bias": g, "bn_mean": g, "bn_var": g},
             CONV_ATTRS.format(s=1, p=0, g=1, o="c") + ", bn_eps = 1.0e-05 : f64")
    with pytest.raises(PassFailure, match="freeze folds batch norms"):
        lower(b.module([b.qdq(y, 0.1)]))


@pytest.mark.parametrize("in_dtype,s_x", [("i8", 0.08), ("i16", 0.0004)])
def test_softmax_is_an_integer_composition(in_dtype, s_x):
    b = FrozenBuilder([("x", (2, 5, 16))])
    y = b.op("hl.softmax", [b.qdq("x", s_x, in_dtype)], (2, 5, 16), attrs='dim = -1 : i64, owner = "attn"')
    m = lower(b.module([b.qdq(y, 1 / 255)]))
    sm = next(op for op in m.walk() if op.name == "bpu.softmax")
    assert sm.exp_table.type.shape == ((256,) if in_dtype == "i8" else (65536,))
    x = RNG.standard_normal((2, 5, 16)).astype(np.float32) * 4
    (got,) = run(m, x)
    xq = qdq(x, s_x, in_dtype)
    ref = np.exp(xq - xq.max(axis=-1, keepdims=True))
    ref /= ref.sum(axis=-1, keepdims=True)
    # the 2^-15 exp table adds at most a few 1e-5 of error: within one output step, nearly always exact
    assert_within_one_step(got, ref, 1 / 255)


def test_layer_norm_lowers_to_integer_statistics():
    b = FrozenBuilder([("x", (2, 6, 32))])
    gamma, beta = RNG.uniform(0.5, 1.5, 32), RNG.standard_normal(32) * 0.2
    y = b.op("hl.layer_norm", [b.qdq("x", 0.03)], (2, 6, 32),
             {"weight": b.const(gamma), "bias": b.const(beta)},
             'normalized_shape = [32], eps = 1.0e-05 : f64, owner = "ln"')
    m = lower(b.module([b.qdq(y, 0.025)]))
    assert any(op.name == "bpu.layer_norm" for op in m.walk())
    x = RNG.standard_normal((2, 6, 32)).astype(np.float32) * 1.3
    (got,) = run(m, x)
    xq = qdq(x, 0.03)
    mean, var = xq.mean(-1, keepdims=True), xq.var(-1, keepdims=True)
    ref = (xq - mean) / np.sqrt(var + 1e-5) * gamma.astype(np.float32) + beta.astype(np.float32)
    # gamma is stored as 8-bit codes (like every weight): its rounding adds < 0.4% of |gamma z|
    assert_within_one_step(got, ref, 0.025, exact_fraction=0.8)


def test_transformer_block_lowers_without_float_islands():
    """q/k/v projections, scaled scores, softmax, context, residual, layer norm, GELU MLP: all integer."""
    t_, d = 6, 16
    b = FrozenBuilder([("x", (1, t_, d))])
    xd = b.qdq("x", 0.04)

    def lin(src, n_out, owner, s_out):
        w = RNG.standard_normal((n_out, d if owner != "fc2" else 2 * d)) * 0.25
        y = b.op("hl.linear", [src, b.weight(w, np.abs(w).max(axis=1) / 127)], (1, t_, n_out),
                 {"bias": b.const(RNG.standard_normal(n_out) * 0.1)}, f'owner = "{owner}"')
        return b.qdq(y, s_out), w
    q, _ = lin(xd, d, "q", 0.05)
    k, _ = lin(xd, d, "k", 0.05)
    v, _ = lin(xd, d, "v", 0.05)
    kt = b.op("torch.transpose", [k], (1, d, t_), attrs="dim0 = 1 : i64, dim1 = 2 : i64")
    scores = b.qdq(b.op("hl.matmul", [q, kt], (1, t_, t_), attrs='owner = "qk"'), 0.1)
    probs = b.qdq(b.op("hl.softmax", [scores], (1, t_, t_), attrs='dim = -1 : i64, owner = "sm"'), 1 / 127)
    ctx = b.qdq(b.op("hl.matmul", [probs, v], (1, t_, d), attrs='owner = "pv"'), 0.05)
    res = b.qdq(b.op("hl.add", [ctx, xd], (1, t_, d), attrs='owner = "res"'), 0.06)
    ln = b.qdq(b.op("hl.layer_norm", [res], (1, t_, d),
                    {"weight": b.const(np.ones(d)), "bias": b.const(np.zeros(d))},
                    'normalized_shape = [16], eps = 1.0e-05 : f64, owner = "ln"'), 0.03)
    h, _ = lin(ln, 2 * d, "fc1", 0.05)
    g = b.qdq(b.op("hl.gelu", [h], (1, t_, 2 * d), attrs='approximate = "none", owner = "act"'), 0.03)
    out, _ = lin(g, d, "fc2", 0.05)
    m = irq.convert(b.module([out]), march="bayes")
    names = {op.name for op in m.walk()}
    assert {"bpu.softmax", "bpu.layer_norm", "bpu.lut", "bpu.matmul", "bpu.permute"} <= names
    assert not any(op.dialect_name in ("hl", "torch") for op in m.walk())
    (y,) = run(m, RNG.standard_normal((1, t_, d)).astype(np.float32))
    assert y.shape == (1, t_, d) and np.all(np.isfinite(y)) and np.abs(y).max() > 0


@given(k=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2),
       groups=st.sampled_from([1, 2]), cpg=st.integers(1, 3), act=st.sampled_from([None, "relu", "relu6"]),
       seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
@example(k=4, stride=1, pad=1, dil=1, groups=2, cpg=3, act="relu6", seed=2)  # relu6 top above qmax
def test_conv2d_lowering_property(k, stride, pad, dil, groups, cpg, act, seed):
    """Random conv geometries: the program stays within one output step of the float QDQ graph."""
    rng = np.random.default_rng(seed)
    h = 7
    oh = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
    if oh < 1:
        return
    cin, cout = groups * cpg, groups * 2
    w = rng.standard_normal((cout, cpg, k, k)) * 0.3
    s_w = np.maximum(np.abs(w).reshape(cout, -1).max(axis=1), 1e-3) / 127
    bias = rng.standard_normal(cout) * 0.1
    b = FrozenBuilder([("x", (1, cin, h, h))])
    attrs = (f"stride = [{stride}, {stride}], padding = [{pad}, {pad}], dilation = [{dil}, {dil}], "
             f'groups = {groups} : i64, owner = "c"' + (f', activation = "{act}"' if act else ""))
    y = b.op("hl.conv2d", [b.qdq("x", 0.02), b.weight(w, s_w)], (1, cout, oh, oh), {"bias": b.const(bias)}, attrs)
    m = lower(b.module([b.qdq(y, 0.03)]))
    x = rng.standard_normal((1, cin, h, h)).astype(np.float32)
    (got,) = run(m, x)
    ref = F.conv2d(t(qdq(x, 0.02)), t(wdq(w, s_w)), t(bias.astype(np.float32)), stride, pad, dil, groups).numpy()
    lo, hi = (0, 127) if act == "relu" else (0, int(np.rint(6 / 0.03))) if act == "relu6" else (None, None)
    assert_within_one_step(got, ref, 0.03, lo=lo, hi=hi, exact_fraction=0.8)


@given(s_a=st.floats(1e-3, 1.0), s_b=st.floats(1e-3, 1.0), s_out=st.floats(1e-3, 1.0),
       op=st.sampled_from(["add", "sub", "cat"]), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_rescaled_binary_ops_property(s_a, s_b, s_out, op, seed):
    """add/sub/cat with unrelated scales (ratios up to 1000x, one multiplier far below 2^30 with the common
    shift): within one output step of the float QDQ graph."""
    rng = np.random.default_rng(seed)
    shape = (1, 2, 3, 3)
    b = FrozenBuilder([("a", shape), ("c", shape)])
    out_shape = (1, 4, 3, 3) if op == "cat" else shape
    attrs = f'owner = "{op}"' + (", dim = 1 : i64" if op == "cat" else "")
    y = b.op(f"hl.{op}", [b.qdq("a", s_a), b.qdq("c", s_b)], out_shape, attrs=attrs)
    m = lower(b.module([b.qdq(y, s_out)]))
    a = rng.standard_normal(shape).astype(np.float32) * 100 * s_a
    c = rng.standard_normal(shape).astype(np.float32) * 100 * s_b
    (got,) = run(m, a, c)
    aq, cq = qdq(a, s_a), qdq(c, s_b)
    ref = {"add": aq + cq, "sub": aq - cq, "cat": np.concatenate([aq, cq], axis=1)}[op]
    assert_within_one_step(got, ref, s_out, exact_fraction=0.0)
