"""Bias correction: cancel the mean output shift that weight rounding (and earlier layers) leave.

    qat_model = irq.prepare(model, (x,), qconfig=irq.qconfig.default_calib_8bit)
    irq.workflow.calibrate(qat_model, batches)
    report = irq.quant.bias_correction(qat_model, batches)   # still in VALIDATION; convert as usual

Rounding a layer's weights is not noise of mean zero per output channel: for a given channel the
rounding errors sum to a fixed ``dW``, and its output moves by ``dW @ E[x]`` on average, a shift
that the next layers amplify (depthwise convs, whose few weights per channel round coarsely, are the
worst). Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction"
(ICCV 2019), section 4.2, correct it by subtracting the expected error from the bias; with calibration
data the expectation is measured instead of derived from batch-norm statistics (their "empirical"
variant):

    b <- b + E[ W x_float ] - E[ Q(W) x_quantized ]      (per output channel, mean over samples and positions)

taken before the layer's fused activation, with the residual of a fused add on each side. Layers are
corrected in execution order and each one's quantized input comes from the model with every earlier
correction in place, so the shift accumulated before a layer is corrected too (the paper's section
4.2 corrects weight rounding only; measured on the same samples, this also removes the activation
rounding's bias).

Only channels whose shift is `z` (default 3) standard errors from zero over the samples are corrected:
with a few dozen samples, a classifier's or a late 7x7 layer's per-channel mean is mostly the noise of
those samples (see `_significant`). `z=0` corrects every channel, the paper's rule.

How it reaches the deployed program: the shift is added to a float parameter -- the batch norm's
``bias`` (beta) when one is folded into the layer (the folded bias is ``... + beta``, so the shift is
exact), else the layer's own bias. VALIDATION, irq.freeze and lower-bpu quantize that bias as before
(int32 at the accumulator's scale), so deployed == VALIDATION still holds bit for bit. Layers with no
bias and no batch norm are skipped and listed. The weights and their scales are not touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from irq.quant.adaround import (
    _channel,
    _check_calibrated,
    _folded,
    _key,
    _Layer,
    _LayerFunction,
    _layers,
    _parameters,
    _replay,
)


@dataclass
class BiasCorrectionReport:
    #: owner -> (mean |output shift| per channel before, after), on the calibration samples
    layers: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: owners not corrected, with the reason
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"bias correction: {len(self.layers)} layers, {len(self.skipped)} skipped"]
        lines += [f"  {o:32s} mean |shift| {b:.3g} -> {a:.3g}" for o, (b, a) in self.layers.items()]
        lines += [f"  skipped {o}: {why}" for o, why in self.skipped.items()]
        return "\n".join(lines)


def _sample_means(fn: _LayerFunction, w: Tensor, n: int, chunk: int = 8) -> Tensor:
    """Mean pre-activation output per sample and channel ([n, C]) over every position."""
    out = []
    with torch.no_grad():
        for i in range(0, n, chunk):
            idx = torch.arange(i, min(i + chunk, n))
            y = fn(w, idx, None).double()
            out.append(y.mean(dim=list(range(2, y.dim()))) if y.dim() > 2 else y)
    return torch.cat(out)


def _significant(d: Tensor, z: float) -> Tensor:
    """The mean of the per-sample shifts `d` ([n, C]) where it is `z` standard errors from 0, else 0.

    A channel's shift is estimated from a few dozen samples; where it varies from sample to sample more
    than its mean (a classifier's logits, a 7x7 map late in the network) the estimate is mostly noise of
    these samples, and adding it to the bias moves new inputs off by that noise (on a 0.25-width
    MobileNetV2 with 32 samples, correcting every channel halved the calibration samples' mean error and
    raised it by 40% on others)."""
    mean = d.mean(0)
    if len(d) < 2 or z <= 0:
        return mean
    stderr = d.std(0) / len(d) ** 0.5
    return torch.where(mean.abs() > z * stderr, mean, torch.zeros_like(mean))


def _has_bn(layer: _Layer) -> bool:
    return _key(getattr(layer.op, "bn_mean", None)) is not None


def _carrier_key(layer: _Layer) -> str | None:
    """The parameter the correction is added to: the folded batch norm's beta, else the layer's bias."""
    return _key(layer.op.bn_bias) if _has_bn(layer) else _key(layer.op.bias)


def _unfit(layer: _Layer) -> str | None:
    """Why `layer` cannot carry a correction, or None."""
    if _carrier_key(layer) is None:
        return "no bias and no folded batch norm to carry the correction"
    if _has_bn(layer) and _key(getattr(layer.op, "bn_weight", None)) is None:
        return "batch norm without affine parameters"
    return None


class _Captures:
    """Each layer's quantized and float inputs from one paused forward of each model (SteppedForward, as
    AdaRound's `_OnePass`): the quantized forward stops before the first node that reads the layer's weight
    or the parameter its correction goes into, so every earlier correction is in place when a later layer's
    inputs are computed; the float model never changes. It replaced a forward per layer and model (the
    cost grew with the square of the depth: 60 s for MobileNetV2's 17 depthwise convs on 32 crops)."""

    def __init__(self, qat_model: nn.Module, reference: nn.Module, layers: list[_Layer], batches: Sequence[Any]):
        from irq.quant.adaround_capture import SteppedForward
        self.layers = layers
        reads = {p for layer in layers for p in (layer.input_path, layer.residual_path) if p is not None}
        self.quantized = SteppedForward(qat_model, batches, "qat", outputs=reads)
        self.float = SteppedForward(reference, batches, "float", outputs=reads)

    def _advance(self, run, layer: _Layer) -> None:
        keys = [k for k in (_key(layer.op.weight), _carrier_key(layer)) if k is not None]
        stop = min(run.index_of_first_use(k) for k in keys)
        if stop < run.position:
            raise RuntimeError(f"bias_correction: {layer.owner} is computed before a layer that precedes it; "
                               "this is a bug")
        run.advance(stop)

    def captured(self, layer: _Layer) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """({"x", "residual"?} quantized, the same float) inputs of `layer`, the next one in order."""
        out = []
        later = self.layers[self.layers.index(layer) + 1:]
        keep = {p for lay in later for p in (lay.input_path, lay.residual_path) if p is not None}
        for run in (self.quantized, self.float):
            self._advance(run, layer)
            got = {"x": run.output(layer.input_path)}
            if layer.residual_path is not None and layer.residual_path != layer.input_path:
                got["residual"] = run.output(layer.residual_path)
            run.forget(keep)
            out.append(got)
        return out[0], out[1]


def _correct_layer(qat_model: nn.Module, reference: nn.Module, layer: _Layer, quantized: dict[str, Tensor],
                   floats: dict[str, Tensor], z: float) -> tuple[float, float]:
    p = _parameters(qat_model, layer.op)
    target = p["bn_bias"] if p["bn_mean"] is not None else p["bias"]
    pre_activation = replace(layer, options={**layer.options, "activation": None})

    def function(model: nn.Module, captured: dict[str, Tensor]) -> tuple[_LayerFunction, Tensor]:
        w_np, b_np = _folded(layer.op, _parameters(model, layer.op))
        w = torch.from_numpy(np.ascontiguousarray(w_np)).float()
        bias = None if b_np is None else torch.from_numpy(np.ascontiguousarray(b_np)).float()
        pm = _parameters(model, layer.op)
        if b_np is None and pm["bias"] is not None:
            bias = pm["bias"].detach().float()
        # a layer whose input is also its residual (y = relu(conv(x) + x)) reads one quantizer twice
        residual = captured.get("residual", captured["x"] if layer.residual_path == layer.input_path else None)
        if residual is not None:
            residual = _replay(residual, layer.residual_chain)
        return _LayerFunction(pre_activation, _replay(captured["x"], layer.input_chain), bias, residual), w

    fn_float, w_float = function(reference, floats)
    fn_quant, w = function(qat_model, quantized)
    fq = layer.weight_fq
    with torch.no_grad():
        if fq.follows_tensor:
            fq.observe(w)
        s = _channel(fq.scale.detach().double(), w)
        w_quant = (torch.clamp(torch.round(w.double() / s), fq.qmin, fq.qmax) * s).float()
    n = len(quantized["x"])
    per_sample = _sample_means(fn_float, w_float, n) - _sample_means(fn_quant, w_quant, n)
    shift = _significant(per_sample, z)
    # with a folded batch norm the bias is (b - mean) * gamma / sqrt(var + eps) + beta: beta carries the
    # shift one to one
    with torch.no_grad():
        target.add_(shift.to(target.dtype))
    fn_corrected, _ = function(qat_model, quantized)
    after = (_sample_means(fn_float, w_float, n) - _sample_means(fn_corrected, w_quant, n)).mean(0)
    return float(per_sample.mean(0).abs().mean()), float(after.abs().mean())


def bias_correction(qat_model: nn.Module, batches: Sequence[Any], *, owners: Sequence[str] | None = None,
                    z: float = 3.0, reference: nn.Module | None = None) -> BiasCorrectionReport:
    """Correct the bias of every conv/linear of a calibrated prepared model (see the module docstring).

    batches: calibration inputs (tensors, or tuples of a forward's inputs), kept in memory per layer.
    owners: restrict to these. z: a channel is corrected only where its measured shift is `z` standard
    errors (over the samples) from zero (0: every channel, the paper's rule). Run it after calibration
    (and after irq.quant.adaround, whose rounding it
    then corrects). The model's quantization state and mode are as they were; its biases (or batch-norm
    betas) change in place.
    reference: the prepared model whose float forward is the target (default: a copy of `qat_model` as it is
    now). After AdaRound, pass a copy taken before it: AdaRound writes its rounded weights into the float
    parameters, so a copy taken after it has no weight-rounding shift left to see.
    """
    import copy
    if len(batches) == 0:
        raise ValueError("irq.quant.bias_correction needs at least one calibration batch")
    _check_calibrated(qat_model)
    layers, skipped = _layers(qat_model, owners)
    report = BiasCorrectionReport(skipped=dict(skipped))
    if reference is None:
        reference = copy.deepcopy(qat_model)  # the float model every layer is corrected towards
    fit = []
    for layer in layers:
        why = _unfit(layer)
        if why is None:
            fit.append(layer)
        else:
            report.skipped[layer.owner] = why
    captures = _Captures(qat_model, reference, fit, batches)
    for layer in fit:
        report.layers[layer.owner] = _correct_layer(qat_model, reference, layer, *captures.captured(layer), z)
    return report


__all__ = ["BiasCorrectionReport", "bias_correction"]
