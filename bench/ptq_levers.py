"""Measure accurate_ptq's levers one at a time on MobileNetV2: one lever per process, one JSON line each.

    python bench/ptq_levers.py LEVER [--eval 256] [--deployed N] [--out bench/out/levers.jsonl]

Each run builds the recipe with one change (or a combination) from the current default, evaluates
int8 VALIDATION (== deployed) against fp32 on the fixed evaluation crops (bench/imagenet_crops.py) and
appends {lever, agreement@128, agreement@256, cosine@256, recipe CPU seconds} to --out. Levers run in
separate processes so two can share the 2 cores (one thread each).

`--deployed N` evaluates the converted program on the numba runtime instead, after checking that it
equals VALIDATION bit for bit on the first N crops (an error otherwise): the same numbers, since deployed
== VALIDATION, but VALIDATION's exact integer emulation took ~40 of a lever's ~50 minutes on 256 crops
under load 20, and the numba runtime runs MobileNetV2 in milliseconds per crop.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import irq  # noqa: E402
from bench.imagenet_crops import calibration_crops, evaluation_crops  # noqa: E402

LEVERS: dict[str, dict] = {
    "base": {},
    "calib64": {"n_calib": 64},
    "calib128": {"n_calib": 128},
    "adaround200": {"adaround_iters": 200},
    "biascorr": {"bias_correction": True},
    "biascorr_z0": {"bias_correction": True, "bias_correction_z": 0.0},
    "biascorr_dw": {"bias_correction": True, "depthwise_only": True},
    "ada_dw": {"adaround_depthwise_only": True},
    "percentile": {"observer": "percentile"},
    "int16x8": {"int16_budget": 8},
    "int16x12": {"int16_budget": 12},
    "int16x16": {"int16_budget": 16},
    "int16x14": {"int16_budget": 14},
    "int16x24": {"int16_budget": 24},
    "int16all": {"int16_budget": 10_000},
    "noada": {"adaround_iters": 0},
    "rank8": {"n_sensitivity": 8},
    "adaround100": {"adaround_iters": 100},
    "blocks": {"adaround_blocks": True},
    "threads2": {"threads": 2},
}


def build(model, lever: dict):
    options = dict(lever)
    n_calib = options.pop("n_calib", 32)
    observer = options.pop("observer", None)
    n_sensitivity = options.pop("n_sensitivity", 2)
    depthwise = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    if options.pop("adaround_depthwise_only", False):
        options["adaround_owners"] = depthwise
    if options.pop("depthwise_only", False):  # bias correction of the depthwise convs only
        options["bias_correction_owners"] = [n for n, m in model.named_modules()
                                             if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    calib = calibration_crops(n_calib)
    base = irq.qconfig.default_calib_8bit
    if observer is not None:
        base = irq.qconfig.QConfig(irq.qconfig.QuantizerSpec("qint8", observer), base.weight, f"calib_{observer}")
    qconfig = {"": base, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
    qat, report = irq.quant.accurate_ptq(model, (calib[:1],), list(calib.split(8)), qconfig=qconfig,
                                         sensitivity_inputs=calib[:n_sensitivity], **options)
    return qat, report


def deployed(qat, march: str, evals: torch.Tensor, checked: int) -> torch.Tensor:
    """The converted program's outputs on the numba runtime, after asserting they equal VALIDATION's on the
    first `checked` crops bit for bit."""
    import numpy as np
    from irq.runtime import numba as numba_runtime
    run = numba_runtime.compile(irq.convert(qat, march=march))

    def outputs(x: torch.Tensor) -> torch.Tensor:
        got = run(x.numpy())
        return torch.from_numpy(np.asarray(got[0] if isinstance(got, (list, tuple)) else got))
    out = torch.cat([outputs(b) for b in evals.split(16)])
    with torch.no_grad():
        want = torch.cat([qat(b) for b in evals[:checked].split(16)])
    if not torch.equal(out[:checked], want):
        raise SystemExit(f"deployed != VALIDATION on the first {checked} crops: the figures would not be the deployed "
                         "program's")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lever", nargs="+", help=f"one or more of {', '.join(LEVERS)} (combined)")
    ap.add_argument("--eval", type=int, default=256)
    ap.add_argument("--out", default="bench/out/levers.jsonl")
    ap.add_argument("--deployed", type=int, default=0, metavar="N",
                    help="evaluate on the numba runtime, checked equal to VALIDATION on the first N crops")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from tests.models import mobilenet_v2
    model = mobilenet_v2.pretrained().eval()
    lever: dict = {}
    for name in args.lever:
        lever.update(LEVERS[name])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    qat, report = build(model, lever)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    evals = evaluation_crops(args.eval)
    with torch.no_grad():
        ref = torch.cat([model(b) for b in evals.split(16)])
        out = deployed(qat, report.march, evals, args.deployed) if args.deployed else \
            torch.cat([qat(b) for b in evals.split(16)])
    hit = (ref.argmax(1) == out.argmax(1)).float()
    cos = F.cosine_similarity(ref.double(), out.double(), dim=1)
    row = {"lever": "+".join(args.lever), "agree128": hit[:128].mean().item(), "agree": hit.mean().item(),
           "n_eval": len(evals), "cos128": cos[:128].mean().item(), "cos": cos.mean().item(),
           "recipe_cpu_s": cpu, "recipe_wall_s": wall, "deployed_checked": args.deployed, "stages": report.seconds,
           "int16": report.int16_owners, "misses": (hit == 0).nonzero().flatten().tolist()}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
