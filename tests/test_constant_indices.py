"""Integer buffers used as indices, as BERT's embeddings use them (transformers' BertEmbeddings): the
`position_ids` buffer cut to the sequence length and looked up by the position embedding, the `token_type_ids`
buffer gathered by those positions and expanded to the batch, looked up by the token-type embedding.

Three things did not convert (issue 12): fold-constant-views turned the integer slice into an f32 constant
(lower-bpu: "its indices must be an i32/i64 tensor, got tensor<1x6xf32>"), the gather of two constants was left
for lowering ("its inputs are not quantized"), and an integer constant had no lowering as indices. Now integer
views keep their type, fold-constants evaluates an integer gather, integer constants lower as raw integer
bpu.constants, and an expand of them to the batch is done on the embedding's codes.

Oracles: eager torch (the folded constants, the float model), VALIDATION (deployed, both runtimes, bit for bit).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.passes.fold_constant_views import fold_constant_views
from irq.passes.fold_constants import fold_constants
from support.both_runtimes import run_both
from torch import Tensor, nn

import irq

VOCAB, DIM, MAX_LEN, LENGTH = 20, 8, 12, 6


class BertStyleEmbeddings(nn.Module):
    """BertEmbeddings' buffers and lookups, with token types and positions that are not trivial (so a wrong
    gather or slice shows): positions start at 1, token types alternate in pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.word = nn.Embedding(VOCAB, DIM)
        self.position = nn.Embedding(MAX_LEN + 1, DIM)
        self.token_type = nn.Embedding(2, DIM)
        self.register_buffer("position_ids", torch.arange(MAX_LEN + 1).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", (torch.arange(MAX_LEN + 1) // 2 % 2)[None], persistent=False)

    def positions(self, s: int) -> Tensor:
        return self.position_ids[:, 1 : s + 1]

    def types(self, b: int, s: int) -> Tensor:
        pos = self.positions(s)
        return torch.gather(self.token_type_ids.expand(pos.shape[0], -1), dim=1, index=pos).expand(b, s)

    def forward(self, ids: Tensor) -> Tensor:
        b, s = ids.shape
        return self.word(ids) + self.token_type(self.types(b, s)) + self.position(self.positions(s))


def _ids(g: torch.Generator, batch: int) -> Tensor:
    return torch.randint(0, VOCAB, (batch, LENGTH), generator=g)


def _embedding_indices(module) -> dict[str, object]:
    """module name -> the op defining each embedding's indices (the import's torch.embedding)."""
    return {
        op.get_attr("module").value: getattr(op.operands[0], "op", None)
        for op in module.walk()
        if op.name == "torch.embedding"
    }


@pytest.mark.parametrize("method", ["fx", "export"])
def test_integer_buffers_fold_to_eagers_indices(method):
    """Bug caught: the position slice folded as f32 (or not at all), the gather of the token types unfolded or
    gathering the wrong entries (each folded constant is compared with eager torch's own indices)."""
    torch.manual_seed(0)
    m = BertStyleEmbeddings().eval()
    module = irq.import_torch(m, (_ids(torch.Generator().manual_seed(1), 2),), method=method)
    fold_constant_views(module)
    fold_constants(module)
    indices = _embedding_indices(module)
    position = indices["position"]
    assert position.name == "torch.constant" and str(position.results[0].type) == "tensor<1x6xi64>"
    np.testing.assert_array_equal(position.value.to_numpy(), m.positions(LENGTH).numpy())
    expand = indices["token_type"]  # the expand to the batch stays (the batch is dynamic)
    assert expand.name == "torch.expand"
    gathered = expand.operands[0].op
    assert gathered.name == "torch.constant" and str(gathered.results[0].type) == "tensor<1x6xi64>"
    np.testing.assert_array_equal(gathered.value.to_numpy(), m.types(1, LENGTH).numpy())
    assert not [op for op in module.walk() if op.name == "torch.gather"]


@pytest.mark.parametrize("method", ["fx", "export"])
def test_bert_style_embeddings_deploy_as_validation_at_any_batch(method):
    """Bug caught: constant indices refused or looked up as floats, the token types' expand pinned to the
    traced batch or broadcast along the wrong dim (deployed != VALIDATION at batch 3)."""
    torch.manual_seed(0)
    m = BertStyleEmbeddings().eval()
    g = torch.Generator().manual_seed(1)
    qat = irq.prepare(m, (_ids(g, 2),), march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(_ids(g, 4))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert "torch.batch_fixed" not in program.attributes
    for batch in (2, 3):
        ids = _ids(g, batch)
        with torch.no_grad():
            want, ref = qat(ids), m(ids)
        assert F.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.99
        np.testing.assert_array_equal(run_both(program, ids.numpy()), want.numpy())


class ExpandedTypesCompared(nn.Module):
    """The token types expanded to the batch and read by a comparison, not an embedding: no bpu op broadcasts
    integers by another tensor's size, so it is refused by name."""

    def __init__(self) -> None:
        super().__init__()
        self.word = nn.Embedding(VOCAB, DIM)
        self.register_buffer("token_type_ids", (torch.arange(MAX_LEN) % 2)[None], persistent=False)

    def forward(self, ids: Tensor) -> Tensor:
        b, s = ids.shape
        keep = self.token_type_ids[:, :s].expand(b, s) == 0
        return self.word(ids).masked_fill(keep[..., None], 0.0)


def test_integers_expanded_to_the_batch_for_other_ops_are_refused_by_name():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    m = ExpandedTypesCompared().eval()
    qat = irq.prepare(m, (_ids(g, 2),), march="nash", check_model=False, method="export")
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(_ids(g, 4))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with pytest.raises(Exception, match=r"'torch.expand' expands integers to another tensor's traced size"):
        irq.convert(qat, march="nash")
