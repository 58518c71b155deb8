"""State-dict helpers: tell model parameters from quantization state when keys do not match.

prepare-and-jit-strip.txt advises checking missing/unexpected keys after loading a checkpoint
into a prepared model; mixing "a conv weight is missing" with "an observer buffer is missing"
hides the one that matters. Quantization state is every key under a `*_quant` module
(`layer1.0.conv1.weight_quant.scale`, `layer1.0.add.out_quant.max_val`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from torch import nn


def is_quantization_key(key: str) -> bool:
    parts = key.split(".")
    return any(p.endswith("_quant") for p in parts[:-1])


@dataclass
class KeyReport:
    """Missing and unexpected keys, split into model parameters and quantization parameters."""

    missing_model: list[str] = field(default_factory=list)
    missing_quant: list[str] = field(default_factory=list)
    unexpected_model: list[str] = field(default_factory=list)
    unexpected_quant: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_model or self.missing_quant or self.unexpected_model or self.unexpected_quant)

    def __str__(self) -> str:
        rows = []
        for title, keys in (("missing model parameters", self.missing_model),
                            ("missing quantization parameters", self.missing_quant),
                            ("unexpected model parameters", self.unexpected_model),
                            ("unexpected quantization parameters", self.unexpected_quant)):
            if keys:
                rows.append(f"{title} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}")
        return "\n".join(rows) or "all keys match"


def split_keys(missing: Iterable[str], unexpected: Iterable[str]) -> KeyReport:
    r = KeyReport()
    for k in missing:
        (r.missing_quant if is_quantization_key(k) else r.missing_model).append(k)
    for k in unexpected:
        (r.unexpected_quant if is_quantization_key(k) else r.unexpected_model).append(k)
    return r


def load_quantized_state_dict(model: nn.Module, state_dict: Mapping, strict: bool = True) -> KeyReport:
    """load_state_dict that reports keys split by kind; strict raises with that split report."""
    result = model.load_state_dict(state_dict, strict=False)
    report = split_keys(result.missing_keys, result.unexpected_keys)
    if strict and not report.ok:
        raise RuntimeError(f"state dict does not match the prepared model:\n{report}")
    return report
