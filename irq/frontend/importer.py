"""`irq.import_torch`: a PyTorch model -> a torch-level irq module.

    module = irq.import_torch(model, (torch.randn(1, 3, 224, 224),))

method="fx" traces with torch.fx (module boundaries kept, irq.wrap honoured),
method="export" uses torch.export for models fx cannot trace (HF transformers).
Both annotate every value with the shape and dtype the example inputs produce.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import fx, nn

from irq.dialects.builtin import ModuleOp
from irq.frontend.arg_reduce import arg_reduce_as_indices
from irq.frontend.convert import GraphConverter
from irq.frontend.decompose_rnn import SequenceLengths, sequence_lengths
from irq.frontend.errors import FrontendError, source_line, user_frame_of_traceback
from irq.frontend.mapping import FUNCTIONS, METHODS, Emit, allocates, fold_static_scalars, module_emits
from irq.frontend.mutation import model_mutations, state_mutation_error
from irq.frontend.propagate import annotate, propagate, tensor_type
from irq.frontend.scan import warn_python_branches
from irq.frontend.shapes import infer_shapes
from irq.frontend.tracer import IrqTracer
from irq.ir.attributes import Attribute, BoolAttr, DictionaryAttr


def import_torch(model: nn.Module, example_inputs: Any, *, method: str = "fx",
                 leaf_modules: Iterable[type | str] = (), concrete_args: dict[str, Any] | None = None,
                 preserve_attrs: Iterable[str] = (), verify: bool = True) -> ModuleOp:
    """Import `model` at the torch level, typed by running `example_inputs` through it.

    leaf_modules: module classes or paths kept as one opaque `torch.call` each;
    concrete_args: forward() arguments fixed to Python values while tracing;
    preserve_attrs: model attributes (plain Python values) recorded on the module so
    `irq.runtime.torch.to_module` restores them.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"import_torch needs an nn.Module, got {type(model).__name__}")
    inputs = example_inputs if method == "export" and isinstance(example_inputs, dict) else None
    inputs = (inputs,) if inputs is not None else _as_tuple(example_inputs)
    if method not in ("fx", "export"):
        raise ValueError(f"method must be 'fx' or 'export', got {method!r}")
    # Building IR allocates many small long-lived objects; the cyclic GC would rescan
    # them again and again (a third of the import time on a 2,000-block model).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if method == "fx":
            module = _import_fx(model, inputs, leaf_modules, concrete_args or {})
        else:
            from irq.frontend.export import import_exported
            module = import_exported(model, inputs, concrete_args or {})
    finally:
        if gc_was_enabled:
            gc.enable()
    # The mode the graph was traced in: the generated torch module starts in it too.
    module.attributes["torch.training"] = BoolAttr(model.training)
    preserved = _preserved(model, preserve_attrs)
    if preserved:
        module.attributes["torch.preserved"] = preserved
    if verify:
        module.verify()
    return module


def _as_tuple(example_inputs: Any) -> tuple:
    if isinstance(example_inputs, tuple):
        return example_inputs
    if isinstance(example_inputs, list):
        return tuple(example_inputs)
    return (example_inputs,)


def _preserved(model: nn.Module, names: Iterable[str]) -> Attribute | None:
    from irq.frontend.convert import encode_literal
    out = {}
    for name in names:
        if not hasattr(model, name):
            raise FrontendError(f"preserve_attrs: the model has no attribute '{name}'")
        value = getattr(model, name)

        def enc(a: Any, name: str = name) -> Attribute:
            if isinstance(a, (torch.Tensor, nn.Module, fx.Node)):
                raise FrontendError(f"preserve_attrs: '{name}' is a {type(a).__name__}; only plain Python values "
                                    "(numbers, strings, lists, dicts) can be preserved")
            return encode_literal(a, enc)
        out[name] = enc(value)
    return DictionaryAttr(out) if out else None


# -- fx -----------------------------------------------------------------------------------------
def trace(model: nn.Module, leaf_modules: Iterable[type | str] = (),
          concrete_args: dict[str, Any] | None = None,
          state: dict[str, tuple[torch.Tensor, str | None]] | None = None,
          sequence_lengths: SequenceLengths | None = None) -> tuple[fx.Graph, IrqTracer]:
    """Symbolically trace `model`; failures become FrontendError naming the user's line.

    `state`: the model's parameters and buffers (`_state(model)`), when the caller has them;
    `sequence_lengths`: the time length each recurrent module unrolls to (decompose_rnn.sequence_lengths)."""
    tracer = IrqTracer(leaf_modules, sequence_lengths)
    versions = {k: (t, t._version) for k, (t, _) in (state if state is not None else _state(model)).items()}
    try:
        graph = tracer.trace(model, concrete_args=concrete_args or None)
    except FrontendError:
        raise
    except Exception as e:  # noqa: BLE001 - any tracing failure is reported with the user's line
        raise _trace_error(model, e) from e
    changed = [k for k, (t, v) in versions.items() if t._version != v]
    if changed:  # fx ran an in-place op on a real parameter/buffer, recording nothing
        raise state_mutation_error(
            model, changed, lambda: IrqTracer(leaf_modules).trace(model, concrete_args=concrete_args or None))
    return graph, tracer


_REASONS = (
    ("cannot be used as inputs to control flow",
     "data-dependent control flow: a Python `if`, `while`, `assert` or bool() on a traced tensor"),
    ("cannot be iterated", "iteration over a traced tensor (a Python `for` over its values or unpacking)"),
    ("object cannot be interpreted as an integer", "a traced value used where Python needs a concrete integer"),
)


def _trace_error(model: nn.Module, e: Exception, method: str = "fx") -> FrontendError:
    """The tracing failure `e` as a FrontendError at the user's line, with the hint for `method`."""
    hint = _HINT if method == "fx" else _EXPORT_HINT
    where = user_frame_of_traceback(e.__traceback__)
    text = str(e)
    reason = next((r for key, r in _REASONS if key in text), f"{type(e).__name__}: {text}")
    head = f"cannot trace {type(model).__name__}.forward: {reason}"
    if where is None:
        msg = head
        return FrontendError(msg + hint)
    filename, line, col = where
    src = source_line(filename, line)
    msg = f"{filename}:{line}:{col}: {head}\n    {src}" + hint
    return FrontendError(msg, filename=filename, line=line, column=col)


_HINT = ("\n  hint: symbolic tracing records tensor operations, not Python decisions about tensor values. "
         "Move this code into a function or method decorated with @irq.wrap (it then stays one opaque torch.call), "
         "fix the Python values it depends on with import_torch(..., concrete_args={...}), "
         "or use method=\"export\".")
_EXPORT_HINT = ("\n  hint: torch.export could not capture this code. Decorate the code with @irq.wrap and import "
                "with method=\"fx\" (it then stays one opaque torch.call), or fix the Python values it depends on "
                "with import_torch(..., concrete_args={...}).")


def _import_fx(model: nn.Module, inputs: tuple, leaf_modules: Iterable, concrete_args: dict) -> ModuleOp:
    concrete_args = {**_omitted_defaults(model, len(inputs), concrete_args), **concrete_args}
    state = _state(model)
    lengths = sequence_lengths(model, inputs, concrete_args)
    graph, tracer = trace(model, leaf_modules, concrete_args, state, lengths)
    arg_reduce_as_indices(graph)  # argmax / argmin over a dim: the indices of max / min
    warn_python_branches(tracer.traced_forwards, model.training)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    names = _forward_params(model, len(placeholders))
    concrete, user = set(), []
    for name, p in zip(names, placeholders):
        if name in concrete_args:
            concrete.add(p)
        else:
            user.append(p)
    if len(user) != len(inputs):
        raise FrontendError(f"{type(model).__name__}.forward takes {len(user)} traced input(s) "
                            f"({', '.join(p.name for p in user)}), but {len(inputs)} example input(s) were given")
    skip = _concrete_only(graph, concrete)
    values = dict(zip(user, inputs))
    for p in concrete:
        values[p] = concrete_args[names[placeholders.index(p)]]
    for p in concrete:
        annotate(p, values[p])

    modules = dict(model.named_modules(remove_duplicate=False))
    dispatch = make_dispatch(modules)
    param_types = {k: tensor_type(t) for k, (t, _) in state.items()}
    try:
        infer_shapes(model, graph, values, dispatch, param_types)
    except Exception:  # noqa: BLE001 - NeedsRealRun, or Python code that fails: the real run decides and reports
        for node in graph.nodes:
            node.meta.pop("irq_emits", None)
        _run_graph(model, graph, values)
    model_mutations(graph, modules, lambda node: allocates(dispatch(node)))
    for node in graph.nodes:
        if node.op == "call_module":
            m = modules[node.target]
            node.meta["irq_module_class"] = f"{type(m).__module__}.{type(m).__qualname__}"
    tensor_constants = {n.target: _get(model, n.target) for n in graph.nodes
                        if n.op == "get_attr" and n.meta.get("irq_kind") == "tensor" and n.target not in state}

    conv = GraphConverter(graph, dispatch, name=type(model).__name__, state=state,
                          tensor_constants=tensor_constants, skip=skip | concrete, state_types=param_types)
    return conv.run(user)


def make_dispatch(modules: dict[str, nn.Module]):
    """`dispatch(node)`: the typed ops an fx node becomes (None: a torch.call), memoized on the node."""
    def dispatch(node: fx.Node) -> list[Emit] | None:
        cached = node.meta.get("irq_emits")
        if cached is not None:
            return cached
        args, kwargs = node.args, node.kwargs
        if node.op == "call_function":
            h = FUNCTIONS.get(node.target)
            if h is None:
                return None
            if not getattr(h, "keeps_sizes", False):
                args, kwargs = fold_static_scalars(node)
            e = h(args, kwargs)
            return e if isinstance(e, list) else [e] if e is not None else None
        if node.op == "call_method":
            h = METHODS.get(node.target)
            if h is None:
                return None
            if not getattr(h, "keeps_sizes", False):
                args, kwargs = fold_static_scalars(node)
            e = h(args, kwargs)
            return e if isinstance(e, list) else [e] if e is not None else None  # a chain (x.clamp(min=t))
        if node.op == "call_module":
            return module_emits(modules[node.target], node.target, args, kwargs)
        return None
    return dispatch


def _run_graph(model: nn.Module, graph: fx.Graph, values: dict) -> None:
    """Annotate by running the graph (what static inference could not do), errors naming the user's line."""
    # the graph may mutate its inputs in place (y.add_(x) on an input): run it on copies
    values = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in values.items()}
    try:
        propagate(model, graph, values)
    except Exception as e:  # noqa: BLE001
        node = getattr(e, "irq_node", None)
        where = user_frame_of_traceback(e.__traceback__) or (node.meta.get("irq_loc") if node is not None else None)
        at = f"{where[0]}:{where[1]}: " if where else ""
        filename, line, col = where if where else (None, None, None)
        raise FrontendError(f"{at}running the traced graph on the example inputs failed: "
                            f"{type(e).__name__}: {e}", filename=filename, line=line, column=col) from e


def _omitted_defaults(model: nn.Module, given: int, concrete_args: dict) -> dict[str, Any]:
    """forward() parameters after the `given` example inputs that have a default (`mask=None`): fixed to
    it, as calling the model with those inputs does. fx would otherwise trace them as inputs (and refuse the
    call for a missing example input); torch.export already calls forward with the inputs given."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    positional = [p for p in params if p.name not in concrete_args
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return {p.name: p.default for p in positional[given:] if p.default is not p.empty}


def _forward_params(model: nn.Module, n: int) -> list[str]:
    try:
        params = list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        params = []
    return (params + [f"arg{i}" for i in range(len(params), n)])[:n]


def _concrete_only(graph: fx.Graph, concrete: set[fx.Node]) -> set[fx.Node]:
    """Nodes computed only from concrete arguments (fx's specialization asserts): not part of the model."""
    dead = set(concrete)
    for node in graph.nodes:
        if node.op == "call_function" and node.all_input_nodes and all(a in dead for a in node.all_input_nodes):
            dead.add(node)
    return dead - concrete


def _get(model: nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _state(model: nn.Module) -> dict[str, tuple[torch.Tensor, str | None]]:
    """state_dict entries (parameter or buffer) plus non-persistent buffers, in state_dict order."""
    params = {k for k, _ in model.named_parameters(remove_duplicate=False)}
    out: dict[str, tuple[torch.Tensor, str | None]] = {}
    for k, t in model.state_dict(keep_vars=True).items():
        if isinstance(t, torch.Tensor):
            out[k] = (t, None if k in params else "buffer")
    for k, t in model.named_buffers(remove_duplicate=False):
        if k not in out and t is not None:
            out[k] = (t, "constant")
    return out
