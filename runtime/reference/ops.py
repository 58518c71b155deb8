"""One small numpy function per bpu op: the reference semantics, written to be read.

Each function takes the op (for its attributes) and its operand arrays, and returns the result as an
int64 (or float32) array; the interpreter checks and casts it to the result's storage dtype. Formulas
are those of the bpu dialect's docstring (`irq.dialects.bpu`); indexing follows torch.nn's Conv2d,
ConvTranspose2d, MaxPool2d and AvgPool2d documentation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from irq.runtime.reference.arithmetic import per_channel, round_from_floor, saturate, scaled_sum, storage_range

OpImpl = Callable[..., np.ndarray]
IMPLS: dict[str, OpImpl] = {}


def impl(name: str) -> Callable[[OpImpl], OpImpl]:
    def register(fn: OpImpl) -> OpImpl:
        IMPLS[name] = fn
        return fn
    return register


# -- attribute helpers --------------------------------------------------------------------------------
def attr(op, name: str, default=None):
    a = op.get_attr(name)
    if a is None:
        d = op.definition.attributes.get(name)
        a = d.default if d is not None else None
    if a is None:
        return default
    v = a.to_python() if hasattr(a, "to_python") else a
    return v


def pair(op, name: str, default: int) -> tuple[int, int]:
    v = attr(op, name, [default])
    v = [v] if isinstance(v, int) else list(v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def result_bits(op) -> int:
    return op.results[0].type.element_type.width


def result_shape(op) -> tuple[int, ...]:
    return tuple(op.results[0].type.shape)


def clamp_of(op) -> tuple[int | None, int | None]:
    return attr(op, "min"), attr(op, "max")


# -- boundaries ------------------------------------------------------------------------------------------
@impl("bpu.constant")
def constant(op) -> np.ndarray:
    return np.asarray(op.value.to_numpy()).astype(np.int64)


@impl("bpu.quantize")
def quantize(op, x: np.ndarray) -> np.ndarray:
    q = np.rint(x.astype(np.float32).astype(np.float64) / np.float64(attr(op, "scale")))
    lo, hi = storage_range(result_bits(op))
    # NaN has no code: 0, as the numba kernel gives (casting it to int64 is undefined: INT64_MIN here)
    return np.clip(np.where(np.isnan(q), 0.0, q), lo, hi).astype(np.int64)


@impl("bpu.dequantize")
def dequantize(op, q: np.ndarray) -> np.ndarray:
    scale = attr(op, "scale")
    s = np.asarray(scale if isinstance(scale, list) else [scale], dtype=np.float64)
    if s.size > 1:
        s = s.reshape([-1 if i == attr(op, "axis") % q.ndim else 1 for i in range(q.ndim)])
    else:
        s = s.reshape(())
    return (q.astype(np.float64) * s).astype(np.float32)


# -- accumulating ops ------------------------------------------------------------------------------------
def _grouped_patches_product(patch: np.ndarray, w: np.ndarray, groups: int) -> np.ndarray:
    """sum over input channels of patch[n, c, y, x] * w[k, c] within each group -> [N, K, Y, X]."""
    n, cin, oh, ow = patch.shape
    k = w.shape[0]
    p = patch.reshape(n, groups, cin // groups, oh, ow)
    wg = w.reshape(groups, k // groups, cin // groups)
    return np.einsum("ngcyx,gkc->ngkyx", p, wg).reshape(n, k, oh, ow)


@impl("bpu.conv2d")
def conv2d(op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, dtype=np.int64,
           padding: tuple[int, int] | None = None) -> np.ndarray:
    """acc[n, k, y, x] = b[k] + sum_{c, i, j} x_pad[n, g(k) c, y*sh + i*dh, x*sw + j*dw] * w[k, c, i, j].

    `dtype` is int64 for bpu.conv2d; float islands reuse the same indexing in float64, with `padding`
    overriding the op's (they pad a "same" convolution themselves, asymmetrically as torch does)."""
    sh, sw = pair(op, "stride", 1)
    ph, pw = pair(op, "padding", 0) if padding is None else padding
    dh, dw = pair(op, "dilation", 1)
    groups = attr(op, "groups", 1)
    n, _, oh, ow = result_shape(op)
    x = np.pad(x.astype(dtype), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = w.astype(dtype)
    acc = np.zeros((n, w.shape[0], oh, ow), dtype=dtype)
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            patch = x[:, :, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw]
            acc += _grouped_patches_product(patch, w[:, :, i, j], groups)
    if b is not None:
        acc += b.astype(dtype).reshape(1, -1, 1, 1)
    return acc


@impl("bpu.conv_transpose2d")
def conv_transpose2d(op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Each input pixel scatters x * w into out[y*sh + i*dh - ph, x*sw + j*dw - pw] (torch's ConvTranspose2d)."""
    sh, sw = pair(op, "stride", 1)
    ph, pw = pair(op, "padding", 0)
    dh, dw = pair(op, "dilation", 1)
    groups = attr(op, "groups", 1)
    n, cout, oh, ow = result_shape(op)
    _, _, h, wd = x.shape
    cin, cout_g, kh, kw = w.shape
    x = x.astype(np.int64)
    # w [Cin, Cout/g, KH, KW] -> per tap [Cout, Cin/g] so the grouped product is the same as conv2d's
    w = w.astype(np.int64).reshape(groups, cin // groups, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)
    w = w.reshape(cout, cin // groups, kh, kw)
    full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)
    full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)
    full = np.zeros((n, cout, full_h, full_w), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            contrib = _grouped_patches_product(x, w[:, :, i, j], groups)
            full[:, :, i * dh: i * dh + (h - 1) * sh + 1: sh, j * dw: j * dw + (wd - 1) * sw + 1: sw] += contrib
    acc = full[:, :, ph: ph + oh, pw: pw + ow].copy()
    if b is not None:
        acc += b.astype(np.int64).reshape(1, -1, 1, 1)
    return acc


@impl("bpu.linear")
def linear(op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    acc = np.matmul(x.astype(np.int64), w.astype(np.int64).T)
    if b is not None:
        acc = acc + b.astype(np.int64)
    return acc


@impl("bpu.matmul")
def matmul(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


# -- requantizing ops --------------------------------------------------------------------------------------
@impl("bpu.requantize")
def requantize(op, acc: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
    rank = acc.ndim
    axis = attr(op, "axis", 1) % max(rank, 1)
    m = per_channel(attr(op, "multiplier"), rank, axis)
    s = per_channel(attr(op, "shift"), rank, axis)
    terms = [(acc, m)]
    if residual is not None:
        terms.append((residual, per_channel(attr(op, "residual_multiplier"), rank, axis)))
    v = scaled_sum(terms, s, attr(op, "rounding"))
    return saturate(v, result_bits(op), *clamp_of(op))


def _add_sub(op, a: np.ndarray, b: np.ndarray, sign: int) -> np.ndarray:
    ma, mb = attr(op, "lhs_multiplier"), attr(op, "rhs_multiplier")
    a, b = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    v = scaled_sum([(a, np.int64(ma)), (b, np.int64(sign * mb))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(v, result_bits(op), *clamp_of(op))


@impl("bpu.add")
def add(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _add_sub(op, a, b, 1)


@impl("bpu.sub")
def sub(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _add_sub(op, a, b, -1)


@impl("bpu.mul")
def mul(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    prod = a.astype(np.int64) * b.astype(np.int64)
    v = scaled_sum([(prod, np.int64(attr(op, "multiplier")))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(v, result_bits(op), *clamp_of(op))


@impl("bpu.concat")
def concat(op, *xs: np.ndarray) -> np.ndarray:
    bits, rounding = result_bits(op), attr(op, "rounding")
    parts = [saturate(scaled_sum([(x.astype(np.int64), np.int64(m))], np.int64(s), rounding), bits)
             for x, m, s in zip(xs, attr(op, "multiplier"), attr(op, "shift"))]
    return np.concatenate(parts, axis=attr(op, "dim"))


@impl("bpu.lut")
def lut(op, x: np.ndarray, table: np.ndarray) -> np.ndarray:
    qmin = storage_range(op.operands[0].type.element_type.width)[0]
    return table.astype(np.int64)[x.astype(np.int64) - qmin]


@impl("bpu.clamp")
def clamp(op, x: np.ndarray) -> np.ndarray:
    return saturate(x.astype(np.int64), result_bits(op), *clamp_of(op))


# -- pools and resize ------------------------------------------------------------------------------------------
def pool_stride(op, kh: int, kw: int) -> tuple[int, int]:
    """A pool's stride; an empty list means the kernel size (torch's stride=None)."""
    return pair(op, "stride", 1) if attr(op, "stride") else (kh, kw)


def _windows(op, x: np.ndarray, fill: int, dilation: tuple[int, int] = (1, 1)):
    """Yield, for every kernel tap (i, j), the [N, C, OH, OW] input values it sees (padding = `fill`)."""
    kh, kw = pair(op, "kernel_size", 1)
    sh, sw = pool_stride(op, kh, kw)
    ph, pw = pair(op, "padding", 0)
    dh, dw = dilation
    _, _, oh, ow = result_shape(op)
    h, w = x.shape[2:]
    # ceil_mode windows may run past the padded input: extend the padding on the bottom/right
    need_h = (oh - 1) * sh + dh * (kh - 1) + 1
    need_w = (ow - 1) * sw + dw * (kw - 1) + 1
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, max(ph, need_h - h - ph)), (pw, max(pw, need_w - w - pw))),
                constant_values=fill)
    for i in range(kh):
        for j in range(kw):
            yield xp[:, :, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw]


@impl("bpu.max_pool2d")
def max_pool2d(op, x: np.ndarray) -> np.ndarray:
    fill = -(2**62)  # below every code: padding never wins
    out = None
    for tap in _windows(op, x, fill, pair(op, "dilation", 1)):
        out = tap if out is None else np.maximum(out, tap)
    return out


def avg_pool_divisors(op, h: int, w: int) -> np.ndarray:
    """torch.nn.AvgPool2d's divisor at every output position, [OH, OW]."""
    override = attr(op, "divisor_override")
    kh, kw = pair(op, "kernel_size", 1)
    sh, sw = pool_stride(op, kh, kw)
    ph, pw = pair(op, "padding", 0)
    _, _, oh, ow = result_shape(op)
    if override:
        return np.full((oh, ow), override, dtype=np.int64)

    def extent(o: int, s: int, p: int, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        padded = end - start
        clipped = np.minimum(end, size) - np.maximum(start, 0)
        return padded, clipped

    ph_len, ch_len = extent(oh, sh, ph, kh, h)
    pw_len, cw_len = extent(ow, sw, pw, kw, w)
    if attr(op, "count_include_pad", True):
        return np.outer(ph_len, pw_len)
    return np.outer(ch_len, cw_len)


@impl("bpu.avg_pool2d")
def avg_pool2d(op, x: np.ndarray) -> np.ndarray:
    total = sum(_windows(op, x, 0))
    div = avg_pool_divisors(op, x.shape[2], x.shape[3])
    table = list(attr(op, "divisors"))
    missing = sorted(set(np.unique(div).tolist()) - set(table))
    if missing:
        raise ValueError(f"divisor(s) {missing} occur but have no multiplier in divisors = {table}")
    index = np.searchsorted(np.array(sorted(table)), div)
    order = np.argsort(table)
    m = np.asarray(attr(op, "multiplier"), dtype=np.int64)[order][index]
    s = np.asarray(attr(op, "shift"), dtype=np.int64)[order][index]
    v = scaled_sum([(total, m)], s, attr(op, "rounding"))
    return saturate(v, result_bits(op))


@impl("bpu.global_avg_pool")
def global_avg_pool(op, x: np.ndarray) -> np.ndarray:
    total = x.astype(np.int64).sum(axis=(2, 3), keepdims=True)
    v = scaled_sum([(total, np.int64(attr(op, "multiplier")))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(v, result_bits(op))


def nearest_index(out_size: int, in_size: int) -> np.ndarray:
    return np.minimum(np.arange(out_size) * in_size // out_size, in_size - 1)


def bilinear_taps(out_size: int, in_size: int, frac_bits: int, align_corners: bool):
    """(i0, i1, l0, l1) per output index: neighbours and their F-bit weights (l0 + l1 = 2**F)."""
    one = 1 << frac_bits
    dst = np.arange(out_size, dtype=np.int64)
    if align_corners:
        p = dst * (in_size - 1) * one // (out_size - 1) if out_size > 1 else np.zeros_like(dst)
    else:
        p = np.maximum(0, ((2 * dst + 1) * in_size - out_size) * one // (2 * out_size))
    i0 = p >> frac_bits
    i1 = np.minimum(i0 + 1, in_size - 1)
    l1 = p - (i0 << frac_bits)
    return i0, i1, one - l1, l1


@impl("bpu.resize")
def resize(op, x: np.ndarray) -> np.ndarray:
    _, _, oh, ow = result_shape(op)
    h, w = x.shape[2:]
    x = x.astype(np.int64)
    if attr(op, "mode") == "nearest":
        return x[:, :, nearest_index(oh, h)][:, :, :, nearest_index(ow, w)]
    f, corners = attr(op, "frac_bits"), attr(op, "align_corners", False)
    y0, y1, ly0, ly1 = bilinear_taps(oh, h, f, corners)
    x0, x1, lx0, lx1 = bilinear_taps(ow, w, f, corners)
    rows0, rows1 = x[:, :, y0], x[:, :, y1]
    acc = (rows0[..., x0] * ly0[:, None] * lx0 + rows0[..., x1] * ly0[:, None] * lx1
           + rows1[..., x0] * ly1[:, None] * lx0 + rows1[..., x1] * ly1[:, None] * lx1)
    v = scaled_sum([(acc, np.int64(attr(op, "multiplier")))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(v, result_bits(op))


@impl("bpu.softmax")
def softmax(op, x: np.ndarray, exp_table: np.ndarray) -> np.ndarray:
    """e = table[x - max + span]; out = round_half_up(e * M / (sum(e) * 2**S)) by exact integer division."""
    bits = op.operands[0].type.element_type.width
    lo, hi = storage_range(bits)
    dim = attr(op, "dim")
    x = x.astype(np.int64)
    d = x - x.max(axis=dim, keepdims=True)
    e = exp_table.astype(np.int64)[d + (hi - lo)]
    den = e.sum(axis=dim, keepdims=True) << np.int64(attr(op, "shift"))
    num = e * np.int64(attr(op, "multiplier"))
    out = (2 * num + den) // (2 * den)
    return saturate(out, result_bits(op))


@impl("bpu.log_softmax")
def log_softmax(op, x: np.ndarray, exp_table: np.ndarray, log_table: np.ndarray) -> np.ndarray:
    """d = x - max; L = (k - E) 2**F + log_table[j] ~ log2(sum(e) / 2**E) 2**F from the sum's leading bit k and its
    mantissa rounded to B bits; out = rshift_round(d M - L M_log, S)."""
    lo, hi = storage_range(op.operands[0].type.element_type.width)
    dim = attr(op, "dim")
    e_bits, f = attr(op, "exp_bits"), attr(op, "log_frac_bits")
    b = (log_table.size - 1).bit_length() - 1
    x = x.astype(np.int64)
    d = x - x.max(axis=dim, keepdims=True)
    total = exp_table.astype(np.int64)[d + (hi - lo)].sum(axis=dim, keepdims=True)
    k = np.vectorize(lambda v: int(v).bit_length() - 1, otypes=[np.int64])(total)
    t = total >> (k - b - 1)
    j = ((t + 1) >> 1) - (1 << b)
    log2_sum = ((k - e_bits) << f) + log_table.astype(np.int64)[j]
    terms = [(d, np.int64(attr(op, "multiplier"))),
             (np.broadcast_to(log2_sum, d.shape), np.int64(-attr(op, "log_multiplier")))]
    return saturate(scaled_sum(terms, np.int64(attr(op, "shift")), attr(op, "rounding")), result_bits(op))


@impl("bpu.layer_norm")
def layer_norm(op, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Exact integer statistics over the last dim, an exact integer square root, then one requantize."""
    f = attr(op, "frac_bits")
    g = attr(op, "sqrt_frac_bits", f)
    x = x.astype(np.int64)
    n = x.shape[-1]
    s1 = x.sum(axis=-1, keepdims=True)
    s2 = (x * x).sum(axis=-1, keepdims=True)
    c = n * x - s1
    v = n * s2 - s1 * s1 + attr(op, "eps")
    isqrt = np.vectorize(lambda t: max(1, math.isqrt(int(t) << (2 * g))), otypes=[np.int64])
    r = isqrt(v)
    z = (2 * (c << (f + g)) + r) // (2 * r)
    acc = z * gamma.astype(np.int64) + beta.astype(np.int64)
    out = scaled_sum([(acc, np.int64(attr(op, "multiplier")))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(out, result_bits(op))


@impl("bpu.cumsum")
def cumsum(op, x: np.ndarray) -> np.ndarray:
    """Exact prefix sums along `dim` (int64; the interpreter checks they fit the accumulator type)."""
    return np.cumsum(x.astype(np.int64), axis=attr(op, "dim"))


@impl("bpu.embedding")
def embedding(op, ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    rows = table.shape[0]
    r = ids.astype(np.int64)
    if r.size and (r.min() < 0 or r.max() >= rows):
        bad = int(r.min()) if r.min() < 0 else int(r.max())
        raise ValueError(f"index {bad} is outside the table's {rows} rows")
    m = np.asarray(attr(op, "multiplier"), dtype=np.int64)
    s = np.asarray(attr(op, "shift"), dtype=np.int64)
    per_row = m.size > 1
    m_r = (m[r] if per_row else m.reshape(()))[..., None]
    s_r = (s[r] if per_row else s.reshape(()))[..., None]
    v = scaled_sum([(table.astype(np.int64)[r], m_r)], s_r, attr(op, "rounding"))
    return saturate(v, result_bits(op))


# -- data movement ---------------------------------------------------------------------------------------------
@impl("bpu.reshape")
def reshape(op, x: np.ndarray) -> np.ndarray:
    return x.reshape(result_shape(op))


@impl("bpu.permute")
def permute(op, x: np.ndarray) -> np.ndarray:
    return np.transpose(x, attr(op, "dims"))


@impl("bpu.slice")
def slice_(op, x: np.ndarray) -> np.ndarray:
    index = [slice(None)] * x.ndim
    index[attr(op, "dim") % x.ndim] = slice(attr(op, "start"), attr(op, "end"), attr(op, "step", 1))
    return x[tuple(index)]


@impl("bpu.take")
def take(op, x: np.ndarray) -> np.ndarray:
    return np.take(x, np.asarray(attr(op, "indices"), dtype=np.int64), axis=attr(op, "dim") % x.ndim)


@impl("bpu.reduce_max")
def reduce_max(op, x: np.ndarray) -> np.ndarray:
    return np.max(x, axis=tuple(d % x.ndim for d in attr(op, "dims")), keepdims=bool(attr(op, "keepdim", False)))


@impl("bpu.reduce_min")
def reduce_min(op, x: np.ndarray) -> np.ndarray:
    return np.min(x, axis=tuple(d % x.ndim for d in attr(op, "dims")), keepdims=bool(attr(op, "keepdim", False)))


def _arg_reduce(fn):
    def run(op, x: np.ndarray) -> np.ndarray:
        out = fn(x, axis=attr(op, "dim") % x.ndim, keepdims=bool(attr(op, "keepdim", False)))  # first on ties
        return out.astype(np.int64)

    return run


impl("bpu.argmax")(_arg_reduce(np.argmax))
impl("bpu.argmin")(_arg_reduce(np.argmin))


@impl("bpu.topk")
def topk(op, x: np.ndarray) -> np.ndarray:
    dim, k = attr(op, "dim") % x.ndim, attr(op, "k")
    n = x.shape[dim]
    order = range(n - 1, n - k - 1, -1) if attr(op, "largest", True) else range(k)
    return np.take(np.sort(x, axis=dim), list(order), axis=dim)


#: torch.nn.functional.pad's modes by numpy.pad's names
_NUMPY_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@impl("bpu.pad")
def pad(op, x: np.ndarray) -> np.ndarray:
    """torch's F.pad on codes: `pad` lists (before, after) from the last dim backwards; a negative
    amount (constant mode only) crops."""
    pads = list(attr(op, "pad"))
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for i in range(len(pads) // 2):
        d = x.ndim - 1 - i
        before, after = pads[2 * i], pads[2 * i + 1]
        widths[d] = (max(before, 0), max(after, 0))
        crop[d] = slice(max(-before, 0), x.shape[d] - max(-after, 0))
    x = x[tuple(crop)]
    mode = attr(op, "mode", "constant")
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=attr(op, "value", 0))
    return np.pad(x, widths, mode=_NUMPY_PAD_MODES[mode])


@impl("bpu.prelu")
def prelu(op, x: np.ndarray) -> np.ndarray:
    """``x * (x >= 0 ? M[c] : Mn[c])`` rounded once by ``2**-S[c]``, saturated."""
    rank = x.ndim
    axis = attr(op, "axis", 1) % max(rank, 1)
    m = per_channel(attr(op, "multiplier"), rank, axis)
    mn = per_channel(attr(op, "negative_multiplier"), rank, axis)
    s = per_channel(attr(op, "shift"), rank, axis)
    x = x.astype(np.int64)
    mult = np.where(x >= 0, m, mn)
    v = scaled_sum([(x * mult, np.int64(1))], s, attr(op, "rounding"))
    return saturate(v, result_bits(op))


@impl("bpu.group_norm")
def group_norm(op, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """bpu.layer_norm's steps over each (sample, group) of C / G channels; gamma/beta of each element's channel."""
    f = attr(op, "frac_bits")
    g = attr(op, "sqrt_frac_bits", f)
    groups = attr(op, "num_groups")
    n_batch, c = x.shape[:2]
    rows = x.astype(np.int64).reshape(n_batch, groups, c // groups, -1)
    n = rows.shape[2] * rows.shape[3]
    s1 = rows.sum(axis=(2, 3), keepdims=True)
    s2 = (rows * rows).sum(axis=(2, 3), keepdims=True)
    centred = n * rows - s1
    v = n * s2 - s1 * s1 + attr(op, "eps")
    isqrt = np.vectorize(lambda t: max(1, math.isqrt(int(t) << (2 * g))), otypes=[np.int64])
    r = isqrt(v)
    z = (2 * (centred << (f + g)) + r) // (2 * r)
    per_channel_shape = (1, groups, c // groups, 1)
    acc = z * gamma.astype(np.int64).reshape(per_channel_shape) + beta.astype(np.int64).reshape(per_channel_shape)
    out = scaled_sum([(acc, np.int64(attr(op, "multiplier")))], np.int64(attr(op, "shift")), attr(op, "rounding"))
    return saturate(out, result_bits(op)).reshape(x.shape)


@impl("bpu.div")
def div(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``round(a * M / (b * 2**S))`` by the op's rounding mode, from one exact integer division (the floor
    quotient and its remainder decide the tie); b = 0 saturates by a's sign."""
    a, b = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    m, s = np.int64(attr(op, "multiplier")), np.int64(attr(op, "shift"))
    sign = np.where(b < 0, -1, 1)
    num, den = a * sign, np.abs(b)
    safe = np.where(den == 0, 1, den) << s
    q, r = np.divmod(num * m, safe)  # num * m = q * safe + r, 0 <= r < safe
    q = round_from_floor(q, 2 * r > safe, 2 * r == safe, attr(op, "rounding", "half_up"))
    lo, hi = storage_range(result_bits(op))
    q = np.where(den == 0, np.sign(a) * np.where(a > 0, hi, -lo), q)
    return saturate(q, result_bits(op))


_INT_DIV_LIMIT = 2**31 - 1  # bpu.int_div's quotient clamp
_INT_DIV_STEP = 16  # bits of one long-division step: the remainder (< 2**46) times 2**16 stays below 2**62


def _floor_quotient(x: np.ndarray, y: np.ndarray, s: int) -> np.ndarray:
    """floor(x / (y 2**s)) exactly in int64 for |x|, y < 2**46 (y > 0), s of either sign; past the
    +-(2**31 - 1) clamp the value is only kept beyond it (the clamp follows)."""
    if s >= 0:
        return (x // y) >> min(s, 62)  # numpy's // floors
    if s >= -_INT_DIV_STEP:
        return (x << -s) // y  # |x| < 2**46: one exact division
    k, r = x // y, x % y  # numpy's % floors too: 0 <= r < y
    bound = _INT_DIV_LIMIT + 1
    left = -s
    while left > 0:
        c = min(left, _INT_DIV_STEP)
        r = r << c
        k = np.clip((k << c) + r // y, -bound, bound)  # beyond the clamp it stays beyond: k 2^c + [0, 2^c)
        r = r % y
        left -= c
    return k


@impl("bpu.int_div")
def int_div(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """torch.div(rounding_mode=floor/trunc): the exact integer quotient ``a' M / (|b| D 2**S)``, clamped to
    +-(2**31 - 1) (b = 0: the clamp by a's sign), then requantized by ``M_out / 2**S_out``."""
    a, b = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    m, d, s = np.int64(attr(op, "multiplier")), np.int64(attr(op, "divisor", 1)), int(attr(op, "shift"))
    num = np.where(b < 0, -a, a) * m
    den = np.where(b == 0, 1, np.abs(b)) * d
    if attr(op, "rounding_mode") == "floor":
        k = _floor_quotient(num, den, s)
    else:
        k = np.sign(num) * _floor_quotient(np.abs(num), den, s)
    k = np.where(b == 0, np.sign(a) * _INT_DIV_LIMIT, np.clip(k, -_INT_DIV_LIMIT, _INT_DIV_LIMIT))
    v = scaled_sum([(k, np.int64(attr(op, "out_multiplier")))], np.int64(attr(op, "out_shift")),
                   attr(op, "rounding"))
    return saturate(v, result_bits(op))


# issue 12's bpu.compare / bpu.select live in their own module and register into IMPLS here, so every reader of
# IMPLS (the interpreter, irq.load's check that a runtime executes every op) sees them
from irq.runtime.reference import select_ops  # noqa: E402, F401
