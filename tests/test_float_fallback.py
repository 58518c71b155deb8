"""`irq.convert(..., float_fallback=True)` on real models: what the march cannot run stays in float between
bpu.dequantize and bpu.quantize, both runtimes execute it, and the deployed program still equals VALIDATION
bit for bit, because annotation leaves those ops in float too (quant-annotate's `supported_ops`).

What cannot stay in float fails at convert, naming the op and its source line: an opaque torch callable
(the deployed runtimes run without torch), never a failure at run time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from irq.runtime.reference.ops import IMPLS

import irq
from irq.march_profiles import register_march
from irq.transform import PassFailure
from tests.models import eager_qat, fpn, transformer
from tests.support.calibrated import calibrated_model

#: a user's march (irq.register_march) that lacks the scalar scalings bayes runs: the ops float_fallback keeps
#: in float on it are the ones these tests look for
GAPPY = "bayes_without_scalar_scaling"


@pytest.fixture(scope="module", autouse=True)
def gappy_march():
    data = json.loads((Path(irq.__file__).parent / "marches" / "bayes.json").read_text())
    data["name"] = GAPPY
    for kind in ("mul_scalar", "div_scalar"):
        del data["ops"][kind]
    register_march(data)


@pytest.fixture(scope="module")
def encoder():
    _, q, x = calibrated_model(lambda: transformer.TinyEncoder(), (2, 7, 32), batches=2, march=GAPPY)
    with torch.no_grad():
        validation = q(x).numpy()
    return q, x, validation


def test_transformer_converts_on_bayes_without_islands():
    _, q, x = calibrated_model(lambda: transformer.TinyEncoder(), (2, 7, 32), batches=2)
    with torch.no_grad():
        validation = q(x).numpy()
    program = irq.convert(q)
    assert not any(op.dialect_name in ("torch", "hl") for op in program.walk())
    np.testing.assert_array_equal(irq.run(program, x.numpy()), validation)


def test_transformer_converts_with_float_fallback_and_equals_validation(encoder):
    q, x, validation = encoder
    program = irq.convert(q, march=GAPPY, float_fallback=True)
    reference = irq.run(program, x.numpy(), runtime="reference")
    numba = irq.run(program, x.numpy())
    assert reference.dtype == validation.dtype == np.float32
    differ = np.flatnonzero(reference != validation)
    assert differ.size == 0, f"{differ.size}/{validation.size} outputs differ from VALIDATION"
    np.testing.assert_array_equal(numba, reference)


def test_transformer_chunk_lowers_to_slices_and_only_the_march_gap_stays_float(encoder):
    q, _, _ = encoder
    program = irq.convert(q, march=GAPPY, float_fallback=True)
    names = [op.name for op in program.walk()]
    # q, k, v of both blocks: torch.chunk is data movement, three bpu.slice of the qkv codes each
    assert names.count("bpu.slice") == 6
    float_ops = [op for op in program.walk() if op.dialect_name in ("torch", "hl")]
    assert [op.name for op in float_ops] == ["hl.div_scalar", "hl.div_scalar"]
    for op in float_ops:  # a float island: dequantized in, quantized out
        assert op.operands[0].op.name == "bpu.dequantize"
        assert [u.name for u in op.results[0].users] == ["bpu.quantize"]
    assert not any(n.startswith("torch.call") for n in names)  # `d // heads` on static sizes: dropped


def test_transformer_without_float_fallback_lists_the_ops_with_file_and_line(encoder):
    q, _, _ = encoder
    with pytest.raises(PassFailure) as err:
        irq.convert(q, march=GAPPY)
    lines = [ln for ln in str(err.value).splitlines() if "error:" in ln]
    assert len(lines) == 2, str(err.value)  # each op once, one per block
    assert all("transformer.py:30:" in ln and f"'hl.div_scalar' is not supported on march '{GAPPY}'" in ln
               for ln in lines), str(err.value)


def test_float_island_arithmetic_is_torch_float32():
    """x / c in float64 rounded once differed from torch's float32 x / c on ~20% of inputs, which moved
    codes at quantization ties: the island must do what VALIDATION's torch op does."""
    from irq.ir.attributes import FloatAttr
    from irq.ir.types import f64

    class _Op:
        definition = type("D", (), {"attributes": {}})()

        def __init__(self, **attrs):
            self.attrs = attrs

        def get_attr(self, name):
            return self.attrs.get(name)

    x = (torch.randn(100_000, generator=torch.Generator().manual_seed(0)) * 7).float()
    for c in (2.8284271247461903, 0.1, 1 / 7):
        op = _Op(other=FloatAttr(c, f64))
        np.testing.assert_array_equal(IMPLS["hl.div_scalar"](op, x.numpy()), (x / c).numpy())
        np.testing.assert_array_equal(IMPLS["hl.mul_scalar"](op, x.numpy()), (x * c).numpy())
    y = torch.randn(100_000, generator=torch.Generator().manual_seed(1)).float() + 3
    np.testing.assert_array_equal(IMPLS["hl.div"](_Op(), x.numpy(), y.numpy()), (x / y).numpy())


@pytest.fixture(scope="module")
def fpn_model():
    _, q, _ = calibrated_model(lambda: fpn.RetinaNetLite(), (1, 3, 64, 64), batches=1)
    return q


@pytest.mark.parametrize("float_fallback", [False, True])
def test_opaque_decoder_fails_at_convert_naming_op_line_and_why(fpn_model, float_fallback):
    with pytest.raises(PassFailure) as err:
        irq.convert(fpn_model, float_fallback=float_fallback)
    lines = [ln for ln in str(err.value).splitlines() if "error:" in ln]
    assert len(lines) == 1, str(err.value)
    assert "fpn.py:83:" in lines[0] and "'torch.call' is an opaque call of 'tests.models.fpn.decode'" in lines[0]
    if float_fallback:
        assert "opaque torch callables cannot run torch-free" in lines[0]
    else:
        assert "no march runs it" in lines[0]


def _ao_fused() -> torch.nn.Module:
    m = eager_qat.EagerQATNet(irq_stubs=False).eval()
    m.fuse_model()
    return m


EAGER = {
    "irq_stubs": lambda: eager_qat.EagerQATNet(irq_stubs=True),
    "ao_stubs": lambda: eager_qat.EagerQATNet(irq_stubs=False),
    "ao_stubs_fused": _ao_fused,
}


@pytest.mark.parametrize("name", sorted(EAGER))
def test_eager_qat_net_converts_and_equals_validation(name):
    """QuantStub/DeQuantStub, add_relu (the relu shares the add's quantizer) and cat: every value the program
    computes is quantized; the march's one gap (mul_scalar) is a float island; deployed == VALIDATION."""
    _, q, x = calibrated_model(EAGER[name], (2, 3, 16, 16), batches=2, march=GAPPY)
    with torch.no_grad():
        validation = q(x).numpy()
    with pytest.raises(PassFailure) as err:
        irq.convert(q, march=GAPPY)
    errors = [ln for ln in str(err.value).splitlines() if "error:" in ln]
    assert len(errors) == 1 and "eager_qat.py:42:" in errors[0] and "'hl.mul_scalar'" in errors[0], str(err.value)
    program = irq.convert(q, march=GAPPY, float_fallback=True)
    assert [op.name for op in program.walk() if op.dialect_name in ("torch", "hl")] == ["hl.mul_scalar"]
    assert any(op.name == "bpu.clamp" for op in program.walk())  # add_relu's relu, on the add's codes
    reference = irq.run(program, x.numpy(), runtime="reference")
    numba = irq.run(program, x.numpy())
    for v, r, n in zip(validation, reference, numba, strict=True):
        np.testing.assert_array_equal(r, v)
        np.testing.assert_array_equal(n, r)


class _SplitSwap(torch.nn.Module):
    """Uneven torch.split pieces (and a chunk) read at their offsets: a wrong offset or scale moves codes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.conv(x), [3, 5], dim=1)
        c, d = b.chunk(2, dim=2)
        return torch.cat([d, c], dim=2), torch.cat([b, a], dim=1)


def test_split_and_chunk_pieces_lower_to_slices_equal_to_validation():
    _, q, x = calibrated_model(_SplitSwap, (2, 3, 8, 6), batches=2)
    with torch.no_grad():
        validation = [y.numpy() for y in q(x)]
    program = irq.convert(q)  # no float island: split and chunk are data movement on every march
    slices = [op for op in program.walk() if op.name == "bpu.slice"]
    assert [(op.get_attr("dim").value, op.get_attr("start").value, op.get_attr("end").value)
            for op in slices[:4]] == [(1, 0, 3), (1, 3, 8), (2, 0, 4), (2, 4, 8)]
    reference = irq.run(program, x.numpy(), runtime="reference")
    numba = irq.run(program, x.numpy())
    for v, r, n in zip(validation, reference, numba, strict=True):
        np.testing.assert_array_equal(r, v)
        np.testing.assert_array_equal(n, r)
