"""Generated models through the whole quantization chain (chainfuzz), and the bugs they found.

`tests/support/model_gen.py` draws seeded random small DAGs of the ops the march profiles list (convs of every
stride / padding / dilation / groups, linear, matmul, broadcasting arithmetic with scalars on either side,
cat / stack / chunk / split, movement, pools, interpolate, activations, norms, pads, pixel_shuffle, reductions,
embedding on int inputs, residuals, intermediate outputs) with random qconfigs (int8 / int16, per-channel /
per-tensor, per-owner overrides) on both marches. `tests/support/chain_check.py` checks each one:
CALIBRATION == eager torch, VALIDATION close to float, deployed == VALIDATION bit for bit at two batch sizes,
reference == numba bit for bit, and a refusal names the model's file:line.

The default budget (`CHAINFUZZ_CASES`, 12 cases) keeps CI short; `CHAINFUZZ_CASES=2000 CHAINFUZZ_START=1000`
runs longer (or `scripts/chainfuzz.py` for a per-seed log). A failing seed prints its model's source; each
bug found was cut down by hand and is kept below as a plain-torch regression test.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from irq.runtime import reference
from torch import nn

import irq
from irq.transform import PassFailure
from tests.support.calibrated import calibrated as _calibrated
from tests.support.chain_check import check
from tests.support.model_gen import generate

CASES = int(os.environ.get("CHAINFUZZ_CASES", "12"))
START = int(os.environ.get("CHAINFUZZ_START", "0"))


@pytest.mark.parametrize("seed", range(START, START + CASES))
def test_generated_model_keeps_the_chains_promises(seed):
    case = generate(seed)
    print(f"chainfuzz seed {seed} ({case.march}): {', '.join(case.ops)}")
    check(case)


def test_generator_is_deterministic_and_covers_the_catalogue():
    """The same seed gives the same model (a failure reproduces from its seed), and a few hundred seeds
    draw every op family the generator knows, so a catalogue entry that silently never fits is caught."""
    assert generate(5).source == generate(5).source and generate(5).qconfig_source == generate(5).qconfig_source
    kinds = set()
    marches = set()
    for seed in range(300):
        case = generate(seed)
        kinds.update(case.ops)
        marches.add(case.march)
    expected = {"conv2d_dense", "conv2d_depthwise", "conv2d_grouped", "conv1d_dense", "conv_transpose2d", "linear",
                "matmul", "add", "mul_broadcast", "sub", "div", "add_scalar", "mul_scalar", "cat", "stack", "chunk",
                "split", "flatten", "permute", "transpose", "reshape", "slice", "pad", "pixel_shuffle", "max_pool2d",
                "avg_pool2d", "adaptive_avg_pool2d", "interpolate_nearest", "interpolate_bilinear", "relu", "gelu",
                "prelu", "leaky_relu", "softmax", "layer_norm", "group_norm", "batch_norm", "mean", "sum",
                "embedding", "exp", "cumsum", "log_softmax", "instance_norm", "div_rounded", "div_scalar_rounded",
                "dropout", "identity"}
    assert expected <= kinds, sorted(expected - kinds)
    assert marches == {"bayes", "nash"}


# -- bugs the generator found, each cut down by hand to a plain-torch model ---------------------------------------
class _SelfAttentionScores(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ x.transpose(-1, -2)


def test_int16_matmul_beyond_the_requantize_bound_is_refused_at_its_line():
    """Seed 2035: an int16 x int16 matmul over K = 5 can reach 5 * 2**30 > 2**32, more than a requantize
    takes. lower-bpu raised a bare ValueError ("pass 'lower-bpu' raised ValueError: accumulator bound ...",
    location <unknown>:0); it is now a lowering error naming hl.matmul and the model's line."""
    qat = _calibrated(_SelfAttentionScores(), torch.randn(2, 3, 5), "default_calib_16bit", "nash")
    with pytest.raises(PassFailure) as err:
        irq.convert(qat, march="nash")
    text = str(err.value)
    assert "raised ValueError" not in text
    assert re.search(rf"{re.escape(os.path.basename(__file__))}:\d+:\d+: error: 'hl.matmul' its accumulator "
                     r"over 5 i16 x i16 products can reach 5368709120", text), text


class _WideLinearThenHardtanh(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(self.fc(x), -0.5, 0.5)


def test_lookup_table_on_an_int32_output_names_the_op_in_validation_and_convert():
    """Seeds 4069, 4078, 5048, 5057, 7182: an int32 high-precision output (`*_weight_32bit_out`) read by another
    quantized op. convert refused it clearly, but VALIDATION (which a user runs first, to measure) raised a bare
    "ValueError: no lookup table for i32 inputs" from irq.fixedpoint with no op, owner or line, and a softmax
    reading it tried to build a 2**32-entry exp table (MemoryError, 32 GiB)."""
    x = torch.randn(2, 4)
    qconfig = {"": "default_calib_8bit", "fc": "default_calib_8bit_weight_32bit_out"}
    qat = _calibrated(_WideLinearThenHardtanh(), x, qconfig, "bayes")
    line = rf"{re.escape(os.path.basename(__file__))}:\d+:\d+"
    with pytest.raises(ValueError, match=rf"{line}: 'hardtanh' \(hardtanh\) reads the int32 high-precision output "
                                         r"of 'fc': only a model output may be one"):
        with torch.no_grad():
            qat(x)
    with pytest.raises(PassFailure, match=rf"{line}: error: 'hl.hardtanh' an input is an int32 high-precision"):
        irq.convert(qat)


class _SameOutputTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y, x


@pytest.mark.parametrize("method", ["fx", "export"])
def test_a_value_returned_twice_is_two_deployed_outputs(method):
    """Seed 9037 (`return (v6, v6)`): the importer gave a value returned twice one return operand (the tuple
    rebuilt by the `structure` attribute, which only the torch executor reads), so both runtimes returned one
    array where the model and VALIDATION return two: a user taking `outputs[1]` got the next output's data."""
    x = torch.randn(2, 3, 4, 4)
    qat = irq.prepare(_SameOutputTwice().eval(), (x,), qconfig="default_calib_8bit", method=method,
                      check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad():
        validation = [t.numpy() for t in qat(x)]
    program = irq.convert(qat)
    for deployed in (irq.run(program, x.numpy()), reference.run(program, x.numpy())):
        assert len(deployed) == 3
        for d, v in zip(deployed, validation):
            np.testing.assert_array_equal(d, v)


class _WideLinearThenSoftmax(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.fc(x), dim=-1)


def test_softmax_on_an_int32_output_is_refused_in_validation_not_tabulated():
    """Seed 7182: VALIDATION of a softmax reading an int32 output built its exp table over 2**32 codes."""
    x = torch.randn(2, 4)
    qconfig = {"": "default_calib_8bit", "fc": "default_calib_8bit_weight_32bit_out"}
    qat = _calibrated(_WideLinearThenSoftmax(), x, qconfig, "nash")
    with pytest.raises(ValueError, match=r"'softmax' \(softmax\) reads the int32 high-precision output of 'fc'"):
        with torch.no_grad():
            qat(x)


class _PadThenFlatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (2, 1, 0, 1), mode="constant", value=2.0).flatten(3)


class _PadThenConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (2, 1, 0, 1), mode="constant", value=2.0).flatten(3))


def test_pad_value_returned_through_a_reshape_is_refused_not_rounded():
    """Seed 6653: pad(value=2.0) -> flatten -> return. VALIDATION returns the float 2.0 (no quantizer after
    the pad), the deployed program the pad value's code times the scale: 60 of 84 outputs differed by up to
    0.011 with no error, because lowering refused such a pad only when its *direct* user was the return."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 4)
    qat = _calibrated(_PadThenFlatten(), x, "default_calib_8bit", "nash")
    with pytest.raises(PassFailure, match=r"pads a returned value with 2\.0"):
        irq.convert(qat, march="nash")


def test_pad_value_read_by_a_quantized_op_still_converts_exactly():
    """The refusal is only for a pad value that reaches an output without a quantizer: a conv reading the
    padded value quantizes the same code VALIDATION does, so deployed == VALIDATION."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 4)
    qat = _calibrated(_PadThenConv(), x, "default_calib_8bit", "nash")
    with torch.no_grad():
        validation = qat(x).numpy()
    program = irq.convert(qat, march="nash")
    np.testing.assert_array_equal(irq.run(program, x.numpy()), validation)


class _LinearRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(x))


class _ConvPlusInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x


@pytest.mark.parametrize("model", [_LinearRelu, _ConvPlusInput])
@pytest.mark.parametrize("march", ["bayes", "nash"])
def test_int32_output_with_a_fused_relu_or_residual_is_refused_in_validation(model, march):
    """Seeds 6542, 7817, 7874: a conv/linear with `*_weight_32bit_out` and a relu (or a residual add) fused into
    it. lower-bpu refused it, but VALIDATION returned the raw accumulator without the relu: negative outputs
    where eager torch has 0 (max err 8.0 on a peak of 7.1), no error. VALIDATION now refuses it at the line."""
    torch.manual_seed(0)
    x = torch.randn(2, 4) if model is _LinearRelu else torch.randn(2, 3, 4, 4)
    owner = "fc" if model is _LinearRelu else "conv"
    qat = _calibrated(model().eval(), x, {"": "default_calib_8bit", owner: "default_calib_8bit_weight_32bit_out"},
                      march)
    line = rf"{re.escape(os.path.basename(__file__))}:\d+:\d+"
    with pytest.raises(ValueError, match=rf"{line}: '\w+' \({owner}\): an int32 high-precision output cannot carry "
                                         r"a fused residual or activation"):
        with torch.no_grad():
            qat(x)
    with pytest.raises(PassFailure, match=rf"{line}: error: 'hl.\w+' an int32 high-precision output cannot carry"):
        irq.convert(qat, march=march)


def test_int32_output_without_activation_stays_exact():
    """The refusal is only for a fused relu / residual: a plain int32 output still deploys bit for bit."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4)
    model = nn.Sequential(nn.Conv2d(3, 3, 1)).eval()
    with torch.no_grad():
        eager = model(x).numpy()
    qat = _calibrated(model, x, {"": "default_calib_8bit", "0": "default_calib_8bit_weight_32bit_out"}, "nash")
    with torch.no_grad():
        validation = qat(x).numpy()
    # int32 output: only the input and weight codes round (a few % of the peak, not the size of the value)
    assert np.abs(validation - eager).max() < 0.05 * np.abs(eager).max()
    program = irq.convert(qat, march="nash")
    np.testing.assert_array_equal(irq.run(program, x.numpy()), validation)


class _ExpOfRelu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(F.relu(x))


def test_exp_saturates_at_its_stated_range_and_deploys_as_validated():
    """Seed 10150 (a harness fix, not a chain bug): exp of a relu output up to 5.7 is 293 in float, but exp's
    output range is stated as 64 (irq.qconfig.UNBOUNDED_OUTPUT_RANGE, as horizon clips it), so VALIDATION
    saturates there by design; chain_check now compares with float exp clipped to that range. The promise a
    user relies on: below 64 VALIDATION follows exp within the input's rounding (exp(s_in / 2) relative)
    plus half an output step, above it the output is the top code (127 * 64/127 = 64), and the deployed
    program equals VALIDATION."""
    x = torch.linspace(-1.0, 5.7, 60).reshape(2, 30)
    qat = _calibrated(_ExpOfRelu(), x, "default_calib_8bit", "nash")
    with torch.no_grad():
        validation = qat(x).numpy()
    want = torch.exp(F.relu(x)).clamp(max=64.0).numpy()
    s_in, s_out = 5.7 / 127, 64.0 / 127
    bound = want * (np.exp(s_in / 2) - 1) + s_out / 2 + 1e-5
    assert (np.abs(validation - want) <= bound).all(), float(np.abs(validation - want).max())
    assert validation.max() == np.float32(64.0)
    np.testing.assert_array_equal(irq.run(irq.convert(qat, march="nash"), x.numpy()), validation)


# -- the closeness promise's per-op error budget (tests/support/chain_check.py, rounding_budget) ------------------
@pytest.mark.parametrize("seed", [30424, 30323])
def test_rounding_below_one_step_is_within_the_error_budget(seed):
    """The two false-alarm classes of the closeness check: seed 30424, a group norm over 3 elements whose
    spread (sigma 0.021) is below one input step (0.069), so every value rounds to one code and the group
    normalizes to 0 where float gives +-1.39; seed 30323, a sum of 12 layer-normed values whose float sum is
    0 (error 2.4e-4 <= n s_in / 2). Both are rounding, not bugs: each element's rounding budget covers them."""
    check(generate(seed))


_PLANTED_SOURCE = """import torch
import torch.nn.functional as F
from torch import nn


class FuzzModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.m0_conv = nn.Conv2d(3, 4, 3, padding=1)
        self.m1_fc = nn.Linear(4, 5)

    def forward(self, x0):
        v0 = F.relu(self.m0_conv(x0))
        v1 = self.m1_fc(v0.mean((2, 3)))
        return v1, v0.sum((1,))
"""


def _planted_case():
    from tests.support.model_gen import Case

    return Case(900_001, _PLANTED_SOURCE, [((3, 6, 6), "float")], "nash", '"default_calib_8bit"', 2, 3,
                ["conv2d_dense", "relu", "mean", "linear", "sum"])


def test_the_planted_case_keeps_the_promises():
    """The control of the two tests below: unplanted, the same model passes every promise."""
    check(_planted_case())


def _closeness_with(plant, monkeypatch) -> None:
    """Calibrate the planted case's model, compute its VALIDATION outputs with `plant` applied, and hold them
    to the closeness promise (float oracle and rounding budgets from the unplanted model)."""
    from tests.support.chain_check import _leaves, _StatedOutputRanges, check_close_to_float

    case = _planted_case()
    model = case.build()
    x = case.sample(case.batch, torch.Generator().manual_seed(3))
    qat = _calibrated(model, x[0], "default_calib_8bit", case.march)
    with torch.no_grad(), _StatedOutputRanges():
        stated = _leaves(model(*x))
    with monkeypatch.context() as m, torch.no_grad():
        plant(m, case, x)
        validation = _leaves(qat(*x))
    check_close_to_float(case, qat, x, validation, stated)


def test_a_dropped_relu_is_beyond_the_budget(monkeypatch):
    """VALIDATION without the conv's fused relu (planted in irq.quant.validation's activation clamp): negative
    outputs where float has 0. The derivative behind a relu is 0 where its input is negative, so those
    elements get no budget and the promise fails."""
    from irq.quant import validation

    def plant(m, case, x):
        clamp = validation.fp.clamp_bounds
        m.setattr(validation.fp, "clamp_bounds", lambda activation, scale, dtype:
                  clamp(None if activation == "relu" else activation, scale, dtype))

    with pytest.raises(AssertionError, match=r"VALIDATION far from float.* [1-9]\d* element\(s\) beyond 2.0 x"):
        _closeness_with(plant, monkeypatch)


def test_a_shift_off_by_one_is_beyond_the_budget(monkeypatch):
    """Every requantize shift one too large (planted in irq.fixedpoint.quantize_multiplier): outputs halve, an
    error of the size of the value, far beyond half-step roundings. The cosine fallback the budget replaced
    passed it (a uniformly scaled output has cosine 1)."""
    from irq import fixedpoint as fp

    def plant(m, case, x):
        quantize_multiplier = fp.quantize_multiplier
        m.setattr(fp, "quantize_multiplier", lambda real: (lambda mult, s: (mult, s + 1))(*quantize_multiplier(real)))

    with pytest.raises(AssertionError, match=r"VALIDATION far from float.* [1-9]\d* element\(s\) beyond 2.0 x"):
        _closeness_with(plant, monkeypatch)


def test_the_unplanted_closeness_check_passes(monkeypatch):
    """The control of the closeness harness above: no plant, no failure."""
    _closeness_with(lambda m, case, x: None, monkeypatch)


class _ConvOfZeros(nn.Module):
    """Seed 60285, cut down: clamp(max=0) then clamp(min=0) is 0 everywhere, so the conv's input scale is the
    floor 2**-24 and a bias of 2 needs ~1e10 codes at s_in * s_w (seed 60285: 0.2, 5e9 codes)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.clamp(torch.clamp(x, -1.0, 0.0), 0.0, 0.5))


def test_a_bias_beyond_int32_codes_is_refused_not_saturated():
    """Seed 60285: the bias was saturated to 2**31 - 1 codes in VALIDATION and in the program alike (so
    deployed == VALIDATION held), and the output was 0.12 off float on a peak of 0.24 with no error. Now
    VALIDATION and lower-bpu refuse it naming the conv and its line."""
    torch.manual_seed(0)
    model = _ConvOfZeros().eval()
    with torch.no_grad():
        model.conv.bias.copy_(torch.tensor([2.0, -1.0, 0.0]))
    x = torch.randn(2, 2, 4, 4)
    qat = _calibrated(model, x, "default_calib_8bit", "nash")
    line = rf"{re.escape(os.path.basename(__file__))}:\d+:\d+"
    why = r"its bias needs [\d.e+]+ codes at the accumulator scale s_in \* s_w .* beyond int32"
    with pytest.raises(ValueError, match=rf"{line}: '\w+' \(conv\): {why}"), torch.no_grad():
        qat(x)
    with pytest.raises(PassFailure, match=rf"(?s){line}.*{why}"):
        irq.convert(irq.freeze(qat), march="nash")


def test_a_bias_of_exactly_the_int32_bounds_still_converts():
    """The refusal's bounds are int32's: a bias of 2**31 - 1 and -2**31 codes at s_in * s_w fits (Python
    integers as the oracle), one code more does not."""
    from irq import fixedpoint as fp

    s_in, s_w = 2.0**-10, np.array([2.0**-12, 2.0**-12])
    acc = s_in * s_w[0]
    fp.check_bias_fits(np.array([(2**31 - 1) * acc, -(2**31) * acc]), s_in, s_w)
    for codes in (2**31, -(2**31) - 1):
        with pytest.raises(ValueError, match="beyond int32"):
            fp.check_bias_fits(np.array([codes * acc, 0.0]), s_in, s_w)
