"""Tests that kill mutants of the quantizers (bench/mutation.py targets `quant-observers`: irq/quant/observers.py,
and `quant-fakequant`: irq/quant/fake_quantize.py) the observer tests did not. Each names the planted bug it
catches. Oracles: numpy re-derivations of the ranges from their documented formulas (percentile, MSE grid,
histogram bins), torch's own fake_quantize_per_tensor/per_channel_affine and its learnable (LSQ) kernel for the
forward values and the gradients, and one process on the concatenated batch for the distributed reductions.

Torch's fake-quant kernels round x * (1 / s) half to even, ours x / s (float32; VALIDATION float64): they can
differ only where x / s is within an ulp of a tie, so the inputs here keep every x / s at least 0.01 from one.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist

from irq.quant import FakeQuantize, FakeQuantState
from irq.quant import observers as obs

G = torch.Generator().manual_seed(0)


def fq(observer: str = "min_max", *, state: FakeQuantState = FakeQuantState.QAT, **kw) -> FakeQuantize:
    m = FakeQuantize(owner=kw.pop("owner", "t"), slot=kw.pop("slot", "out"), dtype=kw.pop("dtype", "qint8"),
                     observer=observer, qscheme=kw.pop("qscheme", "per_tensor"), **kw)
    m.state = state
    return m.train()


def _away_from_ties(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """x moved so that every x / s is at least 0.01 from a rounding tie (see the module docstring)."""
    r = x / s
    frac = r - torch.floor(r)
    return torch.where((frac - 0.5).abs() < 0.01, (torch.floor(r) + 0.3) * s, x)


def _same_codes(ours: torch.Tensor, theirs: torch.Tensor, s: torch.Tensor) -> None:
    """The same codes, and values within a float32 ulp (torch multiplies by float32(1 / s), we divide)."""
    torch.testing.assert_close(torch.round(ours.detach().double() / s.double()),
                               torch.round(theirs.detach().double() / s.double()), rtol=0, atol=0)
    torch.testing.assert_close(ours, theirs, rtol=2.5e-7, atol=0)


# -- observers ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 3, -1])
def test_per_channel_batch_statistics_match_numpy(axis: int) -> None:
    """batch_min_max(x, axis): the min and max of every slice along `axis` (numpy's min/max over the other
    axes). Catches the flattening written `reshape(shape[axis], ~1)` / `not 1`, `transpose(1, axis)` and the
    reduction over dim 0 / 2 instead of 1."""
    x = torch.randn(3, 4, 5, 6, generator=G)
    lo, hi = obs.batch_min_max(x, axis)
    a = x.numpy()
    other = tuple(d for d in range(4) if d != axis % 4)
    np.testing.assert_array_equal(lo.numpy(), a.min(axis=other))
    np.testing.assert_array_equal(hi.numpy(), a.max(axis=other))


def _numpy_hist(values: np.ndarray, top: float) -> np.ndarray:
    """|x| in HIST_BINS bins over [0, top] (the last bin closed, as torch.histc bins it)."""
    return torch.histc(torch.from_numpy(np.abs(values)).clamp(max=top), bins=obs.HIST_BINS, min=0.0,
                       max=top).double().numpy()


@pytest.mark.parametrize("first,second,want_range", [
    (0.37, 0.37, 0.37),         # a batch reaching exactly the range: no growth
    (0.37, 1.4, 0.37 * 4),      # doubles twice: bin pairs merged twice
    (1.0, 3.0, 4.0),            # a first range of exactly 1.0 is a range like any other
    (1e-3, 10.0, 1e-3 * 2 ** 14),  # more than HIST_BINS times wider: every earlier count lands in bin 0
])
def test_histogram_growth_keeps_every_count_in_its_bin(first: float, second: float, want_range: float) -> None:
    """The histogram after a wider batch is the first batch's histogram with every `factor` adjacent bins
    summed (the bins nest exactly; the first range's maximum stays in its closed last bin) plus the second
    batch binned over the final range, re-derived in numpy. Catches the merge taken for `factor > HIST_BINS`
    (or the whole-sum branch for smaller factors: the old test only checked the total count), `reshape(1)`
    off by one, and
    `range == 0.0` written `== 1.0` (a first range of exactly 1 restarted without merging)."""
    a = (torch.rand(500, generator=G) * 2 - 1) * first
    a[0] = first
    b = (torch.rand(700, generator=G) * 2 - 1) * second
    b[0] = -second
    m = fq("percentile", percentile=99.0)
    m(a)
    m(b)
    o = m.observer
    assert o.range == pytest.approx(want_range, rel=1e-6)
    factor = round(o.range / float(a.abs().max()))
    first_hist = _numpy_hist(a.numpy(), float(a.abs().max()))
    merged = np.zeros(obs.HIST_BINS)
    groups = first_hist.reshape(-1, factor).sum(axis=1) if factor <= obs.HIST_BINS else [first_hist.sum()]
    merged[: len(groups)] = groups
    np.testing.assert_array_equal(o.hist.numpy(), merged + _numpy_hist(b.numpy(), o.range))


def test_mse_picks_the_documented_minimum() -> None:
    """MSE: the clip k * R / 256, k = 32..256, minimizing sum over bins of count * (s^2 / 12 inside, (centre -
    clip)^2 outside), s = clip / qmax: re-derived in numpy from the observer's histogram with a loop over k.
    Catches MSE_STEPS off by one (another grid) and the search bounds."""
    x = torch.cat([torch.distributions.Laplace(0.0, 1.0).sample((20_000,)), torch.tensor([15.0, -9.0])])
    m = fq("mse")
    m(x)
    o = m.observer
    hist, r = o.hist.numpy(), o.range
    centres = (np.arange(obs.HIST_BINS) + 0.5) * (r / obs.HIST_BINS)
    best, best_cost = None, np.inf
    for k in range(256 // 8, 256 + 1):
        clip = k * (r / 256)
        s = clip / 127
        cost = float(np.sum(hist * np.where(centres <= clip, s * s / 12.0, (centres - clip) ** 2)))
        if cost < best_cost:
            best, best_cost = clip, cost
    assert float(m.scale) == pytest.approx(best / 127, rel=1e-6)
    assert best < r  # the test would not see a grid change if the whole range won


def test_default_percentile_is_99_99() -> None:
    """A FakeQuantize built without `percentile` clips at the 99.99th percentile of |x| (QuantizerSpec's
    default): catches the default written 98.99 or 100.99."""
    x = torch.randn(400_000, generator=G)
    m = fq("percentile")
    m(x)
    want = float(np.percentile(x.abs().numpy(), 99.99))
    assert abs(float(m.scale) * 127 - want) <= 1.5 * float(x.abs().max()) / obs.HIST_BINS


def test_a_percentile_above_100_clips_at_the_largest_value() -> None:
    """QuantizerSpec accepts any percentile; above 100 the clip is the whole histogram range (the largest |x|),
    never beyond it: catches `min(idx, HIST_BINS - 1)` written `HIST_BINS // 1` (a range 1/2048 wider)."""
    x = torch.randn(1000, generator=G)
    m = fq("percentile", percentile=100.5)
    m(x)
    assert float(m.scale) * 127 == pytest.approx(float(x.abs().max()), rel=1e-6)


def test_histogram_observers_keep_the_observed_extremes_inside_the_clip_range() -> None:
    """The persistent min_val / max_val are the observed extremes clamped to [-clip, clip] (a QAT observer
    loading them continues from that range): on all-negative data max_val stays the negative maximum.
    Catches `max_val.clamp_(-clip, clip)` written `clamp_(clip, clip)`."""
    x = -(torch.rand(10_000, generator=G) + 0.5)
    x[0] = -50.0
    m = fq("percentile", percentile=99.0)
    m(x)
    clip = float(m.scale) * 127
    assert clip < 50.0
    assert float(m.min_val) == pytest.approx(-clip)
    assert float(m.max_val) == float(x.max())


def test_an_all_zero_input_gives_the_smallest_scale() -> None:
    """absmax 0 gives scale 2**-24 exactly (not 0: codes would divide by it): catches the floor written
    2**~24 (2**-25)."""
    m = fq("min_max")
    m(torch.zeros(8))
    assert float(m.scale) == 2.0**-24


class _TwoRanks:
    """dist.* as a second rank holding `peer` would make it: all_reduce combines with the peer's statistic
    (its min, max, or its histogram over the same range)."""

    def __init__(self, monkeypatch, m: FakeQuantize, peer: torch.Tensor) -> None:
        self.m, self.peer = m, peer
        monkeypatch.setattr(dist, "is_available", lambda: True)
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
        monkeypatch.setattr(dist, "all_reduce", self.all_reduce)

    def all_reduce(self, t: torch.Tensor, op) -> None:
        if op == dist.ReduceOp.SUM:
            r = self.m.observer.range
            t += torch.histc(self.peer.abs().clamp(max=r), bins=obs.HIST_BINS, min=0.0, max=r).double()
        elif op == dist.ReduceOp.MIN:
            torch.minimum(t, self.peer.min(), out=t)
        elif op == dist.ReduceOp.MAX:
            torch.maximum(t, self.peer.max(), out=t)
        else:
            raise AssertionError(op)


@pytest.mark.parametrize("observer", ["min_max", "moving_average_min_max", "percentile", "mse"])
def test_two_ranks_observe_what_one_process_observes_on_both_batches(monkeypatch, observer: str) -> None:
    """With 2 ranks every observer reduces its batch statistics across them (min by MIN, max by MAX, histograms
    by SUM), so its scale is the one a single process gets on the concatenated batch. Catches `_distributed`'s
    `> 1` written `== 1` / `< 1` / `> 2` (statistics never reduced) and the reductions swapped."""
    kw = {"percentile": 99.0} if observer == "percentile" else {}
    mine = torch.randn(3000, generator=G) * 0.5
    peer = torch.randn(3000, generator=G) * 2.0 + 0.3
    single = fq(observer, **kw)
    single(torch.cat([mine, peer]))
    m = fq(observer, **kw)
    _TwoRanks(monkeypatch, m, peer)
    m(mine)
    assert float(m.scale) == float(single.scale)
    assert (float(m.min_val), float(m.max_val)) == (float(single.min_val), float(single.max_val))


# -- FakeQuantize --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,qmin,qmax", [("qint8", -128, 127), ("qint16", -32768, 32767)])
def test_qat_forward_and_gradient_equal_torch_fake_quantize(dtype: str, qmin: int, qmax: int) -> None:
    """QAT's straight-through fake quantization equals torch.fake_quantize_per_tensor_affine (zero point 0):
    values, and the input gradient (1 where the code is inside [qmin, qmax], else 0)."""
    s = 0.05 if dtype == "qint8" else 0.0004
    m = fq("fixed", fixed_scale=s, dtype=dtype)
    x = _away_from_ties(torch.randn(4000, generator=G) * 4.0, torch.tensor(s))
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = m(a), torch.fake_quantize_per_tensor_affine(b, s, 0, qmin, qmax)
    _same_codes(ya, yb, torch.tensor(s))
    (ya * torch.arange(4000)).sum().backward()
    (yb * torch.arange(4000)).sum().backward()
    # ours is d(q s)/dq * dq/dx = s * (1 / s) in float32: 1 within an ulp where torch's mask is exactly 1
    torch.testing.assert_close(a.grad, b.grad, rtol=2.5e-7, atol=0)
    assert 0 < int((a.grad == 0).sum()) < 4000  # both sides of the clamp are exercised


def test_per_channel_weights_equal_torch_per_channel_fake_quantize() -> None:
    """A per-channel weight quantizer (axis 1) equals torch.fake_quantize_per_channel_affine with the weight
    range -127..127 (the symmetric weight range)."""
    w = torch.randn(3, 5, 2, 2, generator=G)
    m = fq("per_channel_min_max", slot="weight", qscheme="per_channel", axis=1, channels=5)
    y = m(w)
    s = m.scale.detach()
    w = _away_from_ties(w, s.reshape(1, 5, 1, 1))
    y = m(w)
    want = torch.fake_quantize_per_channel_affine(w, m.scale.detach(), torch.zeros(5, dtype=torch.int32), 1,
                                                  -127, 127)
    _same_codes(y, want, s.reshape(1, 5, 1, 1))


@pytest.mark.parametrize("n", [1000, 37])
def test_lsq_gradients_equal_torchs_learnable_fake_quantize(n: int) -> None:
    """LSQ: the scale's gradient is (q - x/s) inside the range, qmin / qmax outside, times 1/sqrt(numel * qmax)
    (Esser et al. 2020), as torch._fake_quantize_learnable_per_tensor_affine computes it. Catches the gradient
    scale written 2.0 / ... or 0.0 / ..."""
    m = fq("min_max", learnable=True)
    with torch.no_grad():
        m.scale.fill_(0.03)
    m.observed.fill_(1)  # past LSQ's first look: the scale stays as set
    x = _away_from_ties(torch.randn(n, generator=G) * 3.0, torch.tensor(0.03))
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_ref = torch.tensor([0.03], requires_grad=True)
    ya = m(a)
    yb = torch._fake_quantize_learnable_per_tensor_affine(b, s_ref, torch.zeros(1), -128, 127, 1.0 / (n * 127) ** 0.5)
    _same_codes(ya, yb, torch.tensor(0.03))
    weights = torch.linspace(-1, 2, n)
    (ya * weights).sum().backward()
    (yb * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=2.5e-7, atol=0)
    torch.testing.assert_close(m.scale.grad.reshape(1), s_ref.grad, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("x,want", [(torch.tensor([0.5, -1.5, 3.0]), 2 * (5.0 / 3) / 127**0.5),
                                    (torch.zeros(4), 2.0**-24)])
def test_lsq_starts_from_2_mean_abs_over_sqrt_qmax(x: torch.Tensor, want: float) -> None:
    """A learnable scale's first look in QAT is LSQ's initial step 2 mean|x| / sqrt(qmax), floored at 2**-24
    (Esser et al. 2020): no test ran it (every LSQ test calibrated first)."""
    m = fq("min_max", learnable=True)
    m(x)
    assert float(m.scale.detach()) == pytest.approx(want, rel=1e-7)
    assert int(m.observed) == 1


def test_a_learnable_scale_calibrates_to_the_observed_range() -> None:
    """In CALIBRATION a learnable (LSQ) scale is the observer's absmax / qmax, exactly as a fixed one; LSQ's
    2 mean|x| / sqrt(qmax) is only QAT's first look (catches `state is QAT` written `<`, which sorts
    "calibration" first and took LSQ's start here: 0.2 where the range gives 4 / 127)."""
    m = fq("min_max", learnable=True, state=FakeQuantState.CALIBRATION)
    m(torch.tensor([0.1, -4.0, 0.2, 0.3]))
    assert float(m.scale.detach()) == pytest.approx(4.0 / 127, rel=1e-7)


def test_marker_and_weight_names_read_from_text_are_recognised() -> None:
    """dtype and slot reach FakeQuantize from parsed IR attributes: strings equal to, but not the same object
    as, the literals compared with (`is "qint32"` / `is "weight"` only works for interned constants). A qint32
    marker from text must pass values through; a weight quantizer from text must follow its weight in eval."""
    qint32, weight = "".join(["qint", "32"]), "".join(["wei", "ght"])
    assert qint32 is not sys.intern("qint32") and weight is not sys.intern("weight")  # the point of the test
    marker = fq("fixed", dtype=qint32, fixed_scale=1.0)
    x = torch.randn(6, generator=G) * 3
    assert torch.equal(marker(x), x)
    w = fq("min_max", slot=weight).eval()
    w(torch.tensor([0.5, -2.0]))
    assert float(w.scale) == pytest.approx(2.0 / 127)
    w(torch.tensor([0.5, -1.0]))  # the current weight's range, not the running extremes (min-max -> per channel)
    assert float(w.scale) == pytest.approx(1.0 / 127)
    fixed = fq("fixed", slot=weight, fixed_scale=0.1, state=FakeQuantState.VALIDATION).eval()
    assert fixed.codes(torch.tensor([-20.0, 20.0])).tolist() == [-127, 127]  # weights are symmetric: -127, not -128


def test_repr_names_the_state() -> None:
    """print(model) shows each quantizer's state: 'None' before irq.set_fake_quantize, then its value."""
    m = FakeQuantize(owner="t", slot="out", dtype="qint8", observer="min_max", qscheme="per_tensor")
    assert repr(m).endswith("(qint8, min_max, axis=None, state=None)")
    m.state = FakeQuantState.QAT
    assert repr(m).endswith("(qint8, min_max, axis=None, state=qat)")


def test_an_operand_slot_sorting_after_weight_is_an_activation() -> None:
    """A slot is out, weight, input or an operand's name (dialects/qat.py): an operand named `y` is an
    activation, with the full range -128..127, running statistics, and no observing in eval mode. Catches
    `slot == "weight"` written `>=` (true for every name sorting after it: the weight's -127..127 range, a
    quantizer that keeps observing in eval mode as a weight does)."""
    m = fq("min_max", slot="y").eval()
    m.state = FakeQuantState.CALIBRATION
    m.train()
    m(torch.tensor([0.5, -2.0]))
    m(torch.tensor([0.5, -1.0]))
    assert float(m.scale) == pytest.approx(2.0 / 127)  # the running extremes, not the last batch
    m.eval()
    m(torch.tensor([5.0]))  # eval mode: an activation observes nothing (only a weight follows its tensor)
    assert float(m.scale) == pytest.approx(2.0 / 127)
    fixed = fq("fixed", slot="y", fixed_scale=0.1, state=FakeQuantState.VALIDATION).eval()
    assert fixed.codes(torch.tensor([-20.0, 20.0])).tolist() == [-128, 127]


@pytest.mark.parametrize("kind", ["min_max", "moving_average_min_max", "per_channel_min_max", "percentile", "mse",
                                  "fixed"])
def test_observer_kinds_read_from_text_are_recognised(kind: str) -> None:
    """The observer kind reaches make_observer from a parsed IR attribute: equal to the literal, not the same
    object (`kind is "..."` only matches interned constants, and an unmatched kind raises "unknown observer")."""
    text = "".join(list(kind))
    assert text is not sys.intern(kind)
    o = obs.make_observer(text, axis=None, qmax=127, averaging_constant=0.1, percentile=99.0)
    want = obs.make_observer(kind, axis=None, qmax=127, averaging_constant=0.1, percentile=99.0)
    assert type(o) is type(want)
