"""Static shape inference (irq/frontend/shapes.py) against its oracle, running the graph (propagate.py).

Every node static inference types must carry exactly the annotations the real run gives;
models it cannot type (opaque calls) fall back, and the import is the same either way.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import irq
from irq.frontend import importer
from irq.frontend.propagate import propagate, tensor_type
from irq.frontend.shapes import NeedsRealRun, infer_shapes
from tests.test_frontend_zoo import ZOO

_KEYS = ("irq_kind", "irq_type", "irq_rank", "irq_size", "irq_multi_kind")


def _annotations(graph) -> dict:
    return {n.name: {k: n.meta.get(k) for k in _KEYS} for n in graph.nodes if n.op != "output"}


def _both(model: nn.Module, inputs: tuple) -> tuple[dict | None, dict]:
    """(static annotations or None if it fell back, real annotations) of one trace of `model`."""
    graph, _ = importer.trace(model)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    values = dict(zip(placeholders, inputs))
    modules = dict(model.named_modules(remove_duplicate=False))
    types = {k: tensor_type(t) for k, (t, _) in importer._state(model).items()}
    try:
        infer_shapes(model, graph, values, importer.make_dispatch(modules), types)
        static = _annotations(graph)
    except NeedsRealRun:
        static = None
    for n in graph.nodes:
        for k in (*_KEYS, "irq_emits"):
            n.meta.pop(k, None)
    propagate(model, graph, values)
    return static, _annotations(graph)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_static_annotations_equal_the_real_run(name):
    make, shape = ZOO[name]
    torch.manual_seed(0)
    model = make().eval()
    static, real = _both(model, (torch.randn(*shape),))
    if name == "fpn_retinanet":
        assert static is None  # its post-process is an irq.wrap'd call: only running it types it
    else:
        assert static == real


class _Shapes(nn.Module):
    """Indexing, size arithmetic and reshapes with sizes computed in the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> tuple:
        b, c, h, w = x.shape
        y = self.conv(x)
        a, b2 = y.chunk(2, dim=1)
        parts = torch.split(y, [2, 4], dim=1)
        z = y[:, 1:5:2, None, ..., -1]
        z = z.squeeze(2).unsqueeze(-1).transpose(1, 2)
        r = y.reshape(b, -1, h * w // 2)
        r = r.view(b, c * 2, h, w)
        up = F.interpolate(a, size=(h * 2, w * 2), mode="nearest")
        s = y[:, 0] + y[:, -1]
        e = self.emb(ids).mean(1)
        scaled = y / (x.size(1) ** 0.5)
        return a + b2, parts[1].sum((2, 3), keepdim=True), z, r, up, s, e, scaled, y.flatten(2).permute(0, 2, 1)


def test_indexing_and_size_arithmetic_are_typed_statically():
    model = _Shapes().eval()
    inputs = (torch.randn(2, 3, 8, 6), torch.randint(0, 10, (2, 5)))
    static, real = _both(model, inputs)
    assert static is not None and static == real
    module = irq.import_torch(model, inputs)
    gm = irq.runtime.torch.to_module(module)
    with torch.no_grad():
        for got, want in zip(gm(*inputs), model(*inputs)):
            assert torch.allclose(got, want, atol=1e-6)


def test_mixed_dtypes_fall_back_to_the_real_run():
    class Mixed(nn.Module):
        def forward(self, x, i):
            return x * i  # float32 tensor times an int64 tensor: torch's promotion decides

    model = Mixed()
    inputs = (torch.randn(2, 3), torch.arange(3))
    static, real = _both(model, inputs)
    assert static is None
    module = irq.import_torch(model, inputs)
    assert str(next(op for op in module.walk() if op.name == "torch.mul").results[0].type) == "tensor<2x3xf32>"


class _SizeQueries(nn.Module):
    """Every way of asking a size that static inference answers itself, and integer division."""

    def forward(self, x: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> tuple:
        n = x.size()
        last = x.size(-1)
        ch = x.shape[1]
        parts = x.chunk(3, dim=2)
        y = parts[2] * 2 + parts[0][:, :, :1]
        flat = x.reshape(n[0], ch, -1)
        rows = x.view(-1, last)
        q = i / j  # true division of integer tensors: float32
        f = torch.div(i, j, rounding_mode="floor")  # stays int64
        return flat, rows, y, q, f


def test_size_queries_and_integer_division_are_typed_statically():
    model = _SizeQueries().eval()
    inputs = (torch.randn(2, 3, 7, 5), torch.arange(6).reshape(2, 3), torch.arange(1, 7).reshape(2, 3))
    static, real = _both(model, inputs)
    assert static is not None and static == real
    module = irq.import_torch(model, inputs)
    ret = next(op for op in module.walk() if op.name == "func.return")
    outs = model(*inputs)
    assert [str(v.type) for v in ret.operands] == [
        f"tensor<{'x'.join(map(str, o.shape))}x{ {torch.float32: 'f32', torch.int64: 'i64'}[o.dtype]}>" for o in outs
    ]
    gm = irq.runtime.torch.to_module(module)
    with torch.no_grad():
        for got, want in zip(gm(*inputs), outs, strict=True):
            assert got.dtype == want.dtype and torch.equal(got, want)


class _Ndim(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.ndim, -1)


def test_ndim_is_not_a_size():
    # `x.shape` is a size, `x.ndim` an int: answering the latter with the shape is wrong
    model = _Ndim().eval()
    inputs = (torch.randn(2, 3, 8, 5),)
    static, real = _both(model, inputs)
    assert static is not None and static == real
    module = irq.import_torch(model, inputs)
    ret = next(op for op in module.walk() if op.name == "func.return")
    assert str(ret.operands[0].type) == "tensor<4x60xf32>"


def test_a_model_torch_rejects_reports_torchs_error():
    """The shape rules reject the bad conv first; the import still reports what torch says about it."""

    class BadChannels(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)

    with pytest.raises(irq.frontend.errors.FrontendError) as info:
        irq.import_torch(BadChannels(), (torch.randn(1, 3, 8, 8),))
    assert "expected input[1, 3, 8, 8] to have 4 channels, but got 3 channels" in str(info.value)
