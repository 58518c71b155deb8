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

Two kinds of post share the board: `launch` hands a kernel's parts over with no Python on either side
(`native_parts`: the worker's loop runs the part in native code), and `run` hands over any Python
callables (a call whose arguments `native_parts` cannot pack, and the tests' probes).
"""

from __future__ import annotations

import os
import threading
import time

import numba
import numpy as np

from . import native_parts as native
from .native_parts import _load_acquire

#: How long a waiting side polls before it sleeps, converted to polls (an acquire load and a `pause` each,
#: about 1-40 ns depending on the CPU's pause latency) by `_calibrated_polls`.
SPIN_SECONDS = 200e-6


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
    """`workers` daemon threads; `run(calls)` runs ``calls[0]`` on the caller and the others on the workers,
    `launch(...)` does the same for a kernel's parts with no Python between post and done (`native_parts`).

    The board (`native_parts.SLOTS` int64 words per worker, and one more set for the caller's part 0):
    ``POST`` is the sequence number of the last part posted to a worker, ``DONE`` that of the last it
    finished. A native post carries its kernel on the board; a Python post (trampoline 0) its job in
    `jobs`: the worker reads it after seeing the post, and the caller reads the result after seeing it
    finished.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self.polls = _calibrated_polls()
        self.board = np.zeros((workers + 1) * native.SLOTS, np.int64)
        self.addr = self.board.ctypes.data
        self.caller_result = self.addr + workers * native.SLOT_BYTES + native.RESULT * 8
        self.args = np.zeros(0, np.int64)  # the packed arguments of a native launch, grown as needed
        self.jobs: list = [None] * workers
        self.results: list = [None] * workers
        self.posted = [threading.Event() for _ in range(workers)]
        self.finished = [threading.Event() for _ in range(workers)]
        self.lock = threading.Lock()  # one caller at a time: the board holds one part per worker
        self.lost_notifies = 0  # seconds-long waits for a finished part: 0 unless the protocol is wrong
        for w in range(workers):
            threading.Thread(target=self._serve, args=(w,), name=f"irq-spin-{w}", daemon=True).start()

    def _word(self, w: int, slot: int) -> int:
        return w * native.SLOTS + slot

    def _serve(self, w: int) -> None:
        seen = 0
        base = self.addr + w * native.SLOT_BYTES
        asleep = self._word(w, native.ASLEEP)
        while True:
            seen, what = native.serve(base, seen, self.polls)
            if what == native.NOTIFY:
                self.finished[w].set()
                continue
            if what == native.PYTHON_JOB:
                fn, args = self.jobs[w]
                try:
                    self.results[w] = (True, fn(*args))
                except BaseException as e:  # handed to the caller, which raises it
                    self.results[w] = (False, e)
                self.jobs[w] = None
                self.board[self._word(w, native.DONE)] = seen
                self.finished[w].set()
                continue
            self.board[asleep] = 1
            if self.board[self._word(w, native.POST)] == seen:
                self.posted[w].wait()
            self.posted[w].clear()
            self.board[asleep] = 0  # the board, read again by `serve`, says whether a post arrived meanwhile

    def _wake(self, w: int) -> None:
        if self.board[self._word(w, native.ASLEEP)]:
            self.posted[w].set()

    def run(self, calls: list) -> list:
        """``[fn(*args) for fn, args in calls]``, the first on this thread, the rest on workers 0, 1, ..."""
        if len(calls) - 1 > self.workers:
            raise ValueError(f"{len(calls)} parts for {self.workers} workers and the caller")
        with self.lock:
            try:
                for w, (fn, args) in enumerate(calls[1:]):
                    self.finished[w].clear()
                    self.jobs[w] = (fn, args)
                    self.board[self._word(w, native.TRAMP)] = 0
                    self.board[self._word(w, native.POST)] += 1
                    self.posted[w].set()
                results = [calls[0][0](*calls[0][1])]
            finally:  # every part posted finishes before the board is posted again, even when part 0 raised
                outcomes = [self._wait(w) for w in range(len(calls) - 1)]  # (a Ctrl-C while posting included)
        for ok, value in outcomes:
            if not ok:
                raise value
            results.append(value)
        return results

    def launch(self, bound: tuple, parts: int, args: tuple, rows: int = 0) -> list | None:
        """The results of parts 0 .. parts - 1 of the kernel `bound` (`NativeCall.bind`) on `args`, part 0 on
        this thread (leading arguments ``(part, parts)``, or with `rows` the part's range of `rows` rows).

        None when a part raised: the caller then runs the call on the Python path, which raises the
        exception (a part only reads its inputs and writes its own outputs, so running it again gives
        the same exception)."""
        tramp, fn, ret_proto, words = bound
        with self.lock:
            if self.args.shape[0] < words:
                self.args = np.zeros(max(words, 64), np.int64)
            return self._launched(parts, ret_proto, native.launch, self.addr, tramp, fn, ret_proto, parts, rows,
                                  self.args.ctypes.data, self.caller_result, self.polls, args)

    def launch_packed(self, tramp: int, fn: int, ret_proto, parts: int, rows: int, words_addr: int) -> list | None:
        """`launch` on arguments packed once at `words_addr` (`bound_call.BoundCall`, which keeps them alive)."""
        with self.lock:
            return self._launched(parts, ret_proto, native.launch_packed, self.addr, tramp, fn, parts, rows,
                                  words_addr, self.caller_result, self.polls)

    def _launched(self, parts: int, ret_proto, launcher, *launch_args) -> list | None:
        """Run `launcher` (`native_parts.launch` or `launch_packed`) under the lock, then the parts' results."""
        if parts - 1 > self.workers:
            raise ValueError(f"{parts} parts for {self.workers} workers and the caller")
        for w in range(parts - 1):
            self._wake(w)
        try:
            pending, status = launcher(*launch_args)
        except BaseException:  # a Ctrl-C raised as the call returns: its parts still finish first
            self._finish(0, parts)
            raise
        self._finish(pending, parts)
        if status or any(self.board[self._word(w, native.STATUS)] for w in range(parts - 1)):
            return None
        words_out = [int(self.board[-native.SLOTS + native.RESULT])]
        words_out += [int(self.board[self._word(w, native.RESULT)]) for w in range(parts - 1)]
        return [native._word_value(v, ret_proto) for v in words_out]

    def _finish(self, pending: int, parts: int) -> None:
        """Wait for the native parts still running (`pending`: the first worker not finished, or -1),
        sleeping on the worker's `finished` event (`native_parts.announce_wait`, `serve`).

        A worker that went to sleep as its part was posted has not seen it: its event is set again
        first. A KeyboardInterrupt is raised only after every part has finished (see `_wait`)."""
        interrupted: BaseException | None = None
        while pending >= 0:
            base = self.addr + pending * native.SLOT_BYTES
            try:
                self.posted[pending].set()
                self.finished[pending].clear()
                if not native.announce_wait(base) and not self.finished[pending].wait(1.0):
                    self.lost_notifies += 1  # a protocol bug (the worker sets the event when it finishes)
            except KeyboardInterrupt as e:
                interrupted = e
            finally:
                self.board[self._word(pending, native.WAITS)] = 0
            pending = native.wait_parts(self.addr, pending, parts, 1)
        if interrupted is not None:
            raise interrupted

    def _wait(self, w: int) -> tuple:
        """(ok, result or exception) of worker w's part, once it has finished (None when this call posted
        nothing to w: a call interrupted while posting).

        A KeyboardInterrupt arriving meanwhile is raised only after the part has finished (a part takes
        milliseconds): returning early would leave the worker writing into buffers the next run reuses."""
        target = int(self.board[self._word(w, native.POST)])
        done_addr = self.addr + w * native.SLOT_BYTES + native.DONE * 8
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
