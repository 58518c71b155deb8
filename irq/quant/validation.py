"""VALIDATION: what the bpu program computes, emulated exactly in torch.

In VALIDATION every quantized value between ops is ``float32(q * s)`` for its integer code q
(FakeQuantize.quantize_exact), and every quantized op recomputes its output from the *codes*
of its inputs with the integer semantics of docs/design.md ("Parameters and per-op integer
semantics"), instead of rounding a float result:

- conv / linear / matmul: the products summed exactly (float64 convolution of integer-valued
  tensors: every partial sum is an integer below 2**53, so it is exact), plus the int32 bias
  code, then ``(acc * M + 2**(S-1)) >> S`` in int64 (half_up), saturation, the fused
  activation's clamp; a fused residual is a second input of the same rounding;
- add / sub / cat / mul / average pooling / mean: the multipliers of design.md, one rounding;
- element-wise non-linear ops: the lookup table of irq.fixedpoint.lookup_table, indexed by code.

Every integer *parameter* (M, S, weight and bias codes, tables, clamp bounds) comes from
irq.fixedpoint, the contract shared with the compiler; the arithmetic is written here, in torch,
independently of the reference and numba runtimes, so that they check each other.

A bilinear resize uses bpu.resize's F-bit weights (`_bilinear`).

softmax, log_softmax and layer_norm follow bpu.softmax / bpu.log_softmax / bpu.layer_norm step by step
(integer exp table and exact division, or an integer log2 of the row sum; exact integer statistics and
square root), with the tables and parameters of irq.fixedpoint.softmax_parameters /
log_softmax_parameters / layer_norm_parameters, the functions lower-bpu calls; lookup tables
evaluate the float64 functions of irq.lut_functions, also lower-bpu's.

A standalone batch norm is a depthwise 1x1 convolution (one +-127 weight code per channel, an int32 bias,
one requantize: `fp.batch_norm_parameters`); PReLU is one rounding with a per-channel multiplier for each
sign of x (`fp.prelu_parameters`); sum is mean's global pool with divisor 1; cumsum is the exact prefix
sums of the codes and one requantize; stack requantizes each input to the output scale, as cat;
group_norm is layer_norm's integer steps per (sample, group) with gamma/beta per channel.

An embedding gathers int8 table codes (the weight quantizer's per-row or per-tensor scales) and
requantizes each row once to the output scale, as bpu.embedding does.

instance_norm is group_norm with one group per channel (or, on running statistics, a batch norm).

Ops without pinned integer semantics (roll, topk, ...) are computed in
float from the dequantized inputs and quantized at their output; `float_in_validation` names
them and irq.freeze's users see them in the model check.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from irq import fixedpoint as fp
from irq import lut_functions
from irq.folding import fold_batch_norm
from irq.quant import validation_select
from irq.quant.fake_quantize import FakeQuantize, FakeQuantState

_INTEGER_KINDS = frozenset({"conv1d", "conv2d", "conv_transpose2d", "linear", "add", "sub", "mul", "mul_scalar",
                            "div_scalar", "cat", "avg_pool2d", "adaptive_avg_pool2d", "mean", "matmul", "bmm",
                            "softmax", "layer_norm", "interpolate", "embedding", "batch_norm", "prelu", "sum",
                            "stack", "group_norm", "instance_norm", "div", "cumsum", "log_softmax",
                            "neg", "abs", "maximum", "minimum", "where", "where_scalar", *lut_functions.KINDS})


def float_in_validation(kind: str) -> bool:
    """Whether VALIDATION computes this op kind in float (no pinned integer semantics)."""
    return kind not in _INTEGER_KINDS


def _validating(fq: FakeQuantize | None) -> bool:
    return fq is not None and fq.state is FakeQuantState.VALIDATION


def _scale(fq: FakeQuantize) -> np.ndarray:
    return fq.scale.detach().double().cpu().numpy()


def _t(a: np.ndarray, like: Tensor) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(like.device)


def _absmax(t: Tensor) -> int:
    """max |t| (0 for an empty tensor), in one pass without a temporary (`abs()` made a copy as large as t)."""
    if not t.numel():
        return 0
    lo, hi = torch.aminmax(t)
    return int(max(-lo, hi))


def requantize(acc: Tensor, m: Tensor, s: Tensor) -> Tensor:
    """``(acc * m + 2**(s-1)) >> s`` in int64 with an arithmetic shift (half_up); m, s broadcast to acc."""
    fp.check_requantize_input(_absmax(acc))
    rnd = torch.bitwise_left_shift(torch.ones_like(s), s - 1)
    q = acc * m
    return q.add_(rnd).bitwise_right_shift_(s)


def _clamp_out(q: Tensor, fq_out: FakeQuantize, activation: str | None = None) -> Tensor:
    """`q` (a fresh result, clamped in place) clipped to the output's codes and a fused activation's range."""
    lo, hi = fq_out.qmin, fq_out.qmax
    if activation is not None:
        a_lo, a_hi = fp.clamp_bounds(activation, float(_scale(fq_out).reshape(-1)[0]), fq_out.storage)
        lo, hi = max(lo, a_lo), min(hi, a_hi)  # clamp_bounds' range lies inside the storage's
    return q.clamp_(lo, hi)


def _channel_view(a: Tensor, out: Tensor, kind: str) -> Tensor:
    """A per-output-channel vector shaped to broadcast over the op's output."""
    if a.dim() == 0:
        return a
    shape = [1] * out.dim()
    shape[-1 if kind == "linear" else 1] = -1
    return a.reshape(shape)


def exact(kind: str, y: Tensor, inputs: list, in_fqs: list, out_fq: FakeQuantize | None, attrs: dict,
          params: dict | None = None, where: str = "") -> Tensor:
    """The op's VALIDATION output (dequantized codes), or `y` (its float result) in other states.

    `where` is the op's `file:line` prefix: an op VALIDATION cannot compute (an int32 high-precision output
    read by a lookup table...) raises a ValueError naming it and the user's line, not a bare message from
    irq.fixedpoint (found by tests/test_chain_fuzz.py)."""
    if not _validating(out_fq):
        return y
    wide = [f.owner for f in in_fqs if f is not None and f.is_marker]
    if wide:  # lower-bpu refuses it too; computing it could build a 2**32-entry table (softmax, a LUT)
        raise ValueError(f"{where + ': ' if where else ''}'{kind}' ({out_fq.owner}) reads the int32 high-precision "
                         f"output of '{wide[0]}': only a model output may be one")
    try:
        return _exact(kind, y, inputs, in_fqs, out_fq, attrs, params)
    except ValueError as e:
        raise ValueError(f"{where + ': ' if where else ''}'{kind}' ({out_fq.owner}): {e}") from e


def _exact(kind: str, y: Tensor, inputs: list, in_fqs: list, out_fq: FakeQuantize, attrs: dict,
           params: dict | None) -> Tensor:
    if kind in ("conv1d", "conv2d", "conv_transpose2d", "linear"):
        return _weighted(kind, inputs[0], in_fqs[0], out_fq, attrs, params or {})
    if kind == "interpolate" and attrs.get("mode") == "bilinear" and in_fqs and in_fqs[0] is not None:
        return _bilinear(inputs[0], in_fqs[0], out_fq, bool(attrs.get("align_corners")), tuple(y.shape[-2:]))
    if kind == "embedding" and params and params.get("weight_quant") is not None:
        return _embedding(inputs[0], out_fq, params)
    if kind == "layer_norm" and in_fqs and in_fqs[0] is not None:
        r = _layer_norm(inputs, in_fqs, out_fq, attrs, params or {})
        return y if r is None else r
    if kind in _WITH_PARAMS and in_fqs and in_fqs[0] is not None:
        return _WITH_PARAMS[kind](inputs[0], in_fqs[0], out_fq, attrs, params or {})
    if kind in validation_select.EXACT:  # the mask operand has no quantizer (irq/quant/validation_select.py)
        r = validation_select.EXACT[kind](inputs, in_fqs, out_fq, attrs)
        return y if r is None else r
    fn = _EXACT.get(kind)
    if fn is None or any(f is None for f in in_fqs):
        return y  # computed in float from the dequantized inputs; out_fq quantizes it
    r = fn(inputs, in_fqs, out_fq, attrs)
    return y if r is None else r


# -- embedding ------------------------------------------------------------------------------------
def _embedding(ids: Tensor, fq_out: FakeQuantize, p: dict) -> Tensor:
    """bpu.embedding: ``sat(rshift_round(table_code[r] * M[r], S[r]))`` with ``M[r] / 2**S[r] ~ s_w[r] / s_out``."""
    fq_w: FakeQuantize = p["weight_quant"]
    weight = p["weight"].detach()
    if fq_w.follows_tensor:
        fq_w.observe(weight)
    rows = weight.shape[0]
    s_w = np.broadcast_to(_scale(fq_w).reshape(-1), (rows,)).astype(np.float64)
    s_out = float(_scale(fq_out))
    codes = _t(fp.quantize_weight(weight.double().cpu().numpy(), s_w, 0), ids).to(torch.int64)
    m, s = fp.quantize_multiplier(s_w / s_out)
    if fq_w.axis is None:  # one scale for the table: one multiplier, as lower-bpu emits
        m, s = m[:1], s[:1]
    r = ids.to(torch.int64)
    if r.numel() and (int(r.min()) < 0 or int(r.max()) >= rows):
        raise IndexError(f"{fq_out.owner}: an index is outside the table's {rows} rows")
    row = r if m.size > 1 else torch.zeros_like(r)
    m_r, s_r = _t(np.asarray(m, np.int64), r)[row][..., None], _t(np.asarray(s, np.int64), r)[row][..., None]
    q = _clamp_out(requantize(codes[r], m_r, s_r), fq_out)
    return fq_out.dequantize(q)


# -- conv / linear -------------------------------------------------------------------------------
def _weighted(kind: str, x: Tensor, fq_in: FakeQuantize | None, fq_out: FakeQuantize, a: dict, p: dict) -> Tensor:
    if fq_in is None:
        raise ValueError(f"{fq_out.owner}: VALIDATION needs a quantized input for {kind}")
    weight, bias = p["weight"], p.get("bias")
    groups = a.get("groups") or 1
    if p.get("bn_mean") is not None:
        def arr(t):
            return None if t is None else t.detach().double().cpu().numpy()
        w_f, b_f = fold_batch_norm(kind, arr(weight), arr(bias), arr(p.get("bn_weight")), arr(p.get("bn_bias")),
                                   arr(p["bn_mean"]), arr(p["bn_var"]), a["bn_eps"], groups)
        weight, bias = _t(w_f, x), _t(b_f, x)
    weight, bias = weight.detach(), None if bias is None else bias.detach()
    fq_w: FakeQuantize | None = p.get("weight_quant")
    if fq_w is None:
        raise ValueError(f"{fq_out.owner}: VALIDATION needs a weight quantizer for {kind}")
    if fq_w.follows_tensor:
        fq_w.observe(weight)
    s_in = float(_scale(fq_in))
    s_w = _scale(fq_w)
    axis = fq_w.axis if fq_w.axis is not None else 0
    # float32 codes when exact (int8/int16): the float route's operand, without an int64 copy
    x_q = fq_in.codes(x, torch.float32 if fq_in.storage in ("i8", "i16") else torch.int64)
    w_q = _t(fp.quantize_weight(weight.double().cpu().numpy(), s_w, axis), x_q)
    acc = exact_accumulate(kind, x_q, w_q, a, groups)
    channels = acc.shape[-1] if kind == "linear" else acc.shape[1]
    s_w_c = np.broadcast_to(s_w, (channels,)).astype(np.float64)
    if bias is not None:
        fp.check_bias_fits(bias.double().cpu().numpy(), s_in, s_w_c)
        b_q = _t(fp.quantize_bias(bias.double().cpu().numpy(), s_in, s_w_c), acc)
        acc.add_(_channel_view(b_q, acc, kind))
    if fq_out.is_marker:  # int32 high-precision output at scale s_in * s_w
        if a.get("activation") or p.get("residual") is not None:
            # lower-bpu refuses the same (passes/_lowering.py finish_accumulator); returning the accumulator
            # here dropped the fused relu / residual: a wrong number without an error (chainfuzz seeds 6542,
            # 7817, 7874)
            raise ValueError("an int32 high-precision output cannot carry a fused residual or activation")
        lo, hi = fp.qrange("i32")
        acc = torch.clamp(acc, lo, hi)
        return (acc.double() * _channel_view(_t(s_in * s_w_c, acc), acc, kind)).float()
    s_out = float(_scale(fq_out))
    residual = p.get("residual")
    if residual is not None:
        fq_res: FakeQuantize | None = p.get("residual_quant")
        if fq_res is None:
            raise ValueError(f"{fq_out.owner}: VALIDATION needs a quantized residual")
        r_q = fq_res.codes(residual)
        reals = np.stack([s_in * s_w_c / s_out, np.full(channels, float(_scale(fq_res)) / s_out)])
        m, s = fp.common_shift_multipliers(reals)
        m_t, s_t = _t(m, acc), _t(s, acc)
        fp.check_requantize_input(_absmax(acc))
        s_v = _channel_view(s_t, acc, kind)
        total = acc.mul_(_channel_view(m_t[0], acc, kind)).add_(r_q.mul_(_channel_view(m_t[1], acc, kind)))
        q = total.add_(torch.bitwise_left_shift(torch.ones_like(s_v), s_v - 1)).bitwise_right_shift_(s_v)
    else:
        m, s = fp.quantize_multiplier(s_in * s_w_c / s_out)
        q = requantize(acc, _channel_view(_t(m, acc), acc, kind), _channel_view(_t(s, acc), acc, kind))
    return fq_out.dequantize(_clamp_out(q, fq_out, a.get("activation")))


#: float32 holds every integer below 2**24 exactly: a sum of integer products whose absolute values add
#: up to less than that is exact in any summation order (the ANCHORS.md measurement: float32 GEMM on
#: int8 operands equals the int64 result while K * 128 * 127 < 2**24).
_F32_EXACT = 2**24


def _apply(kind: str, x: Tensor, w: Tensor, a: dict, groups: int) -> Tensor:
    if kind == "linear":
        return F.linear(x, w)
    if kind == "conv_transpose2d":
        return F.conv_transpose2d(x, w, None, a["stride"], a["padding"], a["output_padding"], groups, a["dilation"])
    conv = F.conv1d if kind == "conv1d" else F.conv2d
    return conv(x, w, None, a["stride"], a["padding"], a["dilation"], groups)


def exact_accumulate(kind: str, x_q: Tensor, w_q: Tensor, a: dict, groups: int) -> Tensor:
    """sum(x_q * w_q) per output, exactly, as int64.

    Fast path: float32 convolution (oneDNN/BLAS) when the bound ``K * max|x| * max|w|`` is below 2**24;
    with one group, larger reductions are split along the input channels into chunks that each meet the
    bound and summed in int64; otherwise float64 (exact below 2**53).
    """
    xmax, wmax = _absmax(x_q), _absmax(w_q)
    cin_axis = 1 if kind != "linear" else -1
    w_in_axis = 0 if kind == "conv_transpose2d" else 1
    # products summed into one output: (inputs per group) * kernel size
    per_channel_k = w_q[0].numel() if kind != "conv_transpose2d" else (w_q.shape[0] // groups) * w_q[0, 0].numel()
    cin = x_q.shape[cin_axis]
    k_per_in = max(1, per_channel_k // max(1, cin // groups))
    unit = max(1, k_per_in * xmax * wmax)
    if per_channel_k * xmax * wmax < _F32_EXACT:
        return _apply(kind, x_q.float(), w_q.float(), a, groups).round_().to(torch.int64)
    step = (_F32_EXACT - 1) // unit
    if groups == 1 and step >= 1:
        acc = None
        for start in range(0, cin, step):
            xs = x_q.narrow(cin_axis, start, min(step, cin - start)).float()
            ws = w_q.narrow(w_in_axis, start, min(step, cin - start)).float()
            part = _apply(kind, xs, ws, a, 1).round_().to(torch.int64)
            acc = part if acc is None else acc.add_(part)
        return acc
    return _apply(kind, x_q.double(), w_q.double(), a, groups).round_().to(torch.int64)


# -- element-wise and data ops -------------------------------------------------------------------------
def _rescale_sum(codes: list[Tensor], m, s, signs: list[int], fq_out: FakeQuantize) -> Tensor:
    """``clamp((sum_i c_i M_i sign_i + 2**(S-1)) >> S)`` dequantized: the sum every rescaled add rounds once."""
    total = None
    for c, mi, sign in zip(codes, m.tolist(), signs):
        fp.check_requantize_input(int(c.abs().max()) if c.numel() else 0)
        term = c * int(mi) * sign
        total = term if total is None else total + term
    s = int(s)
    q = torch.bitwise_right_shift(total + (1 << (s - 1)), s)
    return fq_out.dequantize(_clamp_out(q, fq_out))


def _add_sub(sign: int):
    def fn(inputs: list, fqs: list, fq_out: FakeQuantize, a: dict) -> Tensor:
        alpha = a.get("alpha")
        s_out = float(_scale(fq_out))
        reals = [float(_scale(fqs[0])) / s_out, float(_scale(fqs[1])) * (1 if alpha is None else alpha) / s_out]
        # a huge additive mask (-1e9, finfo.min) saturates: the multipliers lower-bpu gives the bpu program
        m, s = fp.add_multipliers(reals, [-fqs[0].qmin, -fqs[1].qmin], fq_out.qmin, fq_out.qmax)
        return _rescale_sum([fqs[0].codes(inputs[0]), fqs[1].codes(inputs[1])], m, s, [1, sign], fq_out)
    return fn


def _bilinear_taps(out_size: int, in_size: int, frac: int, align_corners: bool):
    """Neighbours (i0, i1) and F-bit weights (l0, l1) per output index, as bpu.resize specifies them
    (dialects/bpu.py): the source position p in F-bit fixed point is floored, never rounded in float."""
    one = 1 << frac
    dst = torch.arange(out_size, dtype=torch.int64)
    if align_corners:
        p = dst * (in_size - 1) * one // (out_size - 1) if out_size > 1 else torch.zeros_like(dst)
    else:
        p = torch.clamp(((2 * dst + 1) * in_size - out_size) * one // (2 * out_size), min=0)
    i0 = p >> frac
    i1 = torch.clamp(i0 + 1, max=in_size - 1)
    l1 = p - (i0 << frac)
    return i0, i1, one - l1, l1


def _bilinear(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize, align_corners: bool, size) -> Tensor:
    """Bilinear resize with bpu.resize's integer semantics: the four codes weighted by F-bit weights,
    summed exactly, one requantize by s_in / (s_out * 2**(2F)). A float interpolation would round the
    weights differently (align_corners=True on 16 -> 32 differed on 2% of a UNet's outputs)."""
    frac = fp.RESIZE_FRAC_BITS
    q = fq_in.codes(x).to(torch.int64)
    h, w = q.shape[-2:]
    y0, y1, ly0, ly1 = (t.to(q.device) for t in _bilinear_taps(size[0], h, frac, align_corners))
    x0, x1, lx0, lx1 = (t.to(q.device) for t in _bilinear_taps(size[1], w, frac, align_corners))
    rows0, rows1 = q[..., y0, :], q[..., y1, :]
    ly0, ly1 = ly0[:, None], ly1[:, None]
    acc = (rows0[..., x0] * ly0 * lx0 + rows0[..., x1] * ly0 * lx1
           + rows1[..., x0] * ly1 * lx0 + rows1[..., x1] * ly1 * lx1)
    m, s = fp.quantize_multiplier(float(_scale(fq_in)) / (float(_scale(fq_out)) * 2.0 ** (2 * frac)))
    out = requantize(acc, torch.tensor(int(m)), torch.tensor(int(s)))
    return fq_out.dequantize(_clamp_out(out, fq_out))


def _requant_one(q_in: Tensor, real: float, fq_out: FakeQuantize, activation: str | None = None) -> Tensor:
    sign = -1 if real < 0 else 1
    m, s = fp.quantize_multiplier(abs(real))
    q = requantize(q_in * sign, torch.tensor(int(m)), torch.tensor(int(s)))
    return fq_out.dequantize(_clamp_out(q, fq_out, activation))


def _mul(inputs, fqs, fq_out, a):
    prod = fqs[0].codes(inputs[0]) * fqs[1].codes(inputs[1])
    return _requant_one(prod, float(_scale(fqs[0])) * float(_scale(fqs[1])) / float(_scale(fq_out)), fq_out)


def _mul_scalar(inputs, fqs, fq_out, a):
    return _requant_one(fqs[0].codes(inputs[0]), float(_scale(fqs[0])) * float(a["other"]) / float(_scale(fq_out)),
                        fq_out)


def _div_scalar(inputs, fqs, fq_out, a):
    if a.get("rounding_mode") is not None:
        c = float(a["other"])
        if c == 0.0:
            return None  # computed in float; lower-bpu refuses a division by the constant 0
        q = fqs[0].codes(inputs[0])
        return _int_div(q, torch.full_like(q, 1 if c > 0 else -1), float(_scale(fqs[0])), abs(c), fq_out,
                        a["rounding_mode"])
    return _requant_one(fqs[0].codes(inputs[0]),
                        float(_scale(fqs[0])) / float(a["other"]) / float(_scale(fq_out)), fq_out)


def _cat(inputs, fqs, fq_out, a):
    s_out = float(_scale(fq_out))
    parts = []
    for x, f in zip(inputs, fqs):
        m, s = fp.quantize_multiplier(float(_scale(f)) / s_out)
        parts.append(_clamp_out(requantize(f.codes(x), torch.tensor(int(m)), torch.tensor(int(s))), fq_out))
    return fq_out.dequantize(torch.cat(parts, a["dim"]))


def _pool_requant(sums: Tensor, counts: Tensor, s_in: float, fq_out: FakeQuantize) -> Tensor:
    """Requantize window sums with the (M, S) of s_in / (s_out * n), one pair per distinct divisor n."""
    s_out = float(_scale(fq_out))
    ns = torch.unique(counts)
    m_t = torch.zeros_like(counts)
    s_t = torch.ones_like(counts)
    for n in ns.tolist():
        m, s = fp.quantize_multiplier(s_in / (s_out * n))
        m_t = torch.where(counts == n, int(m), m_t)
        s_t = torch.where(counts == n, int(s), s_t)
    return fq_out.dequantize(_clamp_out(requantize(sums, m_t, s_t), fq_out))


def _avg_pool(inputs, fqs, fq_out, a):
    x_q = fqs[0].codes(inputs[0]).double()
    k, st, pad, ceil, cip = a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"], a["count_include_pad"]
    sums = torch.round(F.avg_pool2d(x_q, k, st, pad, ceil, cip, 1)).to(torch.int64)
    if a.get("divisor_override"):
        counts = torch.full_like(sums, int(a["divisor_override"]))
    else:
        ones = torch.ones_like(x_q[:1, :1])
        valid = F.avg_pool2d(ones, k, st, pad, ceil, cip, 1)
        mean = F.avg_pool2d(ones, k, st, pad, ceil, cip)
        counts = torch.round(valid / mean).to(torch.int64).expand_as(sums)
    return _pool_requant(sums, counts, float(_scale(fqs[0])), fq_out)


def _adaptive_avg_pool(inputs, fqs, fq_out, a):
    x = inputs[0]
    out = a["output_size"]
    out = [out, out] if isinstance(out, int) else list(out)
    h, w = x.shape[-2:]
    out = [h if o is None else o for o, h in zip(out, (h, w))]
    if h % out[0] or w % out[1]:
        return None
    kh, kw = h // out[0], w // out[1]
    return _avg_pool(inputs, fqs, fq_out, {"kernel_size": [kh, kw], "stride": [kh, kw], "padding": [0, 0],
                                           "ceil_mode": False, "count_include_pad": True, "divisor_override": None})


def _mean(inputs, fqs, fq_out, a):
    x_q = fqs[0].codes(inputs[0])
    dims = a.get("dim")
    dims = list(range(x_q.dim())) if dims is None else dims
    n = int(np.prod([x_q.shape[d] for d in dims]))
    sums = x_q.sum(dim=dims, keepdim=bool(a.get("keepdim")))
    return _pool_requant(sums, torch.full_like(sums, n), float(_scale(fqs[0])), fq_out)


def _matmul(fn):
    def impl(inputs, fqs, fq_out, a):
        acc = torch.round(fn(fqs[0].codes(inputs[0]).double(), fqs[1].codes(inputs[1]).double())).to(torch.int64)
        return _requant_one(acc, float(_scale(fqs[0])) * float(_scale(fqs[1])) / float(_scale(fq_out)), fq_out)
    return impl


def _lut(kind: str):
    def impl(inputs, fqs, fq_out, a):
        f_in = fqs[0]
        table = fp.lookup_table(lut_functions.function(kind, a), float(_scale(f_in)), float(_scale(fq_out)),
                                f_in.storage, fq_out.storage)
        idx = f_in.codes(inputs[0]) - f_in.qmin
        return fq_out.dequantize(_clamp_out(_t(table, idx)[idx], fq_out))
    return impl


def _softmax(inputs, fqs, fq_out, a):
    """bpu.softmax's integer steps (dialects/bpu.py): max-subtract, the shared exp table, an exact row sum,
    ``floor((2 e M + sum 2**S) / (2 sum 2**S))`` per element; the table and (M, S) from irq.fixedpoint."""
    f_in = fqs[0]
    table, m, s = fp.softmax_parameters(float(_scale(f_in)), f_in.storage, float(_scale(fq_out)))
    dim = a["dim"]
    x = f_in.codes(inputs[0])
    d = x - x.amax(dim=dim, keepdim=True)
    e = _t(table, x)[d + (f_in.qmax - f_in.qmin)]
    den = e.sum(dim=dim, keepdim=True) * (1 << s)
    q = torch.div(2 * e * m + den, 2 * den, rounding_mode="floor")
    return fq_out.dequantize(_clamp_out(q, fq_out))


def _log_softmax(inputs, fqs, fq_out, a):
    """bpu.log_softmax's integer steps: max-subtract, the exp table, an exact row sum, its leading bit k and
    rounded B-bit mantissa j, ``L = (k - E) 2**F + log_table[j]``, then ``(d M - L M_log) >> S`` (half up)."""
    f_in = fqs[0]
    exp_table, log_table, m, m_log, s = fp.log_softmax_parameters(float(_scale(f_in)), f_in.storage,
                                                                  float(_scale(fq_out)))
    b, e, f = fp.LOG_SOFTMAX_INDEX_BITS, fp.LOG_SOFTMAX_EXP_BITS, fp.LOG_SOFTMAX_FRAC_BITS
    dim = a["dim"]
    x = f_in.codes(inputs[0])
    d = x - x.amax(dim=dim, keepdim=True)
    total = _t(exp_table, x)[d + (f_in.qmax - f_in.qmin)].sum(dim=dim, keepdim=True)
    k = torch.floor(torch.log2(total.double())).to(torch.int64)  # the float estimate, made exact below
    one = torch.ones_like(k)
    k = torch.where(torch.bitwise_left_shift(one, k) > total, k - 1, k)
    k = torch.where(torch.bitwise_left_shift(one, k + 1) <= total, k + 1, k)
    t = torch.bitwise_right_shift(total, k - b - 1)
    j = torch.bitwise_right_shift(t + 1, 1) - (1 << b)
    log2_sum = (k - e) * (1 << f) + _t(log_table, x)[j]
    q = torch.bitwise_right_shift(d * m - log2_sum * m_log + (1 << (s - 1)), s)
    return fq_out.dequantize(_clamp_out(q, fq_out))


def _isqrt(v: Tensor) -> Tensor:
    """Exact floor(sqrt(v)) of int64 values in [0, 2**63): a float64 estimate corrected by integer tests
    (the estimate is within one of the answer, so two rounds of +-1 settle it)."""
    r = torch.floor(torch.sqrt(v.double())).to(torch.int64)
    for _ in range(2):  # compared by division, so (r + 1)**2 never overflows near 2**63
        r = torch.where((r > 0) & (r > torch.div(v, r.clamp(min=1), rounding_mode="floor")), r - 1, r)
        r = torch.where(r + 1 <= torch.div(v, r + 1, rounding_mode="floor"), r + 1, r)
    return r


def _layer_norm(inputs, fqs, fq_out, a, params):
    """bpu.layer_norm's integer steps over the last dim (dialects/bpu.py): exact S1, S2, ``c = n x - S1``,
    ``v = n S2 - S1^2 + eps``, ``r = max(1, isqrt(v 2**2G))``, ``z = floor((2 c 2**(F+G) + r) / 2r)``, then
    ``(z gamma + beta) * M >> S``; parameters from irq.fixedpoint.layer_norm_parameters."""
    f_in = fqs[0]
    x = f_in.codes(inputs[0])
    n = x.shape[-1]
    if list(a.get("normalized_shape") or [n]) != [n]:
        return None  # not what bpu.layer_norm computes; lower-bpu refuses it too
    weight, bias = params.get("weight"), params.get("bias")
    gamma = np.ones(n) if weight is None else weight.detach().double().cpu().numpy()
    beta = np.zeros(n) if bias is None else bias.detach().double().cpu().numpy()
    frac, g_codes, b_codes, eps, m, s = fp.layer_norm_parameters(gamma, beta, a["eps"], float(_scale(f_in)),
                                                                 float(_scale(fq_out)))
    g = fp.layer_norm_sqrt_frac_bits(n, f_in.storage, eps, frac)
    s1 = x.sum(dim=-1, keepdim=True)
    s2 = (x * x).sum(dim=-1, keepdim=True)
    c = n * x - s1
    v = n * s2 - s1 * s1 + eps
    r = torch.clamp(_isqrt(v * (1 << (2 * g))), min=1)
    z = torch.div(2 * c * (1 << (frac + g)) + r, 2 * r, rounding_mode="floor")
    acc = z * _t(g_codes, x) + _t(b_codes, x)
    q = requantize(acc, torch.tensor(m), torch.tensor(s))
    return fq_out.dequantize(_clamp_out(q, fq_out))


def _channel_param(v: np.ndarray, like: Tensor) -> Tensor:
    """A per-channel int64 vector broadcast along dim 1 of `like` (a length-1 vector broadcasts everywhere)."""
    t = _t(np.asarray(v, np.int64), like)
    return t.reshape([1, -1] + [1] * (like.dim() - 2)) if t.numel() > 1 else t.reshape(())


def _batch_norm(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize, a: dict, p: dict) -> Tensor:
    """bpu.conv2d (groups = C, 1x1, weight codes +-127) + bpu.requantize: ``(x w[c] + b[c]) * M[c] >> S[c]``."""
    def arr(name):
        t = p.get(name)
        return None if t is None else t.detach().double().cpu().numpy()
    w, b, m, s = fp.batch_norm_parameters(arr("weight"), arr("bias"), arr("running_mean"), arr("running_var"),
                                          a["eps"], float(_scale(fq_in)), float(_scale(fq_out)))
    q = fq_in.codes(x)
    acc = q * _channel_param(w, q) + _channel_param(b, q)
    return fq_out.dequantize(_clamp_out(requantize(acc, _channel_param(m, q), _channel_param(s, q)), fq_out))


def _prelu(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize, a: dict, p: dict) -> Tensor:
    """bpu.prelu: ``x * (x >= 0 ? M[c] : Mn[c])`` rounded once by ``2**-S[c]``."""
    m, mn, s = fp.prelu_parameters(p["weight"].detach().double().cpu().numpy(), float(_scale(fq_in)),
                                   float(_scale(fq_out)))
    q = fq_in.codes(x)
    mult = torch.where(q >= 0, _channel_param(m, q), _channel_param(mn, q))
    s_t = _channel_param(s, q)  # |q * mult| < 2**46: the product itself is the exact int64 term
    out = torch.bitwise_right_shift(q * mult + torch.bitwise_left_shift(torch.ones_like(s_t), s_t - 1), s_t)
    return fq_out.dequantize(_clamp_out(out, fq_out))


def _sum(inputs, fqs, fq_out, a):
    x_q = fqs[0].codes(inputs[0])
    dims = a.get("dim")
    dims = list(range(x_q.dim())) if dims is None else ([dims] if isinstance(dims, int) else dims)
    sums = x_q.sum(dim=dims, keepdim=bool(a.get("keepdim")))
    return _pool_requant(sums, torch.ones_like(sums), float(_scale(fqs[0])), fq_out)


def _stack(inputs, fqs, fq_out, a):
    s_out = float(_scale(fq_out))
    parts = []
    for x, f in zip(inputs, fqs):
        m, s = fp.quantize_multiplier(float(_scale(f)) / s_out)
        parts.append(_clamp_out(requantize(f.codes(x), torch.tensor(int(m)), torch.tensor(int(s))), fq_out))
    return fq_out.dequantize(torch.stack(parts, a.get("dim") or 0))


def _group_norm(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize, a: dict, p: dict) -> Tensor:
    """bpu.group_norm: _layer_norm's integer steps over each (sample, group), gamma/beta per channel."""
    q = fq_in.codes(x)
    n_batch, c, groups = q.shape[0], q.shape[1], int(a["num_groups"])
    rows = q.reshape(n_batch, groups, -1)
    n = rows.shape[-1]
    weight, bias = p.get("weight"), p.get("bias")
    gamma = np.ones(c) if weight is None else weight.detach().double().cpu().numpy()
    beta = np.zeros(c) if bias is None else bias.detach().double().cpu().numpy()
    frac, g_codes, b_codes, eps, m, s = fp.layer_norm_parameters(gamma, beta, a["eps"], float(_scale(fq_in)),
                                                                 float(_scale(fq_out)), n=n)
    g = fp.layer_norm_sqrt_frac_bits(n, fq_in.storage, eps, frac)
    s1 = rows.sum(dim=-1, keepdim=True)
    s2 = (rows * rows).sum(dim=-1, keepdim=True)
    r = torch.clamp(_isqrt((n * s2 - s1 * s1 + eps) * (1 << (2 * g))), min=1)
    z = torch.div(2 * (n * rows - s1) * (1 << (frac + g)) + r, 2 * r, rounding_mode="floor").reshape(q.shape)
    acc = z * _channel_param(g_codes, q) + _channel_param(b_codes, q)
    return fq_out.dequantize(_clamp_out(requantize(acc, torch.tensor(m), torch.tensor(s)), fq_out))


def _instance_norm(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize, a: dict, p: dict) -> Tensor:
    """bpu.group_norm with one group per channel (input statistics), or a batch norm on running statistics."""
    if not a.get("use_input_stats", True):
        return _batch_norm(x, fq_in, fq_out, a, p)
    return _group_norm(x, fq_in, fq_out, {**a, "num_groups": x.shape[1]}, p)


#: ops whose parameters (not quantized data) VALIDATION reads: (x, fq_in, fq_out, attrs, params)
_WITH_PARAMS = {"batch_norm": _batch_norm, "prelu": _prelu, "group_norm": _group_norm,
                "instance_norm": _instance_norm}

def _exact_floor_quotient(x: Tensor, y: Tensor, s: int) -> Tensor:
    """floor(x / (y 2**s)) exactly on int64 tensors (|x|, y < 2**46, y > 0), s of either sign: a shift of the
    floor quotient for s >= 0, a long division 16 bits a step for s < 0 (values beyond the quotient clamp
    are only kept beyond it)."""
    if s >= 0:
        return torch.div(x, y, rounding_mode="floor") >> min(s, 62)
    if s >= -16:
        return torch.div(x * (1 << -s), y, rounding_mode="floor")  # |x| < 2**46: one exact division
    k, r = torch.div(x, y, rounding_mode="floor"), torch.remainder(x, y)
    bound = fp.INT_DIV_QUOTIENT_LIMIT + 1
    for done in range(0, -s, 16):
        c = min(16, -s - done)
        r = r * (1 << c)
        k = (k * (1 << c) + torch.div(r, y, rounding_mode="floor")).clamp(-bound, bound)
        r = torch.remainder(r, y)
    return k


def _int_div(x: Tensor, d: Tensor, s_a: float, s_b: float, fq_out: FakeQuantize, mode: str) -> Tensor:
    """bpu.int_div: the exact integer quotient ``k`` of ``a' M / (|b| D 2**S)`` (floor, or trunc toward 0;
    ``M / (D 2**S) == s_a / s_b`` exactly), clamped to +-(2**31 - 1) (b = 0: by a's sign), then
    ``k * M_out >> S_out`` (half up)."""
    m, dv, s, mo, so = fp.int_div_parameters(s_a, s_b, float(_scale(fq_out)))
    x, d = torch.broadcast_tensors(x.to(torch.int64), d.to(torch.int64))
    num = torch.where(d < 0, -x, x) * m
    den = torch.where(d == 0, torch.ones_like(d), d.abs()) * dv
    if mode == "floor":
        k = _exact_floor_quotient(num, den, s)
    else:
        k = torch.sign(num) * _exact_floor_quotient(num.abs(), den, s)
    limit = fp.INT_DIV_QUOTIENT_LIMIT
    k = torch.where(d == 0, torch.sign(x) * limit, k.clamp(-limit, limit))
    return fq_out.dequantize(_clamp_out(requantize(k, torch.tensor(mo), torch.tensor(so)), fq_out))


def _div(inputs, fqs, fq_out, a):
    """bpu.div: ``floor((2 a' M + |b| 2**S) / (2 |b| 2**S))`` with ``a' = a sign(b)``; b = 0 saturates by a's sign.
    With a rounding_mode (floor, trunc): bpu.int_div (`_int_div`)."""
    if len(inputs) != 2:
        return None  # a Python-scalar divisor: not bpu.div; lower-bpu refuses it too
    if a.get("rounding_mode") is not None:
        return _int_div(fqs[0].codes(inputs[0]), fqs[1].codes(inputs[1]), float(_scale(fqs[0])),
                        float(_scale(fqs[1])), fq_out, a["rounding_mode"])
    x, d = fqs[0].codes(inputs[0]), fqs[1].codes(inputs[1])
    x, d = torch.broadcast_tensors(x, d)
    m, s = fp.div_parameters(float(_scale(fqs[0])), float(_scale(fqs[1])), float(_scale(fq_out)),
                             fqs[1].storage)
    num, den = torch.where(d < 0, -x, x), d.abs()
    den_s = torch.where(den == 0, torch.ones_like(den), den) * (1 << s)
    q = torch.div(2 * num * m + den_s, 2 * den_s, rounding_mode="floor")
    q = torch.where(den == 0, torch.where(x > 0, fq_out.qmax, torch.where(x < 0, fq_out.qmin, 0)), q)
    return fq_out.dequantize(_clamp_out(q, fq_out))


def _cumsum(inputs, fqs, fq_out, a):
    """bpu.cumsum + bpu.requantize: exact prefix sums of the codes, one rounding by s_in / s_out."""
    q = fqs[0].codes(inputs[0]).to(torch.int64)
    return _requant_one(torch.cumsum(q, a["dim"]), float(_scale(fqs[0])) / float(_scale(fq_out)), fq_out)


def _neg(inputs, fqs, fq_out, a):
    """neg as lower-bpu emits it (passes/_lower_sign_ops.py): `x * -1`, one rounding of -q s_in / s_out."""
    return _mul_scalar(inputs, fqs, fq_out, {"other": -1.0})


def _abs(inputs, fqs, fq_out, a):
    """abs as lower-bpu emits it: bpu.prelu with slope -1, ``q * (q >= 0 ? M : Mn) >> S`` rounded once."""
    m, mn, s = fp.prelu_parameters(np.array([-1.0]), float(_scale(fqs[0])), float(_scale(fq_out)))
    q = fqs[0].codes(inputs[0]).to(torch.int64)
    mult = torch.where(q >= 0, torch.tensor(int(m[0])), torch.tensor(int(mn[0])))
    return fq_out.dequantize(_clamp_out(requantize(q, mult, torch.tensor(int(s[0]))), fq_out))


def _to_output_codes(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize) -> Tensor:
    """bpu.requantize of x's codes to the output scale: one rounding by s_in / s_out, saturated."""
    m, s = fp.quantize_multiplier(float(_scale(fq_in)) / float(_scale(fq_out)))
    return _clamp_out(requantize(fq_in.codes(x), torch.tensor(int(m)), torch.tensor(int(s))), fq_out)


def _select(pick):
    """maximum / minimum as lower-bpu emits them (passes/_lower_select.py: a bpu.compare and a bpu.select): both
    operands requantized to the output scale, then the larger / smaller code (exact)."""
    def impl(inputs, fqs, fq_out, a):
        qa, qb = (_to_output_codes(x, f, fq_out) for x, f in zip(inputs, fqs))
        return fq_out.dequantize(pick(qa, qb))
    return impl


_EXACT = {
    "neg": _neg, "abs": _abs, "maximum": _select(torch.maximum), "minimum": _select(torch.minimum),
    "sum": _sum, "cumsum": _cumsum, "stack": _stack, "div": _div,
    "add": _add_sub(1), "sub": _add_sub(-1), "mul": _mul, "mul_scalar": _mul_scalar, "div_scalar": _div_scalar,
    "cat": _cat, "avg_pool2d": _avg_pool, "adaptive_avg_pool2d": _adaptive_avg_pool, "mean": _mean,
    "matmul": _matmul(torch.matmul), "bmm": _matmul(torch.bmm),
    "softmax": _softmax, "log_softmax": _log_softmax,
    **{k: _lut(k) for k in lut_functions.KINDS},
}
