"""irq.quant.accurate_ptq and irq.workflow.distill at reduced size (the small residual net of
tests/test_quant_copy.py, random data).

What users rely on: distillation lowers the KL divergence to the float model's outputs on the data it
trains on and leaves the model in VALIDATION; the whole recipe (CLE, int16 on the most sensitive owner,
calibration, AdaRound, bias correction, distillation) returns a prepared model whose deployed program
equals VALIDATION bit for bit, and leaves the user's float model untouched.
"""

from __future__ import annotations

import numpy as np
import torch

import irq
from irq.quant.state import fake_quant_modules
from irq.workflow import calibrate, distill
from tests.test_quant_copy import Net


def _data(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_distillation_trains_against_the_float_logits_with_frozen_statistics():
    from tests.models import digits_cnn
    torch.manual_seed(0)
    model = digits_cnn.pretrained().eval()
    x_train = digits_cnn.load_split()[0][:256]
    qat = calibrate(irq.prepare(model, (x_train[:2],), check_model=False), list(x_train[:128].split(32)),
                    progress=False)
    scales = {fq.path: fq.scale.clone() for fq in fake_quant_modules(qat) if fq.slot != "weight"}
    running = {k: v.clone() for k, v in qat.state_dict().items() if "running_" in k}
    weights = {k: v.clone() for k, v in qat.named_parameters()}
    losses = distill(qat, model, x_train, epochs=2, lr=1e-4, batch_size=32, progress=False)
    assert len(losses) == 2 and losses[1] < losses[0]  # the KL to the float model's softmax falls
    assert all(fq.state is irq.FakeQuantState.VALIDATION for fq in fake_quant_modules(qat)) and not qat.training
    assert any(not torch.equal(v, weights[k]) for k, v in qat.named_parameters())
    for fq in fake_quant_modules(qat):  # activation scales frozen (observers off) ...
        if fq.slot != "weight":
            assert torch.equal(fq.scale, scales[fq.path]), fq.path
    state = qat.state_dict()
    assert running and all(torch.equal(state[k], v) for k, v in running.items())  # ... and batch-norm statistics


def test_accurate_ptq_deploys_what_validation_computes_and_keeps_the_float_model():
    torch.manual_seed(0)
    model = Net().eval()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    calib = _data(16, 2)
    qat, report = irq.quant.accurate_ptq(model, (calib[:2],), list(calib.split(8)), int16_budget=1,
                                         adaround_iters=5, bias_correction=True, distill_inputs=_data(8, 4),
                                         distill_epochs=1,
                                         distill_lr=1e-4)
    assert report.march == "nash" and len(report.int16_owners) == 1
    assert list(report.seconds) == ["equalization", "mixed precision", "calibration", "adaround",
                                    "bias correction", "distillation"]
    assert report.bias_correction.layers and report.adaround.layers and len(report.distill_losses) == 1
    for k, v in model.state_dict().items():
        assert torch.equal(v, original[k]), k
    x = _data(6, 9)
    with torch.no_grad():
        validation = qat(x)
    deployed = torch.from_numpy(np.asarray(irq.run(irq.convert(qat, march="nash"), x.numpy())))
    assert torch.equal(deployed, validation)


def test_each_recipe_step_lowers_its_own_error_against_the_float_model():
    """The report's per-step figures are measured against float oracles and each step improves its own:
    AdaRound's learned rounding reconstructs every layer's float output at least as well as nearest
    rounding on held-out calibration samples (and strictly better somewhere), and bias correction raises
    no layer's mean per-channel output shift vs float and at least halves one's. (The whole recipe is not
    compared with plain calibration here: on this 3-layer net with random inputs both are within 5% of
    each other's output error, AdaRound's 40 steps included; MobileNetV2's figures are in bench/.)"""
    torch.manual_seed(0)
    model = Net().eval()
    calib = _data(32, 2)
    batches = list(calib.split(8))
    qat, report = irq.quant.accurate_ptq(model, (calib[:2],), batches, int16_budget=1, adaround_iters=40,
                                         bias_correction=True)
    rounding = report.adaround.layers
    assert rounding and all(r.learned_error <= r.nearest_error for r in rounding)
    assert any(r.learned_error < r.nearest_error and not r.kept_nearest for r in rounding)
    shifts = report.bias_correction.layers
    # channels within 3 standard errors of zero are left alone (z=3), so a layer may keep its shift
    assert shifts and all(after <= before for before, after in shifts.values()), shifts
    assert any(after < 0.5 * before for before, after in shifts.values()), shifts


class _WideNet(torch.nn.Module):
    """A 320-channel conv then a 1x1 conv on 7x7 maps: shapes where torch sums differently on 1 and 2
    threads (MobileNetV2's late 1x1 convs; its logits move by ~6e-6), so the observers see other numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 320, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(320)
        self.conv2 = torch.nn.Conv2d(320, 640, 1)
        self.fc = torch.nn.Linear(640, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def test_the_recipe_gives_the_same_model_whatever_the_callers_thread_count():
    """The demo (2 threads) and the bench (1 thread) got different programs from the same crops: the
    recipe now runs on one thread whatever the caller set, and gives the caller its count back.
    (With threads=None this model's fc output statistics differ between 1 and 2 threads.)"""
    torch.manual_seed(0)
    model = _WideNet().eval()
    calib = torch.randn(16, 3, 7, 7, generator=torch.Generator().manual_seed(2))
    before = torch.get_num_threads()
    states = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            qat, _ = irq.quant.accurate_ptq(model, (calib[:1],), list(calib.split(8)), int16_budget=1,
                                            adaround_iters=20)
            assert torch.get_num_threads() == threads
            states.append(qat.state_dict())
    finally:
        torch.set_num_threads(before)
    one, two = states
    assert one.keys() == two.keys()
    assert [k for k in one if not torch.equal(one[k], two[k])] == []
