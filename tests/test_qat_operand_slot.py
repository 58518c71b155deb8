"""A float operand that no quantizer covers yet (an embedding's output added to another) gets a
fake-quant whose slot is its operand name (`other`); the qat verifier accepts it. Before the fix,
prepare failed on every BERT-style model with "slot must be one of out, weight, input, got 'other'".
The embeddings stay float on a user's march without `embedding` (bayes and nash quantize them now)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

import irq
from irq.march_profiles import register_march
from irq.quant.state import fake_quant_modules


class TwoEmbeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.words = nn.Embedding(10, 4)
        self.positions = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, ids):
        return self.fc(self.words(ids) + self.positions(ids))


def test_prepare_quantizes_an_unquantized_second_operand():
    torch.manual_seed(0)
    ids = torch.tensor([[1, 2, 3]])
    model = TwoEmbeddings().eval()
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = "bayes_without_embedding"
    del data["ops"]["embedding"]
    register_march(data)  # tests/conftest.py restores the registry afterwards
    qat = irq.prepare(model, (ids,), check_model=False, march="bayes_without_embedding")
    slots = {(fq.owner, fq.slot) for fq in fake_quant_modules(qat)}
    assert ("add", "other") in slots
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(ids)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        y, ref = qat(ids), model(ids)
    assert not torch.equal(y, ref)  # quantized...
    assert torch.nn.functional.cosine_similarity(y.flatten(), ref.flatten(), dim=0) > 0.99  # ...and close
