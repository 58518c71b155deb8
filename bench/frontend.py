"""Frontend speed: irq import (+ print) next to torch.fx.symbolic_trace and torch.export alone.

    python bench/frontend.py [--blocks 2000] [--skip-export] [--repeat 3]

Prints seconds and ops/s per stage for MobileNetV2 (224x224) and a synthetic
residual network of N conv-bn-relu-add blocks: irq's import, verification, the
float-level passes (functional-to-module, fuse) and printing, next to
torch.fx.symbolic_trace and torch.export in the same run. The issue's target: irq's
import plus passes within 2x the torch trace it starts from.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import irq  # noqa: E402
from tests.models.mobilenet_v2 import MobileNetV2  # noqa: E402


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x))) + x


def synthetic(blocks: int, c: int = 8) -> nn.Module:
    return nn.Sequential(*[ResBlock(c) for _ in range(blocks)]).eval()


def timed(fn: Callable[[], object]) -> tuple[tuple[float, float], object]:
    """((wall seconds, CPU seconds of this process), result)."""
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - t, time.process_time() - c), out


PASSES = ("functional-to-module", "fuse")


def count_ops(module) -> int:
    return sum(1 for op in module.walk() if op.dialect_name in ("torch", "hl"))


def run(name: str, model: nn.Module, x: torch.Tensor, skip_export: bool, repeat: int) -> None:
    """Each stage `repeat` times on a fresh import; the best time counts.

    Wall time and this process's CPU time are both reported: on a shared machine the
    wall clock also measures other processes, CPU time much less so.
    """
    print(f"\n{name}")
    best: dict[str, list[float]] = {}
    items: dict[str, int] = {}

    def record(label: str, t: tuple[float, float], n: int) -> None:
        old = best.get(label, [float("inf"), float("inf")])
        best[label] = [min(old[0], t[0]), min(old[1], t[1])]
        items[label] = n

    text = ""
    for _ in range(repeat):
        t, gm = timed(lambda: torch.fx.symbolic_trace(model))
        record("torch.fx.symbolic_trace", t, len(gm.graph.nodes))
        del gm
        t, module = timed(lambda: irq.import_torch(model, (x,), verify=False))
        n_ops = count_ops(module)
        record("irq.import_torch (fx)", t, n_ops)
        t, _ = timed(lambda m=module: irq.verify(m))
        record("irq.verify", t, n_ops)
        for pname in PASSES:
            # verification is its own row; no snapshot for failure recovery either
            pm = irq.PassManager.parse(f"builtin.module(func.func({pname}))", verify_each=False,
                                       restore_on_failure=False)
            t, _ = timed(lambda pm=pm, m=module: pm.run(m))
            record(pname, t, n_ops)
            n_ops = count_ops(module)
        t, text = timed(lambda m=module: irq.print_module(m))
        record("irq.print_module", t, n_ops)
        del module
    if not skip_export:  # once: it is slow and only a reference point
        t, ep = timed(lambda: torch.export.export(model, (x,)))
        record("torch.export.export", t, len(ep.graph.nodes))
    print(f"  {f'stage (best of {repeat})':28s} {'wall s':>8s} {'CPU s':>8s} {'items':>7s} {'items/s':>9s}")
    for label, (w, c) in best.items():
        print(f"  {label:28s} {w:8.3f} {c:8.3f} {items[label]:7d} {items[label] / w:9.0f}")
    for i, clock in enumerate(("wall", "CPU")):
        t_fx = best["torch.fx.symbolic_trace"][i]
        core = best["irq.import_torch (fx)"][i] + sum(best[p][i] for p in PASSES)
        ref = f" = {core / best['torch.export.export'][i]:.2f}x torch.export" if not skip_export else ""
        total = core + best["irq.print_module"][i]
        print(f"  {clock:4s}: irq import + passes = {core:.3f} s = {core / t_fx:.2f}x symbolic_trace{ref}; "
              f"+ print = {total:.3f} s = {total / t_fx:.2f}x")
    print(f"  ({len(text) / 1e6:.1f} MB of text)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--skip-export", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    run("MobileNetV2 1x3x224x224", MobileNetV2().eval(), torch.randn(1, 3, 224, 224), args.skip_export,
        args.repeat)
    run(f"synthetic residual network, {args.blocks} blocks, 1x8x8x8", synthetic(args.blocks),
        torch.randn(1, 8, 8, 8), args.skip_export, args.repeat)


if __name__ == "__main__":
    main()
