"""FakeQuantize: the torch module each `qat.fake_quant` op becomes, and the state it keeps.

State (buffers, so state_dict keys are `<owner>.<slot>_quant.<name>` whatever the observer):
`scale` (float32, [] or [C]; an nn.Parameter when LSQ learns it), `min_val` / `max_val` (the
observer's statistics), `observed` (how many batches the observer has seen; 0 means the scale is
still its initial value 1).

Behaviour by FakeQuantState (horizon_plugin_pytorch's semantics, see irq.quant.state):

- CALIBRATION: observe (when this module is in train mode), output the input unchanged;
- QAT: observe (train mode) and fake-quantize with a straight-through estimator;
- VALIDATION: no observing; round exactly as the deployed program does (float64 division,
  round half to even, saturation), so values between ops are the dequantized integer codes.
- unset (never given a state): as QAT, and irq.quant.state warns about it.

Straight-through estimator: ``clamp(round_ste(x / s), qmin, qmax) * s`` where round_ste rounds
in forward and is the identity in backward. Its gradient is 1 inside the clamp range and 0
outside; with a learnable scale the same expression gives LSQ's scale gradient (Esser et al.,
"Learned Step Size Quantization", 2020), scaled by 1 / sqrt(numel * qmax) as the paper advises.
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import Tensor, nn

from irq.fixedpoint import WEIGHT_QRANGE, qrange
from irq.qconfig import DTYPES
from irq.quant.observers import lsq_init_scale, make_observer


class FakeQuantState(str, Enum):
    """What fake-quant modules do (horizon_plugin_pytorch's FakeQuantState)."""

    CALIBRATION = "calibration"
    QAT = "qat"
    VALIDATION = "validation"


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        return g


def _grad_scale(s: Tensor, factor: float) -> Tensor:
    """s in forward; gradient multiplied by `factor` in backward (LSQ's gradient scaling)."""
    return (s - s * factor).detach() + s * factor


class FakeQuantize(nn.Module):
    """One quantizer (see the module docstring). Built by the torch executor from a qat.fake_quant op."""

    def __init__(self, *, owner: str, slot: str, dtype: str, observer: str, qscheme: str,
                 axis: int | None = None, channels: int | None = None, averaging_constant: float = 0.01,
                 fixed_scale: float | None = None, percentile: float = 99.99, clip: float | None = None,
                 learnable: bool = False) -> None:
        super().__init__()
        if dtype not in DTYPES:
            raise ValueError(f"{owner}.{slot}_quant: unknown dtype '{dtype}'")
        self.owner, self.slot, self.dtype, self.observer_kind = owner, slot, dtype, observer
        self.storage = DTYPES[dtype]
        self.qmin, self.qmax = WEIGHT_QRANGE if slot == "weight" else qrange(self.storage)
        self.axis = axis if qscheme == "per_channel" else None
        self.clip = clip
        self.fixed_scale = fixed_scale
        self.learnable = learnable
        shape = (channels,) if self.axis is not None else ()
        init = torch.full(shape, 1.0 if fixed_scale is None else float(fixed_scale), dtype=torch.float32)
        if learnable:
            self.scale = nn.Parameter(init)
        else:
            self.register_buffer("scale", init)
        self.register_buffer("min_val", torch.zeros(shape))
        self.register_buffer("max_val", torch.zeros(shape))
        self.register_buffer("observed", torch.zeros((), dtype=torch.int64))
        if slot == "weight" and observer == "min_max":
            observer = "per_channel_min_max"  # a weight's range is the current weight's, per tensor here
        self.observer = make_observer(observer, axis=self.axis, qmax=self.qmax,
                                      averaging_constant=averaging_constant, percentile=percentile)
        self.state: FakeQuantState | None = None

    @property
    def path(self) -> str:
        return f"{self.owner}.{self.slot}_quant" if self.owner else f"{self.slot}_quant"

    @property
    def is_marker(self) -> bool:
        """A qint32 output: scale derived from its producer, nothing to observe or round."""
        return self.dtype == "qint32"

    @property
    def follows_tensor(self) -> bool:
        """A weight quantizer whose scale is a function of the current weight (min-max, not learned):
        it is refreshed on every forward in every state, so VALIDATION and freeze never use a scale
        computed before the last optimizer step."""
        return self.slot == "weight" and not self.learnable and self.observer_kind in (
            "per_channel_min_max", "min_max")

    @property
    def observing(self) -> bool:
        """Whether forward updates the statistics now (train mode, and not VALIDATION)."""
        if self.is_marker or self.observer is None:
            return False
        if self.follows_tensor:
            return True
        return self.training and self.state is not FakeQuantState.VALIDATION

    def extra_repr(self) -> str:
        return f"{self.dtype}, {self.observer_kind}, axis={self.axis}, state={self.state and self.state.value}"

    def observe(self, x: Tensor) -> None:
        """Update the statistics from `x` and set the scale (LSQ scales only on the first look)."""
        if self.clip is not None:
            x = x.clamp(-self.clip, self.clip)
        with torch.no_grad():
            # an inf or nan would make the scale inf/nan (min-max) or crash torch.histc (MSE, percentile) with a
            # message naming no op: say which quantizer saw it. A sum is non-finite whenever an element is, and
            # costs 1/40 of isfinite().all() (measured on 3.2M floats); only then is the exact check run (a
            # sum of huge finite values may overflow)
            if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
                bad = "nan" if bool(torch.isnan(x).any()) else "inf"
                raise ValueError(f"quantizer {self.path} observed {bad} values: the calibration data or the model "
                                 f"produces non-finite numbers here (a division by zero, a log of 0?); "
                                 f"fix them before calibrating, or clip this owner's output with a fixed scale")
            absmax = self.observer.update(self, x)
            scale = torch.clamp(absmax.float() / self.qmax, min=2.0**-24)
            if self.learnable:
                if int(self.observed) == 0 and self.state is FakeQuantState.QAT:
                    self.scale.fill_(lsq_init_scale(x, self.qmax))
                elif self.state is FakeQuantState.CALIBRATION:
                    self.scale.copy_(scale.reshape(self.scale.shape))
            else:
                self.scale.copy_(scale.reshape(self.scale.shape))
            self.observed += 1

    def _view(self, s: Tensor, x: Tensor) -> Tensor:
        if self.axis is None:
            return s
        shape = [1] * x.dim()
        shape[self.axis] = -1
        return s.reshape(shape)

    def forward(self, x: Tensor) -> Tensor:
        if self.is_marker:
            return x
        if self.observing:
            self.observe(x)
        if self.state is FakeQuantState.CALIBRATION:
            return x
        if self.state is FakeQuantState.VALIDATION:
            return self.quantize_exact(x)
        # a snapshot for autograd: a shared module (one detection head on every FPN level) calls this
        # quantizer again in the same forward, and observe()'s in-place update of the buffer would
        # invalidate the tensor the first call saved for backward
        s = self.scale if self.learnable else self.scale.clone()
        if self.learnable:
            s = _grad_scale(s, 1.0 / (x.numel() * self.qmax) ** 0.5)
        return self.round_straight_through(x, s)

    def round_straight_through(self, x: Tensor, s: Tensor | None = None) -> Tensor:
        """QAT's rounding of `x` at scale `s` (default: the current scale, detached), with the straight-through
        gradient; observes nothing (AdaRound's block reconstruction rounds the activations inside a block so)."""
        s = self._view(self.scale.detach() if s is None else s, x)
        q = torch.clamp(_RoundSTE.apply(x / s), self.qmin, self.qmax)
        return q * s

    # -- exact integer semantics (VALIDATION) --------------------------------------------------
    def codes(self, x: Tensor, dtype: torch.dtype = torch.int64) -> Tensor:
        """Codes ``clip(round_half_even(float64(x) / float64(s)))`` (irq.fixedpoint's rule), as int64 or, with
        `dtype` float32, as the same integers in float32 (exact for int8 and int16 codes: a conv's float route
        then skips an int64 copy). In place on one float64 copy of `x`: VALIDATION's time is these passes
        over large tensors (MobileNetV2 at batch 16: 89% of it was element-wise, 11% convolution)."""
        s = self._view(self.scale.detach().double(), x)
        t = x.detach().to(torch.float64, copy=True)
        t.div_(s).round_().clamp_(self.qmin, self.qmax)
        return t.to(dtype)

    def _float32_exact(self) -> bool:
        """Whether float32 arithmetic gives `dequantize`'s float64 result: codes below 2**24 are exact in
        float32, and a float32 product of two exact operands is the exact product rounded once to float32,
        which is what rounding float64's exact product (at most 16 + 24 bits) to float32 gives."""
        return self.scale.dtype == torch.float32 and self.storage in ("i8", "i16")

    def dequantize(self, q: Tensor) -> Tensor:
        """float32(float64(q) * float64(s)), as `bpu.dequantize` computes."""
        if self._float32_exact():
            return q.to(torch.float32, copy=True).mul_(self._view(self.scale.detach(), q))
        s = self._view(self.scale.detach().double(), q)
        return (q.double() * s).float()

    def quantize_exact(self, x: Tensor) -> Tensor:
        if self._float32_exact():
            return self.codes(x, torch.float32).mul_(self._view(self.scale.detach(), x))
        return self.dequantize(self.codes(x))
