"""A fixed torch thread count for the post-training steps whose result must not depend on the machine.

torch splits a large convolution's sums (and its weight gradients) differently on 1 and 2 threads, so
float activations differ in their last bits (MobileNetV2's logits by ~6e-6 between 1 and 2 threads).
Observers that pick a clip from a histogram, and AdaRound's Adam steps, then see other numbers and
can choose other scales and other roundings: the same model and calibration data gave a program with
top-1 agreement 0.898 on one thread and 0.883 on two (bench/ptq_levers.py vs the demo). Running those
steps on a fixed count makes the program a function of the model and the data only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on `n` torch threads (None: as the caller set), restoring the caller's count."""
    if n is None:
        yield
        return
    if n < 1:
        raise ValueError(f"threads must be >= 1 (or None), got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["torch_threads"]
