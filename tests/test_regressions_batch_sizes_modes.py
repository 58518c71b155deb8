"""Regressions in how the batch, the sizes and the train/eval mode are followed (bug hunts of issues 12 and 15 over
batch reshapes, export's fixed sizes, recurrent layers, dropout and batch-norm modes, adaptive pools): inputs a user
plausibly writes where irq gave a wrong number or shape without an error, or failed where torch computes. Each test
failed before its fix; its docstring says how. The attention-mask ones are in
tests/test_silent_wrong_number_regressions.py.

Oracles: eager torch (CALIBRATION equals it), VALIDATION (the deployed program on numba equals it bit for bit,
reference == numba).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation, run_both
from support.calibrated import prepared_and_converted
from torch import Tensor, nn

import irq
from irq.frontend.errors import FrontendError
from irq.text.parser import parse_module

DIM, HEADS, LENGTH = 8, 2, 5


class _Reshaped(nn.Module):
    def __init__(self, form: str) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 12)
        self.form = form

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        if self.form == "minus_one_then_batch":
            return y.reshape(-1, y.shape[0])  # torch: (12, B)
        if self.form == "literal_then_batch":
            return y.reshape(4, y.shape[0] * 3)  # torch: (4, 3B)
        if self.form == "half_batch":
            return y.view(y.shape[0] // 2, -1)  # torch: (B // 2, 24)
        if self.form == "literal_identity":  # the identity at batch 2; torch at batch 4: softmax over 24, not 12
            return torch.softmax(y.reshape(2, -1), -1).reshape(-1, 12)
        return y.view(y.shape[0] * 2, -1)  # "double_batch", torch: (2B, 6): the rule's reading, followed


RESHAPES = [
    ("minus_one_then_batch", "fx"),
    ("minus_one_then_batch", "export"),
    ("literal_then_batch", "fx"),
    ("half_batch", "fx"),
    ("literal_identity", "fx"),
]


@pytest.mark.parametrize("form,method", RESHAPES)
def test_reshape_resizing_another_dim_than_the_batch_rule_is_refused_at_another_batch(form, method):
    """Bug caught (before: at batch 4 the deployed program of a batch-2 model returned (24, 2) where torch returns
    (12, 4), (8, 6) for (4, 12), (1, 48) for (2, 24): samples mixed, no error, on both runtimes; and a reshape that is
    the identity at the traced batch, `reshape(2, -1)` of (2, 12), was dropped by lower-bpu unchecked, so at batch 4
    the program took a softmax over 12 where torch takes it over 24: 0.154 from eager, no error): at the traced
    batch deployed == VALIDATION; at another both runtimes refuse, naming the reshape's line; the mark survives the
    text format."""
    torch.manual_seed(0)
    model = _Reshaped(form).eval()
    g = torch.Generator().manual_seed(1)
    qat, program = prepared_and_converted(model, lambda batch: (torch.randn(batch, 8, generator=g),), method)
    x = torch.randn(2, 8, generator=g)
    with torch.no_grad():
        np.testing.assert_array_equal(run_both(program, x.numpy()), qat(x).numpy())
    reparsed = parse_module(str(program))
    other = torch.randn(4, 8, generator=g).numpy()
    refusal = "'bpu.reshape' moves the batch dimension where it cannot be followed"
    here = r"test_regressions_batch_sizes_modes\.py:\d+:\d+: "
    for p, where in ((program, here), (reparsed, "")):  # the text prints no locations
        with pytest.raises(Exception, match=where + refusal):
            rn.compile(p)(other)
        with pytest.raises(Exception, match=where + refusal):
            reference.run(p, other)


def test_reshape_the_batch_rule_reads_right_still_runs_at_any_batch():
    """No false refusal: `view(y.shape[0] * 2, -1)` is (2B, 6), the batch rule's own reading; deployed ==
    VALIDATION at batches 2 and 4."""
    torch.manual_seed(0)
    model = _Reshaped("double_batch").eval()
    g = torch.Generator().manual_seed(1)
    qat, program = prepared_and_converted(model, lambda batch: (torch.randn(batch, 8, generator=g),), "fx")
    for batch in (2, 4):
        x = torch.randn(batch, 8, generator=g)
        with torch.no_grad():
            want = qat(x)
        assert want.shape == (2 * batch, 6)
        np.testing.assert_array_equal(run_both(program, x.numpy()), want.numpy())


class _StackedLstm(nn.Module):
    """A two-layer LSTM with dropout between its layers (and an attention layer with attention dropout): the
    dropouts apply only in training, as torch's forward reads `self.training` at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(DIM, DIM, num_layers=2, dropout=0.5, batch_first=True)
        self.attn = nn.MultiheadAttention(DIM, HEADS, dropout=0.5, batch_first=True)
        self.head = nn.Linear(DIM, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.rnn(x)[0]
        return self.head(self.attn(y, y, y, need_weights=False)[0][:, -1])


def test_recurrent_and_attention_dropout_follow_the_prepared_models_mode():
    """A model prepared in training mode (for QAT) and then switched to eval kept the LSTM's inter-layer dropout and
    nn.MultiheadAttention's attention dropout of the mode it was traced in: their decompositions passed
    `training=m.training`, a constant in the traced graph. CALIBRATION in eval differed from eager eval by 0.0122
    here (a two-layer LSTM alone: 0.0154, and 0.0139 between two runs of one input), and the statistics, VALIDATION
    and the deployed program were of a randomly dropped network. Now they follow the prepared model's mode as
    nn.Dropout does."""
    torch.manual_seed(0)
    model = _StackedLstm().train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, LENGTH, DIM, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False)
    model.eval()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, LENGTH, DIM, generator=g))
    qat.train()  # and in training they drop, as torch's do
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), (LENGTH, DIM), g, min_cosine=0.98)


class _SequenceFirstGru(nn.Module):
    """A sequence-first GRU classifier (input [L, N, E]): torch.export's batch is dimension 0, here the sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.head = nn.GRU(4, 6), nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.rnn(x)[0][-1])


def test_export_whose_batch_a_guard_specialised_is_refused_at_another_batch():
    """torch.export (Dim.AUTO on dimension 0) specialised the sequence-first GRU's dimension 0 to the example's 3 (its
    unrolled reshape to [N, 3, E] guards it) but left it a SymInt, so irq took the export for batch-dynamic: the float
    import and the prepared model ran a [6, 1, 4] input as the traced [3, 2, 4] and returned a [2, 3] result where
    torch returns [1, 3], without an error. A size whose expression is a number is now the static size it is, and
    the literal [2, 3, 4] reshape marks the batch fixed, refused by name at any other."""
    torch.manual_seed(0)
    model = _SequenceFirstGru().eval()
    x = torch.randn(3, 2, 4)
    module = irq.import_torch(model, (x,), method="export")
    refusal = r"at batch 3.*aten\.reshape\.default at .*test_regressions_batch_sizes_modes\.py:\d+"
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(to_module(module)(x), model(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for run in (to_module(module), qat):
            with pytest.raises(ValueError, match=refusal):
                run(torch.randn(6, 1, 4))


class _TrainedWithDropout(nn.Module):
    """What users prepare for QAT, in training mode: a batch norm, nn.Dropout, and an LSTM's dropout between layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.drop = nn.Conv1d(DIM, DIM, 1), nn.BatchNorm1d(DIM), nn.Dropout(0.5)
        self.rnn = nn.LSTM(DIM, DIM, num_layers=2, dropout=0.5, batch_first=True)
        self.head = nn.Linear(DIM, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.drop(torch.relu(self.bn(self.conv(x.transpose(1, 2))))).transpose(1, 2)
        return self.head(self.rnn(y)[0][:, -1])


def test_export_of_a_training_mode_model_follows_the_prepared_models_mode():
    """irq.prepare(method="export") of a model in training mode baked the trace's mode: torch.export writes
    aten.dropout(train=True) and aten.batch_norm(training=True), so after qat.eval() the prepared model still dropped
    units and normalised with the batch's statistics (CALIBRATION vs eager eval, max |difference|: 0.161 on the bug
    hunt's model with nn.Dropout and an LSTM's dropout, 0.0093-0.0316 over three runs of one input here). torch.nn's
    dropouts and batch norms now follow the mode as fx's do: eval equals eager eval; training drops units and updates
    the running statistics as eager's does; the program deploys as VALIDATION."""
    torch.manual_seed(0)
    model = _TrainedWithDropout().train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, LENGTH, DIM, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)  # fake quantization off: float numbers
    qat.train()
    twin = _TrainedWithDropout()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():  # training: batch statistics, the running ones updated as eager's (dropouts aside)
        qat(x)
        twin.train()(x)
    for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):  # updated once, as eager's
        torch.testing.assert_close(qat.state_dict()[key], twin.state_dict()[key], rtol=1e-6, atol=1e-7)
    with torch.no_grad():
        assert not torch.equal(qat(x), qat(x))
    model.bn.load_state_dict({k[3:]: v for k, v in qat.state_dict().items() if k.startswith("bn.")})
    model.eval()
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        torch.testing.assert_close(qat(x), model(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, LENGTH, DIM, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    assert_deploys_as_validation(model, qat, irq.convert(qat, march="nash"), (LENGTH, DIM), g, min_cosine=0.98)


class _AttentionDropout(nn.Module):
    """nn.MultiheadAttention with dropout: torch passes SDPA dropout_p=0.5 only while training."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(DIM, HEADS, dropout=0.5, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class _OwnDropout(nn.Module):
    """A dropout in the model's own code, following its mode as written: export records only the traced flag."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(self.fc(x), 0.2, self.training)


@pytest.mark.parametrize(
    "model, op",
    [(_AttentionDropout, r"aten\.scaled_dot_product_attention\.default"), (_OwnDropout, r"aten\.dropout\.default")],
)
def test_export_in_training_mode_refuses_a_dropout_it_cannot_free(model, op):
    """What torch.export fixes at the training mode and cannot be told from a deliberate constant (the attention
    dropout nn.MultiheadAttention passes to SDPA as a number, a dropout in the model's own code) is refused naming
    the op and the user's line; before, it kept dropping in eval, calibration and VALIDATION without an error. In
    eval the same model imports and equals torch."""
    torch.manual_seed(0)
    m, x = model(), torch.randn(2, LENGTH, DIM)
    with pytest.raises(
        FrontendError,
        match=rf"test_regressions_batch_sizes_modes\.py:\d+: {op}.*traced the model in training mode.*"
        r"model\.eval\(\) before prepare",
    ):
        irq.import_torch(m.train(), (x,), method="export")
    module = irq.import_torch(m.eval(), (x,), method="export")
    with torch.no_grad():
        torch.testing.assert_close(to_module(module)(x), m(x), rtol=1e-5, atol=1e-5)


class _PooledHead(nn.Module):
    """A conv then an adaptive pool to 2x2: torch's windows follow the input's size."""

    def __init__(self, pool) -> None:
        super().__init__()
        self.conv, self.pool = nn.Conv2d(3, 3, 1), pool

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x)).flatten(1)


@pytest.mark.parametrize(
    "pool, method",
    [
        (nn.AdaptiveMaxPool2d(2), "fx"),
        (nn.AdaptiveMaxPool2d(2), "export"),
        (lambda y: F.adaptive_max_pool2d(y, (2, 2)), "fx"),
        (nn.AdaptiveAvgPool2d(2), "export"),
    ],
)
def test_adaptive_pool_traced_at_one_size_computes_torchs_result_at_another(pool, method):
    """An adaptive max pool imports as the max pool with kernel = stride = input / output at the traced size, so
    traced at 8x8 and run at 16x16 the float import and the prepared model returned (2, 3, 4, 4) where torch returns
    (2, 3, 2, 2) (here flattened: (2, 48) for (2, 12)), without an error. The op now keeps its output size and the
    executors compute the adaptive pool, torch's result at any size (the average pool already did); the deployed
    program, whose windows are the traced ones, equals VALIDATION at 8x8 and refuses 16x16. Under method="export"
    the float import and the prepared model refuse 16x16 as torch.export's own module does ("Guard failed:
    input.size()[2] == 8"): export fixes every non-batch size (test_export_fixes_the_non_batch_sizes)."""
    torch.manual_seed(0)
    model = _PooledHead(pool).eval()
    g = torch.Generator().manual_seed(1)
    x, big = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 16, 16, generator=g)
    module = irq.import_torch(model, (x,), method=method)
    float_import = to_module(parse_module(irq.print_module(module)))
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        want = model(big)
        assert want.shape == (2, 12)
        for run in (float_import, qat):
            if method == "export":
                with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[2, 3, 8, 8\]"):
                    run(big)
            else:
                torch.testing.assert_close(run(big), want, rtol=1e-5, atol=1e-5)
        for _ in range(3):
            qat(torch.randn(4, 3, 8, 8, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    if method == "fx":
        with torch.no_grad():
            assert F.cosine_similarity(qat(big).flatten(), want.flatten(), 0).item() > 0.99
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, (3, 8, 8), g)
    with pytest.raises(ValueError, match=r"\[2, 3, 16, 16\].*expects \[2, 3, 8, 8\]"):
        rn.compile(program)(big.numpy())


def test_deployed_refusal_of_a_sequence_first_export_does_not_promise_any_batch():
    """The sequence-first GRU exported at [3, 2, 4] (dimension 0, its sequence, fixed by the unrolled reshape): at
    [3, 1, 4] (another batch, in dimension 1) the numba runtime refused saying the program takes "any batch size in
    dimension 0", and at [6, 1, 4] every executor said the model runs "only at batch 3" of a dimension that holds the
    sequence. Both now say what is fixed: dimension 0, by the op and line torch.export fixed it in."""
    torch.manual_seed(0)
    model = _SequenceFirstGru().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 4, generator=g)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(torch.randn(3, 2, 4, generator=g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    with torch.no_grad():
        np.testing.assert_array_equal(run_both(program, x.numpy()), qat(x).numpy())
    fixed_at = r"aten\.reshape\.default at .*test_regressions_batch_sizes_modes\.py:\d+"
    other_batch = torch.randn(3, 1, 4, generator=g).numpy()
    with pytest.raises(
        ValueError, match=rf"expects \[3, 2, 4\] \(every size fixed, dimension 0 too: .* at 3 in {fixed_at}\)"
    ):
        rn.compile(program)(other_batch)
    with pytest.raises(ValueError, match=r"expects tensor<3x2x4xf32>"):
        reference.run(program, other_batch)
    with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[3, 2, 4\].*got \[3, 1, 4\]"):
        qat(torch.from_numpy(other_batch))  # VALIDATION: failed inside torch's reshape, naming no op
    longer = torch.randn(6, 1, 4, generator=g)
    refusal = (
        rf"at batch 3 \(torch\.export's batch is dimension 0 .*fixed that size in {fixed_at}; it runs only with 3 in"
    )
    for run in (rn.compile(program), lambda a: reference.run(program, a), lambda a: qat(torch.from_numpy(a))):
        with pytest.raises(ValueError, match=refusal):
            run(longer.numpy())


class _SizesFromShape(nn.Module):
    """Sizes read from x.shape beyond the batch: torch.export records them as the traced numbers."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rows = x.reshape(-1, x.shape[-1])
        return rows * 2, x.permute(0, 2, 1).reshape(x.shape[0], x.shape[2], -1).sum(-1)


def test_export_fixes_the_non_batch_sizes():
    """Bug caught: imported with method="export" at [2, 3, 4], `x.reshape(-1, x.shape[-1])` ran at [2, 3, 8] as
    reshape(-1, 4) in the float import and the prepared model: a (12, 4) result where torch returns (6, 8), and
    (2, 4) for torch's (2, 8), without an error. Now both refuse another non-batch size, as torch.export's own
    module does, and another batch still runs (dimension 0 stays dynamic)."""
    model = _SizesFromShape().eval()
    x = torch.randn(2, 3, 4)
    float_import = to_module(parse_module(irq.print_module(irq.import_torch(model, (x,), method="export"))))
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for run in (float_import, qat):
            for other in (torch.randn(2, 3, 8), torch.randn(2, 4, 4), torch.randn(2, 3)):
                with pytest.raises(ValueError, match=r"method='export' from an input 0 of shape \[2, 3, 4\].*got"):
                    run(other)
            x5 = torch.randn(5, 3, 4)
            for got, want in zip(run(x5), model(x5)):
                torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
        fx_import = to_module(irq.import_torch(model, (x,)))  # fx reads the sizes at run time
        big = torch.randn(2, 3, 8)
        for got, want in zip(fx_import(big), model(big)):
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


class _CumulativeBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.head = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=None), nn.Conv2d(4, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.bn(self.conv(x)).relu())


@pytest.mark.parametrize("method", ["fx", "export"])
def test_batch_norm_with_cumulative_momentum_exported_in_eval_updates_its_statistics_in_training(method):
    """Bug caught: nn.BatchNorm2d(momentum=None) (a cumulative average of the batches seen) exported in eval mode was
    recorded with torch's eval-time factor 0.0, so the prepared model trained for QAT never moved its running
    statistics (max |running_mean - eager's| 0.47 after three batches here). The layer's own momentum is now read
    from the model: the float import trained in step with eager keeps the same statistics and the same outputs."""
    torch.manual_seed(0)
    model = _CumulativeBatchNorm().eval()
    x = torch.randn(2, 3, 6, 6)
    gm = to_module(parse_module(irq.print_module(irq.import_torch(model, (x,), method=method))))
    model.train()
    gm.train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(3):
            batch = torch.randn(4, 3, 6, 6, generator=g) * 2 + 1
            torch.testing.assert_close(gm(batch), model(batch), rtol=1e-5, atol=1e-5)
    buffers = dict(gm.named_buffers())
    means = [v for k, v in buffers.items() if k.endswith("running_mean")]
    assert len(means) == 1 and model.bn.running_mean.abs().max() > 0.1
    torch.testing.assert_close(means[0], model.bn.running_mean, rtol=1e-5, atol=1e-6)
    model.eval()
    gm.eval()
    with torch.no_grad():
        torch.testing.assert_close(gm(x), model(x), rtol=1e-5, atol=1e-5)


class _Attention(nn.Module):
    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(DIM, HEADS, dropout=dropout, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


@pytest.mark.parametrize("method,dropout,warns", [("export", 0.1, True), ("export", 0.0, False), ("fx", 0.1, False)])
def test_export_of_an_eval_attention_warns_that_qat_will_train_it_without_dropout(method, dropout, warns):
    """Found by session 11's review: nn.MultiheadAttention passes its attention dropout to SDPA only while training,
    so a model exported in eval mode has none, and QAT after qat.train() silently trained without it (a
    training-mode export refuses it by name; fx follows the mode). Now the eval export warns, naming the layer."""
    torch.manual_seed(0)
    model = _Attention(dropout).eval()
    x = torch.randn(2, LENGTH, DIM)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        irq.prepare(model, (x,), qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    lost = [w for w in caught if "nn.MultiheadAttention 'attn' (dropout=0.1)" in str(w.message)]
    assert len(lost) == (1 if warns else 0), [str(w.message) for w in caught]
    if warns:
        assert issubclass(lost[0].category, irq.frontend.TracingWarning) and "method='fx'" in str(lost[0].message)
        assert lost[0].filename == __file__  # the user's prepare line, not irq's


class _UnbindAlong(nn.Module):
    def forward(self, x: Tensor, dim: int) -> Tensor:
        return torch.stack([p * 2 for p in torch.unbind(x, dim)], 0)


def test_export_refuses_another_value_of_a_python_number_input():
    """Found by session 11's review: torch.export specialises a Python number passed as an input (its own module
    refuses another value, 'Guard failed: dim == 1'); the float import and the prepared model took `dim=2` and
    returned the `dim=1` result, shape (3, 2, 4) where eager's is (4, 2, 3), without an error. Both now refuse,
    naming the input and its traced value, also after the text format."""
    torch.manual_seed(0)
    model = _UnbindAlong().eval()
    x = torch.randn(2, 3, 4)
    module = irq.import_torch(model, (x, 1), method="export")
    qat = irq.prepare(model, (x, 1), qconfig="default_calib_8bit", march="nash", check_model=False, method="export")
    irq.set_fake_quantize(qat.eval(), irq.FakeQuantState.CALIBRATION)
    refusal = r"with dim=1: torch\.export specialises a Python number .* got dim=2"
    with torch.no_grad():
        for run in (to_module(module), to_module(parse_module(str(module))), qat):
            torch.testing.assert_close(run(x, 1), model(x, 1))
            with pytest.raises(ValueError, match=refusal):
                run(x, 2)
