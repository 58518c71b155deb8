"""torch.nn layers whose forward reads `self.training` follow the prepared model's train/eval mode under
method="export", as the fx import's modules do.

torch.export traces one mode and writes it into the graph as a constant: nn.Dropout becomes
`aten.dropout(x, p, train=<mode>)` (nn.Dropout1d/2d/3d `aten.feature_dropout`, nn.AlphaDropout and
nn.FeatureAlphaDropout their alpha forms) (nn.LSTM/GRU/RNN's dropout between layers and nn.MultiheadAttention's
need_weights=True path too), nn.BatchNorm `aten.batch_norm(..., training=<mode>, ...)` preceded, in training, by
`num_batches_tracked.add_(1)`. Imported as
such, a model prepared in training mode for QAT (users prepare the model they train) kept dropping units and
normalising with the batch's statistics after `qat.eval()`: calibration, VALIDATION and the deployed program were
of a randomly dropped network. `follow_module_modes` rewrites those nodes, when the layer that made them is
torch.nn's own (the node's `nn_module_stack`), into the calls the fx path imports without a fixed flag:
`module_mode_dropout` and runtime/torch/functions.py's `batch_norm` (which counts `num_batches_tracked` itself, so
the graph's `add_` goes).

What stays fixed at the traced mode cannot be told from a user's deliberate constant (`F.dropout(x, p)` drops in
eval too), so in a training-mode trace such an op is refused naming it and the user's line
(`refuse_training_mode_leftovers`): a dropout or batch norm written in the model's own code, and the attention
dropout torch's nn.MultiheadAttention passes to SDPA as a number (dropout_p) only while training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import fx, nn

from irq.frontend.errors import FrontendError, TracingWarning, user_stacklevel
from irq.runtime.torch.functions import batch_norm as module_batch_norm
from irq.runtime.torch.functions import module_mode_dropout

aten = torch.ops.aten
_NN_DROPOUT = "torch.nn.modules.dropout."
#: aten's dropouts -> (hl.dropout's kind, the torch.nn layers that apply it only while training: torch.nn's
#: dropout layers, MultiheadAttention's need_weights path; the recurrent layers are matched by prefix)
_MODE_DROPOUTS = {
    aten.dropout.default: ("dropout", (_NN_DROPOUT + "Dropout", "torch.nn.modules.activation.MultiheadAttention")),
    aten.feature_dropout.default: ("feature_dropout", tuple(_NN_DROPOUT + f"Dropout{n}d" for n in (1, 2, 3))),
    aten.alpha_dropout.default: ("alpha_dropout", (_NN_DROPOUT + "AlphaDropout",)),
    aten.feature_alpha_dropout.default: ("feature_alpha_dropout", (_NN_DROPOUT + "FeatureAlphaDropout",)),
}
_RECURRENT = "torch.nn.modules.rnn."
_BATCH_NORM_LAYERS = "torch.nn.modules.batchnorm."
_DROPOUTS = frozenset(
    {aten.dropout.default, aten.feature_dropout.default, aten.alpha_dropout.default, aten.feature_alpha_dropout.default}
)


def _layer(node: fx.Node) -> str:
    """The qualified class name of the innermost module that made `node` ('' when none did)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    cls = list(stack.values())[-1][1]
    return cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"


def _num_batches_tracked(graph: fx.Graph, running_mean: fx.Node, lifted: dict[fx.Node, str]) -> fx.Node | None:
    """The lifted `num_batches_tracked` buffer of the batch norm whose running mean is `running_mean`."""
    key = lifted.get(running_mean)
    if key is None or not key.endswith("running_mean"):
        return None
    want = key[: -len("running_mean")] + "num_batches_tracked"
    return next((n for n, k in lifted.items() if k == want), None)


def _own_momentum(model: torch.nn.Module | None, running_mean: fx.Node, lifted: dict[fx.Node, str], traced):
    """The batch norm's own `momentum` (None: a cumulative average), found by its running mean's state_dict key;
    the traced number when the layer cannot be found. An eval-mode trace records 0.0 for momentum=None (torch's
    forward passes `exponential_average_factor`), which trained afterwards froze the running statistics."""
    key = lifted.get(running_mean)
    if model is None or key is None or not key.endswith(".running_mean"):
        return traced
    try:
        layer = model.get_submodule(key[: -len(".running_mean")])
    except AttributeError:
        return traced
    return layer.momentum if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) else traced


def follow_module_modes(graph: fx.Graph, lifted: dict[fx.Node, str], model: torch.nn.Module | None = None) -> int:
    """Rewrite torch.nn's dropouts and tracked batch norms to their mode-following calls; the count rewritten.
    `lifted`: export's parameter and buffer placeholders and their state_dict keys; `model`: the exported model,
    whose batch norms' own momentum replaces the traced one."""
    rewritten = 0
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        layer = _layer(node)
        kind, layers = _MODE_DROPOUTS.get(node.target, (None, ()))
        if (
            kind is not None
            and len(node.args) == 3
            and (layer in layers or (kind == "dropout" and layer.startswith(_RECURRENT)))
        ):
            node.target = module_mode_dropout.__irq_wrapped__  # (x, p, train, kind): imported without the flag
            node.args = (*node.args, kind)
            rewritten += 1
        elif node.target is aten.batch_norm.default and layer.startswith(_BATCH_NORM_LAYERS) and not node.kwargs:
            x, weight, bias, mean, var, training, momentum, eps = (*node.args[:8], *[None] * (8 - len(node.args)))
            if not isinstance(mean, fx.Node) or not isinstance(var, fx.Node) or momentum is None:
                continue  # no running statistics: batch statistics in every mode, as traced
            tracked = _num_batches_tracked(graph, mean, lifted)
            if tracked is not None:  # the executor's batch_norm counts the batches itself
                for user in list(tracked.users):
                    if user.target in (aten.add_.Tensor, aten.add.Tensor) and not user.users:
                        graph.erase_node(user)
            node.target = module_batch_norm
            momentum = _own_momentum(model, mean, lifted, momentum)
            node.args = (x, mean, var, weight, bias, tracked, bool(training), momentum, eps)
            rewritten += 1
    return rewritten


def refuse_training_mode_leftovers(graph: fx.Graph, location: Callable[[fx.Node], tuple | None]) -> None:
    """In a graph exported in training mode, refuse an op whose training behaviour export fixed and
    `follow_module_modes` could not free: it would keep training's numbers after `qat.eval()`."""
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        args = node.args
        if node.target in _DROPOUTS:
            fixed = len(args) > 2 and args[2] is True and args[1] != 0
            what = "drops units in eval mode too (its train flag is a constant of the trace)"
        elif node.target is aten.batch_norm.default:
            fixed = len(args) > 5 and args[5] is True and isinstance(args[3], fx.Node)
            what = "normalises with the batch's statistics in eval mode too (its training flag is a constant)"
        elif node.target is aten.scaled_dot_product_attention.default:
            p = args[4] if len(args) > 4 else node.kwargs.get("dropout_p", 0.0)
            fixed = bool(p)
            what = f"keeps its attention dropout (dropout_p={p}) in eval mode too"
        else:
            continue
        if fixed:
            loc = location(node)
            where = f"{loc[0]}:{loc[1]}: " if loc else ""
            layer = _layer(node)
            owner = f" ({layer.rsplit('.', 1)[-1]})" if layer else ""
            raise FrontendError(
                f"{where}{node.target}{owner} {what}: method='export' traced the model in training mode. Call "
                "model.eval() before prepare (and qat_model.train() after it for QAT), or use method='fx'",
                filename=loc[0] if loc else None,
                line=loc[1] if loc else None,
            )


def warn_lost_attention_dropout(model: nn.Module) -> None:
    """Warn when an eval-mode nn.MultiheadAttention with dropout > 0 is exported: torch passes its attention
    dropout to SDPA as a number only while training, so an eval trace records none, and QAT after `qat.train()`
    would train without the dropout eager applies (the fx import decomposes the layer and follows the mode)."""
    lost = [f"'{name}' (dropout={m.dropout})" for name, m in model.named_modules()
            if isinstance(m, nn.MultiheadAttention) and not m.training and m.dropout > 0]
    if lost:
        warnings.warn(TracingWarning(
            f"method='export' of a model in eval mode: nn.MultiheadAttention {', '.join(lost)} "
            "applies its attention dropout only in training, so the exported graph has none, and QAT after "
            "qat.train() would train without it. Prepare with method='fx' (its attention dropout follows "
            "qat.train() / qat.eval()) if you will train the attention; calibration and deployment are unaffected."),
            stacklevel=user_stacklevel())
