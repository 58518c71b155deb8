"""One kernel call on fixed arguments, packed once: each run is one C call, no dispatcher.

Why: a plan's buffers are fixed, so a step calls its kernel on the same arrays every run, and still paid
Numba's dispatch each time (every argument type-checked and unboxed: 5.5 us for the VNNI GEMM's 34
arguments) plus the Python that rebuilt those arguments. A one-GEMM 4x4x4 program took 20-22 us per
call, 15 of them in its one step (docs/design.md, "Per-step dispatch"). Here the arguments are packed
into words once (`native_parts`' layout, which the pool's workers already read) and a run is one
dispatcher call with six integers (`_invoke`) into the kernel's trampoline. Measured, interleaved on one
thread: a 4x4x4 GEMM step 4.8 against 9.7 us, 128x768x768 146 against 154 us (ctypes instead of
`_invoke`: 5.5 us).

Valid while the arguments' memory is: a `BoundCall` holds references to its arguments, so nothing it
points to is freed while it lives. A part that raised (status 1) is called again through the dispatcher,
which raises the exception (a kernel only reads its inputs and writes its outputs).
"""

from __future__ import annotations

import numba
import numpy as np

from . import native_parts, spin_pool


@numba.njit(nogil=True, cache=True)
def _invoke(tramp, fn, lead0, lead1, buf, result):
    """Call the trampoline at address `tramp`; its status (0: no exception)."""
    return native_parts._call_trampoline(tramp, fn, lead0, lead1, buf, result)


@numba.njit(nogil=True, cache=True)
def _pack_words(buf, args):
    """Write `args`' words to the int64 buffer at byte address `buf`."""
    native_parts._pack(buf, args)


class BoundCall:
    """``dispatcher(lead0, lead1, *args)`` packed once; `bind` gives None when the arguments cannot be packed.

    With `parts` > 1 a call is split: parts 1 .. parts - 1 are posted to the spinning pool's workers with the
    same packed words and part 0 runs on this thread (`spin_pool.SpinPool.launch_packed`); the leading
    arguments are then ``(part, parts)``, or with `rows` each part's range of `rows` rows. The call returns
    the parts' results added (a kernel's check count), None when the kernel returns nothing."""

    def __init__(self, dispatcher, native: native_parts.NativeCall, lead: tuple[int, int], args: tuple,
                 bound: tuple, parts: int = 1, rows: int = 0) -> None:
        tramp, fn, self.ret_proto, words = bound
        self.dispatcher, self.lead, self.args = dispatcher, lead, args
        self.words = np.zeros(max(words, 1), np.int64)
        _pack_words(self.words.ctypes.data, args)
        self.result = np.zeros(1, np.int64)
        self._native = native  # keeps the trampoline's code alive
        self._argv = (tramp, fn, lead[0], lead[1], self.words.ctypes.data, self.result.ctypes.data)
        self.parts, self.rows = parts, rows
        self._split = (tramp, fn, self.ret_proto, parts, rows, self.words.ctypes.data)

    @classmethod
    def bind(cls, dispatcher, native: native_parts.NativeCall, lead: tuple[int, int], args: tuple,
             parts: int = 1, rows: int = 0):
        bound = native.bind(args)
        return None if bound is None else cls(dispatcher, native, lead, args, bound, parts, rows)

    def __call__(self):
        if self.parts > 1:
            return self._split_call()
        if _invoke(*self._argv) != 0:
            return self.dispatcher(*self.lead, *self.args)  # raises the kernel's exception
        return native_parts._word_value(int(self.result[0]), self.ret_proto)

    def _split_call(self):
        results = spin_pool.pool(self.parts - 1).launch_packed(*self._split)
        if results is None:  # a part raised: run the parts on the dispatcher, which raises it
            for part in range(self.parts):
                self.dispatcher(*native_parts.leading(part, self.parts, self.rows), *self.args)
            raise AssertionError("a kernel part failed natively but not on the dispatcher")
        return None if results[0] is None else sum(results)


class PerThreadCount:
    """A zero-argument call bound once for each thread count it runs under (`numba.set_num_threads` may change
    between calls): `make(threads)` gives the bound call (a `BoundCall`, split or not) or None, and None
    means every call at that count takes `fallback` (the dispatcher path)."""

    def __init__(self, make, fallback) -> None:
        self.make, self.fallback = make, fallback
        self.calls: dict[int, object] = {}

    def __call__(self):
        threads = numba.get_num_threads()
        bound = self.calls.get(threads, False)
        if bound is False:
            bound = self.calls[threads] = self.make(threads)
        return bound() if bound is not None else self.fallback()
