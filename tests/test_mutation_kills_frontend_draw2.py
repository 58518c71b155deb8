"""The frontend mapping (irq/frontend/mapping.py, view_mapping.py, module_mapping.py) on the forms a fresh draw of
mutants found untested: bench/mutation.py frontend-mapping --per-function 3 --seed 1 (round 12, session 17), after
round 9's kill tests (tests/test_mutation_kills_frontend.py) had been written for another draw.

Each case names the planted bug it catches. The oracle is eager torch: the call is imported as the typed op named
(not an opaque call), with eager's result types and numbers (support.frontend_oracle.check_typed); a form the
frontend keeps opaque by design computes eager's numbers as an opaque call.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from irq.runtime.torch import to_module
from support.frontend_oracle import check_typed, torch_ops
from support.frontend_oracle import randn as _x
from support.torch_modules import Lambda
from torch import nn

import irq

#: (function, input shape, the typed op it must import as)
TYPED = {
    # F.instance_norm without its optional arguments
    "instance_norm with its defaults": (lambda x: F.instance_norm(x), (2, 3, 4, 5), "instance_norm"),
    # _pow's `n < 0` as `n < 1` (x ** 0 kept opaque)
    "x ** 0": (lambda x: x**0, (2, 3), "pow_scalar"),
    # the "contiguous" method's `len(a) == 1` as `== 2` / `== 0`
    "contiguous": (lambda x: x.transpose(0, 1).contiguous(), (2, 3), "contiguous"),
    # view_mapping.py _unbind's default dim 0 as 1 / -1
    "unbind without dim": (lambda x: x.unbind(), (2, 3, 4), "unbind"),
    # _narrow's `start < 0` as `start < 1` (a start of 0 taken for a negative one)
    "narrow from 0": (lambda x: x.narrow(1, 0, 2), (2, 5), "slice"),
    # _narrow's `start < 0` as `start < -1` (a start of -1 not wrapped)
    "narrow from -1": (lambda x: x.narrow(1, -1, 1), (2, 5), "slice"),
    # _narrow's `size < 0` as `size < 1` (an empty narrow refused)
    "narrow of size 0": (lambda x: x.narrow(1, 2, 0), (2, 5), "slice"),
    # frontend-late's draw: cast_mapping.py _method_bool's `len(args) == 1` as `== 2` / `== 0` (x.bool() opaque)
    "bool method": (lambda x: x.bool(), (2, 3), "compare_scalar"),
}


@pytest.mark.parametrize("case", TYPED, ids=list(TYPED))
def test_calls_import_as_their_typed_op(case):
    fn, shape, op = TYPED[case]
    check_typed(Lambda(fn), (_x(*shape),), (op,))


def test_instance_norm_uses_input_statistics_by_default():
    """F.instance_norm's documented default (statistics of the input) is what the op records. Planting False as
    _instance_norm's own default changes nothing (the call reaches the handler with the argument filled in): that
    mutant is a reviewed equivalent; this pins the behaviour it was suspected of changing."""
    module = check_typed(Lambda(lambda x: F.instance_norm(x)), (_x(2, 3, 4, 5),), ("instance_norm",))
    (op,) = [o for o in module.walk() if o.name == "torch.instance_norm"]
    assert op.get_attr("use_input_stats").value is True


def test_a_softmax_module_with_its_dim_is_typed():
    """module_mapping.py nn.Softmax's `m.dim is not None` as `is` (a softmax module with a dim kept opaque)."""
    torch.manual_seed(0)
    check_typed(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), (_x(2, 4),), ("softmax",))


def test_a_negative_power_stays_opaque():
    """_pow's `n < 0` as `n < -1`: x ** -1 would be typed as pow_scalar, which takes whole non-negative exponents
    only (its quantized forms assume them); it stays an opaque call computing eager's numbers."""
    model = Lambda(lambda x: x**-1).eval()
    x = _x(2, 3).abs() + 0.5
    module = irq.import_torch(model, (x,))
    assert "torch.call" in torch_ops(module) and "torch.pow_scalar" not in torch_ops(module)
    torch.testing.assert_close(to_module(module)(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("sync", [False, True])
def test_only_a_sync_batch_norm_is_marked_sync(sync):
    """module_mapping.py _mod_bn's `isinstance(m, nn.SyncBatchNorm)` negated: every plain batch norm marked as
    all-reducing its statistics, and SyncBatchNorm not."""
    torch.manual_seed(0)
    bn = nn.SyncBatchNorm(3) if sync else nn.BatchNorm2d(3)
    module = irq.import_torch(nn.Sequential(bn).eval(), (_x(2, 3, 4, 4),))
    (op,) = [o for o in module.walk() if o.name == "torch.batch_norm"]
    assert ("sync" in op.attributes or "sync" in op.properties) == sync
