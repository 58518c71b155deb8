"""Let LLVM vectorise the Numba kernels with 512-bit registers on AVX-512 hosts.

Why: LLVM's tuning for every AVX-512 Intel core since Skylake-X carries the `prefer-256-bit` flag, so
loops that Numba compiles are vectorised with ymm registers even where zmm ones exist. Most of
MobileNetV2's time is in loops LLVM vectorises itself, not in the hand-built VNNI microkernels: the
depthwise convs' nine int32 taps and the int64 requantize that follows every conv (together about half
of a batch-8 run). Measured on the 2-core AMX box (2026-12-03, one thread, medians, each pair of runs
back to back, separate Numba caches): MobileNetV2 batch 8 61-79 ms with 512-bit vectors against
84-95 ms with LLVM's default (1.12-1.38x), batch 1 8.9-11.9 ms against 12.1-13.2 ms; one depthwise
layer (8x56x56x144) 1.32-1.34 against 1.67-2.11 ns per output.

The flag only changes which vector width LLVM picks; integer results cannot depend on it, and no
kernel uses fastmath, so float ones do not either. It lives in Numba's target-machine features, which
Numba reads once, when its CPU target is first built, and which key its on-disk cache (kernels cached
under the other setting are compiled again, not reused). So it is set when the runtime is imported,
before any kernel compiles, and left alone when:

- the user chose the target (NUMBA_CPU_NAME or NUMBA_CPU_FEATURES, e.g. for a portable cache);
- IRQ_VECTOR_WIDTH=256 asks for LLVM's default;
- the process compiled Numba code before importing the runtime (the features are already fixed);
- the host lacks AVX-512 (F, BW, VL, DQ), where the flag means nothing.
"""

from __future__ import annotations

import os

import numba

#: Why the last call left the features alone ("" when it set them).
reason_unchanged = ""


def prefer_512_bit_vectors() -> bool:
    """Drop LLVM's `prefer-256-bit` tuning from Numba's target features; True when it was set here."""
    global reason_unchanged
    reason_unchanged = _reason_to_leave_alone()
    if reason_unchanged:
        return False
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    if not all(features.get(f, False) for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        reason_unchanged = "the host has no AVX-512"
        return False
    numba.config.CPU_FEATURES = features.flatten() + ",-prefer-256-bit"
    return True


def _reason_to_leave_alone() -> str:
    if os.environ.get("IRQ_VECTOR_WIDTH", "512") == "256":
        return "IRQ_VECTOR_WIDTH=256"
    if numba.config.CPU_NAME is not None or numba.config.CPU_FEATURES is not None:
        return "NUMBA_CPU_NAME or NUMBA_CPU_FEATURES chose the target"
    from numba.core.registry import cpu_target

    if "_toplevel_target_context" in vars(cpu_target):
        return "Numba's CPU target was built before the runtime was imported"
    return ""
