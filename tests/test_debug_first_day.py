"""irq.debug as a new user calls it: numpy inputs (what irq.run takes), a model left in train mode, a
model never calibrated, and sensitivity's files and advice. Each test names the bug it catches."""

from __future__ import annotations

import csv
import warnings

import pytest
import torch
from torch import nn

import irq
from irq.workflow import calibrate


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1)).eval()
    x = torch.randn(4, 3, 8, 8)
    qat = irq.prepare(model, (x,), check_model=False)
    return model, calibrate(qat, [x], progress=False), x


def test_compare_takes_numpy_inputs_like_irq_run(setup):
    # bug: a numpy batch (what irq.run and the .npy files hold) failed inside conv2d with a TypeError
    model, qat, x = setup
    from_numpy = irq.debug.compare(model, qat, x.numpy(), deployed=False)
    from_torch = irq.debug.compare(model, qat, x, deployed=False)
    assert [r.cosine_validation for r in from_numpy.rows] == [r.cosine_validation for r in from_torch.rows]
    ranking = irq.debug.sensitivity(qat, x.numpy())
    assert [r.owner for r in ranking] == [r.owner for r in irq.debug.sensitivity(qat, x)]


def test_compare_says_what_inputs_it_expects(setup):
    # bug: a list of batches was unpacked as the forward's arguments: "forward() takes 2 positional
    # arguments but 3 were given", from deep inside torch
    model, qat, x = setup
    with pytest.raises(ValueError, match=r"irq.debug.compare: the model does not run on `inputs`.*one batch"):
        irq.debug.compare(model, qat, [x[:2], x[2:]])


def test_compare_leaves_the_float_model_in_the_mode_it_found(setup):
    # bug: compare switched the user's float model to eval() and left it there
    model, qat, x = setup
    model.train()
    irq.debug.compare(model, qat, x, deployed=False)
    assert model.training
    assert all(m.training for m in model.modules())


def test_an_uncalibrated_model_is_told_to_calibrate_not_to_use_int16(setup):
    # bug: with every scale still 1.0 the advice was "rounding error dominates; use int16 for input_1"
    model, _, x = setup
    fresh = irq.prepare(model, (x,), check_model=False)
    fresh.eval()
    irq.set_fake_quantize(fresh, irq.FakeQuantState.VALIDATION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = irq.debug.compare(model, fresh, x, deployed=False)
    tips = report.suggestions()
    assert tips and "never calibrated" in tips[0] and "int16" not in tips[0]
    assert "never calibrated" in report.table()
    row = report.rows[0]
    assert row.observed == 0


def test_sensitivity_writes_csv_png_and_suggests(setup, tmp_path):
    # the issue asks sensitivity for the CSV, the PNG and plain-words advice that compare has
    model, qat, x = setup
    # break one owner: its output scale 20x too small, so it saturates and ranks worst
    fqs = {fq.path: fq for fq in irq.debug.capture.output_quantizers(qat)}
    broken = fqs["0.out_quant"]
    with torch.no_grad():
        broken.scale.mul_(0.05)
    ranking = irq.debug.sensitivity(qat, x, out_dir=tmp_path / "sens")
    assert ranking[0].owner == "0"
    rows = list(csv.DictReader(open(tmp_path / "sens" / "sensitivity.csv")))
    assert [r["owner"] for r in rows] == [r.owner for r in ranking]
    assert float(rows[0]["output_cosine"]) == pytest.approx(ranking[0].output_cosine)
    assert (tmp_path / "sens" / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    tips = ranking.suggestions()
    assert tips and tips[0].startswith("0:") and "default_qat_16bit" in tips[0]
    assert "0" in ranking.table().splitlines()[1]
