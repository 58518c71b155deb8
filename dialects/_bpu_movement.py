"""bpu's data-movement ops: codes moved (or, for concat, each input requantized once) without arithmetic; take
and reduce_max / reduce_min select codes.

Their semantics are specified in dialects/bpu.py's docstring (which re-exports every op).
"""

from __future__ import annotations

from irq.dialects._bpu_checks import (
    DIALECT,
    I64_ARRAY,
    PURE,
    UNARY_FORMAT,
    Activation,
    AnyStorage,
    _attr,
    _check_shape_rule,
    _ints,
    _rounding_attr,
    _verify_axis,
    _verify_codes_kept,
    _verify_rescale,
    declare_op,
    dtype_name,
    storage_range,
    width,
)
from irq.dialects._opspec import BOOL, INT, INTS, STR
from irq.dialects._shapes import permute, shape_of, slice_

from irq.ir.opdef import Op, operand, result, variadic_operand


@DIALECT.op
class ConcatOp(Op):
    """Each input requantized to the output scale with its own (M, S), then concatenated along `dim`."""

    name = "bpu.concat"
    traits = PURE
    inputs = variadic_operand(Activation)
    dim = _attr(INT)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        n = len(self.inputs)
        if n == 0:
            raise self.error("needs at least one input")
        if len(self.multiplier) != n or len(self.shift) != n:
            raise self.error(f"needs one multiplier and one shift per input ({n}), got {len(self.multiplier)} "
                             f"and {len(self.shift)}")
        _verify_rescale(self, _ints(self.multiplier), _ints(self.shift))
        shapes = [shape_of(v) for v in self.inputs]
        out = shape_of(self.out)
        if any(s is None for s in shapes) or out is None:
            return
        rank = len(out)
        d = _verify_axis(self, self.dim.value, out)
        for s in shapes:
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, out)) if i != d):
                raise self.error(f"input shape {list(s)} does not concatenate into {list(out)} along {d}")
        if sum(s[d] for s in shapes) != out[d]:
            raise self.error(f"inputs sum to {sum(s[d] for s in shapes)} along dim {d}, result has {out[d]}")


def _data_movement(name: str, doc: str, attrs: dict, rule) -> type[Op]:
    def verify_op(self: Op) -> None:
        _verify_codes_kept(self)
        if rule is not None:
            _check_shape_rule(self, rule)
        else:
            s, o = shape_of(self.input), shape_of(self.out)
            if s is not None and o is not None and _prod(s) != _prod(o):
                raise self.error(f"cannot reshape {list(s)} ({_prod(s)} elements) to {list(o)}")

    return declare_op(__name__, name, doc, {"input": operand(AnyStorage), **attrs, "out": result(AnyStorage),
                                            "assembly_format": UNARY_FORMAT}, verify_op)


def _prod(s) -> int:
    n = 1
    for x in s:
        n *= x
    return n


ReshapeOp = _data_movement(
    "bpu.reshape",
    "Row-major reshape to the result type's shape. `batch_lost`: at another batch the model's reshape resizes "
    "another dimension than the one holding the traced batch (`y.reshape(-1, y.shape[0])`), so the runtimes "
    "refuse any other batch here (irq/batch_axis.py, passes/_lower_reshape_batch.py).",
    {"batch_lost": _attr(BOOL, optional=True)},
    None,
)
PermuteOp = _data_movement("bpu.permute", "Dimension permutation.", {"dims": _attr(INTS)}, permute)
SliceOp = _data_movement("bpu.slice", "input[start:end:step] along `dim` (end clipped to the size).",
                         {"dim": _attr(INT), "start": _attr(INT, optional=True), "end": _attr(INT, optional=True),
                          "step": _attr(INT, default=1)}, slice_)


PAD_MODES = ("constant", "reflect", "replicate", "circular")


@DIALECT.op
class PadOp(Op):
    """torch.nn.functional.pad on codes: `pad` as torch orders it (last dim first, (before, after) pairs);
    constant mode writes the code `value`, the others copy codes (reflect without the edge, replicate the
    edge, circular wrapping)."""

    name = "bpu.pad"
    traits = PURE
    input = operand(AnyStorage)
    pad = _attr(INTS)
    mode = _attr(STR, default="constant")
    value = _attr(INT, default=0)
    out = result(AnyStorage)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        _verify_codes_kept(self)
        mode, pads = self.mode.value, _ints(self.pad)
        if mode not in PAD_MODES:
            raise self.error(f"mode must be one of {', '.join(PAD_MODES)}, got '{mode}'")
        s, o = shape_of(self.input), shape_of(self.out)
        if len(pads) % 2:
            raise self.error(f"pad needs (before, after) pairs, got {len(pads)} entries")
        if s is None or o is None:
            return
        if len(pads) // 2 > len(s):
            raise self.error(f"pad has {len(pads) // 2} dims for a rank-{len(s)} input")
        want = list(s)
        for i in range(len(pads) // 2):
            d = len(s) - 1 - i
            before, after = pads[2 * i], pads[2 * i + 1]
            if mode != "constant" and (before < 0 or after < 0):
                raise self.error(f"{mode} padding must not be negative, got {pads}")
            if mode == "reflect" and max(before, after) >= s[d]:
                raise self.error(f"reflect padding {max(before, after)} must be below the size {s[d]} of dim {d}")
            if mode == "circular" and max(before, after) > s[d]:
                raise self.error(f"circular padding {max(before, after)} exceeds the size {s[d]} of dim {d}")
            want[d] += before + after
        if tuple(want) != tuple(o):
            raise self.error(f"padding {list(s)} by {pads} gives {want}, the result has {list(o)}")
        lo, hi = storage_range(width(self.out))
        if not lo <= self.value.value <= hi:
            raise self.error(f"pad value {self.value.value} is outside the {dtype_name(self.out)} range")


# -- issue 12: selections that keep the codes --------------------------------------------------------------
def _verify_take(self: Op) -> None:
    _verify_codes_kept(self)
    s, o = shape_of(self.input), shape_of(self.out)
    idx = _ints(self.indices)
    if s is None or o is None:
        return
    d = _verify_axis(self, self.dim.value, s)
    if any(not 0 <= i < s[d] for i in idx):
        raise self.error(f"indices {idx} leave [0, {s[d]}) along dim {d}")
    want = s[:d] + (len(idx),) + s[d + 1:]
    if tuple(o) != want:
        raise self.error(f"taking {len(idx)} entries along dim {d} of {list(s)} gives {list(want)}, the result "
                         f"has {list(o)}")


TakeOp = declare_op(__name__, "bpu.take", "out = x's entries `indices` along `dim`, in that order (numpy.take): "
                    "flip, index_select, repeat and expand of a size-1 dim; codes unchanged.",
                    {"input": operand(AnyStorage), "dim": _attr(INT), "indices": _attr(I64_ARRAY),
                     "out": result(AnyStorage), "assembly_format": UNARY_FORMAT}, _verify_take)


def _verify_reduce(self: Op) -> None:
    _verify_codes_kept(self)
    s, o = shape_of(self.input), shape_of(self.out)
    if s is None or o is None:
        return
    dims = sorted({_verify_axis(self, d, s) for d in _ints(self.dims)})
    if not dims:
        raise self.error("reduces no dim")
    keep = bool(self.keepdim.value)
    want = tuple(1 if i in dims else n for i, n in enumerate(s)) if keep else \
        tuple(n for i, n in enumerate(s) if i not in dims)
    if tuple(o) != want:
        raise self.error(f"reducing {list(s)} over {dims} gives {list(want)}, the result has {list(o)}")
    if any(s[d] == 0 for d in dims):
        raise self.error("reduces an empty dim (torch refuses it: no identity for max / min)")


def _reduce_op(name: str, what: str) -> type[Op]:
    return declare_op(__name__, name, f"The {what} code over `dims` (keepdim as torch's amax); codes unchanged.",
                      {"input": operand(AnyStorage), "dims": _attr(INTS), "keepdim": _attr(BOOL, default=False),
                       "out": result(AnyStorage), "assembly_format": UNARY_FORMAT}, _verify_reduce)


ReduceMaxOp = _reduce_op("bpu.reduce_max", "largest")
ReduceMinOp = _reduce_op("bpu.reduce_min", "smallest")


def _verify_arg_reduce(self: Op) -> None:
    s, o = shape_of(self.input), shape_of(self.out)
    if self.out.type.element_type.width != 64:
        raise self.error(f"the indices are i64 (torch's argmax), got {self.out.type}")
    if s is None or o is None:
        return
    d = _verify_axis(self, self.dim.value, s)
    want = tuple(1 if i == d else n for i, n in enumerate(s)) if self.keepdim.value else s[:d] + s[d + 1 :]
    if tuple(o) != tuple(want):
        raise self.error(f"reducing {list(s)} over dim {d} gives {list(want)}, the result has {list(o)}")
    if s[d] == 0:
        raise self.error("reduces an empty dim (torch refuses it)")


def _arg_reduce_op(name: str, what: str) -> type[Op]:
    return declare_op(__name__, name, f"The i64 index of the {what} code along `dim`, the first one on ties "
                      "(torch.argmax / max(dim).indices on the dequantized values: one scale, so the same order).",
                      {"input": operand(AnyStorage), "dim": _attr(INT), "keepdim": _attr(BOOL, default=False),
                       "out": result(AnyStorage), "assembly_format": UNARY_FORMAT}, _verify_arg_reduce)


ArgmaxOp = _arg_reduce_op("bpu.argmax", "largest")
ArgminOp = _arg_reduce_op("bpu.argmin", "smallest")


def _verify_topk(self: Op) -> None:
    _verify_codes_kept(self)
    s, o = shape_of(self.input), shape_of(self.out)
    if s is None or o is None:
        return
    d = _verify_axis(self, self.dim.value, s)
    k = self.k.value
    if not 0 < k <= s[d]:
        raise self.error(f"k = {k} is outside [1, {s[d]}] for dim {d}")
    want = s[:d] + (k,) + s[d + 1:]
    if tuple(o) != want:
        raise self.error(f"the top {k} along dim {d} of {list(s)} have shape {list(want)}, the result has {list(o)}")


TopkOp = declare_op(__name__, "bpu.topk", "The k largest (or smallest) codes along `dim`, sorted (torch.topk's values "
                    "with sorted = True); codes unchanged.",
                    {"input": operand(AnyStorage), "k": _attr(INT), "dim": _attr(INT),
                     "largest": _attr(BOOL, default=True), "out": result(AnyStorage),
                     "assembly_format": UNARY_FORMAT}, _verify_topk)
