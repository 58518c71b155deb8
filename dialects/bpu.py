"""The bpu dialect: the fixed-point program a BPU-class processor runs, every number defined to the bit.

Values are tensors of storage types (`i8`, `i16` activations; `i8` weights; `i32`/`i64` accumulators
and biases); `f32` appears only at the model's boundaries (`bpu.quantize` / `bpu.dequantize`) and in
float islands. Every integer parameter is explicit in the program (attributes and `bpu.constant`
blobs), so a runtime never derives anything from scales: the reference runtime
(`irq.runtime.reference`) and the numba runtime execute these semantics and must agree bit for bit.
The parameters themselves come from `irq.fixedpoint` at lowering time (docs/design.md,
"Fixed-point semantics").

Common definitions, used below (all arithmetic is exact integer arithmetic, as in int64):

- ``sat_T(v)``: clip v to the range of the result dtype T (i8 [-128, 127], i16, i32, i64).
- ``clamp(v)``: ``min(max(v, min), max)`` with the op's optional `min`/`max` attributes (a fused
  relu is ``min = 0``, relu6 ``min = 0, max = rint(6 / s_out)``); they default to T's range and must
  lie inside it. Applied after ``sat_T``.
- ``rshift_round(v, S, rounding)``: ``v / 2**S`` rounded to an integer, for ``S`` in [1, 62]:
  `half_up` = ``(v + 2**(S-1)) >> S`` (arithmetic shift: ties toward +inf, the default);
  `half_even` = nearest, exact ties to the even integer; `half_away` = nearest, exact ties away from
  zero; `floor` = ``v >> S``.
- A multiplier `M` is in [0, 2**31), a shift `S` in [1, 62]; products ``v * M`` are computed in int64
  (a runtime raises when ``|v| >= 2**32`` would make them overflow, never wraps silently).
- Per-channel parameters (`multiplier`/`shift` arrays of length C) apply along `axis` of the
  accumulator (default 1, NCHW channels; -1 for linear/matmul); length 1 means per tensor.

Ops (attribute names in parentheses):

- ``bpu.constant`` (value): a weight, bias or table: `dense` or `dense_resource` of an integer type.
- ``bpu.quantize %x`` (scale): f32 -> T: ``sat_T(round_half_even(float64(x) / float64(scale)))``.
- ``bpu.dequantize %q`` (scale, axis?): T -> f32: ``float32(float64(q) * float64(scale))``; `scale` is
  one float, or an array of per-channel scales along `axis` (an int32 high-precision output).
- ``bpu.conv2d %x, %w (bias %b)?`` (stride, padding, dilation, groups): x [N,Cin,H,W] i8/i16,
  w [Cout,Cin/groups,KH,KW] i8, b [Cout] i32/i64 -> acc [N,Cout,OH,OW] i32 or i64:
  ``acc = b[c] + sum x * w`` exactly (zero padding; torch.nn.Conv2d's indexing). The result dtype
  must hold the proved bound ``K * max|x| * max|w| + max|b|`` (`fixedpoint.accumulator_dtype`).
- ``bpu.conv_transpose2d %x, %w (bias %b)?`` (stride, padding, output_padding, dilation, groups):
  torch.nn.ConvTranspose2d's indexing, w [Cin, Cout/groups, KH, KW]; exact accumulation as conv2d.
- ``bpu.linear %x, %w (bias %b)?``: x [..., K], w [N, K] -> acc [..., N] = ``x @ w^T + b``.
- ``bpu.matmul %a, %b``: torch.matmul's broadcasting on two activations -> exact accumulator.
- ``bpu.requantize %acc (residual %r)?`` (multiplier, shift, residual_multiplier?, rounding, axis,
  min?, max?) -> T: ``clamp(sat_T(rshift_round(acc * M[c] + r * Mr[c], S[c])))``; the residual term
  (a fused residual add: one rounding for both) is present only with a `residual` operand, which
  has the result's shape.
- ``bpu.add %a, %b`` / ``bpu.sub %a, %b`` (lhs_multiplier, rhs_multiplier, shift, rounding, min?,
  max?): ``clamp(sat_T(rshift_round(a * Ma +/- b * Mb, S)))`` with numpy broadcasting.
- ``bpu.mul %a, %b`` (multiplier, shift, rounding, min?, max?): ``clamp(sat_T(rshift_round(a * b * M, S)))``.
- ``bpu.concat %xs`` (dim, multiplier, shift, rounding): input i is
  ``sat_T(rshift_round(x_i * M[i], S[i]))`` (identity: M = 2**30, S = 30), then concatenated.
- ``bpu.lut %x, %table``: ``table[x - qmin]``; 256 entries for i8 inputs, 65536 for i16; the result
  has the table's dtype.
- ``bpu.clamp %x`` (min, max): ``min(max(x, min), max)`` (relu on a quantized value: codes unchanged).
- ``bpu.max_pool2d %x`` (kernel_size, stride, padding, dilation, ceil_mode): window maximum; padding
  never wins (torch's -inf padding); windows as torch.nn.MaxPool2d.
- ``bpu.avg_pool2d %x`` (kernel_size, stride, padding, ceil_mode, count_include_pad, divisors,
  multiplier, shift, rounding): ``sat_T(rshift_round(sum * M[i], S[i]))`` where `sum` is the exact
  window sum (padding counts 0) and ``i`` is the index in `divisors` of this position's divisor ``n``
  (torch.nn.AvgPool2d's divisor: the window clipped to the padded input, or the unpadded input when
  count_include_pad is false, or `divisor_override`); `M[i]/2**S[i]` ~ ``s_in / (s_out * n)``.
- ``bpu.global_avg_pool %x`` (multiplier, shift, rounding): [N,C,H,W] -> [N,C,1,1],
  ``sat_T(rshift_round(sum_hw(x) * M, S))``.
- ``bpu.resize %x`` (mode, align_corners, frac_bits?, multiplier?, shift?, rounding): to the result's
  [OH, OW]. `nearest`: ``src = min(floor(dst * in / out), in - 1)`` per axis (integer division),
  codes copied. `bilinear` with F = `frac_bits` fractional bits: per axis the source position in
  F-bit fixed point is ``p = max(0, floor(((2*dst + 1) * in - out) * 2**F / (2 * out)))``
  (align_corners false, torch's half-pixel rule) or ``p = floor(dst * (in - 1) * 2**F / (out - 1))``
  (align_corners true; 0 when out == 1); ``i0 = p >> F``, ``i1 = min(i0 + 1, in - 1)``,
  ``l1 = p - (i0 << F)``, ``l0 = 2**F - l1``; ``acc = sum of the 4 neighbours x * ly * lx`` (scale
  2**-2F), then ``sat_T(rshift_round(acc * M, S))``.
- ``bpu.softmax %x, %exp_table`` (dim, multiplier, shift): along `dim`, ``d = x - max(x)`` (in
  [-(qmax - qmin), 0]), ``e = exp_table[d + qmax - qmin]`` (an i32 table with one entry per possible
  difference, 256 for i8 inputs, 65536 for i16: ``rint(exp(d * s_in) * 2**15)``), ``sum = sum(e)``;
  ``out = clamp(sat_T(floor((2 * e * M + sum * 2**S) / (2 * sum * 2**S))))``, i.e. ``e * M / (sum 2**S)``
  rounded half up exactly (an integer division, no reciprocal table), with ``M / 2**S ~ 1 / s_out``.
  The exp(0) entry (the last) must be positive: a zero would divide by zero on a constant row.
- ``bpu.log_softmax %x, %exp_table, %log_table`` (dim, exp_bits E, log_frac_bits F, multiplier, log_multiplier,
  shift, rounding): along `dim`, ``d = x - max(x)``, ``e = exp_table[d + qmax - qmin]`` (i32,
  ``rint(exp(d * s_in) * 2**E)``; the exp(0) entry is exactly 2**E), ``sum = sum(e)`` (>= 2**E), ``k = floor(log2
  sum)`` (its leading bit), ``t = sum >> (k - B - 1)`` and ``j = ((t + 1) >> 1) - 2**B`` (the mantissa rounded to B
  bits, log_table having 2**B + 1 entries ``rint(log2(1 + j / 2**B) * 2**F)``), ``L = (k - E) 2**F +
  log_table[j]`` (~ ``log2(sum / 2**E) 2**F``), ``out = sat_T(rshift_round(d * M - L * M_log, S))`` with
  ``M / 2**S ~ s_in / s_out`` and ``M_log / 2**S ~ ln(2) 2**-F / s_out``. `fp.log_softmax_parameters` states the
  error bound against the real log-softmax.
- ``bpu.layer_norm %x, %gamma, %beta`` (frac_bits, sqrt_frac_bits?, eps, multiplier, shift, rounding):
  i8 or i16 x normalized over its last dim (n elements) with exact integer statistics: ``S1 = sum x``,
  ``S2 = sum x^2``, ``c = n x - S1`` (= n (x - mean)), ``v = n S2 - S1^2 + eps`` (= n^2 (var + eps / s_in^2);
  `eps` is that integer, ``rint(n^2 eps_real / s_in^2)``), ``r = max(1, isqrt(v * 2**(2G)))`` (exact
  integer square root with G = `sqrt_frac_bits` fractional bits, default F), ``z = floor((2 c 2**(F+G) + r)
  / (2 r))`` (c / sqrt(v) in F-bit fixed point, rounded half up); then
  ``out = sat_T(rshift_round((z * gamma[k] + beta[k]) * M, S))`` with gamma i8 codes (scale s_g), beta i32
  at scale ``2**-F s_g`` and ``M / 2**S ~ 2**-F s_g / s_out``. The verifier bounds
  ``(n^2 qmax_in^2 + eps) 2^(2G) < 2^63`` and ``n 2^(bits_in + 1) 2^(F+G+1) < 2^63`` so every step fits
  int64; i16 inputs need G < F for long rows (lower-bpu picks the largest G <= F that fits).
- ``bpu.div %a, %b`` (multiplier, shift): element-wise with numpy broadcasting, one exact division rounded
  half up: with ``a' = a sign(b)``, ``out = sat_T(floor((2 a' M + |b| 2**S) / (2 |b| 2**S)))`` and
  ``M / 2**S ~ s_a / (s_b s_out)``, ``S <= 61 - bits(b)`` so every term fits int64; ``b = 0`` gives T's
  max for a > 0, its min for a < 0 and 0 for a = 0 (the saturated float quotient; 0 / 0 is 0).
- ``bpu.int_div %a, %b`` (rounding_mode, multiplier, divisor = 1, shift, out_multiplier, out_shift, rounding):
  torch.div with ``rounding_mode`` `floor` or `trunc`. With ``a' = a sign(b)``, the integer quotient of the real
  values is ``k = floor(a' M / (|b| D 2**S))`` (floor) or ``sign(a') floor(|a'| M / (|b| D 2**S))`` (trunc) in
  exact rational arithmetic, with ``M / (D 2**S) == s_a / s_b`` exactly (`fp.int_div_ratio`: M, D < 2**31,
  ``|S| <= 320``, S of either sign); so k is torch's floor / trunc of the real quotient, never one off near an
  integer. Integer steps that compute it in int64: ``x = a' M``, ``y = |b| D`` (both below 2**46); for S >= 0,
  ``k = floor(x / y) >> min(S, 62)``; for -16 <= S < 0, ``k = floor((x << -S) / y)``; below, long division
  ``k <- k 2**c + floor(r 2**c / y)``, ``r <- r 2**c mod y`` from ``(floor(x / y), x mod y)``, c <= 16 bits a
  step, k held at +-2**31 once past the clamp (it stays past it). ``b = 0`` gives ``k = +-(2**31 - 1)`` by
  a's sign (0 for a = 0); ``k`` is clamped to ``+-(2**31 - 1)``, then
  ``out = sat_T(rshift_round(k * M_out, S_out))`` with ``M_out / 2**S_out ~ 1 / s_out``.
- ``bpu.prelu %x`` (multiplier, negative_multiplier, shift, rounding, axis): per channel c along `axis` (or one
  for all), ``sat_T(rshift_round(x * (x >= 0 ? M[c] : Mn[c]), S[c]))``; ``M / 2**S ~ s_in / s_out`` and
  ``Mn / 2**S ~ slope[c] s_in / s_out`` share the shift, and Mn is signed (``|Mn| < 2**31``).
- ``bpu.pad %x`` (pad, mode, value): torch.nn.functional.pad on codes, `pad` in torch's order (last dim
  first, (before, after) pairs); `constant` writes the code `value` (default 0), `reflect` mirrors without
  the edge, `replicate` repeats the edge, `circular` wraps.
- ``bpu.group_norm %x, %gamma, %beta`` (num_groups, frac_bits, sqrt_frac_bits?, eps, multiplier, shift,
  rounding): x [N, C, ...] normalized over each sample's group of C / G channels (n = C / G x the spatial
  size elements) with exactly bpu.layer_norm's integer steps (S1, S2, c, v, r, z, the same int64 bounds),
  then ``out = sat_T(rshift_round((z * gamma[c] + beta[c]) * M, S))`` with gamma [C] i8 and beta [C] i32
  per channel (`fp.layer_norm_parameters` with the group's n).
- ``bpu.cumsum %x`` (dim): the exact prefix sums ``acc[..., i, ...] = sum_{j <= i} x[..., j, ...]`` along `dim`
  into an i32/i64 accumulator (torch.cumsum on codes); the verifier proves ``n * 2**(bits - 1)`` (n = the
  size of `dim`) fits the accumulator, and a `bpu.requantize` (``M / 2**S ~ s_in / s_out``) follows.
- ``bpu.reshape %x``, ``bpu.permute %x`` (dims), ``bpu.slice %x`` (dim, start, end, step): data
  movement, codes unchanged; reshape's shape is its result type's.
- ``bpu.take %x`` (dim, indices): ``numpy.take(x, indices, dim)``, the listed entries along `dim` in that order
  (each in [0, size)): torch.flip, index_select by a constant index, repeat and the expand of a size-1 dim.
- ``bpu.reduce_max %x`` / ``bpu.reduce_min %x`` (dims, keepdim): the largest / smallest code over `dims` (torch.amax
  / amin's shapes); the codes and the scale pass through, so max of the codes is the code of the max.
- ``bpu.argmax %x`` / ``bpu.argmin %x`` (dim, keepdim): the i64 index of the largest / smallest code along `dim`,
  the first on ties (numpy's and torch's rule): the indices of torch.max / min over a dim, which a program
  returns as they are (no dequantize). One per-tensor scale keeps the order of the values, so VALIDATION's
  indices on the fake-quantized values are these.
- ``bpu.topk %x`` (k, dim, largest): the k largest codes along `dim` in descending order (the k smallest in
  ascending order when `largest` is false): torch.topk's values with sorted = True.
- ``bpu.embedding %ids, %table`` (multiplier, shift, rounding): ids i32/i64 of any shape, table
  [R, D] i8 -> [*ids.shape, D] T: ``out[..., k] = sat_T(rshift_round(table[r, k] * M[r], S[r]))`` with
  ``r = ids[...]`` (one multiplier: per tensor; R of them: per row, ``M[r] / 2**S[r] ~ s_table[r] / s_out``).
  An index outside [0, R) is an error naming the op, never a read out of bounds.
- ``bpu.compare %a (, %b)?`` (predicate, threshold?): an i8 mask, 1 where ``a <predicate> b`` holds and 0
  elsewhere (predicate gt, ge, lt, le, eq or ne; numpy broadcasting; a and b any integer dtypes, compared as
  integers). With no `b`, a is compared with the integer `threshold` (in int64). lower-bpu turns a comparison of
  real values with a number into such a threshold exactly (irq.selection.compare_threshold) and a comparison of
  two tensors into one of codes at a common scale.
- ``bpu.select %cond, %a, %b``: ``cond != 0 ? a : b`` element-wise with numpy broadcasting of the three; a, b
  and the result share one dtype (codes copied, no rounding: lower-bpu requantizes both to the output scale).

Float islands: with `irq.convert(..., float_fallback=True)` an op no march runs stays as its torch/hl op
between ``bpu.dequantize`` and ``bpu.quantize`` (its weights as float constants of the dequantized codes);
runtimes compute it in float64 from the float32 inputs and store float32 (`runtime/reference/float_ops.py`
is the definition a fast runtime can call).

Layout: the op declarations live in `_bpu_compute.py` (casts, accumulating ops, requantize, element-wise
arithmetic, tables), `_bpu_composite.py` (pools, resize, softmax, layer norm, embedding),
`_bpu_movement.py` (concat, reshape, permute, slice) and `_bpu_select.py` (compare, select); the constraints
and verifier checks in `_bpu_checks.py`. This module is the dialect's public face: the semantics above and every name.

A program is a `func.func` over these ops; `program.save(path)` writes the deployable artifact
(text + resource blobs) and `irq.load` reads it back with validation.
"""

from __future__ import annotations

from irq.dialects._bpu_checks import (  # noqa: F401 (re-exported: runtimes and passes read them from bpu)
    ACCUMULATOR_WIDTHS,
    ACTIVATION_WIDTHS,
    DIALECT,
    I64_ARRAY,
    LUT_SIZES,
    MAX_SHIFT,
    MIN_SHIFT,
    MULTIPLIER_BITS,
    ROUNDING_MODES,
    SCALE,
    Accumulator,
    Activation,
    AnyStorage,
    FloatTensor,
    Weight,
    constant_array,
    dtype_name,
    storage_range,
    width,
)
from irq.dialects._bpu_composite import (
    RESIZE_MODES,  # noqa: F401
    AvgPool2dOp,
    CumsumOp,
    EmbeddingOp,
    GlobalAvgPoolOp,
    GroupNormOp,
    Indices,  # noqa: F401
    LayerNormOp,
    LogSoftmaxOp,
    MaxPool2dOp,
    ResizeOp,
    SoftmaxOp,
)
from irq.dialects._bpu_compute import (
    AddOp,
    ClampOp,
    ConstantOp,
    Conv2dOp,
    ConvTranspose2dOp,
    DequantizeOp,
    DivOp,
    IntDivOp,
    LinearOp,
    LutOp,
    MatmulOp,
    MulOp,
    PreluOp,
    QuantizeOp,
    RequantizeOp,
    SubOp,
)
from irq.dialects._bpu_movement import (  # noqa: F401
    PAD_MODES,
    ArgmaxOp,
    ArgminOp,
    ConcatOp,
    PadOp,
    PermuteOp,
    ReduceMaxOp,
    ReduceMinOp,
    ReshapeOp,
    SliceOp,
    TakeOp,
    TopkOp,
)
from irq.dialects._bpu_select import CompareOp, SelectOp

__all__ = ["DIALECT", "ConstantOp", "QuantizeOp", "DequantizeOp", "Conv2dOp", "ConvTranspose2dOp", "LinearOp",
           "MatmulOp", "RequantizeOp", "AddOp", "SubOp", "MulOp", "ConcatOp", "LutOp", "ClampOp", "MaxPool2dOp",
           "AvgPool2dOp", "GlobalAvgPoolOp", "ResizeOp", "SoftmaxOp", "LayerNormOp", "ReshapeOp", "PermuteOp",
           "SliceOp", "EmbeddingOp", "PreluOp", "PadOp", "GroupNormOp", "DivOp", "CumsumOp",
           "IntDivOp", "LogSoftmaxOp", "CompareOp", "SelectOp", "TakeOp", "ReduceMaxOp", "ReduceMinOp", "TopkOp",
           "ArgmaxOp", "ArgminOp"]
