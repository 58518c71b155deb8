"""Which route a conv2d takes: the VNNI GEMM or the float one, the direct form or im2col, and how its groups run.

Split from conv.py (the plan and its kernels) because these are the rules, each measured per shape and
changed on its own: `vnni_route` (exact int8 GEMM or float BLAS), `direct_route` (no im2col), and
`group_merge` / `block_diagonal` (grouped convs as one dense conv, or merged groups, on block-diagonal
weights). docs/design.md ("Direct convs", "Strided convs run direct", "Grouped convs of few channels")
keeps the measurements behind each threshold.
"""

from __future__ import annotations

import numpy as np

from . import vnni


def vnni_route(x_dtype: np.dtype, weight: np.ndarray, k: int) -> bool:
    """True when a GEMM of `x_dtype` activations and `weight` over K = `k` runs exactly on VNNI.

    Needs int8 activations, weights whose values fit int8 (constants may be stored wider), K within
    the int32 lane bound, and the CPU feature; anything else takes the float route.
    """
    if np.dtype(x_dtype) != np.int8 or k > vnni.MAX_K or not vnni.available():
        return False
    if weight.dtype == np.int8:
        return True
    return weight.dtype.kind == "i" and (weight.size == 0 or (weight.min() >= -128 and weight.max() <= 127))


#: Strided convs run direct up to this many channels per pixel (C padded to 4). The direct route reads
#: every stride-th padded pixel of each output row in place, one output row per "image" (`row_images`);
#: im2col copies each tap's C bytes per output pixel first. Measured 2026-12-03 (session 24, one thread,
#: the conv step alone, both routes in one process, best of 4 rounds; AMX / VNNI): the 3-channel stems
#: go 4.2-4.8x faster direct (7x7 s2 3->64 at 224: 5.6 -> 1.2 ms), 3x3 s2 convs of 16-128 channels
#: 1.05-1.61x / 1.06-1.62x; from 256 channels im2col wins (3x3 s2 256->256 at 28x28 0.85x / 0.86x,
#: 512->512 at 14x14 0.39x / 0.81x: the rows' long K keeps im2col's GEMM efficient and a short output
#: row leaves the direct route's blocks part-empty). Until then the rule was K <= 64 (the 3-channel 3x3
#: stem only), set when the direct route still computed and dropped every other row.
DIRECT_STRIDED_MAX_C = 128


def direct_route(x_dtype: np.dtype, weight: np.ndarray, c: int, stride: tuple[int, int], groups: int) -> bool:
    """True when the conv runs as a direct VNNI GEMM over the padded input (no im2col; module doc).

    Needs one group, int8 or int16 activations and int8-valued weights within the lane bound, and
    stride 1 or an equal stride on both axes with at most `DIRECT_STRIDED_MAX_C` channels. C is padded
    to a multiple of 4 in the copy (each tap's K slice on a 4-byte boundary).
    """
    o, cg, kh, kw = weight.shape
    if groups != 1 or np.dtype(x_dtype) not in (np.int8, np.int16):
        return False
    sh, sw = stride
    cp = -(-c // 4) * 4
    k = kh * kw * cp
    if (sh, sw) != (1, 1) and (sh != sw or cp > DIRECT_STRIDED_MAX_C):
        return False
    return vnni_route(np.dtype(np.int8), weight, k)


#: Grouped convs run as one dense conv over a block-diagonal weight (`block_diagonal`) when their input has at
#: most this many channels, or, for 1x1 convs, their groups have under `DENSE_1X1_GROUP_CHANNELS` channels, for at most
#: `DENSE_MAX_GROUPS` groups. Why: one GEMM per group of a few channels runs at 1-60 GMAC/s, the dense conv
#: at 70-310 even with `groups` times the MACs (the zeros). Measured 2026-12-03 (session 24, one thread, the
#: conv step alone, 28x28, grouped / dense): 64 channels 1x1 g2 110 / 48 us, g32 1256 / 48; 128 3x3 g4
#: 553 / 411, g32 3367 / 411; 256 1x1 g8 386 / 244 (merged to 64 channels: 316; the dense 1x1 reads its
#: input in place, a grouped one through im2col). Past 128 channels a kxk conv's groups are merged to 64
#: channels instead (`group_merge`): 256 3x3 g32 as given / dense / merged 3805 / 1314 / 941 us, at
#: 56x56 6507 (dense) / 3763 (merged), g16 949 / 942 (dense / merged).
DENSE_GROUP_MAX_CHANNELS = 128
DENSE_1X1_GROUP_CHANNELS = 128
DENSE_MAX_GROUPS = 64
#: Otherwise groups of fewer channels are merged up to this many channels (`group_merge`): one 64-column
#: panel of the GEMM when the merged group has as many outputs as inputs.
MERGED_GROUP_CHANNELS = 64


def group_merge(c: int, groups: int, cg: int, kh: int, kw: int) -> int:
    """How many neighbouring groups `Conv2dPlan` merges into one: all of them (one dense conv) where that pays,
    else as many as keep a merged group within `MERGED_GROUP_CHANNELS` channels (1: the groups as given).

    Why merge at all where the dense conv does not pay: one GEMM per group of under 64 channels stays slow
    even with a long K. Measured (2026-12-03, session 24, one thread, the conv step alone, as given / merged
    to 64 channels, best of 6 rounds in one process): 3x3 512 g32 at 14x14 1184 / 734 us, 256 g8 at 28x28
    1181 / 916, 1024 g32 at 7x7 5259 / 2643, 512 g16 at 7x7 1272 / 729, 384 g12 at 14x14 707 / 479."""
    narrow_1x1 = kh * kw == 1 and cg < DENSE_1X1_GROUP_CHANNELS  # its dense form reads the input in place
    if groups <= DENSE_MAX_GROUPS and (c <= DENSE_GROUP_MAX_CHANNELS or narrow_1x1):
        return groups
    if cg >= MERGED_GROUP_CHANNELS:
        return 1
    return max(m for m in range(1, groups + 1) if groups % m == 0 and cg * m <= MERGED_GROUP_CHANNELS)


def block_diagonal(weight: np.ndarray, groups: int, merge: int) -> np.ndarray:
    """The (O, C / groups * merge, kh, kw) weight of a grouped (O, C / groups, kh, kw) one whose groups are merged
    `merge` at a time: within each merged group, group g's filters on its own channels and zeros elsewhere.
    Exact: a zero weight adds nothing, and every output's sum of |w| (the accumulator bound) is unchanged."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    merged = np.zeros((o, cg * merge, kh, kw), weight.dtype)
    for g in range(groups):
        at = g % merge
        merged[g * og:(g + 1) * og, at * cg:(at + 1) * cg] = weight[g * og:(g + 1) * og]
    return merged
