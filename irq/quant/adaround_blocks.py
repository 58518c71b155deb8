"""AdaRound's block reconstruction (BRECQ), `irq.quant.adaround(..., blocks=True)`.

Li et al., "BRECQ: Pushing the Limit of Post-Training Quantization by Block Reconstruction" (ICLR 2021):
a layer's rounding is best judged by the error it leaves at the output of its block, where the next layer can
absorb part of it. The relaxation of irq.quant.adaround, one V per layer, optimised jointly against the float
output of the block's last layer; the activations between the block's layers are fake quantized
(straight-through) with their calibrated scales, as the deployed program rounds them. Measured on MobileNetV2
below layer-wise AdaRound (docs/design.md), so off by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from irq.quant.adaround import (
    _IDENTITIES,
    _RESHAPES,
    LayerResult,
    _capture,
    _Grid,
    _grid,
    _h,
    _hard_codes,
    _held_out,
    _Layer,
    _LayerFunction,
    _regulariser,
    _relaxed,
    _replay,
    _write_codes,
)
from irq.quant.fake_quantize import FakeQuantize


def _sole_reader(a: _Layer, b: _Layer) -> bool:
    """Whether `b` reads `a`'s quantized output as its input, and nothing else reads it."""
    uses = a.op.results[0].uses
    if len(uses) != 1 or uses[0].owner.name != "qat.fake_quant":
        return False
    value = uses[0].owner.results[0]
    while True:
        readers = value.uses
        if len(readers) != 1:
            return False
        op = readers[0].owner
        if op is b.op:
            return b.op.input is value
        if op.name.partition(".")[2] not in _RESHAPES | _IDENTITIES | {"relu"}:
            return False
        value = op.results[0]


def _same_module(a: str, b: str, depth: int) -> bool:
    """Whether owners `a` and `b` lie in one module `depth` levels below the root (features.3 for
    features.3.conv.0.0 and features.3.conv.2 at depth 2; layer1.0 in a ResNet)."""
    pa, pb = a.split("."), b.split(".")
    return len(pa) > depth and len(pb) > depth and pa[:depth] == pb[:depth]


def blocks_of(layers: list[_Layer], max_layers: int, depth: int = 2) -> list[list[_Layer]]:
    """Consecutive layers grouped into chains of at most `max_layers`: a layer joins the previous one's
    chain when both lie in the same module `depth` levels down, it is the sole reader of that layer's
    quantized output, and any residual it adds is quantized outside the chain. On MobileNetV2 these
    are the inverted-residual blocks (expand, depthwise, project + residual); a chain of 1 is plain
    layer-wise AdaRound."""
    groups: list[list[_Layer]] = []
    for layer in layers:
        group = groups[-1] if groups else None
        inside = set() if group is None else {g.output_path for g in group}
        if (group is not None and len(group) < max_layers and _same_module(group[0].owner, layer.owner, depth)
                and _sole_reader(group[-1], layer) and layer.residual_path not in inside):
            group.append(layer)
        else:
            groups.append([layer])
    return groups


class _BlockFunction:
    """A chain of layers on given weights: each layer's float computation (as _LayerFunction), the
    activation quantizer between two layers, the replayed data movement before each input."""

    def __init__(self, block: list[_Layer], grids: list[_Grid], quantizers: list[FakeQuantize], x: Tensor,
                 residuals: list[Tensor | None]) -> None:
        self.block, self.grids, self.quantizers, self.x, self.residuals = block, grids, quantizers, x, residuals

    def __call__(self, weights: list[Tensor], idx: Tensor) -> Tensor:
        h = _replay(self.x[idx], self.block[0].input_chain)
        for i, (layer, grid, w) in enumerate(zip(self.block, self.grids, weights, strict=True)):
            if i > 0:
                h = _replay(self.quantizers[i - 1].round_straight_through(h), layer.input_chain)
            residual = None if self.residuals[i] is None else self.residuals[i][idx]
            h = _LayerFunction(layer, h, grid.bias, residual)(w, torch.arange(len(h)), None)
        return h

    def error(self, weights: list[Tensor], target: Tensor, samples: range, chunk: int = 8) -> float:
        """Mean squared error of the block output over the captured `samples`."""
        total, count = 0.0, 0
        with torch.no_grad():
            for i in range(samples.start, samples.stop, chunk):
                idx = torch.arange(i, min(i + chunk, samples.stop))
                d = self(weights, idx) - target[idx]
                total += float(d.double().pow(2).sum())
                count += d.numel()
        return total / max(count, 1)


def round_block(qat_model: nn.Module, reference: nn.Module, block: list[_Layer], batches: Sequence[Any],
                 gen: torch.Generator, *, iters: int, batch_images: int, lr: float, reg_weight: float,
                 beta: tuple[float, float], warmup: float, **_unused: Any) -> list[LayerResult]:
    """Learn the rounding of a chain's layers jointly against the float output of its last layer."""
    first, last = block[0], block[-1]
    record = {first.input_path: "x"}
    for i, layer in enumerate(block):
        if layer.residual_path is not None and layer.residual_path not in record:
            record[layer.residual_path] = f"residual{i}"
    quantized = _capture(qat_model, batches, "qat", record, last.output_path, stop_records_input=False)
    target = _capture(reference, batches, "float", {}, last.output_path, stop_records_input=True)["target"]
    residuals = [None if layer.residual_path is None else _replay(quantized[record[layer.residual_path]],
                                                                  layer.residual_chain) for layer in block]
    grids = [_grid(qat_model, layer) for layer in block]
    quantizers = [qat_model.get_submodule(layer.output_path) for layer in block[:-1]]
    fn = _BlockFunction(block, grids, quantizers, quantized["x"], residuals)
    n = len(target)
    held = _held_out(n)
    fit = held.start if n >= 4 else n
    # h(v) == the fractional part: the relaxation starts at the float weights themselves
    floors, vs = map(list, zip(*(_relaxed(g.w, g.s) for g in grids), strict=True))
    opt = torch.optim.Adam(vs, lr=lr)
    warm = int(warmup * iters)
    with torch.enable_grad():
        for it in range(iters):
            idx = torch.randint(0, fit, (min(batch_images, fit),), generator=gen)
            hs = [_h(v) for v in vs]
            weights = [g.s * torch.clamp(f + h, layer.weight_fq.qmin, layer.weight_fq.qmax)
                       for g, f, h, layer in zip(grids, floors, hs, block, strict=True)]
            loss = (fn(weights, idx) - target[idx]).pow(2).sum(1).mean()
            loss = loss + reg_weight * sum(_regulariser(h, it, warm, iters, beta) for h in hs)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        learned = [torch.where(g.pinned, g.nearest, _hard_codes(f, v, layer.weight_fq.qmin, layer.weight_fq.qmax))
                   for g, f, v, layer in zip(grids, floors, vs, block, strict=True)]
    err_nearest = fn.error([g.s * g.nearest for g in grids], target, held)
    err_learned = fn.error([g.s * q for g, q in zip(grids, learned, strict=True)], target, held)
    kept = not err_learned < err_nearest
    results = []
    for layer, g, q in zip(block, grids, learned, strict=True):
        codes = g.nearest if kept else q
        if not kept:
            _write_codes(qat_model, layer, g.params, codes, g.scale)
        results.append(LayerResult(layer.owner, err_nearest, err_nearest if kept else err_learned,
                                   float((codes != g.nearest).float().mean()), kept, 0.0, first.owner))
    return results
