"""nn.RNN, nn.GRU and nn.LSTM traced as their cell equations, unrolled over the example's sequence length.

fx keeps these modules as one opaque call (their forward dispatches to one fused ATen kernel), which no
march runs: a speech or time-series model never reached the bpu. Unrolled, every step is linear, sigmoid,
tanh, multiply and add, which quantize and lower like any other op, and the program is static in the
sequence length, as a deployed recurrent network on a fixed-point accelerator is (horizon's and
torch.ao's quantized LSTMs are unrolled or stepped the same way).

The equations are torch's documented ones (torch.nn.GRU / LSTM / RNN docstrings):
  RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
  GRU:  r = s(W_ir x + b_ir + W_hr h + b_hr); z = s(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h
  LSTM: i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh); c' = s(f) c + s(i) tanh(g); h' = s(o) tanh(c')
Layers feed each other's output sequence (with dropout between them in training), a reverse direction runs
the sequence backwards and its outputs are concatenated after the forward ones. When no initial state is
given, the first step's `W_hh h` is zero and is left out (no zeros tensor of the batch's size is made), so
the batch stays dynamic.

The sequence length comes from the example inputs (`sequence_lengths` runs the model once, eval mode, no
gradient, recording each recurrent module's input shape); the unrolled graph reshapes its input to that
length first, so another length fails in that reshape instead of being silently truncated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from irq.runtime.torch.functions import module_mode_dropout

_ARGS = ("input", "hx")


def supports_rnn(m: nn.Module, args: tuple, kwargs: dict) -> bool:
    """Whether `recurrent` computes this call: a batched tensor input (packed sequences stay opaque), no
    LSTM projection, and the sequence length known from the example run."""
    if not isinstance(m, (nn.RNN, nn.GRU, nn.LSTM)) or getattr(m, "proj_size", 0):
        return False
    if len(args) > len(_ARGS) or any(k not in _ARGS for k in kwargs):
        return False
    return True


class SequenceLengths:
    """The time-axis length of each call of each recurrent module on the example inputs, in call order: a module
    called twice (one encoder shared by two sequences) has two, and its traced calls take them in the same
    order (`take`). With one length per module, the second call was unrolled to the first's length and the
    import failed in that reshape ("shape '[2, 5, 4]' is invalid for input of size 24")."""

    def __init__(self, calls: dict[nn.Module, list[int]] | None = None) -> None:
        self.calls = calls or {}
        self._taken: dict[nn.Module, int] = {}

    def __contains__(self, m: object) -> bool:
        return m in self.calls

    def take(self, m: nn.Module) -> int:
        """The length of `m`'s next call (cycling, for a graph traced more than once)."""
        i = self._taken.get(m, 0)
        self._taken[m] = i + 1
        seen = self.calls[m]
        return seen[i % len(seen)]


def sequence_lengths(model: nn.Module, inputs: tuple, kwargs: dict[str, Any]) -> SequenceLengths:
    """The time-axis lengths each recurrent module of `model` sees on the example inputs (one eager run in eval
    mode without gradient, so no batch-norm statistic or parameter changes); empty when it has none, or when
    the run fails (the trace then reports the failure at the user's line)."""
    rnns = [m for m in model.modules() if isinstance(m, (nn.RNN, nn.GRU, nn.LSTM))]
    if not rnns:
        return SequenceLengths()
    calls: dict[nn.Module, list[int]] = {}

    def record(m: nn.Module, args: tuple) -> None:
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.dim() == 3:
            calls.setdefault(m, []).append(x.shape[1] if m.batch_first else x.shape[0])

    handles = [m.register_forward_pre_hook(record) for m in rnns]
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs, **kwargs)
    except Exception:  # noqa: BLE001 - the trace reports it at the user's line
        return SequenceLengths()
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return SequenceLengths(calls)


def _cell(m: nn.Module) -> Callable[..., Any]:
    if isinstance(m, nn.LSTM):
        return _lstm_step
    if isinstance(m, nn.GRU):
        return _gru_step
    return _rnn_step


def _weights(m: nn.Module, layer: int, reverse: bool) -> tuple[Any, Any, Any, Any]:
    sfx = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih, w_hh = getattr(m, "weight_ih" + sfx), getattr(m, "weight_hh" + sfx)
    b_ih = getattr(m, "bias_ih" + sfx) if m.bias else None
    b_hh = getattr(m, "bias_hh" + sfx) if m.bias else None
    return w_ih, w_hh, b_ih, b_hh


def _hidden_term(h: Any, w_hh: Any, b_hh: Any) -> Any:
    """W_hh h + b_hh; with no state yet (h None) just b_hh (or None: nothing to add)."""
    return F.linear(h, w_hh, b_hh) if h is not None else b_hh


def _plus(a: Any, b: Any) -> Any:
    return a if b is None else a + b


def _rnn_step(m: nn.RNN, x_term: Any, state: Any, w: tuple) -> tuple[Any, Any]:
    pre = _plus(x_term, _hidden_term(state, w[1], w[3]))
    h = torch.tanh(pre) if m.nonlinearity == "tanh" else torch.relu(pre)
    return h, h


def _gru_step(m: nn.GRU, x_term: Any, state: Any, w: tuple) -> tuple[Any, Any]:
    x_r, x_z, x_n = x_term.chunk(3, dim=-1)
    if state is None:  # W_hh h = 0: only b_hh's parts remain (chunks of a constant fold at convert)
        b = w[3].chunk(3) if w[3] is not None else (None, None, None)
        r, z = torch.sigmoid(_plus(x_r, b[0])), torch.sigmoid(_plus(x_z, b[1]))
        n = torch.tanh(x_n if b[2] is None else x_n + r * b[2])
        h = (1 - z) * n
        return h, h
    h_r, h_z, h_n = F.linear(state, w[1], w[3]).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h = (1 - z) * n + z * state
    return h, h


def _lstm_step(m: nn.LSTM, x_term: Any, state: Any, w: tuple) -> tuple[Any, Any]:
    h, c = state if state is not None else (None, None)
    i, f, g, o = _plus(x_term, _hidden_term(h, w[1], w[3])).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = i * g if c is None else f * c + i * g
    h = o * torch.tanh(c)
    return h, (h, c)


def recurrent(m: nn.Module, length: int, input: Any, hx: Any = None) -> tuple[Any, Any]:
    """nn.RNN / GRU / LSTM forward on a batched input, unrolled over `length` steps, in typed ops."""
    lstm, dirs = isinstance(m, nn.LSTM), 2 if m.bidirectional else 1
    x = input if m.batch_first else input.transpose(0, 1)  # (N, L, E) inside
    x = x.reshape(x.size(0), length, m.input_size)  # another sequence length fails here, never truncated
    step = _cell(m)
    finals_h: list[Any] = []
    finals_c: list[Any] = []
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            w = _weights(m, layer, reverse=d == 1)
            k = layer * dirs + d
            state = None if hx is None else (hx[0][k], hx[1][k]) if lstm else hx[k]
            x_terms = F.linear(x, w[0], w[2])  # every step's input projection at once: (N, L, gates)
            seq: list[Any] = [None] * length
            for t in range(length - 1, -1, -1) if d == 1 else range(length):
                h, state = step(m, x_terms[:, t], state, w)
                seq[t] = h
            outs.append(torch.stack(seq, dim=1))
            finals_h.append(state[0] if lstm else state)
            if lstm:
                finals_c.append(state[1])
        x = outs[0] if dirs == 1 else torch.cat(outs, dim=-1)
        if m.dropout and layer < m.num_layers - 1:
            x = module_mode_dropout(x, m.dropout, m.training)  # follows the prepared model's mode
    out = x if m.batch_first else x.transpose(0, 1)
    h_n = torch.stack(finals_h, dim=0)
    return out, ((h_n, torch.stack(finals_c, dim=0)) if lstm else h_n)


@contextlib.contextmanager
def unrolled_forwards(lengths: SequenceLengths) -> Iterator[None]:
    """Within the block each recurrent module of `lengths` runs `recurrent` as its forward (method="export").

    torch.export records nn.GRU / LSTM / RNN as one `aten.gru` (...) call fed by a zeros state of the batch's
    size that it makes itself: an opaque op no march runs, and a size holding the batch that irq can only
    refuse at another batch. Exporting the unrolled equations instead yields the ops the fx path gets (the
    same function), with no state made when none is given, so the batch stays dynamic. A call
    `supports_rnn` refuses (a packed sequence) runs the module's own forward."""
    originals: dict[nn.Module, Any] = {}

    def unrolled(m: nn.Module, own: Callable[..., Any]) -> Callable[..., Any]:
        def forward(*args: Any, **kwargs: Any) -> Any:
            ok = supports_rnn(m, args, kwargs) and isinstance(args[0] if args else kwargs.get("input"), torch.Tensor)
            return recurrent(m, lengths.take(m), *args, **kwargs) if ok else own(*args, **kwargs)

        return forward

    try:
        for m in lengths.calls:
            if "forward" not in vars(m):
                originals[m] = m.forward
                m.forward = unrolled(m, m.forward)
        yield
    finally:
        for m in originals:
            del m.forward
