"""Holes found in the last session, each closed with the bug it was (the softmax exp-table hole is in
tests/test_convert_islands.py, next to bpu.log_softmax's table checks):

- the reference runtime's float-island conv2d failed on torch's string paddings ("same", "valid") with
  "pad_width must be of integral type": it now pads as torch does (the odd unit at the end) and equals
  torch; the numba runtime, which runs float islands through the same functions, equals it;
- `irq opt` reported its errors as "irq-opt:": every message now names the tool as it was invoked;
- the layer/group norm verifiers (one declaration now) still check row lengths and gamma/beta shapes, and
  the ops that pass codes through (one check now) still refuse a result of another dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from irq.runtime import numba as rn
from irq.runtime.reference import run
from support.bpu_text import ProgramText

import irq
from irq.cli.main import main as irq_main
from irq.cli.opt import main as irq_opt


class SamePadding(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, (3, 4), padding="same", dilation=(1, 2))
        self.b = torch.nn.Conv2d(4, 2, 2, padding="valid")
        self.c = torch.nn.Conv2d(2, 2, 9, padding="same")

    def forward(self, x):
        return self.c(self.b(torch.relu(self.a(x))))


def test_float_island_conv_with_string_padding_equals_torch():
    torch.manual_seed(0)
    model = SamePadding().eval()
    x = torch.randn(2, 3, 7, 9)
    module = irq.import_torch(model, (x,))
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    assert {op.get_attr("padding").value for op in module.walk() if op.name == "hl.conv2d"} == {"same", "valid"}
    (got,) = run(module, x.numpy())
    with torch.no_grad():
        want = model.double()(x.double()).numpy()
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_a_same_padded_conv_march_cannot_run_deploys_as_a_float_island():
    """A 9x9 "same" conv (kernel over bayes' limit 7) kept in float: both runtimes run it, bit for bit alike,
    close to VALIDATION (which computes the same float conv in torch)."""
    torch.manual_seed(0)
    model = SamePadding().eval()
    x = torch.randn(1, 3, 7, 9)
    qat = irq.prepare(model, (x,), check_model=False)
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = qat(x).numpy()
    program = irq.convert(qat, float_fallback=True)
    assert any(op.name == "hl.conv2d" for op in program.walk())
    (ref,) = run(program, x.numpy())
    np.testing.assert_array_equal(rn.compile(program)(x.numpy()), ref)
    step = float(np.abs(validation).max()) / 127
    assert np.abs(ref - validation).max() <= step * 1.01  # at most one code where float32/64 round differently


@pytest.mark.parametrize("invoke,prefix", [(lambda a: irq_main(["opt", *a]), "irq opt"),
                                           (lambda a: irq_opt(a), "irq-opt")])
def test_irq_opt_errors_name_the_tool_as_invoked(tmp_path, capsys, invoke, prefix):
    src = tmp_path / "in.irq"
    src.write_text("func.func @f(%x: i32) -> i32 {\n  return %x : i32\n}\n")
    cases = [([str(tmp_path / "missing.irq")], "cannot read"),
             ([str(src), "-p", "builtin.module(no-such-pass)"], "unknown pass"),
             ([str(src), "-o", str(tmp_path / "no" / "dir" / "out.irq")], "does not exist")]
    for argv, what in cases:
        assert invoke(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"{prefix}: error: ") and what in err[0], err


@pytest.mark.parametrize("op,shape,params,attrs,message", [
    ("bpu.layer_norm", (2, 8), (7, 8), {}, r"gamma must have shape \[8\], got \[7\]"),
    ("bpu.group_norm", (2, 6, 4), (6, 5), {"num_groups": 3}, r"beta must have shape \[6\], got \[5\]"),
    ("bpu.group_norm", (2, 6, 4), (6, 6), {"num_groups": 4}, "4 groups do not divide the channels of a"),
    ("bpu.layer_norm", (1, 70000), (70000, 70000), {}, "rows of 70000 i16 elements with frac_bits 12"),
])
def test_norm_verifiers_check_rows_and_parameters(op, shape, params, attrs, message):
    dtype = "i16" if shape[-1] > 1000 else "i8"
    p = ProgramText([("x", shape, dtype)])
    p.const("g", np.ones(params[0]), "i8")
    p.const("b", np.zeros(params[1]), "i32")
    p.op("y", op, ["x", "g", "b"], (shape, dtype),
         {**attrs, "frac_bits": 12, "eps": 1, "multiplier": 1 << 30, "shift": 30})
    with pytest.raises(irq.VerifyError, match=message):
        p.module(["y"])


@pytest.mark.parametrize("op,attrs", [("bpu.reshape", {}), ("bpu.clamp", {"min": 0}),
                                      ("bpu.max_pool2d", {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}),
                                      ("bpu.pad", {"pad": [0, 0]}), ("bpu.resize", {"mode": "nearest"})])
def test_ops_that_pass_codes_through_keep_the_dtype(op, attrs):
    shape = (1, 2, 4, 4)
    out = (1, 2, 2, 2) if op == "bpu.max_pool2d" else shape
    p = ProgramText([("x", shape, "i8")])
    p.op("y", op, ["x"], (out, "i16"), attrs)
    with pytest.raises(irq.VerifyError, match="result dtype i16 differs from the input's i8: the codes pass through"):
        p.module(["y"])


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_float_island_division_keeps_torchs_rounding_mode(mode):
    """Bug: a float island of torch.div(a, b, rounding_mode=...) computed the true quotient (a wrong number,
    no error) on a march without div. It now equals torch's float32 floor / trunc division bit for bit,
    ties and signed zeros included, for a tensor and a scalar divisor."""
    class Divide(torch.nn.Module):
        def forward(self, a, b):
            return torch.div(a, b, rounding_mode=mode), torch.div(a, -2.5, rounding_mode=mode)

    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 256, generator=g) * 40
    b = torch.randn(4, 256, generator=g) * 3
    a[0, :8] = torch.tensor([7.5, -7.5, 5.0, -5.0, 0.0, -0.0, 1e-8, -1e-8])
    b[0, :8] = torch.tensor([2.5, 2.5, -2.5, -2.5, 3.0, -3.0, 0.1, 0.1])
    b[1, :3] = torch.tensor([0.0, -0.0, 0.0])
    a[1, 2] = 0.0
    module = irq.import_torch(Divide(), (a, b))
    got = run(module, a.numpy(), b.numpy())
    for g_, w in zip(got, Divide()(a, b)):
        np.testing.assert_array_equal(g_, w.numpy())
        assert np.array_equal(np.signbit(g_), np.signbit(w.numpy()))
