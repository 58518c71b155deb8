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

_MAP, _MODS, _VIEWS = "irq/frontend/mapping.py", "irq/frontend/module_mapping.py", "irq/frontend/view_mapping.py"
_ARANGE, _CAST = "irq/frontend/export_index_by_arange.py", "irq/frontend/cast_mapping.py"
_DROPOUT = "irq/frontend/dropout_mapping.py"
_ALL_GIVEN = (
    "fx records a call of this torch.nn.functional function (handle_torch_function, or a boolean_dispatch) with "
    "every parameter given, so the handler's default is never read (printed by tracing it: %s)"
)
_TRACED_ATTR = (
    "a call whose attribute still holds a traced value is kept opaque by the importer itself (the mapping's "
    "contract), so letting it through gives the same torch.call (checked with a model input as the value)"
)

FRONTEND: dict[tuple[str, str, str, str], str] = {
    # (file, enclosing function, mutated line, operator): reason
    # -- the mapping (ninth round)
    (
        _MAP,
        "_dropout",
        'b = bind((("input", _MISSING), ("p", 0.5), ("training", True), ("inplace", False)), args, kwargs)',
        "core/ReplaceTrueWithFalse",
    ): _ALL_GIVEN % "F.dropout(x, p) -> training=True; torch.export's aten.dropout has no default for `train`",
    (
        _MAP,
        "_adaptive_max",
        'b = bind((("input", _MISSING), ("output_size", _MISSING), ("return_indices", False)), args, kwargs)',
        "core/ReplaceFalseWithTrue",
    ): _ALL_GIVEN % "F.adaptive_max_pool2d, the one callable mapped to it, is a boolean_dispatch",
    (
        _MAP,
        "_batch_norm",
        '("bias", None), ("training", False), ("momentum", 0.1), ("eps", 1e-5)), args, kwargs)',
        "core/NumberReplacer",
    ): _ALL_GIVEN % "F.batch_norm, its one key; torch.export maps aten.batch_norm to a handler of its own",
    (
        _MAP,
        "_instance_norm",
        '("use_input_stats", True), ("momentum", 0.1), ("eps", 1e-5)), args, kwargs)',
        "core/NumberReplacer",
    ): _ALL_GIVEN % "F.instance_norm; torch.export's handler passes all eight positionally",
    (
        _MAP,
        "<module>",
        'torch.permute: _dims("permute", False), torch.transpose: _transpose,',
        "core/ReplaceFalseWithTrue",
    ): "view_mapping._dims never reads its `varargs` parameter (a dims list and varargs are told apart by the "
    "arguments themselves)",
    (
        _MAP,
        "_clamp",
        'if b is None or any(is_node(b[k]) for k in ("min", "max")):',
        "core/ReplaceOrWithAnd",
    ): _TRACED_ATTR + "; a tensor bound never reaches it (compare_mapping.clamp_by_tensor takes those)",
    (
        _MAP,
        "_interpolate",
        'nd = (b["input"].meta.get("irq_rank") or 4) - 2 if is_node(b["input"]) else 2',
        "core/NumberReplacer@76",
    ): "the `else` of a non-node input is dead: the input of F.interpolate, nn.Upsample and torch.export's resize "
    "is always a traced node (a constant tensor is a get_attr node too)",
    # -- module_mapping
    (
        _MODS,
        "_mod_instance_norm",
        'if not is_node(x) or x.meta.get("irq_rank") != m._get_no_batch_dim() + 1:',
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "ranks 2-5 are small ints, which CPython caches: `is not` agrees with !=",
    (_MODS, "pool1d_as_2d", "lifted[name] = [1, _n(v, 1)[0]]", "core/NumberReplacer@25"): "`_n(v, 2)[0]` is "
    "`_n(v, 1)[0]`: the first entry is v (or v[0]) whatever the count (`_n(v, 0)[0]` raises: killed)",
    # -- view_mapping
    (_VIEWS, "_shape_list", 'if kind == "int":', "core/ReplaceComparisonOperator_Eq_LtE"): "the kinds it adds, "
    "float and bool, are sizes torch refuses (view(), reshape(): TypeError); static inference wants an int "
    "(_substitute) and the importer's real run raises torch's error, the same import error (checked with a float "
    "model input as a view size)",
    (
        _VIEWS,
        "_shape_list",
        'elif kind == "multi" and all(str(t) == "i64" for t in s.meta["irq_type"]):',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): _KIND,
    (
        _VIEWS,
        "_narrow",
        'size = shape[b["dim"]] if shape is not None and -len(shape) <= b["dim"] < len(shape) else None',
        "core/ReplaceAndWithOr",
    ): "a traced tensor always has a shape, so only an out-of-range dim differs: its IndexError in static "
    "inference makes the importer run the graph, which raises torch's own error (the same import error, checked "
    "with x.narrow(3, -1, 1) of a 2-D x)",
    (
        _VIEWS,
        "_unbind",
        'return None if b is None or not isinstance(b["dim"], int) else Emit("unbind", {"input": b["input"]},',
        "core/ReplaceOrWithAnd",
    ): _TRACED_ATTR
    + " (`x.unbind(d)`); a call bind refuses is one torch refuses too: b['dim'] of None raises in static "
    "inference and the real run raises torch's error",
    # -- static shape inference
    (_SHAPES, "infer_shapes", 'if op == "placeholder":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "infer_shapes", 'elif op == "get_attr":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_function":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_method":', "core/ReplaceComparisonOperator_Eq_Is"): _FX_OP,
    (_SHAPES, "_run", 'if node.op == "call_method":', "core/ReplaceComparisonOperator_Eq_LtE"): "only call_method "
    "and call_module nodes reach it (call_function returned above), and 'call_module' sorts after 'call_method'",
    (_SHAPES, "_emit_types", "bias_at = -1", "core/NumberReplacer"): "any negative start means no bias (`bias = "
    "operands[bias_at] if bias_at >= 0`): -2 is -1 (0 takes the input for the bias: killed)",
    (_SHAPES, "_emit_types", "if key is not None:", "core/ReplaceComparisonOperator_IsNot_Is"): "disables a cache: "
    "the memo then only stores under the key None, which the lookup (`memo.get(key) if key is not None`) never asks",
    (
        _SHAPES,
        "_emit_types",
        "if key is None and has_node(val):  # a key was built: no traced value in the attributes",
        "core/ReplaceComparisonOperator_Is_IsNot",
    ): "as the `not` added on this line: a built key holds no traced value, so the test is never true, and a traced "
    "attribute value then fails in its coerce; the importer runs the graph either way",
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
    (
        _SHAPES,
        "_emit_types",
        'if v is PREV or (oname == "input" and v is None and prev is not None):',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "the one op of a chain that leaves operands None is _mod_conv's conv after its pad (input: the pad's result; "
    "bias when the conv has none), and 'bias' sorts before 'input': `>=` adds no operand `==` did not",
    (
        _SHAPES,
        "_emit_types",
        "if key is None and has_node(val):  # a key was built: no traced value in the attributes",
        "core/AddNot",
    ): "a traced attribute value then reaches its kind's coerce, which raises (int(), float() or StringAttr of a "
    "Node; checked on `x.softmax(d)` with d a model input) where NeedsRealRun was raised: the importer runs the "
    "graph on either",
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
    # -- frontend-late (tenth round): dropout_mapping.py, cast_mapping.py, export_index_by_arange.py
    **{
        (_DROPOUT, "<module>", line, op): _ALL_GIVEN
        % (
            "F.dropout, dropout1d/2d/3d, alpha_dropout and feature_alpha_dropout all record p, training and "
            "inplace; torch.export maps the aten forms to torch_form, which has no defaults"
        )
        for line, op in (
            ('F.dropout: ("dropout", True),', "core/ReplaceTrueWithFalse"),
            ('F.dropout1d: ("dropout1d", True),', "core/ReplaceTrueWithFalse"),
            ('F.dropout2d: ("dropout2d", True),', "core/ReplaceTrueWithFalse"),
            ('F.dropout3d: ("dropout3d", True),', "core/ReplaceTrueWithFalse"),
            ('F.alpha_dropout: ("alpha_dropout", False),', "core/ReplaceFalseWithTrue"),
            ('F.feature_alpha_dropout: ("feature_alpha_dropout", False),', "core/ReplaceFalseWithTrue"),
        )
    },
    **{
        (
            _DROPOUT,
            "h",
            'b = bind((("input", _MISSING), ("p", 0.5), ("training", training_default), ("inplace", False)), args, '
            "kwargs)",
            op,
        ): _ALL_GIVEN % "as the `<module>` entries above; `inplace` is besides never read"
        for op in ("core/ReplaceFalseWithTrue", "core/NumberReplacer")
    },
    (
        _ARANGE,
        "_batch_sizes",
        'if n.op == "call_function" and n.target is aten.sym_size.int and n.args[0] in inputs and n.args[1] == 0',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "irq exports with dimension 0 alone dynamic (export.py _batch_dynamic: {0: Dim.AUTO}) and torch.export "
    "records sym_size nodes only for dynamic dimensions, so every sym_size of an input has dim 0",
    (
        _ARANGE,
        "_erase_unused",
        'if n.users or n.op != "call_function" or n.target is aten.sym_size.int:',
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): _FX_OP,
    (
        _ARANGE,
        "_arange_length",
        "if node.target is aten.slice.Tensor and tuple(node.args[2:4]) not in ((0, _FULL), (None, None), ()):",
        "core/ReplaceComparisonOperator_Is_Eq",
    ): "torch's OpOverload defines no __eq__ (type(aten.slice.Tensor).__eq__ is object.__eq__): == is identity",
    (
        _ARANGE,
        "_erase_unused",
        'if n.users or n.op != "call_function" or n.target is aten.sym_size.int:',
        "core/ReplaceOrWithAnd@38",
    ): "the second `or` as `and` only lets an unused sym_size node be erased too "
    "(a placeholder reaching the work list still has the rewritten view as user): it computes nothing, and the "
    "imports of the HF mask model, _SharedArange and the WHOLE cases print the same text with it (checked); the "
    "first `or` (col 11) is not this entry's: as `and` it erases a used node, which raises",
    (
        _ARANGE,
        "index_by_arange",
        'if node.op != "call_function" or node.target is not aten.index.Tensor:',
        "core/ReplaceComparisonOperator_NotEq_Gt",
    ): "fx's other node kinds (call_method, call_module, get_attr, output, placeholder) all sort after "
    "'call_function': > holds exactly when != does",
    (
        _ARANGE,
        "_arange_length",
        'if node.op != "call_function" or node.target is not aten.arange.default or len(node.args) != 1:',
        "core/ReplaceComparisonOperator_IsNot_NotEq",
    ): "torch's OpOverload defines no __eq__: != is `is not`",
    (
        _DROPOUT,
        "_attrs",
        'if kind != "dropout":',
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): "every kind is a string literal, so interned: _FUNCTIONAL's, _TORCH's, module_mapping.py's and "
    "export_modes.py _MODE_DROPOUTS' (module_mode_dropout's node args), or the literal default",
    (
        _ARANGE,
        "_batch_sizes",
        'if n.op == "call_function" and n.target is aten.sym_size.int and n.args[0] in inputs and n.args[1] == 0',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): _FX_OP,
    (
        _ARANGE,
        "_erase_unused",
        'if n.users or n.op != "call_function" or n.target is aten.sym_size.int:',
        "core/ReplaceComparisonOperator_NotEq_Gt",
    ): "fx's other node kinds (call_method, call_module, get_attr, output, placeholder) all sort after "
    "'call_function': > holds exactly when != does",
    (
        _CAST,
        "cast",
        "if have == dtype:",
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "torch.dtype objects are singletons (torch.int64 is torch.tensor([1]).dtype; propagate's table holds "
    "torch's own objects): `is` agrees with ==",
    (
        _CAST,
        "_method_bool",
        "return cast(args[0], torch.bool) if len(args) == 1 and not kwargs else None",
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "a method call's node always holds its tensor as args[0], so len(args) is never 0: <= 1 is == 1",
    (
        _ARANGE,
        "_batch_sizes",
        'if n.op == "call_function" and n.target is aten.sym_size.int and n.args[0] in inputs and n.args[1] == 0',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "as its >= above: every sym_size of an input has dim 0 (never negative), so <= 0 is == 0",
    (
        _ARANGE,
        "_batch_sizes",
        'inputs = {n for n in graph.nodes if n.op == "placeholder"}',
        "core/ReplaceComparisonOperator_Eq_GtE",
    ): "no fx node kind sorts after 'placeholder' (call_function, call_method, call_module, get_attr, output sort "
    "before it): >= holds exactly when == does",
    (
        _ARANGE,
        "_positions",
        "if len(placed) != 1 and not (length == 1 and not placed):",
        "*@28-55",
    ): "any mutant of the inner clause `(length == 1 and not placed)`: with len(placed) != 1 the clause only chooses "
    "between returning None here and appending None, which `None in positions` below refuses: None either way",
    (
        _ARANGE,
        "index_by_arange",
        'if node.op != "call_function" or node.target is not aten.index.Tensor:',
        "core/ReplaceComparisonOperator_NotEq_Lt",
    ): "no fx node kind sorts before 'call_function', so the mutant's first test is always False and the second "
    "decides alone: only call_function nodes have an OpOverload target (the others' are strings)",
    (
        _ARANGE,
        "_erase_unused",
        'if n.users or n.op != "call_function" or n.target is aten.sym_size.int:',
        "core/ReplaceComparisonOperator_NotEq_Lt",
    ): "only call_function nodes reach the work list (a rewritten index's aranges, their unsqueezes, slices and "
    "`+ 0`; a length's sym_size stops the walk before any placeholder): != and < (always False) agree on them",
    (
        _ARANGE,
        "_arange_length",
        'if node.op != "call_function" or node.target is not aten.arange.default or len(node.args) != 1:',
        "core/ReplaceComparisonOperator_NotEq_IsNot",
    ): _FX_OP,
    (
        _DROPOUT,
        "h",
        'if b is None or not isinstance(b["p"], (int, float)) or not isinstance(b["training"], bool):',
        "core/ReplaceOrWithAnd@53",
    ): "the second `or` (functional's handler): bind (emit.py) returns None when a parameter whose default is a "
    "Python number holds a traced value, and p (0.5) and training (a bool) have such defaults, so past `b is None` "
    "both are numbers already (torch_form's parameters have no default: there the checks decide, and are killed)",
    (
        _CAST,
        "cast",
        "if not isinstance(t, ShapedType) or not isinstance(dtype, torch.dtype):",
        "core/ReplaceOrWithAnd",
    ): "the receiver of a `.to` / `.bool` eager runs, and aten.to's self, is a tensor, which the importer always "
    "types as a ShapedType (a tensor of an unsupported dtype fails the import first): the first test is never true",
    (
        _CAST,
        "_on_cpu",
        'return device is None or str(device) == "cpu"',
        "core/ReplaceComparisonOperator_Eq_LtE",
    ): "no device string sorts below 'cpu': every c10 DeviceType name (cuda, fpga, hip, ideep, ipu, lazy, maia, "
    "meta, metal, mkldnn, mps, mtia, opencl, opengl, privateuseone, ve, vulkan, xla, xpu) and 'cpu:N' sort after "
    "it, so <= holds exactly when == does",
    (
        _ARANGE,
        "_positions",
        "if len(placed) != 1 and not (length == 1 and not placed):",
        "core/ReplaceComparisonOperator_Eq_NotEq",
    ): "placed is empty only for an index whose sizes are all 1, i.e. an arange of length 1; the clause only lets "
    "that case through to append None, which `None in positions` below refuses: original and mutant both give None",
    (
        _ARANGE,
        "_erase_unused",
        'if n.users or n.op != "call_function" or n.target is aten.sym_size.int:',
        "core/ReplaceComparisonOperator_Is_Eq",
    ): "torch's OpOverload defines no __eq__ (type(aten.sym_size.int).__eq__ is object.__eq__): == is identity",
    (
        _CAST,
        "cast",
        "except KeyError:",
        "core/ExceptionReplacer",
    ): "dead guard: every ShapedType the importer annotates has an element type from propagate.element_type "
    "(or i1/i64/the default float from static inference), all keys of torch_dtype's table; a tensor of another "
    "dtype fails the import before any cast is mapped (probed: complex64, fx and export)",
    # frontend-mapping, a fresh draw (seed 1, K = 3; session 17)
    ("irq/frontend/mapping.py", "h",
     'attrs = {k: b[k] for k, _ in extra if b[k] is not None and not (k == "alpha" and b[k] == 1)}',
     "core/ReplaceComparisonOperator_Eq_GtE"): "the only other extra is div's rounding_mode, a string or None, "
    "never equal to 1",
    ("irq/frontend/mapping.py", "_instance_norm", '("use_input_stats", True), ("momentum", 0.1), ("eps", 1e-5)), '
     "args, kwargs)", "core/ReplaceTrueWithFalse"): "planted: the op still records use_input_stats = true, since the "
    "call reaches the handler with the argument filled in; the default is never read",
    ("irq/frontend/mapping.py", "_masked_fill",
     'if b is None or not (_tensor_value(b["input"]) and _tensor_value(b["mask"]) and _number(b["value"])):', "*"):
    "a traced masked_fill's input and mask are tensors (torch raises otherwise) and a traced value is kept opaque "
    "by the importer's rule for attributes holding traced values (session 16): the three tests are redundant",
    ("irq/frontend/mapping.py", "_conv_transpose2d",
     '"output_padding": _n(b["output_padding"], 2), "groups": b["groups"],', "core/NumberReplacer"):
    "one value or three: every reader expands or zips it to the two spatial dims (the shape "
    "rule's ints(op, name, 2), F.conv_transpose2d in the torch executor)",
    ("irq/frontend/emit.py", "_n", "return list(v) * (nd if len(v) == 1 else 1) if isinstance(v, (list, tuple)) "
     "else [v] * nd", "core/NumberReplacer"): "`len(v) == 0`: a one-value list stays one value, which every reader "
    "expands the same (the shape rules' ints(op, name, n), torch's F calls in the executor)",
    ("irq/frontend/view_mapping.py", "_shape_list", 'if kind == "int":', "core/ReplaceComparisonOperator_Eq_Is"):
    "\"int\" is an interned identifier-like constant, as the kinds assigned from literals are",
    ("irq/frontend/view_mapping.py", "h", 'if kwargs and set(kwargs) != {"dims"}:',
     "core/ReplaceComparisonOperator_NotEq_Gt"): "a keyword other than dims makes torch raise while tracing, so no "
    "traced call has one",
    ("irq/frontend/view_mapping.py", "_narrow", "if not isinstance(size, int) or size < 0:", "core/NumberReplacer"):
    "`size < 1`: a dim of size 0 has no negative start torch accepts; `< -1`: sizes are never below -1",
    ("irq/frontend/module_mapping.py", "pool1d_as_2d",
     'if not is_node(x) or x.meta.get("irq_rank") != 3 or attrs.pop("return_indices", False):',
     "core/ReplaceComparisonOperator_NotEq_Lt"): "a 1-D pool takes rank 2 or 3 (torch raises on others while "
    "tracing): `< 3` and `!= 3` agree on both",
    ("irq/frontend/mapping.py", "_tensor_tuple", 'if not is_node(x) or x.meta.get("irq_kind") != "multi":',
     "core/ReplaceComparisonOperator_NotEq_Lt"): "int, float and bool sort before \"multi\" and return False either "
    "way; a tensor or an object passed whole to torch.cat makes torch raise while tracing (it takes a sequence of "
    "tensors, kind \"multi\")",
    # frontend-shapes, a fresh draw (seed 1, K = 4; session 17)
    ("irq/frontend/shapes.py", "infer_shapes", 'if op == "placeholder":', "core/ReplaceComparisonOperator_Eq_GtE"):
    "no fx node kind sorts after \"placeholder\" (call_function, call_method, call_module, get_attr, output)",
    ("irq/frontend/shapes.py", "_query", 'if node.op == "call_function" and node.target is getattr and shape is not '
     'None and args[1] in _SIZE_ATTRS:', "core/ReplaceComparisonOperator_Eq_Is"): "fx sets node.op from interned "
    "identifier-like literals: `is` agrees with `==`",
    # frontend-late, a fresh draw (seed 1, K = 4; session 17): identity against interned strings and singletons
    ("irq/frontend/export_index_by_arange.py", "_arange_length",
     'while node.op == "call_function" and node.target in _PASS_THROUGH:',
     "core/ReplaceComparisonOperator_Eq_Is"): "fx sets node.op from interned identifier-like literals",
    ("irq/frontend/export_index_by_arange.py", "_batch_sizes",
     'inputs = {n for n in graph.nodes if n.op == "placeholder"}',
     "core/ReplaceComparisonOperator_Eq_Is"): "fx sets node.op from interned identifier-like literals",
    ("irq/frontend/cast_mapping.py", "cast", "if dtype == torch.bool:", "core/ReplaceComparisonOperator_Eq_Is"):
    "torch dtypes are singletons: `is` agrees with `==`",
    ("irq/frontend/export_index_by_arange.py", "index_by_arange",
     'if node.op == "call_function" and node.target is aten._assert_tensor_metadata.default and not node.users:',
     "core/ReplaceComparisonOperator_Eq_GtE"): "the kinds sorting after call_function (call_method, call_module, "
    "get_attr, output, placeholder) never have an aten op as target",
    ("irq/frontend/export_index_by_arange.py", "_batch_sizes",
     'if n.op == "call_function" and n.target is aten.sym_size.int and n.args[0] in inputs and n.args[1] == 0',
     "core/ReplaceComparisonOperator_Is_Eq"): "op overloads compare by identity",
}
