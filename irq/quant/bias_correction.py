"""Empirical bias correction: undo the mean shift quantization adds to each conv/linear output.

Rounding a layer's weights (and its inputs) changes the *mean* of its output channels, not only
their noise: `E[W_q x_q] != E[W x]`. A shifted mean passes through every later layer (a relu
cannot average it away) and is the main post-training loss of depthwise-separable networks
(Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction", ICCV 2019,
section 4.2; torch.ao's `_correct_bias` and AIMET's empirical bias correction do the same). The fix
is data driven: per output channel, `delta = E[y_float] - E[y_quantized]` over calibration data,
added to the layer's bias, so the quantized layer's output mean matches float again.

Here y is what the owner's output quantizer receives: the fused op's float result computed from
quantized inputs and quantized weights (after its fused relu/relu6, as torch.ao measures it); the
delta goes into the float bias the chip's bias code is made from, the batch norm's beta when the
batch norm is fused (the folded bias is `beta + (b - mean) * gamma / std`, so beta + delta moves it
by exactly delta), else the conv/linear bias. A layer with neither is left alone and reported.

Every layer is corrected from the same forward pass, and `passes` repeats it: a layer's measured
shift includes what it inherits from its producers, so the second pass removes the over-correction
the first made downstream of a corrected layer (2 passes are within noise of correcting one layer
at a time, at 2 forwards instead of one per layer). The correction changes float parameters only;
scales keep their calibrated values, so deployed == VALIDATION holds as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from irq.quant.fake_quantize import FakeQuantize
from irq.quant.state import fake_quant_modules

_WEIGHTED = frozenset({"hl.conv2d", "hl.conv1d", "hl.linear", "hl.conv_transpose2d"})


@dataclass
class BiasCorrectionReport:
    """What was corrected: owner -> the parameter changed; `skipped`: owners with no bias to move."""

    corrected: dict[str, str]
    skipped: list[str]
    #: owner -> max |delta| added over all passes (how much each layer's mean had moved)
    max_shift: dict[str, float]


def _attr(op, name: str) -> Any:
    a = op.get_attr(name)
    return None if a is None else (a.to_python() if hasattr(a, "to_python") else a)


def bias_targets(qat_model: nn.Module) -> tuple[dict[str, str], list[str]]:
    """owner -> the state_dict key of the float bias its correction goes into, and the owners without one."""
    from irq.quant.prepare import ir_of
    params = dict(qat_model.named_parameters())
    targets: dict[str, str] = {}
    skipped: list[str] = []
    for op in ir_of(qat_model).walk():
        if op.name not in _WEIGHTED:
            continue
        owner = _attr(op, "owner")
        bn_owner = _attr(op, "bn_owner")
        for key in ((f"{bn_owner}.bias",) if bn_owner else ()) + (f"{owner}.bias",):
            if key in params:
                targets[owner] = key
                break
        else:
            skipped.append(owner)
    return targets, skipped


def _as_args(batch: Any) -> tuple:
    return batch if isinstance(batch, tuple) else tuple(batch) if isinstance(batch, list) else (batch,)


def _channel_means(qat_model: nn.Module, batches: Sequence[Any], quantizers: dict[str, FakeQuantize],
                   mode: str) -> dict[str, Tensor]:
    """owner -> per-channel mean (axis 1, or the last axis of a 2-D output) of its output quantizer's input."""
    from irq.debug.capture import preserved, set_modes
    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}
    seen: set[str] = set()

    def hook(fq: FakeQuantize, args: tuple) -> None:
        if fq.owner in seen:  # a quantizer shared by data movement runs again on the same values' copies
            return
        seen.add(fq.owner)
        x = args[0].detach().double()
        flat = x.transpose(0, 1).reshape(x.shape[1], -1) if x.dim() > 1 else x.reshape(1, -1)
        s = flat.sum(dim=1)
        sums[fq.owner] = sums[fq.owner] + s if fq.owner in sums else s
        counts[fq.owner] = counts.get(fq.owner, 0) + flat.shape[1]

    with preserved(qat_model):
        set_modes(qat_model, lambda fq: mode)
        handles = [fq.register_forward_pre_hook(hook) for fq in quantizers.values()]
        try:
            with torch.no_grad():
                for batch in batches:
                    seen.clear()
                    qat_model(*_as_args(batch))
        finally:
            for h in handles:
                h.remove()
    return {o: sums[o] / counts[o] for o in sums}


def _concat(batches: Sequence[Any]) -> tuple:
    """All batches as one forward's arguments (concatenated along the batch dimension)."""
    args = [_as_args(b) for b in batches]
    return tuple(torch.cat([a[i] for a in args]) if isinstance(args[0][i], Tensor) else args[0][i]
                 for i in range(len(args[0])))


def bias_correction(qat_model: nn.Module, batches: Sequence[Any], *, passes: int = 1) -> BiasCorrectionReport:
    """Correct the biases of a *calibrated* prepared model in place (see the module docstring).

    batches: calibration inputs (tensors, or tuples of a forward's inputs), the same kind of data the
    model was calibrated on; they run as one batch, so keep them to what fits in memory (16-32 images).
    The model's quantization state (states, scales, statistics) is left as found.
    """
    from irq.debug.capture import preserved, set_modes
    if passes < 1:
        raise ValueError(f"bias_correction: passes must be >= 1, got {passes}")
    if len(batches) == 0:
        raise ValueError("bias_correction needs at least one batch")
    targets, skipped = bias_targets(qat_model)
    quantizers = {fq.owner: fq for fq in fake_quant_modules(qat_model)
                  if fq.slot == "out" and fq.owner in targets}
    unobserved = [fq.path for fq in fake_quant_modules(qat_model)
                  if not fq.is_marker and fq.observer is not None and int(fq.observed) == 0]
    if unobserved:
        raise ValueError(f"bias_correction: calibrate first; these quantizers saw no data: {', '.join(unobserved[:5])}")
    params = dict(qat_model.named_parameters())
    args = _concat(batches)
    float_means = _channel_means(qat_model, [args], quantizers, "float")
    max_shift: dict[str, float] = {o: 0.0 for o in float_means}
    done: set[str] = set()

    def correct(fq: FakeQuantize, hook_args: tuple) -> tuple | None:
        # sequential in one forward: this layer's shift is measured with every earlier layer already
        # corrected (the values reaching it carry their corrections), then removed from the values
        # passed on, so later layers measure only their own shift
        if fq.owner in done or fq.owner not in float_means:
            return None
        done.add(fq.owner)
        x = hook_args[0]
        flat = x.detach().double().transpose(0, 1).reshape(x.shape[1], -1) if x.dim() > 1 else x.reshape(1, -1)
        delta = float_means[fq.owner] - flat.mean(dim=1)
        bias = params[targets[fq.owner]]
        if delta.shape != bias.shape:
            raise ValueError(f"bias_correction: {fq.owner}'s output has {delta.numel()} channels but "
                             f"{targets[fq.owner]} has {bias.numel()}")
        bias.add_(delta.to(bias.dtype))
        max_shift[fq.owner] = max(max_shift[fq.owner], float(delta.abs().max()))
        shape = [1] * x.dim()
        if x.dim() > 1:
            shape[1] = -1
        return (x + delta.to(x.dtype).reshape(shape),) + tuple(hook_args[1:])

    for _ in range(passes):
        done.clear()
        with preserved(qat_model):
            set_modes(qat_model, lambda fq: "qat")
            handles = [fq.register_forward_pre_hook(correct) for fq in quantizers.values()]
            try:
                with torch.no_grad():
                    qat_model(*args)
            finally:
                for h in handles:
                    h.remove()
    return BiasCorrectionReport(corrected={o: targets[o] for o in float_means},
                                skipped=skipped + sorted(set(targets) - set(float_means)), max_shift=max_shift)


__all__ = ["BiasCorrectionReport", "bias_correction", "bias_targets"]
