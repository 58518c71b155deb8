"""bpu's window and row ops: pools, resize, softmax, log-softmax, layer and group norm, prefix sums and embedding,
each a fixed integer
composition (exact sums or statistics, then one rounding) a BPU runs as one instruction.

Their integer semantics are specified in dialects/bpu.py's docstring (which re-exports every op).
"""

from __future__ import annotations

from irq.dialects._bpu_checks import (
    DIALECT,
    I64_ARRAY,
    LUT_SIZES,
    PURE,
    PURE_SAME_SHAPE,
    UNARY_FORMAT,
    Accumulator,
    Activation,
    Weight,
    _attr,
    _check_shape_rule,
    _int_tensor,
    _ints,
    _per_channel_length,
    _rounding_attr,
    _verify_axis,
    _verify_codes_kept,
    _verify_multipliers,
    _verify_rescale,
    constant_array,
    declare_op,
    dtype_name,
    width,
)
from irq.dialects._opspec import BOOL, INT, INTS, STR
from irq.dialects._shapes import pool2d, shape_of

from irq.ir.opdef import Op, operand, result

_POOL_ATTRS = {"kernel_size": _attr(INTS), "stride": _attr(INTS), "padding": _attr(INTS),
               "ceil_mode": _attr(BOOL, default=False)}


@DIALECT.op
class MaxPool2dOp(Op):
    """Window maximum of codes (padding never wins)."""

    name = "bpu.max_pool2d"
    traits = PURE
    input = operand(Activation)
    kernel_size = _POOL_ATTRS["kernel_size"]
    stride = _POOL_ATTRS["stride"]
    padding = _POOL_ATTRS["padding"]
    dilation = _attr(INTS, optional=True)
    ceil_mode = _POOL_ATTRS["ceil_mode"]
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        _check_shape_rule(self, pool2d)
        _verify_codes_kept(self)


@DIALECT.op
class AvgPool2dOp(Op):
    """Exact window sums, then a requantize chosen by the position's divisor (a table of (M, S))."""

    name = "bpu.avg_pool2d"
    traits = PURE
    input = operand(Activation)
    kernel_size = _POOL_ATTRS["kernel_size"]
    stride = _POOL_ATTRS["stride"]
    padding = _POOL_ATTRS["padding"]
    ceil_mode = _POOL_ATTRS["ceil_mode"]
    count_include_pad = _attr(BOOL, default=True)
    divisor_override = _attr(INT, optional=True)
    divisors = _attr(I64_ARRAY)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        _check_shape_rule(self, pool2d)
        d, m, s = _ints(self.divisors), _ints(self.multiplier), _ints(self.shift)
        if not d or len(d) != len(m) or len(d) != len(s):
            raise self.error(f"divisors, multiplier and shift need one equal non-zero length, got {len(d)}, "
                             f"{len(m)}, {len(s)}")
        if any(x <= 0 for x in d) or len(set(d)) != len(d):
            raise self.error(f"divisors must be distinct and positive, got {d}")
        _verify_rescale(self, m, s)
        ks = _ints(self.kernel_size)
        if len(ks) == 1:
            ks = ks * 2
        # the window sum of |x| <= 2^15 codes must leave |sum * M| < 2^63
        if ks[0] * ks[1] * 32768 >= 2**32:
            raise self.error(f"kernel {ks} is too large for exact window sums")


@DIALECT.op
class GlobalAvgPoolOp(Op):
    """[N, C, H, W] -> [N, C, 1, 1]: exact sum over H x W, then one requantize (M/2^S ~ s_in / (s_out H W))."""

    name = "bpu.global_avg_pool"
    traits = PURE
    input = operand(Activation)
    multiplier = _attr(INT)
    shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        s, o = shape_of(self.input), shape_of(self.out)
        if s is not None and o is not None:
            if len(s) != 4 or o != (s[0], s[1], 1, 1):
                raise self.error(f"expects [N, C, H, W] -> [N, C, 1, 1], got {list(s)} -> {list(o)}")
            if s[2] * s[3] * 32768 >= 2**32:
                raise self.error(f"{s[2]}x{s[3]} window is too large for exact sums")
        _verify_rescale(self, [self.multiplier.value], [self.shift.value])


@DIALECT.op
class SoftmaxOp(Op):
    """Integer softmax: max-subtract, exp table, exact sum, one rounded division per element."""

    name = "bpu.softmax"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    exp_table = operand(_int_tensor((32,)))
    dim = _attr(INT)
    multiplier = _attr(INT)
    shift = _attr(INT)
    out = result(Activation)
    assembly_format = "$input `,` $exp_table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_axis(self, self.dim.value, shape_of(self.input))
        _verify_exp_table(self, 2**15)
        _verify_multipliers(self, [self.multiplier.value], [self.shift.value])


def _norm_bits(op: Op) -> tuple[int, int, int]:
    """(frac_bits, sqrt_frac_bits, eps) of a layer or group norm, checked: the ranges the integer steps assume."""
    f, eps = op.frac_bits.value, op.eps.value
    if not 1 <= f <= 15:
        raise op.error(f"frac_bits must be in [1, 15], got {f}")
    if eps < 0:
        raise op.error(f"eps must be >= 0, got {eps}")
    g = f if op.sqrt_frac_bits is None else op.sqrt_frac_bits.value
    if not 0 <= g <= f:
        raise op.error(f"sqrt_frac_bits must be in [0, frac_bits = {f}], got {g}")
    return f, g, eps


def _norm_statistics_fit(op: Op, n: int, f: int, g: int, eps: int) -> bool:
    """Whether the exact statistics over n elements (sum of squares, scaled variance) stay inside int64."""
    bits = width(op.input)
    return (n * n * 2 ** (2 * bits - 2) + eps) * 2 ** (2 * g) < 2**63 and n * 2 ** (bits + f + g + 2) < 2**63


def _layer_norm_rows(op: Op, shape: tuple[int, ...]) -> tuple[int, int]:
    """bpu.layer_norm normalizes the last dim: (elements per row, gamma/beta length) = (n, n)."""
    return shape[-1], shape[-1]


def _group_norm_rows(op: Op, shape: tuple[int, ...]) -> tuple[int, int]:
    """bpu.group_norm normalizes each (sample, group): C / G channels x the spatial size; gamma/beta per channel."""
    groups = op.num_groups.value
    if len(shape) < 2 or groups < 1 or shape[1] % groups:
        raise op.error(f"{groups} groups do not divide the channels of a {list(shape)} input")
    n = shape[1] // groups
    for d in shape[2:]:
        n *= d
    return n, shape[1]


#: the integer steps' attributes of bpu.layer_norm and bpu.group_norm (after gamma, beta and the op's own)
_NORM_STEP_ATTRS = {"frac_bits": _attr(INT), "sqrt_frac_bits": _attr(INT, optional=True), "eps": _attr(INT),
                    "multiplier": _attr(INT), "shift": _attr(INT), "rounding": _rounding_attr()}


def _norm_op(name: str, doc: str, rows, extra: dict) -> type[Op]:
    """bpu.layer_norm and bpu.group_norm: one declaration (operands, the integer steps' attributes, `extra`
    after beta) and one verifier; they differ only in which elements form a row (`rows(op, shape)` -> its
    length and gamma/beta's)."""
    def verify_op(self: Op) -> None:
        f, g, eps = _norm_bits(self)
        _verify_rescale(self, [self.multiplier.value], [self.shift.value])
        s = shape_of(self.input)
        if s is None:  # an unranked input: the shape checks wait for a ranked one
            return
        n, per = rows(self, s)
        for what, v in (("gamma", self.gamma), ("beta", self.beta)):
            if shape_of(v) is not None and shape_of(v) != (per,):
                raise self.error(f"{what} must have shape [{per}], got {list(shape_of(v))}")
        if not _norm_statistics_fit(self, n, f, g, eps):
            raise self.error(f"rows of {n} {dtype_name(self.input)} elements with frac_bits {f}, sqrt_frac_bits {g} "
                             f"and eps {eps} overflow int64 statistics")

    return declare_op(__name__, name, doc, {
        "input": operand(Activation), "gamma": operand(Weight), "beta": operand(_int_tensor((32,))), **extra,
        **_NORM_STEP_ATTRS, "out": result(Activation),
        "assembly_format": "$input `,` $gamma `,` $beta attr-dict `:` functional-type(operands, results)"},
        verify_op, traits=PURE_SAME_SHAPE)


LayerNormOp = _norm_op("bpu.layer_norm", "Integer layer norm over the last dim: exact statistics, "
                       "integer square root, i8 gamma, i32 beta.", _layer_norm_rows, {})
GroupNormOp = _norm_op("bpu.group_norm", "bpu.layer_norm's integer steps over each (sample, group) "
                       "of C / G channels, gamma/beta per channel.", _group_norm_rows, {"num_groups": _attr(INT)})


RESIZE_MODES = ("nearest", "bilinear")


@DIALECT.op
class ResizeOp(Op):
    """Nearest (codes copied) or bilinear (F-bit fixed-point weights, then requantize) resize to the result's size."""

    name = "bpu.resize"
    traits = PURE
    input = operand(Activation)
    mode = _attr(STR)
    align_corners = _attr(BOOL, default=False)
    frac_bits = _attr(INT, optional=True)
    multiplier = _attr(INT, optional=True)
    shift = _attr(INT, optional=True)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        if self.mode.value not in RESIZE_MODES:
            raise self.error(f"mode must be one of {', '.join(RESIZE_MODES)}, got '{self.mode.value}'")
        s, o = shape_of(self.input), shape_of(self.out)
        if s is not None and o is not None and (len(s) != 4 or len(o) != 4 or o[:2] != s[:2]):
            raise self.error(f"expects [N, C, H, W] -> [N, C, OH, OW], got {list(s)} -> {list(o)}")
        bilinear = self.mode.value == "bilinear"
        params = (self.frac_bits, self.multiplier, self.shift)
        if bilinear != all(p is not None for p in params) or any(p is not None for p in params) != bilinear:
            raise self.error("frac_bits, multiplier and shift are required for bilinear and not allowed for nearest")
        if bilinear:
            f = self.frac_bits.value
            if not 1 <= f <= 15:
                raise self.error(f"frac_bits must be in [1, 15], got {f}")
            _verify_rescale(self, [self.multiplier.value], [self.shift.value])
        else:
            _verify_codes_kept(self)


Indices = _int_tensor((32, 64))


@DIALECT.op
class EmbeddingOp(Op):
    """Row lookup with one rounding per row's scale (nn.Embedding on an int8 table, per row or per tensor)."""

    name = "bpu.embedding"
    traits = PURE
    indices = operand(Indices)
    table = operand(Weight)
    multiplier = _attr(I64_ARRAY)
    shift = _attr(I64_ARRAY)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$indices `,` $table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        ts, ids, o = shape_of(self.table), shape_of(self.indices), shape_of(self.out)
        if ts is not None and len(ts) != 2:
            raise self.error(f"table must be 2-D [rows, dim], got shape {list(ts)}")
        if ts is not None and ids is not None and o is not None and tuple(o) != (*ids, ts[1]):
            raise self.error(f"result shape {list(o)} does not match indices {list(ids)} + [{ts[1]}]")
        m, sh = _ints(self.multiplier), _ints(self.shift)
        if len(m) != len(sh) or not m:
            raise self.error(f"multiplier and shift need the same non-zero length, got {len(m)} and {len(sh)}")
        _per_channel_length(self, len(m), ts[0] if ts is not None else None, "multiplier")
        _verify_rescale(self, m, sh)


@DIALECT.op
class CumsumOp(Op):
    """Exact prefix sums of codes along `dim` into an accumulator (a bpu.requantize rescales them)."""

    name = "bpu.cumsum"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    dim = _attr(INT)
    out = result(Accumulator)
    assembly_format = UNARY_FORMAT

    def verify_op(self) -> None:
        s = shape_of(self.input)
        d = _verify_axis(self, self.dim.value, s)
        if d is None:
            return
        n = s[d]
        bound = n * 2 ** (width(self.input) - 1)  # the largest |prefix sum| of n codes
        if bound >= 2 ** (width(self.out) - 1):
            raise self.error(f"accumulator {dtype_name(self.out)} cannot hold prefix sums of {n} "
                             f"{dtype_name(self.input)} codes (|sum| up to {bound}); use i64")


@DIALECT.op
class LogSoftmaxOp(Op):
    """Integer log-softmax: max-subtract, exp table, exact sum, an integer log2 (leading bit + a mantissa table),
    one rounding of ``d M - L M_log``."""

    name = "bpu.log_softmax"
    traits = PURE_SAME_SHAPE
    input = operand(Activation)
    exp_table = operand(_int_tensor((32,)))
    log_table = operand(_int_tensor((32,)))
    dim = _attr(INT)
    exp_bits = _attr(INT)
    log_frac_bits = _attr(INT)
    multiplier = _attr(INT)
    log_multiplier = _attr(INT)
    shift = _attr(INT)
    rounding = _rounding_attr()
    out = result(Activation)
    assembly_format = "$input `,` $exp_table `,` $log_table attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        s = shape_of(self.input)
        _verify_axis(self, self.dim.value, s)
        _verify_exp_table(self, 2**30)
        e, f = self.exp_bits.value, self.log_frac_bits.value
        ls = shape_of(self.log_table)
        if ls is not None:
            index_bits = (ls[0] - 1).bit_length() - 1 if len(ls) == 1 and ls[0] > 2 else -1
            if index_bits < 1 or ls[0] != 2**index_bits + 1:
                raise self.error(f"log_table must have 2^B + 1 entries (B >= 1), got shape {list(ls)}")
            if not index_bits + 1 <= e <= 30:
                raise self.error(f"exp_bits must be in [{index_bits + 1}, 30] for a log table of {ls[0]} entries, "
                                 f"got {e}")
        if not 1 <= f <= 24:
            raise self.error(f"log_frac_bits must be in [1, 24], got {f}")
        data = constant_array(self.exp_table)
        if data is not None and data.size and data.max() > 2**e:
            raise self.error(f"exp_table entries must lie in [0, 2^exp_bits = 2^{e}]")
        if data is not None and data.size and data[-1] != 2**e:
            raise self.error(f"exp_table's last entry (exp(0)) must be 2^exp_bits = {2**e}, got {int(data[-1])}: "
                             "the integer log2 reads the row sum against it")
        logs = constant_array(self.log_table)
        if logs is not None and logs.size and (logs.min() < 0 or logs.max() > 2**f):
            raise self.error(f"log_table entries must lie in [0, 2^log_frac_bits = 2^{f}]")
        if s is not None and s[self.dim.value] * 2**e >= 2**62:
            raise self.error(f"rows of {s[self.dim.value]} entries of 2^{e} overflow the int64 sum")
        _verify_rescale(self, [self.multiplier.value, self.log_multiplier.value], [self.shift.value])


def _verify_exp_table(op: Op, max_entry: int) -> None:
    """An exp table (bpu.softmax, bpu.log_softmax) has one entry per possible difference x - max(x), none
    negative or above `max_entry`, and a positive exp(0) entry (the last): every row's sum includes it, so a
    zero there is a division by zero (softmax) or a log of zero (log_softmax) on a constant row."""
    ts = shape_of(op.exp_table)
    need = LUT_SIZES[width(op.input)]
    if ts is not None and ts != (need,):
        raise op.error(f"exp_table must have {need} entries for {dtype_name(op.input)} inputs, got shape {list(ts)}")
    data = constant_array(op.exp_table)
    if data is None or not data.size:
        return
    if data.min() < 0 or data.max() > max_entry:
        raise op.error(f"exp_table entries must lie in [0, {max_entry}]")
    if data[-1] <= 0:
        raise op.error("exp_table's last entry (exp(0), the row maximum's) must be positive: every row sum includes "
                       f"it, and a zero would divide by zero; got {int(data[-1])}")
