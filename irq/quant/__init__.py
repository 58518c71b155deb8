"""The torch side of quantization: observers, FakeQuantize, the state machine, VALIDATION's
integer-exact emulation, prepare, freeze and state-dict helpers. Importing it imports torch;
`import irq` does not (irq.prepare and friends load this package on first use)."""

from irq.quant.adaround import AdaRoundReport, adaround
from irq.quant.bias_correction import BiasCorrectionReport, bias_correction
from irq.quant.equalize import EqualizationReport, cross_layer_equalize
from irq.quant.fake_quantize import FakeQuantize, FakeQuantState
from irq.quant.mixed_precision import MixedPrecisionPlan, mixed_precision
from irq.quant.prepare import check_unchanged, prepare
from irq.quant.recipe import RecipeReport, accurate_ptq
from irq.quant.state import QuantizationWarning, set_fake_quantize
from irq.quant.state_dict import load_quantized_state_dict, split_keys

__all__ = ["AdaRoundReport", "adaround", "BiasCorrectionReport", "bias_correction", "EqualizationReport",
           "cross_layer_equalize",
           "MixedPrecisionPlan", "mixed_precision", "RecipeReport", "accurate_ptq",
           "FakeQuantize", "FakeQuantState", "QuantizationWarning", "check_unchanged", "load_quantized_state_dict",
           "prepare", "set_fake_quantize", "split_keys", "freeze"]


def freeze(qat_model, **kwargs):
    """The frozen (hl + quant) irq Module of a prepared model; see irq.quant.freezing."""
    from irq.quant.freezing import freeze as _impl
    return _impl(qat_model, **kwargs)
