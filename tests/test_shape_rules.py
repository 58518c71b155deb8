"""The shape rules' arithmetic (dialects/_shapes.py) swept against eager torch's shapes.

Each property builds a one-op model from drawn parameters, imports it (types come from the shape
rules, the model is not run) and compares every IR result type with the shape eager produces.
Parameters eager rejects are skipped. The `@example`s are the corner cases a plausible bug in the
formula gets wrong: uneven chunks (torch.chunk(5 rows, 4) gives 3 pieces, not 4), dilated and
strided convolutions whose last window does not fit, output_padding, negative slice bounds.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.torch_modules import Lambda
from support.torch_modules import result_shapes as _result_shapes
from torch import nn

import irq


def assert_types_match_eager(model: nn.Module, x: torch.Tensor) -> None:
    """Skip what eager rejects; otherwise the IR's result types must be eager's shapes."""
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError:
        return
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    # as a submodule, the way models hold layers (a root module's own forward is traced through)
    module = irq.import_torch(nn.Sequential(model).eval(), (x,))
    irq.verify(module)
    assert _result_shapes(module) == [tuple(o.shape) for o in outs]


@settings(max_examples=80)
@given(
    size=st.integers(3, 11),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    dilation=st.integers(1, 3),
    groups=st.sampled_from([1, 2]),
)
@example(size=7, k=3, stride=2, pad=0, dilation=2, groups=1)
@example(size=8, k=2, stride=3, pad=1, dilation=1, groups=2)
def test_conv2d_result_type(size, k, stride, pad, dilation, groups):
    conv = nn.Conv2d(4, 6, k, stride=stride, padding=pad, dilation=dilation, groups=groups)
    assert_types_match_eager(conv, torch.randn(1, 4, size, size + 1))


@settings(max_examples=60)
@given(
    size=st.integers(1, 6),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    outpad=st.integers(0, 2),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
)
@example(size=3, k=3, stride=2, pad=1, outpad=1, dilation=1, groups=1)
@example(size=4, k=2, stride=3, pad=0, outpad=2, dilation=2, groups=2)
def test_conv_transpose2d_result_type(size, k, stride, pad, outpad, dilation, groups):
    try:
        conv = nn.ConvTranspose2d(
            4, 6, k, stride=stride, padding=pad, output_padding=outpad, dilation=dilation, groups=groups
        )
    except ValueError:  # output_padding must be smaller than stride or dilation
        return
    assert_types_match_eager(conv, torch.randn(1, 4, size, size + 2))


@settings(max_examples=60)
@given(rows=st.integers(1, 9), chunks=st.integers(1, 6), dim=st.sampled_from([1, -2]))
@example(rows=5, chunks=4, dim=1)  # torch gives 3 pieces of 2, 2, 1
@example(rows=6, chunks=4, dim=1)  # 3 pieces of 2
@example(rows=2, chunks=5, dim=-2)  # 2 pieces of 1
def test_chunk_result_types(rows, chunks, dim):
    assert_types_match_eager(Lambda(lambda x: torch.chunk(x, chunks, dim)), torch.randn(2, rows, 3))


@settings(max_examples=60)
@given(rows=st.integers(1, 9), size=st.integers(1, 5), dim=st.sampled_from([1, -2]))
@example(rows=7, size=3, dim=1)  # 3, 3, 1
def test_split_result_types(rows, size, dim):
    assert_types_match_eager(Lambda(lambda x: torch.split(x, size, dim)), torch.randn(2, rows, 3))


@pytest.mark.parametrize("sizes", [[1, 2, 4], [7], [0, 7], [3, 0, 4]])
def test_split_with_sizes_result_types(sizes):
    assert_types_match_eager(Lambda(lambda x: torch.split(x, sizes, 1)), torch.randn(2, 7, 3))


_bound = st.one_of(st.none(), st.integers(-9, 9))


@settings(max_examples=80)
@given(start=_bound, stop=_bound, step=st.one_of(st.none(), st.integers(1, 3)))
@example(start=-3, stop=None, step=None)
@example(start=2, stop=-1, step=2)
@example(start=8, stop=9, step=None)  # past the end: empty
def test_slice_result_type(start, stop, step):
    assert_types_match_eager(Lambda(lambda x: x[:, start:stop:step]), torch.randn(2, 7, 3))


@settings(max_examples=40)
@given(pads=st.lists(st.integers(0, 3), min_size=2, max_size=6).filter(lambda p: len(p) % 2 == 0))
@example(pads=[1, 0, 0, 2])
@example(pads=[0, 1, 2, 3, 1, 1])
def test_pad_result_type(pads):
    assert_types_match_eager(Lambda(lambda x: F.pad(x, pads)), torch.randn(1, 2, 5, 6))


@settings(max_examples=40)
@given(scale=st.sampled_from([0.5, 1.5, 2.0, 2.5, 3.0, 0.3]), mode=st.sampled_from(["nearest", "bilinear"]))
@example(scale=1.5, mode="nearest")  # floor(7 * 1.5) = 10
def test_interpolate_scale_result_type(scale, mode):
    assert_types_match_eager(Lambda(lambda x: F.interpolate(x, scale_factor=scale, mode=mode)), torch.randn(1, 2, 7, 5))


@pytest.mark.parametrize("start,end", [(0, -1), (1, -1), (1, 2), (-3, -2), (2, 3)])
def test_flatten_result_type(start, end):
    assert_types_match_eager(Lambda(lambda x: torch.flatten(x, start, end)), torch.randn(2, 3, 4, 5))


@pytest.mark.parametrize(
    "x_shape,w_shape,x_first",
    [
        ((3,), (3, 4), True),
        ((2, 3), (3,), True),
        ((5, 2, 3), (3,), True),
        ((3,), (5, 3, 4), True),
        ((3,), (3,), True),
        ((5, 1, 2, 3), (4, 3, 2), True),
        ((3,), (4, 3), False),
        ((3, 2), (3,), False),
        ((5, 3, 2), (4, 1, 3), False),
    ],
)
def test_matmul_result_type_with_vectors_and_batches(x_shape, w_shape, x_first):
    # a 1-D operand gets a dimension added for the product and removed from the result
    w = torch.randn(*w_shape)
    fn = (lambda x: torch.matmul(x, w)) if x_first else (lambda x: torch.matmul(w, x))
    assert_types_match_eager(Lambda(fn), torch.randn(*x_shape))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv2d_string_padding_result_type(padding, dilation):
    assert_types_match_eager(nn.Conv2d(2, 3, (3, 2), padding=padding, dilation=dilation), torch.randn(1, 2, 9, 7))
