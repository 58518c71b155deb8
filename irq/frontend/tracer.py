"""torch.fx tracing the way irq needs it.

`IrqTracer` keeps nn.Module boundaries (torch.nn layers, stubs and the user's
`leaf_modules` stay single nodes), records for every node the enclosing module
scope and the user's source position, diverts `irq.wrap`ped calls and
FloatFunctional method calls into single nodes, and remembers which module
`forward`s it traced through so the importer can warn about `self.training`.
"""

from __future__ import annotations

import functools
import operator
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.utils import _pytree as pytree

from irq.frontend import decompose_sdpa
from irq.frontend import wrapping as wrap_mod
from irq.frontend.decompose import multihead_attention, supports_multihead_attention
from irq.frontend.decompose_rnn import SequenceLengths, recurrent, supports_rnn
from irq.frontend.decompose_transformer import encoder_layer, encoder_stack, supports_encoder_layer
from irq.frontend.errors import _library_dirs, user_frame_of_stack

try:  # fused modules users build with torch.ao fuse_modules (ConvBnReLU2d and friends)
    from torch.ao.nn.intrinsic import _FusedModule
except ImportError:  # pragma: no cover - very old torch
    _FusedModule = ()

#: FloatFunctional methods -> the torch function each computes (plus a trailing relu for add_relu).
FLOAT_FUNCTIONAL_METHODS: dict[str, tuple[Callable, bool]] = {
    "add": (torch.add, False), "add_scalar": (torch.add, False), "sub": (torch.sub, False),
    "mul": (torch.mul, False), "mul_scalar": (torch.mul, False), "div": (torch.div, False),
    "matmul": (torch.matmul, False), "cat": (torch.cat, False), "concat": (torch.cat, False),
    "stack": (torch.stack, False), "add_relu": (torch.add, True), "exp": (torch.exp, False),
}


class ModuleRef:
    """A submodule passed as an argument to a wrapped call (kept by path, not by object)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __fx_create_arg__(self, tracer: Any) -> ModuleRef:
        return self

    def __repr__(self) -> str:
        return f"ModuleRef({self.path!r})"


def is_float_functional(m: nn.Module) -> bool:
    return type(m).__name__ == "FloatFunctional"


def is_stub(m: nn.Module) -> str | None:
    """"quant_stub" / "dequant_stub" for torch.ao's and irq's stubs, else None."""
    name = type(m).__name__
    if name == "QuantStub":
        return "quant_stub"
    if name == "DeQuantStub":
        return "dequant_stub"
    return None


def _decomposition(m: nn.Module, args: tuple, kwargs: dict, lengths: SequenceLengths) -> Callable | None:
    """The typed-op decomposition the tracer runs in place of torch.nn composite `m` (a function of the call's
    arguments), or None to keep the call as it is (a leaf, or traced through its own forward). `lengths`:
    the sequence length of each recurrent module's calls on the example inputs (decompose_rnn.sequence_lengths)."""
    if isinstance(m, nn.MultiheadAttention) and supports_multihead_attention(m, args, kwargs):
        return functools.partial(multihead_attention, m)
    if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerEncoder)) and supports_encoder_layer(m, args, kwargs):
        return functools.partial(encoder_layer if isinstance(m, nn.TransformerEncoderLayer) else encoder_stack, m)
    if m in lengths and supports_rnn(m, args, kwargs):
        return functools.partial(recurrent, m, lengths.take(m))
    return None


class IrqTracer(fx.Tracer):
    """fx.Tracer recording scope, source position, fused groups and wrapped calls per node."""

    #: a buffer read in forward is a graph value (its state key), so indexing it by a traced size traces
    #: (nanoGPT's causal `self.bias[:, :, :T, :T]`); fx's default passes the tensor itself, which a Proxy
    #: cannot index
    proxy_buffer_attributes = True

    def __init__(self, leaf_modules: Iterable[type | str] = (),
                 sequence_lengths: SequenceLengths | None = None) -> None:
        super().__init__(param_shapes_constant=False)
        self.sequence_lengths = sequence_lengths if sequence_lengths is not None else SequenceLengths()
        leaf_modules = list(leaf_modules or ())
        self._leaf_types = tuple(t for t in leaf_modules if isinstance(t, type))
        self._leaf_paths = {p for p in leaf_modules if isinstance(p, str)}
        self._lib_dirs = _library_dirs()
        self._user_files: dict[str, bool] = {}
        self._module_override: list[str] = []
        self.traced_forwards: dict[Callable, str] = {}
        self.opaque_modules: set[str] = set()
        self._expanding: nn.Module | None = None  # a torch.nn module traced through its decomposition

    # -- leaves ---------------------------------------------------------------------------------
    def is_user_leaf(self, m: nn.Module, path: str) -> bool:
        return path in self._leaf_paths or bool(self._leaf_types and isinstance(m, self._leaf_types))

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if self.is_user_leaf(m, module_qualified_name):
            return True
        if m is self._expanding:
            return False
        if is_stub(m):
            return True
        if _FusedModule and isinstance(m, _FusedModule):
            return False
        return super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Callable, args: tuple, kwargs: dict) -> Any:
        path = self.path_of_module(m)
        decomposition = _decomposition(m, args, kwargs, self.sequence_lengths)
        if decomposition is not None and not self.is_user_leaf(m, path):
            # traced through its decomposition into typed ops (irq/frontend/decompose*.py)
            outer, self._expanding = self._expanding, m
            try:
                return super().call_module(m, decomposition, args, kwargs)
            finally:
                self._expanding = outer
        if not self.is_leaf_module(m, path):
            fn = getattr(type(m).forward, "__func__", type(m).forward)
            self.traced_forwards.setdefault(fn, path)
        return super().call_module(m, forward, args, kwargs)

    # -- nodes ----------------------------------------------------------------------------------
    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None) -> fx.Node:
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        meta = node.meta
        meta["irq_scope"] = self.scope.module_path
        meta["irq_loc"] = user_frame_of_stack(sys._getframe(1), self._lib_dirs, self._user_files)
        if self._module_override:
            meta["irq_module"] = self._module_override[-1]
        if _FusedModule:
            for path, mtype in self.module_stack.values():
                if isinstance(mtype, type) and issubclass(mtype, _FusedModule):
                    meta["irq_fused"] = path
        return node

    # -- wrapped functions ------------------------------------------------------------------------
    def call_wrapped(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        leaves = pytree.tree_leaves((args, kwargs))
        if not any(isinstance(x, fx.Proxy) for x in leaves):
            return fn(*args, **kwargs)

        def to_ref(x: Any) -> Any:
            return ModuleRef(self.path_of_module(x)) if isinstance(x, nn.Module) else x
        args = tuple(to_ref(a) for a in args)
        kwargs = {k: to_ref(v) for k, v in kwargs.items()}
        return self.create_proxy("call_function", fn, args, kwargs)

    def _float_functional_method(self, path: str, method: str, original: Callable) -> Callable:
        fn, then_relu = FLOAT_FUNCTIONAL_METHODS[method]

        def traced(*args: Any, **kwargs: Any) -> Any:
            if not any(isinstance(x, fx.Proxy) for x in pytree.tree_leaves((args, kwargs))):
                return original(*args, **kwargs)
            self._module_override.append(path)
            try:
                out = self.create_proxy("call_function", fn, args, kwargs)
                if then_relu:
                    out = self.create_proxy("call_function", torch.relu, (out,), {})
            finally:
                self._module_override.pop()
            return out
        return traced

    def _factory(self, original: Callable) -> Callable:
        """`original` (torch.ones, ...) recording a graph node when a size is traced (`torch.ones(T, T)` with
        `T = x.size(1)`, which plain fx cannot trace: the sizes are parsed as ints, not dispatched on)."""

        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            if not any(isinstance(x, fx.Proxy) for x in pytree.tree_leaves((args, kwargs))):
                return original(*args, **kwargs)
            return self.create_proxy("call_function", original, args, kwargs)

        return traced

    def _sdpa(self, original: Callable) -> Callable:
        """F.scaled_dot_product_attention traced through its decomposition when it is causal or masked
        (irq/frontend/decompose_sdpa.py), else the one node the import maps from static shapes."""

        @functools.wraps(original)
        def traced(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                   is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> Any:
            args = (query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
            if not any(isinstance(x, fx.Proxy) for x in args):
                return original(*args)
            if decompose_sdpa.traces_through(attn_mask, dropout_p, is_causal, enable_gqa):
                return decompose_sdpa.scaled_dot_product_attention(*args)
            return self.create_proxy("call_function", original, (query, key, value),
                                     {"attn_mask": attn_mask, "dropout_p": dropout_p, "is_causal": is_causal,
                                      "scale": scale, "enable_gqa": enable_gqa})

        return traced

    def trace(self, root: nn.Module, concrete_args: dict[str, Any] | None = None) -> fx.Graph:
        patched: list[tuple[nn.Module, str]] = []
        for path, m in root.named_modules():
            if not is_float_functional(m):
                continue
            for method in FLOAT_FUNCTIONAL_METHODS:
                original = getattr(m, method, None)
                if original is not None:
                    m.__dict__[method] = self._float_functional_method(path, method, original)
                    patched.append((m, method))
        fwd = type(root).forward
        self.traced_forwards.setdefault(getattr(fwd, "__func__", fwd), "")
        wrap_mod.ACTIVE.append(self)
        factories = {name: getattr(torch, name) for name in SIZE_FACTORIES}
        for name, original in factories.items():
            setattr(torch, name, self._factory(original))
        sdpa = F.scaled_dot_product_attention
        F.scaled_dot_product_attention = self._sdpa(sdpa)
        saved = {name: fx.Proxy.__dict__.get(name) for name in _PROXY_MUTATIONS}
        for name, impl in _PROXY_MUTATIONS.items():
            setattr(fx.Proxy, name, impl)
        try:
            return super().trace(root, concrete_args)
        finally:
            for name, original in factories.items():
                setattr(torch, name, original)
            F.scaled_dot_product_attention = sdpa
            for name, impl in saved.items():
                if impl is None:
                    delattr(fx.Proxy, name)
                else:
                    setattr(fx.Proxy, name, impl)
            wrap_mod.ACTIVE.pop()
            for m, method in patched:
                m.__dict__.pop(method, None)


#: torch's tensor factories that take sizes: while irq traces, a call with a traced size (a causal mask's
#: `torch.ones(T, T)`, `torch.full((T, T), -inf)`) becomes a node the importer keeps as a `torch.call` on the
#: sizes, so the model follows the length it runs at; convert folds it (passes/fold_constants.py)
SIZE_FACTORIES = ("ones", "zeros", "full", "arange", "eye")


def _augmented(op: Callable) -> Callable:
    def impl(self: fx.Proxy, other: Any) -> fx.Proxy:
        return self.tracer.create_proxy("call_function", op, (self, other), {})
    return impl


def _setitem(self: fx.Proxy, index: Any, value: Any) -> None:
    self.tracer.create_proxy("call_function", operator.setitem, (self, index, value), {})


#: fx.Proxy has no in-place operators, so `y += x` would trace as `y = y + x` and a second name
#: for y would miss the mutation, and `y[i] = v` would fail. While irq traces, they record
#: operator.iadd / operator.setitem nodes, which irq/frontend/mutation.py models or refuses.
_PROXY_MUTATIONS: dict[str, Callable] = {
    **{f"__i{name}__": _augmented(getattr(operator, f"i{name}"))
       for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift",
                    "rshift", "matmul")},
    "__setitem__": _setitem,
}


def argument_loader(root: nn.Module, env: dict[fx.Node, Any]) -> Callable[[Any], Any]:
    """A function mapping an FX node's args to Python values: nodes through `env`,
    `ModuleRef`s to the submodule, containers and slices element by element.

    Shared by the real-run propagation and the static shape inference, which must
    read a node's arguments identically for their annotations to agree."""

    def load(a: Any) -> Any:
        if isinstance(a, fx.Node):
            return env[a]
        if isinstance(a, ModuleRef):
            return root.get_submodule(a.path) if a.path else root
        if isinstance(a, (list, tuple)):
            return type(a)(load(x) for x in a) if not hasattr(a, "_fields") else type(a)(*[load(x) for x in a])
        if isinstance(a, dict):
            return {k: load(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(load(a.start), load(a.stop), load(a.step))
        return a

    return load


def has_node(v: Any) -> bool:
    """Whether an FX argument structure refers to a traced value anywhere."""
    if isinstance(v, fx.Node):
        return True
    if isinstance(v, (list, tuple)):
        return any(has_node(x) for x in v)
    if isinstance(v, dict):
        return any(has_node(x) for x in v.values())
    return False
