"""Parallel kernels with a serial twin: a thread launch costs more than most of a network's ops.

Measured on the 2-core benchmark box (load 1-6): calling a `parallel=True` Numba function costs
about 110 us on the workqueue threading layer even with one thread (the caller hands the work to a
worker thread and sleeps until it is done), against 0.14 us for a plain `njit` function (OpenMP's
layer costs 1.5-2.7 us while its workers spin, but is not used: docs/design.md, "The threading layer
stays workqueue"). The digits CNN's 20 ops on 8x8 images spent most of their 60 us per op there,
and MobileNetV2 makes a few hundred kernel calls per image. So every kernel is compiled twice from the
same Python function: `parallel=True` and serial (`prange` runs as `range`), and each call takes the
serial twin unless more than one thread is configured *and* the call is big enough for the split to
repay the launch.

The twin is a copy of the function under another qualified name (`<name>_serial`), because Numba's
cache index keys on the function's name and bytecode, not on the `parallel` flag: under one name the
two variants would overwrite each other's cache entries.
"""

from __future__ import annotations

import types as pytypes

import numba
import numpy as np

from . import native_parts, spin_pool
from .bound_call import BoundCall, PerThreadCount

#: A call runs in parallel only when its largest array argument has at least this many elements:
#: at 1-5 ns per element a serial pass of this size takes 130-650 us, so splitting it over 2 threads
#: saves more than the ~110 us launch.
PARALLEL_MIN_ELEMENTS = 1 << 17
#: The split threshold of `RowKernel`s (depthwise convs, the input quantize, global average pools): with the
#: native hand-off (`native_parts`, 15.5 us median for an empty part against 71.9 us through Python) smaller
#: rows repay a split. bench/split_thresholds.py on the idle box, 2026-12-02 (2-thread / 1-thread median,
#: with the GEMM threshold at 2M MACs): MobileNetV2 b1 0.90 at 2**15 against 0.98 at 2**17, b8 0.62 / 0.65.
ROW_MIN_ELEMENTS = 1 << 15
#: The same threshold for `RowKernel`s that only move bytes (the convs' padded copies, about 0.04 ns per
#: byte): handing a range to the pool costs tens of microseconds, so the 56x56x64 NCHW input's copy into
#: its padded buffer took 26 us split over 2 threads against 8 us on one (2026-12-01, load 20; its 200 KB
#: were above PARALLEL_MIN_ELEMENTS). At 2M bytes one thread copies for about 80 us.
COPY_MIN_ELEMENTS = 1 << 21


class Kernel:
    """A `parallel=True` dispatcher and its serial twin; calling it picks one (see module doc).

    `parallel` and `serial` are the two Numba dispatchers (their cache statistics are Numba's own);
    `pick(work)` chooses once, at plan time, for callers that know their work (e.g. a GEMM's MACs).
    """

    def __init__(self, fn):
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__
        self.py_func = fn
        self.parallel = numba.njit(parallel=True, cache=True)(fn)
        twin = pytypes.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__,
                                    fn.__closure__)
        twin.__qualname__ = fn.__qualname__ + "_serial"
        twin.__module__ = fn.__module__
        twin.__doc__ = fn.__doc__
        self.serial = numba.njit(cache=True)(twin)

    def pick(self, elements: int):
        """The dispatcher for a call touching about `elements` array elements, under the current thread count."""
        if elements >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1:
            return self.parallel
        return self.serial

    def pick_split(self, elements: int) -> tuple:
        """(dispatcher, workers): `pick`, and the number of parts a kernel taking a `workers` argument
        should split its loop into (the configured threads for the parallel twin, 1 for the serial)."""
        run = self.pick(elements)
        return run, (numba.get_num_threads() if run is self.parallel else 1)

    def __call__(self, *args):
        largest = 0
        for a in args:
            if isinstance(a, np.ndarray) and a.size > largest:
                largest = a.size
        return self.pick(largest)(*args)

    def dispatchers(self) -> tuple:
        return self.parallel, self.serial


def kernel(fn) -> Kernel:
    """Decorator: compile `fn` as a cached parallel kernel with a serial twin."""
    return Kernel(fn)


def _run_parts(native: native_parts.NativeCall, fn, parts: int, args: tuple, rows: int = 0) -> list:
    """The results of `parts` parts of `fn` on `args`, part 0 on this thread and the others on the spinning pool:
    launched natively when the arguments pack (`native_parts`), else, or when a part raised (to raise it),
    through the pool's Python path. The two leading arguments are ``(part, parts)``, or with `rows` the
    part's range of `rows` rows in even shares."""
    pool = spin_pool.pool(parts - 1)
    bound = native.bind(args) if native_parts.ENABLED else None
    results = pool.launch(bound, parts, args, rows) if bound is not None else None
    if results is not None:
        return results
    return pool.run([(fn, (*native_parts.leading(i, parts, rows), *args)) for i in range(parts)])


class RowKernel:
    """A kernel over independent row ranges: one `nogil` Numba function ``rows(r0, r1, *args)``, split
    over the threads when more than one is configured and its largest array has `min_elements` elements.

    Why not a `parallel=True` twin: Numba compiles a parallel wrapper per kernel with 2-5 s of fixed
    work each (its parfor passes, whatever the body), and those wrappers were a fifth of MobileNetV2's
    cold start at 2 threads. Here there is one compiled function; the parallel call runs the first range
    on the caller's thread and the others on the spinning pool (`spin_pool`, launched natively by
    `native_parts`: a hand-off costs microseconds while its workers poll, below the workqueue launch;
    `min_elements` is the split threshold, higher for pure copies: `COPY_MIN_ELEMENTS`). `count(*args)`
    gives the number of rows; the results of the ranges are added (a check count), None when the function
    returns nothing.
    """

    def __init__(self, rows_fn, count, min_elements: int = ROW_MIN_ELEMENTS):
        self.rows = numba.njit(cache=True, nogil=True)(rows_fn)
        self.native = native_parts.NativeCall(self.rows)
        self.count = count
        self.min_elements = min_elements
        self.__name__ = rows_fn.__name__
        self.__doc__ = rows_fn.__doc__
        self.__module__ = rows_fn.__module__

    def __call__(self, *args):
        total = self.count(*args)
        parts = self._parts(numba.get_num_threads(), total, args)
        if parts < 2:
            return self.rows(0, total, *args)
        results = _run_parts(self.native, self.rows, parts, args, total)
        return None if results[0] is None else sum(results)

    def _parts(self, threads: int, total: int, args: tuple) -> int:
        """How many row ranges a call over `total` rows takes with `threads` threads."""
        if threads < 2:  # before scanning the arguments: a call of a few microseconds' work is common
            return 1
        largest = max((a.size for a in args if isinstance(a, np.ndarray)), default=0)
        return 1 if largest < self.min_elements or total < 2 else min(threads, total)

    def bind(self, *args):
        """This call on these arguments as a zero-argument callable, packed once per thread count
        (`bound_call`): for a plan's arrays, which never change. The dispatcher's per-call check of a
        depthwise conv's 21 arguments took 3-5 us, a split call's Python hand-off 9-13 us."""
        total = self.count(*args)

        def make(threads: int):
            if not native_parts.ENABLED:
                return None
            parts = self._parts(threads, total, args)
            return BoundCall.bind(self.rows, self.native, (0, total), args, parts, total if parts > 1 else 0)

        return PerThreadCount(make, lambda: self(*args))

    def dispatchers(self) -> tuple:
        return (self.rows,)


class PartKernel:
    """A kernel whose work divides into `parts` independent parts: one `nogil` Numba function
    ``fn(part, parts, *args) -> int``, part 0 run on the caller's thread and the others on the shared pool.

    Why not a `parallel=True` twin (`Kernel`): the VNNI GEMM's parallel twin was a second full compile of
    its micro-kernels (the demo's two MobileNetV2 programs compiled in 72 s, 36 s without it, 2026-12-02),
    and every call of it paid the workqueue launch (93 us on an idle box) that the spinning pool
    (`spin_pool`, launched natively by `native_parts`) undercuts. Each part returns a count (the GEMM's
    out-of-range accumulators) and a call their sum, or nothing.
    """

    def __init__(self, fn, min_work: int = PARALLEL_MIN_ELEMENTS):
        self.fn = numba.njit(cache=True, nogil=True)(fn)
        self.native = native_parts.NativeCall(self.fn)
        self.min_work = min_work
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__

    def parts_for(self, work: int) -> int:
        """How many parts a call of about `work` units (`min_work` per thread repays a hand-off) runs in:
        the configured thread count, or 1."""
        threads = numba.get_num_threads()
        return threads if threads > 1 and work >= self.min_work else 1

    def bound(self, args: tuple, parts: int = 1):
        """A call of `parts` parts on `args` packed once (`bound_call.BoundCall`), or None when they do not
        pack: for a plan whose arrays never change. None as well while `native_parts.ENABLED` is off (the
        tests' switch to the dispatcher path)."""
        if not native_parts.ENABLED:
            return None
        return BoundCall.bind(self.fn, self.native, (0, 1), args, parts)

    def __call__(self, parts: int, *args):
        if parts < 2:
            return self.fn(0, 1, *args)
        results = _run_parts(self.native, self.fn, parts, args)
        return None if results[0] is None else sum(results)

    def dispatchers(self) -> tuple:
        return (self.fn,)


def part_kernel(min_work: int = PARALLEL_MIN_ELEMENTS):
    """Decorator: a `PartKernel` of ``fn(part, parts, *args)``, split only when a call's work is at least
    `min_work`."""
    return lambda fn: PartKernel(fn, min_work)


def row_kernel(count, min_elements: int = ROW_MIN_ELEMENTS):
    """Decorator: a `RowKernel` of ``fn(r0, r1, *args)`` whose row count is ``count(*args)``, split over threads
    only when its largest array has at least `min_elements` elements."""
    return lambda fn: RowKernel(fn, count, min_elements)
