"""functional-to-module: torch-level ops that will own quantization state become hl ops with an owner.

Quantization state (observers, scales, fake-quant parameters) lives in modules. A
model that writes `out + identity`, `torch.relu(x)` or `F.interpolate(x, ...)` has
no module to hold it, so horizon_plugin_pytorch's prepare replaces such calls by
modules (`+` by `FloatFunctional.add`, F.interpolate by `nn.Interpolate`) named
after where they occur. This pass does the same on the IR:

- an op that came from an nn.Module call takes the module's path as its owner
  (`conv1`, `layer1.0.bn1`); a FloatFunctional call keeps its FloatFunctional's path;
- a functional op gets `<scope>.<kind>` (`layer1.0.add`), then `<scope>.<kind>_1`,
  `<scope>.<kind>_2`, ... numbered in program order within its enclosing module scope
  (`add`, `add_1` at the top level). Names a module already uses are skipped.

Owners depend only on the traced program (scopes, op kinds, order), never on Python
object ids, so the same model traced twice gets the same owners and checkpoints
holding quantization state load without missing or unexpected keys.

A module called several times (one nn.ReLU used twice) gives all its calls the same
owner: one quantization state, as in eager mode. `irq.check_model` reports it.
Pure data movement (hl.DATA_MOVEMENT: view, permute, getitem, max pooling, dropout,
identity...) has no state of its own and stays at the torch level, as do
`torch.constant`, `torch.size` and `torch.call`.
"""

from __future__ import annotations

from irq.dialects import hl
from irq.dialects import torch as tdl

from irq.ir.attributes import StringAttr
from irq.ir.operation import Operation
from irq.transform.pass_base import Pass, register_pass

#: torch-dialect attributes that say where an op came from; the owner replaces them.
_ORIGIN = ("module", "scope")


def _str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, StringAttr) else None


def convertible(op: Operation) -> bool:
    """A generated torch op with an hl counterpart (not data movement, constant, size or call)."""
    if op.dialect_name != "torch":
        return False
    base = op.name[len("torch."):]
    return base in tdl.OPS and base in hl.OPS and type(op) is tdl.OPS[base]


class OwnerNamer:
    """Assigns `<scope>.<kind>[_n]` owners in program order, skipping names already taken."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.next: dict[tuple[str, str], int] = {}

    def name(self, scope: str, kind: str) -> str:
        key = (scope, kind)
        n = self.next.get(key, 0)
        prefix = f"{scope}.{kind}" if scope else kind
        while True:
            owner = prefix if n == 0 else f"{prefix}_{n}"
            n += 1
            if owner not in self.taken:
                break
        self.next[key] = n
        self.taken.add(owner)
        return owner


def taken_names(root: Operation) -> set[str]:
    """Module paths the model already uses: module calls, existing owners, parameter/buffer prefixes."""
    taken: set[str] = set()
    for op in root.walk():
        for attr in ("module", "owner", "bn_owner"):
            v = _str(op, attr)
            if v:
                taken.add(v)
        if op.name == "torch.constant":
            key = op.key
            if key:
                parts = key.split(".")
                for i in range(1, len(parts)):
                    taken.add(".".join(parts[:i]))
    return taken


def to_hl(op: Operation, owner: str) -> Operation:
    """The hl op computing what torch op `op` computes, owned by `owner` (not inserted)."""
    base = op.name[len("torch."):]
    cls = hl.OPS[base]
    kw: dict = {}
    for name, _ in op.definition.operands:
        v = getattr(op, name)
        if v is not None and (not isinstance(v, tuple) or v):
            kw[name] = list(v) if isinstance(v, tuple) else v
    for name in op.definition.attributes:
        if name in _ORIGIN:
            continue
        a = op.get_attr(name)
        if a is not None:
            kw[name] = a
    extra = {k: v for k, v in op.attributes.items() if k not in _ORIGIN and k not in kw}
    new = cls(**kw, owner=owner, result_types=[r.type for r in op.results], location=op.location)
    new.attributes.update(extra)
    for old_r, new_r in zip(op.results, new.results):
        new_r.name_hint = old_r.name_hint
    return new


def functional_to_module(root: Operation) -> int:
    """Rewrite every convertible torch op under `root` in place; returns how many."""
    namer = OwnerNamer(taken_names(root))
    converted = 0
    for op in list(root.walk(include_self=False)):
        if not convertible(op):
            continue
        module = _str(op, "module")
        owner = module if module is not None else namer.name(_str(op, "scope") or "", op.name[len("torch."):])
        new = to_hl(op, owner)
        op.parent.insert_before(op, new)
        op.replace_all_uses_with(new.results)
        op.erase()
        converted += 1
    return converted


@register_pass("functional-to-module")
class FunctionalToModule(Pass):
    """Give every op that will own quantization state a stable owner path (torch -> hl)."""

    def run(self, op: Operation) -> None:
        self.statistics["ops converted"] += functional_to_module(op)
