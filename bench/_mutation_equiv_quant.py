"""Reviewed equivalent mutants of the quantizers (targets `quant-observers`: irq/quant/observers.py, and
`quant-fakequant`: irq/quant/fake_quantize.py).

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

_O = "irq/quant/observers.py"
_F = "irq/quant/fake_quantize.py"
_WORLD = "return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1"

QUANT: dict[tuple[str, str, str, str], str] = {
    (
        _O,
        "_distributed",
        _WORLD,
        "core/ReplaceComparisonOperator_Gt_NotEq",
    ): "a world size is at least 1, so `!= 1` is `> 1`",
    (
        _O,
        "_distributed",
        _WORLD,
        "core/ReplaceComparisonOperator_Gt_GtE",
    ): "`>= 1` also reduces in a one-rank group, where an all_reduce returns its input unchanged",
    (
        _O,
        "choose",
        "k = torch.arange(MSE_STEPS // 8, MSE_STEPS + 1, dtype=torch.float64)",
        "core/ReplaceBinaryOperator_FloorDiv_Div",
    ): "256 / 8 is 32.0: a float64 arange from 32.0 holds the same candidates as from 32",
    (
        _O,
        "_grow",
        "merged = self.hist.view(-1, factor).sum(dim=1) if factor <= HIST_BINS else self.hist.sum().reshape(1)",
        "core/ReplaceComparisonOperator_LtE_Lt",
    ): "at factor == HIST_BINS both branches give one bin holding every count",
    (
        _O,
        "__init__",
        "self.range = 0.0",
        "core/NumberReplacer",
    ): "never read: the first _grow sees hist None and sets the range from the data before any use",
    (
        _O,
        "<module>",
        "@abstractmethod",
        "core/RemoveDecorator",
    ): "every observer class implements update and choose; abstractmethod only forbids instantiating a class "
    "that does not, and none is instantiated",
    (
        _F,
        "observe",
        "if int(self.observed) == 0 and self.state is FakeQuantState.QAT:",
        "core/ReplaceComparisonOperator_Eq_LtE@3-30",
    ): "`observed` counts batches up from 0: `<= 0` is `== 0`",
    (
        _F,
        "forward",
        "if self.state is FakeQuantState.VALIDATION:",
        "core/ReplaceComparisonOperator_Is_Eq",
    ): "`state` only ever holds a FakeQuantState member or None (set_fake_quantize converts strings): a member "
    "equals only itself",
    (
        _F,
        "observing",
        "return self.training and self.state is not FakeQuantState.VALIDATION",
        "core/ReplaceComparisonOperator_IsNot_NotEq",
    ): "`state` only ever holds a FakeQuantState member or None: `!=` is `is not`",
    (
        _F,
        "<module>",
        "@staticmethod",
        "core/RemoveDecorator",
    ): "torch.autograd.Function calls forward/backward through the class (`_RoundSTE.forward(ctx, x)`), where a "
    "plain function is not bound: the same call",
    (
        _F,
        "_float32_exact",
        'return self.scale.dtype == torch.float32 and self.storage in ("i8", "i16")',
        "core/ReplaceComparisonOperator_Eq_Is",
    ): "torch dtypes are singletons (a tensor's .dtype is the very torch.float32 object): `is` is `==`",
    (
        "passes/quant_annotate.py",
        "insert_for_use",
        "if use.owner is not op:",
        "core/ReplaceComparisonOperator_IsNot_NotEq",
    ): "Operation defines no __eq__: `!=` is identity, as `is not`",
    # quant-annotate, a fresh draw (seed 1, K = 4; session 17)
    ("passes/quant_annotate.py", "_transformer_spec", 'if user is None or user.dialect_name != "hl":',
     "core/ReplaceComparisonOperator_NotEq_Is"): "dialect names are class-level identifier-like literals, interned: "
    "`is not` agrees with `!=`",
    ("passes/quant_annotate.py", "insert", "fq.results[0].name_hint = None", "core/NumberReplacer"): "a fake_quant "
    "has one result: results[-1] is results[0] (results[1] raises and is killed)",
    ("passes/quant_annotate.py", "insert", "value.replace_uses_where(fq.results[0], lambda use: use.owner is not fq)",
     "core/NumberReplacer"): "a fake_quant has one result: results[-1] is results[0]",
    ("passes/quant_annotate.py", "is_passthrough", 'if op.dialect_name != "hl":',
     "core/ReplaceComparisonOperator_NotEq_Lt"): "torch ops returned above; of the registered dialects only qat "
    "sorts after hl, and no qat op's name is a pass-through one (a user dialect sorting after hl with such an op "
    "name would differ: none is registered)",
}
