"""The float-island inventory: which op kinds still leave the integer program on each march.

An op kind the march profile (irq/marches/<march>.json) does not list is not lowered to bpu: quant-annotate
leaves it in float, and `irq.convert(..., float_fallback=True)` keeps it between a `bpu.dequantize` and a
`bpu.quantize` when the torch-free runtimes have a float implementation of it (a *float island*); without one,
convert refuses it even with the fallback (it cannot be deployed at all). Opaque `torch.call`s (functions
the frontend does not map) are always in the second group.

This module derives both lists from the registries that decide them (the profile, the torch/hl op table, the
reference runtime's implementations), so the list cannot drift from what convert does;
tests/test_float_island_inventory.py pins it and checks it against real conversions.

    python -m irq.float_islands          # the table for every registered march
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

#: what the inventory calls functions the frontend keeps opaque (`torch.call`): never deployable
OPAQUE_CALL = "torch.call (any unmapped torch function)"


@dataclass(frozen=True)
class IslandInventory:
    """The op kinds (torch/hl base names) a march does not lower to integer code."""

    march: str
    float_islands: tuple[str, ...]   # deploy with float_fallback=True: dequantize -> float -> quantize
    not_deployable: tuple[str, ...]  # no integer lowering and no torch-free float implementation


def has_float_implementation(kind: str) -> bool:
    """Whether the torch-free runtimes can compute op kind `kind` in float (the reference runtime's float ops,
    which the numba runtime falls back to)."""
    from irq.runtime.reference.ops import IMPLS
    return f"hl.{kind}" in IMPLS or f"torch.{kind}" in IMPLS


def inventory(march: str) -> IslandInventory:
    """The float islands and the undeployable op kinds of `march` (a shipped or registered profile)."""
    from irq.dialects._tensor_specs import SPECS
    from irq.march_profiles import supported_ops
    left = sorted(set(SPECS) - supported_ops(march))
    return IslandInventory(march, tuple(k for k in left if has_float_implementation(k)),
                           tuple(k for k in left if not has_float_implementation(k)) + (OPAQUE_CALL,))


def main(argv: list[str] | None = None) -> int:
    from irq.march_profiles import registered_marches
    marches = (argv if argv else None) or registered_marches()
    for march in marches:
        inv = inventory(march)
        print(f"{march}: float islands (convert(..., float_fallback=True)): {', '.join(inv.float_islands) or 'none'}")
        print(f"{march}: not deployable (no integer lowering, no float implementation): "
              f"{', '.join(inv.not_deployable)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
