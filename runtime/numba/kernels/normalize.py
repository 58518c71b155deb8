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

from .launch import kernel
from .requantize import FLOOR, HALF_AWAY, HALF_EVEN, HALF_UP, clamp, round_shift

#: ``|acc| * M`` below this leaves room for the rounding term (the oracle's int64 bound, arithmetic.py).
_PRODUCT_LIMIT = np.int64(1) << 62


@kernel
def softmax_rows(x, table, span, mult, shift, lo, hi, out):
    """Softmax along the middle axis of (outer, n, inner) views.

    ``e = table[x - max + span]``; ``out = (2 * e * M + den) // (2 * den)`` with ``den = sum(e) << S``
    (round half up of ``e * M / (sum(e) * 2**S)``, by exact integer division), then saturation.
    A row whose exponentials sum to 0 (a degenerate table) gives 0, as numpy's integer division by 0 does.
    """
    outer, n, inner = x.shape
    for r in numba.prange(outer * inner):
        o = r // inner
        i = r % inner
        m = np.int64(x[o, 0, i])
        for k in range(1, n):
            v = np.int64(x[o, k, i])
            if v > m:
                m = v
        total = np.int64(0)
        for k in range(n):
            total += np.int64(table[np.int64(x[o, k, i]) - m + span])
        den = total << shift
        for k in range(n):
            if den == 0:
                out[o, k, i] = 0
                continue
            num = np.int64(table[np.int64(x[o, k, i]) - m + span]) * mult
            out[o, k, i] = clamp((2 * num + den) // (2 * den), lo, hi)


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


@kernel
def layer_norm_rows(x, gamma, beta, frac_bits, sqrt_frac_bits, eps, mult, shift, mode, lo, hi, out):
    """Integer layer norm over the last axis of (rows, n) views (the bpu dialect's definition).

    ``c = n*x - sum(x)``, ``v = n*sum(x^2) - sum(x)^2 + eps``, ``r = max(1, isqrt(v << 2G))``,
    ``z = round_half_up(c * 2**(F+G) / r)``, ``acc = z * gamma + beta``, then one requantize by (M, S).
    """
    rows, n = x.shape
    two_g = np.int64(2 * sqrt_frac_bits)
    f_g = np.int64(frac_bits + sqrt_frac_bits)
    for i in numba.prange(rows):
        s1 = np.int64(0)
        s2 = np.int64(0)
        for k in range(n):
            v = np.int64(x[i, k])
            s1 += v
            s2 += v * v
        var = n * s2 - s1 * s1 + eps
        r = isqrt(var << two_g)
        if r < 1:
            r = np.int64(1)
        for k in range(n):
            c = n * np.int64(x[i, k]) - s1
            z = (2 * (c << f_g) + r) // (2 * r)
            acc = z * np.int64(gamma[k]) + np.int64(beta[k])
            out[i, k] = clamp(product_round_shift(acc, mult, shift, mode), lo, hi)

