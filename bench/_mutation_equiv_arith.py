"""Reviewed equivalent mutants of the arith dialect: its folders (dialects/_arith_semantics.py) and ops
(dialects/arith.py), the `arith-folds` target.

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number. Reviewed in
session 15 against tests/test_mutation_kills_arith.py (every edge pair, identity and cast rule checked
against MLIR).
"""

_SEM = "dialects/_arith_semantics.py"
_OPS = "dialects/arith.py"
_WRAP = "return value - (1 << w) if value >= 1 << (w - 1) and w > 1 else value"
_ZERO_BRANCH = ("the signed-zero branch returns IEEE's max / min whenever b == 0 (a if its sign says so, else b) "
                "and whenever a == b; the mutant enters it for a superset of those pairs only")
_NO_REGION = "the region count -1 (the +1 variant is killed): range(-1) builds no region, as 0"
_INTERNED = "both sides are the same interned str (a literal, or a one-character str CPython caches): `is` == `==`"

ARITH: dict[tuple[str, str, str, str], str] = {
    (_SEM, "_wrap", _WRAP, "*"): "IntegerAttr keeps the signed residue of its width (IntegerAttr(200, i8).value "
    "== -56): any representative of value mod 2**w gives the same attribute",
    (_SEM, "<module>",
     '"arith.shrsi": lambda a, b, w: None if not 0 <= b % (1 << w) < w else a >> (b % (1 << w)),',
     "core/ReplaceBinaryOperator_LShift_Mul"): "the shift amount's `b % (1 << w)` (the guard's is killed): under "
    "the guard 0 <= b < w, so b % w == b % 2**w",
    (_SEM, "_maximumf", "if a == b == 0:", "core/ReplaceComparisonOperator_Eq_GtE"): _ZERO_BRANCH,
    (_SEM, "_maximumf", "if a == b == 0:", "core/ReplaceComparisonOperator_Eq_IsNot"): _ZERO_BRANCH,
    (_SEM, "_minimumf", "if a == b == 0:", "core/ReplaceComparisonOperator_Eq_GtE"): _ZERO_BRANCH,
    (_SEM, "_minimumf", "if a == b == 0:", "core/ReplaceComparisonOperator_Eq_LtE"): _ZERO_BRANCH,
    (_SEM, "_minimumf", "if a == b == 0:", "core/ReplaceComparisonOperator_Eq_IsNot"): _ZERO_BRANCH,
    (_SEM, "_maximumf", "return a if math.copysign(1.0, a) > 0 else b", "core/NumberReplacer"): "the magnitude "
    "given to copysign (the comparison's 0 replaced is killed): only the sign is compared",
    (_SEM, "_is_negative_zero", "return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0",
     "core/ReplaceComparisonOperator_Eq_GtE"): "v >= 0 with a negative sign bit is -0.0 only",
    (_SEM, "_is_negative_zero", "return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0",
     "core/ReplaceComparisonOperator_Lt_LtE"): "copysign(1.0, v) is +-1, never 0",
    (_SEM, "_is_negative_zero", "return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0",
     "core/NumberReplacer"): "copysign's magnitude, or a bound between -1 and +1: only the sign is compared",
    (_SEM, "_cmpf", 'if pred == "ord":', "core/ReplaceComparisonOperator_Eq_Is"): _INTERNED,
    (_SEM, "_cmpf", 'return (unordered or rel) if pred[0] == "u" else (not unordered and rel)',
     "core/ReplaceComparisonOperator_Eq_Is"): _INTERNED,
    (_SEM, "_same_width",
     'return None if wa is not None and wa == wr else f"operand and result must have the same bit width, '
     'got {a} and {r}"', "core/ReplaceComparisonOperator_Eq_Is"): "float widths are at most 128: equal widths "
    "of an int and a float type are cached small ints; two int types of one width are one uniqued type",
    (_SEM, "_index_pair", "if isinstance(a, IndexType) != isinstance(r, IndexType):",
     "core/ReplaceComparisonOperator_NotEq_IsNot"): "bools are singletons: `is not` == `!=`",
    (_SEM, "_number", "return a.to_numpy().reshape(-1)[0].item()", "core/ReplaceUnaryOperator_USub_Invert"):
    "reshape(-2): numpy takes any negative size as the one unknown dimension",
    (_SEM, "_number", "return a.to_numpy().reshape(-1)[0].item()", "core/NumberReplacer"): "a splat's elements "
    "are all equal: [1] or [-1] read the same value, reshape(-2) is reshape(-1) (reshape(0) is killed)",
    (_SEM, "_trunc_div", "return q if (a < 0) == (b < 0) else -q", "core/NumberReplacer"): "b is never 0 here "
    "(the folders refuse division by zero), so b < 1 is b < 0; a < 1 differs only at a = 0, where q = 0 = -q",
    (_OPS, "__init__", "def __init__(self, value: Attribute, *, location=None) -> None:",
     "core/ReplaceBinaryOperator_Mul_Div"): "`/` makes `value` positional-only and `location` positional-or-"
    "keyword: every caller passes value by position and location by keyword",
    (_OPS, "_print_extended", 'if self.name == "arith.addui_extended":  # `: i32, i1`: the carry\'s type is '
     'written too', "core/ReplaceComparisonOperator_Eq_LtE"): "of the three extended ops' names only "
    "arith.addui_extended is <= itself",
    (_OPS, "_binary_canonicalizer", 'self_is_zero = name == "arith.subi"', "core/ReplaceComparisonOperator_Eq_GtE"):
    "the canonicalized names >= arith.subi are subi and xori, and xori(x, x) = 0 too (MLIR folds it as well)",
    (_OPS, "parse_custom", 'if t is not None and t.type == "OPAQUE_ATTR":', "core/ReplaceComparisonOperator_Eq_Is"):
    _INTERNED + " (lark's token types are the grammar's interned terminal names)",
    (_OPS, "_extended", '("sum" if second == "overflow" else "low"): result(SignlessInt),',
     "core/ReplaceComparisonOperator_Eq_Is"): _INTERNED,
    (_OPS, "print_custom", "if not 0 <= self.predicate.value < len(self.PREDICATES):", "*"): "a predicate out of "
    "range makes the keyword lookup raise, and the printer then prints the op generically "
    "(Printer._print_custom_else_generic): the same text",
    (_OPS, "canonicalize_binary", "if lhs is rhs:", "core/ReplaceComparisonOperator_Is_Eq"): "Values define no "
    "__eq__: == is identity",
    (_OPS, "fold", "return a if a is b else None", "core/ReplaceComparisonOperator_Is_Eq"): "Values define no "
    "__eq__: == is identity",
    (_OPS, "_materialize_constant", 'if getattr(value, "type", None) is not type:',
     "core/ReplaceComparisonOperator_IsNot_NotEq"): "types are uniqued: != is identity",
    (_OPS, "_fold_binary", "if isinstance(a, FloatAttr) and isinstance(b, FloatAttr):", "core/ReplaceAndWithOr"):
    "both operands are constants of the op's one type here: both float or neither",
    (_OPS, "_fold_binary", "if isinstance(a, DenseElementsAttr) or isinstance(b, DenseElementsAttr):",
     "core/ReplaceOrWithAnd"): "both operands are constants of the op's one type here: both dense or neither",
    (_OPS, "_fold_trunci",
     "if not isinstance(a, IntegerAttr) or isinstance(a, BoolAttr) or not isinstance(t, IntegerType):",
     "core/ReplaceOrWithAnd"): "a BoolAttr is an i1, which no trunci can take (the result must be narrower)",
    (_OPS, "_print_binary", "result_type = self.results[0].type._text", "core/NumberReplacer"): "results[-1] is "
    "results[0] for the one result (results[1] raises, and the generic form is the same op)",
    (_OPS, "_binary", 'cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"',
     "core/NumberReplacer"): "the Python class's __name__ only: ops are found by their `name`",
    (_OPS, "_extended", 'cls_name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"',
     "core/NumberReplacer"): "the Python class's __name__ only: ops are found by their `name`",
    (_OPS, "__init__", 'self._init_generic((), [value.type], None, {"value": value}, 0, (), location)',
     "core/NumberReplacer"): _NO_REGION,
    (_OPS, "__init__", "self._init_generic((lhs, rhs), [_bool_like(lhs.type)], None, props, 0, (), location)",
     "core/NumberReplacer"): _NO_REGION,
    (_OPS, "_binary_canonicalizer", "canonicalize_binary.__name__ = f\"canonicalize_{name.partition('.')[2]}\"",
     "core/NumberReplacer"): "the pattern function's __name__ only (debug output)",
}
