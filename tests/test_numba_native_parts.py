"""Kernels' parts handed to the spinning pool with no Python between post and done
(runtime/numba/kernels/native_parts.py).

What a kernel relies on: every argument reaches every part exactly as Numba typed it for the kernel
(data, shape, strides, scalar bits), each part runs once with its own leading arguments, results come
back in part order, an exception in a part reaches the caller, and a caller waiting on a long part or
a worker asleep before the post still finish. Oracles: the kernel's Python function run part by part in
the test, and the Python path of the same pool (`native_parts.ENABLED = False`)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numba
import numpy as np
import pytest
from irq.runtime.numba.kernels import launch, native_parts, spin_pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _echo(part, parts, a8, f2, view, ro, zero_d, i, f, b, i32, f32, u8, out):
    """Part `part` writes what it received into row `part` of `out`: sums, shapes, strides and scalars."""
    row = out[part]
    row[0] = parts
    row[1] = a8.sum()
    row[2] = a8.shape[0]
    row[3] = f2.sum()
    row[4] = f2.shape[0] * 100 + f2.shape[1]
    row[5] = f2.strides[0] * 1000 + f2.strides[1]
    row[6] = view.sum()
    row[7] = view.strides[0] * 1000 + view.strides[1]
    row[8] = ro.sum()
    row[9] = zero_d[()]
    row[10] = i
    row[11] = f
    row[12] = 1.0 if b else 0.0
    row[13] = i32
    row[14] = f32
    row[15] = u8
    return part * 10 + i


_echo_kernel = launch.part_kernel(0)(_echo)


def _echo_args(out):
    rng = np.random.default_rng(5)
    a8 = rng.integers(-128, 128, 37).astype(np.int8)
    f2 = np.asfortranarray(rng.standard_normal((5, 3)).astype(np.float32))
    view = rng.standard_normal((6, 8))[::2, 1::3]
    ro = rng.integers(0, 9, (2, 2, 3)).astype(np.int16)
    ro.flags.writeable = False
    zero_d = np.array(-7.25)
    return (a8, f2, view, ro, zero_d, -(2 ** 40) - 3, -1.5e-300, True, np.int32(-70000), np.float32(3.1),
            np.uint8(250), out)


def test_every_argument_reaches_every_part_as_the_kernel_typed_it(two_threads):
    out = np.zeros((2, 16), np.float64)
    args = _echo_args(out)
    results = _echo_kernel(2, *args)
    expected = np.zeros_like(out)
    want = sum(_echo(p, 2, *args[:-1], expected) for p in range(2))
    np.testing.assert_array_equal(out, expected)
    assert results == want
    bound = _echo_kernel.native.bind(args)
    assert bound is not None  # every type above packs: the call above took the native path
    post = spin_pool.pool(1).board[native_parts.POST]
    _echo_kernel(2, *args)
    assert spin_pool.pool(1).board[native_parts.POST] == post + 1
    assert spin_pool.pool(1).board[native_parts.TRAMP] == bound[0]


def test_the_python_path_gives_the_same_parts(two_threads):
    native = np.zeros((2, 16), np.float64)
    python = np.zeros((2, 16), np.float64)
    r_native = _echo_kernel(2, *_echo_args(native))
    native_parts.ENABLED = False
    r_python = _echo_kernel(2, *_echo_args(python))
    np.testing.assert_array_equal(native, python)
    assert r_native == r_python


def _rows_count(x, out):
    return x.shape[0]


@launch.row_kernel(_rows_count, 0)
def _square_rows(r0, r1, x, out):
    """Rows r0 .. r1 of `out` = x ** 2 + the row's index range as a check; returns the rows done."""
    for r in range(r0, r1):
        for c in range(x.shape[1]):
            out[r, c] = x[r, c] * x[r, c] + r0 * 0.5 + r1
    return r1 - r0


@launch.row_kernel(_rows_count, 0)
def _negate_rows(r0, r1, x, out):
    for r in range(r0, r1):
        for c in range(x.shape[1]):
            out[r, c] = -x[r, c]


@pytest.mark.parametrize("rows", [2, 3, 1001])
def test_row_kernels_get_even_row_ranges(two_threads, rows):
    x = np.random.default_rng(rows).standard_normal((rows, 3))
    out = np.zeros_like(x)
    assert _square_rows(x, out) == rows
    per = -(-rows // 2)
    expected = np.zeros_like(x)
    for r0, r1 in ((0, min(rows, per)), (min(rows, per), rows)):
        _square_rows.rows.py_func(r0, r1, x, expected)
    np.testing.assert_array_equal(out, expected)
    neg = np.zeros_like(x)
    assert _negate_rows(x, neg) is None
    np.testing.assert_array_equal(neg, -x)


@pytest.mark.parametrize("rows", [2, 7, 1001])
def test_a_bound_row_kernel_follows_the_thread_count(two_threads, rows):
    # a plan's row kernels are packed once per thread count (`RowKernel.bind`, bound_call.py)
    x = np.random.default_rng(rows).standard_normal((rows, 3))
    out = np.zeros_like(x)
    call = _square_rows.bind(x, out)
    per = -(-rows // 2)
    expected = {1: np.zeros_like(x), 2: np.zeros_like(x)}
    _square_rows.rows.py_func(0, rows, x, expected[1])
    for r0, r1 in ((0, per), (per, rows)):
        _square_rows.rows.py_func(r0, r1, x, expected[2])
    for threads in (2, 1, 2):
        numba.set_num_threads(threads)
        out[:] = np.nan
        assert call() == rows
        np.testing.assert_array_equal(out, expected[threads])
    assert spin_pool.pool(1).board[native_parts.ARGS] == call.calls[2].words.ctypes.data  # the packed words


@launch.part_kernel(0)
def _fails_in_part(part, parts, bad_part, out):
    if part == bad_part:
        raise ValueError("part refused")
    out[part] = part + 1
    return 1


_SPLIT_CALLS = {"packed per call": lambda *args: _fails_in_part(2, *args),
                "packed once": lambda *args: _fails_in_part.bound(args, 2)()}  # a plan's (bound_call.py)


@pytest.mark.parametrize("call", _SPLIT_CALLS)
@pytest.mark.parametrize("bad_part", [0, 1])
def test_an_exception_in_a_part_reaches_the_caller(two_threads, bad_part, call):
    out = np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="part refused"):
        _SPLIT_CALLS[call](bad_part, out)
    out[:] = 0
    assert _SPLIT_CALLS[call](5, out) == 2  # the pool still serves the next call
    np.testing.assert_array_equal(out, [1, 2])


@launch.part_kernel(0)
def _tuple_arg(part, parts, pair, out):
    out[part] = pair[0] * 10 + pair[1] + part
    return 0


def test_an_argument_that_does_not_pack_takes_the_python_path(two_threads):
    out = np.zeros(2, np.int64)
    _tuple_arg(2, (3, 4), out)
    np.testing.assert_array_equal(out, [34, 35])
    assert _tuple_arg.native.bind(((3, 4), out)) is None


@launch.part_kernel(0)
def _slow_part(part, parts, spins, out):
    """Part 1 spins `spins` times (a long part), part 0 returns at once."""
    acc = 0.0
    if part == 1:
        for k in range(spins):
            acc += np.sqrt(k + 1.0)
    out[part] = acc
    return part


def test_a_caller_sleeping_on_a_long_part_is_woken(two_threads, monkeypatch):
    # part 1 holds until the caller has stopped polling (it reaches `_finish`) and 50 ms more: the caller
    # sleeps on worker 0's event and the worker has to wake it, whatever the box's load
    pool = spin_pool.pool(1)
    flag, out = np.ones(1, np.int64), np.zeros(2, np.int64)
    _waits_for_flag(2, flag, out)  # compile first
    flag[0], out[:] = 0, 0
    waits = []
    finish = pool._finish

    def finish_later(pending, parts):
        waits.append(pending)
        threading.Timer(0.05, flag.__setitem__, (0, 1)).start()
        return finish(pending, parts)

    monkeypatch.setattr(pool, "_finish", finish_later)
    lost = pool.lost_notifies
    _waits_for_flag(2, flag, out)
    assert waits == [0]  # the caller stopped polling on worker 0 (its part was still holding)
    assert pool.lost_notifies == lost  # ... and the worker woke it, not the 1 s timeout
    assert out[1] == 1
    assert pool.board[native_parts.WAITS] == 0  # the caller said it waits, and took it back


def test_a_worker_asleep_before_the_post_takes_the_part(two_threads):
    pool = spin_pool.pool(1)
    out = np.zeros(2)
    expected = np.zeros(2)
    _slow_part.fn(1, 2, 1000, expected)
    for _ in range(3):
        deadline = time.monotonic() + 5  # its polling window is 0.2 ms; a loaded box may delay it
        while pool.board[native_parts.ASLEEP] != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert pool.board[native_parts.ASLEEP] == 1
        out[:] = -1
        assert _slow_part(2, 1000, out) == 1
        np.testing.assert_array_equal(out, expected)


CACHE_PROBE = textwrap.dedent("""
    import json
    import numba
    import numpy as np
    from irq.runtime.numba.kernels import native_parts

    from irq.runtime.numba.kernels import requantize

    numba.set_num_threads(2)
    x = np.random.default_rng(0).standard_normal((2, 3, 256, 256)).astype(np.float32)
    out = np.empty((2, 256, 256, 3), np.int8)
    requantize.quantize_to_nhwc(x, 0.05, -128, 127, out)  # 393,216 elements: split over the two threads
    tramps = requantize.quantize_to_nhwc.native._keep
    disp = [native_parts.launch, native_parts.serve, native_parts.wait_parts]
    print(json.dumps({"tramp_hits": [t.cache_hits for t in tramps],
                      "hits": sum(sum(d.stats.cache_hits.values()) for d in disp),
                      "misses": sum(sum(d.stats.cache_misses.values()) for d in disp)}))
""")


def test_a_second_process_loads_the_launch_and_trampolines_from_the_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="2")
    runs = [json.loads(subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, capture_output=True, text=True,
                                      check=True, cwd=ROOT, timeout=600).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["tramp_hits"] == [0] and runs[0]["misses"] > 0
    assert runs[1]["tramp_hits"] == [1], runs[1]
    assert runs[1]["misses"] == 0 and runs[1]["hits"] >= 2, runs[1]


@launch.part_kernel(0)
def _halves(part, parts, x):
    """Part `part`'s share of sum(x) as a float (the return word carries the float's bits)."""
    n = x.shape[0]
    per = (n + parts - 1) // parts
    return x[part * per:min(n, (part + 1) * per)].sum()


@launch.part_kernel(0)
def _halves32(part, parts, x):
    n = x.shape[0]
    per = (n + parts - 1) // parts
    return np.float32(x[part * per:min(n, (part + 1) * per)].sum())


def test_float_results_come_back_as_the_kernel_returned_them(two_threads):
    # oracle: each part run on this thread through the kernel's own dispatcher (Numba sums in its own order)
    x = np.random.default_rng(3).standard_normal(1001)
    assert _halves(2, x) == _halves.fn(0, 2, x) + _halves.fn(1, 2, x)
    x32 = x.astype(np.float32)
    got = _halves32(2, x32)
    assert got == _halves32.fn(0, 2, x32) + _halves32.fn(1, 2, x32) and isinstance(got, np.float32)
    assert _halves.native.bind((x,)) is not None and _halves32.native.bind((x32,)) is not None


def test_callers_on_several_threads_each_get_their_own_parts(two_threads):
    # the pool holds one part per worker: a second caller waits for the first call to finish
    errors = []

    def caller(seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            x = rng.standard_normal((int(rng.integers(2, 50)), 3))
            out = np.zeros_like(x)
            if _square_rows(x, out) != x.shape[0]:
                errors.append("count")
            expected = np.zeros_like(x)
            per = -(-x.shape[0] // 2)
            for r0, r1 in ((0, per), (per, x.shape[0])):
                _square_rows.rows.py_func(r0, r1, x, expected)
            if not np.array_equal(out, expected):
                errors.append("values")

    threads = [threading.Thread(target=caller, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@launch.part_kernel(0)
def _waits_for_flag(part, parts, flag, out):
    """Part 1 polls `flag[0]` until the test sets it (bounded: a broken test fails, not hangs)."""
    if part == 1:
        addr = flag.ctypes.data
        for _ in range(2_000_000_000):
            if native_parts._load_acquire(addr) != 0:
                break
        out[1] = 1
    return 0


def test_ctrl_c_while_waiting_on_a_native_part_is_raised_after_it_finishes(two_threads, monkeypatch):
    # as on the Python path (test_numba_spin_pool.py): the caller sleeps on the worker's event, a SIGINT
    # interrupts that wait, and the KeyboardInterrupt is raised only once the part has finished writing.
    # The signal is sent once the caller waits, and the part released 0.25 s after it: deterministic order
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("a SIGINT handler is installed from the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    pool = spin_pool.pool(1)
    flag, out = np.ones(1, np.int64), np.zeros(2, np.int64)
    _waits_for_flag(2, flag, out)  # compile first: a signal during compilation is not what this tests
    flag[0], out[:] = 0, 0
    finish = pool._finish

    def interrupt_then_release():
        os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(0.25, flag.__setitem__, (0, 1)).start()

    def finish_interrupted(pending, parts):
        threading.Timer(0.05, interrupt_then_release).start()
        return finish(pending, parts)

    monkeypatch.setattr(pool, "_finish", finish_interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            _waits_for_flag(2, flag, out)
        assert flag[0] == 1 and out[1] == 1  # raised only after part 1 saw the flag and wrote its output
    finally:
        flag[0] = 1
        signal.signal(signal.SIGINT, previous)
