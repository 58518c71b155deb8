"""The torch executor's fused hl ops: exact BN folding in eval mode, simulated folding in train mode.

Oracles: torch's own folding (torch.nn.utils.fusion) and the unfused eager modules.
"""

from __future__ import annotations

import copy

import pytest
import torch
from irq.runtime.torch import functions as fns
from irq.runtime.torch import to_module
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

import irq


def _randomize(m: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g))
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) * 2 + 0.1)
                if mod.affine:
                    mod.weight.copy_(torch.randn(mod.num_features, generator=g))
                    mod.bias.copy_(torch.randn(mod.num_features, generator=g))


CASES = {
    "conv1d": (lambda: nn.Conv1d(4, 6, 3, padding=1), lambda: nn.BatchNorm1d(6), (3, 4, 9)),
    "conv2d": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1), lambda: nn.BatchNorm2d(6), (3, 4, 9, 9)),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), lambda: nn.BatchNorm2d(6),
                      (3, 4, 7, 7)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, 2, stride=2), lambda: nn.BatchNorm2d(6), (3, 4, 5, 5)),
    "conv_transpose2d_groups": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2),
                                lambda: nn.BatchNorm2d(6), (3, 4, 5, 5)),
    "linear": (lambda: nn.Linear(5, 6), lambda: nn.BatchNorm1d(6), (4, 5)),
    "conv2d_bn_without_affine": (lambda: nn.Conv2d(4, 6, 3, padding=1), lambda: nn.BatchNorm2d(6, affine=False),
                                 (3, 4, 7, 7)),
}


def _model(name: str, act: nn.Module | None = None, momentum: float | None = 0.1) -> nn.Module:
    make_op, make_bn, _ = CASES[name]
    torch.manual_seed(0)
    bn = make_bn()
    bn.momentum = momentum
    m = nn.Sequential(make_op(), bn, *([act] if act is not None else []))
    _randomize(m)
    return m


def _fused(m: nn.Module, x: torch.Tensor):
    module = irq.import_torch(m, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    fused = [op for op in module.walk() if op.name.startswith("hl.") and op.get_attr("bn_eps") is not None]
    assert len(fused) == 1 and not [op for op in module.walk() if op.name == "hl.batch_norm"]
    return to_module(module)


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_mode_equals_the_unfused_modules(name):
    m = _model(name, nn.ReLU6()).eval()
    x = torch.randn(*CASES[name][2])
    gm = _fused(m, x).eval()
    with torch.no_grad():
        ref, out = m(x), gm(x)
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()


@pytest.mark.parametrize("name", ["conv2d", "conv2d_groups", "conv_transpose2d", "linear"])
def test_folded_weights_equal_torch_fusion_utilities(name):
    m = _model(name)
    op, bn = m[0], m[1]
    kind = {"conv2d_groups": "conv2d"}.get(name, name)
    w, b = fns.fold_batch_norm(kind, op.weight, op.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                               bn.eps, op.groups if hasattr(op, "groups") else 1)
    if kind == "linear":
        rw, rb = fuse_linear_bn_weights(op.weight, op.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
                                        bn.bias)
    else:
        rw, rb = fuse_conv_bn_weights(op.weight, op.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
                                      transpose=kind == "conv_transpose2d")
    assert torch.allclose(w, rw, rtol=1e-6, atol=1e-6) and torch.allclose(b, rb, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("momentum", [0.1, None])
def test_train_mode_uses_batch_statistics_and_updates_running_ones(name, momentum):
    m = _model(name, nn.ReLU(), momentum=momentum)
    x = torch.randn(*CASES[name][2])
    gm = _fused(m.eval(), x).train()
    ref_model = copy.deepcopy(m).train()
    for step in range(2):
        xb = torch.randn(*CASES[name][2]) * (step + 1)
        ref, out = ref_model(xb), gm(xb)
        assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
        (ref.sum() + out.sum()).backward()
    state, ref_state = gm.state_dict(), ref_model.state_dict()
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert torch.allclose(state[k].float(), ref_state[k].float(), rtol=1e-5, atol=1e-6), k
    grads = dict(gm.named_parameters())
    ref_grads = dict(ref_model.named_parameters())
    for k in ref_grads:
        assert torch.allclose(grads[k].grad, ref_grads[k].grad, rtol=1e-3, atol=1e-4), k


def test_zero_gamma_channels_stay_finite_in_training():
    m = _model("conv2d", nn.ReLU())
    with torch.no_grad():
        m[1].weight[:2] = 0.0
    x = torch.randn(*CASES["conv2d"][2])
    gm = _fused(m.eval(), x).train()
    ref = copy.deepcopy(m).train()(x)
    out = gm(x)
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()


class _FixedModeBN(nn.Module):
    """F.batch_norm with training=False: running statistics in every mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1)
        self.register_buffer("mean", torch.randn(6))
        self.register_buffer("var", torch.rand(6) + 0.5)
        self.gamma = nn.Parameter(torch.randn(6))
        self.beta = nn.Parameter(torch.randn(6))

    def forward(self, x):
        y = torch.nn.functional.batch_norm(self.conv(x), self.mean, self.var, self.gamma, self.beta, training=False)
        return torch.relu(y)


def test_a_batch_norm_with_a_fixed_mode_keeps_it_when_fused():
    torch.manual_seed(0)
    m = _FixedModeBN()
    x = torch.randn(3, 4, 6, 6)
    gm = _fused(m.eval(), x)
    (op,) = [o for o in _fused_ops(m, x)]
    assert op.get_attr("bn_training").value is False
    for mode in (False, True):  # running statistics, folded, in both modes
        gm.train(mode)
        m.train(mode)
        with torch.no_grad():
            ref, out = m(x), gm(x)
        assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert torch.equal(gm.state_dict()["mean"], m.mean)


def _fused_ops(m: nn.Module, x: torch.Tensor) -> list:
    module = irq.import_torch(m, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    return [op for op in module.walk() if op.name.startswith("hl.") and op.get_attr("bn_eps") is not None]


def test_a_graph_from_torch_export_fuses_too():
    """torch.export writes the mode it ran in into aten.batch_norm (training=False here); nn.BatchNorm imports
    without the flag, following the module's mode as fx's does, and fuses into its conv."""
    from tests.models import resnet
    torch.manual_seed(0)
    m = resnet.ResNet(resnet.BasicBlock, (1, 1))
    _randomize(m)
    m.eval()
    x = torch.randn(2, 3, 32, 32)
    module = irq.import_torch(m, (x,), method="export")
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    report = irq.check_model(module, path=None)
    assert not report.unfused_patterns and len(report.fused_groups) == 6
    assert not [op for op in module.walk() if op.name == "hl.batch_norm"]
    gm = to_module(module)
    with torch.no_grad():
        ref, out = m(x), gm(x)
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
