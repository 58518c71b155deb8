"""qconfig assignment: later rules win, every rule kind matches what it names, reports say which rule won."""

from __future__ import annotations

import pytest

from irq import qconfig as qc
from irq.march import March, as_march, get_march, set_march


def info(owner: str, kind: str = "conv2d", module_type: str = "torch.nn.modules.conv.Conv2d") -> qc.OwnerInfo:
    return qc.OwnerInfo(owner, kind, module_type)


def test_global_default_and_later_rules_win():
    rules = qc.QConfigRules(qc.default_qat_8bit)
    rules.set_owner("head.*", qc.default_qat_16bit)
    rules.set_owner("head.cls", qc.default_qat_8bit_weight_32bit_out)
    assert rules.resolve(info("backbone.conv1")) == (qc.default_qat_8bit, "global default_qat_8bit")
    assert rules.resolve(info("head.box"))[0] is qc.default_qat_16bit
    q, why = rules.resolve(info("head.cls"))
    assert q is qc.default_qat_8bit_weight_32bit_out
    assert why == "owner 'head.cls' -> default_qat_8bit_weight_32bit_out"
    # the same rules in the other order: the glob, added last, wins for head.cls too
    rules2 = qc.QConfigRules(qc.default_qat_8bit).set_owner("head.cls", qc.default_qat_8bit_weight_32bit_out) \
        .set_owner("head.*", qc.default_qat_16bit)
    assert rules2.resolve(info("head.cls"))[0] is qc.default_qat_16bit


def test_module_type_op_kind_and_callable_rules():
    import torch
    rules = qc.QConfigRules(qc.default_calib_8bit)
    rules.set_module_type(torch.nn.Linear, qc.default_calib_16bit)
    rules.set_op_kind("add", qc.default_qat_16bit)
    rules.set_callable(lambda i: qc.float_qconfig if i.owner.endswith("skip") else None, "skip connections")
    assert rules.resolve(info("fc", "linear", "torch.nn.modules.linear.Linear"))[1] == \
        "module type Linear -> default_calib_16bit"
    assert rules.resolve(info("conv", "conv2d"))[0] is qc.default_calib_8bit
    assert rules.resolve(info("layer1.add", "add", ""))[0] is qc.default_qat_16bit
    q, why = rules.resolve(info("layer1.skip", "add", ""))
    assert q is qc.float_qconfig and why == "skip connections -> float"


def test_as_rules_accepts_what_prepare_accepts():
    import torch
    assert qc.as_rules(None).global_qconfig is qc.default_qat_8bit
    assert qc.as_rules("default_calib_16bit").global_qconfig is qc.default_calib_16bit
    rules = qc.as_rules({"": "default_calib_8bit", "fc": qc.default_qat_8bit_weight_32bit_out,
                         torch.nn.Conv2d: "default_calib_16bit"})
    assert rules.global_qconfig is qc.default_calib_8bit
    assert rules.resolve(info("fc", "linear", ""))[0] is qc.default_qat_8bit_weight_32bit_out
    assert rules.resolve(info("c", "conv2d", "torch.nn.modules.conv.Conv2d"))[0] is qc.default_calib_16bit
    with pytest.raises(TypeError):
        qc.as_rules(3)


def test_templates_and_bad_specs():
    assert qc.default_qat_8bit_weight_32bit_out.activation.storage == "i32"
    assert qc.default_qat_16bit.activation.storage == "i16"
    assert qc.default_qat_8bit.weight.qscheme == "per_channel"
    with pytest.raises(ValueError, match="unknown qconfig template 'int7'"):
        qc.template("int7")
    with pytest.raises(ValueError, match="unknown quantized dtype 'qint4'"):
        qc.QuantizerSpec("qint4")
    with pytest.raises(ValueError, match="unknown observer"):
        qc.QuantizerSpec(observer="kl")
    with pytest.raises(ValueError, match="fixed observer needs fixed_scale"):
        qc.QuantizerSpec(observer="fixed")


def test_march_default_and_override():
    before = get_march()
    try:
        set_march(March.NASH)
        assert as_march(None) is March.NASH
        assert as_march("bayes") is March.BAYES
        with pytest.raises(ValueError, match="unknown march 'j5'"):
            set_march("j5")
    finally:
        set_march(before)


def test_unmatched_rules_are_reported_with_what_exists():
    # the bug: a misspelt owner glob (or a module type / op kind the fused graph does not show) changed
    # nothing and passed silently, so a user believed a layer was int16 when it was int8
    import torch
    rules = qc.QConfigRules(qc.default_calib_8bit)
    rules.set_owner("layer1.0.conv*", qc.default_calib_16bit)    # matches
    rules.set_owner("layer1.0.cnov1", qc.default_calib_16bit)    # typo
    rules.set_module_type(torch.nn.BatchNorm2d, qc.default_calib_16bit)  # folded into the conv: no owner
    rules.set_op_kind("conv", qc.default_calib_16bit)            # the kind is conv2d
    rules.set_op_kind("conv2d", qc.default_calib_16bit)          # matches
    rules.set_callable(lambda i: None, "never")                   # a callable may decline every owner
    owners = [info("layer1.0.conv1"), info("layer1.0.conv2"), info("layer1.0.add", "add", "")]
    problems = rules.unmatched(owners)
    assert len(problems) == 3
    assert "owner 'layer1.0.cnov1'" in problems[0] and "did you mean 'layer1.0.conv1'" in problems[0]
    assert "module type BatchNorm2d" in problems[1] and "Conv2d" in problems[1]
    assert "op kind conv " in problems[2] and "add, conv2d" in problems[2]
    assert qc.QConfigRules().set_owner("*", qc.default_calib_16bit).unmatched(owners) == []


def test_prepare_warns_about_a_rule_that_matches_nothing():
    import warnings

    import torch

    import irq
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    x = torch.randn(1, 3, 8, 8)
    with pytest.warns(irq.QuantizationWarning, match=r"owner '3' -> default_qat_16bit matches no owner.*'0', '2'"):
        irq.prepare(model, (x,), qconfig={"": "default_qat_8bit", "3": "default_qat_16bit"}, check_model=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", irq.QuantizationWarning)
        qat = irq.prepare(model, (x,), qconfig={"": "default_qat_8bit", "2": "default_qat_16bit"}, check_model=False)
    assert qat.get_submodule("2.out_quant").dtype == "qint16"
