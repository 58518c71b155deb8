"""arith's folds, canonicalizations and cast rules against MLIR's own, on the cases the mutation round missed.

bench/mutation.py's first `arith-folds` round (session 15, 346 mutants of dialects/arith.py and
dialects/_arith_semantics.py) left 97 alive: tests/test_arith_folding.py draws 40 random constant pairs, so
IEEE's signed-zero corners of maximumf / minimumf, sign rules at -1, the identity constants of the
canonicalizer, the commutative flags and the cast width rules were rarely or never reached. Here every pair
of edge values is folded, every identity and operand order is canonicalized with an unknown operand, and
every width rule is checked, each against MLIR (C++, through iree-base-compiler's bindings). Each test names
the planted bugs it catches.
"""

from __future__ import annotations

import itertools
import math

import pytest

import irq
from irq import ParseError

ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
from support.mlir_fold_oracle import CMPF, CMPI, FLOAT_OPS, INT_OPS, check_folds, f32_literal, mlir_fold  # noqa: E402

FLOAT_EDGES = [0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan]


def _int_edges(width: int) -> list[int]:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return sorted({0, 1, -1, 2, -2, width - 1, width, lo, hi, lo + 1})


@pytest.mark.parametrize("width", [8, 64])
def test_every_pair_of_integer_edges_folds_as_mlir(width):
    """Bugs caught: a signed division's sign taken from `a < 1` (a = -1 by 1), `_wrap` adding 2**w instead of
    subtracting it, a shift amount reduced modulo the width instead of 2**w (a shift by -1 folded), and every
    off-by-one between the edges (0, +-1, +-2, w - 1, w, the extremes)."""
    t = f"i{width}"
    edges = _int_edges(width)
    lines, results, undefined = [], [], set()
    for i, a in enumerate(edges):
        lines.append(f"%a{i} = arith.constant {a} : {t}")
    for i, j in itertools.product(range(len(edges)), repeat=2):
        a, b = edges[i], edges[j]
        for op in INT_OPS:
            r = f"%{op}_{i}_{j}"
            lines.append(f"{r} = arith.{op} %a{i}, %a{j} : {t}")
            results.append((r, t))
            divides = op in ("divsi", "divui", "remsi", "remui", "ceildivsi", "floordivsi")
            if divides and b == 0 or op in ("divsi", "ceildivsi", "floordivsi") and a == edges[0] and b == -1:
                undefined.add(r)
            if op.startswith("sh") and not 0 <= b % (1 << width) < width:
                undefined.add(r)
        for pred in CMPI:
            r = f"%c_{pred}_{i}_{j}"
            lines.append(f"{r} = arith.cmpi {pred}, %a{i}, %a{j} : {t}")
            results.append((r, "i1"))
    for i in range(len(edges)):
        narrow = "i8" if width > 8 else "i1"
        lines += [f"%tr{i} = arith.trunci %a{i} : {t} to {narrow}"]
        results += [(f"%tr{i}", narrow)]
        if width < 64:
            lines += [f"%es{i} = arith.extsi %a{i} : {t} to i64", f"%eu{i} = arith.extui %a{i} : {t} to i64"]
            results += [(f"%es{i}", "i64"), (f"%eu{i}", "i64")]
    check_folds(lines, results, frozenset(undefined))


def test_every_pair_of_float_edges_folds_as_mlir():
    """Bugs caught: maximumf / minimumf of +0 and -0 returning the wrong zero (`a == b == 0` read as
    `a >= b == 0`, the sign test inverted), a NaN test joined with `and`, and any predicate or NaN rule of
    cmpf at the edges (both zeros, both infinities, NaN, a non-integer)."""
    lines, results = [], []
    for i, a in enumerate(FLOAT_EDGES):
        lines.append(f"%a{i} = arith.constant {f32_literal(a)} : f32")
    for i, j in itertools.product(range(len(FLOAT_EDGES)), repeat=2):
        for op in FLOAT_OPS:
            r = f"%{op}_{i}_{j}"
            lines.append(f"{r} = arith.{op} %a{i}, %a{j} : f32")
            results.append((r, "f32"))
        for pred in CMPF:
            r = f"%c_{pred}_{i}_{j}"
            lines.append(f"{r} = arith.cmpf {pred}, %a{i}, %a{j} : f32")
            results.append((r, "i1"))
    check_folds(lines, results)


# -- canonicalization with an unknown operand ------------------------------------------------------
#: commutative in MLIR's ODS (Commutative trait), so canonicalize moves a constant lhs to the right
COMMUTATIVE = {"addi", "muli", "andi", "ori", "xori", "maxsi", "minsi", "maxui", "minui", "addf", "mulf",
               "maximumf", "minimumf", "maxnumf", "minnumf"}
#: (op, constant) where irq's canonicalizer promises `x op c -> x` (dialects/arith.py, `_RIGHT_IDENTITY`)
IDENTITIES = {("addi", "0"), ("subi", "0"), ("muli", "1"), ("addf", "-0.0"), ("subf", "0.0"), ("mulf", "1.0"),
              ("divf", "1.0")}


def _outcomes(module) -> list:
    """Per returned value: "arg" (a function argument), ("const", value) or (op name, operand kinds), the
    kinds "arg" / "const" / "op" in operand order."""
    func = next(iter(module.body.ops))
    ret = list(func.regions[0].blocks[0].ops)[-1]

    def kind(v) -> str:
        owner = getattr(v, "op", None)
        return "arg" if owner is None else "const" if owner.name == "arith.constant" else "op"

    out = []
    for v in ret.operands:
        owner = getattr(v, "op", None)
        if owner is None:
            out.append("arg")
        elif owner.name == "arith.constant":
            out.append(("const", owner.get_attr("value").value))
        else:
            out.append((owner.name, tuple(kind(o) for o in owner.operands)))
    return out


def _canonicalized(lines: list[str], args: str, results: list[tuple[str, str]]):
    names, types = ", ".join(r for r, _ in results), ", ".join(t for _, t in results)
    body = "\n".join(f"  {line}" for line in lines)
    text = f"func.func @f({args}) -> ({types}) {{\n{body}\n  return {names} : {types}\n}}\n"
    m = irq.parse_module(text)
    irq.verify(m)
    irq.PassManager.parse("builtin.module(func.func(canonicalize))").run(m)
    return text, _outcomes(m), _outcomes(irq.parse_module(mlir_fold(text)))


def same_value(a, b) -> bool:
    if isinstance(a, tuple) and a[0] == "const" and isinstance(b, tuple) and b[0] == "const":
        x, y = a[1], b[1]
        if isinstance(x, float) and isinstance(y, float):
            return (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))
    return a == b


@pytest.mark.parametrize("kind", ["int", "float"])
def test_canonicalize_with_an_unknown_operand_agrees_with_mlir(kind):
    """`op %x, %c`, `op %c, %x` and `op %x, %x` with %x an argument. Where irq promises a rewrite (an identity
    constant, `x * 0`, `x - x`, `max(x, x)`) the result must be MLIR's; a commutative op with a constant lhs
    must end as MLIR's result or with the constant moved right; anything else as MLIR's result or as written.

    Bugs caught: `x | 0 -> 0` (the `x * 0` rule chosen by `name >= "arith.muli"`), `x - x` left alone (the
    rule chosen by `name > "arith.subi"`), shrsi's operands swapped as if commutative, ori / minimumf /
    maxnumf no longer commutative (the constant stays left), the identity tests of `_is_scalar` /
    `_is_negative_zero` (`x + 0.0 -> x` is wrong for x = -0.0; `x + -0.0 -> x` is right), folds that assume
    both operands constant (`or` for `and`: a crash on %x), select with an unknown condition, and the casts'
    folds on an unknown operand."""
    if kind == "int":
        t, ops, consts = "i32", INT_OPS, ["0", "1", "-1", "2"]
    else:
        t, ops, consts = "f32", FLOAT_OPS, ["0.0", "-0.0", "1.0", "2.0"]
    lines = [f"%k{i} = arith.constant {c} : {t}" for i, c in enumerate(consts)]
    results: list[tuple[str, str]] = []
    #: result -> the outcomes allowed besides MLIR's (empty: exactly MLIR's)
    also: dict[str, set] = {}

    def add(r: str, text: str, rtype: str, kinds: tuple[str, ...], alternatives: set | None = None) -> None:
        lines.append(f"{r} = {text}")
        results.append((r, rtype))
        name = text.split()[0]
        also[r] = {(name, kinds)} if alternatives is None else alternatives

    for op in ops:
        name = f"arith.{op}"
        for i, c in enumerate(consts):
            promised = (op, c) in IDENTITIES or (op == "muli" and c == "0")
            add(f"%{op}_x_{i}", f"{name} %x, %k{i} : {t}", t, ("arg", "const"), set() if promised else None)
            moved = {(name, ("arg", "const"))} if op in COMMUTATIVE else None
            add(f"%{op}_{i}_x", f"{name} %k{i}, %x : {t}", t, ("const", "arg"), moved)
        add(f"%{op}_x_x", f"{name} %x, %x : {t}", t, ("arg", "arg"),
            set() if op in ("subi", "maxsi", "minsi") else None)
    cmp, preds = ("arith.cmpi", CMPI) if kind == "int" else ("arith.cmpf", CMPF)
    for pred in preds:
        add(f"%cmp_{pred}", f"{cmp} {pred}, %x, %k1 : {t}", "i1", ("arg", "const"))
    add("%sel", f"arith.select %c, %x, %k1 : {t}", t, ("arg", "arg", "const"))
    add("%sel_same", f"arith.select %c, %x, %x : {t}", t, ("arg", "arg", "arg"), set())
    if kind == "int":
        add("%tr", f"arith.trunci %x : {t} to i8", "i8", ("arg",))
        add("%es", f"arith.extsi %x : {t} to i64", "i64", ("arg",))
        add("%eu", f"arith.extui %x : {t} to i64", "i64", ("arg",))
    text, ours, theirs = _canonicalized(lines, f"%x: {t}, %c: i1", results)
    for (r, _), a, b in zip(results, ours, theirs):
        assert same_value(a, b) or a in also[r], f"{r}: irq {a!r}, MLIR {b!r}, allowed besides: {also[r]}\n{text}"


def test_splat_tensor_constants_are_identities_as_scalars_are():
    """`x + dense<0>` is x for a tensor as `x + 0` is for a scalar (MLIR folds both); `x + dense<[0, 1, 0, 0]>`
    is not. Bugs caught: `_number` reading a splat's first element through a wrong reshape (`reshape(1)`,
    `reshape(-2)`), taking any dense constant for a splat, and its scalar test joined with `or`."""
    t = "tensor<4xi32>"
    f = "tensor<4xf32>"
    cases = [("addi", t, "dense<0>", True), ("subi", t, "dense<0>", True), ("muli", t, "dense<1>", True),
             ("addi", t, "dense<[0, 1, 0, 0]>", False), ("muli", t, "dense<[1, 1, 2, 1]>", False),
             ("addf", f, "dense<-0.0>", True), ("subf", f, "dense<0.0>", True), ("mulf", f, "dense<1.0>", True),
             ("divf", f, "dense<1.0>", True), ("addf", f, "dense<0.0>", False), ("mulf", f, "dense<2.0>", False)]
    lines, results, promised = [], [], {}
    for i, (op, ty, const, identity) in enumerate(cases):
        x = "%x" if ty == t else "%y"
        lines += [f"%k{i} = arith.constant {const} : {ty}", f"%r{i} = arith.{op} {x}, %k{i} : {ty}"]
        results.append((f"%r{i}", ty))
        promised[f"%r{i}"] = identity
    text, ours, theirs = _canonicalized(lines, f"%x: {t}, %y: {f}", results)
    for (r, _), (op, *_), a, b in zip(results, cases, ours, theirs):
        if promised[r]:
            assert a == b == "arg", f"{r}: irq {a!r}, MLIR {b!r}\n{text}"
        else:
            assert a == (f"arith.{op}", ("arg", "const")) and b != "arg", f"{r}: irq {a!r}, MLIR {b!r}\n{text}"


def test_folded_programs_print_generically_as_mlir_reads_them():
    """A canonicalized program's generic form (every op built by a fold or a rewrite included) parses in MLIR
    and folds no further there. Bug caught: constants or comparisons built in Python with a region (the
    builder's region count 0 read as 1), which MLIR rejects."""
    text = """func.func @f(%x: i32) -> (i32, i1, i32) {
  %a = arith.constant 7 : i32
  %b = arith.constant 5 : i32
  %s = arith.addi %a, %b : i32
  %c = arith.cmpi slt, %a, %b : i32
  %d = arith.subi %x, %x : i32
  return %s, %c, %d : i32, i1, i32
}
"""
    m = irq.parse_module(text)
    irq.PassManager.parse("builtin.module(func.func(canonicalize))").run(m)
    generic = irq.print_module(m, generic=True)
    assert not [line for line in generic.splitlines() if '"arith.' in line and "({" in line], generic
    assert _outcomes(irq.parse_module(mlir_fold(generic))) == _outcomes(m) == [("const", 12), ("const", False),
                                                                              ("const", 0)]


def test_ops_built_in_python_are_the_ops_mlir_reads():
    """What a user's pass builds with the op classes (`ConstantOp(attr)`, `CmpIOp("slt", a, b)`) verifies, prints
    in the custom form and reads back in MLIR from its generic form. Bug caught: the builders' region count
    0 read as 1 (an op MLIR rejects)."""
    from irq.dialects.arith import CmpIOp, ConstantOp

    from irq.ir.attributes import IntegerAttr

    m = irq.parse_module("func.func @f(%a: i32, %b: i32) -> (i1, i32) {\n  %0 = arith.cmpi eq, %a, %b : i32\n"
                         "  return %0, %a : i1, i32\n}\n")
    (old,) = [o for o in m.walk() if o.name == "arith.cmpi"]
    a, b = old.operands
    block = old.parent
    new = block.insert_before(old, CmpIOp("slt", a, b))
    seven = block.insert_before(old, ConstantOp(IntegerAttr(7, a.type)))
    old.replace_all_uses_with(new)
    old.erase()
    ret = block.last_op
    ret.set_operands([new.results[0], seven.results[0]])
    irq.verify(m)
    text = irq.print_module(m)
    assert "arith.cmpi slt, %a, %b : i32" in text and "arith.constant 7 : i32" in text, text
    generic = irq.print_module(m, generic=True)
    assert not [line for line in generic.splitlines() if '"arith.' in line and "({" in line], generic
    ir.Module.parse(generic, ir.Context())  # MLIR's parser and verifier accept it


def test_commutative_traits_are_mlirs():
    """The Commutative trait, as MLIR's ODS declares it (passes may reorder such operands). Bugs caught: shrsi
    declared commutative, ori / minimumf / maxnumf not."""
    from irq.dialects.arith import DIALECT

    from irq.ir.traits import Commutative

    for op in INT_OPS + FLOAT_OPS:
        assert (Commutative in DIALECT.ops[f"arith.{op}"].traits) == (op in COMMUTATIVE), op


# -- the casts' width rules --------------------------------------------------------------------------
CASTS = [
    ("extsi", "i8", "i8"), ("extsi", "i8", "i16"), ("extsi", "i16", "i8"),
    ("extui", "i8", "i8"), ("extui", "i8", "i16"),
    ("trunci", "i8", "i8"), ("trunci", "i16", "i8"), ("trunci", "i8", "i16"),
    ("extf", "f16", "f16"), ("extf", "f16", "f32"), ("extf", "f32", "f16"),
    ("truncf", "f32", "f32"), ("truncf", "f32", "f16"), ("truncf", "f16", "f32"),
    ("bitcast", "i32", "f32"), ("bitcast", "i32", "f16"), ("bitcast", "i16", "f16"), ("bitcast", "f32", "i64"),
    ("index_cast", "i32", "index"), ("index_cast", "index", "i32"), ("index_cast", "i32", "i64"),
    ("index_cast", "index", "index"),
    ("extsi", "tensor<4xi8>", "tensor<4xi16>"), ("extsi", "tensor<4xi8>", "tensor<8xi16>"),
    ("trunci", "tensor<4xi16>", "tensor<2x2xi8>"), ("extsi", "tensor<4xi8>", "i16"),
]


@pytest.mark.parametrize(("op", "src", "dst"), CASTS, ids=["-".join(c) for c in CASTS])
def test_cast_width_and_shape_rules_are_mlirs(op, src, dst):
    """irq's verifier accepts exactly the casts MLIR's accepts. Bugs caught: `>` read as `>=` in `_wider`
    (extsi i8 -> i8 accepted), `<` as `is not` in `_narrower`, `==` as `>=` or `is` in `_same_width`
    (bitcast i32 -> f16 accepted), and the shape rule's `or` as `and` (tensor<4xi8> -> tensor<8xi16>)."""
    text = f"func.func @f(%a: {src}) -> {dst} {{\n  %0 = arith.{op} %a : {src} to {dst}\n  return %0 : {dst}\n}}\n"
    try:
        ir.Module.parse(text, ir.Context())
        mlir_accepts = True
    except Exception:  # noqa: BLE001 - MLIRError (verification) is what MLIR raises here
        mlir_accepts = False
    try:
        irq.verify(irq.parse_module(text))
        irq_accepts = True
    except (irq.VerifyError, ParseError):
        irq_accepts = False
    assert irq_accepts == mlir_accepts, f"MLIR {'accepts' if mlir_accepts else 'rejects'}:\n{text}"


# -- printing and parsing corners ------------------------------------------------------------------
@pytest.mark.parametrize("predicate", [-1, 10, 16])
def test_a_comparison_with_an_unknown_predicate_prints_in_the_generic_form(predicate):
    """cmpi has predicates 0..9: another value cannot print as a keyword. Bug caught: the range check `< len`
    read as `<=` (an IndexError while printing predicate 10)."""
    text = (f'func.func @f(%a: i32, %b: i32) -> i1 {{\n  %0 = "arith.cmpi"(%a, %b) {{predicate = {predicate} : i64}}'
            " : (i32, i32) -> i1\n  return %0 : i1\n}\n")
    printed = irq.print_module(irq.parse_module(text))
    assert f'"arith.cmpi"(%a, %b) <{{predicate = {predicate} : i64}}>' in printed or \
        f'"arith.cmpi"(%a, %b) {{predicate = {predicate} : i64}}' in printed, printed


def test_cmpi_with_a_fastmath_flag_is_a_parse_error_at_the_flag():
    """Only cmpf takes `fastmath<...>`. Bug caught: the flag kind compared with `>=` (cmpi's flag kind is
    None: a TypeError instead of the parse error)."""
    bad = "func.func @f(%a: i32) -> i1 {\n  %0 = arith.cmpi eq, %a, %a fastmath<fast> : i32\n  return %0 : i1\n}\n"
    with pytest.raises(ParseError, match=r"2:30: error: custom op 'arith.cmpi' expected ':', found 'fastmath<fast>'"):
        irq.parse_module(bad)
    good = "func.func @f(%a: f32) -> i1 {\n  %0 = arith.cmpf oeq, %a, %a fastmath<fast> : f32\n  return %0 : i1\n}\n"
    assert "fastmath<fast>" in irq.print_module(irq.parse_module(good))


def test_boolean_constants_are_named_as_mlir_names_them():
    """`%true` / `%false`, as MLIR's printer names them. Bug caught: the names swapped."""
    text = "func.func @f() -> (i1, i1) {\n  %0 = arith.constant true\n  %1 = arith.constant false\n" \
           "  return %0, %1 : i1, i1\n}\n"
    printed = irq.print_module(irq.parse_module(text))
    assert "%true = arith.constant true" in printed and "%false = arith.constant false" in printed, printed
    ctx = ir.Context()
    assert "%true = arith.constant true" in str(ir.Module.parse(text, ctx))


def test_extended_ops_name_their_results_as_mlir_does():
    """addui_extended gives (sum, overflow), mul*_extended (low, high): the fields users read. Bug caught:
    the first result's name chosen the other way round."""
    text = """func.func @f(%a: i32, %b: i32) -> (i32, i1, i32, i32) {
  %s, %o = arith.addui_extended %a, %b : i32, i1
  %l, %h = arith.mului_extended %a, %b : i32
  return %s, %o, %l, %h : i32, i1, i32, i32
}
"""
    m = irq.parse_module(text)
    add, mul = [o for o in m.walk() if o.name.endswith("_extended")]
    assert add.sum is add.results[0] and add.overflow is add.results[1]
    assert mul.low is mul.results[0] and mul.high is mul.results[1]
    assert "arith.addui_extended %a, %b : i32, i1" in irq.print_module(m)
    assert "arith.mului_extended %a, %b : i32" in irq.print_module(m)
