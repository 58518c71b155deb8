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

from irq.ir.attributes import DenseArrayAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import i32
from irq.transform.pass_base import Pass, register_pass

#: torch-dialect attributes that say where an op came from; the owner replaces them.
_ORIGIN = ("module", "scope")


def _str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, StringAttr) else None


#: torch op classes with an hl counterpart (not data movement, constant, size or call).
_CONVERTIBLE = frozenset(cls for base, cls in tdl.OPS.items() if base in hl.OPS)


def convertible(op: Operation) -> bool:
    return type(op) in _CONVERTIBLE


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


def taken_names(ops: list[Operation]) -> set[str]:
    """Module paths the model already uses: module calls, existing owners, parameter/buffer prefixes."""
    taken: set[str] = set()
    for op in ops:
        props = op.properties
        for attr in ("module", "owner", "bn_owner"):
            v = props.get(attr)
            if isinstance(v, StringAttr):
                taken.add(v.value)
        if op.name == "torch.constant":
            key = op.key
            if key:
                parts = key.split(".")
                for i in range(1, len(parts)):
                    taken.add(".".join(parts[:i]))
    return taken


def to_hl(op: Operation, owner: str) -> Operation:
    """The hl op computing what torch op `op` computes, owned by `owner` (not inserted).

    Built from the torch op's operands and properties directly: the hl op declares the
    same operands and attributes (plus the fused ones, absent here), so nothing needs
    re-checking, and this runs once per op of the model.
    """
    cls = hl.OPS[op.name[len("torch."):]]
    props = {k: v for k, v in op.properties.items() if k not in _ORIGIN and k != "operandSegmentSizes"}
    props["owner"] = StringAttr(owner)
    d = cls.definition
    if d.operand_segments:
        sizes = [n for _, n in op.definition.operand_groups(op)]
        props["operandSegmentSizes"] = DenseArrayAttr(i32, sizes + [0] * (len(d.operands) - len(sizes)))
    attrs = {k: v for k, v in op.attributes.items() if k not in _ORIGIN} if op.attributes else None
    new = cls.create(op.operands, [r.type for r in op.results], attrs, props, location=op.location)
    for old_r, new_r in zip(op.results, new.results):
        new_r.name_hint = old_r.name_hint
    return new


def functional_to_module(root: Operation) -> int:
    """Rewrite every convertible torch op under `root` in place; returns how many."""
    ops = list(root.walk(include_self=False))
    namer = OwnerNamer(taken_names(ops))
    converted = 0
    for op in ops:
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
