"""Observers and FakeQuantize: the scales they choose, the straight-through gradient, LSQ."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irq.quant import FakeQuantize, FakeQuantState


def fq(observer: str = "min_max", **kw) -> FakeQuantize:
    m = FakeQuantize(owner="t", slot=kw.pop("slot", "out"), dtype=kw.pop("dtype", "qint8"), observer=observer,
                     qscheme=kw.pop("qscheme", "per_tensor"), **kw)
    m.state = kw.get("state", FakeQuantState.QAT)
    return m.train()


def test_min_max_keeps_the_running_extremes():
    m = fq("min_max")
    m(torch.tensor([-1.0, 0.5]))
    m(torch.tensor([0.2, 3.0]))
    assert m.min_val.item() == -1.0 and m.max_val.item() == 3.0
    assert m.scale.item() == pytest.approx(3.0 / 127, rel=1e-7)
    assert int(m.observed) == 2


def test_moving_average_follows_horizons_formula():
    m = fq("moving_average_min_max", averaging_constant=0.1)
    m(torch.tensor([-2.0, 1.0]))
    m(torch.tensor([-1.0, 4.0]))
    assert m.max_val.item() == pytest.approx(1.0 + 0.1 * (4.0 - 1.0))
    assert m.min_val.item() == pytest.approx(-2.0 + 0.1 * (-1.0 + 2.0))
    assert m.scale.item() == pytest.approx(1.9 / 127, rel=1e-6)


def test_per_channel_weights_follow_the_current_weight_on_any_axis():
    w = torch.randn(4, 3, 2, 2)
    for axis in (0, 1):
        m = fq("per_channel_min_max", slot="weight", qscheme="per_channel", axis=axis, channels=w.shape[axis])
        m.eval()  # a weight quantizer follows its weight even in eval mode
        m.state = FakeQuantState.VALIDATION
        out = m(w)
        absmax = w.abs().transpose(0, axis).reshape(w.shape[axis], -1).max(dim=1).values
        torch.testing.assert_close(m.scale, absmax / 127)
        codes = m.codes(w)
        assert int(codes.abs().max()) == 127 and int(codes.min()) >= -127
        shape = [1] * 4
        shape[axis] = -1
        torch.testing.assert_close(out, (codes.double() * m.scale.double().reshape(shape)).float())


def test_percentile_clips_at_the_percentile_of_abs_values():
    x = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    m = fq("percentile", percentile=99.0)
    m(x)
    want = float(np.percentile(x.abs().numpy(), 99.0))
    bin_width = float(x.abs().max()) / 2048
    assert abs(m.scale.item() * 127 - want) <= 1.5 * bin_width


def _quant_mse(x: torch.Tensor, clip: float) -> float:
    s = clip / 127
    return float(((torch.clamp(torch.round(x / s), -128, 127) * s - x) ** 2).mean())


def test_mse_trades_a_rare_outlier_for_resolution_but_keeps_a_uniform_range():
    g = torch.Generator().manual_seed(0)
    lap = torch.distributions.Laplace(0.0, 1.0)
    torch.manual_seed(0)
    x = torch.cat([lap.sample((100_000,)), torch.tensor([20.0])])
    m = fq("mse")
    m(x)
    clip = m.scale.item() * 127
    assert 6.0 < clip < 15.0, clip
    assert _quant_mse(x, clip) < 0.7 * _quant_mse(x, 20.0)
    assert m.max_val.item() == pytest.approx(clip)  # the persistent range is the chosen clip range
    u = fq("mse")
    u(torch.rand(100_000, generator=g) * 2 - 1)
    assert u.scale.item() * 127 > 0.95


def test_histogram_range_doubles_without_losing_counts():
    m = fq("percentile", percentile=100.0)
    m(torch.full((10,), 0.5))
    m(torch.full((30,), 3.9))
    obs = m.observer
    assert float(obs.hist.sum()) == 40.0
    assert obs.range == pytest.approx(0.5 * 8)


def test_ste_gradient_is_one_inside_and_zero_outside_the_clamp_range():
    m = fq("fixed", fixed_scale=0.1)
    x = torch.tensor([0.04, 0.26, -12.75, 12.69, 13.0, -20.0], requires_grad=True)
    y = m(x)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.3, -12.8, 12.7, 12.7, -12.8]))
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_calibration_observes_without_rounding_and_validation_rounds_without_observing():
    m = fq("min_max")
    m.state = FakeQuantState.CALIBRATION
    x = torch.tensor([0.013, -0.5, 1.0])
    assert torch.equal(m(x), x)
    scale = m.scale.clone()
    m.eval()
    m.state = FakeQuantState.VALIDATION
    y = m(torch.tensor([5.0, 0.013]))
    assert torch.equal(m.scale, scale)
    q = torch.round(torch.tensor([0.013], dtype=torch.float64) / scale.double())
    assert y[0].item() == pytest.approx(127 * scale.item())
    assert y[1].item() == float((q * scale.double()).float())


def test_lsq_learns_the_scale():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, generator=g)
    m = fq("min_max", learnable=True)
    assert isinstance(m.scale, torch.nn.Parameter)
    m.state = FakeQuantState.CALIBRATION
    m(x * 4)  # a too-wide range: calibration copies it into the parameter
    m.state = FakeQuantState.QAT
    opt = torch.optim.Adam([m.scale], lr=1e-3)
    start = None
    for _ in range(200):
        loss = ((m(x) - x) ** 2).mean()
        start = start if start is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        assert m.scale.grad is not None and m.scale.grad.abs().item() > 0
        opt.step()
    assert loss.item() < 0.8 * start


def test_int32_marker_passes_values_through():
    m = fq("fixed", dtype="qint32", fixed_scale=1.0)
    x = torch.randn(5)
    assert torch.equal(m(x), x)


def test_unbounded_outputs_are_clipped_to_their_stated_range():
    m = fq("min_max", clip=64.0)
    m(torch.tensor([0.5, 1e6]))
    assert m.scale.item() == pytest.approx(64.0 / 127)


@pytest.mark.parametrize("observer", ["min_max", "moving_average_min_max", "mse", "percentile"])
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_values_are_refused_naming_the_quantizer(observer, bad):
    """An inf (a division by zero in the model) made min-max's scale inf, every code 0 with no error, and
    crashed MSE/percentile inside torch.histc naming no op; the scale must stay as it was."""
    m = fq(observer)
    m(torch.tensor([-1.0, 2.0]))
    before = m.scale.clone()
    with pytest.raises(ValueError, match=r"quantizer t\.out_quant observed (inf|nan) values"):
        m(torch.tensor([0.5, bad]))
    assert torch.equal(m.scale, before) and int(m.observed) == 1


def test_huge_finite_values_are_not_called_infinite():
    """The cheap finite check sums the tensor first; a sum of huge finite values overflows to inf, and the exact
    element check must then clear it: the quantizer observes the values as they are (scale = max / 127)."""
    m = fq("min_max")
    x = torch.full((4,), 3e38)
    assert not torch.isfinite(x.sum())  # the case: the sum overflows, every element is finite
    m(x)
    assert torch.isclose(m.scale.reshape(()), torch.tensor(3e38 / 127))
