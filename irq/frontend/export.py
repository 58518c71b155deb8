"""method="export": torch.export for models symbolic tracing cannot take (HF transformers).

torch.export yields ATen ops (aten.linear, aten.layer_norm, ...) with exact shapes in
each node's `val`; they map to the same torch-dialect ops the fx path produces, and
anything else stays a `torch.call "torch.ops.aten.x.overload"`. Parameters and
buffers are export's lifted placeholders, renamed back to their state_dict keys.
Module paths come from `nn_module_stack`, source positions from `stack_trace`.

The batch dimension (dimension 0 of every tensor input) is exported dynamic
(`Dim.AUTO`), as method="fx" records traced sizes: a `view(x.size(0), ...)` becomes a
`torch.size` operand, not the example's batch baked into the reshape, so the prepared
module and the converted program run any batch size. IR types keep the example's sizes
(every IR type is static; the runtimes substitute the batch). torch.export specializes a
size of 1 (its 0/1 rule), so an example batch of 1 is exported as two copies of each sample and
every traced size is then evaluated with the batch symbols at 1: the IR keeps the user's batch of
1, the graph stays dynamic. Where a reshape would be misread at batch 1 (attention's `[L*N, E] -> [L, N, E]`:
a size-1 batch hides in any merge) the IR is typed at the doubled batch 2 instead, unambiguous for the
runtimes' batch-axis rule. A batch the model's code fixes is exported static: that program keeps it.
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.utils import _pytree as pytree

from irq.batch_fixed import BATCH_FIXED_AT_ATTR, BATCH_FIXED_ATTR, CONSTANT_INPUTS_ATTR, SIZES_FIXED_ATTR
from irq.dialects.builtin import ModuleOp
from irq.frontend import cast_mapping, compare_mapping, logic_mapping
from irq.frontend.arg_reduce import arg_reduce_as_indices
from irq.frontend.convert import GraphConverter
from irq.frontend.decompose_rnn import sequence_lengths, unrolled_forwards
from irq.frontend.errors import FrontendError, is_user_file
from irq.frontend.export_batch import (
    batch_in_literal_shapes,
    batch_use_not_followed,
    describe,
    outputs_lead_with_the_batch,
    reshape_not_following_the_batch,
    size_at_example,
    symbolic_dims,
    traced_batch,
)
from irq.frontend.export_index_by_arange import index_by_arange
from irq.frontend.export_modes import (
    follow_module_modes,
    module_batch_norm,
    refuse_training_mode_leftovers,
    warn_lost_attention_dropout,
)
from irq.frontend.export_rewrites import bool_attention_masks, infer_computed_sizes, values_of_adaptive_max
from irq.frontend.mapping import _MISSING, FUNCTIONS, METHODS, Emit, basic_indexing_chain, batch_norm_emit, bind
from irq.frontend.mutation import aten_allocates, model_mutations
from irq.frontend.propagate import annotate
from irq.frontend.select_mapping import _vector_norm
from irq.frontend.select_mapping import aten_index as _index
from irq.frontend.view_mapping import unflatten_emit
from irq.ir.attributes import ArrayAttr, FloatAttr, IntegerAttr, StringAttr, UnitAttr
from irq.ir.types import ShapedType, f64, i64
from irq.runtime.torch.functions import module_mode_dropout, sdpa_masked_softmax

aten = torch.ops.aten
log = logging.getLogger("irq")


def _layer_norm(args, kwargs):
    b = bind((("input", _MISSING), ("normalized_shape", _MISSING), ("weight", None), ("bias", None), ("eps", 1e-5),
              ("cudnn_enable", True)), args, kwargs)
    if b is None:
        return None
    return Emit("layer_norm", {"input": b["input"], "weight": b["weight"], "bias": b["bias"]},
                {"normalized_shape": list(b["normalized_shape"]), "eps": float(b["eps"])})


def _embedding(args, kwargs):
    b = bind((("weight", _MISSING), ("indices", _MISSING), ("padding_idx", -1), ("scale_grad_by_freq", False),
              ("sparse", False)), args, kwargs)
    if b is None or b["scale_grad_by_freq"] or b["sparse"]:
        return None
    attrs = {} if b["padding_idx"] in (None, -1) else {"padding_idx": b["padding_idx"]}
    return Emit("embedding", {"input": b["indices"], "weight": b["weight"]}, attrs)


def _slice(args, kwargs):
    b = bind((("input", _MISSING), ("dim", 0), ("start", None), ("end", None), ("step", 1)), args, kwargs)
    if b is None or any(isinstance(b[k], fx.Node) for k in ("dim", "start", "end", "step")):
        return None
    return Emit("slice", {"input": b["input"]}, {"dim": b["dim"], "start": b["start"], "end": b["end"],
                                                 "step": b["step"]})


def _select(args, kwargs):
    b = bind((("input", _MISSING), ("dim", _MISSING), ("index", _MISSING)), args, kwargs)
    if b is None or isinstance(b["index"], fx.Node):
        return None
    t = b["input"].meta.get("irq_type") if isinstance(b["input"], fx.Node) else None
    rank = len(t.shape) if isinstance(t, ShapedType) else None
    if rank is not None and isinstance(b["dim"], int):  # as x[..., i, ...]: slice + squeeze, ops marches run
        dim = b["dim"] % rank
        return basic_indexing_chain(b["input"], (slice(None),) * dim + (b["index"],))
    return Emit("select", {"input": b["input"]}, {"dim": b["dim"], "index": b["index"]})


def _rsub(args, kwargs):
    b = bind((("input", _MISSING), ("other", _MISSING), ("alpha", 1)), args, kwargs)
    if b is None or b["alpha"] != 1 or not isinstance(b["other"], (int, float)) or isinstance(b["other"], bool):
        return None
    return Emit("rsub_scalar", {"input": b["input"]}, {"other": b["other"]})


def _batch_norm(args, kwargs):
    b = bind((("input", _MISSING), ("weight", None), ("bias", None), ("running_mean", None), ("running_var", None),
              ("training", False), ("momentum", 0.1), ("eps", 1e-5), ("cudnn_enabled", True)), args, kwargs)
    return None if b is None else batch_norm_emit(b)


def _module_batch_norm(args, kwargs):
    """nn.BatchNorm with running statistics as export_modes rewrote it (runtime/torch/functions.py's batch_norm
    arguments): the op without a `training` flag, so it follows the prepared model's mode as fx's nn.BatchNorm
    does, counting `num_batches_tracked` in training."""
    if kwargs or len(args) != 9:
        return None
    x, mean, var, weight, bias, tracked, _traced_mode, momentum, eps = args
    ops = {"input": x, "weight": weight, "bias": bias, "running_mean": mean, "running_var": var}
    if tracked is not None:
        ops["num_batches_tracked"] = tracked
    attrs = {"eps": float(eps)} if momentum is None else {"eps": float(eps), "momentum": float(momentum)}
    return Emit("batch_norm", ops, attrs)  # no momentum: a cumulative average (nn.BatchNorm's momentum=None)


def _instance_norm(args, kwargs):
    b = bind((("input", _MISSING), ("weight", None), ("bias", None), ("running_mean", None), ("running_var", None),
              ("use_input_stats", True), ("momentum", 0.1), ("eps", 1e-5), ("cudnn_enabled", True)), args, kwargs)
    if b is None:
        return None
    return FUNCTIONS[F.instance_norm]((b["input"], b["running_mean"], b["running_var"], b["weight"], b["bias"],
                                       b["use_input_stats"], b["momentum"], b["eps"]), {})


def _group_norm(args, kwargs):
    b = bind((("input", _MISSING), ("num_groups", _MISSING), ("weight", None), ("bias", None), ("eps", 1e-5),
              ("cudnn_enabled", True)), args, kwargs)
    if b is None:
        return None
    return Emit("group_norm", {"input": b["input"], "weight": b["weight"], "bias": b["bias"]},
                {"num_groups": b["num_groups"], "eps": float(b["eps"])})


def _reciprocal(args, kwargs):
    return Emit("rdiv_scalar", {"input": args[0]}, {"other": 1.0}) if len(args) == 1 and not kwargs else None


def _elu(args, kwargs):
    """aten.elu(input, alpha, scale, input_scale): F.elu's op when scale and input_scale are 1 (F.elu passes
    only alpha; other values come from a hand-written aten call and stay opaque)."""
    b = bind((("input", _MISSING), ("alpha", 1.0), ("scale", 1.0), ("input_scale", 1.0)), args, kwargs)
    if b is None or b["scale"] != 1 or b["input_scale"] != 1:
        return None
    return FUNCTIONS[F.elu]((b["input"], b["alpha"]), {})


def _upsample(mode: str, has_align: bool):
    """aten.upsample_*2d.vec(input, output_size, [align_corners,] scale_factors) as F.interpolate's op."""
    def h(args, kwargs):
        names = (("input", _MISSING), ("output_size", None), *((("align_corners", None),) if has_align else ()),
                 ("scale_factors", None))
        b = bind(names, args, kwargs)
        if b is None:
            return None
        return FUNCTIONS[F.interpolate]((b["input"],), {"size": b["output_size"], "scale_factor": b["scale_factors"],
                                                         "mode": mode, "align_corners": b.get("align_corners")})
    return h


def _unflatten(args, kwargs):
    """aten.unflatten(input, dim, sizes): the reshape of `unflatten_emit`, -1 on the axis the exported shapes
    say holds the batch (a static reshape baked the traced batch in: another batch failed inside torch)."""
    b = bind((("input", _MISSING), ("dim", _MISSING), ("sizes", _MISSING)), args, kwargs)
    if b is None:
        return None
    val = b["input"].meta.get("val") if isinstance(b["input"], fx.Node) else None
    if not isinstance(val, torch.Tensor):
        return None
    batch = symbolic_dims(val)  # where the dynamic batch is (none: a static export or no batch; -1 stays exact)
    if len(batch) > 1:
        return None
    return unflatten_emit(b["input"], b["dim"], b["sizes"], batch[0] if batch else 0)


ATEN: dict[Any, Any] = {
    aten.batch_norm.default: _batch_norm, aten.relu_.default: FUNCTIONS[torch.relu],
    aten.add_.Tensor: FUNCTIONS[torch.add], aten.mul_.Tensor: FUNCTIONS[torch.mul],
    aten.hardtanh_.default: FUNCTIONS[F.hardtanh], aten.squeeze.dim: FUNCTIONS[torch.squeeze],
    aten.linear.default: FUNCTIONS[F.linear], aten.conv2d.default: FUNCTIONS[F.conv2d],
    aten.conv1d.default: FUNCTIONS[F.conv1d], aten.layer_norm.default: _layer_norm,
    aten.gelu.default: FUNCTIONS[F.gelu], aten.relu.default: FUNCTIONS[torch.relu],
    aten.sigmoid.default: FUNCTIONS[torch.sigmoid], aten.tanh.default: FUNCTIONS[torch.tanh],
    aten.hardtanh.default: FUNCTIONS[F.hardtanh], aten.hardswish.default: FUNCTIONS[F.hardswish],
    aten.silu.default: FUNCTIONS[F.silu], aten.exp.default: FUNCTIONS[torch.exp],
    aten.add.Tensor: FUNCTIONS[torch.add], aten.sub.Tensor: FUNCTIONS[torch.sub], aten.mul.Tensor: FUNCTIONS[torch.mul],
    aten.div.Tensor: FUNCTIONS[torch.div], aten.rsub.Scalar: _rsub,
    aten.matmul.default: FUNCTIONS[torch.matmul], aten.bmm.default: FUNCTIONS[torch.bmm],
    aten.einsum.default: FUNCTIONS[torch.einsum], aten.addmm.default: FUNCTIONS[torch.addmm],
    aten.baddbmm.default: FUNCTIONS[torch.baddbmm],
    aten.view.default: METHODS["view"], aten.reshape.default: FUNCTIONS[torch.reshape],
    aten.transpose.int: FUNCTIONS[torch.transpose], aten.permute.default: FUNCTIONS[torch.permute],
    aten.unsqueeze.default: FUNCTIONS[torch.unsqueeze], aten.flatten.using_ints: FUNCTIONS[torch.flatten],
    aten.softmax.int: FUNCTIONS[torch.softmax], aten.cat.default: FUNCTIONS[torch.cat],
    aten.dropout.default: FUNCTIONS[F.dropout], aten.feature_dropout.default: FUNCTIONS[torch.feature_dropout],
    aten.alpha_dropout.default: FUNCTIONS[torch.alpha_dropout],
    aten.feature_alpha_dropout.default: FUNCTIONS[torch.feature_alpha_dropout],
    aten.embedding.default: _embedding, aten.slice.Tensor: _slice,
    aten.select.int: _select, aten.mean.dim: FUNCTIONS[torch.mean], aten.contiguous.default: METHODS["contiguous"],
    aten.max_pool2d.default: FUNCTIONS[F.max_pool2d], aten.avg_pool2d.default: FUNCTIONS[F.avg_pool2d],
    aten.adaptive_avg_pool2d.default: FUNCTIONS[F.adaptive_avg_pool2d],
    aten.max_pool1d.default: FUNCTIONS[F.max_pool1d], aten.avg_pool1d.default: FUNCTIONS[F.avg_pool1d],
    aten.adaptive_avg_pool1d.default: FUNCTIONS[F.adaptive_avg_pool1d], aten.clamp.default: FUNCTIONS[torch.clamp],
    aten.clamp_min.default: FUNCTIONS[torch.clamp_min], aten.clamp_max.default: FUNCTIONS[torch.clamp_max],
    aten.zeros_like.default: FUNCTIONS[torch.zeros_like], aten.ones_like.default: FUNCTIONS[torch.ones_like],
    aten.full_like.default: FUNCTIONS[torch.full_like], aten.where.self: FUNCTIONS[torch.where],
    aten.where.ScalarOther: FUNCTIONS[torch.where], aten.where.ScalarSelf: FUNCTIONS[torch.where],
    aten.masked_fill.Scalar: FUNCTIONS[torch.masked_fill],
    aten.maximum.default: FUNCTIONS[torch.maximum], aten.minimum.default: FUNCTIONS[torch.minimum],
    aten.roll.default: FUNCTIONS[torch.roll], aten.cumsum.default: FUNCTIONS[torch.cumsum],
    aten.topk.default: FUNCTIONS[torch.topk], aten.pixel_shuffle.default: FUNCTIONS[F.pixel_shuffle],
    aten.pixel_unshuffle.default: FUNCTIONS[F.pixel_unshuffle], aten.prelu.default: FUNCTIONS[F.prelu],
    aten.instance_norm.default: _instance_norm,
    aten.split.Tensor: FUNCTIONS[torch.split], aten.chunk.default: FUNCTIONS[torch.chunk],
    aten.split_with_sizes.default: FUNCTIONS[torch.split], aten.relu6.default: FUNCTIONS[F.relu6],
    aten.leaky_relu.default: FUNCTIONS[F.leaky_relu], aten.hardsigmoid.default: FUNCTIONS[F.hardsigmoid],
    aten.neg.default: FUNCTIONS[torch.neg], aten.sqrt.default: FUNCTIONS[torch.sqrt],
    aten.rsqrt.default: FUNCTIONS[torch.rsqrt], aten.abs.default: FUNCTIONS[torch.abs],
    aten.log_softmax.int: FUNCTIONS[torch.log_softmax], aten.clip.default: FUNCTIONS[torch.clamp],
    aten.reciprocal.default: _reciprocal, aten.div.Tensor_mode: FUNCTIONS[torch.div],
    aten.floor_divide.default: FUNCTIONS[torch.floor_divide], aten.floor_divide_.Tensor: FUNCTIONS[torch.floor_divide],
    aten.concat.default: FUNCTIONS[torch.cat], aten.stack.default: FUNCTIONS[torch.stack],
    aten.squeeze.default: FUNCTIONS[torch.squeeze], aten.squeeze.dims: FUNCTIONS[torch.squeeze],
    aten.upsample_nearest2d.vec: _upsample("nearest", False), aten.upsample_bilinear2d.vec: _upsample("bilinear", True),
    aten.upsample_bicubic2d.vec: _upsample("bicubic", True),
    aten._upsample_nearest_exact2d.vec: _upsample("nearest-exact", False),
    aten.pad.default: FUNCTIONS[F.pad], aten.mean.default: FUNCTIONS[torch.mean],
    aten.sum.default: FUNCTIONS[torch.sum], aten.sum.dim_IntList: FUNCTIONS[torch.sum],
    aten.conv2d.padding: FUNCTIONS[F.conv2d], aten.conv1d.padding: FUNCTIONS[F.conv1d],
    aten.conv_transpose2d.input: FUNCTIONS[F.conv_transpose2d], aten.group_norm.default: _group_norm,
    aten.unflatten.int: _unflatten, aten.sigmoid_.default: FUNCTIONS[torch.sigmoid],
    aten.scaled_dot_product_attention.default: FUNCTIONS[F.scaled_dot_product_attention],
    aten.elu.default: _elu, aten.celu.default: FUNCTIONS[F.celu], aten.selu.default: FUNCTIONS[F.selu],
    aten.softplus.default: FUNCTIONS[F.softplus], aten.mish.default: FUNCTIONS[F.mish],
    aten.log_sigmoid.default: FUNCTIONS[F.logsigmoid], aten.hardshrink.default: FUNCTIONS[F.hardshrink],
    aten.softshrink.default: FUNCTIONS[F.softshrink], aten.erf.default: FUNCTIONS[torch.erf],
    aten.sin.default: FUNCTIONS[torch.sin], aten.cos.default: FUNCTIONS[torch.cos],
    aten.pow.Tensor_Scalar: FUNCTIONS[torch.pow], aten.square.default: FUNCTIONS[torch.square],
    aten.pow_.Scalar: FUNCTIONS[torch.pow],  # `x **= 3`: the in-place overload has another name than pow's
    aten.t.default: FUNCTIONS[torch.t], aten.swapaxes.default: FUNCTIONS[torch.swapaxes],
    aten.swapdims.default: FUNCTIONS[torch.swapdims], aten.narrow.default: FUNCTIONS[torch.narrow],
    aten.unbind.int: FUNCTIONS[torch.unbind],
    # issue 12: selections, broadcasts and statistics (irq/frontend/select_mapping.py)
    aten.flip.default: FUNCTIONS[torch.flip], aten.expand.default: METHODS["expand"],
    aten.expand_as.default: METHODS["expand_as"], aten.repeat.default: METHODS["repeat"],
    aten.index_select.default: FUNCTIONS[torch.index_select], aten.index.Tensor: _index,
    aten.gather.default: FUNCTIONS[torch.gather],
    aten.amax.default: FUNCTIONS[torch.amax], aten.amin.default: FUNCTIONS[torch.amin],
    aten.max.dim: FUNCTIONS[torch.max], aten.min.dim: FUNCTIONS[torch.min], aten.max.default: FUNCTIONS[torch.max],
    aten.min.default: FUNCTIONS[torch.min], aten.max.other: FUNCTIONS[torch.maximum],
    aten.min.other: FUNCTIONS[torch.minimum], aten.var.correction: FUNCTIONS[torch.var],
    aten.std.correction: FUNCTIONS[torch.std], aten.var.dim: FUNCTIONS[torch.var], aten.std.dim: FUNCTIONS[torch.std],
    aten.var.default: FUNCTIONS[torch.var], aten.std.default: FUNCTIONS[torch.std],
    aten.linalg_vector_norm.default: _vector_norm,
}
ATEN.update(compare_mapping.aten_entries(aten, FUNCTIONS))  # issue 12: comparisons, clamps by a tensor
ATEN.update(logic_mapping.aten_entries(aten))  # issue 12: logic on masks
ATEN.update(cast_mapping.aten_entries())  # aten.to / _to_copy: the identity, or != 0 to bool
# In-place ATen variants (add_, relu_...) compute what their out-of-place op does; model_mutations
# gives later readers their result, so they map to the same typed op.
for _op in list(ATEN):
    _inplace = getattr(getattr(aten, f"{_op._opname}_", None), _op._overloadname, None)
    if _inplace is not None:
        ATEN.setdefault(_inplace, ATEN[_op])
ATEN[F.adaptive_max_pool2d] = FUNCTIONS[F.adaptive_max_pool2d]  # aten.adaptive_max_pool2d's values (export_rewrites)
ATEN[module_mode_dropout.__irq_wrapped__] = FUNCTIONS[module_mode_dropout.__irq_wrapped__]  # follow_module_modes
ATEN[module_batch_norm] = _module_batch_norm  # follow_module_modes
ATEN[sdpa_masked_softmax.__irq_wrapped__] = FUNCTIONS[sdpa_masked_softmax.__irq_wrapped__]  # bool_attention_masks

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _location(stack_trace: str | None) -> tuple[str, int, int] | None:
    """The innermost user frame of an export stack trace (the last frame outside torch)."""
    if not stack_trace:
        return None
    frames = [(f, int(line)) for f, line in _FRAME.findall(stack_trace)]
    for f, line in reversed(frames):
        if is_user_file(f):
            return f, line, 1
    return None


def _scope(node: fx.Node) -> tuple[str, str | None]:
    """(enclosing module path, the path itself when the innermost module is a torch.nn layer)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", None
    path, cls = list(stack.values())[-1]
    if path.startswith("_empty_nn_module_stack"):  # export's placeholder for nodes no module owns (sym_size)
        return "", None
    cls_name = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    path = path.replace("L['self'].", "").replace("L__self__", "")
    leaf = cls_name.startswith("torch.nn.modules.") and not cls_name.startswith(_COMPOSITE_LAYERS)
    return path, (path if leaf else None)


#: torch.nn layers whose forward is many ops (attention, recurrences, encoder layers): their ops are scoped to the
#: layer, as fx's decompositions scope them, not each given the layer as its module (one owner, one weight
#: quantizer, shared by the in- and out-projections of an attention: the prepared module failed to calibrate).
_COMPOSITE_LAYERS = ("torch.nn.modules.activation.MultiheadAttention", "torch.nn.modules.rnn.",
                     "torch.nn.modules.transformer.")


def _batch_dynamic(value: Any) -> Any:
    """The dynamic_shapes entry of one export input: dimension 0 of each tensor in it is the batch."""
    if isinstance(value, torch.Tensor):
        return {0: torch.export.Dim.AUTO} if value.dim() > 0 else None
    if isinstance(value, (list, tuple)):
        return type(value)(_batch_dynamic(v) for v in value)
    if isinstance(value, dict):
        return {k: _batch_dynamic(v) for k, v in value.items()}
    return None


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _two_samples(value: Any) -> Any:
    """`value` with each tensor's single sample repeated along dimension 0 (a batch of 2)."""
    if isinstance(value, torch.Tensor):
        return value.repeat(2, *([1] * (value.dim() - 1))) if value.dim() > 0 else value
    if isinstance(value, (list, tuple)):
        return type(value)(_two_samples(v) for v in value)
    if isinstance(value, dict):
        return {k: _two_samples(v) for k, v in value.items()}
    return value


def _batch_of_one(inputs: tuple, kwargs: dict[str, Any]) -> bool:
    """Whether every tensor input has batch 1 (dimension 0), the size torch.export would specialize."""
    tensors = [t for t in _tensors(list(inputs)) + _tensors(kwargs) if t.dim() > 0]
    return bool(tensors) and all(t.shape[0] == 1 for t in tensors)


def _export(model: nn.Module, inputs: tuple,
            kwargs: dict[str, Any]) -> tuple[torch.export.ExportedProgram, bool, str | None]:
    """torch.export with a dynamic batch dimension; if the model's code rejects one (a constraint
    export cannot express) or computes with the batch size, the export of the example's static shapes.
    The flag says the dynamic export traced two copies of a batch-1 example (its symbolic sizes are to be
    read at batch 1); the text names the op that fixes a static export's batch, where the dynamic graph
    tells it (None: a dynamic export, or the dynamic export failed)."""
    with unrolled_forwards(sequence_lengths(model, inputs, kwargs)):  # nn.GRU / LSTM / RNN as their equations
        return _export_dynamic_or_static(model, inputs, kwargs)


def _user_location(node: fx.Node) -> tuple[str, int, int] | None:
    return _location(node.meta.get("stack_trace"))


def _export_dynamic_or_static(model: nn.Module, inputs: tuple,
                              kwargs: dict[str, Any]) -> tuple[torch.export.ExportedProgram, bool, str | None]:
    fixed_by = None
    try:
        names = list(inspect.signature(model.forward).bind(*inputs, **kwargs).arguments)
        dims = dict(zip(names, [_batch_dynamic(a) for a in inputs] + [_batch_dynamic(v) for v in kwargs.values()]))
        doubled = _batch_of_one(inputs, kwargs)
        ex_inputs, ex_kwargs = (_two_samples(inputs), _two_samples(kwargs)) if doubled else (inputs, kwargs)
        ep = torch.export.export(model, ex_inputs, ex_kwargs, dynamic_shapes=dims)
        infer_computed_sizes(ep.graph)  # `view(q, [L, bsz * heads, d])` -> [L, -1, d]
        index_by_arange(ep.graph)  # Hugging Face's `mask[arange(B)[:, None, None, None], arange(S)]`: views
        culprit = batch_use_not_followed(ep.graph)
        if culprit is None and doubled:
            culprit = reshape_not_following_the_batch(ep.graph)
            if culprit is not None and outputs_lead_with_the_batch(ep.graph):
                return ep, False, None  # typed at the doubled batch 2, where the batch's axis has one reading
        if culprit is None:
            return ep, doubled, None
        fixed_by = describe(culprit, _user_location)
        log.info("torch.export with a dynamic batch computes with the batch size (%s); exporting static shapes",
                 fixed_by)
    except Exception as e:  # noqa: BLE001 - the static export below reports what fails for good
        log.info("torch.export with a dynamic batch failed (%s: %s); exporting static shapes",
                 type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    try:
        return torch.export.export(model, inputs, kwargs), False, fixed_by
    except Exception as e:  # noqa: BLE001 - report with the user's line, as for fx
        from irq.frontend.importer import _trace_error
        raise _trace_error(model, e, method="export") from e


def _example_value(val: Any, batch_one: bool = False) -> Any:
    """A node's `val` with its symbolic sizes replaced by their values on the example inputs:
    IR types are static (the runtimes substitute the batch), and int() on a SymInt would add a guard."""
    if isinstance(val, torch.SymInt):
        return size_at_example(val, batch_one)
    if isinstance(val, torch.Tensor) and any(isinstance(d, torch.SymInt) for d in val.shape):
        shape = [size_at_example(d, batch_one) if isinstance(d, torch.SymInt) else int(d) for d in val.shape]
        return torch.empty(shape, dtype=val.dtype, device="meta")
    if isinstance(val, (list, tuple)) and not isinstance(val, torch.Size):
        return type(val)(_example_value(v, batch_one) for v in val)
    if isinstance(val, torch.Size):
        return torch.Size(_example_value(list(val), batch_one))
    return val


def import_exported(model: nn.Module, inputs: tuple, kwargs: dict[str, Any]) -> ModuleOp:
    if len(inputs) == 1 and isinstance(inputs[0], dict) and not kwargs:
        inputs, kwargs = (), dict(inputs[0])
    warn_lost_attention_dropout(model)
    ep, batch_one, fixed_by = _export(model, inputs, kwargs)
    sig = ep.graph_signature
    graph = ep.graph
    by_name = {n.name: n for n in graph.nodes if n.op == "placeholder"}
    params = {k for k, _ in model.named_parameters(remove_duplicate=False)}
    model_state = model.state_dict(keep_vars=True)
    state: dict[str, tuple[torch.Tensor, str | None]] = {}
    for k in model_state:
        t = ep.state_dict.get(k)
        if isinstance(t, torch.Tensor):
            state[k] = (t, None if k in params else "buffer")
    constants = {k: v for k, v in ep.constants.items() if isinstance(v, torch.Tensor)}
    lifted: dict[fx.Node, str] = {}
    user: list[fx.Node] = []
    for spec in sig.input_specs:
        node = by_name[spec.arg.name]
        kind = spec.kind.name
        if kind == "USER_INPUT":
            user.append(node)
        elif spec.target is not None:
            lifted[node] = spec.target
            if spec.target not in state and spec.target not in constants:
                t = ep.state_dict.get(spec.target)
                if isinstance(t, torch.Tensor):
                    state[spec.target] = (t, "parameter" if kind == "PARAMETER" else "constant")
        else:
            raise FrontendError(f"torch.export input '{spec.arg.name}' of kind {kind} is not supported")
    for key, (t, kind) in list(state.items()):
        if kind == "parameter":
            state[key] = (t, None)
    values_of_adaptive_max(graph, lambda n: _location(n.meta.get("stack_trace")))
    bool_attention_masks(graph)  # nn.MultiheadAttention's 0 / -inf float masks back to the bool ones
    arg_reduce_as_indices(graph)  # aten.argmax / argmin over a dim: the indices of aten.max / min.dim
    for node in graph.nodes:
        val = node.meta.get("val")
        if node.op == "output":
            continue
        annotate(node, _example_value(val, batch_one))
        scope, module = _scope(node)
        node.meta["irq_scope"] = scope
        if module:
            node.meta["irq_module"] = module
        node.meta["irq_loc"] = _location(node.meta.get("stack_trace"))
    _drop_constant_copies(graph)
    # the training-IR graph keeps in-place ATen ops (add_, relu_...): make their effect explicit
    model_mutations(graph, {}, aten_allocates, state=lifted)
    follow_module_modes(graph, lifted, model)  # nn.Dropout / nn.BatchNorm follow the prepared model's train/eval mode
    if model.training:  # what torch.export fixed at training and follow_module_modes cannot free
        refuse_training_mode_leftovers(graph, _user_location)
    out_node = next(n for n in graph.nodes if n.op == "output")
    user_out = [a for a, s in zip(out_node.args[0], sig.output_specs) if s.kind.name == "USER_OUTPUT"]
    out_node.args = (_user_structure(user_out, ep.call_spec.out_spec),)

    def dispatch(node: fx.Node) -> list[Emit] | None:
        if node.op != "call_function":
            return None
        h = ATEN.get(node.target)
        e = h(node.args, node.kwargs) if h is not None else None
        return e if isinstance(e, list) else [e] if e is not None else None

    conv = GraphConverter(graph, dispatch, name=type(model).__name__, state=state, tensor_constants=constants,
                          lifted=lifted)
    module = conv.run(user)
    module.attributes[SIZES_FIXED_ATTR] = UnitAttr()  # the torch executor refuses other non-batch sizes
    numbers = _constant_inputs(sig)
    if numbers:  # Python numbers torch.export specialised: the torch executor refuses other values
        module.attributes[CONSTANT_INPUTS_ATTR] = ArrayAttr(ArrayAttr(entry) for entry in numbers)
    batch = traced_batch(user)
    if batch is not None:  # a static export: other batches are refused naming the op that fixes it
        if fixed_by is None:
            baked = batch_in_literal_shapes(graph, user, batch)
            fixed_by = None if baked is None else describe(baked, _user_location)
        if fixed_by is not None:
            module.attributes[BATCH_FIXED_ATTR] = IntegerAttr(batch)
            module.attributes[BATCH_FIXED_AT_ATTR] = StringAttr(fixed_by)
    return module



def _constant_inputs(sig: Any) -> list[list]:
    """[position, name, value] attributes of the user inputs torch.export specialised as Python numbers."""
    out = []
    users = [spec for spec in sig.input_specs if spec.kind.name == "USER_INPUT"]
    for i, spec in enumerate(users):
        value = getattr(spec.arg, "value", None)
        if type(spec.arg).__name__ != "ConstantArgument" or isinstance(value, bool) or \
                not isinstance(value, (int, float)):
            continue
        number = IntegerAttr(value, i64) if isinstance(value, int) else FloatAttr(value, f64)
        out.append([IntegerAttr(i, i64), StringAttr(spec.arg.name), number])
    return out


def _user_structure(user_out: list, out_spec: Any) -> Any:
    """The graph's flat user outputs in the structure the model returns (a dict, nested tuples), so a prepared
    model returns what the float one does (`out["logits"]`), as the fx import does; torch.export flattens
    outputs and keeps the structure in its call spec. Containers other than dict, list and tuple (Hugging
    Face's ModelOutput) stay the flat tuple their own `to_tuple()` gives: a dict in their place would break
    `out[0]`, which both the tuple and the original class answer."""
    if out_spec is not None and out_spec.num_leaves == len(user_out) and _plain_containers(out_spec):
        return pytree.tree_unflatten(user_out, out_spec)
    return tuple(user_out) if len(user_out) != 1 else user_out[0]


def _plain_containers(spec: Any) -> bool:
    if spec.is_leaf():
        return True
    return spec.type in (dict, list, tuple) and all(_plain_containers(c) for c in spec.children())


def _drop_constant_copies(graph: fx.Graph) -> None:
    """`torch.tensor([3, 0])` in forward exports as lift_fresh_copy (+ detach_) of a lifted constant: read the
    constant itself when nothing writes the copy in place, so an op taking it (index_select's index) sees a
    constant, not an opaque call."""
    copies = (aten.lift_fresh_copy.default, aten.detach_.default, aten.detach.default)
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in copies or not node.args:
            continue
        src = node.args[0]
        if not isinstance(src, fx.Node) or (src.op != "placeholder" and src.target not in copies):
            continue
        if any(u.op == "call_function" and u.target not in copies and
               getattr(u.target, "_schema", None) is not None and u.target._schema.is_mutable for u in node.users):
            continue
        node.replace_all_uses_with(src)
        graph.erase_node(node)
