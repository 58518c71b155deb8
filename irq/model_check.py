"""`irq.check_model`: what a deployment engineer must know before quantizing a model.

The report (written as model_check_result.txt, like horizon_plugin_pytorch's check,
and returned as data) lists, for a torch- or hl-level module:

- ops kept as `torch.call` (opaque to irq: never quantized or compiled), with the
  shape arithmetic among them set apart;
- modules called more than once: a shared module gets one quantization state for
  all its call sites unless it is duplicated;
- ops the target march does not support, and every violation of the march profile
  (`irq.march_profiles`: op names, activation dtypes, kernel/stride/dilation/channel limits,
  resize modes) with the op's location: what `irq.convert` would refuse, reported before it
  runs. Profile limits are checked on fused modules (hl level and below), where ops are the ones
  that will be lowered;
- fused groups (hl ops the fuse pass merged, and groups the user fused with torch.ao
  that are not merged yet) and fusable patterns the fuse pass refused, with the
  reason it recorded (`hl.unfused` on the op that would have absorbed them).

The march tables below are provisional until the bpu dialect defines lowering;
they are data, so adding a march or an op is one line.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from irq.ir.attributes import ArrayAttr, DictionaryAttr, StringAttr
from irq.ir.location import FusedLoc, Location
from irq.ir.operation import Operation
from irq.ir.types import ShapedType

_COMMON = frozenset({
    "conv1d", "conv2d", "conv_transpose2d", "linear", "batch_norm", "relu", "relu6", "hardtanh", "leaky_relu",
    "hardswish", "hardsigmoid", "sigmoid", "tanh", "gelu", "silu", "exp", "softmax", "add", "sub", "mul", "div",
    "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar", "div_scalar", "matmul", "bmm", "cat", "stack",
    "flatten", "reshape", "view", "permute", "transpose", "unsqueeze", "squeeze", "contiguous", "getitem", "slice",
    "select", "chunk", "split", "interpolate", "pad", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "mean",
    "sum", "clamp", "dropout", "identity", "quant_stub", "dequant_stub", "size", "constant",
})

#: Ops each march supports (base names, for torch.* and hl.* alike).
MARCH_SUPPORT: dict[str, frozenset[str]] = {
    "bayes": _COMMON | {"layer_norm", "embedding"},  # a table lookup: int8 rows, int8/int16 out
    "nash": _COMMON | {"layer_norm", "group_norm", "embedding", "sqrt", "rsqrt", "abs", "neg", "log_softmax",
                       "rsub_scalar", "rdiv_scalar"},
}


def _attr_str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, StringAttr) else None


#: Per-op conditions beyond the op name: a reason string when unsupported.
CONDITIONS: dict[str, Callable[[Operation], str | None]] = {
    "interpolate": lambda op: None if _attr_str(op, "mode") in ("nearest", "bilinear") else
    f"mode '{_attr_str(op, 'mode')}' (only nearest and bilinear)",
    "pad": lambda op: None if _attr_str(op, "mode") == "constant" else f"mode '{_attr_str(op, 'mode')}' "
    "(only constant padding)",
    "getitem": lambda op: "indexing with tensors" if len(op.operands) > 1 else None,
}


@dataclass
class Entry:
    """One reported op: its name, module path (or scope), location and what is wrong or notable."""

    op: str
    path: str
    location: str
    detail: str = ""


@dataclass
class SharedModule:
    """A module (or owner) used by several ops of the same kind: one quantization state for all of them."""

    path: str
    calls: int
    ops: list[str]

    @property
    def detail(self) -> str:
        return (f"the {self.calls} calls will share one quantization state (the same observers and scales); "
                "if they see different value ranges, duplicate the module: one instance per call")


@dataclass
class ModelCheckResult:
    """The model check as data; `text()` is the model_check_result.txt layout."""

    march: str
    num_ops: int
    torch_calls: list[Entry] = field(default_factory=list)
    shape_arithmetic: list[Entry] = field(default_factory=list)
    shared_modules: list[SharedModule] = field(default_factory=list)
    unsupported: list[Entry] = field(default_factory=list)
    fused_groups: list[Entry] = field(default_factory=list)
    unfused_patterns: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: owner -> the qconfig rule that won (quantized level only)
    qconfig_rules: dict[str, str] = field(default_factory=dict)
    #: ops quant-annotate left in float, with the reason
    float_ops: list[Entry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Deployable as far as the check can tell: nothing opaque, nothing unsupported."""
        return not self.torch_calls and not self.unsupported

    def text(self) -> str:
        out = [f"irq model check (march: {self.march}, {self.num_ops} ops)", ""]

        def section(title: str, rows: list[str], empty: str) -> None:
            out.append(f"== {title} ==")
            out.extend(rows or [f"  {empty}"])
            out.append("")

        section("Fused groups", [f"  {e.path}: {e.op}: {e.detail} ({e.location})" for e in self.fused_groups], "none")
        section("Fusable patterns left unfused",
                [f"  {e.path}: {e.op} - {e.detail} ({e.location})" for e in self.unfused_patterns], "none")
        section("Modules called more than once (one quantization state shared by all calls unless duplicated)",
                [f"  {s.path}: called {s.calls} times ({', '.join(s.ops)}): {s.detail}" for s in self.shared_modules],
                "none")
        section(f"Ops not supported on march '{self.march}'",
                [f"  {e.op} at {e.path or '<model>'}: {e.detail} ({e.location})" for e in self.unsupported], "none")
        section("Ops kept as torch.call (opaque: not quantized, not compiled)",
                [f"  {e.detail} at {e.path or '<model>'} ({e.location})" for e in self.torch_calls], "none")
        section("Shape arithmetic kept as torch.call (resolved when the shapes are fixed)",
                [f"  {e.detail} at {e.path or '<model>'} ({e.location})" for e in self.shape_arithmetic], "none")
        if self.qconfig_rules or self.float_ops:
            section("Quantization (qconfig rule per owner)",
                    [f"  {o}: {r}" for o, r in self.qconfig_rules.items()], "none")
            section("Ops left in float (between a dequantize and a quantize)",
                    [f"  {e.op} at {e.path or '<model>'}: {e.detail} ({e.location})" for e in self.float_ops], "none")
        if self.notes:
            section("Notes", [f"  {n}" for n in self.notes], "")
        return "\n".join(out).rstrip() + "\n"

    def write(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.text())


def _loc_text(loc: Location) -> str:
    flc = loc.file_line_col() if loc is not None else None
    return f"{flc[0]}:{flc[1]}" if flc else "unknown location"


def _path(op: Operation) -> str:
    return _attr_str(op, "owner") or _attr_str(op, "module") or _attr_str(op, "scope") or ""


def _all_values_scalar(op: Operation) -> bool:
    return all(not isinstance(v.type, ShapedType) for v in (*op.operands, *op.results))


#: Attribute the fuse pass sets on an op whose fusions it refused (see passes/fuse.py).
UNFUSED_ATTR = "hl.unfused"
#: Attribute quant-annotate sets on ops it leaves in float (see passes/quant_annotate.py).
FLOAT_ATTR = "qat.float"
_WEIGHTED = frozenset({"hl.conv1d", "hl.conv2d", "hl.conv_transpose2d", "hl.linear"})


def _dict_str(d: DictionaryAttr, key: str) -> str:
    v = d.value.get(key)
    return v.value if isinstance(v, StringAttr) else "?"


def _fused_entry(op: Operation, where: str) -> Entry | None:
    """An Entry for an hl conv/linear that carries fused parts, naming every member."""
    if op.name not in _WEIGHTED:
        return None
    parts = []
    if op.get_attr("bn_eps") is not None:
        parts.append("bn")
    if op.residual is not None:
        parts.append("add")
    if op.get_attr("activation") is not None:
        parts.append("relu")
    if not parts:
        return None
    loc = op.location
    meta = loc.metadata if isinstance(loc, FusedLoc) else None
    members = [a.value for a in meta] if isinstance(meta, ArrayAttr) else [_path(op)]
    detail = " + ".join(members)
    g = op.get_attr("fused_group")
    if isinstance(g, StringAttr):
        detail += f" (fused by the user: {g.value})"
    return Entry("-".join(["conv", *parts]), _path(op), where, detail)


def known_marches() -> list[str]:
    """The built-in marches and every march profile registered (irq.march_profiles.register_march)."""
    from irq.march_profiles import get_march, registered_marches
    get_march("bayes")  # loads the shipped profiles
    return sorted(set(MARCH_SUPPORT) | set(registered_marches()))


def _add_march_violations(module: Operation, march: str, res: ModelCheckResult) -> None:
    """Add the march profile's violations (the ones irq.convert reports) to `res.unsupported`.

    Before fusion a conv's batch norm and relu are separate torch ops the profile does not list, so a
    torch-level module gets a note instead of false alarms."""
    from irq.march_profiles import check_march
    if not any(op.dialect_name in ("hl", "qat", "quant") for op in module.walk()):
        res.notes.append("march profile limits (dtypes, kernel/stride/channel limits) are checked on fused "
                         "modules: run the fuse pass first (irq.prepare and `irq check` do)")
        return
    listed = {(e.op, e.location, e.path) for e in res.unsupported}
    for v in check_march(module, march):
        where = _loc_text(v.op.location)
        if (v.op.name, where, _path(v.op)) in listed and v.message.startswith("is not supported"):
            continue  # already reported by name
        res.unsupported.append(Entry(v.op.name, _path(v.op), where, v.message))


def check_model(module: Operation, *, march: str = "bayes",
                path: str | os.PathLike | None = "model_check_result.txt") -> ModelCheckResult:
    """Check a torch/hl-level module; writes the report to `path` (None: do not write)."""
    if march not in known_marches():
        raise ValueError(f"unknown march '{march}'; known: {', '.join(known_marches())}")
    # a march registered by the user (irq.march_profiles.register_march) is checked by its profile alone
    supported = MARCH_SUPPORT.get(march)
    ops = [op for op in module.walk() if op.dialect_name in ("torch", "hl")]
    res = ModelCheckResult(march, len(ops))
    per_owner: dict[str, Counter] = defaultdict(Counter)
    groups: dict[str, tuple[str, list[str]]] = {}
    for op in ops:
        base = op.name.partition(".")[2]
        where = _loc_text(op.location)
        if op.name == "torch.call":
            target = _attr_str(op, "target") or "?"
            entry = Entry(op.name, _path(op), where, target)
            (res.shape_arithmetic if _all_values_scalar(op) else res.torch_calls).append(entry)
        elif supported is None:
            pass
        elif base not in supported:
            res.unsupported.append(Entry(op.name, _path(op), where, "op not supported"))
        else:
            cond = CONDITIONS.get(base)
            reason = cond(op) if cond else None
            if reason:
                res.unsupported.append(Entry(op.name, _path(op), where, reason))
        owner = _attr_str(op, "owner") if op.dialect_name == "hl" else _attr_str(op, "module")
        if owner is not None and op.name != "torch.constant":
            per_owner[owner][op.name] += 1
        fused = _fused_entry(op, where)
        if fused is not None:
            res.fused_groups.append(fused)
        else:
            g = op.get_attr("fused_group")
            if isinstance(g, StringAttr):
                groups.setdefault(g.value, (where, []))[1].append(op.name)
        refused = op.attributes.get(UNFUSED_ATTR)
        if isinstance(refused, ArrayAttr):
            for r in refused:
                if isinstance(r, DictionaryAttr):
                    res.unfused_patterns.append(Entry(_dict_str(r, "pattern"), _path(op), where,
                                                      _dict_str(r, "reason")))
    _add_march_violations(module, march, res)
    for op in module.walk():
        if op.name == "qat.fake_quant":
            rule = _attr_str(op, "rule")
            owner = _attr_str(op, "owner") or ""
            if rule is not None and owner not in res.qconfig_rules:
                res.qconfig_rules[owner] = rule
        reason = op.attributes.get(FLOAT_ATTR)
        if isinstance(reason, StringAttr):
            res.float_ops.append(Entry(op.name, _path(op), _loc_text(op.location), reason.value))
    for m, counts in per_owner.items():
        calls = max(counts.values())
        if calls > 1:
            res.shared_modules.append(SharedModule(m, calls, sorted(counts)))
    for g, (where, names) in groups.items():
        res.fused_groups.append(Entry("fused by the user (not merged yet: run fuse)", g, where, " + ".join(names)))
    if path is not None:
        res.write(path)
    return res
