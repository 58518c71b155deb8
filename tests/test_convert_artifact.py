"""irq.convert (march check, float fallback), the deployable artifact (save / irq.load / irq-run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from irq.runtime.reference import run
from support.frozen import FrozenBuilder

import irq
from irq.artifact import ArtifactError
from irq.march_profiles import get_march, register_march
from irq.transform.pass_base import PassFailure

RNG = np.random.default_rng(3)
#: a user's march: bayes without sqrt (both shipped marches run it as a table), so sqrt shows the march check and
#: the float fallback
NO_SQRT = "bayes_without_sqrt"


@pytest.fixture(scope="module", autouse=True)
def no_sqrt_march():
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = NO_SQRT
    del data["ops"]["sqrt"]
    register_march(data)
CONV = 'stride = [{s}, {s}], padding = [1, 1], dilation = [1, 1], groups = 1 : i64, owner = "{o}"'


def small_net(kernel: int = 3, stride: int = 1, sqrt: bool = False, in_dtype: str = "i8"):
    """x -> conv(+relu) -> [sqrt] -> avg pool -> linear: a frozen graph built by hand."""
    b = FrozenBuilder([("x", (1, 3, 8, 8))])
    xd = b.qdq("x", 0.02, in_dtype)
    w = RNG.standard_normal((4, 3, kernel, kernel)) * 0.2
    o = (8 + 2 - kernel) // stride + 1
    y = b.op("hl.conv2d", [xd, b.weight(w, np.abs(w).reshape(4, -1).max(axis=1) / 127)], (1, 4, o, o),
             {"bias": b.const(RNG.standard_normal(4) * 0.1)}, CONV.format(s=stride, o="conv") + ', activation = "relu"')
    yd = b.qdq(y, 0.04)
    if sqrt:
        yd = b.qdq(b.op("hl.sqrt", [yd], (1, 4, o, o), attrs='owner = "sm"'), 0.05)  # march NO_SQRT does not run it
    p = b.qdq(b.op("hl.adaptive_avg_pool2d", [yd], (1, 4, 1, 1), attrs='output_size = [1, 1], owner = "gap"'), 0.03)
    f = b.op("torch.flatten", [p], (1, 4), attrs="start_dim = 1 : i64, end_dim = -1 : i64")
    lw = RNG.standard_normal((10, 4))
    out = b.op("hl.linear", [f, b.weight(lw, np.abs(lw).max(axis=1) / 127)], (1, 10), attrs='owner = "fc"')
    return b.module([out])


def test_convert_leaves_the_frozen_module_untouched_and_marks_the_version():
    frozen = small_net()
    before = str(frozen)
    program = irq.convert(frozen, march="bayes")
    assert str(frozen) == before
    assert program.get_attr("bpu.format_version").value == 1
    assert {op.dialect_name for op in program.walk()} <= {"builtin", "func", "bpu"}


def test_march_violations_are_all_reported_before_lowering():
    frozen = small_net(kernel=9, stride=4, sqrt=True)
    with pytest.raises(PassFailure) as info:
        irq.convert(frozen, march=NO_SQRT)
    text = str(info.value)
    assert f"3 op(s) cannot run on march '{NO_SQRT}' (nothing was lowered)" in text
    assert f"kernel [9, 9] exceeds march '{NO_SQRT}' limit 7" in text
    assert f"stride [4, 4] exceeds march '{NO_SQRT}' limit 2" in text
    assert f"'hl.sqrt' is not supported on march '{NO_SQRT}'" in text
    assert text.count("<string>:") >= 3  # every violation names its location
    # nash accepts the kernel, the stride and sqrt (a table)
    assert any(op.name == "bpu.lut" for op in irq.convert(frozen, march="nash").walk())


def test_int16_support_is_per_op_and_per_march():
    frozen = small_net(in_dtype="i16")
    with pytest.raises(PassFailure, match="has i16 inputs; march 'bayes' supports i8 for conv2d"):
        irq.convert(frozen, march="bayes")
    program = irq.convert(frozen, march="nash")
    conv = next(op for op in program.walk() if op.name == "bpu.conv2d")
    assert conv.input.type.element_type.width == 16 and conv.out.type.element_type.width == 32


def test_float_fallback_keeps_unsupported_ops_in_float_and_runs():
    frozen = small_net(sqrt=True)
    program = irq.convert(frozen, march=NO_SQRT, float_fallback=True)
    sm = next(op for op in program.walk() if op.name == "hl.sqrt")
    assert sm.operands[0].op.name == "bpu.dequantize"
    assert next(iter(sm.results[0].users)).name == "bpu.quantize"
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    (y,) = run(program, x)
    assert y.shape == (1, 10) and np.all(np.isfinite(y))


def test_custom_march_profile(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text('{"name": "tiny", "ops": {"conv2d": {"dtypes": ["i8"], "max_channels": 2}}}')
    register_march(path)
    assert get_march("tiny").ops["conv2d"].max_channels == 2
    with pytest.raises(PassFailure) as info:
        irq.convert(small_net(), march="tiny")
    assert "has 4 channels; march 'tiny' allows 2" in str(info.value)
    assert "'hl.adaptive_avg_pool2d' is not supported on march 'tiny'" in str(info.value)
    with pytest.raises(ValueError, match="unknown limit"):
        register_march({"name": "bad", "ops": {"conv2d": {"max_kernal": 3}}})


def _saved(tmp_path):
    program = irq.convert(small_net(), march="bayes")
    path = tmp_path / "model.irq"
    program.save(path)
    return program, path


def test_artifact_round_trips_to_the_same_bits(tmp_path):
    program, path = _saved(tmp_path)
    loaded = irq.load(path)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    (a,), (b,) = run(program, x), run(loaded, x)
    assert a.tobytes() == b.tobytes()
    assert str(loaded) == str(program)


def _edit(path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_truncated_blob_is_a_clear_error(tmp_path):
    _, path = _saved(tmp_path)
    text = path.read_text()
    start = text.index('conv.weight.1: "0x') + len('conv.weight.1: "0x')
    path.write_text(text[:start + 8 + 20] + text[text.index('"', start):])  # 10 bytes of weights left
    with pytest.raises(irq.ParseError, match=r"resource 'conv.weight.1' holds 10 bytes, tensor<4x3x3x3xi8> needs 108"):
        irq.load(path)


def test_wrong_dtype_is_a_clear_error(tmp_path):
    _, path = _saved(tmp_path)
    # the weight blob read as i16 (every use edited consistently): twice the bytes it holds
    path.write_text(path.read_text().replace("tensor<4x3x3x3xi8>", "tensor<4x3x3x3xi16>"))
    with pytest.raises(irq.ParseError, match="holds 108 bytes, tensor<4x3x3x3xi16> needs 216"):
        irq.load(path)
    _, path = _saved(tmp_path)
    path.write_text(path.read_text().replace("tensor<1x4x8x8xi32>", "tensor<1x4x8x8xi8>"))  # the accumulator
    with pytest.raises(irq.VerifyError, match="result 'out' must be a tensor of i32/i64"):
        irq.load(path)


def test_edited_shape_is_a_clear_error(tmp_path):
    _, path = _saved(tmp_path)
    text = path.read_text()
    path.write_text(text.replace("tensor<1x4x8x8xi32>", "tensor<1x4x7x7xi32>"))
    with pytest.raises(irq.VerifyError, match=r"result shape \[1, 4, 7, 7\] does not match the expected "
                                              r"\[1, 4, 8, 8\]"):
        irq.load(path)


def test_version_and_foreign_ops_are_refused(tmp_path):
    _, path = _saved(tmp_path)
    _edit(path, "bpu.format_version = 1", "bpu.format_version = 7")
    with pytest.raises(ArtifactError, match="format version 7 is not supported"):
        irq.load(path)
    _, path = _saved(tmp_path)
    _edit(path, 'attributes {bpu.format_version = 1 : i64, bpu.march = "bayes"} ', "")
    with pytest.raises(ArtifactError, match="not a deployable bpu program"):
        irq.load(path)
    _, path = _saved(tmp_path)
    _edit(path, "    return", '    "evil.exec"() {code = "import os"} : () -> ()\n    return')
    with pytest.raises(irq.ParseError, match="unregistered operation 'evil.exec'"):
        irq.load(path)


def test_irq_run_cli_and_torch_free_loading(tmp_path):
    program, path = _saved(tmp_path)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = ("import sys; sys.modules['torch'] = None\n"
              "from irq.cli.run import main\n"
              f"sys.exit(main([{str(path)!r}, '--input', {str(tmp_path / 'x.npy')!r}, '--output', "
              f"{str(tmp_path / 'y.npy')!r}, '--runtime', 'reference']))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (want,) = run(program, x)
    assert np.load(tmp_path / "y.npy").tobytes() == want.tobytes()
    r = subprocess.run([sys.executable, "-m", "irq.cli.run", str(path), "--output", str(tmp_path / "z.npy")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "takes 1 input(s), got 0" in r.stderr


def test_float_island_conv_uses_the_dequantized_weights():
    # a 9x9 kernel exceeds bayes' limit: the conv stays in float, reading the frozen graph's QDQ weights
    b = FrozenBuilder([("x", (1, 2, 12, 12))])
    w = RNG.standard_normal((3, 2, 9, 9)) * 0.1
    s_w = np.abs(w).reshape(3, -1).max(axis=1) / 127
    y = b.op("hl.conv2d", [b.qdq("x", 0.02), b.weight(w, s_w)], (1, 3, 6, 6), {"bias": b.const(np.ones(3))},
             'stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1 : i64, owner = "big", '
             'activation = "relu"')
    program = irq.convert(b.module([b.qdq(y, 0.05)]), march="bayes", float_fallback=True)
    conv = next(op for op in program.walk() if op.name == "hl.conv2d")
    assert conv.operands[1].op.name == "torch.constant"
    x = RNG.standard_normal((1, 2, 12, 12)).astype(np.float32)
    (got,) = run(program, x)
    import torch
    import torch.nn.functional as F

    from irq import fixedpoint
    xq = fixedpoint.quantize_to_codes(x, 0.02) * 0.02
    wq = fixedpoint.quantize_weight(w, s_w) * s_w.reshape(-1, 1, 1, 1)
    ref = F.relu(F.conv2d(torch.from_numpy(xq), torch.from_numpy(wq.astype(np.float32)).double(),
                          torch.ones(3, dtype=torch.float64), padding=1)).numpy()
    codes = np.clip(np.rint(ref.astype(np.float32).astype(np.float64) / 0.05), -128, 127)
    assert np.abs(np.rint(got / 0.05) - codes).max() <= 1
