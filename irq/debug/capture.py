"""Running a prepared model in a chosen fake-quant mode per owner and recording each owner's output.

The float reference is the prepared model itself with its fake-quant modules passing tensors through:
fusion folds batch norm exactly in eval mode, so this is the float model's arithmetic, and every
activation is already named by its owner. Every run restores the quantization state it found
(states, scales, statistics), so debugging never changes what freeze or convert would produce."""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from irq.quant.fake_quantize import FakeQuantize, FakeQuantState
from irq.quant.state import QuantizationWarning, fake_quant_modules

#: the modes a FakeQuantize can be put in for a debugging run ("float" passes tensors through)
MODES = ("float", "qat", "validation")


def output_quantizers(model: nn.Module) -> list[FakeQuantize]:
    """The fake-quant modules that quantize an activation (an op's output or a model input)."""
    return [fq for fq in fake_quant_modules(model) if fq.slot != "weight" and not fq.is_marker]


@contextlib.contextmanager
def preserved(model: nn.Module) -> Iterator[None]:
    """Restore every fake-quant module's state, mode and buffers on exit."""
    fqs = fake_quant_modules(model)
    # clones, not copy.deepcopy: a state dict holds tensors only, and deepcopy's memo and storage bookkeeping
    # cost 18 of the 70 s the recipe's demo test took (536 runs x ~55 quantizers x 4 buffers)
    saved = [(fq, fq.state, fq.training, _copied(fq.state_dict())) for fq in fqs]
    training = model.training
    try:
        yield
    finally:
        for fq, state, fq_training, sd in saved:
            fq.load_state_dict(sd)
            fq.state = state
            fq.train(fq_training)
        model.train(training)


def _copied(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of a state dict that later in-place updates of the module cannot reach."""
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in state.items()}


def set_modes(model: nn.Module, mode_of: Callable[[FakeQuantize], str]) -> None:
    """Put each fake-quant module in `mode_of(fq)`, in eval mode so no statistic moves."""
    model.eval()
    for fq in fake_quant_modules(model):
        mode = mode_of(fq)
        if mode not in MODES:
            raise ValueError(f"{fq.path}: unknown debugging mode '{mode}' (expected one of {MODES})")
        # CALIBRATION in eval mode returns its input unchanged: the float pass
        fq.state = {"float": FakeQuantState.CALIBRATION, "qat": FakeQuantState.QAT,
                    "validation": FakeQuantState.VALIDATION}[mode]
        fq.eval()


def as_args(inputs: Any) -> tuple:
    """One batch as the forward's positional arguments: a tensor or array, or a tuple/list of them.

    numpy arrays become tensors: irq.run and .npy files hold numpy, and a user debugging a program
    passes the same batch here."""
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    return tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)


def call_model(model: nn.Module, inputs: Any, who: str) -> Any:
    """`model(*as_args(inputs))` without autograd; a model that rejects the inputs is a ValueError saying
    what `inputs` must be (a list of batches is the usual mistake: it is read as several arguments)."""
    args = as_args(inputs)
    try:
        with torch.no_grad():
            return model(*args)
    except (TypeError, RuntimeError, ValueError, IndexError) as e:
        shapes = ", ".join(str(tuple(a.shape)) if hasattr(a, "shape") else type(a).__name__ for a in args)
        raise ValueError(f"{who}: the model does not run on `inputs` ({len(args)} argument(s): {shapes}); pass "
                         f"one batch: a tensor or array, or a tuple of the forward's inputs "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e


def run_recording(model: nn.Module, inputs: Any, mode_of: Callable[[FakeQuantize], str]
                  ) -> tuple[Any, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """(model output, {quantizer path: (its float input, its output)}) in execution order."""
    records: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(fq: FakeQuantize, args: tuple, out: torch.Tensor) -> None:
        records[fq.path] = (args[0].detach().clone(), out.detach().clone())

    with preserved(model), warnings.catch_warnings():
        # passing float through in eval mode is what a CALIBRATION-after-eval warning is about: intended here
        warnings.simplefilter("ignore", QuantizationWarning)
        set_modes(model, mode_of)
        handles = [fq.register_forward_hook(hook) for fq in output_quantizers(model)]
        try:
            out = call_model(model, inputs, "irq.debug")
        finally:
            for h in handles:
                h.remove()
    return out, records
