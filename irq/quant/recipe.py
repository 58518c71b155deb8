"""The accurate post-training recipe in one call: every step that measurably helps, in the right order.

    qat_model, report = irq.quant.accurate_ptq(model, (x,), calibration_batches)
    program = irq.convert(qat_model, march=report.march)

`irq.prepare` + calibration is the plain recipe; on MobileNetV2 with ImageNet weights it keeps the
float top-1 on three crops in four. Each step below removes one measured cause of the rest (the
figures are in docs/design.md, "Post-training recipes"):

1. cross-layer equalization (irq.quant.cross_layer_equalize, relu6 "clamp"), on a copy of the float
   model: evens out per-channel weight ranges before any grid is chosen;
2. mixed precision (irq.quant.mixed_precision): int16 outputs for the `int16_budget` owners that cost
   most in int8, ranked on the equalized model (march nash, whose convs read int16);
3. calibration of the resulting prepared model (the qconfig's observers, MSE by default);
4. AdaRound (irq.quant.adaround): learned weight rounding, layer by layer;
5. optionally, bias correction (irq.quant.bias_correction): cancels the mean output shift that is left
   on the calibration samples. Off by default: on MobileNetV2 after steps 1-4 it lowered the measured
   agreement (docs/design.md has the figures);
6. optionally, distillation (irq.workflow.distill): a few epochs of fake-quantized fine-tuning against
   the float model's logits on unlabeled inputs, the horizon flow's "calibration then QAT" without labels.

Every step changes float parameters or the qconfig only, so the returned model is an ordinary prepared
model in VALIDATION: irq.convert gives a program equal to it bit for bit.

The recipe runs on one torch thread by default (`threads=1`), whatever the caller set: torch splits a
large convolution's sums (and its weight gradients) differently on 1 and 2 threads, so the float
activations differ in their last bits (MobileNetV2's logits by ~6e-6), the MSE observers and AdaRound's
Adam steps see different numbers, and the learned rounding differs. Measured: the same 128 crops gave
top-1 agreement 0.898 in bench/ptq_levers.py (1 thread) and 0.883 in the demo (2 threads). A fixed
thread count makes the program a function of the model and the calibration data only; the two-core
speed-up it gives up is small under load (OpenMP threads wait for each other when the cores are shared).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from irq.qconfig import QConfig, QConfigRules
from irq.quant.threads import torch_threads


@dataclass
class RecipeReport:
    march: str
    #: owners given int16 outputs (most sensitive first)
    int16_owners: list[str] = field(default_factory=list)
    equalization: Any = None
    adaround: Any = None
    bias_correction: Any = None
    #: mean distillation loss per epoch (empty: not run)
    distill_losses: list[float] = field(default_factory=list)
    #: stage -> wall seconds
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        lines = [f"accurate_ptq on march {self.march}: {steps}"]
        if self.int16_owners:
            lines.append(f"  int16 outputs: {', '.join(self.int16_owners)}")
        if self.distill_losses:
            lines.append("  distillation loss per epoch: " + ", ".join(f"{v:.4f}" for v in self.distill_losses))
        return "\n".join(lines)


def _stacked(batches: Sequence[Any]) -> Any:
    if all(isinstance(b, torch.Tensor) for b in batches):
        return [torch.cat(list(batches))]
    return list(batches)


def accurate_ptq(model: nn.Module, example_inputs: Any, calibration_batches: Sequence[Any], *,
                 qconfig: QConfig | QConfigRules | dict | str | None = None, march: str = "nash",
                 int16_budget: int = 16, int16_ranking: str = "int8", cle: bool = True, adaround_iters: int = 50,
                 adaround_blocks: bool = False, bias_correction: bool = False, bias_correction_z: float = 3.0,
                 bias_correction_owners: Sequence[str] | None = None, adaround_owners: Sequence[str] | None = None,
                 distill_inputs: torch.Tensor | None = None, distill_epochs: int = 0, distill_lr: float = 1e-5,
                 sensitivity_inputs: Any = None, threads: int | None = 1,
                 progress: bool = False) -> tuple[nn.Module, RecipeReport]:
    """Quantize `model` with the recipe of the module docstring; returns (prepared model in VALIDATION, report).

    qconfig: the int8 base (default: default_calib_8bit everywhere); int16_budget: how many owners get
    int16 outputs (0: none; march must run int16 inputs for the chosen readers, as nash does);
    int16_ranking: how mixed_precision ranks them, "int8" (the cost of each owner quantized alone) or
    "int16" (the output cosine each owner's int16 output gains over all-int8; measured worse on
    MobileNetV2, docs/design.md);
    adaround_iters: AdaRound steps per layer (0: nearest rounding); adaround_blocks: AdaRound reconstructs
    each block's output (BRECQ, irq.quant.adaround's `blocks`) rather than each layer's;
    distill_inputs / distill_epochs / distill_lr: the optional distillation (single-input classifiers:
    the logits are the teacher's).
    threads: torch threads the recipe runs on (module docstring: the result depends on the count; None
    keeps the caller's). `model` itself is not changed.
    bias_correction_z / bias_correction_owners: irq.quant.bias_correction's `z` and `owners`;
    adaround_owners: restrict AdaRound to these owners (the rest keep nearest rounding).
    int16_budget 16 (24 and before that 12 until 2026-12-03): on MobileNetV2, the fixed crop sets of
    bench/imagenet_crops.py, one thread, 512 crops: 8 owners 0.904 top-1 agreement / 0.99410 logit cosine,
    12 0.924 / 0.99468, 16 0.922 / 0.99533, 24 0.920 / 0.99565; deployed one-image latency in turns with
    torch.ao int8: 0.81x (12), 0.85x (16), 0.93x (24). These are the figures since the int16 bound reads
    each reader's own weight codes (irq.quant.mixed_precision): before, MobileNetV2's last projections
    (K 576 and 960) could not read int16, and 24 owners reached only 0.904 / 0.99344. On these crops
    agreement follows the cosine (bench/ptq_fragility.py: 0.90 needs about 0.994). 64 calibration crops,
    percentile observers, bias correction, an 8-crop ranking and AdaRound 100 or 200 steps measured no
    better (docs/design.md, bench/ptq_levers.py).
    """
    if len(calibration_batches) == 0:
        raise ValueError("accurate_ptq needs at least one calibration batch")
    from irq.qconfig import as_rules, default_calib_8bit
    from irq.quant.adaround import adaround
    from irq.quant.bias_correction import bias_correction as correct_biases
    from irq.quant.equalize import cross_layer_equalize
    from irq.quant.mixed_precision import mixed_precision
    from irq.quant.prepare import prepare
    from irq.workflow import calibrate, distill

    report = RecipeReport(march)
    rules = as_rules(qconfig if qconfig is not None else default_calib_8bit)
    float_model = copy.deepcopy(model).eval()

    def timed(stage: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        report.seconds[stage] = time.perf_counter() - t0
        return out

    with torch_threads(threads):  # module docstring: the result depends on the thread count
        if cle:
            report.equalization = timed("equalization", cross_layer_equalize, float_model, example_inputs,
                                        relu6="clamp", batches=_stacked(calibration_batches))
        if int16_budget > 0:
            plan = timed("mixed precision", mixed_precision, float_model, example_inputs, calibration_batches,
                         budget=int16_budget, qconfig=rules, march=march, sensitivity_inputs=sensitivity_inputs,
                         ranking=int16_ranking)
            rules, report.int16_owners = plan.rules, list(plan.int16_owners)
        qat = prepare(float_model, example_inputs, qconfig=rules, march=march, check_model=False)
        timed("calibration", calibrate, qat, calibration_batches, progress=progress)
        # bias correction's float target: the weights before AdaRound moves them onto the grid in place (a
        # copy taken after it would see no weight-rounding shift at all)
        unrounded = copy.deepcopy(qat) if bias_correction else None
        if adaround_iters > 0:
            report.adaround = timed("adaround", adaround, qat, calibration_batches, iters=adaround_iters,
                                    blocks=adaround_blocks, progress=progress, owners=adaround_owners)
        if bias_correction:
            report.bias_correction = timed("bias correction", correct_biases, qat, calibration_batches,
                                           reference=unrounded, z=bias_correction_z, owners=bias_correction_owners)
        if distill_epochs > 0:
            if distill_inputs is None:
                raise ValueError("accurate_ptq: distill_epochs > 0 needs distill_inputs (unlabeled inputs)")
            report.distill_losses = timed("distillation", distill, qat, model.eval(), distill_inputs,
                                          epochs=distill_epochs, lr=distill_lr, progress=progress)
    return qat, report


__all__ = ["RecipeReport", "accurate_ptq", "torch_threads"]
