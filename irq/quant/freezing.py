"""irq.freeze: a prepared, calibrated/trained torch module -> the frozen irq Module (hl + quant).

The qat-level IR kept by prepare is cloned; the trained parameters are written back into its
resources, every fake-quant gets the scale its module learned (weight scales recomputed from the
weight the chip will hold: batch norm folded by irq.folding, the fold VALIDATION uses), and the
freeze-quant pass rewrites the result to QDQ pairs with batch norms folded. Running the frozen
module with `irq.runtime.torch.to_module` gives the VALIDATION outputs of the model it came from.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from irq.dialects.qat import FakeQuantOp
from irq.folding import fold_batch_norm
from irq.ir.attributes import ArrayAttr, FloatAttr
from irq.ir.dense import DenseResourceElementsAttr
from irq.ir.operation import Operation
from irq.ir.types import f64
from irq.quant.fake_quantize import FakeQuantize
from irq.quant.prepare import check_unchanged, ir_of


def _write_parameters(module: Operation, state: dict[str, torch.Tensor]) -> None:
    for op in module.walk():
        if op.name != "torch.constant" or not isinstance(op.value, DenseResourceElementsAttr):
            continue
        key = op.value.key
        t = state.get(key)
        if t is None or op.get_attr("tied_key") is not None:
            continue
        arr = t.detach().cpu().numpy()
        op.set_attr("value", DenseResourceElementsAttr.from_array(key, op.value.type, np.ascontiguousarray(arr)))


def _weight_for_scale(fq_op: FakeQuantOp, state: dict[str, torch.Tensor]) -> np.ndarray | None:
    """The weight a weight quantizer sees in VALIDATION: folded when its op has a batch norm."""
    users = list(fq_op.results[0].users)
    conv = users[0] if users else None

    def data(v):
        if v is None:
            return None
        op = v.owner
        while getattr(op, "name", None) == "qat.fake_quant":
            op = op.operands[0].owner
        key = op.value.key
        return state[key].detach().double().cpu().numpy() if key in state else op.value.to_numpy().astype(np.float64)

    w = data(fq_op.input)
    if conv is None or conv.get_attr("bn_eps") is None or conv.bn_mean is None:
        return w
    kind = conv.name.partition(".")[2]
    groups = conv.get_attr("groups").value if conv.get_attr("groups") is not None else 1
    wf, _ = fold_batch_norm(kind, w, data(conv.bias), data(conv.bn_weight), data(conv.bn_bias), data(conv.bn_mean),
                            data(conv.bn_var), conv.bn_eps.value, groups)
    return wf


def record_scales(module: Operation, qat_model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Set `scale` on every fake-quant from the trained module's quantizers."""
    for op in list(module.walk()):
        if not isinstance(op, FakeQuantOp) or op.dtype.value == "qint32":
            continue
        fq = qat_model.get_submodule(op.state_path)
        if not isinstance(fq, FakeQuantize):
            raise TypeError(f"{op.state_path} is not a FakeQuantize module")
        if fq.follows_tensor:
            with torch.no_grad():
                fq.observe(torch.from_numpy(np.ascontiguousarray(_weight_for_scale(op, state))).float())
        scales = fq.scale.detach().float().reshape(-1).tolist()
        op.set_attr("scale", ArrayAttr(FloatAttr(float(s), f64) for s in scales))


def freeze(qat_model: nn.Module, *, verify: bool = True) -> Operation:
    """The frozen-level irq Module of `qat_model` (returned by irq.prepare); the model is not changed
    except that weight quantizers refresh their scales from the current weights."""
    import irq
    from irq.transform import PassManager

    check_unchanged(qat_model)
    module = ir_of(qat_model).clone()
    state = dict(qat_model.state_dict(keep_vars=False))
    _write_parameters(module, state)
    record_scales(module, qat_model, state)
    PassManager.parse("builtin.module(func.func(freeze-quant))").run(module)
    if verify:
        irq.verify(module)
    return module
