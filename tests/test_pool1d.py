"""1-D pooling (F.max_pool1d / avg_pool1d / adaptive_avg_pool1d and nn.MaxPool1d / AvgPool1d /
AdaptiveAvgPool1d) on [N, C, L]: imported as the 2-D pool over [N, C, 1, L] (unsqueeze, pool, squeeze).

Before, every spelling stayed an opaque `torch.call` that no march runs (an audio model's global pool made
convert refuse the whole model), and F.max_pool1d's traced name, `boolean_dispatch.<locals>.fn`, could not
even be resolved. Each option is checked against eager torch (the oracle) in CALIBRATION, then through
convert: deployed == VALIDATION at the traced batch and another, reference == numba.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from support.both_runtimes import assert_deploys_as_validation
from support.calibrated import calibrated_model
from torch import Tensor, nn

import irq

#: (function, kwargs): every option torch's 1-D pools take, at values where a wrong mapping shows
#: (ceil_mode adds a window only when the last one would start inside the input; padding with count_include_pad
#: changes the border averages; dilation skips samples)
CASES = [
    (F.max_pool1d, {"kernel_size": 3}),
    (F.max_pool1d, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (F.max_pool1d, {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}),
    (F.max_pool1d, {"kernel_size": 3, "stride": 1, "dilation": 2}),
    (F.avg_pool1d, {"kernel_size": 4}),
    (F.avg_pool1d, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (F.avg_pool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    (F.avg_pool1d, {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}),
    (F.adaptive_avg_pool1d, {"output_size": 1}),
    (F.adaptive_avg_pool1d, {"output_size": 5}),
    (nn.MaxPool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}),
    (nn.AvgPool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False, "ceil_mode": True}),
    (nn.AdaptiveAvgPool1d, {"output_size": 3}),
]


class _Pooled(nn.Module):
    """conv1d -> the pool under test -> conv1d: the pool sits between two quantized owners."""

    def __init__(self, pool, kwargs: dict) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.head = nn.Conv1d(4, 3, 1)
        self.pool = pool(**kwargs) if isinstance(pool, type) else None
        self.fn, self.kwargs = pool, kwargs

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.conv(x))
        y = self.pool(y) if self.pool is not None else self.fn(y, **self.kwargs)
        return self.head(y)


def _id(case) -> str:
    fn, kw = case
    return f"{getattr(fn, '__name__', fn)}-" + "-".join(f"{k}{v}" for k, v in kw.items())


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_pool1d_imports_typed_and_matches_eager(case, method):
    """Bug caught: a kernel, stride, padding or dilation lifted to the wrong axis (or vertical padding
    added) pools other windows than torch; a dropped ceil_mode / count_include_pad changes borders; an
    ATen 1-D pool missing from the export table stays opaque."""
    torch.manual_seed(0)
    model = _Pooled(*case).eval()
    x = torch.randn(2, 2, 17)
    module = irq.import_torch(model, (x,), method=method)
    assert "torch.call" not in [op.name for op in module.walk()]
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", method=method, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", [CASES[2], CASES[7], CASES[8], CASES[10], CASES[11]],
                         ids=[_id(c) for c in (CASES[2], CASES[7], CASES[8], CASES[10], CASES[11])])
@pytest.mark.parametrize("march", ["bayes", "nash"])
def test_pool1d_deploys_bit_exact(case, march):
    """Bug caught: a 1-D pool the runtimes window differently from VALIDATION (deployed != VALIDATION), or
    the reference and numba runtimes disagreeing on a one-row kernel."""
    model, qat, _ = calibrated_model(lambda: _Pooled(*case), (2, 2, 17), march=march)
    g = torch.Generator().manual_seed(2)
    program = irq.convert(qat, march=march)
    assert_deploys_as_validation(model, qat, program, (2, 17), g)


class _Unbatched(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool1d(x, 2)


class _Indices(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool1d(x, 2, return_indices=True)[1]


@pytest.mark.parametrize("model, shape", [(_Unbatched(), (4, 10)), (_Indices(), (2, 4, 10))])
def test_what_the_2d_pool_cannot_express_stays_opaque(model, shape):
    """An unbatched [C, L] input or return_indices is kept as the call it is (the torch executor runs it
    exactly); a mapping that lifted them anyway would pool the channel axis or lose the indices."""
    x = torch.randn(*shape)
    module = irq.import_torch(model, (x,))
    assert "torch.call" in [op.name for op in module.walk()]
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=0, atol=0)
