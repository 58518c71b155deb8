"""Quantization configs: which quantizer each value of a model gets, and which rule chose it.

A `QConfig` names two quantizer specs, one for an op's output (activation) and one for its
weights, as horizon_plugin_pytorch's and torch.ao's qconfigs do. A `QConfigRules` assigns
qconfigs to owners (the hl op paths `layer1.0.conv1`, `layer1.0.add`): a global default,
then rules by module type, owner glob, op kind or a callable, applied in the order they were
added, *later rules winning*. The winning rule is recorded per owner (the model check prints
it), because "why did this layer get int16?" is the first question of a mixed-precision
user.

Everything here is plain data (no torch), so the annotation pass and `irq-opt` use it too.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

#: Quantized dtypes as users spell them, and the storage dtype names of irq.fixedpoint.
DTYPES: dict[str, str] = {"qint8": "i8", "qint16": "i16", "qint32": "i32"}
OBSERVERS = ("min_max", "moving_average_min_max", "per_channel_min_max", "percentile", "mse", "fixed")
QSCHEMES = ("per_tensor", "per_channel")


@dataclass(frozen=True)
class QuantizerSpec:
    """How one value is quantized: symmetric, zero point 0 (docs/design.md, Fixed-point semantics).

    dtype: qint8 / qint16, or qint32 for a conv/linear's high-precision output (its scale is then
    derived, ``s_in * s_w``, never observed). observer: how the scale is found. averaging_constant:
    the moving-average observer's weight of a new batch. fixed_scale: a scale that is never
    observed (a QuantStub with a known input range, or an activation with a stated output range).
    percentile: the |x| percentile the percentile observer clips at. learnable: LSQ, the scale is
    a trained parameter. clip: for unbounded functions (exp, reciprocal) the observed range is
    clipped to [-clip, clip].
    """

    dtype: str = "qint8"
    observer: str = "min_max"
    qscheme: str = "per_tensor"
    averaging_constant: float = 0.01
    fixed_scale: float | None = None
    percentile: float = 99.99
    learnable: bool = False
    clip: float | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown quantized dtype '{self.dtype}' (expected one of {', '.join(DTYPES)})")
        if self.observer not in OBSERVERS:
            raise ValueError(f"unknown observer '{self.observer}' (expected one of {', '.join(OBSERVERS)})")
        if self.qscheme not in QSCHEMES:
            raise ValueError(f"unknown qscheme '{self.qscheme}' (expected one of {', '.join(QSCHEMES)})")
        if self.observer == "fixed" and self.fixed_scale is None:
            raise ValueError("the fixed observer needs fixed_scale")
        if not 0.0 < self.averaging_constant <= 1.0:
            raise ValueError(f"averaging_constant must be in (0, 1], got {self.averaging_constant}")

    @property
    def storage(self) -> str:
        """irq.fixedpoint's storage dtype name ("i8", "i16", "i32")."""
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class QConfig:
    """Quantizers for an owner: `activation` for its output (None: the op stays float), `weight` for
    its weight (conv/linear). `name` is how reports refer to it."""

    activation: QuantizerSpec | None
    weight: QuantizerSpec | None
    name: str = "custom"


#: The stated output range of unbounded functions: their observed range is clipped to [-r, r] unless the
#: qconfig sets `clip` (horizon_plugin_pytorch clips exp and reciprocal outputs the same way; one outlier
#: near a zero denominator would otherwise take the whole int8 range).
UNBOUNDED_OUTPUT_RANGE: dict[str, float] = {"exp": 64.0, "rdiv_scalar": 64.0}

_WEIGHT = QuantizerSpec("qint8", "per_channel_min_max", "per_channel")

#: Post-training calibration: MSE search over a histogram for activations (robust to outliers,
#: which min-max is not), per-channel min-max weights.
default_calib_8bit = QConfig(QuantizerSpec("qint8", "mse"), _WEIGHT, "default_calib_8bit")
#: QAT: moving-average min-max activations (horizon's averaging constant 0.01), per-channel weights.
default_qat_8bit = QConfig(QuantizerSpec("qint8", "moving_average_min_max"), _WEIGHT, "default_qat_8bit")
#: A final conv/linear emitting its int32 accumulator (scale s_in * s_w), as horizon's template.
default_qat_8bit_weight_32bit_out = QConfig(QuantizerSpec("qint32", "fixed", fixed_scale=1.0), _WEIGHT,
                                            "default_qat_8bit_weight_32bit_out")
default_calib_8bit_weight_32bit_out = replace(default_qat_8bit_weight_32bit_out,
                                              name="default_calib_8bit_weight_32bit_out")
default_calib_16bit = QConfig(QuantizerSpec("qint16", "mse"), _WEIGHT, "default_calib_16bit")
default_qat_16bit = QConfig(QuantizerSpec("qint16", "moving_average_min_max"), _WEIGHT, "default_qat_16bit")
#: Leave an owner in float.
float_qconfig = QConfig(None, None, "float")

TEMPLATES: dict[str, QConfig] = {q.name: q for q in (
    default_calib_8bit, default_qat_8bit, default_qat_8bit_weight_32bit_out, default_calib_8bit_weight_32bit_out,
    default_calib_16bit, default_qat_16bit, float_qconfig)}


def template(name: str) -> QConfig:
    """A template by name (what `irq-opt -p 'quant-annotate{qconfig=...}'` takes)."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValueError(f"unknown qconfig template '{name}' (known: {', '.join(sorted(TEMPLATES))})") from None


@dataclass(frozen=True)
class OwnerInfo:
    """What a rule can look at: the owner path, the op kind (`conv2d`, `add`) and the module's type
    name (`torch.nn.modules.conv.Conv2d`, empty for functional ops)."""

    owner: str
    kind: str
    module_type: str = ""


@dataclass(frozen=True)
class Rule:
    """One assignment: `matches(info)` decides, `describe` names it in reports."""

    describe: str
    matches: Callable[[OwnerInfo], bool]
    qconfig: QConfig
    #: what the rule looks at ("owner", "module type", "op kind", "callable"): reports on a rule that
    #: matched nothing say where to look (a misspelt glob is the usual cause)
    category: str = "callable"
    #: the glob, type name or kind the rule compares with
    key: str = ""


@dataclass
class QConfigRules:
    """Ordered qconfig assignment; later rules win, as a user overriding a default expects.

        rules = QConfigRules(default_qat_8bit)
        rules.set_owner("head.*", default_qat_16bit)
        rules.set_owner("head.cls", default_qat_8bit_weight_32bit_out)
    """

    global_qconfig: QConfig = default_qat_8bit
    rules: list[Rule] = field(default_factory=list)

    def set_global(self, qconfig: QConfig) -> QConfigRules:
        self.global_qconfig = qconfig
        return self

    def set_module_type(self, module_type: type | str, qconfig: QConfig) -> QConfigRules:
        """Every owner that is a module of this type (a class, or its qualified name)."""
        name = module_type if isinstance(module_type, str) else f"{module_type.__module__}.{module_type.__qualname__}"
        short = name.rpartition(".")[2]
        self.rules.append(Rule(f"module type {short}", lambda i: i.module_type == name, qconfig, "module type", name))
        return self

    def set_owner(self, pattern: str, qconfig: QConfig) -> QConfigRules:
        """Owners matching a glob (`backbone.*`, `head.cls`)."""
        self.rules.append(Rule(f"owner '{pattern}'", lambda i: fnmatch.fnmatchcase(i.owner, pattern), qconfig,
                               "owner", pattern))
        return self

    def set_op_kind(self, kind: str, qconfig: QConfig) -> QConfigRules:
        """Every op of a kind (`add`, `cat`, `conv2d`)."""
        self.rules.append(Rule(f"op kind {kind}", lambda i: i.kind == kind, qconfig, "op kind", kind))
        return self

    def set_callable(self, fn: Callable[[OwnerInfo], QConfig | None], describe: str = "callable") -> QConfigRules:
        """`fn(info)` returns a qconfig for the owners it cares about, None for the others."""
        self.rules.append(Rule(describe, lambda i: fn(i) is not None, _CallableQConfig(fn)))  # type: ignore[arg-type]
        return self

    def resolve(self, info: OwnerInfo) -> tuple[QConfig, str]:
        """(qconfig, the rule that won) for an owner."""
        chosen, why = self.global_qconfig, f"global {self.global_qconfig.name}"
        for rule in self.rules:
            if rule.matches(info):
                q = rule.qconfig
                if isinstance(q, _CallableQConfig):
                    q = q.fn(info)
                chosen, why = q, f"{rule.describe} -> {q.name}"
        return chosen, why

    def unmatched(self, owners: Iterable[OwnerInfo]) -> list[str]:
        """One line per owner / module type / op kind rule that matches none of `owners`, saying what
        exists instead. A misspelt glob (`layer1.0.conv*` for `layer1.0.conv1`) or a module type the
        fused graph no longer shows changes nothing and would otherwise pass silently. Callable rules
        are not reported (returning None for every owner is a legitimate choice of the callable)."""
        owners = list(owners)
        problems = []
        for rule in self.rules:
            if rule.category == "callable" or any(rule.matches(i) for i in owners):
                continue
            if rule.category == "owner":
                names = sorted({i.owner for i in owners})
                close = difflib.get_close_matches(rule.key, names, n=3, cutoff=0.6)
                hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                        f"owners are op paths such as {', '.join(repr(n) for n in names[:3])}")
            elif rule.category == "module type":
                types = sorted({i.module_type.rpartition('.')[2] for i in owners if i.module_type})
                hint = f"owners are modules of type {', '.join(types) or '(none)'}"
            else:
                hint = f"the op kinds quantized are {', '.join(sorted({i.kind for i in owners}))}"
            problems.append(f"qconfig rule {rule.describe} -> {rule.qconfig.name} matches no owner of the model; "
                            f"{hint}")
        return problems


@dataclass(frozen=True)
class _CallableQConfig:
    fn: Callable[[OwnerInfo], QConfig | None]


def as_rules(qconfig: QConfig | QConfigRules | dict | str | None) -> QConfigRules:
    """Accept what users pass to `prepare(qconfig=...)`: one QConfig, a template name, ready rules,
    or a dict {"": global, "owner glob": qconfig, SomeModuleClass: qconfig}."""
    if qconfig is None:
        return QConfigRules()
    if isinstance(qconfig, QConfigRules):
        return qconfig
    if isinstance(qconfig, str):
        return QConfigRules(template(qconfig))
    if isinstance(qconfig, QConfig):
        return QConfigRules(qconfig)
    if isinstance(qconfig, dict):
        g = qconfig.get("", default_qat_8bit)
        rules = QConfigRules(template(g) if isinstance(g, str) else g)
        for key, q in qconfig.items():
            if key == "":
                continue
            q = template(q) if isinstance(q, str) else q
            if isinstance(key, type):
                rules.set_module_type(key, q)
            else:
                rules.set_owner(key, q)
        return rules
    raise TypeError(f"qconfig must be a QConfig, a template name, QConfigRules or a dict, got {type(qconfig)}")
