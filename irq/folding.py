"""Batch-norm folding in float64, rounded once to float32: the one definition of a folded weight.

VALIDATION (irq.quant.validation) and freeze (passes/freeze_quant.py) both fold with this
function, so the frozen program's weights are bit for bit the weights VALIDATION quantized and
its re-execution gives the same outputs. (The float QAT forward folds in float32 torch ops, as
torch.ao does; it only feeds fake quantization, never the deployed numbers.)

    w' = w * g / sqrt(v + eps)          per output channel
    b' = (b - m) * g / sqrt(v + eps) + beta

Only numpy; no torch.
"""

from __future__ import annotations

import numpy as np


def fold_batch_norm(kind: str, weight, bias, bn_weight, bn_bias, bn_mean, bn_var, eps: float,
                    groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(folded weight, folded bias) as float32 arrays; `kind` is conv1d/conv2d/conv_transpose2d/linear."""
    w = np.asarray(weight, dtype=np.float64)
    mean = np.asarray(bn_mean, dtype=np.float64)
    scale = 1.0 / np.sqrt(np.asarray(bn_var, dtype=np.float64) + float(eps))
    if bn_weight is not None:
        scale = np.asarray(bn_weight, dtype=np.float64) * scale
    b = np.zeros_like(mean) if bias is None else np.asarray(bias, dtype=np.float64)
    folded_bias = (b - mean) * scale
    if bn_bias is not None:
        folded_bias = folded_bias + np.asarray(bn_bias, dtype=np.float64)
    if kind == "conv_transpose2d":
        cin, cout_g = w.shape[0], w.shape[1]
        wg = w.reshape(groups, cin // groups, cout_g, *w.shape[2:])
        sg = scale.reshape(groups, 1, cout_g, *([1] * (w.ndim - 2)))
        folded = (wg * sg).reshape(w.shape)
    else:
        folded = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
    return folded.astype(np.float32), folded_bias.astype(np.float32)
