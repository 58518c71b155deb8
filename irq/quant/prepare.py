"""irq.prepare: a float torch model -> a trainable quantized torch model (the qat level).

    qat_model = irq.prepare(model, example_inputs, qconfig=irq.qconfig.default_qat_8bit, march="bayes")

Import (torch.fx or torch.export), functional-to-module, fuse, quant-annotate, then generate the
torch module from the IR (runtime/torch). The result is an fx GraphModule that keeps the original
module hierarchy and state_dict keys for the float parameters, plus FakeQuantize submodules at
`<owner>.<slot>_quant`. Shapes in the IR come from the example inputs, but the generated graph
calls torch functions, so any batch size runs.

The IR is kept on the module (`qat_model.irq_module`), which `irq.freeze` reads back with the
learned state. A structural fingerprint of the float modules is kept too: a model changed after
prepare (batch norm converted to SyncBatchNorm, a layer swapped) is reported by freeze and by
`check_unchanged`, with the fix (convert before prepare).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

from torch import fx, nn

from irq.march import march_name_of
from irq.qconfig import QConfig, QConfigRules, as_rules
from irq.quant.state import QuantizationWarning

log = logging.getLogger("irq")

PIPELINE = "builtin.module(func.func(dce, fill-additive-masks, functional-to-module, fuse))"


def _module_types(model: nn.Module) -> dict[str, str]:
    return {name: f"{type(m).__module__}.{type(m).__qualname__}" for name, m in model.named_modules() if name}


def annotate(module, qconfig: QConfig | QConfigRules | dict | str | None, march: str,
             module_types: dict[str, str] | None = None):
    """Run functional-to-module, fuse and quant-annotate on an imported module (in place)."""
    from irq.passes.quant_annotate import QuantAnnotate
    from irq.transform import PassManager
    PassManager.parse(PIPELINE).run(module)
    rules = as_rules(qconfig)
    annotate_pass = QuantAnnotate(rules=rules, module_types=module_types, march=march)
    pm = PassManager.parse("builtin.module()")
    pm.nest("func.func").add(annotate_pass)
    pm.run(module)
    for problem in rules.unmatched(annotate_pass.annotated_owners):
        warnings.warn(f"irq.prepare: {problem}", QuantizationWarning, stacklevel=3)
    return module


class IRHandle:
    """The qat-level IR a prepared module was generated from. Copying the module (copy.deepcopy, DDP
    replicas) shares it: it is never changed after prepare (irq.freeze works on a clone)."""

    def __init__(self, module) -> None:
        self.module = module

    def __deepcopy__(self, memo) -> IRHandle:
        return self

    def __copy__(self) -> IRHandle:
        return self


def ir_of(qat_model: nn.Module):
    """The qat-level irq Module behind a module returned by irq.prepare."""
    handle = qat_model.__dict__.get("irq_module")
    if not isinstance(handle, IRHandle):
        raise ValueError("not a module returned by irq.prepare (it carries no qat-level IR)")
    return handle.module


def fingerprint(model: nn.Module) -> dict[str, str]:
    """Module path -> type name, for detecting a model changed after prepare."""
    return {name: type(m).__qualname__ for name, m in model.named_modules()}


def prepare(model: nn.Module, example_inputs: Any, *, qconfig: QConfig | QConfigRules | dict | str | None = None,
            march: str | None = None, method: str = "fx", check_model: bool = True,
            check_model_path: str | None = "model_check_result.txt", leaf_modules: Sequence = ()) -> fx.GraphModule:
    """The quantization-ready torch module for `model` (see the module docstring).

    qconfig: a QConfig, a template name, QConfigRules, or {"": global, "glob": qconfig, ModuleClass: qconfig};
    default irq.qconfig.default_qat_8bit. march: "bayes" / "nash" (default irq.march.get_march()).
    check_model: write the model check report to `check_model_path` and log a one-line summary.
    """
    import irq
    from irq.model_check import check_model as run_check
    from irq.runtime.torch import to_module

    march_name = march_name_of(march)
    module = irq.import_torch(model, example_inputs, method=method, leaf_modules=leaf_modules)
    annotate(module, qconfig, march_name, _module_types(model))
    irq.verify(module)
    if check_model:
        result = run_check(module, march=march_name, path=check_model_path)
        log.info("irq model check (%s): %d fused groups, %d ops left in float, %d unsupported, %d torch.call%s",
                 march_name, len(result.fused_groups), len(result.float_ops), len(result.unsupported),
                 len(result.torch_calls), f"; report: {check_model_path}" if check_model_path else "")
    # a module the frontend kept opaque (a leaf module, InstanceNorm1d on an unbatched input) runs as the
    # user's own module, a float island convert then refuses by name; without it prepare raised a bare
    # LookupError naming no line
    qat_model = to_module(module, modules=_opaque_modules(module, model))
    qat_model.train(model.training)
    _attach(qat_model, IRHandle(module), march_name, fingerprint(qat_model))
    return qat_model


def _opaque_modules(module, model) -> dict[str, nn.Module]:
    """The user's submodules that torch.call ops of `module` call by path (only those: the built module's
    own submodules, as `2.out_quant`, must not be shadowed by the user's module of the same path)."""
    if not isinstance(model, nn.Module):
        return {}
    paths = {op.get_attr("module").value for op in module.walk()
             if op.name == "torch.call" and op.get_attr("module") is not None}
    found = {}
    for path in paths:
        try:
            found[path] = model.get_submodule(path)
        except AttributeError:
            continue  # not a submodule path (the importer's own), left to to_module's message
    return found


def _attach(qat_model: fx.GraphModule, handle: IRHandle, march_name: str, prints: dict[str, str]) -> None:
    """Give a generated module what makes it a prepared model: its IR, march and fingerprint, the
    state checker and the batch check (forward pre-hooks).

    fx.GraphModule.__deepcopy__ rebuilds the copy through GraphModule.__init__, which drops forward
    hooks and every attribute it does not know. A user's EMA model or best-checkpoint copy would then
    lose its IR (irq.convert / irq.freeze / adaround fail on it) and its state checks, so the same
    attachment is re-applied to every copy by a deepcopy hook (GraphModule runs them on the copy, and
    carries the hook list over, so copies of copies keep it too)."""
    from irq.quant.state import install_state_checker
    qat_model.__dict__["irq_module"] = handle
    qat_model.__dict__["irq_march"] = march_name
    qat_model.__dict__["irq_fingerprint"] = dict(prints)
    install_state_checker(qat_model)
    if not any(isinstance(h, _ReattachOnCopy) for h in getattr(qat_model, "_deepcopy_hooks", ())):
        qat_model._register_deepcopy_hook(_ReattachOnCopy(handle, march_name, prints))
    type(qat_model).__reduce__ = _reduce_prepared  # fx gives every GraphModule instance a class of its own


def _reduce_prepared(qat_model: fx.GraphModule):
    """How pickle (torch.save(qat_model)) stores a prepared model: its IR as text, its submodules, parameters
    and buffers as they are now (observers, scales, FakeQuantState, train/eval).

    fx's own GraphModule pickling re-traces the generated forward on load, which the generated code does not
    survive, and the IR's op classes (built by the dialects) cannot be pickled by name: the IR travels as its
    text (every level round-trips, locations included) and the module is regenerated from it on load, then
    given the pickled submodules, which have the same paths."""
    from irq.text.printer import print_module
    state = {"modules": dict(qat_model._modules), "parameters": dict(qat_model._parameters),
             "buffers": dict(qat_model._buffers), "training": qat_model.training}
    return (_rebuild_prepared, (print_module(ir_of(qat_model), debuginfo=True), qat_model.__dict__["irq_march"],
                                qat_model.__dict__["irq_fingerprint"], state))


def _rebuild_prepared(ir_text: str, march_name: str, prints: dict[str, str], state: dict) -> fx.GraphModule:
    from irq.runtime.torch import to_module
    from irq.text.parser import parse_module
    module = parse_module(ir_text, "<pickled prepared model>")
    holder = nn.Module()
    holder._modules.update(state["modules"])
    qat_model = to_module(module, modules=_opaque_modules(module, holder))
    qat_model._modules.clear()
    qat_model._modules.update(state["modules"])
    qat_model._parameters.clear()
    qat_model._parameters.update(state["parameters"])
    qat_model._buffers.clear()
    qat_model._buffers.update(state["buffers"])
    qat_model.training = state["training"]
    _attach(qat_model, IRHandle(module), march_name, prints)
    return qat_model


class _ReattachOnCopy:
    """The deepcopy hook of a prepared model (see `_attach`). A class, not a closure, so it holds
    only the IR handle (shared, immutable after prepare) and two small values, not the original model."""

    def __init__(self, handle: IRHandle, march_name: str, prints: dict[str, str]) -> None:
        self.handle, self.march_name, self.prints = handle, march_name, dict(prints)

    def __call__(self, copy_: fx.GraphModule) -> None:
        _attach(copy_, self.handle, self.march_name, self.prints)


def check_unchanged(qat_model: nn.Module) -> None:
    """Raise if modules of the prepared model were replaced after prepare (e.g. SyncBatchNorm conversion)."""
    expected = qat_model.__dict__.get("irq_fingerprint")
    if expected is None:
        raise ValueError("not a module returned by irq.prepare")
    now = fingerprint(qat_model)
    changed = sorted(p for p in set(expected) | set(now) if expected.get(p) != now.get(p))
    if changed:
        shown = ", ".join(f"{p or '<root>'} ({expected.get(p, 'absent')} -> {now.get(p, 'absent')})"
                          for p in changed[:5])
        raise RuntimeError(f"the model was changed after irq.prepare: {shown}. Quantization state and the IR no "
                           "longer describe it. Make such changes (e.g. torch.nn.SyncBatchNorm.convert_sync_batchnorm) "
                           "on the float model before prepare, then prepare again")
