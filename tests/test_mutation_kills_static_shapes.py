"""Static shape inference (irq/frontend/shapes.py) on the cases mutation testing (bench/mutation.py, target
frontend-shapes, ninth round) found unexercised. Each test names the planted bug it catches (file:line as of the
round and the mutation).

The oracle of static inference is the real run (propagate.py): tests/test_static_shapes.py's `_both` gives static
inference's annotations (None when it fell back to running the graph) and the real run's. Where static inference
types a model the two must be equal, and where it types a model today it must not fall back (the import would be
the same, at the cost of a forward pass); the imported module must still compute eager's numbers.
"""

from __future__ import annotations

import pytest
import torch
from irq.runtime.torch import to_module
from support.frontend_oracle import randn as _x
from support.torch_modules import result_shapes
from torch import nn

import irq


class _ConcreteSizes(nn.Module):
    """Python on sizes: `x.shape.index(3)` is a method call on a concrete torch.Size (shapes._run)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.size(0), -1, x.shape.index(3) * 2)


class _SubmoduleNamedDim(nn.Module):
    """A submodule whose name is also a Tensor size method: its call is a module call, not `x.dim()`."""

    def __init__(self) -> None:
        super().__init__()
        self.dim = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dim(x) + 1


class _Chunks(nn.Module):
    """A chunk's tuple passed whole to torch.cat, and its first piece by the most negative index."""

    def forward(self, x: torch.Tensor) -> tuple:
        parts = x.chunk(3, dim=2)
        return torch.cat(parts, 1), parts[-3] * 2


class _IntArith(nn.Module):
    """Integer tensors: `+` keeps int32 and int64 (no promotion to float), cat keeps the dtype."""

    def forward(self, i: torch.Tensor, j: torch.Tensor) -> tuple:
        return i + i, torch.cat([i, i]), j + j, j * j


class _Likes(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple:
        return torch.ones_like(x, dtype=torch.int64), torch.zeros_like(x), torch.full_like(x, 2.0, dtype=torch.float64)


class _Masks(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple:
        return x.masked_fill(x > 0, 0.5), torch.where(x > 0, 1.5, x), torch.topk(x, 2), x.cumsum(1)


class _ScaledByAnInput(nn.Module):
    """A Python number given as a model input: not shape-derived, so no handler folds it (the calls stay opaque,
    typed like the tensor by shapes._query)."""

    def forward(self, x: torch.Tensor, s: float) -> tuple:
        return x * s, s - x, x / s


def _ints() -> tuple:
    return torch.arange(6, dtype=torch.int32).reshape(2, 3) - 2, torch.arange(6).reshape(2, 3) * 3


STATIC = {
    # shapes.py:122 `_run`'s `node.op == "call_method"` (as !=, <, >, `not`) and 120's `==` as `>=`: the concrete
    # method call runs as a module call or calls its name
    "concrete method call": (_ConcreteSizes, lambda: (_x(2, 3, 4),)),
    # shapes.py:143 `node.op == "call_method"` as `>=`: the module call `self.dim(x)` answered as `x.dim()`
    "submodule named dim": (_SubmoduleNamedDim, lambda: (_x(2, 3),)),  # the root: its call target is "dim"
    # shapes.py:199 (`not` added: a chunk tuple into cat not typed) and 173 (`-len(types) <=` as `<`)
    "chunk tuple and negative index": (_Chunks, lambda: (_x(2, 3, 6),)),
    # shapes.py:341 `name == "cumsum"` as `<=` (int32 add typed i64) and 349 `name == "div"` as `<=` (an integer
    # add promoted to float)
    "integer arithmetic": (_IntArith, _ints),
    # shapes.py:331 `dtype is not None` as `is` (the dtype given ignored)
    "like ops with a dtype": (_Likes, lambda: (_x(2, 3),)),
    # shapes.py:339 where_scalar's element type from `tensors[1]` as `tensors[0]` (the mask's i1: not float, so
    # static inference gave up), topk's two results, and 342 a float cumsum's type (the `not` added: i64)
    "masks and topk": (_Masks, lambda: (_x(2, 5),)),
    # shapes.py:159-166 (`len(args) == 2` as `!=` or `<`; `other = b if t is a else a` as `!=`): a tensor times
    # a Python number the model receives, typed without running
    "number input": (_ScaledByAnInput, lambda: (_x(2, 3), 0.5)),
    # shapes.py:260 (a chain's later op takes the previous result as its input, no other operand): reflect padding
    # before a conv without bias, a 1-D pool lifted to 2-D
    "chains": (
        lambda: nn.Sequential(nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect", bias=False), nn.MaxPool1d(2)),
        lambda: (_x(1, 2, 8),),
    ),
}


@pytest.mark.parametrize("case", STATIC, ids=list(STATIC))
def test_static_inference_types_the_model_as_the_real_run(case):
    from tests.test_static_shapes import _both

    make, make_inputs = STATIC[case]
    model = make().eval()
    inputs = make_inputs()
    static, real = _both(model, inputs)
    assert static is not None, "static inference fell back to running the graph"
    assert static == real
    module = irq.import_torch(model, inputs)
    with torch.no_grad():
        expected = model(*inputs)
    got = to_module(module)(*inputs)
    for g, e in zip(
        got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)
    ):
        g, e = (g, e) if isinstance(e, torch.Tensor) else (g[0], e[0])
        assert g.dtype == e.dtype and torch.equal(g, e)


class _MixedWhere(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, y)


def test_where_of_mixed_dtypes_is_never_typed_apart_from_torch():
    """Bug caught: shapes.py:335 `tensors = tensors[1:]` as `[2:]`: where(c, float64, float32) typed from the
    second branch alone (float32) where torch promotes to float64. Static inference may give up on mixed dtypes
    (the real run decides), but it must never annotate otherwise than the real run."""
    from tests.test_static_shapes import _both

    inputs = (_x(2, 3).double(), _x(2, 3, seed=1))
    static, real = _both(_MixedWhere(), inputs)
    assert static is None or static == real
    module = irq.import_torch(_MixedWhere(), inputs)
    assert result_shapes(module) == [(2, 3)]
    ret = next(op for op in module.walk() if op.name == "func.return")
    assert str(ret.operands[0].type) == "tensor<2x3xf64>"


class _BadBias(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.conv.bias = nn.Parameter(torch.zeros(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_a_bias_torch_rejects_reports_torchs_error():
    """Bug caught: shapes.py:271 `oname == "bias"` as `<` (no operand name sorts before "bias", so the shape rule
    never sees the bias): static inference typed a conv whose bias has 5 entries for 4 channels, and the import
    failed later in the verifier instead of reporting what torch says when it runs the model."""
    with pytest.raises(irq.frontend.errors.FrontendError, match="expected bias to be 1-dimensional with 4 elements"):
        irq.import_torch(_BadBias(), (_x(1, 3, 6, 6),))


class _Table(nn.Module):
    """A leaf module called with a size: a table of that length (a positional table built from `x.size(1)`)."""

    def forward(self, n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.float32)


class _WithTable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = _Table()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table(x.size(1))


def test_a_leaf_module_called_with_a_size_is_typed_without_running_the_graph(monkeypatch):
    """Bug caught: shapes.py:122 `_run`'s `node.op == "call_method"` as `>=`: a leaf module's call on concrete
    values (here `self.table(x.size(1))`, a leaf by `leaf_modules`) ran as a method call on its argument, so
    static inference gave up and the importer ran the whole graph. Oracle: eager's numbers, and no real run."""
    from irq.frontend import importer

    runs: list[int] = []
    real_run = importer._run_graph
    monkeypatch.setattr(importer, "_run_graph", lambda *a, **k: (runs.append(1), real_run(*a, **k))[1])
    model, x = _WithTable().eval(), _x(2, 5)
    module = irq.import_torch(model, (x,), leaf_modules=[_Table])
    assert runs == []
    torch.testing.assert_close(to_module(module, modules={"table": model.table})(x), model(x), rtol=0, atol=0)


class _Attributes(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple:
        return x * 2, x.dtype, x.ndim


def test_the_dtype_and_ndim_attributes_are_annotated_as_the_real_run():
    """Bug caught: shapes.py:155 `args[1] == "ndim"` as `<=`: `x.dtype` ("dtype" sorts before "ndim") answered as
    the rank, an int where the real run gives a torch.dtype. Oracle: the real run's annotations (propagate.py)."""
    from tests.test_static_shapes import _both

    static, real = _both(_Attributes(), (_x(2, 3),))
    assert static is not None and static == real
