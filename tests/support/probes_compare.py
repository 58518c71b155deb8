"""Probes of issue 12's comparisons and clamps by a tensor (support.probe_harness): each spelling (operator,
torch function, Tensor method, ATen overload through export) against eager torch, typed (no opaque call)."""

from __future__ import annotations

import torch

from support.probe_harness import X2, X3, X4, ints, probe

probe("x > 0", lambda m, x: torch.where(x > 0, x, x * 0.1), X3)
probe("x >= y", lambda m, x, y: torch.where(x >= y, x, y), X3, X3)
probe("x < c broadcast", lambda m, x, y: torch.where(y < 0.25, x, -x), X3, (5, 1))
probe("x <= c", lambda m, x: x.masked_fill(x <= -0.5, -0.5), X3)
probe("k == j", lambda m, x, k, j: torch.where(k == j, x, -x), X2, ints(*X2, high=3), ints(*X2, high=3))
probe("k != c", lambda m, x, k: torch.where(k != 1, x, 3.0), X2, ints(*X2, high=3))
probe("0 < x", lambda m, x: torch.where(0 < x, x, 0.0), X3)
probe("torch.gt / ge / lt", lambda m, x, y: torch.where(torch.gt(x, y) & torch.ge(x, 0) | torch.lt(y, -1), x, y),
      X3, X3)
probe("torch.greater / less_equal", lambda m, x, y: torch.where(torch.greater(x, y), torch.where(
    torch.less_equal(x, 0.3), x, y), 1.0), X3, X3)
probe("torch.eq / ne", lambda m, x, k: torch.where(torch.eq(k, 1), 2.0, torch.where(torch.ne(k, 0), 0.0, x)), X2,
      ints(*X2, high=3))
probe("Tensor.gt / le / eq methods", lambda m, x, y: torch.where(x.gt(y), x, y.le(0.1) * 1.0 + x.eq(y) * 2.0),
      X3, X3)
probe("mask == 0 on an int input", lambda m, x, k: x.masked_fill(k[:, None, :] == 0, float("-inf")).softmax(-1),
      X3, ints(2, 6, high=2))
probe("torch.clamp by tensors", lambda m, x, lo, hi: torch.clamp(x, lo, hi + 1.0), X3, X3, (6,))
probe("torch.clamp min tensor", lambda m, x, lo: torch.clamp(x, min=lo), X4, (4, 1, 1))
probe("Tensor.clamp_min / clamp_max tensor", lambda m, x, t: x.clamp_min(t).clamp_max(t + 0.5), X3, X3)
probe("torch.clamp_max tensor", lambda m, x, t: torch.clamp_max(x, t), X3, (5, 1))
probe("torch.greater_equal / less / le", lambda m, x, y: torch.where(torch.greater_equal(x, y), torch.where(
    torch.less(x, 0.5), x, y), torch.where(torch.le(y, x), 1.0, x)), X3, X3)
probe("torch.not_equal", lambda m, x, k: torch.where(torch.not_equal(k, 1), x, 0.0), X2, ints(*X2, high=3))
probe("Tensor.greater / ge / greater_equal", lambda m, x, y: torch.where(x.greater(y), x, torch.where(
    x.ge(0.1), y, torch.where(y.greater_equal(x), 0.5, x))), X3, X3)
probe("Tensor.lt / less / less_equal", lambda m, x, y: torch.where(x.lt(y), x, torch.where(
    x.less(0.1), y, torch.where(y.less_equal(x), 0.5, x))), X3, X3)
probe("Tensor.ne / not_equal", lambda m, x, k: torch.where(k.ne(1), x, torch.where(k.not_equal(2), 0.0, -x)), X2,
      ints(*X2, high=3))
