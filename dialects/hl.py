"""The hl dialect: module-style float ops, each owned by a stable module path.

functional-to-module turns torch-level ops that will own quantization state into
hl ops with an `owner` ("layer1.0.add", "layer1.0.conv1"), derived from the
enclosing module scope so that the same model traced twice gets the same names and
checkpoints load without missing or unexpected keys (the role horizon_plugin_pytorch's
operator replacement plays). Pure data movement (view, permute, getitem, max pooling,
dropout...) has no quantization state of its own and stays at the torch level.

Fusion merges conv / conv-transpose / linear with batch norm, a residual add and
relu/relu6 into one op whose intermediates stay in float:

    %y = hl.conv2d %x, %w bias %b bn_weight %g bn_bias %beta bn_mean %m bn_var %v residual %id
           {owner = "layer1.0.conv2", activation = "relu", bn_eps = 1.0e-05, bn_owner = "layer1.0.bn2", ...}

The BN parameters stay separate operands (not folded into the weight) so QAT can
train them and simulate folding in forward, as torch.ao's ConvBn2d QAT modules do;
the residual is added after BN and before the activation. `bn_training` pins the batch
norm to batch statistics (true) or running statistics (false) in every mode, as a
functional `F.batch_norm(..., training=...)` or a mode-specialized torch.export graph
does; absent, it follows the module's train()/eval() mode. `dropout` is the rate of an element-wise
dropout that sat between the op (after its batch norm) and the residual add, applied there only while the
module trains (eval: the identity, so inference and every integer reader ignore it).
"""

from __future__ import annotations

from irq.dialects._opspec import BOOL, FLOAT, OPTIONAL, STR, build_op
from irq.dialects._shapes import broadcast_shapes, shape_of
from irq.dialects._tensor_specs import SPECS, WEIGHTED

from irq.ir.dialect import Dialect
from irq.ir.opdef import Op
from irq.ir.types import ShapedType

DIALECT = Dialect("hl", "Module-style float ops with stable owner paths; fused conv/linear groups.")

#: torch-level ops that have no quantization state and are not given an hl form.
DATA_MOVEMENT = frozenset({"contiguous", "identity", "dropout", "flatten", "reshape", "view", "permute", "transpose",
                           "unsqueeze", "squeeze", "getitem", "slice", "select", "chunk", "split", "max_pool2d",
                           "pad", "roll", "pixel_shuffle", "pixel_unshuffle", "topk"})
DATA_MOVEMENT |= {"unbind"}  # issue 12: torch.unbind's slices (a bpu.slice and a bpu.reshape per result)
#: issue 12: selections that keep the codes (bpu.take, bpu.reduce_max / reduce_min; passes/_lower_take.py)
DATA_MOVEMENT |= {"flip", "expand", "expand_as", "repeat", "index_select", "amax", "amin", "max_dim", "min_dim"}
DATA_MOVEMENT |= {"gather"}  # issue 12: entries picked by a constant index (flatten, bpu.take, reshape)

ACTIVATIONS = ("relu", "relu6")

#: Operands a fused op adds after (input, weight, bias?), in order.
FUSED_OPERANDS = (("bn_weight", OPTIONAL), ("bn_bias", OPTIONAL), ("bn_mean", OPTIONAL), ("bn_var", OPTIONAL),
                  ("bn_num_batches_tracked", OPTIONAL), ("residual", OPTIONAL))
FUSED_ATTRS = (("activation", STR, True), ("bn_eps", FLOAT, True), ("bn_momentum", FLOAT, True),
               ("bn_owner", STR, True), ("bn_training", BOOL, True), ("bn_sync", BOOL, True), ("dropout", FLOAT, True))
OWNER = (("owner", STR, False),)


def _verify_fused(op: Op) -> None:
    """BN operands come as a set with bn_eps; the residual matches the output; activation is known."""
    act = op.get_attr("activation")
    if act is not None and act.value not in ACTIVATIONS:
        raise op.error(f"activation must be one of {', '.join(ACTIVATIONS)}, got '{act.value}'")
    has_stats = op.bn_mean is not None, op.bn_var is not None
    if has_stats[0] != has_stats[1]:
        raise op.error("bn_mean and bn_var must be given together")
    has_bn = has_stats[0] or op.bn_weight is not None or op.bn_bias is not None
    if has_bn and not has_stats[0]:
        raise op.error("a fused batch norm needs bn_mean and bn_var")
    if has_bn != (op.get_attr("bn_eps") is not None):
        raise op.error("bn_eps must be given exactly when batch norm operands are")
    if op.get_attr("bn_training") is not None and not has_bn:
        raise op.error("bn_training needs a fused batch norm")
    rate = op.get_attr("dropout")
    if rate is not None and op.residual is None:
        raise op.error("dropout needs a fused residual (it applies before the residual is added)")
    if rate is not None and not 0.0 <= rate.value <= 1.0:
        raise op.error(f"dropout must be a rate in [0, 1], got {rate.value}")
    out = op.results[0].type
    channels = out.shape[1] if isinstance(out, ShapedType) and out.shape and len(out.shape) > 1 else None
    if op.name == "hl.linear" and isinstance(out, ShapedType) and out.shape:
        channels = out.shape[-1]
    for name in ("bn_weight", "bn_bias", "bn_mean", "bn_var"):
        v = getattr(op, name)
        s = shape_of(v) if v is not None else None
        if s is not None and channels is not None and s != (channels,):
            raise op.error(f"{name} must have shape [{channels}], got {list(s)}")
    r = op.residual
    if r is not None and isinstance(out, ShapedType) and out.has_static_shape and shape_of(r) is not None:
        try:
            ok = broadcast_shapes(shape_of(r), out.shape) == tuple(out.shape)
        except Exception:
            ok = False
        if not ok:
            raise op.error(f"residual of type {r.type} does not broadcast to the output {out}")


OPS: dict[str, type[Op]] = {}
for _name, _s in SPECS.items():
    if _name in DATA_MOVEMENT:
        continue
    if _name in WEIGHTED:
        OPS[_name] = build_op(DIALECT, _s, extra_attrs=OWNER + FUSED_ATTRS, extra_operands=FUSED_OPERANDS,
                              verify_extra=_verify_fused,
                              doc_suffix=" May carry a fused batch norm, residual add and relu/relu6.")
    else:
        OPS[_name] = build_op(DIALECT, _s, extra_attrs=OWNER)


def drops_in_eval(op: Op) -> bool:
    """Whether an `hl.dropout` keeps dropping after model.eval(): its call fixed training=True with p > 0
    (F.dropout's default, or `training=self.training` traced in training mode). Fusion leaves such a
    dropout out of a fused group and lower-bpu refuses it: the model is random at inference."""
    training, p = op.get_attr("training"), op.get_attr("p")
    return training is not None and bool(training.value) and p is not None and float(p.value) > 0.0


def op_class(name: str) -> type[Op]:
    """The hl op class for a spec name ("conv2d") or full name ("hl.conv2d")."""
    return DIALECT.ops[name if name.startswith("hl.") else f"hl.{name}"]
