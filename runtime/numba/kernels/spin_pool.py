"""Worker threads that spin between kernel parts, so a 2-thread call does not wait for a sleeping thread.

Why: on the 2-core benchmark VM a thread that sleeps between calls takes tens to hundreds of
microseconds to wake (a futex wake of an idle vCPU). Measured 2026-12-02, idle box, an empty part
handed to the other thread: 254 us median (64 us best) through a `ThreadPoolExecutor`, against a
workqueue `parallel=True` launch of 93 us and a 128x768x768 GEMM of 0.40 ms on one thread; the
2-thread GEMM's median (0.65 ms) was slower than the 1-thread one. Here both sides wait by polling a
shared board in `nogil` code: a worker polls for its next part for `SPIN_SECONDS` (0.2 ms, in polls)
after finishing one, then sleeps on an event until the next post; the caller polls for the parts'
completion the same way after running part 0 itself. Polls are atomic acquire loads with a `pause`
between them (a plain load in the loop may be hoisted out of it by LLVM).

The bound keeps the spinning short: unlike OpenMP's default spin, which kept a core busy for more than
100 ms after one call (docs/design.md, "The threading layer stays workqueue"), a worker stops polling
0.2 ms after its last part.
"""

from __future__ import annotations

import os
import threading
import time

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: How long a waiting side polls before it sleeps, converted to polls (an acquire load and a `pause` each,
#: about 1-40 ns depending on the CPU's pause latency) by `_calibrated_polls`.
SPIN_SECONDS = 200e-6


@intrinsic
def _load_acquire(typingctx, addr):
    """The int64 at byte address `addr`, loaded atomically with acquire ordering, then a `pause`."""

    def codegen(context, builder, sig, args):
        ptr = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        value = builder.load_atomic(ptr, "acquire", 8)
        pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                               "llvm.x86.sse2.pause")
        builder.call(pause, [])
        return value

    return types.int64(types.uintp), codegen


@numba.njit(nogil=True, cache=True)
def poll_until_changed(addr, seen, polls):
    """Poll the int64 at `addr` until it differs from `seen` or `polls` polls pass; return the last value."""
    value = _load_acquire(addr)
    for _ in range(polls):
        if value != seen:
            return value
        value = _load_acquire(addr)
    return value


def _calibrated_polls() -> int:
    """Polls that take about `SPIN_SECONDS` here (the cost of `pause` differs tenfold between CPUs)."""
    board = np.zeros(1, np.int64)
    poll_until_changed(board.ctypes.data, 0, 1)
    probe = 1 << 14
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        poll_until_changed(board.ctypes.data, 0, probe)
        best = min(best, time.perf_counter() - t0)
    return max(1_000, int(probe * SPIN_SECONDS / max(best, 1e-9)))


class SpinPool:
    """`workers` daemon threads; `run(calls)` runs ``calls[0]`` on the caller and the others on the workers.

    Board layout (int64): ``board[2 * w]`` is the sequence number of the last part posted to worker w,
    ``board[2 * w + 1]`` that of the last part it finished. A worker reads its job (function, arguments)
    after seeing a new post, and the caller reads the result after seeing it finished.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self.polls = _calibrated_polls()
        self.board = np.zeros(2 * workers, np.int64)
        self.addr = self.board.ctypes.data
        self.jobs: list = [None] * workers
        self.results: list = [None] * workers
        self.posted = [threading.Event() for _ in range(workers)]
        self.finished = [threading.Event() for _ in range(workers)]
        self.lock = threading.Lock()  # one caller at a time: the board holds one part per worker
        for w in range(workers):
            threading.Thread(target=self._serve, args=(w,), name=f"irq-spin-{w}", daemon=True).start()

    def _serve(self, w: int) -> None:
        seen = 0
        post_addr = self.addr + 16 * w
        while True:
            v = poll_until_changed(post_addr, seen, self.polls)
            if v == seen:
                self.posted[w].wait()
                self.posted[w].clear()
                continue  # the board, read again after clear(), says whether a post arrived meanwhile
            seen = v
            fn, args = self.jobs[w]
            try:
                self.results[w] = (True, fn(*args))
            except BaseException as e:  # handed to the caller, which raises it
                self.results[w] = (False, e)
            self.jobs[w] = None
            self.board[2 * w + 1] = v
            self.finished[w].set()

    def run(self, calls: list) -> list:
        """``[fn(*args) for fn, args in calls]``, the first on this thread, the rest on workers 0, 1, ..."""
        if len(calls) - 1 > self.workers:
            raise ValueError(f"{len(calls)} parts for {self.workers} workers and the caller")
        with self.lock:
            for w, (fn, args) in enumerate(calls[1:]):
                self.finished[w].clear()
                self.jobs[w] = (fn, args)
                self.board[2 * w] += 1
                self.posted[w].set()
            try:
                results = [calls[0][0](*calls[0][1])]
            finally:  # the workers' parts finish before the board is posted again, even when part 0 raised
                outcomes = [self._wait(w) for w in range(len(calls) - 1)]
        for ok, value in outcomes:
            if not ok:
                raise value
            results.append(value)
        return results

    def _wait(self, w: int) -> tuple:
        """(ok, result or exception) of worker w's part, once it has finished.

        A KeyboardInterrupt arriving meanwhile is raised only after the part has finished (a part takes
        milliseconds): returning early would leave the worker writing into buffers the next run reuses."""
        target = int(self.board[2 * w])
        done_addr = self.addr + 16 * w + 8
        interrupted: BaseException | None = None
        while True:
            try:
                while poll_until_changed(done_addr, target - 1, self.polls) != target:
                    self.finished[w].wait()
                break
            except KeyboardInterrupt as e:
                interrupted = e
        outcome, self.results[w] = self.results[w], None
        if interrupted is not None:
            raise interrupted
        return outcome


_POOL: list = []
_POOL_PID = [os.getpid()]
_POOL_LOCK = threading.Lock()


def pool(workers: int) -> SpinPool:
    """The shared pool, grown to at least `workers` workers (made again in a forked child, where the
    parent's threads do not exist: work posted to them never ran, and the child hung)."""
    with _POOL_LOCK:
        if _POOL and _POOL_PID[0] != os.getpid():
            _POOL.clear()
        _POOL_PID[0] = os.getpid()
        if not _POOL or _POOL[0].workers < workers:
            _POOL[:] = [SpinPool(workers)]
        return _POOL[0]
