"""nn.RNN / nn.GRU / nn.LSTM traced as their unrolled cell equations (irq/frontend/decompose_rnn.py).

They used to stay one opaque call that no march runs. Each configuration is checked against eager torch
(the module rebuilt from printed text, at the traced batch and another), another sequence length is refused
rather than truncated, and quantized models deploy == VALIDATION on both runtimes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.runtime.torch import to_module
from support.both_runtimes import assert_deploys_as_validation, run_both
from torch import Tensor, nn

import irq

CONFIGS = {
    "lstm": (nn.LSTM, dict(batch_first=True)),
    "gru": (nn.GRU, dict(batch_first=True)),
    "rnn_tanh": (nn.RNN, dict(batch_first=True)),
    "rnn_relu_no_bias": (nn.RNN, dict(batch_first=True, nonlinearity="relu", bias=False)),
    "lstm_seq_first_two_layers": (nn.LSTM, dict(num_layers=2)),
    "gru_bidirectional": (nn.GRU, dict(batch_first=True, bidirectional=True)),
    "lstm_bidirectional_two_layers": (nn.LSTM, dict(batch_first=True, bidirectional=True, num_layers=2)),
}
LENGTH, FEATURES, HIDDEN = 5, 6, 8


class Tagger(nn.Module):
    """Every output of the recurrent module used: the sequence, and the final hidden (and cell) state."""

    def __init__(self, kind: type, options: dict) -> None:
        super().__init__()
        self.rnn = kind(FEATURES, HIDDEN, **options)
        self.lstm = kind is nn.LSTM
        self.batch_first = options.get("batch_first", False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, state = self.rnn(x)
        h = state[0] if self.lstm else state
        last = h[-1] if not self.lstm else h[-1] + state[1][-1]
        return out, last


def _input(batch: int, batch_first: bool, generator=None) -> Tensor:
    shape = (batch, LENGTH, FEATURES) if batch_first else (LENGTH, batch, FEATURES)
    return torch.randn(*shape, generator=generator)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_recurrent_module_imports_as_typed_ops_equal_to_eager(name):
    """Bug caught: a gate order or equation wrong (i f g o, r z n), the reverse direction not reversed or its
    outputs misplaced, a layer fed the wrong sequence, the final states of the wrong step or layer, the
    batch fixed at the traced one, or the module kept opaque."""
    kind, options = CONFIGS[name]
    torch.manual_seed(0)
    m = Tagger(kind, options).eval()
    first = options.get("batch_first", False)
    module = irq.import_torch(m, (_input(2, first),))
    assert not [op for op in module.walk() if op.name == "torch.call"]
    gm = to_module(irq.parse_module(irq.print_module(module)))
    assert list(gm.state_dict()) == list(m.state_dict())
    with torch.no_grad():
        for batch in (2, 3):
            x = _input(batch, first)
            for got, want in zip(gm(x), m(x)):
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_initial_state_is_used():
    """Bug caught: a given (h0, c0) ignored (the zero-state first step taken anyway)."""

    class WithState(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(FEATURES, HIDDEN, batch_first=True)

        def forward(self, x: Tensor, h0: Tensor, c0: Tensor) -> Tensor:
            return self.rnn(x, (h0, c0))[0]

    torch.manual_seed(0)
    m = WithState().eval()
    args = (torch.randn(2, LENGTH, FEATURES), torch.randn(1, 2, HIDDEN), torch.randn(1, 2, HIDDEN))
    gm = to_module(irq.import_torch(m, args))
    with torch.no_grad():
        torch.testing.assert_close(gm(*args), m(*args), rtol=1e-5, atol=1e-5)


def test_another_sequence_length_is_refused_not_truncated():
    torch.manual_seed(0)
    m = Tagger(nn.GRU, dict(batch_first=True)).eval()
    gm = to_module(irq.import_torch(m, (_input(2, True),)))
    with pytest.raises(RuntimeError, match="shape"):
        gm(torch.randn(2, LENGTH + 2, FEATURES))


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_recurrent_model_deploys_as_validation(name):
    kind, options = CONFIGS[name]

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = kind(FEATURES, HIDDEN, **options)
            self.head = nn.Linear(HIDDEN, 3)

        def forward(self, x: Tensor) -> Tensor:
            return self.head(self.rnn(x)[0][:, -1])

    torch.manual_seed(0)
    model = Classifier().eval()
    g = torch.Generator().manual_seed(1)
    qat = irq.prepare(model, (_input(2, True, g),), qconfig="default_calib_8bit", march="nash", check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(_input(4, True, g))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    assert_deploys_as_validation(model, qat, program, (LENGTH, FEATURES), g, min_cosine=0.98)


class _SharedEncoder(nn.Module):
    """One GRU encoding two sequences of different lengths (a siamese / query-document encoder)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc, self.head = nn.GRU(FEATURES, HIDDEN, batch_first=True), nn.Linear(HIDDEN, 3)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.head(self.enc(a)[0][:, -1] * self.enc(b)[0][:, -1])


@pytest.mark.parametrize("method", ["fx", "export"])
def test_one_recurrent_module_called_at_two_lengths(method):
    """Bug caught: each recurrent module was unrolled to one length, the first call's, so a GRU shared by two
    sequences failed to import ("shape '[2, 5, 4]' is invalid for input of size 24"). Each call now unrolls to
    its own length (in call order); the float import equals eager, and the deployed program VALIDATION."""
    torch.manual_seed(0)
    model = _SharedEncoder().eval()
    g = torch.Generator().manual_seed(1)

    def draw(batch: int) -> tuple[Tensor, Tensor]:
        return torch.randn(batch, LENGTH, FEATURES, generator=g), torch.randn(batch, 3, FEATURES, generator=g)

    args = draw(2)
    with torch.no_grad():
        torch.testing.assert_close(
            to_module(irq.import_torch(model, args, method=method))(*args), model(*args), rtol=1e-5, atol=1e-5
        )
    qat = irq.prepare(model, args, qconfig="default_calib_8bit", march="nash", check_model=False, method=method)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for _ in range(3):
            qat(*draw(4))
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="nash")
    inputs = draw(3)
    with torch.no_grad():
        want, ref = qat(*inputs), model(*inputs)
    assert torch.nn.functional.cosine_similarity(want.flatten(), ref.flatten(), 0).item() > 0.98
    np.testing.assert_array_equal(run_both(program, *(x.numpy() for x in inputs)), want.numpy())
