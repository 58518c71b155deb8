"""The march profiles (irq/marches/*.json) are the one registry of what a march supports: quant-annotate
quantizes what the profile lists, the model check reports what it does not, and lower-bpu must lower every
op it lists. These tests hold the last part: for every op of every shipped profile, a small model whose
quantized graph contains that op goes through prepare -> calibrate -> VALIDATION -> convert (without
float fallback) -> numba and reference runtimes, with deployed == VALIDATION bit for bit.

Bug each catches: an op added to a profile with no lowering (convert fails on a march that claims it), a
lowering whose integer semantics differ from VALIDATION (a wrong number with no error), or a profile op
annotation leaves in float (the op silently not deployed as integer code).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import reference
from torch import nn

import irq
from irq.march_profiles import COMPILE_TIME_OPS, get_march, registered_marches, supported_ops
from irq.model_check import FLOAT_ATTR
from irq.quant.prepare import ir_of


class Net(nn.Module):
    """A conv in front (so every op sees a quantized producer), then `body(self, y)`."""

    def __init__(self, body: Callable, cin: int = 3, extra: dict | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 4, 3, padding=1)
        self.body = body
        for k, v in (extra or {}).items():
            setattr(self, k, v)

    def forward(self, x):
        return self.body(self, self.conv(x))


def _seq(*mods):
    return lambda: nn.Sequential(*mods)


#: op base name -> (model factory, example input shape, or a callable making the input)
MODELS: dict[str, tuple[Callable[[], nn.Module], object]] = {
    "conv2d": (lambda: Net(lambda m, y: y), (3, 8, 8)),
    "conv1d": (_seq(nn.Conv1d(3, 4, 3, padding=1), nn.ReLU()), (3, 16)),
    "conv_transpose2d": (lambda: Net(lambda m, y: m.up(y), extra={"up": nn.ConvTranspose2d(4, 3, 2, 2)}), (3, 8, 8)),
    "linear": (_seq(nn.Linear(12, 5)), (12,)),
    "matmul": (lambda: Net(lambda m, y: torch.matmul(y, y.transpose(2, 3))), (3, 8, 8)),
    "bmm": (lambda: Net(lambda m, y: torch.bmm(y.flatten(2), y.flatten(2).transpose(1, 2))), (3, 8, 8)),
    "add": (lambda: Net(lambda m, y: y + torch.sigmoid(y)), (3, 8, 8)),
    "sub": (lambda: Net(lambda m, y: y - torch.sigmoid(y)), (3, 8, 8)),
    "mul": (lambda: Net(lambda m, y: y * torch.sigmoid(y)), (3, 8, 8)),
    "div": (lambda: Net(lambda m, y: y / (torch.sigmoid(y) + 0.5)), (3, 8, 8)),
    "mul_scalar": (lambda: Net(lambda m, y: y * 2.5), (3, 8, 8)),
    "div_scalar": (lambda: Net(lambda m, y: y / 3.0), (3, 8, 8)),
    "add_scalar": (lambda: Net(lambda m, y: y + 1.5), (3, 8, 8)),
    "sub_scalar": (lambda: Net(lambda m, y: y - 0.5), (3, 8, 8)),
    "rsub_scalar": (lambda: Net(lambda m, y: 1 - y), (3, 8, 8)),
    "cat": (lambda: Net(lambda m, y: torch.cat([y, torch.tanh(y)], 1)), (3, 8, 8)),
    "stack": (lambda: Net(lambda m, y: torch.stack([y, torch.tanh(y)], 2)), (3, 8, 8)),
    "max_pool2d": (lambda: Net(lambda m, y: F.max_pool2d(y, 2)), (3, 8, 8)),
    "avg_pool2d": (lambda: Net(lambda m, y: F.avg_pool2d(y, 3, 2, 1)), (3, 8, 8)),
    "adaptive_avg_pool2d": (lambda: Net(lambda m, y: F.adaptive_avg_pool2d(y, 2)), (3, 8, 8)),
    "mean": (lambda: Net(lambda m, y: y.mean((2, 3))), (3, 8, 8)),
    "sum": (lambda: Net(lambda m, y: y.sum(1)), (3, 8, 8)),
    "cumsum": (lambda: Net(lambda m, y: torch.cumsum(y, 2)), (3, 8, 8)),
    "interpolate": (lambda: Net(lambda m, y: F.interpolate(y, scale_factor=2, mode="bilinear")), (3, 8, 8)),
    **{k: (lambda k=k: Net(lambda m, y: getattr(torch, k)(y)), (3, 8, 8)) for k in ("sigmoid", "tanh", "exp")},
    **{k: (lambda k=k: Net(lambda m, y: getattr(F, k)(y)), (3, 8, 8))
       for k in ("silu", "hardsigmoid", "hardswish", "gelu", "hardtanh", "leaky_relu")},
    "relu6": (lambda: Net(lambda m, y: F.relu6(y * 4.0)), (3, 8, 8)),  # not after the conv: fuse would absorb it
    "relu": (lambda: Net(lambda m, y: torch.sigmoid(F.relu(torch.tanh(y)))), (3, 8, 8)),
    "clamp": (lambda: Net(lambda m, y: torch.clamp(y, -0.5, 0.7)), (3, 8, 8)),
    "layer_norm": (lambda: Net(lambda m, y: m.ln(y), extra={"ln": nn.LayerNorm(8)}), (3, 8, 8)),
    "group_norm": (lambda: Net(lambda m, y: m.gn(y), extra={"gn": nn.GroupNorm(2, 4)}), (3, 8, 8)),
    "softmax": (lambda: Net(lambda m, y: torch.softmax(y, -1)), (3, 8, 8)),
    "log_softmax": (lambda: Net(lambda m, y: torch.log_softmax(y, 1)), (3, 8, 8)),
    "instance_norm": (lambda: Net(lambda m, y: m.inorm(y), extra={"inorm": nn.InstanceNorm2d(4, affine=True)}),
                      (3, 8, 8)),
    "batch_norm": (lambda: Net(lambda m, y: m.bn(F.max_pool2d(y, 2)), extra={"bn": nn.BatchNorm2d(4)}), (3, 8, 8)),
    "prelu": (lambda: Net(lambda m, y: m.act(y), extra={"act": nn.PReLU(4)}), (3, 8, 8)),
    "pad": (lambda: Net(lambda m, y: F.pad(y, (1, 0, 2, 1), mode="reflect")), (3, 8, 8)),
    "pixel_shuffle": (lambda: Net(lambda m, y: F.pixel_shuffle(y, 2)), (3, 8, 8)),
    "pixel_unshuffle": (lambda: Net(lambda m, y: F.pixel_unshuffle(y, 2)), (3, 8, 8)),
    "flatten": (lambda: Net(lambda m, y: torch.flatten(y, 1)), (3, 8, 8)),
    "reshape": (lambda: Net(lambda m, y: y.reshape(y.shape[0], 4, 64)), (3, 8, 8)),
    "view": (lambda: Net(lambda m, y: y.view(y.shape[0], -1)), (3, 8, 8)),
    "permute": (lambda: Net(lambda m, y: y.permute(0, 2, 3, 1)), (3, 8, 8)),
    "transpose": (lambda: Net(lambda m, y: y.transpose(1, 3)), (3, 8, 8)),
    "unsqueeze": (lambda: Net(lambda m, y: y.unsqueeze(1)), (3, 8, 8)),
    "squeeze": (lambda: Net(lambda m, y: y[:, :1].squeeze(1)), (3, 8, 8)),
    "contiguous": (lambda: Net(lambda m, y: y.transpose(2, 3).contiguous()), (3, 8, 8)),
    "identity": (lambda: Net(lambda m, y: m.idn(y), extra={"idn": nn.Identity()}), (3, 8, 8)),
    "dropout": (lambda: Net(lambda m, y: m.drop(y), extra={"drop": nn.Dropout(0.5)}), (3, 8, 8)),
    "slice": (lambda: Net(lambda m, y: y[:, 1:3, ::2]), (3, 8, 8)),
    "chunk": (lambda: Net(lambda m, y: torch.chunk(y, 2, 1)[1]), (3, 8, 8)),
    "split": (lambda: Net(lambda m, y: torch.split(y, [1, 3], 1)[0]), (3, 8, 8)),
    "quant_stub": (lambda: Net(lambda m, y: m.dq(y), extra={"dq": torch.ao.quantization.DeQuantStub()}), (3, 8, 8)),
    "dequant_stub": (lambda: Net(lambda m, y: m.dq(y), extra={"dq": torch.ao.quantization.DeQuantStub()}),
                     (3, 8, 8)),
    "sqrt": (lambda: Net(lambda m, y: torch.sqrt(torch.sigmoid(y))), (3, 8, 8)),
    "rsqrt": (lambda: Net(lambda m, y: torch.rsqrt(torch.sigmoid(y) + 0.5)), (3, 8, 8)),
    "abs": (lambda: Net(lambda m, y: torch.abs(y)), (3, 8, 8)),
    "neg": (lambda: Net(lambda m, y: torch.neg(y)), (3, 8, 8)),
    "rdiv_scalar": (lambda: Net(lambda m, y: 1.5 / (torch.sigmoid(y) + 0.5)), (3, 8, 8)),
    "maximum": (lambda: Net(lambda m, y: torch.maximum(y, torch.tanh(y) * 0.5)), (3, 8, 8)),
    "roll": (lambda: Net(lambda m, y: torch.roll(y, (2, -3), (2, 3))), (3, 8, 8)),
    "minimum": (lambda: Net(lambda m, y: torch.minimum(torch.sigmoid(y), y)), (3, 8, 8)),
    "embedding": (lambda: nn.Sequential(nn.Embedding(10, 6), nn.Linear(6, 3)),
                  lambda batch, g: torch.randint(0, 10, (batch, 5), generator=g)),
}


class _WithQuantStub(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.q, self.inner = torch.ao.quantization.QuantStub(), inner

    def forward(self, x):
        return self.inner(self.q(x))


MODELS["quant_stub"] = (lambda: _WithQuantStub(Net(lambda m, y: y)), (3, 8, 8))
# issue 12's element-wise functions (their chain checks: tests/test_elementwise_functions.py)
MODELS.update({
    **{k: (lambda k=k: Net(lambda m, y: getattr(F, k)(y)), (3, 8, 8))
       for k in ("elu", "celu", "selu", "softplus", "mish", "logsigmoid", "softsign", "tanhshrink", "hardshrink",
                 "softshrink")},
    **{k: (lambda k=k: Net(lambda m, y: getattr(torch, k)(y)), (3, 8, 8)) for k in ("erf", "sin", "cos")},
    "pow_scalar": (lambda: Net(lambda m, y: y ** 2), (3, 8, 8)),
    "unbind": (lambda: Net(lambda m, y: torch.stack([y.unbind(1)[3], y.unbind(1)[0]], 1)), (3, 8, 8)),
})
# issue 12's comparisons and selection (their chain checks: tests/test_masked_models.py)
MODELS.update({
    "compare": (lambda: Net(lambda m, y: torch.where(y > torch.tanh(y) * 0.5, y, torch.sigmoid(y))), (3, 8, 8)),
    "where": (lambda: Net(lambda m, y: torch.where(y <= 0.25, torch.tanh(y), y * 0.5)), (3, 8, 8)),
    "compare_scalar": (lambda: Net(lambda m, y: y.masked_fill(y < -0.5, -1.0)), (3, 8, 8)),
    "where_scalar": (lambda: Net(lambda m, y: torch.where(y != 0, y, 2.0)), (3, 8, 8)),
    # issue 12's selections, broadcasts and fills (their chain checks: tests/test_select_ops.py)
    "flip": (lambda: Net(lambda m, y: y.flip(1, 3)), (3, 8, 8)),
    "expand": (lambda: Net(lambda m, y: y[:, :, :1].expand(-1, -1, 8, -1)), (3, 8, 8)),
    "expand_as": (lambda: Net(lambda m, y: y[:, :1].expand_as(y) + y), (3, 8, 8)),
    "repeat": (lambda: Net(lambda m, y: y.repeat(1, 2, 1, 1)), (3, 8, 8)),
    "index_select": (lambda: Net(lambda m, y: y.index_select(1, m.idx), extra={"idx": torch.tensor([2, 0, 3])}),
                     (3, 8, 8)),
    "gather": (lambda: Net(lambda m, y: y.gather(1, m.idx), extra={"idx": torch.tensor([[[[0, 3], [2, 2]]]])}),
               (3, 8, 8)),
    "amax": (lambda: Net(lambda m, y: y.amax(1)), (3, 8, 8)),
    "amin": (lambda: Net(lambda m, y: y.amin((2, 3), keepdim=True)), (3, 8, 8)),
    "max_dim": (lambda: Net(lambda m, y: y.max(2)[0]), (3, 8, 8)),
    "min_dim": (lambda: Net(lambda m, y: y.min(3, keepdim=True)[0]), (3, 8, 8)),
    "topk": (lambda: Net(lambda m, y: y.topk(3, 1).values), (3, 8, 8)),
    "zeros_like": (lambda: Net(lambda m, y: torch.cat([torch.zeros_like(y), y], 1)), (3, 8, 8)),
    "ones_like": (lambda: Net(lambda m, y: y * torch.ones_like(y)), (3, 8, 8)),
    "full_like": (lambda: Net(lambda m, y: y + torch.full_like(y, 0.25)), (3, 8, 8)),
    # issue 12's logic on masks (their chain checks: tests/test_causal_masks.py)
    "logical": (lambda: Net(lambda m, y: torch.where((y > 0) & (y < 1) | (y < -1) ^ (y < -2), y, 0.5)), (3, 8, 8)),
    "logical_not": (lambda: Net(lambda m, y: y.masked_fill(~(y > 0), -0.25)), (3, 8, 8)),
})

CASES = sorted((march, op) for march in ("bayes", "nash") for op in get_march(march).ops)


def _input(spec, batch: int, g: torch.Generator) -> torch.Tensor:
    return spec(batch, g) if callable(spec) else torch.randn(batch, *spec, generator=g)


def test_every_op_a_shipped_march_lists_has_a_model_here():
    """A new op in a profile needs a model below (and so a lowering): the registry cannot claim more than
    convert does. Only the shipped profiles are checked; a user's profile is the user's claim."""
    shipped = {m for m in registered_marches() if m in ("bayes", "nash")}
    assert shipped == {"bayes", "nash"}
    missing = sorted({op for m in shipped for op in get_march(m).ops} - set(MODELS))
    assert not missing, f"ops listed by a march without a lowering test: {missing}"
    assert COMPILE_TIME_OPS <= supported_ops("bayes")


@pytest.mark.parametrize("march,op", CASES, ids=[f"{m}-{o}" for m, o in CASES])
def test_every_listed_op_lowers_and_runs_bit_exact(march: str, op: str):
    make, spec = MODELS[op]
    torch.manual_seed(0)
    model = make().eval()
    g = torch.Generator().manual_seed(1)
    x = _input(spec, 2, g)
    qat = irq.prepare(model, (x,), march=march, check_model=False)
    names = {o.name.partition(".")[2] for o in ir_of(qat).walk() if o.dialect_name in ("hl", "torch")}
    assert op in names, f"the model for {op} does not contain it: {sorted(names)}"
    floats = [o.name for o in ir_of(qat).walk() if o.get_attr(FLOAT_ATTR) is not None]
    assert not [f for f in floats if f.partition(".")[2] == op], f"{op} left in float on {march}: {floats}"
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(_input(spec, 2, g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = qat(x)
    program = irq.convert(qat, march=march)
    deployed = irq.run(program, x.numpy())
    oracle = reference.run(program, x.numpy())
    deployed = deployed if isinstance(deployed, (list, tuple)) else [deployed]
    validation = validation if isinstance(validation, (list, tuple)) else [validation]
    for d, r, v in zip(deployed, oracle, validation):
        np.testing.assert_array_equal(d, v.numpy(), err_msg=f"{march} {op}: deployed != VALIDATION")
        np.testing.assert_array_equal(r, d, err_msg=f"{march} {op}: reference != numba")
