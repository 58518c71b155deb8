"""irq.prepare and the horizon_plugin_pytorch flow: hierarchy, batch sizes, state-dict keys, the
FakeQuantState machine with its asserts and the FAQ's mistakes, checkpoint reloads, QAT training."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import irq
from irq.quant import FakeQuantize, QuantizationWarning, check_unchanged, load_quantized_state_dict, split_keys
from tests.models import resnet


class MultiTask(nn.Module):
    """A backbone shared by two heads (the FAQ's multi-task case)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.seg = nn.Conv2d(8, 2, 1)
        self.cls = nn.Linear(8, 3)

    def forward(self, x):
        f = self.backbone(x)
        return self.seg(f), self.cls(f.mean((2, 3)))


def _prepare(model=None, tmp_path=None, **kw):
    torch.manual_seed(0)
    model = (model or MultiTask()).eval()
    kw.setdefault("check_model_path", str(tmp_path / "model_check_result.txt") if tmp_path else None)
    kw.setdefault("check_model", tmp_path is not None)
    return model, irq.prepare(model, (torch.randn(2, 3, 8, 8),), **kw)


def _calibrate(qat, batches=3, shape=(4, 3, 8, 8)):
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _ in range(batches):
            qat(torch.randn(*shape, generator=g))


def test_prepare_keeps_hierarchy_keys_and_names_quantization_state(tmp_path):
    model, qat = _prepare(tmp_path=tmp_path)
    assert isinstance(qat, torch.nn.Module) and isinstance(qat.backbone, nn.Module)
    keys = list(qat.state_dict())
    for k in model.state_dict():
        assert k in keys
    assert "backbone.0.weight_quant.scale" in keys
    assert "backbone.0.out_quant.scale" in keys and "backbone.0.out_quant.max_val" in keys
    assert "cls.weight_quant.scale" in keys and "mean.out_quant.scale" in keys
    assert isinstance(qat.backbone.get_submodule("3.out_quant"), FakeQuantize)
    report = (tmp_path / "model_check_result.txt").read_text()
    assert "== Quantization (qconfig rule per owner) ==" in report and "backbone.0: global default_qat_8bit" in report


def test_model_check_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _prepare(check_model=False)
    assert not (tmp_path / "model_check_result.txt").exists()
    _prepare(check_model=True, check_model_path="model_check_result.txt")
    assert (tmp_path / "model_check_result.txt").exists()


@pytest.mark.parametrize("state", ["calibration", "qat", "validation"])
def test_any_batch_size_in_every_state(state):
    model, qat = _prepare()
    _calibrate(qat)
    if state == "qat":
        qat.train()
    irq.set_fake_quantize(qat, state)
    for n in (1, 5):
        seg, cls = qat(torch.randn(n, 3, 8, 8))
        assert seg.shape == (n, 2, 8, 8) and cls.shape == (n, 3)


def test_state_machine_asserts():
    _, qat = _prepare()
    qat.train()
    with pytest.raises(AssertionError, match=r"Call model.eval\(\) before set fake quant to CALIBRATION mode"):
        irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with pytest.raises(AssertionError, match=r"Call model.eval\(\) before set fake quant to VALIDATION mode"):
        irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    qat.eval()
    with pytest.raises(AssertionError, match=r"Call model.train\(\) before set fake quant to QAT mode"):
        irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    with pytest.raises(ValueError, match="no fake-quant modules"):
        irq.set_fake_quantize(nn.Linear(2, 2).eval(), irq.FakeQuantState.VALIDATION)


def _warnings(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [str(x.message) for x in w if issubclass(x.category, QuantizationWarning)]


def test_faq_mistake_1_calibrating_in_train_mode_without_the_state():
    _, qat = _prepare()
    qat.train()
    msgs = _warnings(lambda: qat(torch.randn(2, 3, 8, 8)))
    assert len(msgs) == 1 and "this runs QAT" in msgs[0] and "FakeQuantState.CALIBRATION" in msgs[0]


def test_faq_mistake_2_calibrating_in_eval_mode_without_the_state():
    _, qat = _prepare()
    qat.eval()
    msgs = _warnings(lambda: qat(torch.randn(2, 3, 8, 8)))
    assert len(msgs) == 1 and "scale stays at its initial value 1" in msgs[0]
    assert all(float(m.scale.max()) == 1.0 for m in qat.modules() if isinstance(m, FakeQuantize)
               and m.slot != "weight")


def test_faq_mistake_3_eval_after_setting_calibration():
    _, qat = _prepare()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    qat.eval()  # the mistake: switches the observers off again
    msgs = _warnings(lambda: qat(torch.randn(2, 3, 8, 8)))
    assert len(msgs) == 1 and "model.eval() was called after" in msgs[0]
    assert int(qat.backbone.get_submodule("0.out_quant").observed) == 0


def test_validating_uncalibrated_observers_names_them():
    _, qat = _prepare()
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    msgs = _warnings(lambda: qat(torch.randn(2, 3, 8, 8)))
    assert len(msgs) == 1 and "saw no data" in msgs[0] and "backbone.0.out_quant" in msgs[0]


def test_correct_flow_warns_nothing():
    _, qat = _prepare()
    msgs = _warnings(lambda: (_calibrate(qat), qat.eval(), irq.set_fake_quantize(qat, "validation"),
                              qat(torch.randn(2, 3, 8, 8))))
    assert msgs == []


def test_backbone_eval_freezes_only_the_backbone_quantization_state():
    _, qat = _prepare()
    _calibrate(qat)
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    qat.backbone.eval()
    frozen = {k: v.clone() for k, v in qat.state_dict().items() if k.startswith("backbone.") and "out_quant" in k}
    head_before = qat.seg.out_quant.max_val.clone()
    with torch.no_grad():
        qat(torch.randn(4, 3, 8, 8) * 5)
    for k, v in frozen.items():
        assert torch.equal(qat.state_dict()[k], v), k
    assert not torch.equal(qat.seg.out_quant.max_val, head_before)


def test_changing_the_model_after_prepare_is_detected():
    _, qat = _prepare()
    check_unchanged(qat)
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(qat))
    converted.__dict__["irq_fingerprint"] = qat.__dict__["irq_fingerprint"]
    converted.backbone.add_module("1", torch.nn.SyncBatchNorm(8))
    with pytest.raises(RuntimeError, match=r"changed after irq.prepare: backbone.1 .*convert_sync_batchnorm"):
        check_unchanged(converted)
    with pytest.raises(RuntimeError, match="changed after irq.prepare"):
        irq.freeze(converted)
    with pytest.warns(irq.QuantizationWarning, match="before irq.set_fake_quantize"):
        qat(torch.randn(2, 3, 8, 8))  # unchanged: runs (and warns about the missing state, as it should)
    qat.backbone.add_module("1", torch.nn.SyncBatchNorm(8))
    with pytest.raises(RuntimeError, match=r"changed after irq.prepare: backbone.1 .*convert_sync_batchnorm"):
        qat(torch.randn(2, 3, 8, 8))  # the first forward already says so, before any training step


def test_sync_batch_norm_converted_before_prepare_is_fused():
    model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(MultiTask()).eval()
    _, qat = _prepare(model)
    assert "backbone.1.running_mean" in qat.state_dict()
    from irq.quant.prepare import ir_of
    ops = list(ir_of(qat).walk())
    assert not [op for op in ops if op.name == "hl.batch_norm"]
    assert [op for op in ops if op.get_attr("bn_owner") is not None and op.get_attr("bn_owner").value == "backbone.1"]


def test_split_keys_separates_model_and_quantization_parameters():
    r = split_keys(["conv.weight", "conv.out_quant.scale"], ["fc.bias", "fc.weight_quant.max_val"])
    assert r.missing_model == ["conv.weight"] and r.missing_quant == ["conv.out_quant.scale"]
    assert r.unexpected_model == ["fc.bias"] and r.unexpected_quant == ["fc.weight_quant.max_val"]
    assert "missing quantization parameters (1): conv.out_quant.scale" in str(r)


def test_reference_flow_calibrate_save_reprepare_load_train_validate(tmp_path):
    """eager-qat-quick-start.txt's flow, with irq, on the zoo's ResNet (classifier with int32 output)."""
    torch.manual_seed(0)
    float_model = resnet.ResNet(resnet.BasicBlock, (1, 1)).eval()
    example = torch.randn(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    data = torch.randn(16, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (16,), generator=g)

    calib_model = irq.prepare(copy.deepcopy(float_model), (example,), check_model=False,
                              qconfig={"": irq.qconfig.default_calib_8bit,
                                       "fc": irq.qconfig.default_calib_8bit_weight_32bit_out})
    calib_model.eval()
    irq.set_fake_quantize(calib_model, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for i in range(4):
            calib_model(data[i * 4:(i + 1) * 4])
    calib_model.eval()
    irq.set_fake_quantize(calib_model, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        calib_out = calib_model(data)
    torch.save(calib_model.state_dict(), tmp_path / "calib-checkpoint.ckpt")

    qat_model = irq.prepare(copy.deepcopy(float_model), (example,), check_model=False,
                            qconfig={"": irq.qconfig.default_qat_8bit,
                                     "fc": irq.qconfig.default_qat_8bit_weight_32bit_out})
    report = load_quantized_state_dict(qat_model, torch.load(tmp_path / "calib-checkpoint.ckpt"))
    assert report.ok, str(report)
    # the calibrated state continues: validating right after loading reproduces the calibrated model
    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        assert torch.equal(qat_model(data), calib_out)

    qat_model.train()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.QAT)
    opt = torch.optim.SGD(qat_model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(qat_model(data), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.8, losses

    qat_model.eval()
    irq.set_fake_quantize(qat_model, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        out = qat_model(data)
    ce = torch.nn.functional.cross_entropy
    assert ce(out, labels).item() < ce(calib_out, labels).item()  # deployed numbers improved by training
    frozen = irq.freeze(qat_model)
    from irq.runtime.torch import to_module
    with torch.no_grad():
        assert torch.equal(to_module(frozen)(data), out)


def test_prepare_through_torch_export_and_lsq_option():
    spec = irq.qconfig.QuantizerSpec("qint8", "min_max", learnable=True)
    lsq = irq.qconfig.QConfig(spec, irq.qconfig.default_qat_8bit.weight, "lsq")
    model, qat = _prepare(method="export", qconfig=lsq)
    scale = qat.backbone.get_submodule("0.out_quant").scale
    assert isinstance(scale, nn.Parameter)
    _calibrate(qat)
    assert scale.item() != 1.0
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    seg, cls = qat(torch.randn(3, 3, 8, 8))
    (seg.square().mean() + cls.square().mean()).backward()
    assert scale.grad is not None and scale.grad.abs().item() > 0
