"""A test-side freeze for real models until the quantization flow's `irq.freeze` lands.

It re-emits a fused hl-level module as the frozen level design.md pins (tests/support/frozen.py): batch
norms folded into the weights, per-channel int8 weights, per-tensor int8 activations calibrated by absmax
on the given input, QDQ pairs around every quantized value, a final linear left as an int32
high-precision output. The same walk computes the float model and its fake-quantized simulation
(float64, torch), the oracles the integer program is compared with. It covers the ops of MobileNetV2 and
the UNet of tests/models.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from irq import fixedpoint as fp
from support.frozen import FrozenBuilder


def _fq(t: torch.Tensor, s: float) -> torch.Tensor:
    return torch.clamp(torch.round(t / s), -128, 127) * s  # torch.round is half to even, as quantize_to_codes


def _data(v) -> np.ndarray:
    return np.asarray(v.op.get_attr("value").to_numpy(), dtype=np.float64)


def freeze_and_simulate(module, x: torch.Tensor):
    """(frozen irq Module, float logits, fake-quant logits) for the fused hl module on input x."""
    func = next(op for op in module.walk() if op.name == "func.func")
    arg = func.regions[0].blocks[0].args[0]
    b = FrozenBuilder([("x", tuple(x.shape))])
    s_in = float(x.abs().max()) / 127
    env = {arg: (b.qdq("x", s_in), x.double(), _fq(x.double(), s_in))}  # value -> (frozen name, float, fake-quant)
    for op in func.regions[0].blocks[0].ops:
        if op.name in ("torch.constant", "torch.size"):
            continue  # parameters are read where used; sizes are static in the re-emitted graph
        if op.name == "func.return":
            name, ref, sim = env[op.operands[0]]
            return b.module([name]), ref, sim
        name, ref, sim = env[op.operands[0]]
        if op.name == "hl.conv2d":
            w = _data(op.weight)
            bias = _data(op.bias) if op.bias is not None else np.zeros(len(w))
            if op.bn_mean is not None:  # fold the batch norm (eval mode), as freeze does
                scale = _data(op.bn_weight) / np.sqrt(_data(op.bn_var) + op.get_attr("bn_eps").value)
                w = w * scale.reshape(-1, 1, 1, 1)
                bias = _data(op.bn_bias) + (bias - _data(op.bn_mean)) * scale
            s_w = fp.scale_from_absmax(np.abs(w).reshape(len(w), -1).max(axis=1))
            w_fq = torch.from_numpy(fp.quantize_weight(w, s_w) * s_w.reshape(-1, 1, 1, 1))
            stride, pad = op.get_attr("stride")[0].value, op.get_attr("padding")[0].value
            groups = op.get_attr("groups").value
            args = dict(stride=stride, padding=pad, groups=groups)
            ref = F.conv2d(ref, torch.from_numpy(w), torch.from_numpy(bias), **args)
            sim = F.conv2d(sim, w_fq, torch.from_numpy(bias), **args)
            kw = {"bias": b.const(bias)}
            if op.residual is not None:
                rname, rref, rsim = env[op.residual]
                ref, sim = ref + rref, sim + rsim
                kw["residual"] = rname
            act = op.get_attr("activation")
            if act is not None:
                fn = F.relu6 if act.value == "relu6" else F.relu
                ref, sim = fn(ref), fn(sim)
            attrs = (f"stride = [{stride}, {stride}], padding = [{pad}, {pad}], dilation = [1, 1], "
                     f'groups = {groups} : i64, owner = "{op.owner.value}"'
                     + (f', activation = "{act.value}"' if act is not None else ""))
            y = b.op("hl.conv2d", [name, b.weight(w, s_w)], tuple(ref.shape), kw, attrs)
            s = float(ref.abs().max()) / 127
            env[op.results[0]] = (b.qdq(y, s), ref, _fq(sim, s))
        elif op.name == "torch.max_pool2d":
            ref, sim = F.max_pool2d(ref, 2), F.max_pool2d(sim, 2)
            env[op.results[0]] = (b.op("torch.max_pool2d", [name], tuple(ref.shape),
                                       attrs="kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], "
                                             "dilation = [1, 1], ceil_mode = false"), ref, sim)
        elif op.name == "hl.interpolate":
            mode = op.get_attr("mode").value
            size = tuple(op.results[0].type.shape[2:])
            corners = op.get_attr("align_corners")
            kw = {} if mode == "nearest" else {"align_corners": bool(corners.value)}
            ref = F.interpolate(ref, size=size, mode=mode, **kw)
            sim = F.interpolate(sim, size=size, mode=mode, **kw)
            attrs = (f'size = [{size[0]}, {size[1]}], mode = "{mode}", owner = "{op.owner.value}"'
                     + (f", align_corners = {str(bool(corners.value)).lower()}" if mode != "nearest" else ""))
            y = b.op("hl.interpolate", [name], tuple(ref.shape), attrs=attrs)
            if mode == "nearest":  # codes pass through
                env[op.results[0]] = (y, ref, sim)
            else:
                s = float(ref.abs().max()) / 127
                env[op.results[0]] = (b.qdq(y, s), ref, _fq(sim, s))
        elif op.name in ("hl.cat", "hl.add"):
            parts = [env[v] for v in op.operands]
            if op.name == "hl.cat":
                dim = op.get_attr("dim").value
                ref = torch.cat([p[1] for p in parts], dim)
                sim = torch.cat([p[2] for p in parts], dim)
                attrs = f'dim = {dim} : i64, owner = "{op.owner.value}"'
            else:
                ref, sim = parts[0][1] + parts[1][1], parts[0][2] + parts[1][2]
                attrs = f'owner = "{op.owner.value}"'
            y = b.op(op.name, [p[0] for p in parts], tuple(ref.shape), attrs=attrs)
            s = float(ref.abs().max()) / 127
            env[op.results[0]] = (b.qdq(y, s), ref, _fq(sim, s))
        elif op.name == "hl.adaptive_avg_pool2d":
            ref, sim = ref.mean(dim=(2, 3), keepdim=True), sim.mean(dim=(2, 3), keepdim=True)
            y = b.op("hl.adaptive_avg_pool2d", [name], tuple(ref.shape), attrs='output_size = [1, 1], owner = "gap"')
            s = float(ref.abs().max()) / 127
            env[op.results[0]] = (b.qdq(y, s), ref, _fq(sim, s))
        elif op.name == "torch.flatten":
            ref, sim = ref.flatten(1), sim.flatten(1)
            env[op.results[0]] = (b.op("torch.flatten", [name], tuple(ref.shape),
                                       attrs="start_dim = 1 : i64, end_dim = -1 : i64"), ref, sim)
        elif op.name == "torch.dropout":
            env[op.results[0]] = (b.op("torch.dropout", [name], tuple(ref.shape), attrs="p = 0.2 : f64"), ref, sim)
        elif op.name == "hl.linear":
            w, bias = _data(op.weight), _data(op.bias)
            s_w = fp.scale_from_absmax(np.abs(w).max(axis=1))
            w_fq = torch.from_numpy(fp.quantize_weight(w, s_w) * s_w.reshape(-1, 1))
            ref = F.linear(ref, torch.from_numpy(w), torch.from_numpy(bias))
            sim = F.linear(sim, w_fq, torch.from_numpy(bias))
            y = b.op("hl.linear", [name, b.weight(w, s_w)], tuple(ref.shape), {"bias": b.const(bias)},
                     'owner = "classifier.1"')
            env[op.results[0]] = (y, ref, sim)  # no output qcast: int32 high-precision logits
        else:
            raise AssertionError(f"unexpected op {op.name}")
    raise AssertionError("no return")
