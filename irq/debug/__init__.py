"""Accuracy debugging for quantized models: where does a quantized model part from its float self,
and which owner is to blame (what horizon_plugin_pytorch's QuantAnalysis answers).

`compare` records every owner's output activation in float, QAT (fake-quant) and VALIDATION
(integer-exact) mode from one prepared model, so the per-owner numbers line up by name without any
graph matching; `sensitivity` quantizes one owner at a time and ranks owners by the damage they do
alone. Importing this package imports torch (it debugs torch modules)."""

from irq.debug.compare import CompareReport, OwnerRow, compare
from irq.debug.sensitivity import SensitivityReport, SensitivityRow, sensitivity

__all__ = ["CompareReport", "OwnerRow", "SensitivityReport", "SensitivityRow", "compare", "sensitivity"]
