"""Reference runtime speed on MobileNetV2 (224x224, one image), next to torch fp32 eager in the same run.

    python bench/reference_runtime.py [--repeat 3] [--size 224]

The reference runtime is written for clarity (int64 numpy, one function per op), not speed: this prints
how far it is from a float framework, so the numba runtime's gain can be read against the same peer.
The model is frozen the way tests/test_lower_bpu_mobilenet.py does (shipped weights when installed,
else random ones).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from irq.runtime.reference import run  # noqa: E402
from support.naive_freeze import freeze_and_simulate  # noqa: E402

import irq  # noqa: E402
from tests.models import mobilenet_v2  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = (mobilenet_v2.pretrained() if mobilenet_v2.weights_path() else mobilenet_v2.MobileNetV2()).eval()
    x = torch.randn(1, 3, args.size, args.size)
    module = irq.import_torch(model, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    frozen, _, _ = freeze_and_simulate(module, x)
    t0 = time.perf_counter()
    program = irq.convert(frozen, march="bayes")
    t_convert = time.perf_counter() - t0
    xn = x.numpy()
    t_ref = best(lambda: run(program, xn), args.repeat)
    with torch.no_grad():
        t_torch = best(lambda: model(x), args.repeat)
    print(f"MobileNetV2 {args.size}x{args.size}, 1 thread for torch, best of {args.repeat}")
    print(f"  irq.convert (lower-bpu + verify):  {t_convert:.3f} s")
    print(f"  reference runtime (int64 numpy):   {t_ref:.3f} s")
    print(f"  torch fp32 eager:                  {t_torch:.3f} s")
    print(f"  ratio reference / torch:           {t_ref / t_torch:.1f}x")


if __name__ == "__main__":
    main()
