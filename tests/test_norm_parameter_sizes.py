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


def _params(p: dict, *names: str) -> list:
    return [torch.ones(p[n]) if n in p else None for n in names]


def _batch_norm(x, _attr, p):
    return F.batch_norm(torch.randn(x), *_params(p, "running_mean", "running_var", "weight", "bias"), training=False)


def _layer_norm(x, normalized, p):
    return F.layer_norm(torch.randn(x), normalized, *_params(p, "weight", "bias"))


def _group_norm(x, groups, p):
    return F.group_norm(torch.randn(x), groups, *_params(p, "weight", "bias"))


#: op -> (eager torch call (input shape, attribute, parameter shapes), the op's attributes, cases)
OPS = {
    "batch_norm": (_batch_norm, lambda _: "eps = 1.0e-05 : f64, training = false", [
        ((2, 3, 4, 4), None, {"running_mean": (3,), "running_var": (3,), "weight": (3,), "bias": (3,)}),
        ((2, 3, 4, 4), None, {"running_mean": (3,), "running_var": (4,), "weight": (3,), "bias": (3,)}),
        ((2, 3, 4, 4), None, {"running_mean": (2,), "running_var": (3,)}),
        ((2, 3, 4, 4), None, {"running_mean": (3,), "running_var": (3,), "weight": (5,)}),
        ((2, 3, 4, 4), None, {"running_mean": (3,), "running_var": (3,), "bias": (1,)}),
        ((4, 6), None, {"running_mean": (6,), "running_var": (6,), "weight": (6,), "bias": (6,)}),
        ((4, 6), None, {"running_mean": (4,), "running_var": (4,)}),
    ]),
    "layer_norm": (_layer_norm, lambda n: f"normalized_shape = {n}, eps = 1.0e-05 : f64", [
        ((2, 5, 8), [8], {"weight": (8,), "bias": (8,)}),
        ((2, 5, 8), [5, 8], {"weight": (5, 8), "bias": (5, 8)}),
        ((2, 5, 8), [8], {"weight": (5,)}),
        ((2, 5, 8), [5, 8], {"weight": (40,)}),
        ((2, 5, 8), [5], {}),
        ((2, 5, 8), [2, 2, 5, 8], {}),
    ]),
    "group_norm": (_group_norm, lambda g: f"num_groups = {g} : i64, eps = 1.0e-05 : f64", [
        ((2, 6, 3, 3), 3, {"weight": (6,), "bias": (6,)}),
        ((2, 6, 3, 3), 4, {}),
        ((2, 6, 3, 3), 2, {"weight": (3,)}),
        ((2, 6, 3, 3), 6, {"bias": (7,)}),
    ]),
}


@pytest.mark.parametrize("op,x,attr,params", [(op, *case) for op, (_, _, cases) in OPS.items() for case in cases])
def test_norm_parameters_are_checked_as_torch_checks_them(op, x, attr, params):
    call, attrs, _ = OPS[op]
    torch_ok = _torch_accepts(lambda: call(x, attr, params))
    assert _verifier_accepts(_module(op, x, params, attrs(attr)), op) == torch_ok


@pytest.mark.parametrize("op", OPS)
def test_every_case_list_holds_both_answers(op):
    """Each op's cases must contain shapes torch accepts and shapes it rejects, or its test proves half."""
    call, _, cases = OPS[op]
    assert {_torch_accepts(lambda c=c: call(*c)) for c in cases} == {True, False}
