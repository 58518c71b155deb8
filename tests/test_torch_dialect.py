"""The torch and hl dialects: custom forms round-trip, shapes and structure are verified."""

from __future__ import annotations

import pytest
from irq.dialects import hl
from irq.dialects import torch as tdl

import irq

T = "tensor<1x4x8x8xf32>"


def _module(body: str, args: str = f"%x: {T}", ret: str = T) -> str:
    return f"func.func @main({args}) -> {ret} {{\n{body}\n}}\n"


def _roundtrip(text: str) -> irq.Operation:
    m = irq.parse_module(text)
    irq.verify(m)
    printed = irq.print_module(m)
    assert irq.print_module(irq.parse_module(printed)) == printed
    return m


def _verify_error(text: str) -> str:
    with pytest.raises(irq.VerifyError) as info:
        irq.verify(irq.parse_module(text))
    return str(info.value)


CONV = (f"  %w = torch.constant dense<1.0> : tensor<4x4x3x3xf32>\n"
        f"  %0 = torch.conv2d %x, %w {{stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1}} "
        f": ({T}, tensor<4x4x3x3xf32>) -> RES\n  return %0 : RES")


def test_conv_output_shape_is_verified():
    _roundtrip(_module(CONV.replace("RES", T)))
    msg = _verify_error(_module(CONV.replace("RES", "tensor<1x4x7x8xf32>"), ret="tensor<1x4x7x8xf32>"))
    assert "expected 1x4x8x8" in msg
    bad_groups = CONV.replace("RES", T).replace("groups = 1", "groups = 2")
    assert "channels" in _verify_error(_module(bad_groups))


@pytest.mark.parametrize("op,attrs,res,ok", [
    ("torch.max_pool2d", "{kernel_size = [3, 3], stride = [2, 2], padding = [1, 1], dilation = [1, 1], "
     "ceil_mode = false}", "tensor<1x4x4x4xf32>", True),
    ("torch.max_pool2d", "{kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], dilation = [1, 1], "
     "ceil_mode = false}", "tensor<1x4x3x4xf32>", False),
    ("torch.flatten", "{start_dim = 1, end_dim = -1}", "tensor<1x256xf32>", True),
    ("torch.view", "{shape = [2, -1]}", "tensor<2x128xf32>", True),
    ("torch.view", "{shape = [3, -1]}", "tensor<3x85xf32>", False),
    ("torch.permute", "{dims = [0, 2, 3, 1]}", "tensor<1x8x8x4xf32>", True),
    ("torch.permute", "{dims = [0, 2, 2, 1]}", "tensor<1x8x8x4xf32>", False),
    ("torch.interpolate", "{scale_factor = [2.0, 2.0], mode = \"nearest\"}", "tensor<1x4x16x16xf32>", True),
    ("torch.interpolate", "{size = [5, 6], mode = \"bilinear\", align_corners = true}", "tensor<1x4x5x6xf32>", True),
    ("torch.mean", "{dim = [2, 3], keepdim = true}", "tensor<1x4x1x1xf32>", True),
    ("torch.mean", "{dim = [2, 3], keepdim = false}", "tensor<1x4x1x1xf32>", False),
    ("torch.pad", "{pad = [1, 1, 2, 2], mode = \"constant\", value = 0.0}", "tensor<1x4x12x10xf32>", True),
    ("torch.adaptive_avg_pool2d", "{output_size = [1, 1]}", "tensor<1x4x1x1xf32>", True),
    ("torch.softmax", "{dim = 1}", T, True),
])
def test_unary_shape_rules(op, attrs, res, ok):
    text = _module(f"  %0 = {op} %x {attrs} : ({T}) -> {res}\n  return %0 : {res}", ret=res)
    if ok:
        _roundtrip(text)
    else:
        msg = _verify_error(text)
        assert any(w in msg for w in ("expected", "cannot", "permutation")), msg


def test_binary_broadcast_cat_and_multi_results():
    body = (f"  %b = torch.constant dense<1.0> : tensor<4x1x1xf32>\n"
            f"  %0 = torch.add %x, %b : ({T}, tensor<4x1x1xf32>) -> {T}\n"
            f"  %1 = torch.cat %0, %x {{dim = 1}} : ({T}, {T}) -> tensor<1x8x8x8xf32>\n"
            f"  %2:2 = torch.chunk %1 {{chunks = 2, dim = 1}} : (tensor<1x8x8x8xf32>) -> ({T}, {T})\n"
            f"  %3:3 = torch.split %1 {{split_size = [2, 4, 2], dim = 1}} : (tensor<1x8x8x8xf32>) -> "
            f"(tensor<1x2x8x8xf32>, {T}, tensor<1x2x8x8xf32>)\n"
            f"  return %2#1 : {T}")
    m = _roundtrip(_module(body))
    assert [op.name for op in m.walk()][-5:-1] == ["torch.add", "torch.cat", "torch.chunk", "torch.split"]
    assert "broadcast" in _verify_error(_module(body.replace("tensor<4x1x1xf32>", "tensor<3x1x1xf32>")))
    assert "expected 1x4x16x8" in _verify_error(_module(body.replace(
        f"%1 = torch.cat %0, %x {{dim = 1}} : ({T}, {T})", f"%1 = torch.cat %0, %x {{dim = 2}} : ({T}, {T})")))


def test_call_size_view_and_python_value_attributes():
    body = (f"  %s = torch.size %x {{dim = 0}} : ({T}) -> i64\n"
            f"  %0 = torch.view %x, [%s] {{shape = [#torch.operand<1>, -1]}} : ({T}, i64) -> tensor<1x256xf32>\n"
            f"  %1 = torch.getitem %x {{index = [#torch.slice<none, none, none>, 0, #torch.ellipsis, unit]}} "
            f": ({T}) -> tensor<1x8x8x1xf32>\n"
            f"  %2:2 = torch.call \"pkg.fn\"(%0, %1) {{args = [[#torch.operand<0>, #torch.operand<1>], f32, "
            f"#torch.module<\"head\">, #torch.ref<\"torch.channels_last\">], kwargs = {{k = 1}}, results_kind = "
            f"\"tuple\"}} : (tensor<1x256xf32>, tensor<1x8x8x1xf32>) -> ({T}, !torch.obj)\n"
            f"  return %2#0 : {T}")
    m = _roundtrip(_module(body))
    call = next(op for op in m.walk() if op.name == "torch.call")
    assert isinstance(call, tdl.CallOp) and call.target.value == "pkg.fn"
    assert "refers to operand #5" in _verify_error(_module(body.replace("#torch.operand<1>]", "#torch.operand<5>]")))
    assert "results_kind" in _verify_error(_module(body.replace(', results_kind = "tuple"', "")))


def test_constant_op_and_resource_keys_print_as_state_dict_keys():
    body = ("  %0 = torch.constant dense_resource<\"0.weight\"> : tensor<2xf32>\n"
            "  %1 = torch.constant {kind = \"buffer\"} dense_resource<bn.running_mean> : tensor<2xf32>\n"
            "  %2 = torch.add %0, %1 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>\n"
            "  return %2 : tensor<2xf32>")
    text = (_module(body, args="", ret="tensor<2xf32>") + "{-#\n  dialect_resources: {\n    builtin: {\n"
            "      \"0.weight\": \"0x040000000000803F00000040\",\n"
            "      bn.running_mean: \"0x040000000000803F00000040\"\n    }\n  }\n#-}\n")
    m = _roundtrip(text)
    consts = [op for op in m.walk() if op.name == "torch.constant"]
    assert [c.key for c in consts] == ["0.weight", "bn.running_mean"]
    assert not consts[0].has_trait(irq.ir.traits.Pure)  # unused parameters are state, never dead code


HL = (f"  %w = torch.constant dense<1.0> : tensor<4x4x3x3xf32>\n"
      f"  %m = torch.constant {{kind = \"buffer\"}} dense<0.0> : tensor<4xf32>\n"
      f"  %0 = hl.conv2d %x, %w bn_mean %m bn_var %m residual %x {{owner = \"layer1.0.conv1\", stride = [1, 1], "
      f"padding = [1, 1], dilation = [1, 1], groups = 1, activation = \"relu\", bn_eps = 1.0e-05}} : "
      f"({T}, tensor<4x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, {T}) -> {T}\n"
      f"  %1 = hl.add %0, %x {{owner = \"layer1.0.add\"}} : ({T}, {T}) -> {T}\n"
      f"  return %1 : {T}")


def test_hl_fused_ops_verify_their_parts():
    m = _roundtrip(_module(HL))
    conv = next(op for op in m.walk() if op.name == "hl.conv2d")
    assert conv.bn_mean is not None and conv.residual is not None and conv.bias is None
    assert "activation" in _verify_error(_module(HL.replace('"relu"', '"gelu"')))
    assert "bn_eps" in _verify_error(_module(HL.replace(", bn_eps = 1.0e-05", "")))
    assert "owner" in _verify_error(_module(HL.replace(' {owner = "layer1.0.add"}', "")))
    assert "bn_mean and bn_var" in _verify_error(_module(HL.replace(" bn_var %m", "").replace(
        "tensor<4xf32>, tensor<4xf32>, " + T, "tensor<4xf32>, " + T)))


def test_hl_has_no_data_movement_ops():
    assert "hl.view" not in hl.DIALECT.ops and "hl.max_pool2d" not in hl.DIALECT.ops
    assert {"hl.conv2d", "hl.linear", "hl.add", "hl.cat", "hl.interpolate", "hl.relu"} <= set(hl.DIALECT.ops)
