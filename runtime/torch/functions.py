"""Functions the generated torch modules call where no single torch function fits.

They are plain, differentiable torch code (no TorchScript), called from the
generated fx graph with the module's parameters and buffers as arguments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
               bias: Tensor | None, num_batches_tracked: Tensor | None, training: bool, momentum: float | None,
               eps: float) -> Tensor:
    """nn.BatchNorm's forward as a function: batch statistics (and running-stat updates) when training,
    momentum None meaning a cumulative average over the batches seen (torch.nn.BatchNorm semantics)."""
    factor = 0.0 if momentum is None else momentum
    if training and num_batches_tracked is not None:
        num_batches_tracked.add_(1)
        if momentum is None:
            factor = 1.0 / float(num_batches_tracked)
    use_batch = training or (running_mean is None and running_var is None)
    return F.batch_norm(x, running_mean, running_var, weight, bias, use_batch, factor, eps)


def activation(y: Tensor, kind: str | None) -> Tensor:
    if kind is None:
        return y
    if kind == "relu":
        return torch.relu(y)
    if kind == "relu6":
        return F.relu6(y)
    raise ValueError(f"unknown fused activation '{kind}'")


def fused(kind: str, x: Tensor, weight: Tensor, bias: Tensor | None, bn_weight: Tensor | None,
          bn_bias: Tensor | None, bn_mean: Tensor | None, bn_var: Tensor | None,
          bn_num_batches_tracked: Tensor | None, residual: Tensor | None, training: bool, options: dict) -> Tensor:
    """hl's fused conv/conv-transpose/linear: op -> batch norm -> + residual -> relu/relu6, all in float.

    The batch norm keeps its own parameters (it is not folded into the weight), so
    training updates them exactly as the unfused model would.
    """
    if kind == "linear":
        y = F.linear(x, weight, bias)
    elif kind == "conv_transpose2d":
        y = F.conv_transpose2d(x, weight, bias, options["stride"], options["padding"], options["output_padding"],
                               options["groups"], options["dilation"])
    else:
        conv = F.conv1d if kind == "conv1d" else F.conv2d
        y = conv(x, weight, bias, options["stride"], options["padding"], options["dilation"], options["groups"])
    if bn_mean is not None:
        y = batch_norm(y, bn_mean, bn_var, bn_weight, bn_bias, bn_num_batches_tracked, training,
                       options.get("bn_momentum"), options["bn_eps"])
    if residual is not None:
        y = y + residual
    return activation(y, options.get("activation"))


def identity(x: Tensor) -> Tensor:
    return x
