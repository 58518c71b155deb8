"""Embedding lookups in the program: int8 tables (per row or per tensor), bpu.embedding, VALIDATION.

A token-id model (word + position lookups, their sum, a layer norm, a linear) is prepared with
method="export", calibrated, converted for nash and run on both runtimes. What each test catches:
- VALIDATION != program: a table quantized or a row requantized differently in VALIDATION than in
  lower-bpu (the deployed number would not be the validated one);
- the op's formula, checked against exact Python integers on a hand-written program (a runtime that
  uses the wrong row's multiplier, rounds differently or skips saturation);
- an index outside the table: an error naming the op, in both runtimes (not a read out of bounds);
- the quantized lookups stay close to float (a lost per-row scale shows up as a low cosine);
- QAT trains through the table's fake-quant (a gradient reaches the embedding weights).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from irq.dialects import bpu
from irq.runtime import numba as numba_runtime
from irq.runtime.reference import run as run_reference
from torch import nn

import irq
from irq.workflow import prepare_calibrated
from tests.support.bpu_text import ProgramText

VOCAB, SEQ, DIM = 50, 8, 16


class TokenModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word = nn.Embedding(VOCAB, DIM)
        self.position = nn.Embedding(SEQ, DIM)
        self.norm = nn.LayerNorm(DIM)
        self.fc = nn.Linear(DIM, 4)
        with torch.no_grad():  # rows of very different ranges: what a per-tensor table scale loses
            self.word.weight[:10] *= 0.05

    def forward(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.word(ids) + self.position(positions)))


def tokens(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (n, SEQ), generator=g), torch.arange(SEQ).expand(n, SEQ).contiguous()


def quantize(model: nn.Module, qconfig=None, march: str = "nash"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = prepare_calibrated(model, tokens(4, 0), [tokens(32, 1)], method="export", check_model=False,
                                 march=march, qconfig=qconfig or irq.qconfig.default_qat_8bit)
        return qat, irq.convert(qat, march=march)


@pytest.fixture(scope="module")
def per_row():
    torch.manual_seed(0)
    model = TokenModel().eval()
    return (model, *quantize(model))


def test_lookups_lower_to_bpu_embedding_with_one_multiplier_per_row(per_row):
    _, _, program = per_row
    ops = [op for op in program.walk() if op.name == "bpu.embedding"]
    assert [len(op.multiplier) for op in ops] == [VOCAB, SEQ]
    assert all(str(op.indices.type) == f"tensor<4x{SEQ}xi64>" for op in ops)
    assert [op.name for op in program.walk() if op.dialect_name in ("hl", "torch")] == []


@pytest.mark.parametrize("n", [4, 3, 1])
def test_program_equals_validation_bit_for_bit(per_row, n):
    _, qat, program = per_row
    ids, pos = tokens(n, 2)
    with torch.no_grad():
        val = qat(ids, pos).numpy()
    np.testing.assert_array_equal(numba_runtime.compile(program)(ids.numpy(), pos.numpy()), val)
    if n == 4:  # the reference runtime runs the program's own batch
        np.testing.assert_array_equal(run_reference(program, ids.numpy(), pos.numpy())[0], val)


def test_per_tensor_table_is_one_multiplier_and_still_exact():
    torch.manual_seed(0)
    model = TokenModel().eval()
    per_tensor = irq.qconfig.QConfig(irq.qconfig.default_qat_8bit.activation,
                                     irq.qconfig.QuantizerSpec("qint8", "min_max", qscheme="per_tensor"))
    qat, program = quantize(model, {"": irq.qconfig.default_qat_8bit, "word": per_tensor, "position": per_tensor})
    assert [len(op.multiplier) for op in program.walk() if op.name == "bpu.embedding"] == [1, 1]
    ids, pos = tokens(4, 3)
    with torch.no_grad():
        val = qat(ids, pos).numpy()
    np.testing.assert_array_equal(irq.run(program, ids.numpy(), pos.numpy()), val)


def test_bayes_runs_the_lookups_in_the_program_too():
    """bayes (int8 linears, int16 only for element-wise ops and tables) lowers the lookups to bpu.embedding as
    nash does: before, convert refused 'hl.embedding' on bayes and the table stayed float."""
    torch.manual_seed(0)
    model = TokenModel().eval()
    qat, program = quantize(model, march="bayes")
    assert [len(op.multiplier) for op in program.walk() if op.name == "bpu.embedding"] == [VOCAB, SEQ]
    assert [op.name for op in program.walk() if op.dialect_name in ("hl", "torch")] == []
    linear = next(op for op in program.walk() if op.name == "bpu.linear")
    assert str(linear.operands[0].type).endswith("xi8>")  # bayes' linears take int8 only
    for n, seed in ((4, 6), (3, 7)):
        ids, pos = tokens(n, seed)
        with torch.no_grad():
            val = qat(ids, pos).numpy()
        np.testing.assert_array_equal(numba_runtime.compile(program)(ids.numpy(), pos.numpy()), val)
        if n == 4:
            np.testing.assert_array_equal(run_reference(program, ids.numpy(), pos.numpy())[0], val)
    ids, pos = tokens(16, 4)
    with torch.no_grad():
        ref = model(ids, pos)
    out = torch.from_numpy(irq.run(program, ids.numpy(), pos.numpy()))
    assert float(nn.functional.cosine_similarity(out, ref, dim=-1).mean()) > 0.99


def test_deployed_stays_close_to_float(per_row):
    model, _, program = per_row
    ids, pos = tokens(16, 4)
    out = torch.from_numpy(irq.run(program, ids.numpy(), pos.numpy()))
    with torch.no_grad():
        ref = model(ids, pos)
    assert float(nn.functional.cosine_similarity(out, ref, dim=-1).mean()) > 0.995


def test_index_outside_the_table_is_an_error_naming_the_op(per_row):
    _, _, program = per_row
    ids, pos = tokens(4, 5)
    ids[2, 3] = VOCAB
    with pytest.raises(ValueError, match=rf"'bpu.embedding' index {VOCAB} is outside the table's {VOCAB} rows"):
        irq.run(program, ids.numpy(), pos.numpy())
    ids[2, 3] = -1
    with pytest.raises(ValueError, match=r"bpu.embedding.*index -1 is outside"):
        run_reference(program, ids.numpy(), pos.numpy())


def _exact(codes: np.ndarray, ids: np.ndarray, m: list[int], s: list[int], lo: int, hi: int) -> np.ndarray:
    """The op's formula on Python integers: sat(floor((code * M[r] + 2**(S[r]-1)) / 2**S[r]))."""
    out = np.zeros((*ids.shape, codes.shape[1]), np.int64)
    for idx in np.ndindex(ids.shape):
        r = int(ids[idx])
        mr, sr = (m[r], s[r]) if len(m) > 1 else (m[0], s[0])
        for k in range(codes.shape[1]):
            out[idx + (k,)] = min(max((int(codes[r, k]) * mr + (1 << (sr - 1))) >> sr, lo), hi)
    return out


@pytest.mark.parametrize("per_row_params,dtype", [(True, "i8"), (False, "i8"), (True, "i16")])
def test_bpu_embedding_formula_on_both_runtimes(per_row_params, dtype):
    rng = np.random.default_rng(7)
    rows, dim = 6, 5
    codes = rng.integers(-127, 128, (rows, dim))
    n = rows if per_row_params else 1
    m = [int(x) for x in rng.integers(2**29, 2**31 - 1, n)]
    s = [int(x) for x in rng.integers(22, 31, n)]  # up to x512: exercises saturation on i8
    ids = rng.integers(0, rows, (3, 4))
    p = ProgramText([("ids", (3, 4), "i64")])
    p.const("t", codes, "i8")
    p.op("y", "bpu.embedding", ["ids", "t"], ((3, 4, dim), dtype), {"multiplier": ("array", m), "shift": ("array", s)})
    program = p.module(["y"])
    lo, hi = (-128, 127) if dtype == "i8" else (-32768, 32767)
    want = _exact(codes, ids, m, s, lo, hi)
    assert (want == lo).any() or (want == hi).any() or dtype == "i16"
    np.testing.assert_array_equal(run_reference(program, ids)[0], want)
    np.testing.assert_array_equal(numba_runtime.compile(program)(ids), want)


def test_verifier_rejects_wrong_shapes_and_parameter_counts():
    codes = np.zeros((6, 5), np.int64)
    for result, m, msg in [((3, 4, 4), [1 << 30], "does not match indices"),
                           ((3, 4, 5), [1 << 30] * 4, "expected 1 .* or 6")]:
        p = ProgramText([("ids", (3, 4), "i64")])
        p.const("t", codes, "i8")
        p.op("y", "bpu.embedding", ["ids", "t"], (result, "i8"), {"multiplier": ("array", m),
                                                                  "shift": ("array", [30] * len(m))})
        with pytest.raises(Exception, match=msg):
            p.module(["y"])
    assert "bpu.embedding" in bpu.DIALECT.ops


def test_qat_trains_the_table_through_its_fake_quant():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = irq.prepare(TokenModel().eval(), tokens(4, 0), method="export", check_model=False, march="nash")
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(*tokens(16, 1))
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    ids, pos = tokens(4, 6)
    qat(ids, pos).square().mean().backward()
    grad = qat.get_submodule("word").weight.grad
    assert grad is not None and grad[ids.unique()].abs().sum() > 0
    fq = qat.get_submodule("word.weight_quant")
    assert fq.axis == 0 and fq.scale.numel() == VOCAB  # one scale per row


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), dim=st.integers(1, 7), per_row_params=st.booleans(),
       rounding=st.sampled_from(bpu.ROUNDING_MODES), dtype=st.sampled_from(["i8", "i16"]), data=st.data())
def test_numba_equals_reference_on_any_table_and_rounding(rows, dim, per_row_params, rounding, dtype, data):
    """The numba kernel against the reference (whose rshift_round is checked against fractions elsewhere):
    every rounding mode, per-row and per-tensor multipliers, i8 and i16 outputs, extreme codes."""
    codes = np.array(data.draw(st.lists(st.integers(-127, 127), min_size=rows * dim, max_size=rows * dim))
                     ).reshape(rows, dim)
    n = rows if per_row_params else 1
    m = data.draw(st.lists(st.integers(0, 2**31 - 1), min_size=n, max_size=n))
    s = data.draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    ids = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=6, max_size=6))).reshape(2, 3)
    p = ProgramText([("ids", (2, 3), "i64")])
    p.const("t", codes, "i8")
    attrs = {"multiplier": ("array", m), "shift": ("array", s)}
    if rounding != "half_up":
        attrs["rounding"] = rounding
    p.op("y", "bpu.embedding", ["ids", "t"], ((2, 3, dim), dtype), attrs)
    program = p.module(["y"])
    np.testing.assert_array_equal(numba_runtime.compile(program)(ids), run_reference(program, ids)[0])
