"""What AdaRound costs on MobileNetV2: one paused forward per model against a forward per layer, same run.

    python bench/adaround_cost.py [--calib 32] [--iters 50 200] [--skip-per-layer]

Builds accurate_ptq's model up to AdaRound (CLE, int16 x12 on nash, calibration; the fixed calibration crops
of bench/imagenet_crops.py), then runs irq.quant.adaround on copies of it, one torch thread, and prints the
process CPU seconds of each:

- "one pass": the default, every layer's inputs and float targets from one forward of the prepared model
  and one of its float copy, paused before each layer (irq.quant.adaround_capture);
- "per layer": the same rounding with each layer captured by its own forwards up to the layer (what
  adaround did before; still the path of block reconstruction, reached here through chains of one layer);
  its result is checked to be the same model, bit for bit;
- each at 0 steps (captures, the held-out check and the write-back only) and at every `--iters` (the
  per-layer captures at 0 and the first `--iters` only: they cost as much at any step count).

CPU time, not wall: the machine is shared (bench/_timing.py). The ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import irq  # noqa: E402
from bench.imagenet_crops import calibration_crops  # noqa: E402


def timed_adaround(qat, batches, iters: int, per_layer: bool) -> tuple[float, torch.nn.Module]:
    model = copy.deepcopy(qat)
    c0 = time.process_time()
    if per_layer:
        irq.quant.adaround(model, batches, iters=iters, blocks=True, max_block_layers=1)
    else:
        irq.quant.adaround(model, batches, iters=iters)
    return time.process_time() - c0, model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--iters", type=int, nargs="+", default=[50])
    ap.add_argument("--skip-per-layer", action="store_true", help="time the one-pass captures only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from tests.models import mobilenet_v2

    model = mobilenet_v2.pretrained().eval()
    calib = calibration_crops(args.calib)
    batches = list(calib.split(8))
    qconfig = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}
    qat, _ = irq.quant.accurate_ptq(
        model, (calib[:1],), batches, qconfig=qconfig, sensitivity_inputs=calib[:2], adaround_iters=0
    )
    print(f"MobileNetV2, {args.calib} calibration crops, one thread; AdaRound process CPU seconds")
    for i, iters in enumerate([0, *args.iters]):
        one, one_model = timed_adaround(qat, batches, iters, per_layer=False)
        line = f"  {iters:4d} steps per layer: one pass {one:7.1f} s"
        if not args.skip_per_layer and i < 2:
            per, per_model = timed_adaround(qat, batches, iters, per_layer=True)
            a, b = one_model.state_dict(), per_model.state_dict()
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            line += f"   per layer {per:7.1f} s   ratio {per / one:5.2f}x   same model: {same}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
