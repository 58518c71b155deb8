"""March profiles: what a BPU generation can execute, as data (`irq/marches/<name>.json`).

A profile lists, per frozen-level op (base name, as `hl.conv2d` / `torch.max_pool2d` -> "conv2d",
"max_pool2d"), the activation dtypes it accepts and optional limits:

    {"name": "mychip", "description": "...",
     "ops": {"conv2d": {"dtypes": ["i8"], "max_kernel": 7, "max_stride": 2, "max_channels": 2048,
                        "max_dilation": 16},
             "interpolate": {"dtypes": ["i8"], "modes": ["nearest"]},
             "reshape": {}}}                      # {} : any dtype, no limits

Add your own with `irq.march_profiles.register_march("path/to/mychip.json")` (or a dict of the same
shape) and pass `march="mychip"` to `irq.convert`. `check_march` reports every violation with the op's
location before anything is lowered; ops that are not listed are unsupported.

The profiles are the single source of what a march supports: quant-annotate quantizes exactly the ops the
profile lists (`supported_ops`), the model check reports the others, and lower-bpu has a lowering for every
op a shipped profile lists (tests/test_march_registry.py lowers and runs each one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irq.diagnostics import location_prefix
from irq.ir.operation import Operation
from irq.ir.types import ShapedType

_LIMIT_KEYS = ("dtypes", "max_kernel", "max_stride", "max_channels", "max_dilation", "modes")


@dataclass(frozen=True)
class OpLimits:
    dtypes: tuple[str, ...] | None = None
    max_kernel: int | None = None
    max_stride: int | None = None
    max_channels: int | None = None
    max_dilation: int | None = None
    modes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MarchProfile:
    name: str
    description: str = ""
    ops: dict[str, OpLimits] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> MarchProfile:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("ops"), dict):
            raise ValueError(f"{source}: a march profile needs a string 'name' and an 'ops' object")
        ops = {}
        for op, limits in data["ops"].items():
            unknown = set(limits) - set(_LIMIT_KEYS)
            if unknown:
                raise ValueError(f"{source}: op '{op}' has unknown limit(s) {sorted(unknown)} "
                                 f"(known: {', '.join(_LIMIT_KEYS)})")
            kw = {k: tuple(v) if isinstance(v, list) else v for k, v in limits.items()}
            ops[op] = OpLimits(**kw)
        return cls(data["name"], data.get("description", ""), ops)


_PROFILES: dict[str, MarchProfile] = {}
_SHIPPED_LOADED = False


def _load_shipped() -> None:
    """Register irq/marches/*.json once, before anything else: a user's march registered first must not
    hide the shipped ones, and a user's replacement of a shipped one must not be overwritten later."""
    global _SHIPPED_LOADED
    if not _SHIPPED_LOADED:
        _SHIPPED_LOADED = True
        for p in sorted((Path(__file__).parent / "marches").glob("*.json")):
            _add(p)


def _add(profile: MarchProfile | dict | str | Path) -> MarchProfile:
    if isinstance(profile, (str, Path)):
        path = Path(profile)
        profile = MarchProfile.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    elif isinstance(profile, dict):
        profile = MarchProfile.from_dict(profile)
    _PROFILES[profile.name] = profile
    return profile


def register_march(profile: MarchProfile | dict | str | Path) -> MarchProfile:
    """Add a profile (a MarchProfile, a dict, or a JSON file path); returns it. Replaces one of the same name."""
    _load_shipped()
    return _add(profile)


def registered_marches() -> list[str]:
    """Names of every registered profile: the shipped ones and the user's."""
    _load_shipped()
    return sorted(_PROFILES)


def get_march(name: str) -> MarchProfile:
    _load_shipped()
    try:
        return _PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown march '{name}' (known: {', '.join(sorted(_PROFILES))})") from None


#: Ops no march executes because they are compile-time facts, not computations: a static size, a constant,
#: and the quantized region's boundaries (their casts become bpu.quantize / bpu.dequantize).
COMPILE_TIME_OPS = frozenset({"size", "constant", "quant_stub", "dequant_stub"})


def supported_ops(march: str) -> frozenset[str]:
    """The op base names `march` runs: its profile's ops (the one registry of what a march supports, read
    by quant-annotate, the model check and lower-bpu's check alike) plus the compile-time ops."""
    return frozenset(get_march(march).ops) | COMPILE_TIME_OPS


@dataclass
class Violation:
    op: Operation
    message: str

    def __str__(self) -> str:
        return f"{location_prefix(self.op.location)}: '{self.op.name}' {self.message}"


def _activation_dtype(op: Operation) -> str | None:
    """Storage dtype of the op's first quantized input, if any: the dcast it reads (frozen level) or the
    activation fake quant (qat level, so the model check sees dtypes before freezing)."""
    for v in op.operands:
        src = getattr(v, "op", None)
        if src is not None and src.name == "qat.fake_quant":
            slot, dtype = src.get_attr("slot"), src.get_attr("dtype")
            if getattr(slot, "value", None) != "weight" and getattr(dtype, "value", "").startswith("qint"):
                return "i" + dtype.value[4:]
        if src is not None and src.name == "quant.dcast":
            e = src.operands[0].type.element_type
            if hasattr(e, "storage_type") and not hasattr(e, "scales"):
                return f"i{e.storage_type.width}"
    return None


def _ints(op: Operation, name: str) -> list[int]:
    a = op.get_attr(name)
    if a is None:
        return []
    return [a.value] if hasattr(a, "value") and isinstance(a.value, int) else [x.value for x in a]


def _shape(v) -> tuple[int, ...] | None:
    t = v.type
    return tuple(t.shape) if isinstance(t, ShapedType) and t.has_static_shape else None


def op_violations(op: Operation, profile: MarchProfile) -> list[str]:
    """Why `op` cannot run on the march (empty when it can)."""
    if op.name == "torch.call":
        target = op.get_attr("target")
        return [f"is an opaque call of '{target.value if target is not None else '?'}': no march runs it"]
    base = op.name.partition(".")[2]
    limits = profile.ops.get(base)
    if limits is None:
        return [f"is not supported on march '{profile.name}'"]
    out = []
    dtype = _activation_dtype(op)
    if limits.dtypes is not None and dtype is not None and dtype not in limits.dtypes:
        out.append(f"has {dtype} inputs; march '{profile.name}' supports {', '.join(limits.dtypes)} for {base}")
    kernel: list[int] = []
    if base in ("conv1d", "conv2d", "conv_transpose2d") and len(op.operands) > 1 and _shape(op.operands[1]):
        kernel = list(_shape(op.operands[1])[2:])
    elif base in ("max_pool2d", "avg_pool2d"):
        kernel = _ints(op, "kernel_size")
    checks = (("kernel", kernel, limits.max_kernel), ("stride", _ints(op, "stride"), limits.max_stride),
              ("dilation", _ints(op, "dilation"), limits.max_dilation))
    for what, values, limit in checks:
        if limit is not None and values and max(values) > limit:
            out.append(f"{what} {values} exceeds march '{profile.name}' limit {limit}")
    if limits.max_channels is not None and base in ("conv1d", "conv2d", "conv_transpose2d", "linear"):
        shapes = [s for s in (_shape(op.operands[0]), _shape(op.results[0])) if s]
        axis = -1 if base == "linear" else 1
        channels = max((s[axis] for s in shapes if len(s) > 1), default=0)
        if channels > limits.max_channels:
            out.append(f"has {channels} channels; march '{profile.name}' allows {limits.max_channels}")
    if limits.modes is not None:
        mode = op.get_attr("mode")
        if mode is not None and mode.value not in limits.modes:
            out.append(f"mode '{mode.value}' is not supported on march '{profile.name}' ({', '.join(limits.modes)})")
    return out


def is_static_size_computation(op: Operation) -> bool:
    """Whether `op` is Python arithmetic on static tensor sizes (`c // heads` after `b, n, c = x.shape`).

    The frontend keeps such arithmetic as scalar `torch.call`s feeding view/reshape sizes so the torch module
    runs any batch size; at the frozen level every shape is static, so it is a compile-time constant that
    lower-bpu reads from the result types, not an op a march must run. Only arithmetic rooted in sizes (and
    scalar constants) counts: a scalar computed from tensor *data* (`x.max().item() * 2`) is not a size."""
    if op.name == "torch.size":
        return bool(op.operands) and _shape(op.operands[0]) is not None
    if op.name != "torch.call" or not op.operands or any(isinstance(r.type, ShapedType) for r in op.results):
        return False
    return all(getattr(v, "op", None) is not None and (
        is_static_size_computation(v.op)
        or (v.op.name in ("torch.constant", "arith.constant") and not isinstance(v.type, ShapedType)))
        for v in op.operands)


def check_march(root: Operation, march: str) -> list[Violation]:
    """Every frozen-level op under `root` that the march cannot execute, with the reasons."""
    profile = get_march(march)
    found = []
    for op in root.walk():
        if op.dialect_name not in ("torch", "hl") or op.name == "torch.constant":
            continue
        if is_static_size_computation(op):
            continue  # a static size is a compile-time constant: lower-bpu reads it where it is used
        if op.name in ("hl.quant_stub", "hl.dequant_stub"):
            continue  # the quantized region's boundaries: their casts are bpu.quantize / bpu.dequantize
        found += [Violation(op, msg) for msg in op_violations(op, profile)]
    return found
