"""The verifier accepts a normalization's parameters exactly when torch does.

A module written or edited by hand (or by a user's pass) with a mis-sized running_var, a layer_norm
weight of the wrong shape, or groups that do not divide the channels used to verify, print and
lower, and fail only when run, in torch's words and without the op's line. The oracle is eager
torch.nn.functional on tensors of the same shapes: the verifier must reject exactly what it rejects,
and its error names the op and the line.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import irq


def _ty(shape: tuple[int, ...]) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + "f32>"


def _module(op: str, x: tuple[int, ...], params: dict[str, tuple[int, ...]], attrs: str) -> str:
    args = [f"%x: {_ty(x)}"] + [f"%{name}: {_ty(shape)}" for name, shape in params.items()]
    operands = "".join(f" {name} %{name}" for name in params)
    types = ", ".join(_ty(s) for s in (x, *params.values()))
    return (f"module @m {{\n  func.func @forward({', '.join(args)}) -> {_ty(x)} {{\n"
            f"    %0 = torch.{op} %x{operands} {{{attrs}}} : ({types}) -> {_ty(x)}\n"
            f"    return %0 : {_ty(x)}\n  }}\n}}\n")


def _torch_accepts(call) -> bool:
    try:
        with torch.no_grad():
            call()
    except (RuntimeError, ValueError):
        return False
    return True


def _verifier_accepts(text: str, op: str) -> bool:
    try:
        irq.verify(irq.parse_module(text, filename="norm.irq"))
    except irq.VerifyError as e:
        message = str(e)
        assert f"torch.{op}" in message and "norm.irq:3" in message, message
        return False
    return True


BATCH_NORM_CASES = [
    ((2, 3, 4, 4), {"running_mean": (3,), "running_var": (3,), "weight": (3,), "bias": (3,)}),
    ((2, 3, 4, 4), {"running_mean": (3,), "running_var": (4,), "weight": (3,), "bias": (3,)}),
    ((2, 3, 4, 4), {"running_mean": (2,), "running_var": (3,)}),
    ((2, 3, 4, 4), {"running_mean": (3,), "running_var": (3,), "weight": (5,)}),
    ((2, 3, 4, 4), {"running_mean": (3,), "running_var": (3,), "bias": (1,)}),
    ((4, 6), {"running_mean": (6,), "running_var": (6,), "weight": (6,), "bias": (6,)}),
    ((4, 6), {"running_mean": (4,), "running_var": (4,)}),
]


@pytest.mark.parametrize("x,params", BATCH_NORM_CASES)
def test_batch_norm_parameters_are_checked_as_torch_checks_them(x, params):
    tensors = {k: torch.ones(s) for k, s in params.items()}
    torch_ok = _torch_accepts(lambda: F.batch_norm(torch.randn(x), tensors.get("running_mean"),
                                                   tensors.get("running_var"), tensors.get("weight"),
                                                   tensors.get("bias"), training=False))
    text = _module("batch_norm", x, params, "eps = 1.0e-05 : f64, training = false")
    assert _verifier_accepts(text, "batch_norm") == torch_ok


LAYER_NORM_CASES = [
    ((2, 5, 8), [8], {"weight": (8,), "bias": (8,)}),
    ((2, 5, 8), [5, 8], {"weight": (5, 8), "bias": (5, 8)}),
    ((2, 5, 8), [8], {"weight": (5,)}),
    ((2, 5, 8), [5, 8], {"weight": (40,)}),
    ((2, 5, 8), [5], {}),
    ((2, 5, 8), [2, 2, 5, 8], {}),
]


@pytest.mark.parametrize("x,normalized,params", LAYER_NORM_CASES)
def test_layer_norm_shapes_are_checked_as_torch_checks_them(x, normalized, params):
    tensors = {k: torch.ones(s) for k, s in params.items()}
    torch_ok = _torch_accepts(lambda: F.layer_norm(torch.randn(x), normalized, tensors.get("weight"),
                                                   tensors.get("bias")))
    text = _module("layer_norm", x, params, f"normalized_shape = {normalized}, eps = 1.0e-05 : f64")
    assert _verifier_accepts(text, "layer_norm") == torch_ok


GROUP_NORM_CASES = [
    ((2, 6, 3, 3), 3, {"weight": (6,), "bias": (6,)}),
    ((2, 6, 3, 3), 4, {}),
    ((2, 6, 3, 3), 2, {"weight": (3,)}),
    ((2, 6, 3, 3), 6, {"bias": (7,)}),
]


@pytest.mark.parametrize("x,groups,params", GROUP_NORM_CASES)
def test_group_norm_parameters_are_checked_as_torch_checks_them(x, groups, params):
    tensors = {k: torch.ones(s) for k, s in params.items()}
    torch_ok = _torch_accepts(lambda: F.group_norm(torch.randn(x), groups, tensors.get("weight"),
                                                   tensors.get("bias")))
    text = _module("group_norm", x, params, f"num_groups = {groups} : i64, eps = 1.0e-05 : f64")
    assert _verifier_accepts(text, "group_norm") == torch_ok


def test_every_case_list_holds_both_answers():
    """The tables above must contain shapes torch accepts and shapes it rejects, or the tests prove half."""
    def answers(cases, call):
        return {_torch_accepts(lambda c=c: call(*c)) for c in cases}

    def bn(x, p):
        t = {k: torch.ones(s) for k, s in p.items()}
        return F.batch_norm(torch.randn(x), t.get("running_mean"), t.get("running_var"), t.get("weight"),
                            t.get("bias"))

    def ln(x, n, p):
        return F.layer_norm(torch.randn(x), n, *(torch.ones(p[k]) if k in p else None for k in ("weight", "bias")))

    def gn(x, g, p):
        return F.group_norm(torch.randn(x), g, *(torch.ones(p[k]) if k in p else None for k in ("weight", "bias")))

    assert answers(BATCH_NORM_CASES, bn) == {True, False}
    assert answers(LAYER_NORM_CASES, ln) == {True, False}
    assert answers(GROUP_NORM_CASES, gn) == {True, False}
