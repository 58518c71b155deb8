"""Every zoo model: import, print/parse/re-print, torch module equal to the original, stable traces."""

from __future__ import annotations

import pytest
import torch
from irq.runtime.torch import to_module
from torch.utils import _pytree as pytree

import irq
from tests.models import eager_qat, fpn, mnist, mobilenet_v2, resnet, transformer, unet


def _mnist() -> torch.nn.Module:
    return mnist.pretrained() if mnist.weights_path() else mnist.DigitCNN()


def _fused_qat() -> torch.nn.Module:
    m = eager_qat.EagerQATNet().eval()
    m.fuse_model()
    return m


ZOO = {
    "resnet_basic": (lambda: resnet.ResNet(resnet.BasicBlock, (2, 1)), (2, 3, 32, 32)),
    "resnet_bottleneck": (lambda: resnet.ResNet(resnet.Bottleneck), (2, 3, 32, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2.MobileNetV2(), (1, 3, 96, 96)),
    "unet": (lambda: unet.UNet(), (1, 3, 32, 32)),
    "fpn_retinanet": (lambda: fpn.RetinaNetLite(), (1, 3, 64, 64)),
    "transformer": (lambda: transformer.TinyEncoder(), (2, 7, 32)),
    "mnist_cnn": (_mnist, (3, 1, 28, 28)),
    "eager_qat_irq_stubs": (lambda: eager_qat.EagerQATNet(irq_stubs=True), (1, 3, 16, 16)),
    "eager_qat_ao_stubs_fused": (_fused_qat, (1, 3, 16, 16)),
}


def _randomize_bn(model: torch.nn.Module) -> None:
    """Non-trivial batch-norm statistics, so a mistake in their handling shows in the outputs."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.fixture(scope="module", params=sorted(ZOO))
def imported(request):
    make, shape = ZOO[request.param]
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        _randomize_bn(model)
    model.eval()
    x = torch.randn(*shape)
    return request.param, model, x, irq.import_torch(model, (x,))


def _max_rel_err(a, b) -> float:
    worst = 0.0
    for x, y in zip(pytree.tree_leaves(a), pytree.tree_leaves(b)):
        scale = max(float(x.abs().max()), 1e-6)
        worst = max(worst, float((x - y).abs().max()) / scale)
    return worst


def test_print_parse_reprint_identical(imported):
    _, _, _, module = imported
    for debuginfo in (False, True):
        text = irq.print_module(module, debuginfo=debuginfo)
        again = irq.parse_module(text)
        irq.verify(again)
        assert irq.print_module(again, debuginfo=debuginfo) == text
        # the text carries the imported IR itself, not just something that prints the same way
        diff = irq.structural_diff(module, again, locations=debuginfo)
        assert diff is None, diff


def test_every_value_is_typed_from_the_example_inputs(imported):
    name, model, x, module = imported
    fn = next(op for op in module.walk() if op.name == "func.func")
    assert fn.regions[0].blocks[0].args[0].type == irq.TensorType(tuple(x.shape), irq.ir.types.f32)
    for op in module.walk():
        if op.dialect_name == "torch" and op.name != "torch.call":
            for r in op.results:
                assert isinstance(r.type, (irq.TensorType, irq.IntegerType)), (op.name, r.type)


def test_to_module_matches_the_original(imported):
    name, model, x, module = imported
    gm = to_module(module)
    assert isinstance(gm, torch.fx.GraphModule)
    assert list(gm.state_dict()) == list(model.state_dict())
    xs = [x, torch.randn_like(x) * 3]
    with torch.no_grad():
        for inp in xs:
            assert _max_rel_err(model(inp), gm(inp)) <= 1e-5


def test_to_module_from_parsed_text_matches(imported):
    name, model, x, module = imported
    gm = to_module(irq.parse_module(irq.print_module(module)))
    with torch.no_grad():
        assert _max_rel_err(model(x), gm(x)) <= 1e-5


def test_tracing_twice_gives_identical_text(imported):
    name, model, x, module = imported
    again = irq.import_torch(model, (x,))
    assert irq.print_module(again, debuginfo=True) == irq.print_module(module, debuginfo=True)


def test_import_does_not_change_the_model(imported):
    name, model, x, module = imported
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    try:
        irq.import_torch(model, (x,), verify=False)
    finally:
        model.eval()
    for k, v in model.state_dict().items():
        assert torch.equal(before[k], v), k


@pytest.mark.parametrize("level", ["torch", "hl"])
def test_rebuilt_module_loads_the_original_checkpoint_strictly(imported, level):
    """`to_module(parse(print(m))).load_state_dict(model.state_dict(), strict=True)`, and every entry
    (0-d num_batches_tracked included) comes back with the original's shape, dtype and value."""
    name, model, x, module = imported
    m = irq.parse_module(irq.print_module(module))
    if level == "hl":
        irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(m)
    gm = to_module(irq.parse_module(irq.print_module(m)))
    original = model.state_dict()
    rebuilt = gm.state_dict()
    assert list(rebuilt) == list(original)
    for k, v in original.items():
        assert rebuilt[k].shape == v.shape and rebuilt[k].dtype == v.dtype, (k, rebuilt[k].shape, v.shape)
        assert torch.equal(rebuilt[k], v), k
    result = gm.load_state_dict(original, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
