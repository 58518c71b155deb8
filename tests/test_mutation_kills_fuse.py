"""fuse's statistics, its refusal records and the random-draw rule, where the first `fuse` mutation round
(session 15) found the tests blind.

Oracles: the fused IR itself (what the statistics claim is counted from the ops), a second run of the pass (no
stale record survives it), and eager torch for training-mode dropout (bit for bit, same RNG state).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from support.random_draws import assert_draws_as_eager
from torch import Tensor, nn

import irq
from irq.transform import PassManager
from passes.fuse import HEADS, UNFUSED_ATTR, fused_parts, pattern_name

SHAPE = (5, 8)


class _Blocks(nn.Module):
    """conv-bn-relu, conv-bn-add-relu, a conv whose output is also read elsewhere (a refusal), a linear."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.c2, self.b2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.c3, self.b3 = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.b1(self.c1(x)))
        h = torch.relu(self.b2(self.c2(h)) + h)
        c3 = self.c3(h)
        h = self.b3(c3) * torch.sigmoid(c3)
        return self.fc(h.mean((2, 3)))


def _imported(model: nn.Module, x: Tensor):
    module = irq.import_torch(model.eval(), (x,))
    PassManager.parse("builtin.module(func.func(functional-to-module))").run(module)
    return module


def test_statistics_count_what_the_ir_holds():
    """`--pass-statistics` is how users see what fuse did. The fused ops of each pattern and the refusals are
    counted from the IR; every fused op took at least one rewrite and each rewrite absorbed at least one op.
    Bugs caught: the rewrite count decremented, the pattern counts added twice or not at all, the refusal
    count starting at 1."""
    torch.manual_seed(0)
    module = _imported(_Blocks(), torch.randn(2, 3, 8, 8))
    before = sum(1 for _ in module.walk())
    pm = PassManager.parse("builtin.module(func.func(fuse))")
    pm.run(module)
    (p,) = pm.passes()
    heads = [o for o in module.walk() if o.name in HEADS and fused_parts(o)]
    by_pattern: dict[str, int] = {}
    for o in heads:
        name = f"{pattern_name(fused_parts(o))} ops"
        by_pattern[name] = by_pattern.get(name, 0) + 1
    refusals = sum(len(o.get_attr(UNFUSED_ATTR)) for o in module.walk() if o.get_attr(UNFUSED_ATTR) is not None)
    stats = dict(p.statistics)
    assert {k: v for k, v in stats.items() if k.endswith(" ops")} == by_pattern
    assert by_pattern == {"conv-bn-relu ops": 1, "conv-bn-add-relu ops": 1}
    assert stats["refused fusions"] == refusals >= 1
    absorbed = before - sum(1 for _ in module.walk())
    assert len(heads) <= stats["fusion rewrites"] <= absorbed


def test_a_second_run_clears_the_records_the_first_left():
    """Refusals are recomputed each run: fusing with `patterns=conv-bn` records conv-bn-relu as not enabled;
    fusing again with every pattern fuses it and leaves no such record. Bugs caught: stale `hl.unfused`
    kept (the clearing skipped), the walk that clears them never iterating."""
    torch.manual_seed(0)
    module = _imported(_Blocks(), torch.randn(2, 3, 8, 8))
    PassManager.parse("builtin.module(func.func(fuse{patterns=conv-bn}))").run(module)
    text = irq.print_module(module)
    assert "is not enabled" in text
    PassManager.parse("builtin.module(func.func(fuse))").run(module)
    text = irq.print_module(module)
    assert "is not enabled" not in text and "conv's output is also used by" not in text
    c3 = [o for o in module.walk() if o.get_attr("owner") is not None and o.get_attr("owner").value == "c3"]
    assert [str(r) for o in c3 for r in (o.get_attr(UNFUSED_ATTR) or ())], "the real refusal is recorded again"


class _DropoutThenLater(nn.Module):
    """A training dropout on the dense's output, the residual computed after it; between them `between`:
    nothing, a dropout fixed off (draws nothing), or one fixed on (draws in every mode)."""

    def __init__(self, between: str) -> None:
        super().__init__()
        self.pre, self.dense, self.ln = nn.Linear(8, 8), nn.Linear(8, 8), nn.LayerNorm(8)
        self.dropout = nn.Dropout(0.3)
        self.between = between

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.pre(x))
        y = self.dropout(self.dense(h))
        if self.between == "off":
            h = F.dropout(h, 0.5, training=False)
        elif self.between == "on":
            h = F.dropout(h, 0.5)
        return self.ln(y + torch.sigmoid(h))


@pytest.mark.parametrize(("between", "fused"), [("nothing", True), ("off", True), ("on", False)])
def test_a_later_residual_fuses_unless_something_draws_in_between(between, fused):
    """With the residual computed after the dropout, the fused op runs at the add: sound when nothing between
    them draws random numbers (a dropout fixed off draws nothing), refused when something does (one fixed
    on). Training drops eager's units, bit for bit, either way. Bugs caught: the scan for random ops running
    past the add (a crash, or a refusal caused by ops after it), a dropout fixed off taken for one that draws,
    one fixed on taken for one that does not."""
    torch.manual_seed(0)
    model, x = _DropoutThenLater(between), torch.randn(3, *SHAPE)
    module = irq.import_torch(model.eval(), (x,))
    PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    (dense,) = [o for o in module.walk() if o.name == "hl.linear" and o.get_attr("owner").value == "dense"]
    assert (dense.residual is not None) == fused
    if not fused:
        assert "draws random numbers between" in " ".join(str(e) for e in dense.get_attr(UNFUSED_ATTR))
    assert_draws_as_eager(model, to_module(irq.parse_module(irq.print_module(module))), x)


class _BiasParameter(nn.Module):
    """`conv(x) + b` with a [1, C, 1, 1] parameter: a broadcast, not a residual."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Parameter(torch.randn(1, 4, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.conv(x) + self.b)


class _DoubleResidual(nn.Module):
    """A float64 residual: torch promotes the add to float64."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + x[:, :1].double()


class _UnbatchedConvBn(nn.Module):
    """An unbatched conv1d output [C, L]: BatchNorm1d reads it as [N, C] and normalizes over positions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv1d(3, 4, 3, padding=1), nn.BatchNorm1d(6)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


@pytest.mark.parametrize(("model", "shape", "reason"), [
    (_BiasParameter, (2, 3, 6, 6), "the residual of add is tensor<1x4x1x1xf32>, broadcast to conv's output"),
    (_DoubleResidual, (2, 3, 6, 6), "the residual of add is tensor<2x1x6x6xf64>, not a f32 tensor"),
    (_UnbatchedConvBn, (3, 6), "conv has an unbatched output (rank 2)"),
], ids=["bias-parameter", "float64-residual", "unbatched-conv-bn"])
def test_operands_a_fused_op_cannot_hold_are_refused_and_computed_as_eager(model, shape, reason):
    """A fused op folds batch norm per output channel and adds a residual of its own shape and type inside
    its requantize; anything else stays separate, with the reason the model check lists, and the program
    computes what eager does. Bugs caught: each of the three checks deleted or inverted (the op would take a
    broadcast bias as a residual, compute a float64 add in float32, or fold a batch norm over positions as if
    they were channels)."""
    torch.manual_seed(0)
    m, x = model().eval(), torch.randn(*shape)
    with torch.no_grad():  # running statistics off their defaults, so a wrong fold changes the numbers
        for bn in (mod for mod in m.modules() if isinstance(mod, nn.BatchNorm1d)):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    module = _imported(m, x)
    PassManager.parse("builtin.module(func.func(fuse))").run(module)
    (conv,) = [o for o in module.walk() if o.name in HEADS]
    assert not fused_parts(conv)
    assert reason in " ".join(str(e) for e in conv.get_attr(UNFUSED_ATTR))
    out = to_module(irq.parse_module(irq.print_module(module)))(x)
    torch.testing.assert_close(out, m(x), rtol=1e-6, atol=1e-6)
    assert out.dtype == m(x).dtype


def test_a_fused_sync_batch_norm_stays_synchronised():
    """SyncBatchNorm converted before prepare fuses like BatchNorm2d, and the fused op remembers it (`bn_sync`):
    prepare's quantization state all-reduces its batch statistics in training. Eval numbers equal eager's.
    Bug caught: the sync flag dropped when the chain is rewritten (training would use per-rank statistics)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SyncBatchNorm(4), nn.ReLU()).eval()
    x = torch.randn(2, 3, 6, 6)
    module = _imported(m, x)
    PassManager.parse("builtin.module(func.func(fuse))").run(module)
    (conv,) = [o for o in module.walk() if o.name in HEADS]
    assert pattern_name(fused_parts(conv)) == "conv-bn-relu"
    assert conv.get_attr("bn_sync") is not None and conv.get_attr("bn_sync").value
    out = to_module(irq.parse_module(irq.print_module(module)))(x)
    torch.testing.assert_close(out, m(x), rtol=1e-5, atol=1e-6)
