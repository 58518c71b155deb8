"""Row-wise integer normalisations: softmax and layer norm, exactly as the bpu dialect specifies them.

Both reduce over one axis and then rescale every element of the row, so a kernel owns a whole row
(threads over rows) and keeps the row's statistics in registers: no temporary arrays, one pass to
reduce, one to write. The arithmetic is the reference runtime's (runtime/reference/ops.py), in int64;
the one place the oracle may leave int64 (layer norm's ``acc * M``, with ``|acc|`` up to about 2^33)
is computed exactly by `product_round_shift` instead of wrapping.
"""

from __future__ import annotations

import numba
import numpy as np

from .launch import row_kernel
from .requantize import FLOOR, HALF_AWAY, HALF_EVEN, HALF_UP, clamp, round_shift

#: ``|acc| * M`` below this leaves room for the rounding term (the oracle's int64 bound, arithmetic.py).
_PRODUCT_LIMIT = np.int64(1) << 62


#: Below this magnitude a float64 quotient is within one unit of the integer one (see `floor_divide`).
_FAST_LIMIT = np.int64(1) << 50


@numba.njit(inline="always", cache=True)
def floor_divide(num: np.int64, den: np.int64, inv: np.float64) -> np.int64:
    """``floor(num / den)`` for ``0 < den < 2**50``, ``|num| < 2**50``, ``inv = 1.0 / den``: no integer division.

    Both operands are exact in float64 and each of the two roundings (``1/den``, ``num * inv``) is
    relative 2**-53, so the float quotient is within ``2**50 * 2**-52 < 1`` of the true one and its
    floor is off by at most one; the remainder ``num - q * den`` (exact int64) tells which way. The
    body is branch-free, so a row loop vectorises; int64 division (a ~15-40 cycle, unpipelined
    instruction) made it 4-5 ns per element.
    """
    q = np.int64(np.floor(np.float64(num) * inv))
    rem = num - q * den
    return q - np.int64(rem < 0) + np.int64(rem >= den)


#: Rows per parallel task of `softmax_rows`: each task allocates its scratch row once.
_SOFTMAX_BLOCK = 64


@row_kernel(lambda x, table, table_abs, span, mult, shift, lo, hi, out: -(-x.shape[0] // _SOFTMAX_BLOCK))
def softmax_rows(blk0, blk1, x, table, table_abs, span, mult, shift, lo, hi, out):
    """Softmax along the last axis of (rows, n) views.

    ``e = table[x - max + span]``; ``out = (2 * e * M + den) // (2 * den)`` with ``den = sum(e) << S``
    (round half up of ``e * M / (sum(e) * 2**S)``, by exact integer division), then saturation.
    A row whose exponentials sum to 0 (a degenerate table) gives 0, as numpy's integer division by 0 does.
    `table_abs` is ``max |table|``: a row whose numerators and denominator stay below 2**50 divides by a
    float reciprocal (`floor_divide`, exact), any other row by int64 division as the oracle writes it.
    A `launch.RowKernel` over blocks ``blk0 .. blk1`` of `_SOFTMAX_BLOCK` rows; each part gathers a row's
    exponentials into one scratch row. MiniLM's
    16-wide int16 rows went from 4.3 to 1.5 ns per element (another axis: `softmax_strided`, whose
    3-D indexing and second gather cost about 2x); the table index as uint64 (it lies in [0, span]) drops
    numba's negative-index select: 1.5 -> 1.25 ns.
    """
    rows, n = x.shape
    e = np.empty(n, np.int64)
    for blk in range(blk0, blk1):
        for r in range(blk * _SOFTMAX_BLOCK, min(rows, (blk + 1) * _SOFTMAX_BLOCK)):
            m = np.int64(x[r, 0])
            for k in range(1, n):
                m = max(m, np.int64(x[r, k]))
            base = span - m
            total = np.int64(0)
            for k in range(n):
                v = np.int64(table[np.uint64(np.int64(x[r, k]) + base)])  # in [0, span]: no wrap select
                e[k] = v
                total += v
            den = total << shift
            if den == 0:
                for k in range(n):
                    out[r, k] = 0
                continue
            d2 = 2 * den
            if 0 < d2 < _FAST_LIMIT and table_abs < (_FAST_LIMIT - d2) // (2 * mult + 1):
                inv = 1.0 / np.float64(d2)
                for k in range(n):
                    out[r, k] = clamp(floor_divide(2 * (e[k] * mult) + den, d2, inv), lo, hi)
            else:
                for k in range(n):
                    out[r, k] = clamp((2 * (e[k] * mult) + den) // d2, lo, hi)


@row_kernel(lambda x, table, table_abs, span, mult, shift, lo, hi, out: x.shape[0] * x.shape[2])
def softmax_strided(r0, r1, x, table, table_abs, span, mult, shift, lo, hi, out):
    """`softmax_rows` along the middle axis of (outer, n, inner) views (a softmax over a non-last axis)."""
    outer, n, inner = x.shape
    for r in range(r0, r1):
        o = r // inner
        i = r - o * inner
        m = np.int64(x[o, 0, i])
        for k in range(1, n):
            m = max(m, np.int64(x[o, k, i]))
        base = span - m
        total = np.int64(0)
        for k in range(n):
            total += np.int64(table[np.int64(x[o, k, i]) + base])
        den = total << shift
        if den == 0:
            for k in range(n):
                out[o, k, i] = 0
            continue
        d2 = 2 * den
        fast = 0 < d2 < _FAST_LIMIT and table_abs < (_FAST_LIMIT - d2) // (2 * mult + 1)
        inv = 1.0 / np.float64(d2)
        for k in range(n):
            num = 2 * (np.int64(table[np.int64(x[o, k, i]) + base]) * mult) + den
            q = floor_divide(num, d2, inv) if fast else num // d2
            out[o, k, i] = clamp(q, lo, hi)


@numba.njit(inline="always", cache=True)
def isqrt(t: np.int64) -> np.int64:
    """``floor(sqrt(t))`` for ``0 <= t < 2**63``: a float estimate corrected by integer comparisons.

    The comparisons divide instead of squaring, so ``(r + 1)**2`` never overflows near 2**63.
    """
    r = np.int64(np.sqrt(np.float64(t)))
    while r > 0 and r > t // r:
        r -= 1
    while r + 1 <= t // (r + 1):
        r += 1
    return r


@numba.njit(inline="always", cache=True)
def product_round_shift(a: np.int64, m: np.int64, s: np.int64, mode: int) -> np.int64:
    """``round(a * m / 2**s)`` exactly even where ``a * m`` leaves int64 (``0 <= m < 2**31``, ``|a| < 2**47``).

    The usual case is the shared `round_shift` on the int64 product. Beyond the oracle's int64 bound,
    ``m = mh * 2**16 + ml`` makes both partial products fit: ``a * m = X * 2**16 + bl`` with
    ``X = a * mh + (a * ml >> 16)`` and ``0 <= bl < 2**16``, so the floor and the remainder follow
    without the 94-bit product. There, a shift below 16 means ``|a * m| / 2**s >= 2**46``: only the
    side of saturation matters, and a value of that magnitude with the right sign is returned.
    """
    if m == 0 or (a if a >= 0 else -a) < _PRODUCT_LIMIT // m:
        return round_shift(a * m, s, mode)
    if s < 16:
        return _saturating_sign(a, m)
    b = a * (m & 0xFFFF)
    x = a * (m >> 16) + (b >> 16)
    bl = b & 0xFFFF
    t = s - 16
    q = x >> t
    rem = ((x - (q << t)) << 16) + bl  # in [0, 2**s)
    if mode == FLOOR:
        return q
    half = np.int64(1) << (s - 1)
    if mode == HALF_UP:
        return q + (1 if rem >= half else 0)
    if rem > half:
        return q + 1
    if rem == half:
        if mode == HALF_EVEN and (q & 1) == 1:
            return q + 1
        if mode == HALF_AWAY and q >= 0:
            return q + 1
    return q


@numba.njit(inline="always", cache=True)
def _saturating_sign(a: np.int64, m: np.int64) -> np.int64:
    """A value beyond every storage range with the sign of ``a * m`` (``m >= 0``)."""
    if m == 0 or a == 0:
        return np.int64(0)
    return np.int64(1) << 46 if a > 0 else -(np.int64(1) << 46)


@row_kernel(lambda x, gamma, beta, frac_bits, sqrt_frac_bits, eps, mult, shift, mode, lo, hi, out: x.shape[0])
def layer_norm_rows(r0, r1, x, gamma, beta, frac_bits, sqrt_frac_bits, eps, mult, shift, mode, lo, hi, out):
    """Integer layer norm over the last axis of (rows, n) views (the bpu dialect's definition).

    ``c = n*x - sum(x)``, ``v = n*sum(x^2) - sum(x)^2 + eps``, ``r = max(1, isqrt(v << 2G))``,
    ``z = round_half_up(c * 2**(F+G) / r)``, ``acc = z * gamma + beta``, then one requantize by (M, S).
    A row whose bounds (``|c| <= n * (max - min)``, so ``|z| <= |2 * (c << F+G) + r| / 2r + 1``) keep the
    quotient below 2**50 and ``|acc| * M`` inside int64 takes the fast loop: reciprocal division
    (`floor_divide`) and the plain `round_shift`; any other row the general one (int64 division, and
    `product_round_shift` where ``acc * M`` may leave int64). Both compute the same integers.
    """
    rows, n = x.shape
    two_g = np.int64(2 * sqrt_frac_bits)
    f_g = np.int64(frac_bits + sqrt_frac_bits)
    g_abs = np.int64(0)
    b_abs = np.int64(0)
    for k in range(n):
        g_abs = max(g_abs, abs(np.int64(gamma[k])))
        b_abs = max(b_abs, abs(np.int64(beta[k])))
    acc_limit = _PRODUCT_LIMIT // mult if mult > 0 else _PRODUCT_LIMIT
    for i in range(r0, r1):
        s1 = np.int64(0)
        s2 = np.int64(0)
        x_min = np.int64(x[i, 0])
        x_max = x_min
        for k in range(n):
            v = np.int64(x[i, k])
            s1 += v
            s2 += v * v
            x_min = min(x_min, v)
            x_max = max(x_max, v)
        var = n * s2 - s1 * s1 + eps
        r = isqrt(var << two_g)
        if r < 1:
            r = np.int64(1)
        d2 = 2 * r
        c_abs = n * (x_max - x_min)
        fast = f_g < 48 and c_abs < (np.int64(1) << (48 - f_g)) and d2 < _FAST_LIMIT
        if fast:
            z_abs = (2 * (c_abs << f_g) + r) // d2 + 1
            fast = z_abs < (acc_limit - b_abs) // (g_abs + 1)
        if fast and mode == HALF_UP:  # the usual rounding, branch-free: this loop vectorises
            inv = 1.0 / np.float64(d2)
            half = np.int64(1) << (shift - 1)
            for k in range(n):
                c = n * np.int64(x[i, k]) - s1
                z = floor_divide(2 * (c << f_g) + r, d2, inv)
                acc = z * np.int64(gamma[k]) + np.int64(beta[k])
                out[i, k] = min(max((acc * mult + half) >> shift, lo), hi)
        elif fast:
            inv = 1.0 / np.float64(d2)
            for k in range(n):
                c = n * np.int64(x[i, k]) - s1
                z = floor_divide(2 * (c << f_g) + r, d2, inv)
                acc = z * np.int64(gamma[k]) + np.int64(beta[k])
                out[i, k] = clamp(round_shift(acc * mult, shift, mode), lo, hi)
        else:
            for k in range(n):
                c = n * np.int64(x[i, k]) - s1
                z = (2 * (c << f_g) + r) // d2
                acc = z * np.int64(gamma[k]) + np.int64(beta[k])
                out[i, k] = clamp(product_round_shift(acc, mult, shift, mode), lo, hi)
