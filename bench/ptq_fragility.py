"""How much logit error MobileNetV2's top-1 agreement on the bench crops tolerates, and where int8 weights put it.

    python bench/ptq_fragility.py [--eval 512] [--calib 32]

Plain torch, float activations throughout, on the fixed evaluation crops of bench/imagenet_crops.py (the
crops bench/ptq_accuracy.py, bench/ptq_levers.py and the demo measure on). It prints:

1. the float model's top-1 margin (largest logit minus the second) quantiles: how many crops are near-ties;
2. top-1 agreement when i.i.d. Gaussian noise of a given relative size is added to the float logits (mean
   and range over 8 draws), next to the mean logit cosine that noise gives: the agreement a quantized model
   with that cosine can expect when its error has no structure;
3. weights-only int8 (per-channel symmetric, nearest rounding, the chip's grid) on each kind of layer alone
   (depthwise 3x3, pointwise 1x1, the first conv, the classifier) and on all of them, and the depthwise
   layers again with their mean output shift moved into the bias (Nagel et al. 2019, section 4.2, measured
   on the calibration crops: ``b += E[conv(x, W - Q(W))]``).

Why: irq's recipes are judged on top-1 agreement with float on these crops, and the script shows what that
number can and cannot say (docs/design.md, "Post-training recipes").
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.imagenet_crops import calibration_crops, evaluation_crops  # noqa: E402


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(b) for b in x.split(32)])


def agreement(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """(top-1 agreement, mean logit cosine) of `out` against `ref`."""
    return (float((out.argmax(1) == ref.argmax(1)).float().mean()),
            float(F.cosine_similarity(out, ref, dim=1).mean()))


def int8_per_channel(w: torch.Tensor) -> torch.Tensor:
    """Nearest rounding to the symmetric per-output-channel int8 grid (scale = absmax / 127)."""
    s = w.abs().flatten(1).amax(1).clamp_min(1e-12) / 127
    s = s.view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(torch.round(w / s), -128, 127) * s


def weights_int8(model: nn.Module, pick, calib: torch.Tensor | None = None) -> nn.Module:
    """A copy of `model` whose picked convs/linears hold int8-grid weights; with `calib`, each picked layer's
    mean output shift on those inputs goes into its bias."""
    q = copy.deepcopy(model)
    layers = [(n, m) for n, m in q.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and pick(n, m)]
    inputs: dict[str, list[torch.Tensor]] = {}
    if calib is not None:
        hooks = [m.register_forward_hook(lambda m, a, o, n=n: inputs.setdefault(n, []).append(a[0]))
                 for n, m in layers]
        logits(q, calib)
        for h in hooks:
            h.remove()
    for n, m in layers:
        w = m.weight.data
        wq = int8_per_channel(w)
        if calib is not None:
            x = torch.cat(inputs[n])
            with torch.no_grad():
                if isinstance(m, nn.Conv2d):
                    shift = F.conv2d(x, w - wq, None, m.stride, m.padding, m.dilation, m.groups).mean((0, 2, 3))
                else:
                    shift = F.linear(x, w - wq).mean(0)
            if m.bias is None:
                m.bias = nn.Parameter(shift)
            else:
                m.bias.data += shift
        m.weight.data = wq
    return q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval", type=int, default=512)
    ap.add_argument("--calib", type=int, default=32)
    args = ap.parse_args()
    from tests.models import mobilenet_v2

    torch.manual_seed(0)
    model = mobilenet_v2.pretrained().eval()
    x, calib = evaluation_crops(args.eval), calibration_crops(args.calib)
    ref = logits(model, x)
    top2 = ref.topk(2, dim=1).values
    margin = top2[:, 0] - top2[:, 1]
    qs = torch.tensor([0.05, 0.1, 0.2, 0.5])
    print(f"MobileNetV2 on {args.eval} evaluation crops; float top-1 margin quantiles "
          + ", ".join(f"{float(q):.0%}: {float(v):.3f}" for q, v in zip(qs, torch.quantile(margin, qs))))
    draws = 8
    print(f"\ni.i.d. noise on the float logits (relative to their RMS), {draws} draws each: agreement mean "
          "(min-max), cosine")
    gen = torch.Generator().manual_seed(0)
    rms = ref.pow(2).mean(1, keepdim=True).sqrt()
    for rel in (0.03, 0.05, 0.07, 0.08, 0.095, 0.11, 0.12):
        got = [agreement(ref + torch.randn(ref.shape, generator=gen) * rms * rel, ref) for _ in range(draws)]
        a = torch.tensor([g[0] for g in got])
        c = sum(g[1] for g in got) / draws
        print(f"  {rel:5.3f}: agreement {float(a.mean()):.3f} ({float(a.min()):.3f}-{float(a.max()):.3f}), "
              f"cosine {c:.5f}")
    print("\nweights-only int8 (per-channel, nearest), float activations: agreement, cosine")
    kinds = {
        "depthwise": lambda n, m: isinstance(m, nn.Conv2d) and m.groups > 1,
        "pointwise 1x1": lambda n, m: isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size == (1, 1),
        "first conv": lambda n, m: isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size != (1, 1),
        "classifier": lambda n, m: isinstance(m, nn.Linear),
        "all": lambda n, m: True,
    }
    for name, pick in kinds.items():
        a, c = agreement(logits(weights_int8(model, pick), x), ref)
        print(f"  {name:14s} agreement {a:.3f}, cosine {c:.5f}")
    a, c = agreement(logits(weights_int8(model, kinds["depthwise"], calib), x), ref)
    print(f"  {'depthwise, mean shift into the bias':14s}: agreement {a:.3f}, cosine {c:.5f}")


if __name__ == "__main__":
    main()
