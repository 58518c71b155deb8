"""Mixed precision (irq.quant.mixed_precision).

The recipe's invariants at reduced size (a 0.25-width MobileNetV2 on 32x32 inputs): int16 on the most
sensitive owners brings VALIDATION closer to float than all-int8, the plan always converts on its
march, and the deployed program still equals VALIDATION bit for bit (reference and numba runtimes).
"""

from __future__ import annotations

import irq.runtime.numba as numba_runtime
import irq.runtime.reference as reference_runtime
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irq
from irq.quant.state import fake_quant_modules
from irq.workflow import calibrate
from tests.models import mobilenet_v2

#: owners ranked in these tests (ranking all ~55 costs one forward each, minutes on a loaded box)
CANDIDATES = ["x", "features.0.0", "features.1.conv.0.0", "features.1.conv.1", "features.2.conv.0.0",
              "features.17.conv.2", "adaptive_avg_pool2d"]
BASE = {"": irq.qconfig.default_calib_8bit, "classifier.1": irq.qconfig.default_calib_8bit_weight_32bit_out}


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = mobilenet_v2.MobileNetV2(num_classes=10, width_mult=0.25)
    # batch norm statistics of real activations (fresh ones are 0/1: the logits would not depend on the input)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(32, 3, 32, 32))
    model.eval()
    calib = torch.randn(4, 3, 32, 32)
    evals = torch.randn(4, 3, 32, 32)
    return model, calib, evals


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a.double().flatten(1), b.double().flatten(1), dim=1).mean().item()


def _ptq(model, calib, qconfig, march):
    qat = irq.prepare(model, (calib[:1],), qconfig=qconfig, march=march, check_model=False)
    return calibrate(qat, [calib], progress=False)


def test_mixed_precision_beats_int8_and_deploys_bit_exact(setup):
    model, calib, evals = setup
    plan = irq.quant.mixed_precision(model, (calib[:1],), [calib], budget=3, qconfig=BASE, march="nash",
                                     sensitivity_inputs=calib[:2], candidates=CANDIDATES)
    assert len(plan.int16_owners) == 3 and set(plan.sensitivity) == set(CANDIDATES)
    # the chosen owners are the worst ranked ones, in ranking order, among those that could be widened
    ranked = [o for o in sorted(plan.sensitivity, key=plan.sensitivity.get) if o not in plan.skipped]
    assert plan.int16_owners == ranked[:3]
    int8 = _ptq(model, calib, BASE, "nash")
    mixed = _ptq(model, calib, plan.rules, "nash")
    dtypes = {fq.owner: fq.dtype for fq in fake_quant_modules(mixed) if fq.slot in ("out", "input")}
    assert all(dtypes[o] == "qint16" for o in plan.int16_owners)
    assert sum(d == "qint16" for d in dtypes.values()) == 3
    # each widened owner's own rounding error (its quantizer's input vs output, same run) drops by ~256x
    from irq.debug.capture import run_recording
    # (in QAT mode: in VALIDATION an op already emits dequantized codes, so its quantizer changes nothing)
    _, rec8 = run_recording(int8, evals, lambda fq: "qat")
    _, rec16 = run_recording(mixed, evals, lambda fq: "qat")
    for owner in plan.int16_owners:
        path = f"{owner}.out_quant" if f"{owner}.out_quant" in rec16 else f"{owner}.input_quant"
        err8 = float((rec8[path][0] - rec8[path][1]).abs().mean())
        err16 = float((rec16[path][0] - rec16[path][1]).abs().mean())
        assert err16 < err8 / 50, (owner, err8, err16)
    with torch.no_grad():
        y_validation = mixed(evals)
    program = irq.convert(mixed, march="nash")
    assert "xi16>" in str(program)
    for i in range(len(evals)):
        x = evals[i:i + 1].numpy()
        deployed, = reference_runtime.run(program, x)
        np.testing.assert_array_equal(deployed, y_validation[i:i + 1].numpy())
        np.testing.assert_array_equal(np.asarray(numba_runtime.compile(program)(x)), deployed)


def test_int16_ranking_chooses_the_owners_whose_int16_output_gains_most(setup):
    # the bug: ranking="int16" ignored (the int8 "alone quantized" order used) or the gains' order lost
    model, calib, _ = setup
    plan = irq.quant.mixed_precision(model, (calib[:1],), [calib], budget=2, qconfig=BASE, march="nash",
                                     sensitivity_inputs=calib[:2], candidates=CANDIDATES, ranking="int16")
    ranking = irq.debug.sensitivity(_ptq(model, calib, BASE, "nash"), calib[:2], owners=CANDIDATES, mode="int16")
    expected = [r.owner for r in ranking if r.gain > 0 and r.owner not in plan.skipped][:2]
    assert len(expected) == 2 and plan.int16_owners == expected
    assert plan.sensitivity == {r.owner: r.output_cosine for r in ranking}
    with pytest.raises(ValueError, match="ranking must be 'int8' or 'int16'"):
        irq.quant.mixed_precision(model, (calib[:1],), [calib], budget=2, qconfig=BASE, ranking="int4")


def test_march_without_int16_convs_widens_nothing_read_by_a_conv(setup):
    model, calib, _ = setup
    plan = irq.quant.mixed_precision(model, (calib[:1],), [calib], budget=3, qconfig=BASE, march="bayes",
                                     sensitivity_inputs=calib[:2], candidates=CANDIDATES)
    assert plan.int16_owners == []
    assert "features.0.0" in plan.skipped and "march 'bayes'" in plan.skipped["features.0.0"]
    # and the plan's rules are the base recipe: it prepares and converts on bayes
    irq.convert(_ptq(model, calib, plan.rules, "bayes"), march="bayes")


def test_int16_refused_where_the_accumulator_could_pass_the_requantize_bound(setup):
    model, calib, _ = setup
    plan = irq.quant.mixed_precision(model, (calib[:1],), [calib], budget=100, qconfig=BASE, march="nash",
                                     sensitivity_inputs=calib[:2], candidates=CANDIDATES)
    # the pooled features feed the 1280-input classifier: 1280 * 32768 * 127 >= 2**32
    assert "adaptive_avg_pool2d" not in plan.int16_owners
    assert "1280 products" in plan.skipped["adaptive_avg_pool2d"]
    irq.convert(_ptq(model, calib, plan.rules, "nash"), march="nash")  # everything else widened still lowers


class _WideResidual(torch.nn.Module):
    """a -> h (8 -> 1032, relu) -> b (1032 -> 8) + a -> c: `b` sums 1032 products of `h`'s output and adds
    `a`'s output as its fused residual."""

    def __init__(self, extreme_b: bool) -> None:
        super().__init__()
        self.a, self.h = torch.nn.Linear(16, 8), torch.nn.Linear(8, 1032)
        self.b, self.c = torch.nn.Linear(1032, 8), torch.nn.Linear(8, 4)
        # Gaussian weights: per-channel codes of about 31 on average (127 * E|z| / max|z| over 1032 draws);
        # extreme: every code of b at 127, so 1032 * 32768 * 127 leaves no room for a bias below 2**32
        w = torch.randn(8, 1032)
        with torch.no_grad():
            self.b.weight.copy_((torch.sign(w) if extreme_b else w) * 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        return self.c(self.b(torch.relu(self.h(a))) + a)


@pytest.mark.parametrize("extreme_b", [False, True])
def test_int16_bound_reads_the_readers_weight_codes_and_skips_its_residual(extreme_b: bool):
    """The accumulator bound of an int16 reader comes from its own weight codes: 1032 Gaussian weights
    (codes of about 31 on average) leave `h` widenable where 1032 codes of 127 do not, although both
    sum K = 1032 products, past the all-127 bound at K = 517. `a`, which `b` only adds as its residual
    after the sum, is widened either way. The widened plan converts, and the deployed program equals
    VALIDATION and the reference runtime bit for bit."""
    torch.manual_seed(0)
    model = _WideResidual(extreme_b).eval()
    x = torch.randn(32, 16)
    plan = irq.quant.mixed_precision(model, (x[:1],), [x], budget=100, march="nash", sensitivity_inputs=x[:4])
    assert "a" in plan.int16_owners
    if extreme_b:
        assert "h" not in plan.int16_owners and "1032 products" in plan.skipped["h"]
    else:
        assert "h" in plan.int16_owners and not plan.skipped
    qat = _ptq(model, x, plan.rules, "nash")
    program = irq.convert(qat, march="nash")
    with torch.no_grad():
        validation = qat(x).numpy()
    deployed = numba_runtime.compile(program)(x.numpy())
    np.testing.assert_array_equal(deployed, validation)
    np.testing.assert_array_equal(reference_runtime.run(program, x.numpy())[0], validation)


class _SelfResidual(torch.nn.Module):
    """a (16 -> 1032) -> b(a) + a -> c: `b`, every code at 127, reads `a` both as its 1032-product input and as
    its fused residual."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(16, 1032), torch.nn.Linear(1032, 1032), torch.nn.Linear(1032, 4)
        with torch.no_grad():
            self.b.weight.copy_(torch.sign(torch.randn(1032, 1032)) * 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        return self.c(self.b(a) + a)


def test_a_value_read_as_input_and_as_residual_is_bounded_as_the_input():
    """Skipping the residual must not skip the same op's input: `a` feeds `b`'s 1032-product sum, so it stays
    int8, and the plan converts. Catches the residual recognised by value rather than by operand."""
    torch.manual_seed(0)
    model = _SelfResidual().eval()
    x = torch.randn(16, 16)
    plan = irq.quant.mixed_precision(model, (x[:1],), [x], budget=100, march="nash", sensitivity_inputs=x[:4],
                                     candidates=["a"])
    assert plan.int16_owners == [] and "1032 products" in plan.skipped["a"]
    irq.convert(_ptq(model, x, plan.rules, "nash"), march="nash")


class _WideConv(torch.nn.Module):
    """MobileNetV2's widened tail in small: a 1x1 projection summing 960 channels of an int16 activation."""

    def __init__(self) -> None:
        super().__init__()
        self.expand = torch.nn.Conv2d(3, 960, 1)
        self.project = torch.nn.Conv2d(960, 8, 1)
        self.bn = torch.nn.BatchNorm2d(8)
        # Gaussian, as trained weights are: codes of about 31 on average (torch's uniform init: about 64,
        # whose 960-channel sums sit at the 2**32 bound)
        torch.nn.init.normal_(self.project.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.project(torch.relu(self.expand(x))))


def test_a_widened_960_channel_projection_deploys_what_validation_computes():
    """int16 codes into a K = 960 conv (an int64 accumulator, proved per channel): the numba runtime's conv
    route and the reference runtime both equal VALIDATION bit for bit, at batch 2 and 3."""
    torch.manual_seed(0)
    model = _WideConv().eval()
    x = torch.randn(6, 3, 7, 7)
    plan = irq.quant.mixed_precision(model, (x[:1],), [x], budget=1, march="nash", sensitivity_inputs=x[:2],
                                     candidates=["expand"])
    assert plan.int16_owners == ["expand"]
    qat = _ptq(model, x, plan.rules, "nash")
    program = irq.convert(qat, march="nash")
    widths = {op.results[0].type.element_type.width for op in program.walk() if op.name == "bpu.conv2d"}
    assert 64 in widths  # the projection's accumulator: 960 * 32768 * 127 passes int32
    run = numba_runtime.compile(program)
    for batch in (x[:2], x[2:5]):
        with torch.no_grad():
            validation = qat(batch).numpy()
        np.testing.assert_array_equal(run(batch.numpy()), validation)
        np.testing.assert_array_equal(reference_runtime.run(program, batch.numpy())[0], validation)
