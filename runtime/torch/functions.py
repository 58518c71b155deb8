"""Functions the generated torch modules call where no single torch function fits.

They are plain, differentiable torch code (no TorchScript), called from the
generated fx graph with the module's parameters and buffers as arguments.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from irq.frontend.wrapping import wrap


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
               bias: Tensor | None, num_batches_tracked: Tensor | None, training: bool, momentum: float | None,
               eps: float, sync: bool = False) -> Tensor:
    """nn.BatchNorm's forward as a function: batch statistics (and running-stat updates) when training,
    momentum None meaning a cumulative average over the batches seen (torch.nn.BatchNorm semantics).
    `sync` (an nn.SyncBatchNorm): in training under an initialized process group of more than one
    rank, the batch statistics are those of the global batch (sync_batch_norm)."""
    factor = 0.0 if momentum is None else momentum
    if training and num_batches_tracked is not None:
        num_batches_tracked.add_(1)
        if momentum is None:
            factor = 1.0 / float(num_batches_tracked)
    use_batch = training or (running_mean is None and running_var is None)
    if use_batch and sync and _distributed_world() > 1:
        return sync_batch_norm(x, running_mean, running_var, weight, bias, factor if training else 0.0, eps)
    return F.batch_norm(x, running_mean, running_var, weight, bias, use_batch, factor, eps)


def _distributed_world() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def sync_batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
                    bias: Tensor | None, factor: float, eps: float) -> Tensor:
    """Batch normalization with the statistics of the batch of every rank together (nn.SyncBatchNorm's
    semantics): per-channel sum, sum of squares and count are all-reduced with the differentiable
    all_reduce of torch.distributed.nn, so the backward all-reduces their gradients as well and every
    rank's gradient is that of one process on the concatenated batch. Running statistics are updated
    with the global mean and the unbiased global variance, identically on every rank."""
    from torch.distributed.nn.functional import all_reduce
    dims = [0, *range(2, x.dim())]
    channels = x.shape[1]
    local = torch.cat([x.sum(dims), (x * x).sum(dims),
                       torch.full((1,), float(x.numel() // channels), dtype=x.dtype, device=x.device)])
    total = all_reduce(local)
    n = total[-1]
    mean = total[:channels] / n
    var = torch.clamp(total[channels:2 * channels] / n - mean * mean, min=0.0)
    if running_mean is not None and running_var is not None and factor:
        with torch.no_grad():
            unbiased = var.detach() * (n.detach() / torch.clamp(n.detach() - 1, min=1))
            running_mean.mul_(1 - factor).add_(mean.detach() * factor)
            running_var.mul_(1 - factor).add_(unbiased * factor)
    shape = [1, channels] + [1] * (x.dim() - 2)
    y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def activation(y: Tensor, kind: str | None) -> Tensor:
    if kind is None:
        return y
    if kind == "relu":
        return torch.relu(y)
    if kind == "relu6":
        return F.relu6(y)
    raise ValueError(f"unknown fused activation '{kind}'")


def _weighted_op(kind: str, x: Tensor, weight: Tensor, bias: Tensor | None, options: dict) -> Tensor:
    if kind == "linear":
        return F.linear(x, weight, bias)
    if kind == "conv_transpose2d":
        return F.conv_transpose2d(x, weight, bias, options["stride"], options["padding"], options["output_padding"],
                                  options["groups"], options["dilation"])
    conv = F.conv1d if kind == "conv1d" else F.conv2d
    return conv(x, weight, bias, options["stride"], options["padding"], options["dilation"], options["groups"])


def scale_weight(kind: str, weight: Tensor, scale: Tensor, groups: int = 1) -> Tensor:
    """`weight` with output channel c multiplied by scale[c] (conv: dim 0; conv-transpose: dim 1 per group)."""
    if kind == "conv_transpose2d":
        cin, cout_g = weight.shape[0], weight.shape[1]
        w = weight.reshape(groups, cin // groups, cout_g, *weight.shape[2:])
        s = scale.reshape(groups, 1, cout_g, *([1] * (weight.dim() - 2)))
        return (w * s).reshape(weight.shape)
    return weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))


def fold_batch_norm(kind: str, weight: Tensor, bias: Tensor | None, bn_weight: Tensor | None,
                    bn_bias: Tensor | None, bn_mean: Tensor, bn_var: Tensor, eps: float,
                    groups: int = 1) -> tuple[Tensor, Tensor]:
    """(weight, bias) of the op with an inference batch norm folded in, exactly:

    w' = w * g / sqrt(v + eps),  b' = (b - m) * g / sqrt(v + eps) + beta.
    """
    scale = torch.rsqrt(bn_var + eps)
    if bn_weight is not None:
        scale = bn_weight * scale
    b = bias if bias is not None else torch.zeros_like(bn_mean)
    folded_bias = (b - bn_mean) * scale
    if bn_bias is not None:
        folded_bias = folded_bias + bn_bias
    return scale_weight(kind, weight, scale, groups), folded_bias


def _channel_shape(y: Tensor) -> list[int]:
    shape = [1] * y.dim()
    shape[1] = -1
    return shape


def fused(kind: str, x: Tensor, weight: Tensor, bias: Tensor | None, bn_weight: Tensor | None,
          bn_bias: Tensor | None, bn_mean: Tensor | None, bn_var: Tensor | None,
          bn_num_batches_tracked: Tensor | None, residual: Tensor | None, training: bool, options: dict,
          weight_quant: Callable[[Tensor], Tensor] | None = None, dropout_training: bool = False) -> Tensor:
    """hl's fused conv/conv-transpose/linear: op -> batch norm -> dropout -> + residual -> relu/relu6, all in float.

    Inference folds the batch norm into the weight and bias exactly (fold_batch_norm),
    which is what a deployed fused op computes. Training simulates that folding the way
    torch.ao's ConvBn2d QAT modules do (torch/ao/nn/intrinsic/qat/modules/conv_fused.py,
    `_forward_approximate`): convolve with the weight scaled by gamma / running std,
    undo the scale, add the bias, then batch-normalize with batch statistics, updating
    the running statistics as nn.BatchNorm does. The batch norm keeps its own
    parameters, so training updates them exactly as the unfused model would, and a
    weight fake-quant (`weight_quant`, the qat level) acts on the scaled weight the chip will hold.
    A fused dropout (`options["dropout"]`, its rate) applies where the nn.Dropout was, on the op's branch
    before the residual, while `dropout_training` (the module's mode): the same F.dropout call on the same
    tensor shape, so it draws the same units from the same RNG state as the unfused model.
    """
    groups = options.get("groups") or 1
    wq = weight_quant if weight_quant is not None else identity
    if bn_mean is None:
        y = _weighted_op(kind, x, wq(weight), bias, options)
    elif not training:
        w, b = fold_batch_norm(kind, weight, bias, bn_weight, bn_bias, bn_mean, bn_var, options["bn_eps"], groups)
        y = _weighted_op(kind, x, wq(w), b, options)
    else:
        scale = torch.rsqrt(bn_var + options["bn_eps"])
        if bn_weight is not None:
            scale = bn_weight * scale
        # a zero gamma would divide by zero below; that channel's output is beta either way
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        y = _weighted_op(kind, x, wq(scale_weight(kind, weight, scale, groups)), None, options)
        y = y / scale.reshape(_channel_shape(y))
        if bias is not None:
            y = y + bias.reshape(_channel_shape(y))
        y = batch_norm(y, bn_mean, bn_var, bn_weight, bn_bias, bn_num_batches_tracked, True,
                       options.get("bn_momentum"), options["bn_eps"], bool(options.get("bn_sync")))
    if options.get("dropout"):
        y = F.dropout(y, options["dropout"], dropout_training)
    if residual is not None:
        y = y + residual
    return activation(y, options.get("activation"))


def identity(x: Tensor) -> Tensor:
    return x


def setitem(x: Tensor, index: object, value: object) -> Tensor:
    """`x[index] = value` out of place: what the importer turns an indexed assignment into, so the
    IR's values stay immutable and later readers take this result (irq/frontend/mutation.py)."""
    y = x.clone()
    y[index] = value
    return y


#: hl.dropout's `kind` -> the torch function that applies it, each called as fn(x, p, training). Absent: F.dropout
#: (element-wise). The channel-wise ones zero whole feature maps (F.dropout1d/2d/3d check the input's rank and
#: handle unbatched inputs; torch.feature_dropout is what torch.export records for all three), the alpha ones keep
#: SELU's mean and variance. In eval every kind is the identity, which is how they lower.
DROPOUT_KINDS: dict[str, Callable[[Tensor, float, bool], Tensor]] = {
    "dropout": F.dropout,
    "dropout1d": F.dropout1d,
    "dropout2d": F.dropout2d,
    "dropout3d": F.dropout3d,
    "feature_dropout": torch.feature_dropout,
    "alpha_dropout": F.alpha_dropout,
    "feature_alpha_dropout": F.feature_alpha_dropout,
}


def dropout_function(kind: str | None) -> Callable[[Tensor, float, bool], Tensor]:
    """The torch function of a dropout `kind` (None: element-wise F.dropout); a clear error for an unknown one."""
    fn = DROPOUT_KINDS.get(kind or "dropout")
    if fn is None:
        raise ValueError(f"unknown dropout kind {kind!r}; expected one of {sorted(DROPOUT_KINDS)}")
    return fn


@wrap
def module_mode_dropout(x: Tensor, p: float, training: bool, kind: str = "dropout") -> Tensor:
    """A dropout as a torch.nn layer applies it (nn.LSTM's dropout between layers, nn.MultiheadAttention's on the
    attention weights, nn.Dropout2d or nn.AlphaDropout under method="export"): only while the module is training,
    which torch's forward reads at each call. Opaque to tracing (irq.wrap) so the import maps it to a dropout
    without a fixed `training` flag, which follows the prepared model's train/eval mode as nn.Dropout does; a plain
    `F.dropout(training=m.training)` would keep the mode the model was traced in (a model prepared in training
    mode for QAT then dropped units in eval, calibration and VALIDATION). `kind`: DROPOUT_KINDS."""
    return dropout_function(kind)(x, p, training)


@wrap
def apply_attention_mask(scores: Tensor, mask: Tensor) -> Tensor:
    """Attention scores with a mask applied as nn.MultiheadAttention does: a boolean mask's True
    entries excluded (-inf), a float mask added. Opaque to tracing (irq.wrap): which of the two
    depends on the mask's dtype, which symbolic tracing does not know."""
    if mask.dtype == torch.bool:
        return scores.masked_fill(mask, float("-inf"))
    return scores + mask


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim with a row that is -inf throughout giving 0 for every key, as torch's
    `_safe_softmax` (torch >= 2.5) computes SDPA's and nn.MultiheadAttention's masked rows (a plain softmax: NaN)."""
    return torch.softmax(scores, dim=-1).masked_fill(torch.isneginf(scores).all(-1, keepdim=True), 0.0)


@wrap
def attention_masked_softmax(scores: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None) -> Tensor:
    """softmax(scores, -1) of nn.MultiheadAttention's per-head scores [N, heads, L, S] with its masks applied as
    `apply_attention_mask` does (True / -inf excludes a key): `attn_mask` [L, S] or [N * heads, L, S],
    `key_padding_mask` [N, 1, 1, S]. A query whose masks exclude every key (a sequence that is padding throughout)
    gets probability 0 for every key, as torch's F.multi_head_attention_forward computes it with need_weights=False
    (its SDPA call's `_safe_softmax`, torch >= 2.5), so its output is out_proj's bias; a plain softmax would be NaN
    (what torch's need_weights=True path and its fused fast path return). Opaque to tracing (irq.wrap) for the same
    reason as `apply_attention_mask`; the import turns it into typed ops (irq/frontend/attention_mapping.py)."""
    if attn_mask is not None and attn_mask.dim() == 3:
        attn_mask = attn_mask.reshape(scores.shape)
    for mask in (attn_mask, key_padding_mask):
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return _safe_softmax(scores)


@wrap
def sdpa_masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """softmax(scores, -1) with F.scaled_dot_product_attention's `attn_mask` applied: a boolean mask's True entries
    take part (False -> -inf), a float mask is added. A query whose mask keeps no key gets probability 0 for every
    key, as torch's SDPA computes it (its math backend's `_safe_softmax`, torch >= 2.5), not the NaN of a plain
    softmax over -inf. Opaque to tracing (irq.wrap) for the same reason as `apply_attention_mask`; the import
    turns it into typed ops (irq/frontend/attention_mapping.py)."""
    if mask.dtype == torch.bool:
        scores = scores.masked_fill(mask.logical_not(), float("-inf"))
    else:
        scores = scores + mask
    return _safe_softmax(scores)
