"""Latency of one call as the median wall and the median process CPU time, for the benchmarks that
compare irq with a peer in the same run (bench/end_to_end.py, bench/minilm.py).

On the shared 2-core box a call longer than a scheduler slice waits for other processes' turns, so wall
times swing 2-10x with the load average while CPU times stay comparable (bench/runtime.py measured the
same); both are printed, ratios use CPU time. Every side runs one thread (torch.set_num_threads(1)),
so process CPU time is the call's own work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Latency(NamedTuple):
    wall_ms: float
    cpu_ms: float


def latency(fn: Callable[[], object], reps: int) -> Latency:
    """Median wall and CPU milliseconds of `fn()` over `reps` calls, after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(max(1, reps)):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return Latency(float(np.median(walls) * 1e3), float(np.median(cpus) * 1e3))


def latencies_interleaved(fns: list[Callable[[], object]], reps: int) -> list[Latency]:
    """`latency` of each of `fns`, measured round-robin (rep 1 of each, then rep 2, ...) after one warm-up
    call each: on a loaded machine the load drifts over a run, and timing one function's reps and then the
    next's gave the same program 27 ms CPU in one block and 31 in another, a drift the ratios then took
    for a difference between the functions."""
    for fn in fns:
        fn()
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, reps)):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.process_time() - c0)
    return [Latency(float(np.median(w) * 1e3), float(np.median(c) * 1e3)) for w, c in zip(walls, cpus)]
