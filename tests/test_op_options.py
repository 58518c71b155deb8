"""Operand orders and op options no zoo model exercises, each checked against torch eager.

Every case here once let a plausible bug through the whole suite (issue 15): `1 - x` imported as
`x - 1`, avg_pool2d's `ceil_mode` and `count_include_pad` swapped in the torch executor, and the
pooling shape rule without ceil_mode's "the last window starts inside the input" correction.
The oracle is always eager torch: the imported module rebuilt by `to_module` must compute the
same numbers, and every IR result type must be the shape eager produces.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from irq.runtime.torch import to_module
from support.torch_modules import Lambda
from support.torch_modules import result_shapes as _result_shapes
from torch import nn

import irq


def _op_names(module: irq.Operation) -> list[str]:
    return [op.name for op in module.walk() if op.dialect_name == "torch"]


def check_against_eager(model: nn.Module, x: torch.Tensor) -> irq.Operation:
    """Import `model`, rebuild it with the torch executor, compare outputs and result types with eager."""
    model.eval()
    module = irq.import_torch(model, (x,))
    irq.verify(module)
    expected = model(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert _result_shapes(module) == [tuple(e.shape) for e in expected]
    got = to_module(module)(x)
    got = got if isinstance(got, tuple) else (got,)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-6)
    return module


# ----------------------------------------------------------------------------- scalar operands
SCALAR_FIRST = {
    "1 - x": (lambda x: 1 - x, "torch.rsub_scalar"),
    "2.5 - x": (lambda x: 2.5 - x, "torch.rsub_scalar"),
    "2 / x": (lambda x: 2 / x, "torch.rdiv_scalar"),
    "x - 1": (lambda x: x - 1, "torch.sub_scalar"),
    "x / 2": (lambda x: x / 2, "torch.div_scalar"),
    "3 + x": (lambda x: 3 + x, "torch.add_scalar"),
    "3 * x": (lambda x: 3 * x, "torch.mul_scalar"),
    "(1 - x) / (2 - x)": (lambda x: (1 - x) / (2 - x), "torch.rsub_scalar"),
}


@pytest.mark.parametrize("case", SCALAR_FIRST, ids=list(SCALAR_FIRST))
def test_scalar_operand_order_matches_eager(case):
    fn, op_name = SCALAR_FIRST[case]
    x = torch.rand(2, 3, 4) + 0.5  # away from 0 and from the scalars, so x - c and c - x differ
    module = check_against_eager(Lambda(fn), x)
    assert op_name in _op_names(module)


def test_scalar_first_subtraction_is_not_commuted():
    # the oracle itself: x - 1 and 1 - x differ everywhere on these inputs
    x = torch.rand(2, 3) + 0.5
    assert not torch.isclose(1 - x, x - 1).any()
    gm = to_module(irq.import_torch(Lambda(lambda t: 1 - t), (x,)))
    torch.testing.assert_close(gm(x), 1 - x, rtol=0, atol=0)


# ----------------------------------------------------------------------------- average pooling
AVG_OPTIONS = list(itertools.product([False, True], [False, True]))  # (ceil_mode, count_include_pad)


def _avg_input() -> torch.Tensor:
    # 8x8 with kernel 3, stride 2, padding 1: ceil_mode adds a last window that hangs over the
    # padding, count_include_pad changes every border window's divisor
    return torch.randn(1, 2, 8, 8)


@pytest.mark.parametrize("ceil_mode,count_include_pad", AVG_OPTIONS)
@pytest.mark.parametrize("form", ["function", "module"])
def test_avg_pool2d_options_match_eager(form, ceil_mode, count_include_pad):
    if form == "function":
        model = Lambda(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=count_include_pad))
    else:
        model = nn.AvgPool2d(3, 2, 1, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    module = check_against_eager(model, _avg_input())
    (pool,) = [op for op in module.walk() if op.name == "torch.avg_pool2d"]
    assert pool.get_attr("ceil_mode").value is ceil_mode
    assert pool.get_attr("count_include_pad").value is count_include_pad


def test_avg_pool2d_options_change_the_numbers():
    # without this, a test comparing against eager could pass with the options swapped or ignored
    x = _avg_input()
    outs = {o: F.avg_pool2d(x, 3, 2, 1, ceil_mode=o[0], count_include_pad=o[1]) for o in AVG_OPTIONS}
    assert outs[(False, True)].shape[-1] == 4 and outs[(True, True)].shape[-1] == 5
    for a, b in itertools.combinations(AVG_OPTIONS, 2):
        if outs[a].shape == outs[b].shape:
            assert not torch.allclose(outs[a], outs[b]), (a, b)


@pytest.mark.parametrize("divisor_override", [1, 5])
def test_avg_pool2d_divisor_override_matches_eager(divisor_override):
    model = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=divisor_override)
    check_against_eager(model, _avg_input())


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool2d_with_dilation_and_ceil_mode_matches_eager(ceil_mode):
    check_against_eager(nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=ceil_mode), torch.randn(1, 2, 10, 9))
    check_against_eager(
        Lambda(lambda x: F.max_pool2d(x, (2, 3), (3, 2), (1, 0), (1, 2), ceil_mode=ceil_mode)), torch.randn(1, 2, 9, 11)
    )


# ----------------------------------------------------------------------------- pooling shapes
def test_ceil_mode_last_window_must_start_inside_the_input():
    # ceil((7 + 2 - 2) / 3) + 1 = 4 windows by the plain formula, but the 4th would start at 9,
    # past the input and its left padding (7 + 1): torch drops it, so the output is 3x3
    model = nn.MaxPool2d(2, stride=3, padding=1, ceil_mode=True)
    x = torch.randn(1, 1, 7, 7)
    assert model(x).shape == (1, 1, 3, 3)
    module = check_against_eager(model, x)
    assert _result_shapes(module) == [(1, 1, 3, 3)]


def _pool_params(draw_max: bool):
    return st.tuples(
        st.integers(1, 12),  # height
        st.integers(1, 12),  # width
        st.integers(1, 4),  # kernel
        st.integers(1, 4),  # stride
        st.integers(0, 2),  # padding
        st.integers(1, 3) if draw_max else st.just(1),  # dilation
        st.booleans(),  # ceil_mode
    )


def _eager_or_none(fn, x):
    try:
        return fn(x)
    except RuntimeError:  # parameters torch rejects (padding over half the kernel, empty output)
        return None


@settings(max_examples=120)
@given(params=_pool_params(draw_max=True), kind=st.sampled_from(["max", "avg"]))
@example(params=(7, 7, 2, 3, 1, 1, True), kind="max")  # issue 15: typed 4x4, torch gives 3x3
@example(params=(7, 7, 2, 3, 1, 1, True), kind="avg")
@example(params=(8, 8, 3, 2, 1, 1, True), kind="avg")
@example(params=(5, 5, 3, 2, 1, 2, True), kind="max")
def test_pool_result_type_equals_eager_shape(params, kind):
    h, w, k, s, p, d, ceil = params
    if kind == "max":
        model = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    else:
        model = nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil)
    x = torch.randn(1, 1, h, w)
    expected = _eager_or_none(model, x)
    if expected is None:
        return
    module = irq.import_torch(model, (x,))
    assert _result_shapes(module) == [tuple(expected.shape)], params


# ----------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("method", ["sum", "mean"])
def test_reduction_with_a_dtype_keeps_that_dtype(method):
    # torch.mean/sum ops carry no dtype: a call with one must not be imported as if it had none
    model = Lambda(lambda x: getattr(x, method)(1, dtype=torch.float64))
    x = torch.randn(2, 5, 3)
    module = irq.import_torch(model, (x,))
    expected = model(x)
    assert expected.dtype == torch.float64
    got = to_module(module)(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    ret = next(op for op in module.walk() if op.name == "func.return")
    assert str(ret.operands[0].type) == "tensor<2x3xf64>"


def test_opaque_call_with_the_tensor_second_matches_eager():
    # `3 ** x` stays a torch.call whose args place the tensor second: the executor must put it back there
    x = torch.rand(2, 3)
    module = check_against_eager(Lambda(lambda t: 3**t), x)
    assert "torch.call" in _op_names(module)


class _NonPersistent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.lin.register_buffer("scale", torch.full((3,), 2.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.lin.scale


def test_non_persistent_buffer_stays_out_of_the_state_dict():
    model = _NonPersistent().eval()
    gm = to_module(irq.import_torch(model, (torch.randn(2, 3),)))
    assert list(gm.state_dict()) == list(model.state_dict()) == ["lin.weight", "lin.bias"]
    x = torch.randn(2, 3)
    torch.testing.assert_close(gm(x), model(x), rtol=1e-6, atol=1e-6)
