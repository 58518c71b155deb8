"""Target micro-architectures, with a process-wide default as in horizon_plugin_pytorch.

    irq.march.set_march(irq.march.March.BAYES)   # once, at start-up
    irq.prepare(model, inputs)                   # uses BAYES; prepare(..., march="nash") overrides

The march decides which ops can be quantized and compiled (its profile, irq/marches/<name>.json:
irq.march_profiles.supported_ops);
ops it does not support stay float between a dequantize and a quantize.
"""

from __future__ import annotations

from enum import Enum


class March(str, Enum):
    """Known BPU generations (values are the names pipelines and reports use)."""

    BAYES = "bayes"
    NASH = "nash"


_current: March = March.BAYES


def set_march(march: March | str) -> None:
    """Set the default march for prepare, annotation and the model check."""
    global _current
    _current = as_march(march)


def get_march() -> March:
    return _current


def as_march(march: March | str | None) -> March:
    """A March from an enum member, its value ("bayes") or None (the default set by set_march)."""
    if march is None:
        return _current
    if isinstance(march, March):
        return march
    try:
        return March(str(march).lower())
    except ValueError:
        raise ValueError(f"unknown march '{march}' (known: {', '.join(m.value for m in March)})") from None


def march_name_of(march: March | str | None) -> str:
    """The profile name to annotate and check for: a shipped march (enum, name, or the set_march default),
    or a march the user registered by name (irq.march_profiles.register_march), so prepare and convert
    agree on a user's march as they do on bayes and nash."""
    if isinstance(march, str) and march.lower() not in {m.value for m in March}:
        from irq.march_profiles import registered_marches
        if march in registered_marches():
            return march
    return as_march(march).value
