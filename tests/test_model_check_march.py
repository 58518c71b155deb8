"""The model check reports what the march profile forbids (op names, activation dtypes, kernel /
stride / channel limits) with each op's source line, before convert: the same violations irq.convert
refuses. The bug it catches: a check that passes a model convert then rejects (the user finds out
after QAT instead of before), or a report that points at no line."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import irq
from irq.transform import PassFailure


class Limits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(3, 4, 9, padding=4)
        self.strided = nn.Conv2d(4, 4, 3, stride=3)
        self.fine = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.wide(x))  # LINE wide
        y = self.strided(y)  # LINE strided
        return self.fine(y)  # LINE fine


def _line(tag: str) -> str:
    src = __file__
    with open(src, encoding="utf-8") as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith(f"# LINE {tag}"):
                return f"{src}:{i}"
    raise AssertionError(tag)


def _prepare(qconfig=None, path=None):
    x = torch.randn(1, 3, 12, 12)
    torch.manual_seed(0)
    return irq.prepare(Limits().eval(), (x,), qconfig=qconfig, check_model_path=path), x


def test_limits_and_dtypes_are_reported_with_their_lines(tmp_path):
    report_path = tmp_path / "model_check_result.txt"
    # int16 output for `strided`: `fine` reads int16 codes, which bayes's conv2d does not accept
    qconfig = {"": irq.qconfig.default_qat_8bit, "strided": irq.qconfig.default_qat_16bit}
    _prepare(qconfig, str(report_path))
    text = report_path.read_text()
    assert f"hl.conv2d at wide: kernel [9, 9] exceeds march 'bayes' limit 7 ({_line('wide')})" in text, text
    assert f"hl.conv2d at strided: stride [3, 3] exceeds march 'bayes' limit 2 ({_line('strided')})" in text
    assert f"hl.conv2d at fine: has i16 inputs; march 'bayes' supports i8 for conv2d ({_line('fine')})" in text


def test_the_check_reports_what_convert_refuses():
    qconfig = {"": irq.qconfig.default_calib_8bit, "strided": irq.qconfig.default_calib_16bit}
    qat, x = _prepare(qconfig)
    from irq.quant.prepare import ir_of
    result = irq.check_model(ir_of(qat), march="bayes", path=None)
    assert not result.ok
    checked = {(e.path, e.detail) for e in result.unsupported}
    assert {p for p, _ in checked} == {"wide", "strided", "fine"}
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    try:
        irq.convert(qat, march="bayes")
        raise AssertionError("convert accepted what the check reported")
    except PassFailure as e:
        refused = str(e)
    for _, detail in checked:
        assert detail in refused, (detail, refused)


def test_a_model_within_the_limits_is_ok_and_a_torch_level_module_is_not_misjudged():
    class Fine(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)))

    x = torch.randn(1, 3, 8, 8)
    module = irq.import_torch(Fine().eval(), (x,))
    unfused = irq.check_model(module, path=None)  # torch level: batch_norm is still its own op
    assert not any("batch_norm" in e.op for e in unfused.unsupported)
    assert any("run the fuse pass first" in n for n in unfused.notes)
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    fused = irq.check_model(module, path=None)
    assert fused.ok and fused.unsupported == [] and fused.notes == []


def test_a_registered_march_profile_is_what_the_check_uses():
    from irq.march_profiles import _PROFILES, get_march, register_march
    base = get_march("bayes")
    saved = dict(_PROFILES)
    try:
        # the same ops as bayes, but conv2d kernels up to 3 only: the user's own chip
        register_march({"name": "bayes", "ops": {
            name: {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(lim).items() if v is not None}
            for name, lim in base.ops.items()} | {"conv2d": {"dtypes": ["i8"], "max_kernel": 3}}})
        module = irq.import_torch(Limits().eval(), (torch.randn(1, 3, 12, 12),))
        irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
        result = irq.check_model(module, path=None)
        details = {e.path: e.detail for e in result.unsupported}
        assert details["wide"] == "kernel [9, 9] exceeds march 'bayes' limit 3"
        assert "strided" not in details  # the user's profile sets no stride limit
    finally:
        _PROFILES.clear()
        _PROFILES.update(saved)


def test_the_check_model_pass_accepts_a_users_own_march(tmp_path):
    from irq.march_profiles import _PROFILES, register_march
    saved = dict(_PROFILES)
    try:
        # a chip that runs 3x3 int8 convs and nothing else
        register_march({"name": "mychip", "ops": {"conv2d": {"dtypes": ["i8"], "max_kernel": 3},
                                                  "relu": {}}})
        module = irq.import_torch(Limits().eval(), (torch.randn(1, 3, 12, 12),))
        irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
        report = tmp_path / "report.txt"
        irq.PassManager.parse(f"builtin.module(check-model{{march=mychip path={report}}})").run(module)
        text = report.read_text()
        assert "== Ops not supported on march 'mychip' ==" in text
        assert f"hl.conv2d at wide: kernel [9, 9] exceeds march 'mychip' limit 3 ({_line('wide')})" in text
        assert "strided" not in text.split("== Ops kept")[0].split("march 'mychip' ==")[1]
    finally:
        _PROFILES.clear()
        _PROFILES.update(saved)
    with pytest.raises(PassFailure, match="unknown march 'nochip'"):
        irq.PassManager.parse("builtin.module(check-model{march=nochip path=-})").run(module)


def test_a_user_march_registered_first_keeps_the_shipped_ones():
    """register_march before any lookup used to make the shipped profiles never load ('unknown march bayes')."""
    import subprocess
    import sys
    code = ("import irq.march_profiles as m; m.register_march({'name': 'mine', 'ops': {'conv2d': {}}}); "
            "print(m.registered_marches(), m.get_march('bayes').name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['bayes',", "'mine',", "'nash']", "bayes"]


def test_prepare_and_convert_accept_a_registered_march():
    """A user's march annotates (ops it lacks stay float) and converts by name, as bayes does."""
    import torch

    import irq
    from irq.march_profiles import register_march
    register_march({"name": "conv_and_relu_only", "ops": {"conv2d": {"dtypes": ["i8"]}, "relu": {}}})
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Sigmoid()).eval()
    x = torch.randn(1, 3, 8, 8)
    qat = irq.prepare(model, (x,), march="conv_and_relu_only", check_model=False)
    assert qat.irq_march == "conv_and_relu_only"
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    program = irq.convert(qat, march="conv_and_relu_only", float_fallback=True)
    assert [op.name for op in program.walk() if op.dialect_name == "hl"] == ["hl.sigmoid"]  # the march's gap
    with torch.no_grad():
        import numpy as np
        # the island's sigmoid is float64 numpy, VALIDATION's is torch float32: equal to an ulp, not bit for bit
        np.testing.assert_allclose(irq.run(program, x.numpy(), runtime="reference"), qat(x).numpy(),
                                   rtol=0, atol=2e-7)
