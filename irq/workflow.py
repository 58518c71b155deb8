"""The quantization flow's loops, shared by the demo, the `irq` CLI and bench/end_to_end.py.

`irq.prepare` / `irq.set_fake_quantize` / `irq.convert` are the API; what every user writes around
them is the same two loops: run calibration batches with the observers on, and fine-tune with fake
quantization in the loop (QAT). Writing them once keeps the state machine's order right (eval before
CALIBRATION and VALIDATION, train before QAT) and gives every caller the same progress bars.
Both loops leave the model in eval mode and VALIDATION, the state whose outputs the deployed program
reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _progress(items: Iterable, total: int | None, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def as_tuple(batch: Any) -> tuple:
    return batch if isinstance(batch, tuple) else tuple(batch) if isinstance(batch, list) else (batch,)


def calibrate(qat_model: nn.Module, batches: Sequence[Any], *, progress: bool = True,
              desc: str = "calibration") -> nn.Module:
    """Run `batches` (tensors, or tuples of a forward's inputs) through the observers; ends in VALIDATION."""
    import irq
    if len(batches) == 0:
        raise ValueError("calibration needs at least one batch")
    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for batch in _progress(batches, len(batches), desc, progress):
            qat_model(*as_tuple(batch))
    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.VALIDATION)
    return qat_model


def prepare_calibrated(model: nn.Module, example_inputs: Any, batches: Sequence[Any], *, progress: bool = False,
                       **prepare_options: Any) -> nn.Module:
    """`irq.prepare(model, example_inputs, **prepare_options)` then `calibrate(..., batches)`: the prepared
    model in VALIDATION, ready for `irq.convert`. Post-training quantization in one call, the set-up the
    benchmarks and tests share (bench/consistency.py, bench/minilm.py, tests/test_debug_compare.py...)."""
    import irq
    qat = irq.prepare(model, example_inputs, **prepare_options)
    return calibrate(qat, batches, progress=progress)


def train_qat(qat_model: nn.Module, x: Tensor, y: Tensor, *, epochs: int, lr: float = 1e-4, batch_size: int = 64,
              seed: int = 0, progress: bool = True) -> nn.Module:
    """Quantization-aware fine-tuning of a calibrated classifier (cross-entropy, Adam); ends in VALIDATION.

    The learning rate defaults to 1e-4, a tenth of a typical training rate: QAT starts from a trained,
    calibrated model and only has to adapt it to the rounding, as horizon's QAT recipes do.
    """
    import irq
    if len(x) != len(y):
        raise ValueError(f"QAT data: {len(x)} inputs but {len(y)} labels")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(qat_model.parameters(), lr=lr)
    qat_model.train()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.QAT)
    steps = (len(x) + batch_size - 1) // batch_size
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=g)
        batches = (order[i:i + batch_size] for i in range(0, len(x), batch_size))
        for idx in _progress(batches, steps, f"QAT epoch {epoch + 1}/{epochs}", progress):
            loss = F.cross_entropy(qat_model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.VALIDATION)
    return qat_model


def distill(qat_model: nn.Module, teacher: nn.Module, x: Tensor, *, epochs: int, lr: float = 1e-5,
            batch_size: int = 8, temperature: float = 1.0, seed: int = 0, progress: bool = True) -> list[float]:
    """Quantization-aware fine-tuning of a calibrated model against a float teacher on unlabeled inputs.

    The loss is the KL divergence from the teacher's softmax to the student's (Hinton et al., 2015, at
    `temperature`), so no labels are needed: the calibration photos, or any in-domain crops, are
    enough. Batch norms and activation scales stay frozen (the model runs in eval mode with fake
    quantization on): with a few dozen images, batch statistics and moving-average observers would
    only add noise, and the weight scales follow the weights as in QAT. Returns the mean loss per
    epoch; ends in VALIDATION, like the other loops.
    """
    import irq
    with torch.no_grad():
        targets = predict(teacher, x, batch_size)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in qat_model.parameters() if p.requires_grad], lr=lr)
    qat_model.train()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.QAT)
    qat_model.eval()  # frozen batch norms and observers; fake quantization stays on (QAT state)
    steps = (len(x) + batch_size - 1) // batch_size
    losses = []
    with torch.enable_grad():
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=g)
            batches = (order[i:i + batch_size] for i in range(0, len(x), batch_size))
            total = 0.0
            for idx in _progress(batches, steps, f"distillation epoch {epoch + 1}/{epochs}", progress):
                student = F.log_softmax(qat_model(x[idx]) / temperature, 1)
                loss = F.kl_div(student, F.log_softmax(targets[idx] / temperature, 1), log_target=True,
                                reduction="batchmean")
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(x))
    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.VALIDATION)
    return losses


def predict(fn, x: Tensor, batch_size: int = 64) -> Tensor:
    """`fn` over `x` in batches, without autograd."""
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
