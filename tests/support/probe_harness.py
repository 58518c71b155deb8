"""The harness of the per-construct frontend probes (tests/test_frontend_probes.py): what a probe is,
how one is registered, and how one is run against eager torch.

A probe is a tiny module run through import (fx and export) -> functional-to-module, fuse ->
print -> parse -> `to_module`; `outcome` classifies the result as equal to eager, refused with a
located FrontendError, an error, or a wrong number. The probe definitions live in
probes_ops.py and probes_layers.py (split by topic so neither file grows past a screenful of
topics); both register into PROBES.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from irq.runtime.torch import to_module
from torch import fx, nn
from torch.utils import _pytree as pytree

import irq
from irq.frontend.propagate import torch_dtype
from irq.ir.types import IntegerType, TensorType

PIPELINE = "builtin.module(func.func(functional-to-module, fuse))"


class _Fn1(nn.Module):
    def __init__(self, fn: Callable, mods: dict[str, Any]) -> None:
        super().__init__()
        self.fn = fn
        for k, v in mods.items():
            if isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter):
                self.register_buffer(k, v)
            else:
                setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


class _Fn2(_Fn1):
    def forward(self, x, y):
        return self.fn(self, x, y)


class _Fn3(_Fn1):
    def forward(self, x, y, z):
        return self.fn(self, x, y, z)


_ARITY = {1: _Fn1, 2: _Fn2, 3: _Fn3}


@dataclass
class Probe:
    name: str
    fn: Callable
    inputs: tuple
    mods: Callable[[], dict[str, Any]] = dict
    modes: tuple[str, ...] = ("fx", "export")
    refuse: tuple[str, ...] = ()  # modes in which the frontend must refuse with a located FrontendError
    opaque_ok: bool = False  # the probe may keep torch.call ops (they still rebuild by name)
    line: int = field(default=0)
    file: str = ""  # the file defining the probe: a refusal must name it (the user's file:line)

    def make(self) -> tuple[nn.Module, tuple]:
        torch.manual_seed(0)
        mods = self.mods()
        model = _ARITY[len(self.inputs)](self.fn, mods).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._NormBase) and m.running_mean is not None:
                    m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                    m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
        xs = tuple(i() if callable(i) else torch.randn(*i) for i in self.inputs)
        return model, xs


PROBES: list[Probe] = []


def probe(name: str, fn: Callable, *inputs: Any, **kw: Any) -> None:
    caller = inspect.currentframe().f_back
    PROBES.append(Probe(name, fn, inputs, line=caller.f_lineno, file=caller.f_code.co_filename, **kw))


def pos(*shape: int) -> Callable[[], torch.Tensor]:
    return lambda: torch.rand(*shape) + 0.5


def ints(*shape: int, high: int = 10) -> Callable[[], torch.Tensor]:
    return lambda: torch.randint(0, high, shape)


X4, X3, X2 = (2, 4, 8, 8), (2, 5, 6), (3, 4)

# -- running a probe ----------------------------------------------------------------------------------
def _clone(xs: tuple) -> tuple:
    return tuple(x.clone() for x in xs)


class _TypeChecker(fx.Interpreter):
    """Runs the rebuilt module and checks each IR value's type against the tensor computed for it."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.checked = 0

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        for v in n.meta.get("irq_values", ()):
            t = v.type
            if isinstance(t, TensorType):
                assert isinstance(out, torch.Tensor), (n.name, t, type(out))
                assert tuple(out.shape) == tuple(t.shape), (
                    f"{v.op.name if hasattr(v, 'op') else n}: IR {t}, computed {tuple(out.shape)}"
                )
                assert out.dtype == torch_dtype(t.element_type), f"{n.name}: IR {t}, computed {out.dtype}"
                self.checked += 1
            elif isinstance(t, IntegerType) and t.width == 64:
                assert isinstance(out, int) and not isinstance(out, bool), (n.name, t, out)
        return out


def _assert_close(expected: Any, got: Any) -> None:
    e_leaves, e_spec = pytree.tree_flatten(expected)
    g_leaves, g_spec = pytree.tree_flatten(got)
    assert len(e_leaves) == len(g_leaves), f"{len(g_leaves)} outputs, eager has {len(e_leaves)}"
    for a, b in zip(e_leaves, g_leaves):
        if a is None:
            assert b is None
            continue
        assert isinstance(b, torch.Tensor) and b.shape == a.shape and b.dtype == a.dtype, (a.shape, a.dtype, b)
        if a.is_floating_point():
            nan = a.isnan()
            assert torch.equal(nan, b.isnan()), "NaNs differ"  # a fully masked softmax row is NaN in both
            a, b = a[~nan], b[~nan]
            finite = a.isfinite()
            assert torch.equal(a[~finite], b[~finite]), "infinities differ"
            a, b = a[finite], b[finite]
            scale = max(float(a.abs().max()) if a.numel() else 0.0, 1e-6)
            err = float((a - b).abs().max()) if a.numel() else 0.0
            assert err <= 1e-5 * scale, f"max error {err:.3g} at output scale {scale:.3g}"
        else:
            assert torch.equal(a, b)


@functools.cache
def outcome(index: int, method: str) -> tuple[str, str]:
    """("equal", detail) / ("refused", message) / ("error", message) / ("wrong", message) for one probe."""
    p = PROBES[index]
    model, xs = p.make()
    with torch.no_grad():
        expected = model(*_clone(xs))
    try:
        module = irq.import_torch(model, _clone(xs), method=method)
    except irq.FrontendError as e:
        return "refused", str(e)
    except Exception as e:  # noqa: BLE001 - reported as a failure with its text
        return "error", f"import: {type(e).__name__}: {e}"
    try:
        irq.PassManager.parse(PIPELINE).run(module)
        text = irq.print_module(module)
        parsed = irq.parse_module(text)
        gm = to_module(parsed)
        checker = _TypeChecker(gm)
        with torch.no_grad():
            got = checker.run(*_clone(xs))
        original, rebuilt = model.state_dict(), gm.state_dict()
        for k, v in original.items():  # the checkpoint round-trips: shapes (0-d too), dtypes, values
            r = rebuilt[k]
            assert r.shape == v.shape and r.dtype == v.dtype and torch.equal(r, v), k
        gm.load_state_dict(original, strict=True)
    except Exception as e:  # noqa: BLE001
        return "error", f"rebuild: {type(e).__name__}: {e}"
    try:
        _assert_close(expected, got)
    except AssertionError as e:
        return "wrong", str(e)
    calls = [op.get_attr("target").value for op in parsed.walk() if op.name == "torch.call"]
    if calls and not p.opaque_ok:
        return "error", f"kept opaque: {calls}"
    return "equal", f"{checker.checked} values type-checked"


def user_files(p: Probe) -> tuple[str, str]:
    """The files of the probed model's code: the probe's function and the wrapper module's forward
    (export locates some nodes at the forward that calls the function)."""
    return p.file, __file__
