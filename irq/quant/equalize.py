"""Cross-layer equalization: a float transform, before prepare, that evens out per-channel weight ranges.

    report = irq.quant.cross_layer_equalize(model, (x,))                  # relu pairs: exact
    report = irq.quant.cross_layer_equalize(model, (x,), relu6="clamp", batches=calib)
    qat_model = irq.prepare(model, (x,), ...)

Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction" (ICCV 2019),
section 4.1: for two layers in a row, y = f(W2 f(W1 x + b1) + b2), scaling output channel i of the
first layer by 1 / s_i and input channel i of the second by s_i leaves y unchanged when f is
positively homogeneous (relu(x / s) = relu(x) / s for s > 0, and the identity). Choosing
``s_i = sqrt(r1_i / r2_i)`` (r1_i: range of the first layer's output channel i, r2_i: of the second
layer's input channel i, both of the weights the chip holds, batch norm folded) gives both channels
the range sqrt(r1_i r2_i), so a per-tensor or per-channel int8 grid wastes less of its range on a
few wide channels (depthwise convolutions after a wide expansion are the paper's motivating case).
Chains (conv -> depthwise -> conv) are equalized by repeating the sweep over all pairs until the
scales settle (the paper's iterative procedure). The code is written from the paper's equations.

What is scaled: a pair is two convs (conv1d/conv2d, any groups for the first; one group or
depthwise for the second) where the first one's output is read by the second only, with no fused
residual on the first. Batch norm folded into the first is scaled through its gamma and beta (so the
float model keeps its structure, and prepare/fuse see the same modules); without batch norm, its
weight and bias. The second one's weight input channels are multiplied by s.

ReLU6 is not scale-equivariant (relu6(x / s) != relu6(x) / s where x > 6 or x / s > 6), so pairs
with relu6 between them are, by `relu6`:
  - "skip" (default): left alone; the transform is then exact;
  - "clamp": scaled only where it stays exact on the given calibration `batches`: a channel whose
    pre-activation reached 6 keeps s = 1, and the others get s clamped so that max / s stays <= 6
    (exact for every input whose pre-activation stays within the observed maxima).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from irq.folding import fold_batch_norm


@dataclass
class EqualizedPair:
    first: str
    second: str
    activation: str | None
    #: per-channel ratio max(range) / min(range) of the first layer's folded weight, before and after
    spread_before: float
    spread_after: float
    #: channels left at s = 1 (relu6 "clamp": the channel reached the clip)
    pinned: int = 0


@dataclass
class EqualizationReport:
    pairs: list[EqualizedPair] = field(default_factory=list)
    #: "first -> second": why the pair was not equalized
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"cross-layer equalization: {len(self.pairs)} pairs, {len(self.skipped)} skipped"]
        lines += [f"  {p.first} -> {p.second} ({p.activation or 'linear'}): channel range spread "
                  f"{p.spread_before:.1f} -> {p.spread_after:.1f}" + (f", {p.pinned} pinned" if p.pinned else "")
                  for p in self.pairs]
        lines += [f"  skipped {k}: {v}" for k, v in self.skipped.items()]
        return "\n".join(lines)


@dataclass
class _Conv:
    owner: str
    kind: str
    groups: int
    activation: str | None
    bn_owner: str | None
    eps: float
    keys: dict[str, str | None]


def _key(value) -> str | None:
    return None if value is None else getattr(value.owner, "key", None)


def _conv(op) -> _Conv:
    def attr(name):
        a = op.get_attr(name)
        return None if a is None else a.value
    keys = {n: _key(getattr(op, n)) for n in ("weight", "bias", "bn_weight", "bn_bias", "bn_mean", "bn_var")}
    return _Conv(attr("owner"), op.name.partition(".")[2], attr("groups") or 1, attr("activation"),
                 attr("bn_owner"), attr("bn_eps") or 0.0, keys)


def _pairs(model: nn.Module, example_inputs: Any, report: EqualizationReport) -> list[tuple[_Conv, _Conv]]:
    import irq
    from irq.quant.prepare import PIPELINE
    module = irq.import_torch(model, example_inputs)
    irq.PassManager.parse(PIPELINE).run(module)
    pairs = []
    for op in module.walk():
        if op.name not in ("hl.conv1d", "hl.conv2d") or len(op.results) != 1:
            continue
        users = list(op.results[0].users)
        if len(users) != 1 or users[0].name != op.name or users[0].input is not op.results[0]:
            continue
        second = users[0]
        a, b = _conv(op), _conv(second)
        name = f"{a.owner} -> {b.owner}"
        channels = op.results[0].type.shape[1]
        if op.residual is not None:
            report.skipped[name] = "the first conv has a fused residual (its output is not its own)"
        elif b.groups not in (1, channels):
            report.skipped[name] = f"the second conv has {b.groups} groups (equalized: 1 or depthwise)"
        elif a.activation not in (None, "relu", "relu6"):
            report.skipped[name] = f"activation {a.activation} between them"
        elif None in (a.keys["weight"], b.keys["weight"]) or (a.bn_owner and a.keys["bn_weight"] is None):
            report.skipped[name] = "a weight (or the batch norm's gamma) is not a parameter of the model"
        else:
            pairs.append((a, b))
    return pairs


def _get(model: nn.Module, key: str | None) -> Tensor | None:
    if key is None:
        return None
    parent, _, leaf = key.rpartition(".")
    return getattr(model.get_submodule(parent) if parent else model, leaf)


def _np(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().double().cpu().numpy()


def _folded_weight(model: nn.Module, c: _Conv) -> np.ndarray:
    t = {k: _get(model, v) for k, v in c.keys.items()}
    if t["bn_mean"] is None:
        return _np(t["weight"])
    w, _ = fold_batch_norm(c.kind, _np(t["weight"]), _np(t["bias"]), _np(t["bn_weight"]), _np(t["bn_bias"]),
                           _np(t["bn_mean"]), _np(t["bn_var"]), c.eps, c.groups)
    return w.astype(np.float64)


def _output_ranges(w: np.ndarray) -> np.ndarray:
    return np.abs(w).reshape(w.shape[0], -1).max(axis=1)


def _input_ranges(w: np.ndarray, groups: int, channels: int) -> np.ndarray:
    if groups == 1:
        return np.abs(w).swapaxes(0, 1).reshape(w.shape[1], -1).max(axis=1)
    return _output_ranges(w)  # depthwise: input channel i is output channel i
    # (other group counts are refused in _pairs)


def _scale_first(model: nn.Module, c: _Conv, s: np.ndarray) -> None:
    """Output channel i of the first conv divided by s_i (through the batch norm when there is one)."""
    with torch.no_grad():
        if c.bn_owner is not None and c.keys["bn_mean"] is not None:
            for k in ("bn_weight", "bn_bias"):
                t = _get(model, c.keys[k])
                if t is not None:
                    t.div_(torch.from_numpy(s).to(t.dtype))
            return
        w = _get(model, c.keys["weight"])
        w.div_(torch.from_numpy(s).to(w.dtype).reshape(-1, *([1] * (w.dim() - 1))))
        b = _get(model, c.keys["bias"])
        if b is not None:
            b.div_(torch.from_numpy(s).to(b.dtype))


def _scale_second(model: nn.Module, c: _Conv, s: np.ndarray) -> None:
    """Input channel i of the second conv multiplied by s_i."""
    w = _get(model, c.keys["weight"])
    st = torch.from_numpy(s).to(w.dtype)
    with torch.no_grad():
        if c.groups == 1:
            w.mul_(st.reshape(1, -1, *([1] * (w.dim() - 2))))
        else:
            w.mul_(st.reshape(-1, *([1] * (w.dim() - 1))))


def _pre_activation_max(model: nn.Module, pairs: list[tuple[_Conv, _Conv]], batches: Sequence[Any]
                        ) -> dict[str, np.ndarray]:
    """Per-channel max of each relu6 pair's first-layer pre-activation (the batch norm's or conv's output)."""
    from irq.workflow import as_tuple
    found: dict[str, np.ndarray] = {}
    handles = []
    for a, _ in pairs:
        if a.activation != "relu6":
            continue
        path = a.bn_owner or a.owner

        def hook(_m, _args, out, owner=a.owner):
            m = out.detach().transpose(0, 1).reshape(out.shape[1], -1).amax(dim=1).double().numpy()
            found[owner] = m if owner not in found else np.maximum(found[owner], m)
        handles.append(model.get_submodule(path).register_forward_hook(hook))
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for batch in batches:
                model(*as_tuple(batch))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return found


def cross_layer_equalize(model: nn.Module, example_inputs: Any, *, relu6: str = "skip",
                         batches: Sequence[Any] | None = None, sweeps: int = 20,
                         tolerance: float = 1e-3) -> EqualizationReport:
    """Equalize every conv pair of the float `model` in place (see the module docstring)."""
    if relu6 not in ("skip", "clamp"):
        raise ValueError(f"cross_layer_equalize: relu6 must be 'skip' or 'clamp', got {relu6!r}")
    if relu6 == "clamp" and not batches:
        raise ValueError("cross_layer_equalize(relu6='clamp') needs calibration `batches`: the clamp keeps each "
                         "channel's observed pre-activation maximum below 6")
    report = EqualizationReport()
    pairs = []
    for a, b in _pairs(model, example_inputs, report):
        if a.activation == "relu6" and relu6 == "skip":
            report.skipped[f"{a.owner} -> {b.owner}"] = "relu6 between them is not scale-equivariant (relu6='clamp' " \
                                                         "scales the channels where it stays exact)"
        else:
            pairs.append((a, b))
    maxima = _pre_activation_max(model, pairs, batches) if relu6 == "clamp" else {}
    before = {a.owner: _spread(_output_ranges(_folded_weight(model, a))) for a, _ in pairs}
    pinned_of: dict[str, int] = {}
    for _ in range(sweeps):
        largest = 0.0
        for a, b in pairs:
            r1 = _output_ranges(_folded_weight(model, a))
            r2 = _input_ranges(_folded_weight(model, b), b.groups, len(r1))
            ok = (r1 > 0) & (r2 > 0)
            s = np.ones_like(r1)
            s[ok] = np.sqrt(r1[ok] / r2[ok])
            if a.activation == "relu6":
                m = maxima[a.owner]
                reached = m >= 6.0
                s[reached] = 1.0
                # scaling up (s < 1) must keep max / s <= 6; scaling down (s > 1) only lowers the maximum
                low = np.where(m > 0, m / 6.0, 0.0)
                s = np.where(reached, 1.0, np.maximum(s, low))
                maxima[a.owner] = m / s
                pinned_of[a.owner] = int(reached.sum())
            _scale_first(model, a, s)
            _scale_second(model, b, s)
            largest = max(largest, float(np.abs(np.log(s)).max()) if len(s) else 0.0)
        if largest < tolerance:
            break
    for a, b in pairs:
        report.pairs.append(EqualizedPair(a.owner, b.owner, a.activation, before[a.owner],
                                          _spread(_output_ranges(_folded_weight(model, a))), pinned_of.get(a.owner, 0)))
    return report


def _spread(r: np.ndarray) -> float:
    r = r[r > 0]
    return float(r.max() / r.min()) if len(r) else 1.0


__all__ = ["EqualizationReport", "EqualizedPair", "cross_layer_equalize"]
