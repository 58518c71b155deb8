"""The float-island inventory (irq/float_islands.py) after issue 12, pinned per march and checked against real
conversions: a kind listed as a float island converts with float_fallback=True and its op is the one left
in float in the program; a kind listed as not deployable is refused by convert even with the fallback; the
same models convert to integer code alone on a march that lowers the kind.

Bug each catches: an op kind converted (or dropped from a profile) without the inventory saying so, and an
inventory derived from the wrong registry (it would list kinds that deploy, or miss kinds that do not).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import irq
from irq.float_islands import OPAQUE_CALL, inventory, main
from irq.march_profiles import register_march
from irq.transform import PassFailure

#: the state after issue 12 (x // y, torch.bmm, abs / neg / maximum / minimum as integer ops, sqrt / rsqrt /
#: `c / x` as tables on bayes too, roll as slices + concat, where / masked_fill as bpu.select; zeros_like /
#: ones_like / full_like as a broadcast code, topk's values as bpu.topk): no shipped march keeps a float
#: island; update it with the op kind you convert
EXPECTED = {
    "bayes": ((),
              ("getitem", "select", OPAQUE_CALL)),
    "nash": ((),
             ("getitem", "select", OPAQUE_CALL)),
    # a user's profile without the sqrt table: sqrt is its float island (the branch no shipped march takes now)
    "bayes_without_sqrt": (("sqrt",),
                           ("getitem", "select", OPAQUE_CALL)),
}


@pytest.fixture(scope="module", autouse=True)
def without_sqrt_march():
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = "bayes_without_sqrt"
    del data["ops"]["sqrt"]
    register_march(data)


@pytest.mark.parametrize("march", sorted(EXPECTED))
def test_inventory_lists_every_kind_left(march, capsys):
    inv = inventory(march)
    assert (inv.float_islands, inv.not_deployable) == EXPECTED[march]
    main([march])
    out = capsys.readouterr().out
    islands = ", ".join(EXPECTED[march][0]) or "none"
    assert f"{march}: float islands (convert(..., float_fallback=True)): {islands}" in out and "getitem" in out


class _Probe(nn.Module):
    """A conv in front (quantized producers), then one op kind."""

    def __init__(self, body) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.body = body

    def forward(self, x):
        return self.body(self.a(x), self.b(x))


PROBES = {
    "abs": lambda a, b: torch.abs(a),
    "neg": lambda a, b: -a,
    "sqrt": lambda a, b: torch.sqrt(F.relu(a)),
    "rsqrt": lambda a, b: torch.rsqrt(F.relu(a) + 1.0),
    "maximum": lambda a, b: torch.maximum(a, b),
    "roll": lambda a, b: torch.roll(a, 1, 2),
    "rdiv_scalar": lambda a, b: 1.0 / (F.relu(a) + 1.0),
}


def _convert(kind: str, march: str):
    torch.manual_seed(0)
    model = _Probe(PROBES[kind]).eval()
    x = torch.randn(2, 3, 8, 8)
    qat = irq.prepare(model, (x,), qconfig="default_calib_8bit", march=march, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
        qat(x * 1.5)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return irq.convert(qat, march=march, float_fallback=True)


@pytest.mark.parametrize("march", sorted(EXPECTED))
@pytest.mark.parametrize("kind", sorted(PROBES))
def test_inventory_matches_what_convert_does(kind, march):
    inv = inventory(march)
    if kind in inv.not_deployable:
        with pytest.raises(PassFailure, match=f"'(hl|torch).{kind}' cannot be kept in float"):
            _convert(kind, march)
        return
    program = _convert(kind, march)
    left = sorted({op.name for op in program.walk() if op.dialect_name in ("hl", "torch", "arith")})
    assert left == ([f"hl.{kind}"] if kind in inv.float_islands else []), (kind, march)
