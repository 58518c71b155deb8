"""The spinning worker pool that runs kernels' parts at 2+ threads (runtime/numba/kernels/spin_pool.py).

What a kernel relies on: every part runs exactly once, parts 1.. on other threads, results come back in
part order, a worker asleep after its spin window still takes the next part, and an exception in any
part reaches the caller only after every part has finished (a buffer is never reused while a part
still writes it). Oracle: the parts' own records, and a serial loop over the same parts."""

import os
import signal
import threading
import time

import numba
import numpy as np
import pytest
from irq.runtime.numba.kernels import spin_pool


@numba.njit(nogil=True)
def _fill(part, parts, out):
    """Part `part` of `parts` writes its index into its share of `out`; returns the share's length."""
    n = out.shape[0]
    per = (n + parts - 1) // parts
    lo, hi = min(n, part * per), min(n, (part + 1) * per)
    for i in range(lo, hi):
        out[i] = part * 1000 + i
    return hi - lo


def _expected(n: int, parts: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    for part in range(parts):
        _fill.py_func(part, parts, out)
    return out


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_every_part_runs_once_and_results_come_back_in_order(parts):
    pool = spin_pool.SpinPool(2)
    for n in (0, 1, 7, 10_000):
        out = np.full(n, -1, np.int64)
        results = pool.run([(_fill, (p, parts, out)) for p in range(parts)])
        per = -(-n // parts) if n else 0
        assert results == [min(n, (p + 1) * per) - min(n, p * per) for p in range(parts)]
        np.testing.assert_array_equal(out, _expected(n, parts))


def test_parts_after_the_first_run_on_other_threads():
    pool = spin_pool.SpinPool(2)
    idents = pool.run([(threading.get_ident, ())] * 3)
    assert idents[0] == threading.get_ident()
    assert len(set(idents)) == 3


def test_a_worker_asleep_after_its_spin_window_takes_the_next_part():
    pool = spin_pool.SpinPool(1)
    pool.polls = 1_000  # a short window: the worker sleeps on its event long before the next run
    for k in range(5):
        time.sleep(0.02)
        out = np.full(100, -1, np.int64)
        assert pool.run([(_fill, (0, 2, out)), (_fill, (1, 2, out))]) == [50, 50], k
        np.testing.assert_array_equal(out, _expected(100, 2))


def test_a_part_that_raises_reaches_the_caller_and_the_pool_keeps_working():
    pool = spin_pool.SpinPool(1)

    def boom():
        raise ZeroDivisionError("part 1")

    with pytest.raises(ZeroDivisionError, match="part 1"):
        pool.run([(int, ()), (boom, ())])
    out = np.zeros(10, np.int64)
    assert pool.run([(_fill, (0, 2, out)), (_fill, (1, 2, out))]) == [5, 5]


def test_when_part_0_raises_the_other_parts_finish_before_the_caller_sees_it():
    pool = spin_pool.SpinPool(1)
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append(True)

    def boom():
        raise KeyError("part 0")

    with pytest.raises(KeyError):
        pool.run([(boom, ()), (slow, ())])
    assert finished == [True]


def test_more_parts_than_threads_is_refused():
    with pytest.raises(ValueError, match="3 parts for 1 workers"):
        spin_pool.SpinPool(1).run([(int, ())] * 3)


def test_the_poll_sees_a_store_made_after_it_started():
    # a plain load in the polling loop may be hoisted out of it: the poll would then spin its whole window
    # and report the old value
    board = np.zeros(1, np.int64)
    spin_pool.poll_until_changed(board.ctypes.data, 0, 1)
    timer = threading.Timer(0.01, lambda: board.__setitem__(0, 7))
    timer.start()
    two_seconds = spin_pool._calibrated_polls() * 10_000  # 0.2 ms each: a poll that never sees it fails, not hangs
    seen = spin_pool.poll_until_changed(board.ctypes.data, 0, two_seconds)
    timer.join()
    assert seen == 7


def test_ctrl_c_while_waiting_is_raised_after_the_other_parts_finish():
    # a KeyboardInterrupt during the wait used to leave the worker writing into the plan's buffers while the
    # next run reused them; it now waits for the part, then raises. A real SIGINT: it interrupts the caller
    # blocked on the part's event, as Ctrl-C does
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("a SIGINT handler is installed from the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # an earlier test may have changed it
    try:
        _interrupt_a_wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_wait() -> None:
    pool = spin_pool.SpinPool(1)
    pool.polls = 1_000  # the caller soon blocks on the event, where the signal reaches it
    finished = []

    def slow():
        time.sleep(2.0)  # the signal (at 0.2 s) lands inside pool.run even on a loaded machine
        finished.append(True)

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        pool.run([(int, ()), (slow, ())])
    timer.join()
    assert finished == [True]
