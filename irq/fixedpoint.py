"""The fixed-point contract: how float scales become the integer parameters of a bpu program.

This module decides every integer *parameter* (multipliers, shifts, quantized biases and
weights, lookup tables, accumulator widths) from float scales. It is shared by the two places
that must agree on them bit for bit: the compiler (requantize insertion / lowering to bpu) and
the torch executor's VALIDATION mode. It does not *execute* anything: each runtime (reference,
numba) and VALIDATION implement the arithmetic themselves, from the parameters, so they stay
independent implementations checked against each other.

Conventions (docs/design.md, "Fixed-point semantics"):

- symmetric, zero point 0; activations int8 [-128, 127] or int16 [-32768, 32767];
  weights int8 [-127, 127] per output channel;
- float -> code: ``clip(round_half_even(float64(x) / float64(s)), qmin, qmax)``;
- a real multiplier ``r > 0`` is ``M * 2**-S`` with ``M`` in [2**30, 2**31) (31 significant bits)
  and ``1 <= S <= 62``; requantize computes ``(acc * M + rounding(S)) >> S`` in int64.

Only numpy is needed; importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Storage ranges by dtype name, as the bpu dialect and the qconfig spell them.
QRANGE: dict[str, tuple[int, int]] = {
    "i8": (-128, 127),
    "i16": (-32768, 32767),
    "i32": (-(2**31), 2**31 - 1),
}
#: Weights are symmetric int8 without -128, so that -w is always representable (TFLite's int8 spec).
WEIGHT_QRANGE: tuple[int, int] = (-127, 127)
#: Rounding modes of `bpu.requantize`; half_up (ties toward +inf) is the default, as in TFLite's
#: single-rounding build and TVM QNN's UPWARD (ANCHORS.md); half_even matches onnxruntime/fbgemm.
ROUNDING_MODES: tuple[str, ...] = ("half_up", "half_even", "half_away", "floor")
MULTIPLIER_BITS = 31
MIN_SHIFT, MAX_SHIFT = 1, 62
#: `quantize_multiplier(1.0)`: the rescale by exactly 1, which no rounding mode changes on integer codes
#: (data movement through bpu.concat / add / sub: roll's pieces, maximum / minimum's select)
IDENTITY_MULTIPLIER, IDENTITY_SHIFT = 1 << 30, 30


def qrange(dtype: str) -> tuple[int, int]:
    """(qmin, qmax) of a storage dtype name ("i8", "i16", "i32")."""
    try:
        return QRANGE[dtype]
    except KeyError:
        raise ValueError(f"unknown storage dtype '{dtype}' (expected one of {', '.join(QRANGE)})") from None


def scale_from_absmax(absmax, dtype: str = "i8") -> np.ndarray:
    """Symmetric scale covering [-absmax, absmax]: ``absmax / qmax``, never 0 (an all-zero tensor gets 2**-24)."""
    qmax = qrange(dtype)[1]
    a = np.asarray(absmax, dtype=np.float64)
    return np.maximum(a, 2.0**-24 * qmax) / qmax


def quantize_multiplier(real) -> tuple[np.ndarray, np.ndarray]:
    """Split real multipliers into (M, S), int64 arrays of the input's shape, with ``M / 2**S ~= real``.

    ``real = q * 2**e`` with q in [0.5, 1) (frexp); ``M = round_half_even(q * 2**31)`` (exact in float64:
    q has 53 bits), renormalised when it rounds up to 2**31; ``S = 31 - e``. A multiplier too small for
    S <= 62 keeps S = 62 and a smaller M (down to 0, which makes the output 0); one too large for S >= 1
    (real >= 2**30) is an error: no sane pair of scales produces it.
    """
    r = np.asarray(real, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("real multipliers must be finite and >= 0")
    q, e = np.frexp(r)
    m = np.rint(q * 2.0**MULTIPLIER_BITS).astype(np.int64)
    up = m == 2**MULTIPLIER_BITS
    m = np.where(up, 2 ** (MULTIPLIER_BITS - 1), m)
    e = e.astype(np.int64) + up
    s = MULTIPLIER_BITS - e
    if np.any((s < MIN_SHIFT) & (r > 0)):
        raise ValueError(f"real multiplier {float(r.max())!r} is too large (must be < 2**30)")
    small = s > MAX_SHIFT
    if np.any(small):
        m = np.where(small, np.rint(r * 2.0**MAX_SHIFT).astype(np.int64), m)
        s = np.where(small, MAX_SHIFT, s)
    zero = r == 0
    m = np.where(zero, 0, m)
    s = np.where(zero, MAX_SHIFT, s)
    return m, s


def common_shift_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers for a sum of rescaled inputs that is rounded once: ``(sum_i x_i * M_i + rnd) >> S``.

    `reals` has shape [n_inputs, ...] (one real multiplier per input, per channel); the shift comes from
    the largest multiplier of each channel, so that one keeps 31 bits and the others are
    ``round_half_even(r_i * 2**S)`` (fewer bits, never more than 2**31 - 1). Returns M of the input's
    shape and S of shape `reals.shape[1:]`. Used by add/sub and by a conv's fused residual, where the
    accumulator is one input (multiplier s_in * s_w / s_out) and the residual the other (s_res / s_out).
    """
    r = np.asarray(reals, dtype=np.float64)
    if r.ndim < 1 or r.shape[0] < 1:
        raise ValueError("common_shift_multipliers needs at least one input")
    _, s = quantize_multiplier(r.max(axis=0))
    m = np.rint(r * np.exp2(s.astype(np.float64))).astype(np.int64)
    if np.any(m >= 2**MULTIPLIER_BITS):  # only when rint rounds the largest up to 2**31
        m = np.minimum(m, 2**MULTIPLIER_BITS - 1)
    return m, s


#: The largest real multiplier `quantize_multiplier` represents (S >= MIN_SHIFT): 2**30.
MAX_REAL_MULTIPLIER = 2.0 ** (MULTIPLIER_BITS - MIN_SHIFT)


def saturating_reals(reals, input_absmax, out_lo: int, out_hi: int) -> np.ndarray:
    """`reals` of a rounded, clamped sum ``clamp(round(sum_i c_i r_i), out_lo, out_hi)`` with one real too large
    for a multiplier (>= 2**30) replaced by a smaller one that gives the same outputs; else unchanged.

    Where it comes from: an additive attention mask of -1e9 or ``finfo.min`` (Hugging Face's eager
    attention) quantizes with a scale near 1e36, next to scores whose scale is below 1. Input k's
    one-code step r_k is then larger than the output's whole range plus anything the other inputs can add
    (``sum_j r_j * input_absmax[j]``, j != k): every nonzero c_k drives the sum past out_lo or out_hi
    (by its sign) whatever the others hold, and c_k = 0 adds nothing. Any r_k' beyond that threshold
    gives the same clamped output for every input, under every rounding mode (a rounding moves the sum by
    less than one); r_k' is twice the threshold, a margin for the multiplier's own rounding to M / 2**S.
    The compiler and VALIDATION both reach it through `add_multipliers`, so they agree bit for bit. Only
    a single such input is replaced; two, or a threshold that is itself too large, are left to
    `common_shift_multipliers`' error."""
    r = np.array(reals, dtype=np.float64).reshape(-1)
    big = np.flatnonzero(r >= MAX_REAL_MULTIPLIER)
    if big.size != 1:
        return r
    k = int(big[0])
    others = sum(float(r[j]) * float(input_absmax[j]) for j in range(r.size) if j != k)
    capped = 2.0 * (float(out_hi) - float(out_lo) + others + 1.0)
    if capped >= MAX_REAL_MULTIPLIER:
        return r
    r[k] = capped
    return r


def add_multipliers(reals, input_absmax, out_lo: int, out_hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, S) of a rounded, clamped sum of rescaled inputs (bpu.add / bpu.sub): `common_shift_multipliers` of
    `saturating_reals`, the one rule the compiler and VALIDATION both call."""
    return common_shift_multipliers(saturating_reals(reals, input_absmax, out_lo, out_hi))


def quantize_to_codes(x, scale, dtype: str = "i8", axis: int | None = None) -> np.ndarray:
    """Float -> codes: ``clip(round_half_even(float64(x) / float64(scale)), qmin, qmax)`` as int64.

    `scale` is a scalar, or one scale per index of `axis` (per-channel). Weights use
    `quantize_weight` (range [-127, 127]); this is for activations and model inputs.
    """
    lo, hi = qrange(dtype)
    return _round_clip(x, scale, lo, hi, axis)


def quantize_weight(w, scale, axis: int = 0) -> np.ndarray:
    """Weight codes in [-127, 127], per channel along `axis` (0 for conv/linear, 1 for conv_transpose)."""
    return _round_clip(w, scale, *WEIGHT_QRANGE, axis)


def quantize_bias(bias, input_scale: float, weight_scale) -> np.ndarray:
    """Bias codes at the accumulator's scale ``s_in * s_w[c]``, saturated to int32 (returned as int64)."""
    acc_scale = np.float64(input_scale) * np.asarray(weight_scale, dtype=np.float64)
    return _round_clip(bias, acc_scale, *QRANGE["i32"], 0 if acc_scale.ndim else None)


def check_bias_fits(bias, input_scale: float, weight_scale) -> None:
    """Refuse a bias that `quantize_bias` would saturate: a bias beyond int32 codes at ``s_in * s_w[c]`` is
    a wrong number without an error (chainfuzz seed 60285: a conv whose input is always 0 has the scale
    2**-24, so its bias of 0.2 needs ~1e11 codes; VALIDATION and the program both added 2**31 - 1 instead)."""
    acc_scale = np.float64(input_scale) * np.asarray(weight_scale, dtype=np.float64)
    codes = np.rint(np.asarray(bias, dtype=np.float64) / acc_scale)
    lo, hi = QRANGE["i32"]
    if codes.size and (codes.max() > hi or codes.min() < lo):
        worst = float(np.abs(codes).max())
        raise ValueError(f"its bias needs {worst:.3g} codes at the accumulator scale s_in * s_w (s_in = "
                         f"{float(input_scale):.3g}), beyond int32: the input's range is too small for the bias "
                         f"(did calibration see only zeros here?)")


def _round_clip(x, scale, lo: int, hi: int, axis: int | None) -> np.ndarray:
    xv = np.asarray(x, dtype=np.float64)
    sv = np.asarray(scale, dtype=np.float64)
    if axis is not None and sv.ndim == 1:
        shape = [1] * xv.ndim
        shape[axis] = sv.shape[0]
        sv = sv.reshape(shape)
    return np.clip(np.rint(xv / sv), lo, hi).astype(np.int64)


def dequantize_codes(q, scale, axis: int | None = None) -> np.ndarray:
    """Codes -> float32: ``float32(float64(q) * float64(scale))`` (one rounding, identical in every runtime)."""
    qv = np.asarray(q, dtype=np.float64)
    sv = np.asarray(scale, dtype=np.float64)
    if axis is not None and sv.ndim == 1:
        shape = [1] * qv.ndim
        shape[axis] = sv.shape[0]
        sv = sv.reshape(shape)
    return (qv * sv).astype(np.float32)


def clamp_bounds(activation: str | None, output_scale: float, dtype: str) -> tuple[int, int]:
    """Code range after a fused activation: relu -> [0, qmax]; relu6 -> [0, min(qmax, rint(6 / s_out))]."""
    lo, hi = qrange(dtype)
    if activation is None:
        return lo, hi
    if activation == "relu":
        return 0, hi
    if activation == "relu6":
        return 0, int(min(hi, np.rint(6.0 / np.float64(output_scale))))
    raise ValueError(f"unknown fused activation '{activation}' (expected relu or relu6)")


def lookup_table(fn: Callable[[np.ndarray], np.ndarray], input_scale: float, output_scale: float,
                 in_dtype: str = "i8", out_dtype: str = "i8") -> np.ndarray:
    """A table with one entry per input code, ``qmin..qmax`` in order: ``codes(fn(code * s_in), s_out)``.

    `fn` is evaluated in float64 on the dequantized codes; unbounded functions (exp, reciprocal)
    saturate at the output range, which is the "stated range" the output scale was chosen for.
    """
    lo, hi = qrange(in_dtype)
    if hi - lo + 1 > 65536:
        raise ValueError(f"no lookup table for {in_dtype} inputs (at most 16-bit codes)")
    codes = np.arange(lo, hi + 1, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = np.asarray(fn(codes * np.float64(input_scale)), dtype=np.float64)
    y = np.nan_to_num(y, nan=0.0, posinf=np.inf, neginf=-np.inf)
    olo, ohi = qrange(out_dtype)
    with np.errstate(all="ignore"):
        q = np.clip(np.rint(y / np.float64(output_scale)), olo, ohi)
    return q.astype(np.int64)


def accumulator_dtype(reduction: int, input_dtype: str = "i8", weight_absmax: int = 127,
                      extra_absmax: int = 0) -> str:
    """The narrowest accumulator ("i32" or "i64") that provably holds K products plus a bias.

    Bound: ``K * max|x| * max|w| + max|extra| < 2**31`` for int32 (max|x| is 128 for int8, 32768 for
    int16); otherwise int64, which holds any realistic K (the requantize product ``acc * M`` then needs
    ``|acc| < 2**32``, checked by `check_requantize_input`).
    """
    xmax = -qrange(input_dtype)[0]
    bound = reduction * xmax * weight_absmax + extra_absmax
    return "i32" if bound < 2**31 else "i64"


def channel_accumulator_bound(w_codes, b_codes, x_absmax: int, out_axis: int = 0) -> int:
    """The exact worst case of an accumulator, output channel by output channel:
    ``max_c x_absmax * sum_k |w[c, k]| + |b[c]|`` (`out_axis` indexes the channels of `w_codes`).

    Why: the per-tensor bound ``K * max|x| * max|w|`` assumes every weight at the extreme code. Per-channel
    weights put one code per channel at 127 and most far below, so with int16 inputs a K = 960 projection
    (MobileNetV2's last blocks) is refused by the per-tensor bound (2**32 at K >= 517) while its real worst
    case is about half of it. A requantize needs only ``|acc| < 2**32`` of the real worst case.
    """
    w = np.abs(np.moveaxis(np.asarray(w_codes, dtype=np.int64), out_axis, 0))
    if w.size == 0:
        return 0
    per_channel = x_absmax * w.reshape(w.shape[0], -1).sum(axis=1)
    if b_codes is not None and np.size(b_codes):
        per_channel = per_channel + np.abs(np.asarray(b_codes, dtype=np.int64)).reshape(-1)
    return int(per_channel.max())


def check_requantize_input(acc_absmax: int) -> None:
    """``acc * M + 2**(S-1)`` must fit int64: with M < 2**31 that needs |acc| < 2**32."""
    if acc_absmax >= 2**32:
        raise ValueError(f"accumulator bound {acc_absmax} is too large to requantize in int64 (must be < 2**32)")


def multiplier_error(m, s, real) -> float:
    """Largest relative error of ``M / 2**S`` against the real multipliers (for tests and reports)."""
    r = np.asarray(real, dtype=np.float64)
    approx = np.asarray(m, dtype=np.float64) * np.exp2(-np.asarray(s, dtype=np.float64))
    nz = r > 0
    if not np.any(nz):
        return 0.0
    return float(np.max(np.abs(approx[nz] - r[nz]) / r[nz]))


#: fractional bits of bpu.resize's bilinear weights: shared by lower-bpu and VALIDATION so both round alike
RESIZE_FRAC_BITS = 8


#: bpu.softmax's exp table holds ``rint(exp(d * s_in) * 2**SOFTMAX_EXP_BITS)``: 2**15 is 1.0
SOFTMAX_EXP_BITS = 15
#: fractional bits of bpu.layer_norm's normalized value z = (x - mean) / std
LAYER_NORM_FRAC_BITS = 12


def softmax_parameters(input_scale: float, in_dtype: str, output_scale: float) -> tuple[np.ndarray, int, int]:
    """(exp_table, M, S) of bpu.softmax: one i32 entry per possible difference ``d = x - max(x)`` in
    ``[-(qmax - qmin), 0]`` (index ``d + qmax - qmin``), ``rint(exp(d * s_in) * 2**15)``, and
    ``M / 2**S ~= 1 / s_out``. Shared by lower-bpu and VALIDATION, so both use the same table."""
    lo, hi = qrange(in_dtype)
    d = np.arange(-(hi - lo), 1, dtype=np.float64)
    table = np.rint(np.exp(d * np.float64(input_scale)) * 2.0**SOFTMAX_EXP_BITS).astype(np.int64)
    m, s = quantize_multiplier(1.0 / np.float64(output_scale))
    return table, int(m), int(s)


def layer_norm_sqrt_frac_bits(n: int, in_dtype: str, eps: int, frac_bits: int = LAYER_NORM_FRAC_BITS) -> int:
    """G of bpu.layer_norm: the largest G <= F with ``(n^2 qmax^2 + eps) 2^(2G) < 2^63`` and
    ``n 2^(bits + F + G + 2) < 2^63`` (dialects/bpu.py), so its statistics fit int64. i8 rows keep G = F;
    i16 rows of a few hundred elements get G ~ 7, still far more bits than sqrt(v) needs."""
    bits = int(in_dtype[1:])
    for g in range(frac_bits, -1, -1):
        if (n * n * 2 ** (2 * bits - 2) + eps) * 2 ** (2 * g) < 2**63 and n * 2 ** (bits + frac_bits + g + 2) < 2**63:
            return g
    raise ValueError(f"layer norm over {n} {in_dtype} elements overflows int64 statistics")


def layer_norm_parameters(gamma, beta, eps: float, input_scale: float, output_scale: float, n: int | None = None
                          ) -> tuple[int, np.ndarray, np.ndarray, int, int, int]:
    """(frac_bits F, gamma codes, beta codes, integer eps, M, S) of bpu.layer_norm over n = len(gamma);
    its `sqrt_frac_bits` is `layer_norm_sqrt_frac_bits(n, in_dtype, eps)`.

    gamma is int8 per tensor (scale s_g from its absmax), beta int32 at ``s_g * 2**-F`` (the scale of
    ``z * gamma``), eps the integer ``rint(n^2 eps / s_in^2)`` added to ``n^2 var`` in codes, and
    ``M / 2**S ~= s_g 2**-F / s_out``. Shared by lower-bpu and VALIDATION. `n` is the normalized row's
    length when it is not len(gamma) (bpu.group_norm: C / G channels x the spatial size)."""
    g = np.asarray(gamma, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    n = g.shape[-1] if n is None else int(n)
    frac = LAYER_NORM_FRAC_BITS
    s_g = float(scale_from_absmax(np.abs(g).max()))
    g_codes = quantize_weight(g, s_g)
    b_scale = s_g * 2.0**-frac
    b_codes = np.clip(np.rint(b / b_scale), *QRANGE["i32"]).astype(np.int64)
    eps_int = int(np.rint(n * n * float(eps) / float(input_scale) ** 2))
    m, s = quantize_multiplier(b_scale / np.float64(output_scale))
    return frac, g_codes, b_codes, eps_int, int(m), int(s)


def batch_norm_parameters(weight, bias, mean, var, eps: float, input_scale: float, output_scale: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weight codes, bias codes, M, S) of a standalone eval-mode batch norm as a depthwise 1x1 convolution.

    ``y = a[c] x + b[c]`` with ``a = gamma / sqrt(var + eps)``, ``b = beta - mean a`` (float64). Each
    channel's weight is the single value a[c], quantized per channel with scale ``|a[c]| / 127``, so its
    code is +-127 and the product ``x * a`` loses nothing (a zero a[c] gets code 0, scale 1); the bias is
    int32 at ``s_in * s_w[c]`` and ``M[c] / 2**S[c] ~= s_in s_w[c] / s_out``. Shared by lower-bpu
    (bpu.conv2d groups = C + bpu.requantize) and VALIDATION."""
    a = 1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + float(eps))
    if weight is not None:
        a = np.asarray(weight, dtype=np.float64) * a
    b = -np.asarray(mean, dtype=np.float64) * a
    if bias is not None:
        b = b + np.asarray(bias, dtype=np.float64)
    s_w = np.where(a != 0, np.abs(a) / WEIGHT_QRANGE[1], 1.0)
    w_codes = quantize_weight(a, s_w)
    b_codes = quantize_bias(b, input_scale, s_w)
    m, s = quantize_multiplier(np.float64(input_scale) * s_w / np.float64(output_scale))
    return w_codes, b_codes, np.atleast_1d(m), np.atleast_1d(s)


def prelu_parameters(slope, input_scale: float, output_scale: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M, Mn, S) of bpu.prelu: per channel (or one) ``x * M >> S`` for x >= 0 and ``x * Mn >> S`` below,
    with ``M / 2**S ~= s_in / s_out`` and ``Mn / 2**S ~= slope s_in / s_out`` on one common shift per
    channel (so each slope keeps 31 bits relative to the larger branch); Mn carries the slope's sign."""
    a = np.atleast_1d(np.asarray(slope, dtype=np.float64))
    r = np.float64(input_scale) / np.float64(output_scale)
    m, s = common_shift_multipliers(np.stack([np.full_like(a, r), np.abs(a) * r]))
    return m[0], np.where(a < 0, -m[1], m[1]), s


def div_parameters(input_scale: float, other_scale: float, output_scale: float, other_dtype: str
                   ) -> tuple[int, int]:
    """(M, S) of bpu.div: ``out = round_half_up(a * M / (b * 2**S))`` with ``M / 2**S ~= s_a / (s_b s_out)``.

    The exact division ``(2 a M + |b| 2**S) // (2 |b| 2**S)`` must fit int64, so S is capped at
    ``61 - bits(b)`` (53 for i8 divisors, 45 for i16): a smaller ratio keeps fewer multiplier bits
    (M shifted right, rounded half to even), down to M = 0 for a ratio below 2**-S."""
    m, s = quantize_multiplier(np.float64(input_scale) / (np.float64(other_scale) * np.float64(output_scale)))
    m, s = int(np.ravel(m)[0]), int(np.ravel(s)[0])
    cap = 61 - int(other_dtype[1:])
    if s > cap:
        m, s = int(np.rint(m / 2.0 ** (s - cap))), cap
    return m, s


#: bpu.int_div clamps its integer quotient to this magnitude before requantizing it, so ``k * M_out`` fits int64
INT_DIV_QUOTIENT_LIMIT = 2**31 - 1
INT_DIV_ROUNDING_MODES = ("floor", "trunc")
#: |shift| bound of bpu.int_div: a ratio of two float32 scales is ``M / (D 2**S)`` with |S| <= 276 (float32's
#: exponents, subnormals included, span [-149, 127])
INT_DIV_MAX_SHIFT = 320


def int_div_ratio(input_scale: float, other_scale: float) -> tuple[int, int, int]:
    """(M, D, S) with ``s_a / s_b == M / (D 2**S)`` *exactly*, M and D odd (or 1) and below 2**24.

    The scales are taken as float32, the type of the qat model's scale buffers (and what torch casts a Python
    divisor to for a float32 tensor), so the ratio of two scales is a ratio of 24-bit mantissas times a power
    of two: bpu.int_div computes the floor of ``a' M / (|b| D 2**S)`` with integers alone, which is the floor
    of the real quotient ``a s_a / (b s_b)`` with no rounding at all (a 31-bit multiplier ``~ s_a / s_b`` gets
    a quotient within 2**-31 of an integer wrong, e.g. ``6 x 0.3 / (2 x 0.1)`` when the ratio is not a
    power of two)."""
    from fractions import Fraction
    sa, sb = np.float32(input_scale), np.float32(other_scale)
    if not (np.isfinite(sa) and np.isfinite(sb) and sa > 0 and sb > 0):
        raise ValueError(f"bpu.int_div needs positive finite float32 scales, got {input_scale} and {other_scale}")
    r = Fraction(float(sa)) / Fraction(float(sb))
    m, d = r.numerator, r.denominator
    twos_m = (m & -m).bit_length() - 1  # the powers of two of the (coprime) numerator or denominator
    twos_d = (d & -d).bit_length() - 1
    return m >> twos_m, d >> twos_d, twos_d - twos_m


def int_div_parameters(input_scale: float, other_scale: float, output_scale: float
                       ) -> tuple[int, int, int, int, int]:
    """(M, D, S, M_out, S_out) of bpu.int_div (torch.div with rounding_mode "floor" / "trunc").

    The quotient ``k = floor_or_trunc(a M / (b D 2**S))`` with ``M / (D 2**S) == s_a / s_b`` exactly
    (`int_div_ratio`) is the integer torch computes from the real values; it is then requantized to the
    output with ``M_out / 2**S_out ~= 1 / s_out``. The quotient is clamped to +-INT_DIV_QUOTIENT_LIMIT first,
    which saturates every output when ``2**31 / s_out`` exceeds the i16 range, so an output scale of 2**15 or
    more is refused."""
    if not float(output_scale) < 2.0**15:
        raise ValueError(f"output scale {output_scale} is too large for an integer quotient (must be < 2**15)")
    m, d, s = int_div_ratio(input_scale, other_scale)
    mo, so = quantize_multiplier(1.0 / np.float64(output_scale))
    return m, d, s, int(np.ravel(mo)[0]), int(np.ravel(so)[0])


#: bpu.log_softmax: its exp table holds ``rint(exp(d * s_in) * 2**LOG_SOFTMAX_EXP_BITS)`` (2**30 is 1.0: the row
#: sum's rounding error is below (n - 1) 2**-31 relative), its log table ``rint(log2(1 + j / 2**B) * 2**F)`` for
#: j in [0, 2**B] with B = LOG_SOFTMAX_INDEX_BITS and F = LOG_SOFTMAX_FRAC_BITS.
LOG_SOFTMAX_EXP_BITS = 30
LOG_SOFTMAX_INDEX_BITS = 10
LOG_SOFTMAX_FRAC_BITS = 16


def log_softmax_parameters(input_scale: float, in_dtype: str, output_scale: float
                           ) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """(exp_table, log_table, M, M_log, S) of bpu.log_softmax (dialects/bpu.py), shared by lower-bpu and VALIDATION.

    ``out = rshift_round(d M - L M_log, S)`` with ``M / 2**S ~= s_in / s_out`` and ``M_log / 2**S ~=
    ln(2) 2**-F / s_out`` on one shift (`common_shift_multipliers`), where d = x - max(x) and ``L ~= log2(sum of
    exp(d s_in)) 2**F`` from the exact integer sum of the exp table's entries.

    Error bound (before the final rounding, in units of s_out, against ``log_softmax`` of the dequantized
    inputs in exact arithmetic): ``(eps_exp + 2**-(B+1) + ln(2) 2**-(F+1)) / s_out + |d| |M 2**-S - s_in/s_out|
    + |L| |M_log 2**-S - ln(2) 2**-F / s_out|`` with ``eps_exp = -ln(1 - (n - 1) 2**-(E+1))`` (each of the n - 1
    other entries of a row is within half a unit of ``exp(d s_in) 2**E``; the maximum's entry is exact), 2**-(B+1)
    the log-table index's rounding (ln(1 + x) <= x) and ln(2) 2**-(F+1) the table entry's. For E = 30, B = 10,
    F = 16 and n <= 2**20 that is below 0.0006 / s_out (2**-11 from the index, the rest from the multipliers'
    rounding): a few thousandths of an int8 code (tests/test_convert_islands.py holds both runtimes to it)."""
    lo, hi = qrange(in_dtype)
    d = np.arange(-(hi - lo), 1, dtype=np.float64)
    exp_table = np.rint(np.exp(d * np.float64(input_scale)) * 2.0**LOG_SOFTMAX_EXP_BITS).astype(np.int64)
    b, f = LOG_SOFTMAX_INDEX_BITS, LOG_SOFTMAX_FRAC_BITS
    log_table = np.rint(np.log2(1.0 + np.arange(2**b + 1, dtype=np.float64) / 2.0**b) * 2.0**f).astype(np.int64)
    s_out = np.float64(output_scale)
    m, s = common_shift_multipliers([np.float64(input_scale) / s_out, np.log(2.0) * 2.0**-f / s_out])
    return exp_table, log_table, int(m[0]), int(m[1]), int(s)
