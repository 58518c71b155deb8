"""Every zoo model at the hl level (functional-to-module + fuse): same outputs, same checkpoint keys,
stable text, and a fused module that trains like the original (simulated BN folding, batch statistics)."""

from __future__ import annotations

import copy

import pytest
import torch
from irq.runtime.torch import to_module

import irq
from tests.test_frontend_zoo import ZOO, _max_rel_err, _randomize_bn

PIPELINE = "builtin.module(func.func(functional-to-module, fuse))"


def _to_hl(module):
    irq.PassManager.parse(PIPELINE).run(module)
    return module


def _make(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    make, shape = ZOO[name]
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        _randomize_bn(model)
    return model.eval(), torch.randn(*shape)


@pytest.fixture(scope="module", params=sorted(ZOO))
def lowered(request):
    model, x = _make(request.param)
    return request.param, model, x, _to_hl(irq.import_torch(model, (x,)))


def _has_bn(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_hl_module_matches_the_original(lowered):
    name, model, x, module = lowered
    gm = to_module(module)
    assert list(gm.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        for inp in (x, torch.randn_like(x) * 3):
            assert _max_rel_err(model(inp), gm(inp)) <= 1e-5


def test_hl_level_is_complete(lowered):
    """No op that owns quantization state is left at the torch level; every hl op has an owner;
    no batch norm that follows a conv/linear is left unfused in the zoo."""
    name, model, x, module = lowered
    owners = []
    for op in module.walk():
        if op.dialect_name == "hl":
            owners.append(op.get_attr("owner").value)
        assert op.name not in ("torch.conv2d", "torch.linear", "torch.batch_norm", "torch.relu", "torch.add")
    assert owners
    assert not [op for op in module.walk() if op.name == "hl.batch_norm"]
    report = irq.check_model(module, path=None)
    assert not report.unfused_patterns
    if _has_bn(model):
        assert report.fused_groups


def test_hl_print_parse_reprint_identical(lowered):
    _, _, _, module = lowered
    for debuginfo in (False, True):
        text = irq.print_module(module, debuginfo=debuginfo)
        again = irq.parse_module(text)
        irq.verify(again)
        assert irq.print_module(again, debuginfo=debuginfo) == text
        # the text carries the imported IR itself, not just something that prints the same way
        diff = irq.structural_diff(module, again, locations=debuginfo)
        assert diff is None, diff


def test_hl_module_from_parsed_text_matches(lowered):
    name, model, x, module = lowered
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        assert _max_rel_err(model(x), gm(x)) <= 1e-5


def test_tracing_and_passes_twice_give_identical_text(lowered):
    name, model, x, module = lowered
    again = _to_hl(irq.import_torch(model, (x,)))
    assert irq.print_module(again, debuginfo=True) == irq.print_module(module, debuginfo=True)


def _train_batch(x: torch.Tensor) -> torch.Tensor:
    """At least two samples: batch statistics of a BatchNorm1d need more than one value per channel."""
    torch.manual_seed(3)
    return torch.randn(max(2, x.shape[0]), *x.shape[1:])


def test_train_mode_forward_matches_the_unfused_original(lowered):
    """Simulated folding uses batch statistics and updates the running ones exactly like nn.BatchNorm."""
    name, model, x, module = lowered
    original = copy.deepcopy(model).train()
    gm = to_module(module).train()
    xb = _train_batch(x)
    with torch.no_grad():
        torch.manual_seed(7)  # the same dropout masks on both sides
        ref = original(xb)
        torch.manual_seed(7)
        out = gm(xb)
    assert _max_rel_err(ref, out) <= 1e-4
    gm_state = gm.state_dict()
    for k, v in original.state_dict().items():
        if "running" in k or "num_batches_tracked" in k:
            assert torch.allclose(gm_state[k], v, rtol=1e-4, atol=1e-6), k


def test_qat_style_training_step_on_the_fused_module(lowered):
    name, model, x, module = lowered
    gm = to_module(module).train()
    before = {k: v.detach().clone() for k, v in gm.state_dict().items()}
    opt = torch.optim.SGD(gm.parameters(), lr=0.1, momentum=0.9)
    xb = _train_batch(x)
    out = gm(xb)
    leaves = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    loss = sum((t.float() ** 2).mean() for t in leaves)
    opt.zero_grad()
    loss.backward()
    grads = {k: p.grad for k, p in gm.named_parameters()}
    assert any(g is not None and g.abs().sum() > 0 for g in grads.values())
    opt.step()
    after = gm.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.endswith("weight") for k in changed)
    if _has_bn(model):
        bn_params = [k for k, p in gm.named_parameters() if k.rsplit(".", 1)[0] + ".running_mean" in before]
        assert any(grads[k] is not None for k in bn_params)  # BN affine parameters train through the fused op
        assert any(k.endswith("running_mean") for k in changed) and any(k.endswith("running_var") for k in changed)
    # and the model still evaluates, finite, after the step
    gm.eval()
    with torch.no_grad():
        assert all(torch.isfinite(t).all() for t in torch.utils._pytree.tree_leaves(gm(x))
                   if isinstance(t, torch.Tensor))


def test_fused_resnet_block_structure():
    """A BasicBlock: conv1-bn1-relu and conv2-bn2-(+identity)-relu fuse; the shared ReLU disappears."""
    model, x = _make("resnet_basic")
    module = _to_hl(irq.import_torch(model, (x,)))
    report = irq.check_model(module, path=None)
    groups = {e.path: e.op for e in report.fused_groups}
    assert groups["conv1"] == "conv-bn-relu"
    assert groups["layer1.0.conv1"] == "conv-bn-relu"
    assert groups["layer1.0.conv2"] == "conv-bn-add-relu"
    assert groups["layer2.0.downsample.0"] == "conv-bn-add-relu" and groups["layer2.0.conv2"] == "conv-bn"
    assert not report.shared_modules  # layer1.0.relu was called twice; both calls were absorbed
    before = irq.check_model(irq.import_torch(model, (x,)), path=None)
    assert {s.path for s in before.shared_modules} == {"layer1.0.relu", "layer1.1.relu", "layer2.0.relu"}


def test_mobilenet_v2_fuses_every_block():
    model, x = _make("mobilenet_v2")
    module = _to_hl(irq.import_torch(model, (x,)))
    kinds = [e.op for e in irq.check_model(module, path=None).fused_groups]
    # 52 conv+bn pairs: 35 followed by ReLU6, 10 inverted residuals with a skip add, 7 projections without
    assert (kinds.count("conv-bn-relu"), kinds.count("conv-bn-add"), kinds.count("conv-bn")) == (35, 10, 7)
    assert all(op.get_attr("activation").value == "relu6" for op in module.walk()
               if op.name == "hl.conv2d" and op.get_attr("activation") is not None)
