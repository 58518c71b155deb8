"""The inputs and targets of layer-wise AdaRound from one forward pass, not one partial forward per layer.

Each layer is reconstructed from its quantized inputs as the model computes them with every earlier layer's
learned rounding in place, against the float model's output of the same op. Capturing those by running the
model from its inputs up to the layer costs, summed over MobileNetV2's 53 layers, about 53 half-forwards of
the QAT model plus as many of the float model on every calibration sample: measured, most of AdaRound's
time at 50 steps per layer (docs/design.md). But a layer's inputs depend only on the graph nodes before it,
and every earlier layer's weights are final by the time it is reached, so one forward that *pauses* before
each layer's weighted node and resumes after the layer's codes are written computes exactly the same
tensors (the same nodes on the same values, batch by batch; a test compares the rounding with the
per-layer captures). The float model never changes, so its targets come from one forward too.

`SteppedForward` runs a prepared model's fx graph node by node (torch.fx.Interpreter's `run_node`, values
freed after their last use as the Interpreter does) on every calibration batch, keeping each batch's live
values between pauses; the quantizers' outputs (or inputs) that later layers read are recorded by hooks as
the nodes calling them run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, fx, nn

from irq.quant.state import QuantizationWarning


class SteppedForward:
    """The forward of a prepared model on every batch, advanced node by node to the points asked for.

    mode: the fake-quant mode of every quantizer while it runs ("qat" or "float", irq.debug.capture's
    modes); the quantizers' state, mode and buffers are restored after each advance, as one capture
    restores them. outputs / inputs: quantizer paths whose output / first input is recorded, per batch,
    the first time a node calls it.
    """

    def __init__(
        self,
        model: nn.Module,
        batches: Sequence[Any],
        mode: str,
        *,
        outputs: Iterable[str] = (),
        inputs: Iterable[str] = (),
    ) -> None:
        from irq.debug.capture import as_args

        if not isinstance(model, fx.GraphModule):
            raise TypeError(f"SteppedForward runs a prepared model (an fx.GraphModule), got {type(model).__name__}")
        self.model, self.mode = model, mode
        self.nodes = list(model.graph.nodes)
        self._index = {node: i for i, node in enumerate(self.nodes)}
        self.position = 0
        self._outputs, self._inputs = set(outputs), set(inputs)
        self._recorded: dict[tuple[str, str], list[Tensor | None]] = {}
        self._runs = []
        for batch in batches:
            run = fx.Interpreter(model, garbage_collect_values=True)
            run.env = {}
            run.args_iter = iter(model.graph.process_inputs(*as_args(batch)))
            self._runs.append(run)

    def index_of_module_call(self, path: str) -> int:
        """The position of the first node calling submodule `path` (a RuntimeError when none does)."""
        for i, node in enumerate(self.nodes):
            if node.op == "call_module" and node.target == path:
                return i
        raise RuntimeError(f"adaround: no node of the prepared model calls {path}; this is a bug")

    def index_of_first_use(self, attribute: str) -> int:
        """The position of the first node computing with parameter `attribute` (the weight a layer's codes are
        written into: every node from there on must see the written weight)."""
        reads = [node for node in self.nodes if node.op == "get_attr" and node.target == attribute]
        users = [self._index[user] for node in reads for user in node.users]
        if not users:
            raise RuntimeError(f"adaround: no node of the prepared model reads {attribute}; this is a bug")
        return min(users)

    def advance(self, stop: int) -> None:
        """Run every batch's nodes before position `stop` (nothing when already there or past it)."""
        from irq.debug.capture import preserved, set_modes

        if stop <= self.position:
            return
        handles = []
        with preserved(self.model), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", QuantizationWarning)
            set_modes(self.model, lambda fq: self.mode)
            batch = [0]
            try:
                for path in self._outputs:
                    handles.append(self.model.get_submodule(path).register_forward_hook(self._recorder(path, batch)))
                for path in self._inputs:
                    handles.append(
                        self.model.get_submodule(path).register_forward_pre_hook(self._input_recorder(path, batch))
                    )
                for b, run in enumerate(self._runs):
                    batch[0] = b
                    for node in self.nodes[self.position : stop]:
                        run.env[node] = run.run_node(node)
                        for dead in run.user_to_last_uses.get(node, []):
                            del run.env[dead]
            finally:
                for h in handles:
                    h.remove()
        self.position = stop

    def _slot(self, key: tuple[str, str]) -> list[Tensor | None]:
        return self._recorded.setdefault(key, [None] * len(self._runs))

    def _recorder(self, path: str, batch: list[int]):
        def hook(_m: nn.Module, _args: tuple, out: Tensor) -> None:
            slot = self._slot(("out", path))
            if slot[batch[0]] is None:
                slot[batch[0]] = out.detach().clone()

        return hook

    def _input_recorder(self, path: str, batch: list[int]):
        def hook(_m: nn.Module, args: tuple) -> None:
            slot = self._slot(("in", path))
            if slot[batch[0]] is None:
                slot[batch[0]] = args[0].detach().clone()

        return hook

    def output(self, path: str) -> Tensor:
        """The recorded output of quantizer `path`, all batches concatenated."""
        return self._take(("out", path))

    def input(self, path: str) -> Tensor:
        """The recorded first input of quantizer `path`, all batches concatenated."""
        return self._take(("in", path))

    def _take(self, key: tuple[str, str]) -> Tensor:
        got = self._recorded.get(key)
        if got is None or any(t is None for t in got):
            raise RuntimeError(f"adaround: {key[1]} was not reached before the layer that reads it; this is a bug")
        return torch.cat(got)  # type: ignore[arg-type]

    def forget(self, keep: set[str]) -> None:
        """Drop every recording of a quantizer not in `keep` (no later layer reads it)."""
        for key in [k for k in self._recorded if k[1] not in keep]:
            del self._recorded[key]


__all__ = ["SteppedForward"]
