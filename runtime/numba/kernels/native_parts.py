"""A kernel's parts handed to the spinning pool's workers with no Python on either side of the hand-off.

Why: with Python between the board and the kernel (`spin_pool.SpinPool.run`), a worker that sees its
post must take the GIL to unbox its part's arguments and call the dispatcher, and the caller holds the
GIL while it posts and unboxes part 0. The two sides' Python is serialised by the GIL: an empty
hand-off took 31-73 us median on the 2-core box (docs/design.md, "The GEMM's parts run on a spinning
pool"), so only GEMMs of 52M MACs and more were split, and MobileNetV2 at batch 1 was no faster on two
threads than on one. Here the caller makes one dispatcher call, `launch`, which packs the kernel's
arguments into a word buffer, posts the parts, runs part 0 and waits, all in `nogil` code; a worker's
loop (`serve`) polls the board, unpacks the arguments with the kernel's own types (its *trampoline*, a
C function compiled once per argument signature and cached on disk like every kernel) and calls the
kernel's compiled body through its address. Neither side takes the GIL between post and done.

The kernel itself is compiled once, as before: `launch` and the trampolines call it by address (Numba's
own calling convention, `context.call_conv`), so its code is not linked into them and compiled again
(the VNNI GEMM's compile is tens of seconds from an empty cache).

Board: `SLOTS` int64 words per worker (two cache lines), at `board_addr + worker * SLOTS * 8`:
``POST`` / ``DONE`` sequence numbers (as in `spin_pool`), ``TRAMP`` the trampoline's address (0 for a
Python job), ``FN`` the kernel's, ``PART`` / ``PARTS``, ``ARGS`` the word buffer's address, ``RESULT`` /
``STATUS`` what the part returned (status 0: no exception), ``ASLEEP`` 1 while the worker sleeps on its
event (the caller then sets the event before posting), ``WAITS`` 1 while the caller sleeps on the
worker's `finished` event (a long part: the worker then returns to Python to set it). ``DONE`` and
``WAITS`` are written and read sequentially consistent on both sides (a store, then a load of the
other's word: on x86 a plain store may pass a later load), so that the caller never sleeps on a part
whose worker did not see it waiting.

Arguments are packed as words: an array as its data address, shape and strides (any layout), an
integer or boolean sign-extended, a float by its bits. Other argument types (tuples, records, None...)
have no packing: such a call takes the Python path (`NativeCall.bind` returns None).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

#: Off: every split call takes `spin_pool.SpinPool.run`'s Python path (tests compare the two).
ENABLED = True
SLOTS = 16
SLOT_BYTES = SLOTS * 8
POST, DONE, TRAMP, FN, PART, PARTS, ARGS, RESULT, STATUS, ASLEEP, WAITS = range(11)
#: What `serve` returns with the last sequence number it saw.
IDLE, PYTHON_JOB, NOTIFY = range(3)

_I64 = ir.IntType(64)


@intrinsic
def _load_acquire(typingctx, addr):
    """The int64 at byte address `addr`, loaded atomically with acquire ordering, then a `pause` (a poll:
    the pause spares the sibling hyper-thread, and a plain load in a loop may be hoisted out of it)."""

    def codegen(context, builder, sig, args):
        value = builder.load_atomic(_word_ptr(builder, args[0]), "acquire", 8)
        pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                               "llvm.x86.sse2.pause")
        builder.call(pause, [])
        return value

    return types.int64(addr), codegen


def _word_ptr(builder, addr, index: int = 0):
    """The int64 at byte address `addr` + 8 * `index`, as an LLVM pointer."""
    ptr = builder.inttoptr(addr, _I64.as_pointer())
    return builder.gep(ptr, [ir.Constant(ir.IntType(32), index)]) if index else ptr


@intrinsic
def _load(typingctx, addr):
    """The int64 at byte address `addr` (plain load: ordered after the acquire load that saw the post)."""

    def codegen(context, builder, sig, args):
        return builder.load(_word_ptr(builder, args[0]))

    return types.int64(addr), codegen


@intrinsic
def _store(typingctx, addr, value):
    """Store int64 `value` at byte address `addr` (plain store: published by a later release store)."""

    def codegen(context, builder, sig, args):
        builder.store(context.cast(builder, args[1], sig.args[1], types.int64), _word_ptr(builder, args[0]))
        return context.get_dummy_value()

    return types.none(addr, value), codegen


def _atomic_store(ordering: str, why: str):
    """An intrinsic storing int64 `value` at byte address `addr` atomically with `ordering`."""

    @intrinsic
    def store(typingctx, addr, value):
        def codegen(context, builder, sig, args):
            value = context.cast(builder, args[1], sig.args[1], types.int64)
            builder.store_atomic(value, _word_ptr(builder, args[0]), ordering, 8)
            return context.get_dummy_value()

        return types.none(addr, value), codegen

    store.__doc__ = f"Store int64 `value` at byte address `addr` with {ordering} ordering: {why}."
    return store


_store_release = _atomic_store("release", "a post, published with every store before it to the side whose "
                                          "acquire load sees it")
_store_seq_cst = _atomic_store("seq_cst", "a full barrier on x86, for the DONE / WAITS handshake (module doc)")


@intrinsic
def _load_seq_cst(typingctx, addr):
    """The int64 at byte address `addr`, loaded sequentially consistent."""

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_word_ptr(builder, args[0]), "seq_cst", 8)

    return types.int64(addr), codegen


def _is_packable(ty) -> bool:
    return (isinstance(ty, types.Array) and isinstance(ty.dtype, (types.Integer, types.Float, types.Boolean))) \
        or isinstance(ty, (types.Integer, types.Float, types.Boolean))


def _words(ty) -> int:
    return 1 + 2 * ty.ndim if isinstance(ty, types.Array) else 1


def _to_word(context, builder, ty, value):
    """A scalar as one int64 word (integers and booleans extended, floats by their bits)."""
    if isinstance(ty, types.Float):
        bits = ir.IntType(ty.bitwidth)
        return builder.zext(builder.bitcast(value, bits), _I64) if ty.bitwidth < 64 else builder.bitcast(value, _I64)
    if isinstance(ty, types.Boolean):
        return builder.zext(value, _I64)
    if ty.bitwidth < 64:
        return builder.sext(value, _I64) if ty.signed else builder.zext(value, _I64)
    return value


def _from_word(context, builder, ty, word):
    """Inverse of `_to_word`."""
    if isinstance(ty, types.Float):
        if ty.bitwidth < 64:
            return builder.bitcast(builder.trunc(word, ir.IntType(ty.bitwidth)), context.get_value_type(ty))
        return builder.bitcast(word, context.get_value_type(ty))
    if isinstance(ty, types.Boolean):
        return builder.icmp_unsigned("!=", word, ir.Constant(_I64, 0))
    return builder.trunc(word, ir.IntType(ty.bitwidth)) if ty.bitwidth < 64 else word


@intrinsic
def _pack(typingctx, buf, argtup):
    """Write the words of every value of tuple `argtup` to the buffer at byte address `buf`."""
    if not all(_is_packable(t) for t in argtup.types):
        raise TypingError(f"native_parts: no packing for {argtup}")

    def codegen(context, builder, sig, args):
        base = builder.inttoptr(args[0], _I64.as_pointer())
        at = 0

        def put(word):
            nonlocal at
            builder.store(word, builder.gep(base, [ir.Constant(ir.IntType(32), at)]))
            at += 1

        for i, ty in enumerate(argtup.types):
            value = builder.extract_value(args[1], i)
            if isinstance(ty, types.Array):
                ary = make_array(ty)(context, builder, value=value)
                put(builder.ptrtoint(ary.data, _I64))
                for dim in cgutils.unpack_tuple(builder, ary.shape, ty.ndim):
                    put(dim)
                for step in cgutils.unpack_tuple(builder, ary.strides, ty.ndim):
                    put(step)
            else:
                put(_to_word(context, builder, ty, value))
        return context.get_dummy_value()

    return types.none(buf, argtup), codegen


@intrinsic
def _unpack(typingctx, buf, proto):
    """The values packed by `_pack` at byte address `buf`, typed as the values of tuple `proto` are
    (arrays rebuilt on the caller's memory: no copy and no reference count, as the caller waits)."""
    elem_types = tuple(types.unliteral(t) for t in proto.types)
    if not all(_is_packable(t) for t in elem_types):
        raise TypingError(f"native_parts: no unpacking for {proto}")
    out_type = types.Tuple(elem_types)

    def codegen(context, builder, sig, args):
        base = builder.inttoptr(args[0], _I64.as_pointer())
        at = 0

        def take():
            nonlocal at
            word = builder.load(builder.gep(base, [ir.Constant(ir.IntType(32), at)]))
            at += 1
            return word

        values = []
        for ty in elem_types:
            if isinstance(ty, types.Array):
                ary = make_array(ty)(context, builder)
                data = builder.inttoptr(take(), context.get_data_type(ty.dtype).as_pointer())
                shape = [take() for _ in range(ty.ndim)]
                strides = [take() for _ in range(ty.ndim)]
                itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(ty.dtype)))
                intp = context.get_value_type(types.intp)
                populate_array(ary, data=data, shape=cgutils.pack_array(builder, shape, ty=intp),
                               strides=cgutils.pack_array(builder, strides, ty=intp), itemsize=itemsize,
                               meminfo=None)
                values.append(ary._getvalue())
            else:
                values.append(_from_word(context, builder, ty, take()))
        return context.make_tuple(builder, out_type, values)

    return out_type(buf, proto), codegen


@intrinsic
def _call_kernel(typingctx, fn, result, ret_proto, part, parts, argtup):
    """Call the compiled kernel at address `fn` as ``kernel(part, parts, *argtup)`` (Numba's calling
    convention for a function returning the type of `ret_proto`); store its result as a word at byte
    address `result` (0 when it returns nothing); return 0, or 1 when it raised."""
    restype = types.unliteral(ret_proto)
    argtys = [types.int64, types.int64, *argtup.types]

    def codegen(context, builder, sig, args):
        fnty = context.call_conv.get_function_type(restype, argtys)
        callee = builder.inttoptr(args[0], fnty.as_pointer())
        values = [context.cast(builder, args[3], sig.args[3], types.int64),
                  context.cast(builder, args[4], sig.args[4], types.int64)]
        values += [builder.extract_value(args[5], i) for i in range(len(argtup.types))]
        status, out = context.call_conv.call_function(builder, callee, restype, argtys, values)
        word = ir.Constant(_I64, 0) if restype == types.none else _to_word(context, builder, restype, out)
        builder.store(word, _word_ptr(builder, args[1]))
        return builder.select(status.is_error, ir.Constant(_I64, 1), ir.Constant(_I64, 0))

    return types.int64(fn, result, ret_proto, part, parts, argtup), codegen


_TRAMP_SIG = types.int64(types.int64, types.int64, types.int64, types.int64, types.int64)


@intrinsic
def _call_trampoline(typingctx, tramp, fn, part, parts, buf, result):
    """Call the trampoline (a C function, `_TRAMP_SIG`) at address `tramp`."""

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(_I64, [_I64] * 5)
        callee = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(callee, [context.cast(builder, a, t, types.int64) for a, t in zip(args[1:], sig.args[1:])])

    return types.int64(tramp, fn, part, parts, buf, result), codegen


def make_trampoline(proto: tuple, ret_proto):
    """The C function ``status(fn, part, parts, buf, result)`` that unpacks a call's words with the types of
    `proto` and calls the kernel at `fn` (its return typed as `ret_proto`); cached on disk per `proto`'s
    types (the closure's values are part of Numba's cache key)."""

    def trampoline(fn, part, parts, buf, result):
        return _call_kernel(fn, result, ret_proto, part, parts, _unpack(buf, proto))

    return numba.cfunc(_TRAMP_SIG, nogil=True, cache=True)(trampoline)


@numba.njit(nogil=True, cache=True)
def serve(base, seen, polls):
    """A worker's loop at its board words `base`: run every native part posted until `polls` polls pass
    with no post (returns `IDLE`), a Python job (trampoline 0) is posted (`PYTHON_JOB`), or a part
    finishes while the caller sleeps on it (`NOTIFY`: the Python loop sets the caller's event). Returns
    (last sequence number seen, that code)."""
    idle = 0
    while idle < polls:
        v = _load_acquire(base + POST * 8)
        if v == seen:
            idle += 1
            continue
        seen = v
        tramp = _load(base + TRAMP * 8)
        if tramp == 0:
            return seen, PYTHON_JOB
        status = _call_trampoline(tramp, _load(base + FN * 8), _load(base + PART * 8), _load(base + PARTS * 8),
                                  _load(base + ARGS * 8), base + RESULT * 8)
        _store(base + STATUS * 8, status)
        _store_seq_cst(base + DONE * 8, v)
        if _load_seq_cst(base + WAITS * 8) != 0:
            return seen, NOTIFY
        idle = 0
    return seen, IDLE


@numba.njit(nogil=True, cache=True)
def wait_parts(board, first, parts, polls):
    """Poll until the workers of parts ``first .. parts - 1`` (worker w runs part w + 1) have each
    finished their last post, at most `polls` polls in all; returns the first worker not finished, or -1.
    Then (all finished) the caller reads their results and statuses."""
    w = first
    spent = 0
    while w < parts - 1:
        base = board + w * SLOTS * 8
        if _load_acquire(base + DONE * 8) == _load(base + POST * 8):
            w += 1
            continue
        spent += 1
        if spent >= polls:
            return w
    return -1


@numba.njit(nogil=True, cache=True)
def announce_wait(base):
    """The caller is about to sleep on the part at board words `base`: say so, then return whether the part
    has finished meanwhile (then it does not sleep). See `serve` for the worker's side."""
    _store_seq_cst(base + WAITS * 8, 1)
    return _load_seq_cst(base + DONE * 8) == _load(base + POST * 8)


def leading(part, parts, rows):
    """A part's two leading kernel arguments: ``(part, parts)`` (`launch.PartKernel`), or with `rows` > 0
    the part's row range ``(r0, r1)`` of `rows` rows in `parts` even ranges (`launch.RowKernel`). One rule
    for the native launch (compiled below) and the pool's Python path (`launch._run_parts`)."""
    if rows <= 0:
        return part, parts
    per = (rows + parts - 1) // parts
    return min(rows, part * per), min(rows, (part + 1) * per)


_leading = numba.njit(inline="always")(leading)


@numba.njit(inline="always")
def _post(board, tramp, fn, parts, rows, buf):
    """Post parts 1 .. parts - 1 of the kernel at `fn` (arguments packed at `buf`) to workers 0 .. parts - 2."""
    for w in range(parts - 1):
        base = board + w * SLOTS * 8
        _store(base + TRAMP * 8, tramp)
        _store(base + FN * 8, fn)
        lead0, lead1 = _leading(w + 1, parts, rows)
        _store(base + PART * 8, lead0)
        _store(base + PARTS * 8, lead1)
        _store(base + ARGS * 8, buf)
        _store_release(base + POST * 8, _load(base + POST * 8) + 1)


@numba.njit(nogil=True, cache=True)
def launch(board, tramp, fn, ret_proto, parts, rows, buf, result, polls, args):
    """Pack `args`, post parts 1 .. parts - 1 to workers 0 .. parts - 2, run part 0 here (its result word
    to byte address `result`), and wait at most `polls` polls for the others. Returns (first worker not
    finished or -1, part 0's status). The kernel's two leading arguments: see `leading`."""
    _pack(buf, args)
    _post(board, tramp, fn, parts, rows, buf)
    lead0, lead1 = _leading(0, parts, rows)
    status = _call_kernel(fn, result, ret_proto, lead0, lead1, args)
    return wait_parts(board, 0, parts, polls), status


@numba.njit(nogil=True, cache=True)
def launch_packed(board, tramp, fn, parts, rows, buf, result, polls):
    """`launch` on arguments packed once at byte address `buf` (`bound_call.BoundCall`): post parts
    1 .. parts - 1, run part 0 here through its trampoline (as a worker would), wait at most `polls` polls.
    Returns (first worker not finished or -1, part 0's status). All eight arguments are integers, so the
    dispatcher's per-call check is a few hundred nanoseconds, against microseconds for `launch`'s tuple."""
    _post(board, tramp, fn, parts, rows, buf)
    lead0, lead1 = _leading(0, parts, rows)
    status = _call_trampoline(tramp, fn, lead0, lead1, buf, result)
    return wait_parts(board, 0, parts, polls), status


def _word_value(word: int, ret_proto):
    """A result word back as the kernel's return value (None when it returns nothing)."""
    if ret_proto is None:
        return None
    if isinstance(ret_proto, np.floating):  # the bits; a float32's in the low half (little-endian x86)
        return np.array([word], np.int64).view(type(ret_proto))[0]
    return type(ret_proto)(word)


def _proto_of(ty):
    """A value Numba types as `ty` (the trampoline's closure constant that fixes an argument's type; a
    small array, since numpy calls every empty array contiguous)."""
    if isinstance(ty, types.Array):
        dtype = numba.np.numpy_support.as_dtype(ty.dtype)
        if ty.layout == "A" and ty.ndim > 0:
            proto = np.zeros((2,) * (ty.ndim - 1) + (4,), dtype)[..., ::2]
        else:
            proto = np.zeros((2,) * ty.ndim, dtype, order="F" if ty.layout == "F" else "C")
        if not ty.mutable:
            proto.flags.writeable = False
        return proto
    return numba.np.numpy_support.as_dtype(ty).type(0)


class NativeCall:
    """One kernel's native launches: `bind(args)` gives (trampoline address, kernel address, return proto,
    argument words) for its argument types, compiling the kernel and the trampoline on the first call with
    those types; None when they cannot be packed."""

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        self.bound: dict = {}
        self._keep: list = []  # the trampolines' cfunc objects: their code lives as long as they do

    def bind(self, args: tuple):
        try:
            key = tuple(map(compute_fingerprint, args))
        except (TypeError, ValueError):
            return None
        hit = self.bound.get(key, False)
        if hit is not False:
            return hit
        self.bound[key] = bound = self._make(args)
        return bound

    def _make(self, args: tuple):
        arg_types = tuple(numba.typeof(a) for a in args)
        if not all(_is_packable(t) for t in arg_types):
            return None
        sig = (types.int64, types.int64, *arg_types)
        self.dispatcher.compile(sig)
        cres = self.dispatcher.overloads[sig]
        restype = cres.signature.return_type
        if restype == types.none:
            ret_proto = None
        elif isinstance(restype, (types.Integer, types.Float, types.Boolean)):
            ret_proto = _proto_of(restype)
        else:
            return None
        fn = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
        proto = tuple(_proto_of(t) for t in arg_types)
        if tuple(numba.typeof(p) for p in proto) != arg_types:
            return None  # a type the proto cannot reproduce (an unaligned array): the Python path
        tramp = make_trampoline(proto, ret_proto)
        self._keep.append(tramp)
        words = sum(_words(t) for t in arg_types)
        return tramp.address, fn, ret_proto, words
