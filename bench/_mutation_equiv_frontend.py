"""Reviewed equivalent mutants of the torch frontend: the mapping of torch calls to typed ops
(irq/frontend/mapping.py, module_mapping.py, view_mapping.py, emit.py) and static shape inference
(irq/frontend/shapes.py), from the ninth round.

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.

A fact several entries rest on: the importer catches every exception of static inference and runs the graph
instead (irq/frontend/importer.py, `except Exception` around infer_shapes), so a mutant that only turns one
reason to give up (NeedsRealRun) into another exception imports the same model the same way, at the same cost.
"""

_SHAPES = "irq/frontend/shapes.py"
_FX_OP = "fx sets Node.op from string literals, which CPython interns: `is` agrees with =="
_KIND = "irq_kind comes from keyword and string literals (propagate.annotate, shapes.py's meta.update): interned"

FRONTEND: dict[tuple[str, str, str, str], str] = {
    # (file, enclosing function, mutated line, operator): reason
    (_SHAPES, "infer_shapes", 'if op == "placeholder":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "infer_shapes", 'elif op == "get_attr":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_function":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_method":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_function":', "core/ReplaceComparisonOperator_Eq_LtE"): "_run only sees "
    "call_function, call_method and call_module nodes (infer_shapes handles placeholder, get_attr and output first); "
    "the other two sort after 'call_function', so `<=` holds for call_function alone",
    (
        _SHAPES,
        "_static_shape",
        'if isinstance(node, fx.Node) and node.meta.get("irq_kind") == "tensor":',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): _KIND,
    (
        _SHAPES,
        "_static_shape",
        'if isinstance(node, fx.Node) and node.meta.get("irq_kind") == "tensor":',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "the other kinds (int, float, bool, obj, multi; propagate.py) sort before 'tensor' and carry a type that is "
    "not a ShapedType (i64, a list, None), so the next test returns None for them as `==` does",
    (
        _SHAPES,
        "_static_shape",
        'if isinstance(node, fx.Node) and node.meta.get("irq_kind") == "tensor":',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "no kind (int, float, bool, obj, multi, tensor; propagate.py) sorts after 'tensor'",
    (_SHAPES, "_query", 'if node.target == "numel":', "core/ReplaceComparisonOperator_Eq_GtE"): "the targets that "
    "reach it are _SIZE_METHODS less 'size' (answered above): dim, ndimension, numel; only numel sorts at or after it",
    (_SHAPES, "_query", 'if args[1] == "shape":', "core/ReplaceComparisonOperator_Eq_GtE"): "args[1] is one of "
    "_SIZE_ATTRS (shape, ndim, dtype): only 'shape' sorts at or after 'shape'",
    (_SHAPES, "_query", "return torch.Size(shape) if not rest else shape[rest[0]]", "core/NumberReplacer"): "x.size "
    "takes one dim (positional or `dim=`), so `rest` holds one entry: rest[-1] is rest[0] (rest[1] raises: killed)",
    (
        _SHAPES,
        "_operand_items",
        'if isinstance(v, fx.Node) and v.meta.get("irq_kind") == "multi":',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): _KIND,
    (_SHAPES, "_element_type", 'if name == "embedding":', "core/ReplaceComparisonOperator_Eq_Is"): "spec names are "
    "string literals of dialects/_tensor_specs.py (interned), and `name` is spec.name itself",
    **{
        (
            _SHAPES,
            "_substitute",
            "v = concrete[a.index] if a.index < len(concrete) else None",
            f"core/ReplaceComparisonOperator_Lt_{op}",
        ): "a defensive bound never false: _shape_list numbers the #torch.operand<i> refs over the same size operands "
        "_operand_items expands after the input, so every index is < len(concrete) (and `is not` on those small ints "
        "is `!=`)"
        for op in ("NotEq", "LtE", "IsNot")
    },
    (_SHAPES, "_freeze", "if isinstance(v, fx.Node):", "core/AddNot"): "disables the memo: every plain attribute value "
    "now raises TypeError, so the key is None and the same types are computed again; a bare traced value, hashed "
    "into a key instead, then fails in its attribute's coerce and the importer runs the graph, as on NeedsRealRun",
    (_SHAPES, "_emit_types", "hit = memo.get(key) if key is not None else None", "core/AddNot"): "disables a cache: "
    "the key is never None when looked up, so every op's types are computed again, only slower",
    (_SHAPES, "_infer_tensor_node", "multi = False", "core/ReplaceFalseWithTrue"): "a dead store: `emits` is not "
    "empty (checked above), so the loop assigns `multi` before it is read",
    (_SHAPES, "_infer_tensor_node", "prev = earlier[id(e)] = types[0]", "core/NumberReplacer"): "prev feeds the next "
    "op of a chain, and the ops with several results (chunk, split, unbind, topk) are only ever emitted alone "
    "(irq/frontend: no chain holds one), so every prev comes from a one-result op: [-1] is [0]",
    (
        _SHAPES,
        "_infer_tensor_node",
        'node.meta.update(irq_kind="tensor", irq_type=types[0], irq_multi_kind="tuple", irq_rank=len(types[0].shape))',
        "core/NumberReplacer",
    ): "the branch of an op without variadic results, which has exactly one (dialects/_opspec.py: `out = result()`): "
    "[-1] is [0] (types[1] raises: killed)",
    (
        _SHAPES,
        "_emit_types",
        "except (ShapeError, IndexError, TypeError, ValueError, ZeroDivisionError):",
        "core/ExceptionReplacer",
    ): "an IndexError of a shape rule then leaves infer_shapes itself, and the importer catches every exception of "
    "static inference and runs the graph, as it does on the NeedsRealRun this clause raises",
    (
        _SHAPES,
        "_static_shape",
        "if isinstance(t, ShapedType) and t.has_static_shape:",
        "core/ReplaceAndWithOr",
    ): "static "
    "inference types from concrete example inputs (fx; torch.export, the one importer of dynamic sizes, does not "
    "use it), so every ShapedType it meets is static, and kind 'tensor' always carries a ShapedType",
    **{
        (
            _SHAPES,
            "_operand_type",
            'if t is None and getattr(v, "tensor", None) is not None:  # a ConstantRef: the handler\'s own tensor',
            op,
        ): "only a ConstantRef has a `tensor`, and none reaches static inference: the one maker, the causal SDPA "
        "handler, runs for torch.export, while fx traces a causal SDPA through its decomposition (tracer.py _sdpa); "
        "for a ParamRef the mutant returns the same type, or raises AttributeError where NeedsRealRun was raised "
        "(the importer runs the graph on either)"
        for op in (
            "core/ReplaceComparisonOperator_Is_IsNot",
            "core/ReplaceComparisonOperator_IsNot_Is",
            "core/AddNot",
            "core/ReplaceAndWithOr",
        )
    },
}
