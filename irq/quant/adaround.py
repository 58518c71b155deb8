"""AdaRound: learned weight rounding for post-training quantization.

    qat_model = irq.prepare(model, (x,), qconfig=irq.qconfig.default_calib_8bit)
    irq.workflow.calibrate(qat_model, batches)
    report = irq.quant.adaround(qat_model, batches)     # still in VALIDATION; convert as usual

Rounding every weight to its nearest grid point minimises each weight's own error, not the error of
the layer's output: with int8 weights that rounding alone costs MobileNetV2 an eighth of its top-1
agreement with float. AdaRound (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training
Quantization", ICML 2020) chooses, per weight, floor or ceil so as to reconstruct the layer's float
output from calibration inputs. The binary choice is relaxed to a rectified sigmoid
``h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1)`` (zeta = 1.1, gamma = -0.1), the soft
weight is ``s * clip(floor(w / s) + h(V), qmin, qmax)``, and V minimises

    || f(W_soft x_q + b) - f(W x + b) ||^2  +  lambda * sum(1 - |2 h(V) - 1| ** beta)

where the regulariser (after a warm-up without it) drives every h to 0 or 1 while beta is annealed
from 20 to 2; the paper's section 3-4. Layers are done in execution order and each one's inputs x_q
come from the model with every earlier layer's learned rounding in place and its activations fake
quantized: the paper's "asymmetric" reconstruction, which also corrects the error accumulated before
the layer. The target is the float model's output of the same hl op (folded batch norm, fused residual
and relu/relu6 included), so the fused activation's clipping is part of what is reconstructed.
The code is written from the paper's equations.

How the result reaches the deployed program: the learned codes q are written back into the float
parameters as weights that lie on the grid (``s * q``, divided by the batch norm's scale where one is
folded), so nearest rounding -- what VALIDATION, irq.freeze and lower-bpu all do -- gives back exactly
the learned codes. Nothing downstream changes and the deployed program equals VALIDATION bit for bit
as before. Each channel's scale is kept: the weights that set a channel's range keep their nearest
code (+-127), so the min-max weight observer recomputes the same scale; after each layer the codes
are re-derived the way VALIDATION derives them and compared with the learned ones (a mismatch raises).

The float targets come from a copy of the model taken before any layer is rounded, so every layer
reconstructs the float model itself. A quarter of the calibration samples (at least one, when there
are 4 or more) is held out of the optimisation: a layer keeps nearest rounding unless the learned
rounding reconstructs the held-out samples better (with a few dozen images, the free binary choices
of a large layer can otherwise fit the calibration samples and lose on new inputs); the report gives
the held-out errors per layer. Large feature maps are optimised on random output
windows (with their receptive field), which is exact for a convolution and cuts the cost per step.

The layers' inputs and targets come from one forward of the prepared model and one of the float copy, paused
before each layer's weighted node while its rounding is learned (irq.quant.adaround_capture): the same
tensors as a forward per layer, which was 84% of AdaRound's time on MobileNetV2 at 50 steps per layer.
Block reconstruction (`blocks=True`) still captures each chain with its own forward.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irq import fixedpoint as fp
from irq.folding import fold_batch_norm
from irq.quant.fake_quantize import FakeQuantize
from irq.quant.prepare import ir_of
from irq.quant.state import QuantizationWarning, fake_quant_modules

#: the rectified sigmoid's stretch (Nagel et al. 2020, eq. 23)
ZETA, GAMMA = 1.1, -0.1
_KINDS = ("conv1d", "conv2d", "linear")
#: ops between a quantizer and a conv/linear input that the reconstruction can replay exactly
_RESHAPES = frozenset({"flatten", "reshape", "view"})
_IDENTITIES = frozenset({"dropout", "identity", "contiguous"})


@dataclass
class LayerResult:
    owner: str
    #: mean squared error of the layer output vs float on the held-out calibration samples, nearest rounding
    nearest_error: float
    #: the same with the learned rounding (equal to nearest_error when nearest was kept)
    learned_error: float
    #: fraction of the weights whose code differs from nearest rounding
    flipped: float
    kept_nearest: bool
    seconds: float
    #: the block this layer was reconstructed in (its first owner; None: alone). In a block the errors
    #: are those of the block's output, the same for each of its layers
    block: str | None = None


@dataclass
class AdaRoundReport:
    layers: list[LayerResult] = field(default_factory=list)
    #: owners not optimised, with the reason (no weight quantizer, input not quantized, ...)
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"AdaRound: {len(self.layers)} layers, {len(self.skipped)} skipped"]
        for r in self.layers:
            ratio = r.learned_error / r.nearest_error if r.nearest_error > 0 else 1.0
            lines.append(f"  {r.owner:32s} error x{ratio:.3f}  flipped {100 * r.flipped:5.2f}%"
                         f"{'  (nearest kept)' if r.kept_nearest else ''}  {r.seconds:.1f}s")
        lines += [f"  skipped {o}: {why}" for o, why in self.skipped.items()]
        return "\n".join(lines)


@dataclass
class _Layer:
    op: Any
    owner: str
    kind: str
    weight_fq: FakeQuantize
    input_path: str
    input_chain: list
    residual_path: str | None
    residual_chain: list
    output_path: str
    options: dict


class _Stop(Exception):
    """Raised by a hook once a layer's tensors are captured: the rest of the forward is not needed."""


def _value(a: Any) -> Any:
    """An attribute's Python value (arrays element by element)."""
    from irq.ir.attributes import ArrayAttr
    if a is None:
        return None
    if isinstance(a, ArrayAttr):
        return [_value(x) for x in a]
    return getattr(a, "value", a)


def _attr(op, name: str) -> Any:
    return _value(op.get_attr(name))


def _source(value) -> tuple[str | None, list, str | None]:
    """(state path of the activation quantizer that `value` reads, the data-movement ops in between
    (quantizer side first), why it cannot be replayed or None)."""
    from irq.ir.values import BlockArgument
    from irq.passes.quant_annotate import is_passthrough
    from irq.runtime.torch.quantized import state_path
    chain: list = []
    while value is not None and not isinstance(value, BlockArgument):
        op = value.owner
        if op.name == "qat.fake_quant":
            if op.get_attr("slot").value == "weight":
                return None, [], "reads a weight quantizer"
            if op.dtype.value == "qint32":
                return None, [], "reads an int32 output"
            return state_path(op), chain[::-1], None
        if not is_passthrough(op):
            return None, [], f"reads {op.name}, which is not quantized"
        base = op.name.partition(".")[2]
        if base not in _RESHAPES | _IDENTITIES | {"relu"}:
            return None, [], f"reads its quantizer through {op.name}, which the reconstruction does not replay"
        chain.append(op)
        value = op.operands[0]
    return None, [], "reads a float model input"


def _replay(x: Tensor, chain: list) -> Tensor:
    for op in chain:
        base = op.name.partition(".")[2]
        if base in _RESHAPES:
            shape = op.results[0].type.shape
            x = x.reshape(x.shape[0], *shape[1:])
        elif base == "relu":
            x = torch.relu(x)
    return x


def _layers(qat_model: nn.Module, owners: Sequence[str] | None) -> tuple[list[_Layer], dict[str, str]]:
    from irq.runtime.torch.quantized import output_quantizer
    layers, skipped = [], {}
    for op in ir_of(qat_model).walk():
        if op.dialect_name != "hl" or op.name.partition(".")[2] not in _KINDS:
            continue
        owner = _attr(op, "owner")
        if owners is not None and owner not in owners:
            continue
        wop = op.weight.owner
        if getattr(wop, "name", None) != "qat.fake_quant":
            skipped[owner] = "weight not quantized"
            continue
        if op.results[0].type.shape is None:
            skipped[owner] = "output shape not static"
            continue
        in_path, in_chain, why = _source(op.input)
        res_path, res_chain = None, []
        if why is None and op.residual is not None:
            res_path, res_chain, why = _source(op.residual)
            why = None if why is None else f"residual {why}"
        out_path = output_quantizer(op)
        if why is None and out_path is None:
            why = "its output has no quantizer of its own"
        if why is not None:
            skipped[owner] = why
            continue
        options = {k: _attr(op, k) for k in ("stride", "padding", "dilation", "groups", "activation", "bn_eps")}
        layers.append(_Layer(op, owner, op.name.partition(".")[2], qat_model.get_submodule(wop.state_path),
                             in_path, in_chain, res_path, res_chain, out_path, options))
    return layers, skipped


def _key(value) -> str | None:
    if value is None:
        return None
    op = value.owner
    while getattr(op, "name", None) == "qat.fake_quant":
        op = op.operands[0].owner
    return getattr(op, "key", None)


def _tensor(model: nn.Module, key: str | None) -> Tensor | None:
    if key is None:
        return None
    parent, _, leaf = key.rpartition(".")
    return getattr(model.get_submodule(parent) if parent else model, leaf)


def _parameters(qat_model: nn.Module, op) -> dict[str, Tensor | None]:
    """The tensors of a conv/linear `op` (a layer's `op`) in `qat_model`: weight, bias and batch norm's."""
    return {name: _tensor(qat_model, _key(getattr(op, name, None)))
            for name in ("weight", "bias", "bn_weight", "bn_bias", "bn_mean", "bn_var")}


def _np(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().double().cpu().numpy()


def _folded(op, p: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight and bias a conv/linear `op` holds on the chip (batch norm folded by irq.folding, as
    VALIDATION folds), from its parameters `p` (`_parameters`)."""
    if p["bn_mean"] is None:
        return p["weight"].detach().float().cpu().numpy(), None if p["bias"] is None else \
            p["bias"].detach().float().cpu().numpy()
    return fold_batch_norm(op.name.partition(".")[2], _np(p["weight"]), _np(p["bias"]), _np(p["bn_weight"]),
                           _np(p["bn_bias"]), _np(p["bn_mean"]), _np(p["bn_var"]), _attr(op, "bn_eps"),
                           _attr(op, "groups") or 1)


def folded_weight(qat_model: nn.Module, op) -> np.ndarray:
    """The float weight of a prepared conv/linear op (`op` of `ir_of(qat_model)`) as the chip holds it, batch
    norm folded: what its weight quantizer rounds (irq.quant.mixed_precision bounds accumulators with it)."""
    return _folded(op, _parameters(qat_model, op))[0]


def _bn_scale(p: dict, eps: float) -> np.ndarray:
    scale = 1.0 / np.sqrt(_np(p["bn_var"]) + float(eps))
    return scale if p["bn_weight"] is None else _np(p["bn_weight"]) * scale


def _capture(qat_model: nn.Module, batches: Sequence[Any], mode: str, record: dict[str, str], stop: str,
             stop_records_input: bool) -> dict[str, Tensor]:
    """Run `batches` with every quantizer in `mode` ("qat" / "float"), recording the outputs of the
    quantizers named in `record` (path -> name) and stopping each forward at quantizer `stop` (whose
    input is recorded as "target" when `stop_records_input`)."""
    import warnings

    from irq.debug.capture import as_args, preserved, set_modes
    got: dict[str, list[Tensor]] = {}

    def recorder(name: str):
        def hook(_m, _args, out):
            got.setdefault(name, []).append(out.detach().clone())
        return hook

    def stopper(_m, args):
        if stop_records_input:
            got.setdefault("target", []).append(args[0].detach().clone())
        raise _Stop

    handles = []
    with preserved(qat_model), warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        set_modes(qat_model, lambda fq: mode)
        try:
            for path, name in record.items():
                handles.append(qat_model.get_submodule(path).register_forward_hook(recorder(name)))
            handles.append(qat_model.get_submodule(stop).register_forward_pre_hook(stopper))
            with torch.no_grad():
                for batch in batches:
                    try:
                        qat_model(*as_args(batch))
                    except _Stop:
                        pass
        finally:
            for h in handles:
                h.remove()
    return {k: torch.cat(v) for k, v in got.items()}


class _LayerFunction:
    """The layer's float computation on given weights: op -> (+ residual) -> relu/relu6, optionally on a
    window of output rows/columns (input cropped to the window's receptive field, padding made explicit)."""

    def __init__(self, layer: _Layer, x: Tensor, bias: Tensor | None, residual: Tensor | None) -> None:
        self.layer, self.bias, self.residual = layer, bias, residual
        o = layer.options
        self.spatial = layer.kind != "linear"
        if self.spatial:
            nd = 1 if layer.kind == "conv1d" else 2
            self.stride = _tuple(o["stride"], nd, 1)
            self.dilation = _tuple(o["dilation"], nd, 1)
            pad = o["padding"]
            self.croppable = not isinstance(pad, str)
            self.padding = _tuple(pad, nd, 0) if self.croppable else pad
            if self.croppable and any(self.padding):
                pads = []
                for p in reversed(self.padding):
                    pads += [p, p]
                x = F.pad(x, pads)
            self.groups = o["groups"] or 1
        self.x = x

    def __call__(self, w: Tensor, idx: Tensor, window: tuple | None) -> Tensor:
        x = self.x[idx]
        if not self.spatial:
            y = F.linear(x, w, self.bias)
        else:
            pad: Any = 0 if self.croppable else self.padding
            if window is not None:
                k = w.shape[2:]
                for d, (start, size) in enumerate(window):
                    s, dil = self.stride[d], self.dilation[d]
                    x = x.narrow(2 + d, start * s, (size - 1) * s + (k[d] - 1) * dil + 1)
            conv = F.conv1d if self.layer.kind == "conv1d" else F.conv2d
            y = conv(x, w, self.bias, self.stride, pad, self.dilation, self.groups)
        if self.residual is not None:
            y = y + _window(self.residual[idx], window)
        act = self.layer.options["activation"]
        if act == "relu":
            y = torch.relu(y)
        elif act == "relu6":
            y = F.relu6(y)
        return y


def _tuple(v: Any, n: int, default: int) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    if isinstance(v, int):
        return (v,) * n
    v = list(v)
    return tuple(v) if len(v) == n else (v[0],) * n


def _window(t: Tensor, window: tuple | None) -> Tensor:
    if window is None:
        return t
    for d, (start, size) in enumerate(window):
        t = t.narrow(2 + d, start, size)
    return t


def _error(fn: _LayerFunction, w: Tensor, target: Tensor, samples: range, chunk: int = 8) -> float:
    """Mean squared error of the layer output over the captured `samples`."""
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(samples.start, samples.stop, chunk):
            idx = torch.arange(i, min(i + chunk, samples.stop))
            d = fn(w, idx, None) - target[idx]
            total += float(d.double().pow(2).sum())
            count += d.numel()
    return total / max(count, 1)


def _h(v: Tensor) -> Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def _channel(t: Tensor, like: Tensor) -> Tensor:
    return t.reshape(-1, *([1] * (like.dim() - 1))) if t.dim() == 1 else t


def _optimise(fn: _LayerFunction, target: Tensor, n: int, w: Tensor, scale: Tensor, qmin: int, qmax: int, *,
              iters: int,
              batch_images: int, window: int, lr: float, reg_weight: float, beta: tuple[float, float],
              warmup: float, gen: torch.Generator) -> Tensor:
    """The learned integer codes of `w` (float tensor, same shape)."""
    s = _channel(scale, w)
    floor, v = _relaxed(w, s)
    opt = torch.optim.Adam([v], lr=lr)
    spatial = target.shape[2:] if target.dim() > 2 else ()
    warm = int(warmup * iters)
    with torch.enable_grad():  # callers often hold torch.no_grad() around post-training steps
        _steps(fn, target, v, opt, floor, s, qmin, qmax, n, spatial, iters, warm, batch_images, window, reg_weight,
               beta, gen)
    with torch.no_grad():
        return _hard_codes(floor, v, qmin, qmax)


def _relaxed(w: Tensor, s: Tensor) -> tuple[Tensor, nn.Parameter]:
    """(floor(w / s), V with h(V) == the fractional part of w / s): the relaxation starts at the float weights."""
    w_div = w / s
    floor = torch.floor(w_div)
    rest = (w_div - floor).clamp(0.0, 1.0 - 1e-6)
    return floor, nn.Parameter(-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1.0))


def _hard_codes(floor: Tensor, v: Tensor, qmin: int, qmax: int) -> Tensor:
    """The codes the relaxation ends at: round up where V >= 0 (h(V) > 1/2), clipped to the grid."""
    return torch.clamp(floor + (v >= 0).to(floor.dtype), qmin, qmax)


def _regulariser(h: Tensor, it: int, warm: int, iters: int, beta: tuple[float, float]) -> Tensor | float:
    """AdaRound's rounding regulariser at step `it`: 0 during the warm-up, then sum(1 - |2h - 1|^b) with b
    annealed from beta[0] to beta[1] (the paper's eq. 24)."""
    if it < warm:
        return 0.0
    b_hi, b_lo = beta
    b = b_lo + (b_hi - b_lo) * max(0.0, 1.0 - (it - warm) / max(1, iters - warm))
    return (1.0 - (2.0 * h - 1.0).abs().pow(b)).sum()


def _steps(fn: _LayerFunction, target: Tensor, v: nn.Parameter, opt: torch.optim.Optimizer, floor: Tensor, s: Tensor,
           qmin: int, qmax: int, n: int, spatial: tuple, iters: int, warm: int, batch_images: int, window: int,
           reg_weight: float, beta: tuple[float, float], gen: torch.Generator) -> None:
    for it in range(iters):
        idx = torch.randint(0, n, (min(batch_images, n),), generator=gen)
        win = None
        if fn.spatial and fn.croppable and any(d > window for d in spatial):
            win = tuple((int(torch.randint(0, d - min(d, window) + 1, (1,), generator=gen)), min(d, window))
                        for d in spatial)
        h = _h(v)
        w_soft = s * torch.clamp(floor + h, qmin, qmax)
        y = fn(w_soft, idx, win)
        rec = (y - _window(target[idx], win)).pow(2).sum(1).mean()
        loss = rec + reg_weight * _regulariser(h, it, warm, iters, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _check_calibrated(qat_model: nn.Module) -> None:
    blind = [fq.path for fq in fake_quant_modules(qat_model) if fq.slot != "weight" and not fq.is_marker
             and fq.observer is not None and not fq.follows_tensor and fq.fixed_scale is None and int(fq.observed) == 0]
    if blind:
        raise ValueError(f"irq.quant.adaround needs a calibrated model: {len(blind)} activation quantizer(s) saw no "
                         f"data ({', '.join(blind[:3])}...). Run irq.workflow.calibrate(qat_model, batches) first")


def adaround(qat_model: nn.Module, batches: Sequence[Any], *, iters: int = 300, batch_images: int = 4,
             window: int = 16, lr: float = 1e-2, reg_weight: float = 0.01, beta: tuple[float, float] = (20.0, 2.0),
             warmup: float = 0.2, owners: Sequence[str] | None = None, seed: int = 0, blocks: bool = False,
             max_block_layers: int = 3, threads: int | None = 1, progress: bool = False) -> AdaRoundReport:
    """Learn the rounding of every conv/linear weight of a calibrated prepared model (module docstring).

    batches: calibration inputs (tensors, or tuples of a forward's inputs); every one is kept in memory
    per layer. iters: optimisation steps per layer, each on `batch_images` random samples and, for
    feature maps larger than `window` x `window`, one random output window of that size. lr,
    reg_weight (lambda), beta (start, end) and warmup (fraction of steps without the regulariser): the
    relaxation's hyper-parameters (the paper's lambda = 0.01, beta 20 -> 2, 20 % warm-up; fewer steps
    and a larger Adam rate than its 10,000 so a whole network takes a minute). owners: restrict to these.
    blocks: reconstruct chains of up to `max_block_layers` layers jointly (BRECQ's block output; see
    `_blocks` for what makes a chain) instead of each layer's own output. threads: torch threads it runs
    on (irq.quant.threads: the learned rounding depends on the count; None keeps the caller's).

    The model's float weights are changed in place (moved onto the grid); its quantization state and
    mode are as they were. Returns the per-layer reconstruction errors.
    """
    if len(batches) == 0:
        raise ValueError("irq.quant.adaround needs at least one calibration batch")
    _check_calibrated(qat_model)
    import copy

    from irq.quant.adaround_blocks import blocks_of, round_block
    from irq.quant.threads import torch_threads
    with torch_threads(threads):  # irq.quant.threads: the learned rounding depends on the thread count
        layers, skipped = _layers(qat_model, owners)
        report = AdaRoundReport(skipped=skipped)
        reference = copy.deepcopy(qat_model)  # the float weights, for the targets of every layer
        gen = torch.Generator().manual_seed(seed)
        groups = blocks_of(layers, max_block_layers if blocks else 1)
        iterator: Any = groups
        if progress:
            from tqdm.auto import tqdm
            iterator = tqdm(groups, desc="adaround", unit="block" if blocks else "layer", leave=False,
                            dynamic_ncols=True)
        hyper = {"iters": iters, "batch_images": batch_images, "window": window, "lr": lr, "reg_weight": reg_weight,
                 "beta": beta, "warmup": warmup}
        one_pass = None if blocks else _OnePass(qat_model, reference, layers, batches)
        for group in iterator:
            t0 = time.perf_counter()
            if one_pass is not None:
                results = [_round_layer(qat_model, group[0], *one_pass.captured(group[0]), gen, **hyper)]
            elif len(group) == 1:
                captured = _captured(qat_model, reference, group[0], batches)
                results = [_round_layer(qat_model, group[0], *captured, gen, **hyper)]
            else:
                results = round_block(qat_model, reference, group, batches, gen, **hyper)
            for r in results:
                r.seconds = (time.perf_counter() - t0) / len(results)
            report.layers += results
    return report


class _OnePass:
    """The captures of every layer from one paused forward of each model (irq.quant.adaround_capture)."""

    def __init__(self, qat_model: nn.Module, reference: nn.Module, layers: list[_Layer], batches: Sequence[Any]):
        from irq.quant.adaround_capture import SteppedForward
        self.layers = layers
        reads = {p for layer in layers for p in (layer.input_path, layer.residual_path) if p is not None}
        self.quantized = SteppedForward(qat_model, batches, "qat", outputs=reads)
        self.float = SteppedForward(reference, batches, "float", inputs={layer.output_path for layer in layers})

    def captured(self, layer: _Layer) -> tuple[Tensor, Tensor | None, Tensor]:
        """(quantized input, quantized residual or None, float target) of `layer`, the next one in order:
        the quantized forward stops before the layer's weighted node, so its weights are still to be
        chosen, and every earlier layer's were written before the forward reached it."""
        q = self.quantized
        stop = q.index_of_first_use(_key(layer.op.weight))
        if stop < q.position:
            raise RuntimeError(f"adaround: {layer.owner} is computed before a layer that precedes it; this is a bug")
        q.advance(stop)
        self.float.advance(self.float.index_of_module_call(layer.output_path) + 1)
        x = q.output(layer.input_path)
        residual = None if layer.residual_path is None else q.output(layer.residual_path)
        target = self.float.input(layer.output_path)
        later = self.layers[self.layers.index(layer) + 1:]
        q.forget({p for lay in later for p in (lay.input_path, lay.residual_path) if p is not None})
        self.float.forget({lay.output_path for lay in later})
        return x, residual, target


def _captured(qat_model: nn.Module, reference: nn.Module, layer: _Layer,
              batches: Sequence[Any]) -> tuple[Tensor, Tensor | None, Tensor]:
    """(quantized input, quantized residual or None, float target) of `layer`, each from a forward of the
    batches up to the layer's output quantizer (the per-layer captures _OnePass replaces)."""
    record = {layer.input_path: "x"}
    if layer.residual_path is not None and layer.residual_path != layer.input_path:
        record[layer.residual_path] = "residual"
    quantized = _capture(qat_model, batches, "qat", record, layer.output_path, stop_records_input=False)
    target = _capture(reference, batches, "float", {}, layer.output_path, stop_records_input=True)["target"]
    residual = quantized.get("residual", quantized["x"] if layer.residual_path == layer.input_path else None)
    return quantized["x"], residual, target


def _round_layer(qat_model: nn.Module, layer: _Layer, x: Tensor, residual: Tensor | None, target: Tensor,
                 gen: torch.Generator, **hyper: Any) -> LayerResult:
    x = _replay(x, layer.input_chain)
    if residual is not None:
        residual = _replay(residual, layer.residual_chain)
    g = _grid(qat_model, layer)
    fn = _LayerFunction(layer, x, g.bias, residual)
    n = len(target)
    held = _held_out(n)
    fq = layer.weight_fq
    learned = _optimise(fn, target, held.start if n >= 4 else n, g.w, g.scale, fq.qmin, fq.qmax, gen=gen, **hyper)
    learned = torch.where(g.pinned, g.nearest, learned)
    err_nearest = _error(fn, g.s * g.nearest, target, held)
    err_learned = _error(fn, g.s * learned, target, held)
    kept = not err_learned < err_nearest
    codes = g.nearest if kept else learned
    if not kept:
        _write_codes(qat_model, layer, g.params, codes, g.scale)
    flipped = float((codes != g.nearest).float().mean())
    return LayerResult(layer.owner, err_nearest, err_nearest if kept else err_learned, flipped, kept, 0.0)


def _held_out(n: int) -> range:
    """The calibration samples kept out of the optimisation (the last quarter; all of them below 4)."""
    return range(n - max(1, n // 4), n) if n >= 4 else range(0, n)


@dataclass
class _Grid:
    """A layer's weight as the chip holds it (batch norm folded), its grid and its nearest codes."""

    params: dict
    w: Tensor
    bias: Tensor | None
    scale: Tensor
    #: scale broadcastable to w
    s: Tensor
    nearest: Tensor
    #: the weights that set their channel's range: they keep the nearest code, so the scale stays
    pinned: Tensor


def _grid(qat_model: nn.Module, layer: _Layer) -> _Grid:
    p = _parameters(qat_model, layer.op)
    w_np, b_np = _folded(layer.op, p)
    w = torch.from_numpy(np.ascontiguousarray(w_np))
    bias = None if b_np is None else torch.from_numpy(np.ascontiguousarray(b_np))
    if b_np is None and p["bias"] is not None:
        bias = p["bias"].detach().float()
    fq = layer.weight_fq
    with torch.no_grad():
        if fq.follows_tensor:
            fq.observe(w)
        scale = fq.scale.detach().float().clone()
    s = _channel(scale, w)
    nearest = torch.clamp(torch.round(w.double() / s.double()), fq.qmin, fq.qmax).float()
    dims = tuple(range(1, w.dim()))
    absmax = w.abs().amax(dim=dims, keepdim=True) if scale.dim() == 1 else w.abs().max()
    return _Grid(p, w, bias, scale, s, nearest, w.abs() >= absmax)


def _write_codes(qat_model: nn.Module, layer: _Layer, p: dict, codes: Tensor, scale: Tensor) -> None:
    """Put the weight parameter on the grid point of each learned code, then check that the codes
    VALIDATION derives from it (fold, observe, nearest rounding) are the learned ones."""
    q = codes.double().numpy()
    s = scale.double().numpy()
    s = s.reshape(-1, *([1] * (q.ndim - 1))) if s.ndim == 1 else s
    folded = q * s
    weight = p["weight"]
    if p["bn_mean"] is not None:
        bn = _bn_scale(p, layer.options["bn_eps"]).reshape(-1, *([1] * (q.ndim - 1)))
        safe = np.where(bn == 0, 1.0, bn)
        raw = np.where(bn == 0, _np(weight), folded / safe)
    else:
        raw = folded
    with torch.no_grad():
        weight.copy_(torch.from_numpy(raw).to(weight.dtype))
    w_np, _ = _folded(layer.op, p)
    fq = layer.weight_fq
    with torch.no_grad():
        if fq.follows_tensor:
            fq.observe(torch.from_numpy(np.ascontiguousarray(w_np)))
        new_scale = fq.scale.detach().double().numpy()
    axis = fq.axis if fq.axis is not None else 0
    again = fp.quantize_weight(w_np.astype(np.float64), new_scale, axis)
    bad = int((again != q.astype(np.int64)).sum())
    if bad:
        raise RuntimeError(f"adaround: {layer.owner}: {bad} weight code(s) did not survive being written back "
                           "(the channel scale moved); this is a bug")
    if not math.isfinite(float(np.abs(raw).max())):
        raise RuntimeError(f"adaround: {layer.owner}: non-finite weight written back")


__all__ = ["AdaRoundReport", "LayerResult", "adaround"]
