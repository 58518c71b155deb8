"""Where splitting a kernel over 2 threads starts to pay, with the native hand-off (kernels/native_parts.py).

    python bench/split_thresholds.py [--gemm 2e6 8e6 52e6] [--rows 32768 131072] [--rounds 7] [--no-mobilenet]

A GEMM splits from `vnni.GEMM_MIN_WORK` MACs, a row kernel from `launch.ROW_MIN_ELEMENTS` elements (2M and
2**15 since 2026-12-02, measured with this script; 52M and 2**17 while a part went through Python, docs/design.md,
"Parts launch with no Python between post and done"). This prints, for each pair of settings, each
workload's median wall time at 2 threads as a ratio to the same workload on 1 thread in the same process
(below 1.00: the split pays),
settings alternated round by round so that the box's drifting load falls on all of them alike. Workloads:
bench/runtime.py's conv and matmul and MobileNetV2 at batch 1 and 8 (bench/_bpu_programs.py). Also the
median hand-off of an empty part, native and on the Python path. Run it on an idle box: a busy one delays
the other thread by a scheduler slice and every split looks slower.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _bpu_programs import conv_program, matmul_program, mobilenet_v2_program  # noqa: E402
from irq.runtime import numba as rn  # noqa: E402
from irq.runtime.numba.kernels import launch, native_parts, vnni  # noqa: E402


def _row_kernels() -> list:
    """Every RowKernel at the general threshold (the copies keep COPY_MIN_ELEMENTS: they only move bytes)."""
    from irq.runtime.numba.kernels import conv, depthwise, pool, requantize  # noqa: F401  (the row kernels' modules)

    found = []
    for name, mod in list(sys.modules.items()):
        if not name.startswith("irq.runtime.numba.kernels.") or mod is None:
            continue
        for obj in vars(mod).values():
            if isinstance(obj, launch.RowKernel) and obj.min_elements == launch.ROW_MIN_ELEMENTS \
                    and obj not in found:
                found.append(obj)
    return found


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _handoff_us(native: bool, calls: int = 3000) -> float:
    @launch.part_kernel(0)
    def empty(part, parts, out):
        out[part] = part
        return 0

    out = np.zeros(2, np.int64)
    native_parts.ENABLED = native
    try:
        empty(2, out)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            empty(2, out)
            times.append(time.perf_counter_ns() - t0)
    finally:
        native_parts.ENABLED = True
    return statistics.median(times) / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gemm", type=float, nargs="+", default=[2e6, 8e6, 52e6], help="GEMM split thresholds (MACs)")
    ap.add_argument("--rows", type=int, nargs="+", default=[32768, 131072], help="row-kernel thresholds (elements)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=15, help="timed calls per workload per round (median kept)")
    ap.add_argument("--no-mobilenet", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    workloads = [("conv 64x56x56 3x3", rn.compile(conv_program()),
                  rng.integers(-128, 128, (1, 64, 56, 56)).astype(np.int8)),
                 ("matmul 128x768x768", rn.compile(matmul_program()),
                  rng.integers(-128, 128, (128, 768)).astype(np.int8))]
    if not args.no_mobilenet:
        mobilenet = rn.compile(mobilenet_v2_program(1))
        for batch in (1, 8):
            workloads.append((f"mobilenet_v2 b{batch}", mobilenet,
                              rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)))
    rows = _row_kernels()
    settings = list(itertools.product(args.gemm, args.rows))
    one: dict = {name: [] for name, _, _ in workloads}
    two: dict = {(s, name): [] for s in settings for name, _, _ in workloads}
    for _, f, x in workloads:  # warm: compile every variant once at both thread counts
        for threads in (1, 2):
            numba.set_num_threads(threads)
            f(x)
    for _ in range(args.rounds):
        numba.set_num_threads(1)
        for name, f, x in workloads:
            one[name].append(_median_ms(lambda f=f, x=x: f(x), args.runs))
        numba.set_num_threads(2)
        for s in settings:
            vnni.gemm_epilogue.min_work = int(s[0])
            for k in rows:
                k.min_elements = s[1]
            for name, f, x in workloads:
                two[(s, name)].append(_median_ms(lambda f=f, x=x: f(x), args.runs))
    numba.set_num_threads(2)
    native, python = _handoff_us(True), _handoff_us(False)
    print(f"empty hand-off, median of 3000: native {native:.1f} us, Python path {python:.1f} us")
    print(f"{'workload':22s} {'1 thread ms':>12s} " + " ".join(f"{f'{g / 1e6:g}M/{r}':>14s}" for g, r in settings))
    for name, _, _ in workloads:
        base = statistics.median(one[name])
        cells = " ".join(f"{statistics.median(two[(s, name)]) / base:14.2f}" for s in settings)
        print(f"{name:22s} {base:12.3f} {cells}")
    print("cells: 2-thread median / 1-thread median, same process (GEMM threshold in MACs / row threshold)")


if __name__ == "__main__":
    main()
