"""Issue 12's selections, broadcasts, fills and statistics through the whole chain: flip, expand / expand_as
(a ViT's class token at any batch), repeat, index_select and `x[:, idx]`, zeros_like / ones_like / full_like,
amax / amin, max / min over a dim (values), var / std, F.normalize.

Oracles: eager torch (CALIBRATION equals the float model: the typed ops compute what torch does, fx and
export alike), numpy's take / max / min of the codes (the bpu ops), and VALIDATION (the deployed program on
numba equals it bit for bit at the traced batch and another; reference == numba), with VALIDATION's cosine to
float as the quality check.

Before: every one of these was an opaque `torch.call` (or a typed op no march ran) and convert refused the model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support.both_runtimes import assert_deploys_as_validation, run_both
from support.frozen import FrozenBuilder, ttype
from torch import Tensor, nn

import irq

SHAPE = (3, 5, 6)  # one sample's input; the conv keeps H, W and makes 4 channels


def _index(y: Tensor) -> Tensor:
    return y[:, :, torch.tensor([4, 0, 2])]


#: (name, y -> result on the conv's output y [N, 4, 5, 6], min cosine of VALIDATION to float)
CASES = [
    ("flip", lambda y: torch.flip(y, [2, 3]), 0.99),
    ("flip_method", lambda y: y.flip(1) + y, 0.99),
    ("expand", lambda y: y[:, :, :1].expand(-1, -1, 5, -1), 0.99),
    ("expand_as", lambda y: y[:, :1].expand_as(y) + y, 0.99),
    ("repeat", lambda y: y.repeat(1, 2, 1, 1), 0.99),
    ("repeat_new_dim", lambda y: y.repeat(2, 1, 1, 3, 1), 0.99),
    ("index_select", lambda y: torch.index_select(y, 1, torch.tensor([3, 0, 0])), 0.99),
    ("index_tensor", _index, 0.99),
    ("zeros_like", lambda y: torch.cat([y, torch.zeros_like(y)], 1), 0.99),
    ("ones_like", lambda y: y + torch.ones_like(y), 0.99),
    ("full_like", lambda y: torch.cat([torch.full_like(y, -0.75), y], 2), 0.99),
    ("amax", lambda y: torch.amax(y, dim=1), 0.99),
    ("amin", lambda y: y.amin(dim=(2, 3), keepdim=True), 0.99),
    ("max_dim", lambda y: torch.max(y, 1)[0], 0.99),
    ("min_dim", lambda y: y.min(dim=2, keepdim=True).values, 0.99),
    ("topk", lambda y: torch.topk(y, 2, dim=1)[0], 0.99),
    ("topk_smallest", lambda y: y.topk(3, -1, largest=False).values, 0.99),
    ("var", lambda y: torch.var(y, dim=1), 0.98),
    ("var_biased", lambda y: y.var(dim=(2, 3), unbiased=False, keepdim=True), 0.98),
    ("std", lambda y: y.std(dim=1, keepdim=True), 0.98),
    ("normalize", lambda y: F.normalize(y, dim=1), 0.98),
]


class _Selected(nn.Module):
    """conv -> the op under test: the op's input is a quantized activation with a batch."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.conv(x))


def _prepared(model: nn.Module, method: str, march: str = "bayes"):
    """(prepared model in VALIDATION, example input) after three seeded calibration batches."""
    x = torch.randn(2, *SHAPE)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march=march, method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)  # typed ops compute torch's result
        for _ in range(3):
            qat(torch.randn(2, *SHAPE, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return qat


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name,fn,min_cos", CASES, ids=[c[0] for c in CASES])
def test_op_imports_typed_and_deploys_as_validation(name, fn, min_cos, method):
    """Bug caught: a mapping that keeps the call opaque (convert refuses the model), a typed op computing other
    than torch (CALIBRATION != float), a lowering that picks other codes than VALIDATION's torch op (a flip the
    wrong way, a repeat that interleaves instead of tiling, an index taken along another dim, a fill code
    rounded differently) or loses the batch (a wrong result at batch 3)."""
    torch.manual_seed(0)
    model = _Selected(fn).eval()
    x = torch.randn(2, *SHAPE)
    module = irq.import_torch(model, (x,), method=method)
    assert "torch.call" not in [op.name for op in module.walk()]
    with torch.no_grad():
        want = model(x)
    got_type = [op for op in module.walk() if op.name == "func.return"][0].operands[0].type
    assert tuple(got_type.shape) == tuple(want.shape)
    qat = _prepared(model, method)
    program = irq.convert(qat, march="bayes")
    assert_deploys_as_validation(model, qat, program, SHAPE, torch.Generator().manual_seed(2), min_cosine=min_cos)


class _ClassToken(nn.Module):
    """A ViT's stem: patch embedding, a learned class token expanded to the batch and concatenated, positions."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, stride=2)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.pos = nn.Parameter(torch.randn(1, 10, 8) * 0.1)
        self.head = nn.Linear(8, 5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        cls = self.cls.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], 1) + self.pos
        return self.head(x)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_vit_class_token_deploys_at_any_batch(method):
    """Bug caught: the class token expanded to the traced batch only (a constant has no batch of its own: at
    batch 1 or 3 the concat would mix sizes or the program would refuse), or its codes changed on the way."""
    torch.manual_seed(0)
    model = _ClassToken().eval()
    x = torch.randn(2, 3, 6, 6)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="bayes", method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for batch in (2, 1, 3):
            xb = torch.randn(batch, 3, 6, 6, generator=g)
            torch.testing.assert_close(qat(xb), model(xb), rtol=1e-5, atol=1e-5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="bayes")
    assert "bpu.add" in {op.name for op in program.walk()}  # the token broadcast against the patches' batch
    assert_deploys_as_validation(model, qat, program, (3, 6, 6), torch.Generator().manual_seed(2), batches=(2, 1, 3))


# -- the bpu ops against numpy, on both runtimes -------------------------------------------------------------
BPU_SHAPE = (2, 3, 4, 5)


def _codes() -> np.ndarray:
    return (np.random.default_rng(0).integers(-128, 128, size=BPU_SHAPE)).astype(np.float32)


def _program(name: str, attrs: str, out_shape):
    b = FrozenBuilder([("x", BPU_SHAPE)])
    y = b.op(f"torch.{name}", [b.qdq("x", 0.5)], out_shape, attrs=attrs)
    return irq.convert(b.module([y]), march="bayes")


@pytest.mark.parametrize("dims", [[3], [1, 2], [0, 3]])
def test_flip_is_numpy_flip_of_the_codes(dims):
    q = _codes()
    got = run_both(_program("flip", f"dims = {dims}", BPU_SHAPE), q * 0.5)
    np.testing.assert_array_equal(got, np.flip(q, dims) * 0.5)


@pytest.mark.parametrize("reps", [[1, 2, 1, 3], [2, 1, 1, 1, 1]])
def test_repeat_is_numpy_tile_of_the_codes(reps):
    q = _codes()
    want = np.tile(q, reps)
    got = run_both(_program("repeat", f"repeats = {reps}", want.shape), q * 0.5)
    np.testing.assert_array_equal(got, want * 0.5)


@pytest.mark.parametrize("name,fn", [("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("dims,keep", [([1], False), ([2, 3], True), ([-1], False), ([0, 1, 2, 3], True),
                                       ([3, 1], True)])
def test_reductions_are_numpy_max_min_of_the_codes(name, fn, dims, keep):
    # trailing dims take the numba runtime's row loop (kernels/reduce.py), the others numpy
    q = _codes()
    want = fn(q, axis=tuple(dims), keepdims=keep)
    program = _program(name, f"dim = {dims}, keepdim = {str(keep).lower()}", want.shape)
    assert {op.name for op in program.walk()} & {"bpu.reduce_max", "bpu.reduce_min"}
    np.testing.assert_array_equal(run_both(program, q * 0.5), want * 0.5)


@pytest.mark.parametrize("k,dim,largest", [(2, 1, True), (4, -1, False), (5, 3, True)])
def test_topk_is_the_sorted_codes(k, dim, largest):
    """Bug caught: the smallest taken for the largest, an unsorted or reversed order, ties broken into other values."""
    q = _codes()
    srt = np.sort(q, axis=dim)
    want = np.flip(srt, dim).take(range(k), axis=dim) if largest else srt.take(range(k), axis=dim)
    b = FrozenBuilder([("x", BPU_SHAPE)])
    xd = b.qdq("x", 0.5)
    flag = str(largest).lower()
    b.lines.append(
        f"%t:2 = torch.topk %{xd} {{k = {k} : i64, dim = {dim} : i64, largest = {flag}, sorted = true}} : "
        f"({ttype(BPU_SHAPE)}) -> ({ttype(want.shape)}, {ttype(want.shape, 'i64')})"
    )
    b.shapes["t#0"] = want.shape
    program = irq.convert(b.module(["t#0"]), march="bayes")
    np.testing.assert_array_equal(run_both(program, q * 0.5), want * 0.5)


def test_take_out_of_range_is_a_verifier_error():
    text = """func.func @f(%x: tensor<2x3xi8>) -> tensor<2x2xi8> {
  %0 = bpu.take %x {dim = 1 : i64, indices = array<i64: 0, 3>} : (tensor<2x3xi8>) -> tensor<2x2xi8>
  return %0 : tensor<2x2xi8>
}"""
    with pytest.raises(Exception, match=r"indices \[0, 3\] leave \[0, 3\) along dim 1"):
        irq.verify(irq.parse_module(text))


# -- integer results: the indices of a max over a dim -------------------------------------------------------
class _ArgMax(nn.Module):
    def __init__(self, indices_of_max: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.indices_of_max = indices_of_max

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.indices_of_max:
            return y.max(dim=1).indices
        return torch.argmax(y, 1)


@pytest.mark.parametrize("indices_of_max", [True, False])
def test_indices_over_the_channels_deploy_as_validation(indices_of_max):
    """argmax / max(dim).indices over a conv's channels (4-D, bayes) are bpu.argmax: i64 indices equal to
    VALIDATION's at batches 2 and 3 on both runtimes. They used to be refused (an i64 result no program
    returned); bug caught now: indices computed from other codes than the values', or along another dim."""
    model = _ArgMax(indices_of_max).eval()
    qat = _prepared(model, "fx")
    program = irq.convert(qat, march="bayes")
    assert "bpu.argmax" in {op.name for op in program.walk()}
    g = torch.Generator().manual_seed(2)
    for batch in (2, 3):
        xb = torch.randn(batch, *SHAPE, generator=g)
        with torch.no_grad():
            want = qat(xb).numpy()
        got = run_both(program, xb.numpy())
        assert got.dtype == want.dtype == np.int64 and got.shape == (batch, 5, 6)
        np.testing.assert_array_equal(got, want)
