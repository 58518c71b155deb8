"""The bpu dialect object, its storage-type constraints, attribute kinds and verifier checks.

Kept apart from the op definitions (dialects/bpu.py) so the ops read as declarations: what each op
checks is named here once (multiplier/shift ranges, clamp bounds, proved accumulator widths,
per-channel lengths) and shared by every op that needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

from irq.dialects._opspec import STR, AttrKind, ShapeError
from irq.dialects._shapes import shape_of

from irq.ir.attributes import Attribute, DenseArrayAttr, FloatAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Constraint, Op, attribute
from irq.ir.traits import Pure, Trait
from irq.ir.types import FloatType, IntegerType, ShapedType, Type, i64

#: The one bpu dialect: the op modules (_bpu_compute, _bpu_composite, _bpu_movement) register onto it, and
#: dialects/bpu.py re-exports it as `DIALECT`, which is what dialect discovery loads (private modules are skipped).
DIALECT = Dialect("bpu", "Fixed-point ops on storage types with explicit integer parameters.")

#: Storage dtypes by width, and which roles may use them.
ACTIVATION_WIDTHS = (8, 16)
ACCUMULATOR_WIDTHS = (32, 64)
LUT_SIZES = {8: 256, 16: 65536}
# The parameter ranges of irq.fixedpoint, repeated here so that loading the dialect (every irq-opt
# start-up) does not import numpy; tests/test_bpu_dialect.py checks they stay equal.
ROUNDING_MODES = ("half_up", "half_even", "half_away", "floor")
MULTIPLIER_BITS = 31
MIN_SHIFT, MAX_SHIFT = 1, 62


# -- type constraints -----------------------------------------------------------------------------
def _int_tensor(widths: Sequence[int]) -> Constraint:
    def pred(t: Type) -> bool:
        return (isinstance(t, ShapedType) and isinstance(t.element_type, IntegerType)
                and not t.element_type.is_unsigned and t.element_type.width in widths)
    names = "/".join(f"i{w}" for w in widths)
    return Constraint(pred, f"a tensor of {names}")


Activation = _int_tensor(ACTIVATION_WIDTHS)
Weight = _int_tensor((8,))
Accumulator = _int_tensor(ACCUMULATOR_WIDTHS)
AnyStorage = _int_tensor((8, 16, 32, 64))
FloatTensor = Constraint(lambda t: isinstance(t, ShapedType) and isinstance(t.element_type, FloatType),
                         "a float tensor")


# -- attribute kinds --------------------------------------------------------------------------------
def _int_array(v) -> Attribute:
    if isinstance(v, Attribute):
        return v
    if isinstance(v, int):
        v = [v]
    return DenseArrayAttr(i64, [int(x) for x in v])


I64_ARRAY = AttrKind("an array<i64: ...>", lambda a: isinstance(a, DenseArrayAttr) and a.element_type is i64,
                     _int_array)
SCALE = AttrKind("a positive float or an array<f64: ...> of them",
                 lambda a: (isinstance(a, FloatAttr) and a.value > 0)
                 or (isinstance(a, DenseArrayAttr) and isinstance(a.element_type, FloatType) and len(a) > 0
                     and all(x > 0 for x in a)),
                 lambda v: v if isinstance(v, Attribute) else FloatAttr(float(v)))


def _attr(kind: AttrKind, optional: bool = False, default=None):
    return attribute(kind.predicate(), optional=optional, default=default, coerce=kind.coerce)


def _rounding_attr():
    return _attr(STR, default="half_up")


# -- helpers for verifiers ----------------------------------------------------------------------------
def width(v_or_t) -> int:
    """Bit width of a value's (or type's) integer element type."""
    t = v_or_t if isinstance(v_or_t, Type) else v_or_t.type
    return t.element_type.width


def dtype_name(v_or_t) -> str:
    return f"i{width(v_or_t)}"


def storage_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def constant_array(v):
    """The numpy data of a value defined by `bpu.constant`, else None (used to prove bounds)."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "bpu.constant":  # by name: the op classes import this module
        return op.value.to_numpy()
    return None


def _ints(a) -> list[int]:
    return [int(x) for x in a] if a is not None else []


def _verify_rounding(op: Op) -> None:
    r = op.get_attr("rounding")
    if r is not None and r.value not in ROUNDING_MODES:
        raise op.error(f"rounding must be one of {', '.join(ROUNDING_MODES)}, got '{r.value}'")


def _verify_multipliers(op: Op, multipliers: Sequence[int], shifts: Sequence[int], what: str = "") -> None:
    for m in multipliers:
        if not 0 <= m < 2**MULTIPLIER_BITS:
            raise op.error(f"{what}multiplier {m} is outside [0, 2^{MULTIPLIER_BITS})")
    for s in shifts:
        if not MIN_SHIFT <= s <= MAX_SHIFT:
            raise op.error(f"{what}shift {s} is outside [{MIN_SHIFT}, {MAX_SHIFT}]")


def _verify_clamp(op: Op) -> None:
    lo, hi = storage_range(width(op.results[0]))
    a, b = op.get_attr("min"), op.get_attr("max")
    cmin = lo if a is None else a.value
    cmax = hi if b is None else b.value
    if not lo <= cmin <= cmax <= hi:
        raise op.error(f"clamp bounds [{cmin}, {cmax}] must be ordered and inside the {dtype_name(op.results[0])} "
                       f"range [{lo}, {hi}]")


def _verify_codes_kept(op: Op) -> None:
    """Ops that move or select codes (pools' maximum, clamps, nearest resize, data movement) keep the input's
    dtype: the codes are the same numbers at the same scale."""
    if op.input.type.element_type is not op.out.type.element_type:
        raise op.error(f"result dtype {dtype_name(op.out)} differs from the input's {dtype_name(op.input)}: the codes "
                       "pass through unchanged")


def _shape_mismatch(a, b, what: str) -> str | None:
    sa, sb = shape_of(a), shape_of(b)
    if sa is not None and sb is not None and sa != sb:
        return f"{what} shape {list(sa)} differs from {list(sb)}"
    return None


def _verify_same_shape(op: Op, a, b, what: str) -> None:
    message = _shape_mismatch(a, b, what)
    if message is not None:
        raise op.error(message)


def _verify_axis(op: Op, value: int, shape: tuple[int, ...] | None, what: str = "dim") -> int | None:
    """`value` (a dim or axis attribute, negative from the end) as an index into `shape`; None when the shape
    is unknown. One message for every op that takes a dim or an axis."""
    if shape is None:
        return None
    if not -len(shape) <= value < len(shape):
        raise op.error(f"{what} {value} is out of range for rank {len(shape)}")
    return value % len(shape)


def _verify_rescale(op: Op, multipliers: Sequence[int], shifts: Sequence[int], what: str = "") -> None:
    """The (M, S) pairs and the rounding mode of an op that ends in one rounding."""
    _verify_multipliers(op, multipliers, shifts, what)
    _verify_rounding(op)


# -- declarative constraints and the op factory --------------------------------------------------------------
class _SameShapeAsInput(Trait):
    """The result `out` has the shape of the operand `input`: the element-wise, row-wise and rescaling ops
    declare it in `traits` instead of repeating the check in each verify_op (the verifier runs traits
    first, with the message `_verify_same_shape` gives)."""

    name = "SameShapeAsInput"

    def verify(self, op) -> str | None:
        return _shape_mismatch(op.input, op.out, "result")


SameShapeAsInput = _SameShapeAsInput()
#: the traits of most bpu ops: no side effects; and, for ops whose result has the input's shape, that too
PURE = frozenset({Pure})
PURE_SAME_SHAPE = frozenset({Pure, SameShapeAsInput})
#: the assembly formats most bpu ops share
UNARY_FORMAT = "$input attr-dict `:` functional-type(operands, results)"
BINARY_FORMAT = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"


def declare_op(module: str, name: str, doc: str, fields: dict, verify_op, *,
               traits: frozenset = PURE) -> type[Op]:
    """Build and register an op class from its declarative fields (operands, attributes, result, assembly
    format): the op families that share one verifier (conv-like, element-wise binary, data movement, the
    norms) are declared through it. `module` is the declaring module's `__name__` (the class's home)."""
    cls_name = "".join(p.capitalize() for p in name.split(".")[1].split("_")) + "Op"
    ns = {"__module__": module, "__doc__": doc, "name": name, "traits": traits, **fields, "verify_op": verify_op}
    return DIALECT.op(type(Op)(cls_name, (Op,), ns))


def _check_shape_rule(op: Op, rule) -> None:
    if any(shape_of(v) is None for v in op.operands):
        return
    try:
        expected = rule(op)
    except ShapeError as e:
        raise op.error(str(e)) from None
    if expected is None:
        return
    got = shape_of(op.results[0])
    if expected[0] is not None and got is not None and tuple(got) != tuple(expected[0]):
        raise op.error(f"result shape {list(got)} does not match the expected {list(expected[0])}")


def _verify_accumulator(op: Op, reduction: int, x, w_absmax: int) -> None:
    """The result dtype must hold the proved bound K * max|x| * max|w| + max|bias|."""
    bias = op.operands[2] if len(op.operands) > 2 else None
    extra = 0
    if bias is not None:
        data = constant_array(bias)
        # a bias that is not a constant cannot enter the proof; runtimes refuse a result outside its dtype
        extra = int(abs(data.astype("int64")).max()) if data is not None and data.size else 0
    from irq.fixedpoint import accumulator_dtype
    need = accumulator_dtype(reduction, dtype_name(x), w_absmax, extra)
    if need == "i64" and width(op.results[0]) < 64:
        raise op.error(f"accumulator i{width(op.results[0])} cannot hold {reduction} products of {dtype_name(x)} "
                       f"x |w| <= {w_absmax} plus the bias; use i64")


def _weight_absmax(w) -> int:
    data = constant_array(w)
    if data is None or not data.size:
        return 128
    return int(abs(data.astype("int64")).max())


def _per_channel_length(op: Op, n: int, channels: int | None, what: str) -> None:
    if n != 1 and channels is not None and n != channels:
        raise op.error(f"{what} has {n} entries; expected 1 (per tensor) or {channels} (per channel)")
