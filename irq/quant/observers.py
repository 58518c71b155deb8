"""Observers: from the values a quantizer sees to its symmetric clip range.

Every observer here produces one number per channel (per tensor: one): `absmax`, the clip
range [-absmax, absmax] its scale covers (`scale = absmax / qmax`, irq.fixedpoint's
`scale_from_absmax`). Their persistent statistics live in the owning FakeQuantize's buffers
`min_val` / `max_val`, so every observer kind has the same state_dict keys and a calibrated
checkpoint (MSE observer) loads into a QAT model (moving-average observer), which continues
from the calibrated range.

Distributed data parallel: each update first reduces the batch statistics across ranks
(min/max by MIN/MAX, histograms by SUM after the ranks agree on the histogram range), so every
rank ends with the statistics a single process would have computed on the concatenated batch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.distributed as dist
from torch import Tensor

HIST_BINS = 2048
#: MSE search candidates: clip ranges k/MSE_STEPS of the histogram range, k = MSE_STEPS/8 .. MSE_STEPS
MSE_STEPS = 256


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_(t: Tensor, op: str) -> Tensor:
    """In place across ranks (no-op in a single process): op is "min", "max" or "sum"."""
    if _distributed():
        red = {"min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX, "sum": dist.ReduceOp.SUM}[op]
        dist.all_reduce(t, red)
    return t


def batch_min_max(x: Tensor, axis: int | None) -> tuple[Tensor, Tensor]:
    """Per-tensor (axis None) or per-channel min and max of `x`, float32, reduced across ranks."""
    x = x.detach().float()
    if axis is None:
        lo, hi = x.min().reshape(()), x.max().reshape(())
    else:
        flat = x.transpose(0, axis).reshape(x.shape[axis], -1)
        lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
    lo, hi = lo.clone(), hi.clone()
    return all_reduce_(lo, "min"), all_reduce_(hi, "max")


class Observer(ABC):
    """Base: `update(fq, x)` changes fq.min_val / fq.max_val and returns the clip absmax."""

    @abstractmethod
    def update(self, fq, x: Tensor) -> Tensor:
        """Fold `x` into fq's statistics; return the clip absmax."""

    @staticmethod
    def absmax(fq) -> Tensor:
        return torch.maximum(fq.min_val.abs(), fq.max_val.abs())


class MinMaxObserver(Observer):
    """Running min and max of everything seen (per tensor)."""

    def update(self, fq, x: Tensor) -> Tensor:
        lo, hi = batch_min_max(x, None)
        if int(fq.observed) == 0:
            fq.min_val.copy_(lo)
            fq.max_val.copy_(hi)
        else:
            torch.minimum(fq.min_val, lo, out=fq.min_val)
            torch.maximum(fq.max_val, hi, out=fq.max_val)
        return self.absmax(fq)


class MovingAverageMinMaxObserver(Observer):
    """Exponential moving average of batch min/max (weight `averaging_constant` for a new batch)."""

    def __init__(self, averaging_constant: float) -> None:
        self.c = averaging_constant

    def update(self, fq, x: Tensor) -> Tensor:
        lo, hi = batch_min_max(x, None)
        if int(fq.observed) == 0:
            fq.min_val.copy_(lo)
            fq.max_val.copy_(hi)
        else:
            fq.min_val.add_(self.c * (lo - fq.min_val))
            fq.max_val.add_(self.c * (hi - fq.max_val))
        return self.absmax(fq)


class PerChannelMinMaxObserver(Observer):
    """Min/max of the current tensor per channel along `axis` (weights: the scale follows the weight)."""

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def update(self, fq, x: Tensor) -> Tensor:
        x = x.detach().float()
        if self.axis is None:
            lo, hi = x.min().reshape(()), x.max().reshape(())
        else:
            flat = x.transpose(0, self.axis).reshape(x.shape[self.axis], -1)
            lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
        fq.min_val.copy_(lo)
        fq.max_val.copy_(hi)
        return self.absmax(fq)


class HistogramObserver(Observer):
    """A histogram of |x| over [0, R] with HIST_BINS bins; R doubles (merging bin pairs exactly)
    when a value exceeds it. The clip range is chosen from the histogram by `choose`."""

    def __init__(self) -> None:
        self.hist: Tensor | None = None
        self.range = 0.0

    def _grow(self, needed: float) -> None:
        if self.hist is None or self.range == 0.0:
            self.range = needed
            return
        factor = 1
        while self.range * factor < needed:
            factor *= 2
        if factor > 1:
            merged = self.hist.view(-1, factor).sum(dim=1) if factor <= HIST_BINS else self.hist.sum().reshape(1)
            hist = torch.zeros(HIST_BINS, dtype=torch.float64)
            hist[: merged.numel()] = merged
            self.hist = hist
            self.range *= factor

    def update(self, fq, x: Tensor) -> Tensor:
        x = x.detach().float()
        lo, hi = batch_min_max(x, None)
        first = int(fq.observed) == 0
        if first:
            fq.min_val.copy_(lo)
            fq.max_val.copy_(hi)
        else:
            torch.minimum(fq.min_val, lo, out=fq.min_val)
            torch.maximum(fq.max_val, hi, out=fq.max_val)
        needed = float(torch.maximum(lo.abs(), hi.abs()))
        if needed == 0.0 and self.hist is None:
            return torch.zeros(())
        self._grow(max(needed, 1e-30))
        h = torch.histc(x.abs().clamp(max=self.range), bins=HIST_BINS, min=0.0, max=self.range).double()
        all_reduce_(h, "sum")
        self.hist = h if self.hist is None else self.hist + h
        clip = self.choose(fq)
        # the persistent statistics hold the chosen range, so a QAT observer loading this state
        # (moving average) continues from the calibrated clip range, not from the raw extremes
        fq.min_val.clamp_(-clip, clip)
        fq.max_val.clamp_(-clip, clip)
        return torch.tensor(clip, dtype=torch.float32)

    @abstractmethod
    def choose(self, fq) -> float:
        """The clip absmax picked from the histogram (percentile, MSE search...)."""


class PercentileObserver(HistogramObserver):
    """Clip at the `percentile` of |x| (upper edge of the bin where the cumulative count reaches it)."""

    def __init__(self, percentile: float) -> None:
        super().__init__()
        self.q = percentile

    def choose(self, fq) -> float:
        cdf = torch.cumsum(self.hist, 0)
        total = float(cdf[-1])
        if total == 0:
            return 0.0
        idx = int(torch.searchsorted(cdf, torch.tensor(total * self.q / 100.0, dtype=torch.float64)))
        return (min(idx, HIST_BINS - 1) + 1) * self.range / HIST_BINS


class MSEObserver(HistogramObserver):
    """The clip range minimizing the expected squared error: uniform rounding noise s^2/12 inside,
    (|x| - clip)^2 outside, over the histogram (bin centres)."""

    def __init__(self, qmax: int) -> None:
        super().__init__()
        self.qmax = qmax

    def choose(self, fq) -> float:
        centres = (torch.arange(HIST_BINS, dtype=torch.float64) + 0.5) * (self.range / HIST_BINS)
        k = torch.arange(MSE_STEPS // 8, MSE_STEPS + 1, dtype=torch.float64)
        clips = k * (self.range / MSE_STEPS)
        s = clips / self.qmax
        inside = centres[None, :] <= clips[:, None]
        err = torch.where(inside, (s * s / 12.0)[:, None], (centres[None, :] - clips[:, None]) ** 2)
        cost = (err * self.hist[None, :]).sum(dim=1)
        best = int(torch.argmin(cost))
        return float(clips[best])


def make_observer(kind: str, *, axis: int | None, qmax: int, averaging_constant: float,
                  percentile: float) -> Observer | None:
    """The observer for a fake-quant's `observer` attribute (None for fixed scales)."""
    if kind == "min_max":
        return MinMaxObserver()
    if kind == "moving_average_min_max":
        return MovingAverageMinMaxObserver(averaging_constant)
    if kind == "per_channel_min_max":
        return PerChannelMinMaxObserver(axis)
    if kind == "percentile":
        return PercentileObserver(percentile)
    if kind == "mse":
        return MSEObserver(qmax)
    if kind == "fixed":
        return None
    raise ValueError(f"unknown observer '{kind}'")


def lsq_init_scale(x: Tensor, qmax: int) -> float:
    """LSQ's initial step size, 2 * mean|x| / sqrt(qmax) (Esser et al., 2020)."""
    return max(2.0 * float(x.detach().abs().mean()) / math.sqrt(qmax), 2.0**-24)
