"""Hypothesis strategies for random types, attributes, locations and whole modules.

The modules are built as IR objects (not text), so the round-trip tests check
that whatever the IR can hold, the printer writes and the parser reads back.
Generated IR keeps SSA dominance inside SSACFG regions and types registered ops
correctly (their custom forms derive operand types from the format); the module
body, a graph region, also gets forward references.
"""

from __future__ import annotations

import string
from functools import cache

import numpy as np
from hypothesis import strategies as st
from irq.dialects import arith, func
from irq.dialects.builtin import ModuleOp, UnrealizedConversionCastOp
from irq.dialects.quant import (
    _SCALE_RANGE,
    QUANTIZED_TYPES,
    AnyQuantizedType,
    CalibratedQuantizedType,
    QuantileQuantizedType,
    QuantizeCastOp,
    UniformQuantizedPerAxisType,
    UniformQuantizedSubChannelType,
    UniformQuantizedType,
)

from irq.ir import (
    ArrayAttr,
    Block,
    BoolAttr,
    CallSiteLoc,
    ComplexType,
    Context,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceElementsAttr,
    Dialect,
    DictionaryAttr,
    FileLineColLoc,
    FloatAttr,
    FloatType,
    FunctionType,
    FusedLoc,
    IndexType,
    IntegerAttr,
    IntegerType,
    NameLoc,
    NoneType,
    Op,
    OpaqueAttr,
    OpaqueType,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
    TypeAttr,
    UnitAttr,
    UnknownLoc,
    UnregisteredOp,
    VectorType,
    default_context,
    variadic_operand,
    variadic_region,
    variadic_result,
    variadic_successor,
)

# ----------------------------------------------------------------------------- names and text
_ID_FIRST = string.ascii_letters + "_"
IDENT = st.builds(str.__add__, st.sampled_from(_ID_FIRST), st.text(_ID_FIRST + string.digits + "$", max_size=5))


@cache
def ints(lo: int, hi: int):
    """Cached integer strategies: building strategies inside draws dominates generation time otherwise."""
    return st.integers(lo, hi)
# arbitrary text: unicode, control characters, quotes, backslashes
ANY_TEXT = st.text(max_size=12)
# raw bytes that are not UTF-8 survive as surrogate escapes (MLIR strings are byte strings)
BYTES_TEXT = st.binary(max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape"))
TEXT = st.one_of(IDENT, ANY_TEXT, BYTES_TEXT, st.sampled_from(["", "a\"b", "back\\slash", "tab\there", "\n", "é∑😀"]))
NAME = st.one_of(IDENT, IDENT.map(lambda s: s + ".x"), st.text(min_size=1, max_size=12),
                 st.binary(min_size=1, max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape")))
UNKNOWN_DIALECTS = st.sampled_from(["test", "foo", "my_d", "x1"])

# ----------------------------------------------------------------------------- types
INT_WIDTHS = [1, 2, 7, 8, 16, 32, 64, 128, 1000]
int_types = st.builds(IntegerType, st.sampled_from(INT_WIDTHS), st.sampled_from(["", "s", "u"]))
ATTR_FLOATS = ["f16", "bf16", "f32", "f64"]
attr_float_types = st.sampled_from(ATTR_FLOATS).map(FloatType)
float_types = st.sampled_from(ATTR_FLOATS + ["tf32", "f80", "f128", "f8E5M2", "f8E4M3FN"]).map(FloatType)


@st.composite
def quant_types(draw):
    storage = IntegerType(draw(st.sampled_from([2, 4, 8, 16, 32])), draw(st.sampled_from(["", "u"])))
    lo, hi = (0, (1 << storage.width) - 1) if storage.signedness == "u" else \
        (-(1 << (storage.width - 1)), (1 << (storage.width - 1)) - 1)
    if draw(st.booleans()):
        a = draw(ints(lo, hi - 1))
        lo, hi = a, draw(ints(a + 1, hi))
    expressed = draw(attr_float_types)
    smin, smax = _SCALE_RANGE[expressed.kind]  # MLIR rejects scales the expressed type cannot hold
    scales = st.floats(min_value=smin, max_value=min(smax, 1e300), allow_nan=False, allow_infinity=False)
    zps = ints(lo, hi)
    kind = draw(st.sampled_from(["tensor", "axis", "axis", "tensor", "sub", "any", "calibrated", "quantile"]))
    if kind == "tensor":
        return UniformQuantizedType(storage, expressed, draw(scales), draw(zps), lo, hi)
    if kind == "sub":
        shape = draw(st.lists(ints(1, 2), min_size=1, max_size=2))
        n = 1
        for d in shape:
            n *= d
        blocks = {a: draw(ints(1, 3)) for a in draw(st.sets(ints(0, 2), max_size=2))}
        block_scales = draw(st.lists(scales, min_size=n, max_size=n))
        return UniformQuantizedSubChannelType(storage, expressed, blocks, block_scales,
                                              draw(st.lists(zps, min_size=n, max_size=n)), shape, lo, hi)
    if kind == "any":
        return AnyQuantizedType(storage, draw(st.none() | st.just(expressed)), lo, hi)
    if kind == "calibrated":
        a = draw(st.floats(-1e6, 1e6))
        return CalibratedQuantizedType(expressed, a, draw(st.floats(a + 1, 2e6)))
    if kind == "quantile" and hi - lo < 64:
        return QuantileQuantizedType(storage, expressed, draw(st.lists(st.floats(-9, 9), min_size=hi - lo + 1,
                                                                       max_size=hi - lo + 1)), lo, hi)
    n = draw(ints(1, 4))
    return UniformQuantizedPerAxisType(storage, expressed, draw(st.lists(scales, min_size=n, max_size=n)),
                                       draw(st.lists(zps, min_size=n, max_size=n)), draw(ints(0, 3)), lo, hi)


def _balanced_body(depth: int = 2):
    """Text that is balanced in <>, (), [], {} and strings, as an opaque body may contain."""
    atom = st.one_of(IDENT, st.integers(-99, 999).map(str), TEXT.map(_quoted), st.sampled_from(["->", ",", ":", "*"]))
    if depth == 0:
        return st.lists(atom, max_size=3).map(" ".join)
    inner = _balanced_body(depth - 1)
    group = st.tuples(st.sampled_from(["<>", "()", "[]", "{}"]), inner).map(lambda t: t[0][0] + t[1] + t[0][1])
    return st.lists(st.one_of(atom, group), max_size=3).map(", ".join)


def _quoted(s: str) -> str:
    from irq.text.strings import quote_string
    return quote_string(s)


@st.composite
def opaque_types(draw):
    d = draw(UNKNOWN_DIALECTS)
    form = draw(ints(0, 2))
    if form == 0:
        return OpaqueType(d, f"!{d}.{draw(IDENT)}")
    if form == 1:
        return OpaqueType(d, f"!{d}.{draw(IDENT)}<{draw(_balanced_body())}>")
    return OpaqueType(d, f"!{d}<{_quoted(draw(TEXT))}>")


def _shape(static: bool, max_rank: int = 3):
    dim = ints(0, 5) if static else st.one_of(ints(0, 5), st.none())
    return st.lists(dim, max_size=max_rank)


VECTOR_SHAPE = st.lists(ints(1, 5), min_size=1, max_size=3)
scalar_types = st.one_of(int_types, float_types, st.just(IndexType()), quant_types(), opaque_types(),
                         st.builds(ComplexType, st.one_of(attr_float_types, int_types)))


def _extend_types(inner):
    element = st.one_of(scalar_types, st.builds(VectorType, VECTOR_SHAPE,
                                                 st.one_of(int_types, attr_float_types)))
    encoding = st.one_of(st.none(), st.none(), st.sampled_from(['"enc"', "#foo.enc<1, [2]>", "@sym"]))
    return st.one_of(
        st.builds(TensorType, _shape(False), element, encoding),
        st.builds(TensorType, st.none(), element),
        st.builds(VectorType, VECTOR_SHAPE, scalar_types),  # no vectors of vectors (MLIR rejects them)
        st.builds(TupleType, st.lists(inner, max_size=3)),
        st.builds(FunctionType, st.lists(inner, max_size=3), st.lists(inner, max_size=3)),
    )


types = st.recursive(st.one_of(scalar_types, st.just(NoneType())), _extend_types, max_leaves=4)

# ----------------------------------------------------------------------------- attributes
SPECIAL_FLOATS = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 2.2250738585072014e-308,
                  1.7976931348623157e308, 1e-45, 1.401298464324817e-45, 3.4028234663852886e38, 6e-08, 65504.0,
                  0.1, 1 / 3, -2.5, 1e16, 123456789.0, 9.1835e-41]
floats_any = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True),
                       st.floats(width=32), st.floats(width=16))


@st.composite
def integer_attrs(draw):
    t = draw(st.one_of(st.builds(IntegerType, st.sampled_from(INT_WIDTHS[1:]), st.sampled_from(["", "s", "u"])),
                       st.just(IndexType())))
    if isinstance(t, IndexType):
        return IntegerAttr(draw(_int_values(-(1 << 63), (1 << 63) - 1)), t)
    lo, hi = t.value_range()
    return IntegerAttr(draw(_int_values(lo, hi)), t)


@cache
def _int_values(lo: int, hi: int):
    """Integers in [lo, hi], with the bounds, 0 and -1 drawn often."""
    return st.one_of(st.integers(lo, hi), st.sampled_from(sorted({lo, hi, max(lo, min(hi, 0)), max(lo, -1)})))


DENSE_ELEMENT_TYPES = [IntegerType(1), IntegerType(8), IntegerType(16), IntegerType(32), IntegerType(64),
                       IntegerType(8, "s"), IntegerType(8, "u"), IntegerType(16, "u"), IntegerType(32, "u"),
                       IntegerType(64, "u"), FloatType("f16"), FloatType("bf16"), FloatType("f32"), FloatType("f64"),
                       IndexType()]


@cache
def _element_values(et, n: int):
    if isinstance(et, IntegerType) and et.width == 1:
        return st.lists(st.booleans(), min_size=n, max_size=n)
    if isinstance(et, FloatType):
        return st.lists(floats_any, min_size=n, max_size=n)
    if isinstance(et, IndexType):
        lo, hi = -(1 << 63), (1 << 63) - 1
    else:
        lo, hi = et.storage_range()
    return st.lists(_int_values(lo, hi), min_size=n, max_size=n)


@st.composite
def dense_shaped(draw, max_elements: int = 100):
    et = draw(st.sampled_from(DENSE_ELEMENT_TYPES))
    big = draw(ints(0, 9)) == 0
    if big:  # more than 64 elements: printed as hex
        shape = [draw(ints(65, max_elements))]
    else:
        shape = draw(st.lists(ints(0, 4), max_size=3))
    cls = TensorType if draw(st.booleans()) or 0 in shape or not shape else VectorType
    return cls(shape, et) if cls is VectorType else TensorType(shape, et)


def _float_width(t) -> int:
    return 16 if t.kind == "bf16" else t.width


@cache
def float_bits(width: int):
    """Raw bit patterns: NaN payloads, signalling NaNs, denormals, infinities, anything."""
    exp_all_ones = {16: 0x7C00, 32: 0x7F800000, 64: 0x7FF0000000000000}
    top = exp_all_ones.get(width, 0)
    special = [top, top | 1, top | (top >> 1 & ~top) | 1, 1, (1 << width) - 1, 1 << (width - 1)]
    return st.one_of(st.integers(0, (1 << width) - 1), st.sampled_from(special))


@st.composite
def float_attrs(draw):
    t = draw(attr_float_types)
    if draw(st.booleans()):
        bits = draw(float_bits(_float_width(t)))
        if t.kind == "bf16":  # bf16 shares f32's exponent field
            bits = draw(st.one_of(st.just(bits), st.sampled_from([0x7F81, 0xFFC1, 0x7F80, 0x0001])))
        return FloatAttr.from_bits(bits, t)
    return FloatAttr(draw(floats_any), t)


@st.composite
def dense_attrs(draw):
    t = draw(dense_shaped())
    n = t.num_elements
    et = t.element_type
    if isinstance(et, FloatType) and n and draw(st.booleans()):
        width = _float_width(et)
        bits = np.array(draw(st.lists(float_bits(width), min_size=n, max_size=n)), dtype=f"u{width // 8}")
        # bf16 is stored as its bit pattern; the others are viewed as their float dtype
        return DenseElementsAttr(t, (bits if et.kind == "bf16" else bits.view(f"f{width // 8}")).reshape(t.shape))
    if draw(st.booleans()) and n:
        vals = draw(_element_values(t.element_type, 1))
        return DenseElementsAttr(t, vals[0])  # splat
    vals = draw(_element_values(t.element_type, n))
    return DenseElementsAttr(t, np.array(vals, dtype=object if n and not isinstance(vals[0], float) else None)
                             .reshape(t.shape) if n else np.zeros(t.shape))


RESOURCE_KEYS = st.one_of(IDENT, IDENT.map(lambda s: s + ".w-1"), st.sampled_from(["a key", "k\"q", "ключ"]))


@st.composite
def resource_attrs(draw):
    t = draw(dense_shaped(max_elements=80))
    n = t.num_elements
    et = t.element_type
    vals = draw(_element_values(et, n))
    from irq.ir.dense import storage_dtype
    with np.errstate(over="ignore"):  # huge doubles become inf in narrower floats, on purpose
        if isinstance(et, FloatType) and et.kind == "bf16":
            arr = np.array(vals, dtype=np.float32)
        elif isinstance(et, IntegerType) and et.width == 1:
            arr = np.array(vals, dtype=np.bool_)
        else:
            arr = np.array(vals, dtype=object if isinstance(et, (IntegerType, IndexType)) else np.float64)
            arr = arr.astype(storage_dtype(et)) if isinstance(et, FloatType) else arr
    return DenseResourceElementsAttr.from_array(draw(RESOURCE_KEYS), t, arr.reshape(t.shape))


@st.composite
def dense_array_attrs(draw):
    et = draw(st.sampled_from([IntegerType(1), IntegerType(8), IntegerType(16), IntegerType(32), IntegerType(64),
                               FloatType("f16"), FloatType("f32"), FloatType("f64")]))
    n = draw(ints(0, 5))
    if isinstance(et, FloatType):
        return DenseArrayAttr(et, draw(st.lists(floats_any, min_size=n, max_size=n)))
    if et.width == 1:
        return DenseArrayAttr(et, draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    lo, hi = et.storage_range()
    return DenseArrayAttr(et, draw(st.lists(ints(lo, hi), min_size=n, max_size=n)))


@st.composite
def opaque_attrs(draw):
    d = draw(UNKNOWN_DIALECTS)
    form = draw(ints(0, 2))
    if form == 0:
        return OpaqueAttr(d, f"#{d}.{draw(IDENT)}")
    if form == 1:
        return OpaqueAttr(d, f"#{d}.{draw(IDENT)}<{draw(_balanced_body())}>")
    return OpaqueAttr("builtin", "affine_map<(d0, d1) -> (d1, d0)>")


leaf_attrs = st.one_of(
    integer_attrs(),
    float_attrs(),
    st.builds(BoolAttr, st.booleans()),
    st.builds(StringAttr, TEXT),
    st.just(UnitAttr()),
    st.builds(TypeAttr, types),
    st.builds(SymbolRefAttr, NAME, st.lists(NAME, max_size=2)),
    dense_attrs(),
    resource_attrs(),
    dense_array_attrs(),
    opaque_attrs(),
)


def _extend_attrs(inner):
    return st.one_of(st.builds(ArrayAttr, st.lists(inner, max_size=4)),
                     st.builds(DictionaryAttr, st.dictionaries(NAME, inner, max_size=3)))


attributes = st.recursive(leaf_attrs, _extend_attrs, max_leaves=5)
attr_dicts = st.dictionaries(NAME, attributes, max_size=2)
# on ops, attribute dictionaries are often empty: every attribute costs many draws
op_attr_dicts = st.one_of(st.just({}), st.dictionaries(NAME, attributes, min_size=1, max_size=2))

# ----------------------------------------------------------------------------- locations
_LOC_FILES = st.one_of(IDENT.map(lambda s: s + ".py"), TEXT)
file_locs = st.one_of(
    st.builds(FileLineColLoc, _LOC_FILES, st.integers(0, 10 ** 6), st.integers(0, 10 ** 4)),
    # ranges: `to L:C` and, ending on the first line, `to :C`
    st.builds(FileLineColLoc, _LOC_FILES, st.integers(0, 99), st.integers(0, 99),
              st.one_of(st.none(), st.integers(0, 99)), st.integers(0, 99)))


def _extend_locs(inner):
    return st.one_of(
        st.builds(NameLoc, TEXT, st.one_of(st.none(), inner)),
        st.builds(FusedLoc, st.lists(inner, max_size=3)),
        st.builds(FusedLoc, st.lists(inner, max_size=3), attributes),
        st.builds(CallSiteLoc, inner, inner),
    )


locations = st.recursive(st.one_of(st.just(UnknownLoc()), file_locs, st.builds(NameLoc, TEXT)), _extend_locs,
                         max_leaves=5)

# ----------------------------------------------------------------------------- a test dialect
RT = Dialect("rt", "registered ops with regions and successors, in the default and a declarative form")


@RT.op
class PrettyOp(Op):
    """No assembly format: printed in irq's default pretty form."""

    name = "rt.pretty"
    ins = variadic_operand()
    outs = variadic_result()
    bodies = variadic_region()
    targets = variadic_successor()


@RT.op
class FormatOp(Op):
    """A declarative format with variadic regions and successors."""

    name = "rt.fmt"
    ins = variadic_operand()
    outs = variadic_result()
    bodies = variadic_region()
    targets = variadic_successor()
    assembly_format = "$ins (`to` $targets^)? attr-dict `:` functional-type($ins, $outs) $bodies"


def context() -> Context:
    """irq's dialects plus the test dialect."""
    return Context([*default_context().dialects.values(), RT])


# ----------------------------------------------------------------------------- modules
# every dialect the parsing context knows: an unregistered op must not borrow one of their names
REGISTERED_PREFIXES = tuple(f"{name}." for name in context().dialects)


@st.composite
def op_names(draw):
    name = draw(st.one_of(st.tuples(UNKNOWN_DIALECTS, IDENT).map(".".join), TEXT, IDENT))
    # MLIR rejects an empty op name and unknown ops of a registered dialect
    if not name or name.startswith(REGISTERED_PREFIXES) or name in ("module", "func", "return", "call"):
        name = "u." + name
    return name


# most op locations are plain; the nested kinds are covered by test_location_round_trip as well
OP_LOCATIONS = st.one_of(st.just(UnknownLoc()), file_locs, locations)

# size knobs: drawn from lists so that typical (not only tiny) shapes are common
BLOCKS = st.sampled_from([0, 1, 1, 2, 2, 3])
OPS_PER_BLOCK = st.sampled_from([0, 1, 2, 2, 3, 4])
REGIONS = st.sampled_from([0, 0, 1, 1, 2])
SUCCESSORS = st.sampled_from([1, 1, 2, 0])


class ModuleBuilder:
    """Builds one random module with `draw`, tracking which values each point may use."""

    def __init__(self, draw, *, max_depth: int = 3, registered: bool = True) -> None:
        self.draw = draw
        self.max_depth = max_depth
        self.registered = registered
        self.symbols: list[str] = []
        # ops left to create: bounds an example's size, so hypothesis does not spend its time
        # building modules too big for its choice buffer and then throwing them away
        self.budget = 24

    def loc(self):
        return self.draw(OP_LOCATIONS)

    def pick(self, visible: list, n: int) -> list:
        if not visible:
            return []
        k = ints(0, len(visible) - 1)
        return [visible[self.draw(k)] for _ in range(n)]

    # -- regions ------------------------------------------------------------------------
    def fill_region(self, region, visible: list, depth: int, *, blocks: int | None = None) -> None:
        nblocks = self.draw(BLOCKS) if blocks is None else blocks
        made = []
        for _ in range(nblocks):
            arg_types = self.draw(st.lists(types, max_size=2))
            locs = [self.draw(st.one_of(st.none(), locations)) for _ in arg_types]
            b = Block()
            for t, loc in zip(arg_types, locs):
                b.add_argument(t, loc)
            region.add_block(b)
            made.append(b)
        for b in made:
            scope = visible + list(b.args)
            n = min(self.draw(OPS_PER_BLOCK), max(self.budget, 0))
            self.budget -= n
            for i in range(n):
                op = self.any_op(scope, depth, successors=made if i == n - 1 and len(made) > 1 else None)
                b.append(op)
                scope = scope + list(op.results)

    def unregistered(self, visible: list, depth: int, successors=None) -> UnregisteredOp:
        draw = self.draw
        operands = self.pick(visible, draw(ints(0, 3)))
        nres = draw(ints(0, 3))
        op = UnregisteredOp(draw(op_names()), operands=operands, result_types=[draw(types) for _ in range(nres)],
                            attributes=draw(op_attr_dicts), properties=draw(op_attr_dicts),
                            regions=draw(REGIONS) if depth < self.max_depth else 0,
                            successors=self.pick(successors, draw(SUCCESSORS)) if successors else (),
                            location=self.loc())
        for r in op.regions:
            self.fill_region(r, visible, depth + 1)
        return op

    def any_op(self, visible: list, depth: int, successors=None):
        kinds = ["generic"] * 3
        if self.registered:
            kinds += ["arith", "qcast", "cast", "call", "rt", "invalid"]
        kind = self.draw(st.sampled_from(kinds))
        op = None
        if kind == "rt":
            return self.rt_op(visible, depth, successors)
        if kind == "invalid":
            return self.invalid_op(visible)
        if kind == "arith":
            op = self.arith_op(visible)
        elif kind == "qcast":
            op = self.qcast_op(visible)
        elif kind == "cast":
            op = UnrealizedConversionCastOp(self.pick(visible, self.draw(ints(0, 2))),
                                            result_types=self.draw(st.lists(types, max_size=2)),
                                            attributes=self.draw(st.dictionaries(IDENT.map("x_".__add__),
                                                                                 attributes, max_size=1)))
        elif kind == "call":
            args = self.pick(visible, self.draw(ints(0, 2)))
            callee = self.draw(st.one_of(st.sampled_from(self.symbols or ["ext"]),
                                         st.builds(lambda a, b: SymbolRefAttr(a, [b]), NAME, NAME)))
            op = func.CallOp(args=args, callee=callee, result_types=self.draw(st.lists(types, max_size=2)))
        if op is None:
            return self.unregistered(visible, depth, successors)
        op.location = self.loc()
        self.maybe_undeclared_property(op)
        return op

    def maybe_undeclared_property(self, op) -> None:
        """Sometimes give a registered op a property its definition does not declare: it must stay a
        property through printing and parsing (the custom form could only carry it as an attribute)."""
        if self.draw(ints(0, 4)) == 0:
            op.properties[self.draw(IDENT.map("p_".__add__))] = self.draw(attributes)

    def invalid_op(self, visible: list):
        """A registered op that fails its own verification: the printer must fall back to the generic
        form, which keeps everything (result types its custom form would infer differently included)."""
        draw = self.draw
        choice = draw(ints(0, 2))
        if choice == 0:  # arith.addi whose result type differs from its operands'
            ints_ = [v for v in visible if isinstance(v.type, IntegerType)]
            if ints_:
                a = self.pick(ints_, 1)[0]
                other = draw(st.sampled_from([IntegerType(3), FloatType("f32"), IndexType()]))
                return arith.AddIOp.create([a, a], [other], location=self.loc())
        if choice == 1:  # an arith.constant whose value type is not its result type
            return arith.ConstantOp.create((), [draw(types)], None, {"value": draw(integer_attrs())},
                                           location=self.loc())
        # a func.call without its callee attribute
        return func.CallOp.create(self.pick(visible, draw(ints(0, 2))), [draw(types)], None, {}, location=self.loc())

    def rt_op(self, visible: list, depth: int, successors):
        draw = self.draw
        cls = draw(st.sampled_from([PrettyOp, FormatOp]))
        nregions = draw(REGIONS) if depth < self.max_depth else 0
        op = cls(ins=self.pick(visible, draw(ints(0, 3))), result_types=[draw(types) for _ in range(draw(ints(0, 2)))],
                 attributes=draw(st.dictionaries(IDENT.map("x_".__add__), attributes, max_size=2)),
                 regions=nregions, targets=self.pick(successors, draw(SUCCESSORS)) if successors else [],
                 location=self.loc())
        for r in op.regions:
            self.fill_region(r, visible, depth + 1)
        return op

    def arith_op(self, visible: list):
        """A constant, then sometimes an element-wise op on values of one type."""
        draw = self.draw
        if draw(st.booleans()):
            same = [v for v in visible if isinstance(v.type, (IntegerType, IndexType))
                    or isinstance(v.type, FloatType) and v.type.kind in ATTR_FLOATS]
            if same:
                a = self.pick(same, 1)[0]
                b = self.pick([v for v in same if v.type is a.type], 1)[0]
                if isinstance(a.type, FloatType):
                    cls = draw(st.sampled_from([arith.AddFOp, arith.MulFOp, arith.DivFOp]))
                else:
                    cls = draw(st.sampled_from([arith.AddIOp, arith.SubIOp, arith.MaxSIOp]))
                return cls(a, b)
        value = draw(st.one_of(integer_attrs(), float_attrs(),
                               st.builds(BoolAttr, st.booleans()), dense_attrs()))
        return arith.ConstantOp(value)

    def qcast_op(self, visible: list):
        floats = [v for v in visible if isinstance(v.type, TensorType) and isinstance(v.type.element_type, FloatType)]
        if not floats:
            return None
        v = self.pick(floats, 1)[0]
        q = self.draw(quant_types().filter(lambda t: isinstance(t, QUANTIZED_TYPES)))
        return QuantizeCastOp(v, result_types=[v.type.with_element_type(q)])

    # -- functions and modules ----------------------------------------------------------------
    def func_op(self, depth: int):
        draw = self.draw
        name = draw(NAME)
        self.symbols.append(name)
        inputs = draw(st.lists(types, max_size=3))
        if draw(ints(0, 4)) == 0:  # a private declaration
            results = draw(st.lists(types, max_size=2))
            op = func.FuncOp(name, FunctionType(inputs, results), visibility="private", declaration=True)
        else:
            # hostile visibility strings: the printer must escape them (custom form falls back to generic)
            op = func.FuncOp(name, FunctionType(inputs, []), visibility=draw(st.sampled_from([None, "private",
                                                                                              "nested"]) | TEXT))
            body = op.regions[0].blocks[0]
            for a in body.args:
                a.location = draw(st.one_of(st.none(), locations))
            scope = list(body.args)
            for _ in range(draw(ints(0, 3))):
                if depth < 2 and draw(ints(0, 5)) == 0:  # a function nested in a function
                    child = self.func_op(depth + 1)
                else:
                    child = self.any_op(scope, depth + 1)
                body.append(child)
                scope += list(child.results)
            rets = self.pick(scope, draw(ints(0, 3)))
            body.append(func.ReturnOp(rets, location=self.loc()))
            results = [v.type for v in rets]
            op.function_type = FunctionType(inputs, results)
        # argument/result attribute lists where every dictionary is empty are the same as none (MLIR's rule)
        if draw(st.booleans()) and inputs:
            dicts = [draw(st.dictionaries(IDENT.map("test.a_".__add__), attributes, max_size=2)) for _ in inputs]
            if any(dicts):
                op.arg_attrs = ArrayAttr([DictionaryAttr(d) for d in dicts])
        if draw(st.booleans()) and results:
            dicts = [draw(st.dictionaries(IDENT.map("test.r_".__add__), attributes, max_size=2)) for _ in results]
            if any(dicts):
                op.res_attrs = ArrayAttr([DictionaryAttr(d) for d in dicts])
        op.attributes.update(draw(st.dictionaries(IDENT.map("x_".__add__), attributes, max_size=2)))
        op.location = self.loc()
        return op

    def module(self, depth: int = 0) -> ModuleOp:
        draw = self.draw
        m = ModuleOp(sym_name=draw(st.one_of(st.none(), NAME)) if depth else None, location=self.loc())
        if draw(st.booleans()):
            m.attributes.update(draw(st.dictionaries(IDENT.map("m_".__add__), attributes, max_size=2)))
        body = m.body
        scope: list = []
        for _ in range(min(draw(ints(1, 6)), max(self.budget, 1))):
            self.budget -= 1
            kind = draw(st.sampled_from(["op", "op", "func"] + (["module"] if depth == 0 else [])))
            if kind == "func" and self.registered:
                op = self.func_op(depth)
            elif kind == "module" and self.registered:
                op = self.module(depth + 1)
            else:
                op = self.any_op(scope, depth)
            body.append(op)
            scope += list(op.results)
        self.forward_references(body)
        return m

    def forward_references(self, body) -> None:
        """In the module's graph region, let some generic ops use values defined after them."""
        ops = list(body.ops)
        for i, op in enumerate(ops):
            if isinstance(op, UnregisteredOp) and op.operands and self.draw(ints(0, 3)) == 0:
                later = [r for o in ops[i + 1:] for r in o.results]
                if later:
                    op.set_operand(self.draw(ints(0, len(op.operands) - 1)), self.pick(later, 1)[0])


def unique_resource_keys(module) -> None:
    """Give distinct blobs distinct keys (the printer would rename clashing keys, changing the IR)."""
    from irq.ir.dense import DenseResourceElementsAttr as DR

    seen: dict[str, object] = {}

    def visit(a):
        if isinstance(a, DR):
            h = a.handle
            if seen.get(h.key, h) is not h:
                base, n = h.key, 0
                while h.key in seen:
                    n += 1
                    h.key = f"{base}.{n}"
            seen[h.key] = h
        elif isinstance(a, ArrayAttr):
            for e in a:
                visit(e)
        elif isinstance(a, DictionaryAttr):
            for e in a.value.values():
                visit(e)
        elif isinstance(a, FusedLoc):
            if a.metadata is not None:
                visit(a.metadata)
            for x in a.locations:
                visit(x)
        elif isinstance(a, NameLoc) and a.child is not None:
            visit(a.child)
        elif isinstance(a, CallSiteLoc):
            visit(a.callee)
            visit(a.caller)

    for op in module.walk():
        for a in (*op.properties.values(), *op.attributes.values(), op.location):
            visit(a)
        for r in op.regions:
            for b in r.blocks:
                for arg in b.args:
                    visit(arg.location)


@st.composite
def modules(draw, registered: bool = True, max_depth: int = 3):
    m = ModuleBuilder(draw, max_depth=max_depth, registered=registered).module()
    unique_resource_keys(m)
    return m

