"""Tests that kill mutants of passes/_lower_layer_ops.py (`lower-layer-ops`) the layer tests did not: each
names the planted bug it catches. Oracles: the rounding option as the user passed it, torch's F.pad on the
model, VALIDATION bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import reference
from support.calibrated import calibrated as _calibrated
from torch import nn

import irq
from irq.qconfig import QConfig, QuantizerSpec
from irq.transform import PassFailure


class _EveryLayerOp(nn.Module):
    """A standalone batch norm (after a pool, so nothing fuses it), PReLU, group and instance norm, stack,
    log_softmax, cumsum, division with a rounding_mode and a sum: every requantizing layer op."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.prelu = nn.PReLU(4, init=-0.2)
        self.gn = nn.GroupNorm(2, 4)
        self.inorm = nn.InstanceNorm2d(4, affine=True)

    def forward(self, x: torch.Tensor):
        r = self.prelu(self.bn(F.max_pool2d(self.conv(x), 2)))
        g, i = self.gn(r), self.inorm(r)
        stacked = torch.log_softmax(torch.stack([g, i], dim=1), dim=-1)
        floor = torch.div(r, torch.sigmoid(g) + 0.5, rounding_mode="floor")
        return stacked, torch.cumsum(r, dim=1), floor, torch.div(r, 0.25, rounding_mode="trunc"), r.sum((2, 3))


@pytest.fixture(scope="module")
def every_layer_op() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    return _calibrated(_EveryLayerOp(), x, "default_calib_8bit"), x


@pytest.mark.parametrize("rounding", ["half_even", "half_away", "floor"])
def test_the_rounding_option_reaches_every_layer_op(every_layer_op, rounding: str) -> None:
    """irq.convert(..., rounding=...) must round every layer op's requantization that way: catches
    `_rounding`'s `!= "half_up"` written `>=` / `>` / `==` (every other mode then silently drops to half_up
    for batch norm, PReLU, group norm, stack, log_softmax and int_div), or `is` (never true for a parsed
    option). bpu.div (a tensor division without a rounding_mode) is not in this model: tests/test_layer_ops.py
    checks that the option reaches it."""
    qat, x = every_layer_op
    program = irq.convert(qat, march="nash", rounding=rounding)
    requantizing = [op for op in program.walk() if op.get_attr("shift") is not None]
    names = {op.name for op in requantizing}
    assert {"bpu.prelu", "bpu.group_norm", "bpu.concat", "bpu.log_softmax", "bpu.int_div",
            "bpu.requantize"} <= names, names
    wrong = [op.name for op in requantizing
             if op.get_attr("rounding") is None or op.get_attr("rounding").value != rounding]
    assert not wrong, f"{wrong} do not round {rounding}"
    np.testing.assert_array_equal(irq.run(program, x.numpy())[0], reference.run(program, x.numpy())[0])


def test_the_default_rounding_is_half_up_and_equals_validation(every_layer_op) -> None:
    """At the default rounding the program of every layer op equals VALIDATION bit for bit (the oracle of the
    rounding test above is the attribute; this one is the numbers)."""
    qat, x = every_layer_op
    program = irq.convert(qat, march="nash")
    with torch.no_grad():
        validation = [t.numpy() for t in qat(x)]
    for got, want in zip(irq.run(program, x.numpy()), validation):
        np.testing.assert_array_equal(got, want)


class _PadReturned(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (1, 2, 0, 1), mode="constant", value=self.value).flatten(2)


_QUARTER = QConfig(QuantizerSpec("qint8", "fixed", fixed_scale=0.25), QuantizerSpec("qint8", "min_max"))


def test_a_pad_value_that_is_a_code_reaches_the_output_exactly() -> None:
    """pad(value=0.75) at scale 0.25 returned through a flatten: 0.75 is code 3, so convert keeps it and the
    deployed output equals F.pad on the dequantized input (catches lower_pad's check `code * scale == v`
    written `code / scale`, or its `!=` written `==` / `>=`: the value is then refused though it is exact)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 4)
    qat = _calibrated(_PadReturned(0.75), x, _QUARTER)
    program = irq.convert(qat, march="nash")
    x_q = torch.clamp(torch.round(x / 0.25), -128, 127) * 0.25
    want = F.pad(x_q, (1, 2, 0, 1), value=0.75).flatten(2).numpy()
    np.testing.assert_array_equal(irq.run(program, x.numpy()), want)
    np.testing.assert_array_equal(reference.run(program, x.numpy())[0], want)


def test_a_pad_value_between_codes_reaching_the_output_is_refused() -> None:
    """pad(value=0.3) at scale 0.25 returned: VALIDATION returns 0.3, the program could only return 0.25:
    refused by name (catches the check's `!=` written `==`, or the `v != 0.0` guard written `==`)."""
    x = torch.randn(2, 3, 2, 4)
    qat = _calibrated(_PadReturned(0.3), x, _QUARTER)
    with pytest.raises(PassFailure, match=r"'torch.pad' pads a returned value with 0\.3.*not a code of its scale"):
        irq.convert(qat, march="nash")


# -- shapes, dims and signs the first model does not reach ------------------------------------------------------
class _OtherShapes(nn.Module):
    """Stack along a negative dim, pixel shuffle by 3, instance norm of a rank-3 input, group norm and PReLU on
    rank-2 inputs, a floor division by a negative constant, a pad read by a conv (not returned)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 9, 1)
        self.inorm = nn.InstanceNorm1d(9, affine=True)
        self.gn = nn.GroupNorm(3, 9)
        self.prelu = nn.PReLU(9, init=-0.3)
        self.after_pad = nn.Conv2d(9, 2, 1)

    def forward(self, x: torch.Tensor):
        y = self.conv(x)                                       # (N, 9, 2, 3)
        stacked = torch.stack([y, F.relu(y)], dim=-1)          # (N, 9, 2, 3, 2)
        shuffled = F.pixel_shuffle(y, 3)                       # (N, 1, 6, 9)
        rows = self.inorm(y.flatten(2))                        # (N, 9, 6)
        pooled = y.mean((2, 3))                                # (N, 9)
        norm2d, slope2d = self.gn(pooled), self.prelu(pooled)
        floor = torch.div(y, -0.75, rounding_mode="floor")
        padded = self.after_pad(F.pad(y, (1, 0, 0, 1), value=0.3))
        return stacked, shuffled, rows, norm2d, slope2d, floor, padded, F.pad(y, (1, 1)), y.sum(1)


def test_other_shapes_dims_and_signs_deploy_as_validated() -> None:
    """Each output of `_OtherShapes` deployed equals VALIDATION bit for bit, and VALIDATION is near torch float
    (so a lowering that agrees with a wrong VALIDATION still fails). Catches: stack's `dim % rank` written
    `dim ** rank` (-1 ** 5 = -1 stays, but dims resolve wrong: the stack lands on another axis); pixel shuffle's
    `c // (r * r)` as `r ** r` (equal only for r = 2); instance norm's rank-3 input refused (`< 3` as `< 4`)
    or normalized over shape[0] groups; group norm / PReLU of a rank-2 input refused (`len(shape) < 2` as
    `== 2`, `< 3`); the constant divisor's sign (`1 if c > 0 else -1` with any other comparison, `-1` as `~1`);
    a pad whose value is not a code refused though a conv, not the return, reads it (`_reaches_return`
    answering True, or walking through the conv); a pad without `value` (the frontend writes none) padded
    with another default than 0.0; a sum over one dim reading no dim (`_ints(op, "dim", 0, ...)`)."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 2, 3)
    model = _OtherShapes().eval()
    with torch.no_grad():
        eager = [t.numpy() for t in model(x)]
    qat = _calibrated(model, x, "default_calib_8bit")
    with torch.no_grad():
        validation = [t.numpy() for t in qat(x)]
    program = irq.convert(qat, march="nash")
    deployed = irq.run(program, x.numpy())
    assert len(deployed) == len(validation) == 9
    for i, (d, v, e) in enumerate(zip(deployed, validation, eager)):
        assert d.shape == e.shape, (i, d.shape, e.shape)
        np.testing.assert_array_equal(d, v, err_msg=f"output {i}")
        assert np.abs(v - e).max() <= 0.1 * np.abs(e).max() + 0.1, (i, float(np.abs(v - e).max()))


class _Cumsum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=-1)


@pytest.mark.parametrize("n,dtype,acc", [(7, "qint8", "i32"), (65536, "qint16", "i64")])
def test_cumsum_takes_the_narrowest_exact_accumulator(n: int, dtype: str, acc: str) -> None:
    """bpu.cumsum's accumulator is i32 while n codes' sums stay below 2**31 and i64 from there: 65536 int16
    codes reach -2**31 (bound n * 32768 = 2**31, not < 2**31). Catches the bound computed with `/` or a lost
    sign (i32 for every n: the verifier refuses it for 65536 int16 codes), `<` as `<=` / `==` / `is not`, and
    `>=` or `2 ^ 31` (i64 for every n: twice the memory for nothing); the deployed sums equal VALIDATION."""
    g = torch.Generator().manual_seed(n)
    x = -torch.rand(1, n, generator=g) - 0.5  # every code negative: the prefix sums run to the bound
    spec = QuantizerSpec(dtype, "min_max")
    qat = _calibrated(_Cumsum(), x, QConfig(spec, QuantizerSpec("qint8", "min_max")))
    with torch.no_grad():
        validation = qat(x).numpy()
    program = irq.convert(qat, march="nash")
    cumsums = [op for op in program.walk() if op.name == "bpu.cumsum"]
    assert len(cumsums) == 1
    assert f"{acc}>" in str(cumsums[0].results[0].type), cumsums[0].results[0].type
    np.testing.assert_array_equal(irq.run(program, x.numpy()), validation)


class _InstanceNormOfRows(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inorm = nn.InstanceNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inorm(x)


class _DivByZero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.div(F.relu(x) + 1.0, 0.0, rounding_mode="floor")


@pytest.mark.parametrize("model,shape,message", [
    (_InstanceNormOfRows, (3, 4), r"test_mutation_kills_layer_ops\.py:\d+:\d+: error: 'torch.call' is an opaque "
                                  r"call of '[\w.]*InstanceNorm1d': no march runs it"),
    (_DivByZero, (2, 4), r"divides by the constant 0"),
])
def test_layers_convert_cannot_take_are_refused_by_name(model, shape, message: str) -> None:
    """torch reads a rank-2 input of InstanceNorm1d as one unbatched sample (C, L): the frontend keeps it an
    opaque module call, and convert refuses it at the model's line (prepare raised a bare LookupError naming
    no line: it never handed the user's submodules to the module it builds); a floor division by the
    constant 0 is refused, not lowered as a division by a code 0 (catches `c == 0.0` as `c == 1.0`)."""
    x = torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # fixed scales: the division by 0 is inf in float, which no observer can calibrate
        qat = _calibrated(model(), x, QConfig(QuantizerSpec("qint8", "fixed", fixed_scale=0.05), None))
        with pytest.raises(PassFailure, match=message):
            irq.convert(qat, march="nash")


def test_int16_group_norm_over_a_long_group_keeps_its_sqrt_bits() -> None:
    """GroupNorm(1, 4) over 4 x 8 x 8 int16 codes: n = 256 elements need sqrt_frac_bits below frac_bits for
    int64 statistics, so the attribute must be written (catches `sqrt_frac != frac` written `is`: small ints
    are interned, so `is` is `==` and the attribute is dropped exactly when it is needed); deployed equals
    VALIDATION bit for bit."""
    torch.manual_seed(2)
    x = torch.randn(2, 3, 8, 8)
    qat = _calibrated(nn.Sequential(nn.Conv2d(3, 4, 1), nn.GroupNorm(1, 4)).eval(), x, "default_calib_16bit")
    with torch.no_grad():
        validation = qat(x).numpy()
    program = irq.convert(qat, march="nash")
    norms = [op for op in program.walk() if op.name == "bpu.group_norm"]
    assert len(norms) == 1
    sqrt_bits, frac_bits = norms[0].get_attr("sqrt_frac_bits"), norms[0].get_attr("frac_bits")
    assert sqrt_bits is not None and sqrt_bits.value < frac_bits.value, (sqrt_bits, frac_bits)
    np.testing.assert_array_equal(irq.run(program, x.numpy()), validation)


class _ReduceEverything(nn.Module):
    """`dim=()` reduces every dim in torch (sum and mean, with and without keepdim)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor):
        y = self.conv(x)
        return y.sum(dim=()), y.mean(dim=(), keepdim=True), torch.sum(y, dim=[])


@pytest.mark.parametrize("march", ["nash", "bayes"])
def test_an_empty_dim_list_reduces_every_dim_as_in_torch(march: str) -> None:
    """Catches the shape rule typing `x.sum(dim=())` as no reduction (the IR said [2, 4, 6, 6], eager
    returns a scalar; convert then failed verification) and lowering's `_ints(op, "dim", 1, 0)` reading the
    empty list as dim 0 (the lower-layer-ops survivors on lower_sum's dim line)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    model = _ReduceEverything().eval()
    qat = _calibrated(model, x, "default_calib_8bit", march)
    with torch.no_grad():
        eager = model(x)
        validation = qat(x)
    for e, v in zip(eager, validation, strict=True):
        assert v.shape == e.shape
        torch.testing.assert_close(v, e, atol=0.05 * float(e.abs().max()) + 1e-3, rtol=0.0)
    program = irq.convert(irq.freeze(qat), march=march)
    deployed = reference.run(program, x.numpy())
    for d, v in zip(deployed, validation, strict=True):
        np.testing.assert_array_equal(np.asarray(d), v.numpy())
    np.testing.assert_array_equal(np.asarray(irq.run(program, x.numpy())[0]), np.asarray(deployed[0]))
