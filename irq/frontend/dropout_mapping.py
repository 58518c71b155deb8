"""Which torch callables become `dropout`, and with which `kind`.

Every dropout is the identity in eval, which is how all of them lower; the `kind` only decides what the prepared
model does while training for QAT (runtime/torch/functions.py DROPOUT_KINDS): element-wise, whole channels
(nn.Dropout1d/2d/3d; torch.export records all three as aten.feature_dropout) or SELU's alpha variants. Before they
were mapped, nn.Dropout2d or nn.AlphaDropout stayed an opaque call no march runs, so a CNN that regularises its
feature maps could be prepared and trained but not converted.

A dropout's `training` flag, when the call fixes one, is kept: F.dropout's default is training=True, so
`F.dropout(x, 0.5)` drops in eval too, and lower-bpu refuses it rather than deploy the identity in its place.
Without the flag (torch.nn's layers, irq's own decompositions) the dropout follows the prepared model's mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irq.frontend.emit import _MISSING, Emit, bind
from irq.runtime.torch.functions import module_mode_dropout

#: functional dropouts -> (kind, their `training` default); kind "dropout" is hl.dropout without a kind attribute
_FUNCTIONAL: dict = {
    F.dropout: ("dropout", True),
    F.dropout1d: ("dropout1d", True),
    F.dropout2d: ("dropout2d", True),
    F.dropout3d: ("dropout3d", True),
    F.alpha_dropout: ("alpha_dropout", False),
    F.feature_alpha_dropout: ("feature_alpha_dropout", False),
}
#: torch's own (x, p, train) forms, which torch.export records (aten.<name>.default) and a user may call
_TORCH = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")


def _attrs(p, kind: str, training=None) -> dict:
    attrs = {"p": float(p)}
    if training is not None:
        attrs["training"] = bool(training)
    if kind != "dropout":
        attrs["kind"] = kind
    return attrs


def functional(kind: str, training_default: bool):
    """Handler of F.<kind>(input, p, training, inplace)."""

    def h(args, kwargs):
        b = bind((("input", _MISSING), ("p", 0.5), ("training", training_default), ("inplace", False)), args, kwargs)
        if b is None or not isinstance(b["p"], (int, float)) or not isinstance(b["training"], bool):
            return None
        return Emit("dropout", {"input": b["input"]}, _attrs(b["p"], kind, b["training"]))

    return h


def torch_form(kind: str):
    """Handler of torch.<kind>(input, p, train) (ATen's signature: every argument given)."""

    def h(args, kwargs):
        b = bind((("input", _MISSING), ("p", _MISSING), ("train", _MISSING)), args, kwargs)
        if b is None or not isinstance(b["p"], (int, float)) or not isinstance(b["train"], bool):
            return None
        return Emit("dropout", {"input": b["input"]}, _attrs(b["p"], kind, b["train"]))

    return h


def _module_mode(args, kwargs):
    """`module_mode_dropout(x, p, training, kind)`: a dropout without a `training` flag, so it follows the prepared
    model's train/eval mode (the flag given is only the mode at trace time)."""
    b = bind((("x", _MISSING), ("p", _MISSING), ("training", _MISSING), ("kind", "dropout")), args, kwargs)
    return None if b is None else Emit("dropout", {"input": b["x"]}, _attrs(b["p"], b["kind"]))


def install(functions: dict) -> None:
    """Add the dropout handlers to irq.frontend.mapping's function table."""
    for fn, (kind, training_default) in _FUNCTIONAL.items():
        functions[fn] = functional(kind, training_default)
    for name in _TORCH:
        functions[getattr(torch, name)] = torch_form(name)
    functions[module_mode_dropout.__irq_wrapped__] = _module_mode  # irq.wrap: the original is the node target
