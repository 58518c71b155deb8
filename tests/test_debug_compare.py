"""irq.debug: compare finds a layer whose scale the test corrupts as the first divergent owner,
sensitivity ranks it first, and a healthy model shows no divergence. The bug each catches: a
debugging tool that blames the wrong layer (misaligned owners, wrong order, metrics of the wrong
tensors) sends a user to fix a layer that is fine."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import irq
from irq.quant.state import fake_quant_modules
from irq.workflow import prepare_calibrated


class Chain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv4 = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.conv2(y))
        y = torch.relu(self.conv3(y)) + y
        return self.conv4(y)


def _calibrated():
    torch.manual_seed(0)
    model = Chain().eval()
    g = torch.Generator().manual_seed(1)
    calib = [torch.randn(4, 3, 8, 8, generator=g) for _ in range(3)]
    qat = prepare_calibrated(model, (calib[0],), calib, check_model=False)
    return model, qat, torch.randn(4, 3, 8, 8, generator=g)


def _corrupt(qat, owner: str, factor: float) -> None:
    (fq,) = [f for f in fake_quant_modules(qat) if f.owner == owner and f.slot == "out"]
    with torch.no_grad():
        fq.scale.mul_(factor)


def test_healthy_model_has_no_divergent_owner_and_matches_float(tmp_path):
    model, qat, x = _calibrated()
    report = irq.debug.compare(model, qat, x, out_dir=tmp_path)
    assert report.first_divergent is None, report.table()
    assert report.output_cosine_float_vs_prepared > 0.999999
    assert [r.owner for r in report.rows][:3] == ["x", "conv1", "conv2"]
    assert all(0.99 < r.cosine_validation <= 1.0 + 1e-12 for r in report.rows)
    assert report.suggestions() == []
    fused = {r.owner: r.fused for r in report.rows}
    assert fused["conv1"] and not fused["conv4"] and not fused["x"]  # conv1+bn1+relu; conv4 alone


@pytest.mark.parametrize("factor, cause", [(40.0, "int16"), (0.02, "saturate")])
def test_compare_finds_the_corrupted_owner_first(tmp_path, factor, cause):
    model, qat, x = _calibrated()
    before = {k: v.clone() for k, v in qat.state_dict().items()}
    _corrupt(qat, "conv2", factor)
    corrupted = {k: v.clone() for k, v in qat.state_dict().items()}
    report = irq.debug.compare(model, qat, x, out_dir=tmp_path)
    assert report.first_divergent is not None and report.first_divergent.owner == "conv2", report.table()
    # the owners before it are unaffected: their numbers are their own
    conv1 = next(r for r in report.rows if r.owner == "conv1")
    assert conv1.cosine_validation > 0.99
    assert report.output_cosine_validation < 0.99
    row = report.first_divergent
    if factor < 1:
        assert row.saturation_rate > 0.1
    else:
        assert row.saturation_rate == 0.0
    assert any(cause in s for s in report.suggestions())
    # the report files: one CSV row per owner, a PNG
    with open(report.files["csv"]) as f:
        assert [r["owner"] for r in csv.DictReader(f)] == [r.owner for r in report.rows]
    with open(report.files["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # debugging left the quantization state as it found it
    after = qat.state_dict()
    assert all(torch.equal(after[k], corrupted[k]) for k in after)
    assert not torch.equal(after["conv2.out_quant.scale"], before["conv2.out_quant.scale"])
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in fake_quant_modules(qat))


def test_sensitivity_ranks_the_corrupted_owner_first():
    model, qat, x = _calibrated()
    _corrupt(qat, "conv3", 0.02)
    ranking = irq.debug.sensitivity(qat, x)
    assert ranking[0].owner == "conv3", ranking
    assert {r.owner for r in ranking} >= {"x", "conv1", "conv2", "conv3", "conv4"}
    assert ranking[0].output_cosine < 0.97 < 0.999 < ranking[1].output_cosine  # measured 0.960 / 0.99993


def test_compare_with_the_deployed_program_is_bit_exact_to_validation():
    model, qat, x = _calibrated()
    program = irq.convert(qat)
    report = irq.debug.compare(model, qat, x, program=program)
    assert report.deployed_equals_validation is True
    assert report.output_cosine_deployed == pytest.approx(report.output_cosine_validation, abs=1e-12)


# -- the deployed column: the bpu program's own value at every owner ---------------------------------------

def _calibrated_zoo(build, shape):
    from tests.test_frontend_zoo import _randomize_bn
    torch.manual_seed(0)
    model = build().eval()
    _randomize_bn(model)
    g = torch.Generator().manual_seed(1)
    calib = [torch.randn(*shape, generator=g) for _ in range(2)]
    qat = irq.prepare(model, (calib[0],), qconfig=irq.qconfig.default_calib_8bit, check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for b in calib:
            qat(b)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return model, qat, torch.randn(*shape, generator=g)


def test_deployed_equals_validation_at_every_owner_of_a_zoo_model():
    # the bug it catches: an owner mapped to the wrong bpu value (a deployed column that compares the
    # wrong tensors would show mismatches here, or shapes that do not line up), or a lowering that
    # departs from VALIDATION inside the model while the output happens to agree
    from tests.models import resnet
    model, qat, x = _calibrated_zoo(lambda: resnet.ResNet(resnet.BasicBlock, (2, 1)), (2, 3, 32, 32))
    report = irq.debug.compare(model, qat, x)
    assert report.deployed_error is None
    assert len(report.rows) > 8
    assert all(r.deployed_equals_validation is True for r in report.rows), report.table()
    assert all(r.cosine_deployed == r.cosine_validation for r in report.rows)
    assert report.deployed_equals_validation is True and report.first_deployed_mismatch is None
    assert "cos_dep" in report.table()


def test_the_deployed_column_runs_inputs_larger_than_the_traced_batch():
    model, qat, x = _calibrated()  # traced at batch 4
    report = irq.debug.compare(model, qat, torch.cat([x, 2 * x]))
    assert all(r.deployed_equals_validation for r in report.rows), report.table()


def test_a_corrupted_owner_of_the_deployed_program_is_named(monkeypatch):
    # break the program (not the model) at conv2's requantize: only the deployed column can see it,
    # and it must blame conv2, not the owners after it that inherit the error
    from irq.debug import deployed

    real = deployed.lower_with_taps

    def corrupted(*args, **kwargs):
        tapped = real(*args, **kwargs)
        requantizes = [op for op in tapped.program.walk() if op.name == "bpu.requantize"]
        conv2 = requantizes[1]  # conv1's, conv2's, conv3's (with the residual), conv4's
        m = conv2.get_attr("multiplier")
        conv2.set_attr("multiplier", type(m)(m.element_type, [v // 2 for v in m]))
        return tapped

    monkeypatch.setattr(deployed, "lower_with_taps", corrupted)
    model, qat, x = _calibrated()
    report = irq.debug.compare(model, qat, x)
    assert report.first_deployed_mismatch is not None and report.first_deployed_mismatch.owner == "conv2", \
        report.table()
    same = {r.owner: r.deployed_equals_validation for r in report.rows}
    assert same["x"] and same["conv1"] and not same["conv4"]
    assert report.deployed_equals_validation is False
    assert "bug in lowering or the runtime" in report.table()
    assert report.first_divergent is None  # the model itself is healthy: VALIDATION is fine


def test_a_corrupted_scale_shows_in_the_deployed_column_too():
    model, qat, x = _calibrated()
    _corrupt(qat, "conv2", 0.02)
    report = irq.debug.compare(model, qat, x)
    row = report.first_divergent
    assert row.owner == "conv2" and row.cosine_deployed < report.threshold and row.deployed_equals_validation


def test_a_model_that_does_not_convert_still_gets_the_other_columns():
    class Wide(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 9, padding=4)  # kernel 9: over bayes's limit

        def forward(self, x):
            return self.conv(x)

    torch.manual_seed(0)
    model = Wide().eval()
    x = torch.randn(2, 3, 8, 8)
    qat = irq.prepare(model, (x,), check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    report = irq.debug.compare(model, qat, x)
    assert "kernel [9, 9] exceeds march 'bayes' limit 7" in report.deployed_error
    assert all(r.cosine_deployed is None and r.deployed_equals_validation is None for r in report.rows)
    assert "no deployed column" in report.table()
    assert irq.debug.compare(model, qat, x, deployed=False).deployed_error is None


class Pool(nn.Module):
    """A 2x2 average pool between quantizers of one power-of-two scale: the requantize is sum / 4, a tie
    whenever sum % 4 == 2, where half_up and half_even give different codes."""

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 2)


def _tied_pool():
    model = Pool().eval()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 8, 8, generator=g)
    qat = irq.prepare(model, (x,), check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    with torch.no_grad():
        for fq in fake_quant_modules(qat):
            fq.scale.fill_(1 / 16)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return model, qat, x


def test_the_deployed_column_lowers_with_the_rounding_of_the_users_convert():
    import numpy as np
    model, qat, x = _tied_pool()
    program = irq.convert(qat, rounding="half_even")
    y_half_even = irq.run(program, x.numpy(), runtime="reference")
    y_half_up = irq.run(irq.convert(qat), x.numpy(), runtime="reference")
    assert np.count_nonzero(y_half_even != y_half_up) > 0  # the model does tell the two roundings apart

    # VALIDATION emulates half_up: the half_up column equals it, the half_even one must not
    assert irq.debug.compare(model, qat, x).deployed_equals_validation is True
    explicit = irq.debug.compare(model, qat, x, rounding="half_even")
    assert explicit.deployed_equals_validation is False
    # with the half_even program, the column follows it (was: lowered half_up and called itself equal)
    report = irq.debug.compare(model, qat, x, program=program)
    pool = [r for r in report.rows if r.owner != "x"]
    assert pool and not any(r.deployed_equals_validation for r in pool), report.table()
    assert report.deployed_equals_validation is False
    with pytest.raises(ValueError, match="converted with 'half_even'"):
        irq.debug.compare(model, qat, x, program=program, rounding="half_up")
    assert "as expected: it rounds half_even" in report.table()
    assert "bug in lowering" not in report.table()


def test_int16_sensitivity_ranks_the_planted_coarse_owner_first(tmp_path):
    # the bug it catches: the int16 ranking measured the wrong thing (owner alone quantized instead of
    # the gain over all-int8, the scale not widened, or the widening left behind), so the owner whose
    # int16 output recovers most is not the one named first. conv2's scale 40x too large: its int8 grid
    # is 40x too coarse, which int16 on the same clip range repairs
    model, qat, x = _calibrated()
    _corrupt(qat, "conv2", 40.0)
    before = {k: v.clone() for k, v in qat.state_dict().items()}
    ranges = {fq.path: (fq.qmin, fq.qmax) for fq in fake_quant_modules(qat)}
    ranking = irq.debug.sensitivity(qat, x, mode="int16", out_dir=tmp_path, name="int16")
    assert ranking[0].owner == "conv2", ranking.table()
    assert ranking.baseline_cosine < 0.99 < ranking[0].output_cosine  # measured 0.978 -> 0.99988
    assert ranking[0].gain == pytest.approx(ranking[0].output_cosine - ranking.baseline_cosine)
    assert all(r.gain < 0.1 * ranking[0].gain for r in ranking[1:])
    assert [r.gain for r in ranking] == sorted((r.gain for r in ranking), reverse=True)
    # only owners with an int8 activation quantizer are ranked; the weight-only view is not an owner row
    assert {r.owner for r in ranking} == {"x", "conv1", "conv2", "conv3", "add", "conv4"}
    tips = ranking.suggestions()
    assert tips[0].startswith("conv2: an int16 output raises") and "default_calib_16bit" in tips[0]
    assert len(tips) == 2 and "ranking=\"int16\"" in tips[1]  # the others gain under a tenth of conv2's
    rows = list(csv.DictReader(open(tmp_path / "int16.csv")))
    assert [r["owner"] for r in rows] == [r.owner for r in ranking]
    assert float(rows[0]["gain"]) == pytest.approx(ranking[0].gain)
    assert (tmp_path / "int16.png").read_bytes()[:4] == b"\x89PNG"
    # the model is left as found: scales, statistics, integer ranges and states
    after = qat.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in after)
    assert {fq.path: (fq.qmin, fq.qmax) for fq in fake_quant_modules(qat)} == ranges
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in fake_quant_modules(qat))
    with pytest.raises(ValueError, match="mode must be 'int8' or 'int16'"):
        irq.debug.sensitivity(qat, x, mode="int4")


def test_int16_sensitivity_rechooses_an_mse_clip_for_the_16_bit_grid():
    # an MSE observer clips a heavy tail harder for 8 bits than for 16: the int16 emulation must search the
    # histogram again (what calibrating with the int16 qconfig does), not keep the int8 clip range
    from irq.debug.sensitivity import _int16_scale
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    x = torch.randn(64, 3, 8, 8) ** 3  # heavy-tailed

    def input_quantizer(qconfig):
        qat = prepare_calibrated(model, (x,), [x], qconfig=qconfig, check_model=False)
        return next(f for f in fake_quant_modules(qat) if f.slot == "input")

    int8, int16 = input_quantizer(irq.qconfig.default_calib_8bit), input_quantizer(irq.qconfig.default_calib_16bit)
    assert float(int8.scale) * int8.qmax < float(int16.scale) * int16.qmax  # int8 clips the tail harder (77 vs 82)
    assert torch.equal(_int16_scale(int8), int16.scale)


def test_a_debugging_run_gives_back_every_quantizers_buffers_mode_and_state():
    """`preserved` wraps every debugging run (compare, sensitivity, AdaRound's and bias correction's
    captures): whatever a run does to a quantizer in place, freeze and convert must see what it found."""
    from irq.debug.capture import preserved
    from irq.quant.fake_quantize import FakeQuantState

    _, qat, _ = _calibrated()
    qat.train()
    fqs = [fq for fq in fake_quant_modules(qat) if not fq.is_marker]
    before = [({k: v.clone() for k, v in fq.state_dict().items()}, fq.state, fq.training) for fq in fqs]
    with preserved(qat):
        qat.eval()
        for fq in fqs:
            with torch.no_grad():
                fq.scale.mul_(3.0)
                fq.min_val.sub_(1.0)
                fq.observed += 5
            fq.state = FakeQuantState.VALIDATION
    for fq, (sd, state, training) in zip(fqs, before):
        assert (fq.state, fq.training) == (state, training), fq.path
        now = fq.state_dict()
        assert now.keys() == sd.keys()
        for k in sd:
            assert torch.equal(now[k], sd[k]), f"{fq.path}.{k}"
    assert qat.training
