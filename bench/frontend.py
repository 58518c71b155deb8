"""Frontend speed: irq import (+ print) next to torch.fx.symbolic_trace and torch.export alone.

    python bench/frontend.py [--blocks 2000] [--skip-export]

Prints seconds and ops/s per stage for MobileNetV2 (224x224) and a synthetic
residual network of N conv-bn-relu-add blocks. Stages are a list, so the passes
(functional-to-module, fuse) join the table when they exist. The issue's target:
irq's import plus passes within 2x the torch trace it starts from.
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


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def count_ops(module) -> int:
    return sum(1 for op in module.walk() if op.dialect_name in ("torch", "hl"))


def run(name: str, model: nn.Module, x: torch.Tensor, skip_export: bool) -> None:
    print(f"\n{name}")
    rows = []
    t_fx, gm = timed(lambda: torch.fx.symbolic_trace(model))
    nodes = len(gm.graph.nodes)
    rows.append(("torch.fx.symbolic_trace", t_fx, nodes))
    if not skip_export:
        t_ex, ep = timed(lambda: torch.export.export(model, (x,)))
        rows.append(("torch.export.export", t_ex, len(ep.graph.nodes)))
    t_imp, module = timed(lambda: irq.import_torch(model, (x,), verify=False))
    n_ops = count_ops(module)
    rows.append(("irq.import_torch (fx)", t_imp, n_ops))
    t_ver, _ = timed(lambda: irq.verify(module))
    rows.append(("irq.verify", t_ver, n_ops))
    # Later stages (functional-to-module, fuse) slot in here, each a (label, callable) on `module`.
    t_pr, text = timed(lambda: irq.print_module(module))
    rows.append(("irq.print_module", t_pr, n_ops))
    print(f"  {'stage':28s} {'seconds':>9s} {'items':>8s} {'items/s':>10s}")
    for label, t, n in rows:
        print(f"  {label:28s} {t:9.3f} {n:8d} {n / t:10.0f}")
    total = t_imp + t_pr
    print(f"  irq import + print = {total:.3f} s = {total / t_fx:.2f}x symbolic_trace"
          f" ({len(text) / 1e6:.1f} MB of text)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--skip-export", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    run("MobileNetV2 1x3x224x224", MobileNetV2().eval(), torch.randn(1, 3, 224, 224), args.skip_export)
    run(f"synthetic residual network, {args.blocks} blocks, 1x8x8x8", synthetic(args.blocks),
        torch.randn(1, 8, 8, 8), args.skip_export)


if __name__ == "__main__":
    main()
