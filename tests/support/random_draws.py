"""Training-mode equality with eager torch: the same units dropped from the same RNG state.

Why a helper: a dropout moved, fused or re-expressed by the import must draw torch's random numbers in
eager's order, on the same tensors; comparing one forward per seed, bit for bit, is the check every such
test makes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def assert_draws_as_eager(model: nn.Module, imported: nn.Module, x: Tensor, seeds: int = 3, tol: float = 0.0) -> None:
    """Both in train mode, each seed: `imported(x)` equals `model(x)` (within `tol`; 0: bit for bit)."""
    model.train()
    imported.train()
    for seed in range(seeds):
        torch.manual_seed(seed)
        want = model(x)
        torch.manual_seed(seed)
        torch.testing.assert_close(imported(x), want, rtol=tol, atol=tol)
