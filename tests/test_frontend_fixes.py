"""Frontend behaviours behind issue 8: names that rebuild, located errors, mutation analysis, typed ops."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from torch import nn

import irq
from irq.frontend.wrapping import qualified_name


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def _line_of(fn, marker: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if marker in line)


def _ops(module, name):
    return [op for op in module.walk() if op.name == name]


@pytest.mark.parametrize(
    "fn, name",
    [
        (torch.zeros_like, "torch.zeros_like"),
        (torch.cat, "torch.cat"),
        (torch.topk, "torch.topk"),
        (torch.where, "torch.where"),
        (F.avg_pool2d, "torch.nn.functional.avg_pool2d"),
        (F.relu, "torch.nn.functional.relu"),
    ],
)
def test_torch_callables_are_recorded_by_their_public_name(fn, name):
    assert qualified_name(fn) == name


class _Opaque(nn.Module):
    def forward(self, x):
        return torch.nan_to_num(x) + torch.atan(x)  # no typed op: torch.call by public name


def test_opaque_torch_functions_rebuild_from_text_alone():
    m = _Opaque().eval()
    x = torch.randn(2, 3)
    module = irq.import_torch(m, x)
    targets = {op.get_attr("target").value for op in _ops(module, "torch.call")}
    assert targets == {"torch.nan_to_num", "torch.atan"}
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert torch.equal(gm(x), m(x))


class _DataDependentBound(nn.Module):
    def forward(self, x):
        n = x.argmax()
        return x[:n]  # DATA-DEPENDENT SLICE


def test_a_slice_bound_read_from_tensor_data_is_refused_at_the_users_line():
    with pytest.raises(irq.FrontendError) as info:
        irq.import_torch(_DataDependentBound().eval(), torch.arange(6.0))
    line = _line_of(_DataDependentBound.forward, "DATA-DEPENDENT SLICE")
    assert info.value.line == line and f"{__file__}:{line}:" in str(info.value)


class _SizeArithmetic(nn.Module):
    def forward(self, x):
        h = x.shape[-1] // 2
        return x[..., :h] + x[..., h:]


def test_static_shape_arithmetic_folds_into_typed_slices():
    x = torch.randn(2, 3, 8)
    module = irq.import_torch(_SizeArithmetic().eval(), x)
    assert not _ops(module, "torch.call") and not _ops(module, "torch.size")  # folded, nothing left over
    assert len(_ops(module, "torch.slice")) == 2 and not _ops(module, "torch.getitem")  # basic indexing: slices
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert torch.equal(gm(x), _SizeArithmetic()(x))


class _Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_export_failure_hint_does_not_suggest_export():
    with pytest.raises(irq.FrontendError) as info:
        irq.import_torch(_Untraceable().eval(), torch.randn(3), method="export")
    text = str(info.value)
    assert 'use method="export"' not in text and 'or use method="export"' not in text
    assert "irq.wrap" in text


class _Leaf(nn.Module):
    def forward(self, x):
        return x * 2


class _WithLeaf(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = _Leaf()

    def forward(self, x):
        return self.inner(x) + 1


def test_missing_module_message_names_the_path_once_quoted():
    module = irq.import_torch(_WithLeaf().eval(), torch.randn(2), leaf_modules=(_Leaf,))
    with pytest.raises(LookupError) as info:
        to_module(irq.parse_module(irq.print_module(module)))
    text = str(info.value)
    assert "'inner'" in text and "'\"inner\"'" not in text and "model.inner" in text


def test_bmm_imports_as_a_typed_op_in_both_modes():
    class M(nn.Module):
        def forward(self, a, b):
            return torch.bmm(a, b)

    a, b = torch.randn(2, 3, 4), torch.randn(2, 4, 5)
    for method in ("fx", "export"):
        module = irq.import_torch(M().eval(), (a, b), method=method)
        (op,) = _ops(module, "torch.bmm")
        assert [v.type.shape for v in op.operands] == [(2, 3, 4), (2, 4, 5)]


class _MutatesViewOfInput(nn.Module):
    def forward(self, x):
        v = x.view(-1)
        v.mul_(2)  # MUTATES A VIEW
        return x + 1


def test_mutating_a_view_whose_base_is_read_later_names_the_line():
    with pytest.raises(irq.FrontendError) as info:
        irq.import_torch(_MutatesViewOfInput().eval(), torch.randn(2, 3))
    line = _line_of(_MutatesViewOfInput.forward, "MUTATES A VIEW")
    assert info.value.line == line
    assert "mul_" in str(info.value) and "x" in str(info.value)


class _OpaqueThenMutate(nn.Module):
    def forward(self, x):
        y = torch.nan_to_num(x)  # an opaque call: may return its input
        y.add_(1)
        return x * y


def test_results_of_opaque_calls_are_assumed_to_alias_their_inputs():
    with pytest.raises(irq.FrontendError, match="add_"):
        irq.import_torch(_OpaqueThenMutate().eval(), torch.randn(3))


class _MutateFreshThenView(nn.Module):
    def forward(self, x):
        y = x * 2
        y.add_(1)
        z = y.view(-1)  # a view taken after the mutation sees the new value: exact
        z.mul_(3)
        return z


def test_views_taken_after_a_mutation_are_modelled_exactly():
    m = _MutateFreshThenView().eval()
    x = torch.randn(2, 3)
    module = irq.import_torch(m, x)
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert torch.equal(gm(x.clone()), m(x.clone()))


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


def test_multihead_attention_rebuilds_from_text_and_keeps_out_proj_as_a_module():
    torch.manual_seed(0)
    m = _Attention().eval()
    x = torch.randn(2, 5, 8)
    module = irq.import_torch(m, x)
    assert not _ops(module, "torch.call")
    owners = {op.get_attr("module").value for op in _ops(module, "torch.linear") if op.get_attr("module")}
    assert owners == {"attn.out_proj"}
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert (gm(x) - m(x)).abs().max() <= 1e-5 * m(x).abs().max()
    assert list(gm.state_dict()) == list(m.state_dict())


def test_multihead_attention_masks_rebuild_from_text_alone():
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2)

        def forward(self, x, mask, padding):
            return self.attn(x, x, x, attn_mask=mask, key_padding_mask=padding)[0]

    m = Masked().eval()
    x, mask = torch.randn(4, 2, 8), torch.ones(4, 4, dtype=torch.bool).triu(1)  # causal
    padding = torch.tensor([[False, False, False, True], [False, True, False, False]])
    module = irq.import_torch(m, (x, mask, padding))
    assert not _ops(module, "torch.call")  # the masks are typed ops by their dtype (issue 12): where_scalar
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert torch.allclose(gm(x, mask, padding), m(x, mask, padding), atol=1e-6)
    float_mask = torch.randn(4, 4)  # a float mask is added (its own import: the mask's dtype is in the IR)
    module = irq.import_torch(m, (x, float_mask, padding))
    assert {op.name for op in module.walk()} >= {"torch.add", "torch.where_scalar"}
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert torch.allclose(gm(x, float_mask, padding), m(x, float_mask, padding), atol=1e-6)


def test_unbatched_multihead_attention_is_refused_not_reshaped():
    m = _Attention().eval()
    with pytest.raises(irq.FrontendError):
        irq.import_torch(m, torch.randn(5, 8))


class _NamedPairs(nn.Module):
    """torch's (values, indices) named tuples read by field name, as users write them."""

    def forward(self, x: torch.Tensor):
        top = torch.topk(x, 2)
        srt = torch.sort(x, dim=1, descending=True)
        mx = x.max(dim=1)
        return top.values * 2, top.indices, srt.values - srt.values.mean(), mx.indices, mx.values


def test_values_and_indices_fields_of_named_tuples_are_the_op_results():
    """`torch.topk(x, k).values` became an opaque getattr on a plain tuple: the prepared module then failed
    with "'tuple' object has no attribute 'values'" (found by the convert round's inventory)."""
    model, x = _NamedPairs().eval(), torch.randn(3, 6)
    module = irq.import_torch(model, (x,))
    assert not [op for op in _ops(module, "torch.call") if "getattr" in str(op.get_attr("target") or op)]
    with torch.no_grad():
        for got, want in zip(to_module(module)(x), model(x), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        qat = irq.prepare(model, (x,), qconfig=irq.qconfig.default_calib_8bit, check_model=False)
        irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
        for got, want in zip(qat(x), model(x), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)


class _OptionalMask(nn.Module):
    """forward(x, mask=None, *, scale=2.0): the common optional-argument signature."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *, scale: float = 2.0) -> torch.Tensor:
        y = self.conv(x) * scale
        if mask is not None:
            y = y * mask
        return y


@pytest.mark.parametrize("method", ["fx", "export"])
def test_omitted_arguments_with_defaults_keep_their_defaults(method):
    """`forward(x, mask=None)` prepared with one example input: fx traced `mask` as an input anyway and
    refused the call ("takes 2 traced input(s)"); a user calls the model with x alone, so the defaults hold."""
    model, x = _OptionalMask().eval(), torch.randn(2, 3, 6, 6)
    module = irq.import_torch(model, (x,), method=method)
    func = next(op for op in module.walk() if op.name == "func.func")
    assert len(func.regions[0].blocks[0].args) == 1
    qat = irq.prepare(model, (x,), qconfig=irq.qconfig.default_calib_8bit, method=method, check_model=False)
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-6, atol=1e-6)
        irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
        want = qat(x)
    program = irq.convert(qat)
    torch.testing.assert_close(torch.from_numpy(irq.run(program, x.numpy())), want, rtol=0, atol=0)


def test_a_given_optional_argument_is_still_an_input():
    """The defaults fill only what the example inputs leave out: a mask given is traced as an input."""
    model, x = _OptionalMask().eval(), torch.randn(2, 3, 6, 6)
    mask = (torch.rand(2, 4, 6, 6) > 0.5).float()
    qat = irq.prepare(model, (x, mask), qconfig=irq.qconfig.default_calib_8bit, check_model=False)
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x, mask), model(x, mask), rtol=1e-6, atol=1e-6)


def test_a_mask_and_is_not_taken_for_an_in_place_op():
    """`a & b` is fx's `operator.and_`, whose name ends in an underscore like torch's in-place ops: the mutation
    analysis took it for `a &= b` and gave every later reader of `a` the result of `a & b` (a wrong number, no
    error: `torch.where(a, ...)` after `a & b` selected by `a & b`)."""

    class Reused(nn.Module):
        def forward(self, x, y):
            a, b = x > 0, y > 0
            return torch.where(a & b, x, y) + torch.where(a | b, y, x) + torch.where(a, x, 0.0)

    m, x, y = Reused(), torch.randn(3, 5), torch.randn(3, 5)
    gm = to_module(irq.parse_module(irq.print_module(irq.import_torch(m, (x, y)))))
    torch.testing.assert_close(gm(x, y), m(x, y))
