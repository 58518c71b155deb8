"""An empty integer list means what torch means at every lowering that reads one (passes/_lowering.py's
`_ints`). `_ints` used to read `[]` as its default, the way `x.sum(dim=())` became a sum over dim 0 (the
batch: a wrong shape, no error); now an empty list is refused unless the caller says what it means.

Oracles: eager torch (the shape and values an empty list gives there, or torch's own refusal) and the
chain's VALIDATION model bit for bit against the deployed program."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import reference
from support.calibrated import calibrated
from torch import nn

import irq
from irq.ir.attributes import ArrayAttr
from irq.transform import PassFailure


class _Then(nn.Module):
    """A conv (so the tested op reads quantized codes), then `f`."""

    def __init__(self, f) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(self.conv(x))


def _deployed_equals_validation_and_eager(f, x: torch.Tensor) -> list[str]:
    torch.manual_seed(0)
    model = _Then(f).eval()
    with torch.no_grad():
        want = model(x)
    qat = calibrated(model, x, "default_calib_8bit")
    got = qat(x).detach()
    assert got.shape == want.shape
    # within a few output steps of float: the tested op adds no error of its own
    assert float((got - want).abs().max()) <= 4 * float(want.abs().max()) / 127 + 1e-6
    program = irq.convert(qat, march="nash")
    deployed = reference.run(program, x.numpy())[0]
    np.testing.assert_array_equal(deployed, got.detach().numpy())
    np.testing.assert_array_equal(irq.run(program, x.numpy()), deployed)  # numba: one result, not a list
    return [op.name for op in program.walk()]


def test_pad_with_an_empty_list_is_the_identity() -> None:
    """lower_pad: torch's F.pad(x, ()) returns x; the lowering wrote a bpu.pad with pad = [0] (the default
    read for the empty list), which failed verification ("needs (before, after) pairs")."""
    x = torch.randn(2, 2, 5, 5)
    assert torch.equal(F.pad(x, ()), x)
    names = _deployed_equals_validation_and_eager(lambda y: F.pad(y, ()), x)
    assert "bpu.pad" not in names


def test_permute_of_a_scalar_with_no_dims_is_the_identity() -> None:
    """permute's `dims`: `s.permute(())` of a rank-0 tensor is s in torch; `[]` must stay no dims."""
    x = torch.randn(2, 2, 4, 4)
    _deployed_equals_validation_and_eager(lambda y: y.sum().permute(()), x)


@pytest.mark.parametrize("f", [lambda y: y.sum(dim=()), lambda y: y.mean(dim=())], ids=["sum", "mean"])
def test_a_reduction_over_no_dims_reduces_every_dim(f) -> None:
    """sum/mean's `dim`: `dim=()` reduces every dim in torch (a scalar), never dim 0 alone."""
    x = torch.randn(2, 2, 4, 4)
    assert f(x).shape == ()
    _deployed_equals_validation_and_eager(f, x)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2, stride=()), nn.AvgPool2d(3, stride=())], ids=["max", "avg"])
def test_a_pool_with_an_empty_stride_steps_by_its_kernel(pool) -> None:
    """A pool's `stride=()` is its kernel size in torch (read by both runtimes, not by `_ints`)."""
    x = torch.randn(2, 2, 7, 7)
    assert pool(x).shape == F.max_pool2d(x, pool.kernel_size).shape
    _deployed_equals_validation_and_eager(pool, x)


class _EveryListReader(nn.Module):
    """One op of each kind whose integer lists lowering reads with `_ints`."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(2, 3, 3, padding=1)
        self.t = nn.ConvTranspose2d(3, 3, 2, stride=2)
        self.c1 = nn.Conv1d(3, 3, 3)
        self.ln = nn.LayerNorm(14)

    def forward(self, x: torch.Tensor):
        y = self.t(self.c(x))
        return F.avg_pool2d(y, 2), self.c1(y.flatten(2)[:, :, :20]), self.ln(y)


@pytest.fixture(scope="module")
def every_list_reader() -> tuple[torch.Tensor, nn.Module]:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 7, 7)
    return x, calibrated(_EveryListReader(), x, "default_calib_8bit")


_W = torch.randn(3, 3, 2, 2)
#: (frozen op, attribute, torch's own call with that attribute empty)
_REFUSED_BY_TORCH = [
    ("hl.conv2d", "stride", lambda x: F.conv2d(x, _W, stride=())),
    ("hl.conv2d", "padding", lambda x: F.conv2d(x, _W, padding=())),
    ("hl.conv2d", "dilation", lambda x: F.conv2d(x, _W, dilation=())),
    ("hl.conv_transpose2d", "stride", lambda x: F.conv_transpose2d(x, _W, stride=())),
    ("hl.conv_transpose2d", "output_padding", lambda x: F.conv_transpose2d(x, _W, output_padding=())),
    ("hl.conv1d", "stride", lambda x: F.conv1d(x[:, :, 0], _W[..., 0], stride=())),
    ("hl.conv1d", "dilation", lambda x: F.conv1d(x[:, :, 0], _W[..., 0], dilation=())),
    ("hl.avg_pool2d", "kernel_size", lambda x: F.avg_pool2d(x, ())),
    ("hl.avg_pool2d", "padding", lambda x: F.avg_pool2d(x, 2, padding=())),
    ("hl.layer_norm", "normalized_shape", lambda x: F.layer_norm(x, ())),
]


@pytest.mark.parametrize("op_name,attr,in_torch", _REFUSED_BY_TORCH,
                         ids=[f"{o}.{a}" for o, a, _ in _REFUSED_BY_TORCH])
def test_an_empty_list_torch_refuses_is_refused_naming_it(every_list_reader, op_name, attr, in_torch) -> None:
    """Torch refuses these empty lists; lowering read each as its default (stride 1, padding 0, dilation 1,
    kernel 1, normalized over [0]) and built a program torch would never run. Now the conversion fails
    naming the attribute and the op."""
    with pytest.raises(RuntimeError):
        in_torch(torch.randn(1, 3, 6, 6))
    x, qat = every_list_reader
    frozen = irq.freeze(qat)
    (op,) = [o for o in frozen.walk() if o.name == op_name]
    assert op.get_attr(attr) is not None
    op.set_attr(attr, ArrayAttr([]))
    with pytest.raises(PassFailure, match=rf"(?s){op_name}.*an empty '{attr}' list has no meaning here"):
        irq.convert(frozen, march="nash")
