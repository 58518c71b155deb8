"""Per-construct probes: every mapped torch function, Tensor method and nn.Module, against eager torch.

Each probe is a tiny module run through import (fx and export) -> functional-to-module,
fuse -> print -> parse -> `to_module`. The rebuilt module must give eager's outputs
(within 1e-5 of the output's scale; integers exactly), and every IR value must have the
shape and dtype the rebuilt module computes for it. A probe the frontend cannot express
exactly must raise a FrontendError naming this file and the probe's line instead:
never a different number without an error. The probe list is the per-op eager oracle
other suites (quantization) build on, so it covers the options users pass (pooling
ceil_mode/count_include_pad/dilation/padding, negative dims, keepdim, scalar-first
non-commutative operands, in-place mutation read afterwards).
"""

from __future__ import annotations

import pytest
import support.probes_compare  # noqa: F401  (registers its probes)
import support.probes_layers  # noqa: F401  (registers its probes)
import support.probes_logic  # noqa: F401  (registers its probes)
import support.probes_ops  # noqa: F401  (registers its probes)
import torch
import torch.nn.functional as F
from support.probe_harness import PROBES, outcome, user_files

from irq.frontend.mapping import FUNCTIONS, METHODS, MODULES

CASES = [pytest.param(i, m, id=f"{p.name}-{m}") for i, p in enumerate(PROBES) for m in p.modes]


@pytest.mark.parametrize("index,method", CASES)
def test_probe_matches_eager(index: int, method: str) -> None:
    p = PROBES[index]
    kind, detail = outcome(index, method)
    if method in p.refuse:
        assert kind == "refused", f"{p.name} ({method}) should be refused, got {kind}: {detail}"
        assert any(f"{f}:" in detail for f in user_files(p)), detail  # names the user's file:line
        return
    assert kind == "equal", f"{p.name} ({method}): {kind}: {detail}"


def test_no_probe_gives_a_different_number_without_an_error() -> None:
    """Across every probe and mode: equal to eager, or a FrontendError at the user's line."""
    wrong = []
    for i, p in enumerate(PROBES):
        for method in p.modes:
            kind, detail = outcome(i, method)
            if kind == "wrong":
                wrong.append(f"{p.name} ({method}): {detail}")
            elif kind == "refused":
                located = any(f"{f}:" in detail for f in user_files(p))
                assert located, f"{p.name} ({method}) refused without the user's line: {detail}"
    assert not wrong, "\n".join(wrong)


def _traced_targets() -> tuple[set, set, set]:
    from irq.frontend.importer import trace

    functions, methods, modules = set(), set(), set()
    for p in PROBES:
        if p.refuse:
            continue
        model, _ = p.make()
        graph, _ = trace(model)
        for n in graph.nodes:
            if n.op == "call_function":
                functions.add(n.target)
            elif n.op == "call_method":
                methods.add(n.target)
            elif n.op == "call_module":
                modules.add(type(model.get_submodule(n.target)))
        for m in model.modules():
            modules.add(type(m))
    return functions, methods, modules


def test_every_mapped_callable_has_a_probe() -> None:
    """The probe list covers every torch function, Tensor method and nn.Module the torch dialect maps."""
    from irq.frontend.wrapping import qualified_name

    functions, methods, modules = _traced_targets()
    # Python wrappers fx traces through (they call Tensor.sigmoid/tanh, which are covered);
    # the probes "F.sigmoid" and "F.tanh" still run them
    inlined = {F.sigmoid, F.tanh}
    missing = [qualified_name(f) for f in FUNCTIONS if f not in functions and f not in inlined]
    missing += [f"Tensor.{m}" for m in METHODS if m not in methods and hasattr(torch.Tensor, m)]
    missing += [c.__name__ for c, _ in MODULES if c not in modules]
    assert not missing, f"no probe exercises: {missing}"
