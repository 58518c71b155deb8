"""quant-annotate: insert `qat.fake_quant` ops where the deployed program will hold quantized values.

    irq-opt m.irq -p 'builtin.module(func.func(functional-to-module, fuse, quant-annotate{qconfig=default_qat_8bit}))'

Where fake-quants go (docs/design.md, Fixed-point semantics):

- model inputs: after each `hl.quant_stub` (its `scale`, when given, is a fixed scale); a model
  without stubs gets one on every float input (`<arg>.input_quant`);
- each owner's output (`<owner>.out_quant`), and each conv/linear weight (`<owner>.weight_quant`,
  symmetric per output channel) and embedding table (per row: each row is requantized to the output
  scale as it is gathered). A fused group is one hl op, so nothing is inserted inside it:
  its batch norm, residual add and relu stay in high precision, as on the chip;
- a qint32 output (`default_qat_8bit_weight_32bit_out`) gets a marker fake-quant whose scale is
  derived (s_in * s_w), never observed.

Where they do not: ops that only move data (reshape, permute, flatten, max pool, slice, nearest
interpolate, dropout) and a relu after a quantized producer reuse their input's quantizer, since
the codes pass through unchanged. cat and add get their own output quantizer: each input is
requantized to the output scale (design.md). Ops kept opaque (`torch.call`), ops the march does
not support and owners whose qconfig has no activation quantizer stay float: their inputs are
the dequantized values, their outputs are quantized again where a quantized op consumes them.
Those ops are marked `qat.float = "<reason>"` and listed by the model check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from irq.dialects import hl
from irq.dialects.qat import FakeQuantOp

from irq.ir.attributes import StringAttr, UnitAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, ShapedType
from irq.ir.values import BlockArgument, Value
from irq.march import march_name_of
from irq.model_check import FLOAT_ATTR
from irq.qconfig import (
    UNBOUNDED_OUTPUT_RANGE,
    OwnerInfo,
    QConfig,
    QConfigRules,
    QuantizerSpec,
    as_rules,
    template,
)
from irq.transform.pass_base import Option, Pass, register_pass

#: hl ops whose output codes are their input codes (given a quantized input): no quantizer of their own.
_PASSTHROUGH_HL = frozenset({"relu", "identity", "contiguous", "dropout"})
_WEIGHTED = frozenset(hl.OPS[k].name for k in ("conv1d", "conv2d", "conv_transpose2d", "linear"))
#: Binary/variadic ops whose constant operands are data (quantized), not parameters.
_DATA_OPERAND_OPS = frozenset({"add", "sub", "mul", "div", "matmul", "bmm", "cat", "stack"})


def _is_float_tensor(v: Value) -> bool:
    t = v.type
    return isinstance(t, ShapedType) and isinstance(t.element_type, FloatType)


def _str(op: Operation, name: str) -> str | None:
    a = op.get_attr(name)
    return a.value if isinstance(a, StringAttr) else None


def is_passthrough(op: Operation) -> bool:
    """Ops whose result codes are their first operand's codes (scale shared)."""
    if op.dialect_name == "torch":
        return op.name.partition(".")[2] in hl.DATA_MOVEMENT
    if op.dialect_name != "hl":
        return False
    base = op.name.partition(".")[2]
    if base in _PASSTHROUGH_HL:
        return True
    return base == "interpolate" and _str(op, "mode") == "nearest"


def weight_axis(op: Operation) -> int | None:
    """The output-channel axis of a conv/linear weight (None: per-tensor only)."""
    if op.name == "hl.conv_transpose2d":
        groups = op.get_attr("groups")
        return 1 if groups is None or groups.value == 1 else None
    return 0


def supported_ops(march: str) -> frozenset[str]:
    """The ops annotation quantizes on `march`: those its profile lists (irq.march_profiles, the one
    registry; lower-bpu lowers every one of them). An op outside it stays float here, so VALIDATION
    computes it in float, as the deployed program's float island (`convert(..., float_fallback=True)`)
    does; quantizing it would give VALIDATION integer semantics the program never runs."""
    from irq.march_profiles import supported_ops as profile_ops
    return profile_ops(march)


class Annotator:
    """One function's annotation: tracks which values already carry a quantizer."""

    def __init__(self, rules: QConfigRules, march: str, module_types: dict[str, str]) -> None:
        self.rules = rules
        self.supported = supported_ops(march)
        self.module_types = module_types
        self.quantized: set[Value] = set()
        self.inserted = 0
        self.constant_data: dict[Value, Value] = {}  # a constant used as data -> its one data fake-quant
        self.float_ops = 0
        #: every owner a qconfig was resolved for (QConfigRules.unmatched reports rules matching none)
        self.owners: list[OwnerInfo] = []

    def qconfig(self, owner: str, kind: str) -> tuple[QConfig, str]:
        info = OwnerInfo(owner, kind, self.module_types.get(owner, ""))
        self.owners.append(info)
        return self.rules.resolve(info)

    def insert(self, value: Value, owner: str, slot: str, spec: QuantizerSpec, rule: str,
               axis: int | None = None, after: Operation | None = None) -> Value:
        """A fake-quant of `value` placed after its producer (or `after`); other uses switch to it."""
        attrs = {"owner": owner, "slot": slot, "dtype": spec.dtype, "observer": spec.observer,
                 "qscheme": "per_channel" if axis is not None else "per_tensor"}
        if axis is not None:
            attrs["axis"] = axis
        if spec.observer in ("moving_average_min_max",):
            attrs["averaging_constant"] = spec.averaging_constant
        if spec.fixed_scale is not None:
            attrs["fixed_scale"] = spec.fixed_scale
        if spec.observer == "percentile":
            attrs["percentile"] = spec.percentile
        if spec.clip is not None:
            attrs["clip"] = spec.clip
        if spec.learnable:
            attrs["learnable"] = UnitAttr()
        attrs["rule"] = rule
        defs = FakeQuantOp.definition.attributes
        fq = FakeQuantOp.create([value], [value.type], properties={k: defs[k].to_attr(v) for k, v in attrs.items()},
                                location=_location_of(value, after))
        fq.results[0].name_hint = None
        if after is not None:
            after.parent.insert_after(after, fq)
        elif isinstance(value, BlockArgument):
            value.owner.prepend(fq)
        else:
            value.owner.parent.insert_after(value.owner, fq)
        value.replace_uses_where(fq.results[0], lambda use: use.owner is not fq)
        self.quantized.add(fq.results[0])
        self.inserted += 1
        return fq.results[0]

    def data_spec(self, spec: QuantizerSpec) -> QuantizerSpec:
        """The spec for a value quantized on behalf of a consumer: a qint32 (accumulator-only)
        spec falls back to the global activation spec, or 8-bit moving-average min-max."""
        if spec.dtype != "qint32":
            return spec
        g = self.rules.global_qconfig.activation
        return g if g is not None and g.dtype != "qint32" else QuantizerSpec("qint8", "moving_average_min_max")

    def mark_float(self, op: Operation, reason: str) -> None:
        op.attributes[FLOAT_ATTR] = StringAttr(reason)
        self.float_ops += 1

    def run(self, fn: Operation) -> None:
        block = fn.regions[0].blocks[0]
        ops = list(block.ops)
        stubs = [op for op in ops if op.name == "hl.quant_stub"]
        if not stubs:
            taken = {(_str(op, "owner") or "") for op in ops}
            for i, arg in enumerate(block.args):
                if _is_float_tensor(arg) and _is_data_input(arg):
                    owner = arg.name_hint if arg.name_hint and arg.name_hint.isidentifier() else f"input_{i}"
                    owner = owner if owner not in taken else f"input_{i}"
                    q, rule = self.qconfig(owner, "input")
                    if q.activation is not None:
                        spec = self.data_spec(q.activation)
                        if spec.dtype == "qint8" and all(u.owner.name == "hl.layer_norm" for u in arg.uses):
                            spec = replace(spec, dtype="qint16")  # as _transformer_spec, for a model input
                        self.insert(arg, owner, "input", spec, rule)
        for op in ops:
            self.visit(op)

    def visit(self, op: Operation) -> None:
        name = op.name
        if name in ("torch.constant", "torch.size", "func.return") or op.dialect_name == "qat":
            return
        if is_passthrough(op):
            if op.operands and op.operands[0] in self.quantized:
                self.quantized.update(r for r in op.results if _is_float_tensor(r))
            return
        base = name.partition(".")[2]
        if name == "hl.dequant_stub":
            return
        if name == "torch.call":
            self.mark_float(op, "opaque call (torch.call)")
            return
        if op.dialect_name != "hl":
            self.mark_float(op, "not an hl op")
            return
        owner = _str(op, "owner") or ""
        if base not in self.supported:
            self.mark_float(op, "not supported by the march")
            return
        q, rule = self.qconfig(owner, base)
        if q.activation is None:
            self.mark_float(op, f"qconfig without an activation quantizer ({rule})")
            return
        if name == "hl.quant_stub":
            fixed = op.get_attr("scale")
            spec = q.activation
            if fixed is not None:
                spec = replace(spec, observer="fixed", fixed_scale=float(fixed.value))
            self.insert(op.results[0], owner, "out", spec, rule)
            return
        weighted = name in _WEIGHTED
        table = name == "hl.embedding"  # its weight is a table of int8 codes, per row or per tensor
        for i, (use_name, v) in enumerate(_operands(op)):
            if not _is_float_tensor(v) or v in self.quantized:
                continue
            if (weighted or table) and use_name == "weight":
                if q.weight is not None:
                    axis = weight_axis(op) if q.weight.qscheme == "per_channel" else None
                    wspec = q.weight
                    if axis is None and wspec.qscheme == "per_channel":
                                wspec = replace(wspec, qscheme="per_tensor", observer="min_max")
                    self.insert_for_use(op, i, owner, "weight", wspec, rule, axis)
                continue
            if weighted and use_name in _PARAMETER_OPERANDS:
                continue
            producer = v.owner if not isinstance(v, BlockArgument) else None
            if producer is not None and producer.name == "torch.constant" and base not in _DATA_OPERAND_OPS:
                continue  # a parameter of an op computed in float (layer_norm's weight...)
            slot = use_name if i else "input"
            spec = self.data_spec(q.activation)
            if base == "layer_norm" and spec.dtype == "qint8":
                spec = replace(spec, dtype="qint16")
            if producer is not None and producer.name == "torch.constant":
                # data uses only: the same parameter may also be another op's bias (an LSTM's b_hh is data in
                # its first step and the bias of every later one), which must keep reading the float constant;
                # every data use of it shares one quantizer (one set of codes in the program)
                shared = self.constant_data.get(v)
                if shared is not None:
                    op.set_operand(i, shared)
                    continue
                self.insert_for_use(op, i, owner, slot, spec, rule, None)
                self.constant_data[v] = op.operands[i]
                self.quantized.add(op.operands[i])
                continue
            self.insert(v, owner, slot, spec, rule)
        if not op.results or not _is_float_tensor(op.results[0]):
            return
        spec = q.activation
        if spec.clip is None and base in UNBOUNDED_OUTPUT_RANGE:
            spec = replace(spec, clip=UNBOUNDED_OUTPUT_RANGE[base])
        spec, rule = _transformer_spec(op, spec, rule)
        if spec.dtype == "qint32" and not weighted:
            spec = replace(template("default_qat_8bit").activation)  # only conv/linear can emit int32
            rule += " (qint32 output is for conv/linear only: qint8)"
        self.insert(op.results[0], owner, "out", spec, rule)

    def insert_for_use(self, op: Operation, index: int, owner: str, slot: str, spec: QuantizerSpec, rule: str,
                       axis: int | None) -> None:
        """A fake-quant on one operand use only (a weight shared by two ops gets one per owner)."""
        v = op.operands[index]
        fq_value = self.insert(v, owner, slot, spec, rule, axis)
        # insert() redirected every use; give the other users their original value back
        for use in list(fq_value.uses):
            if use.owner is not op:
                use.owner.set_operand(use.index, v)
        self.quantized.discard(fq_value)


#: The stated range of attention logits (the softmax input after an additive mask): an additive padding
#: mask (-1e4, HF's convention) would otherwise stretch the observed range to 1e4 and leave the scores
#: a handful of codes. In int16 over [-128, 128] a logit step is 0.004; a masked logit saturates at
#: -128, where bpu.softmax's exp table is 0, exactly what the float mask gives (docs/design.md).
SOFTMAX_INPUT_RANGE = 128.0


#: ops that apply an attention mask to the logits: an additive bias (add) or a fill (masked_fill / where with a
#: number, issue 12: -inf or a large negative fill becomes the range's minimum, -SOFTMAX_INPUT_RANGE)
_MASKING = frozenset({"add", "where_scalar"})


def _single_user(op: Operation) -> Operation | None:
    users = {u for r in op.results for u in r.users}
    return next(iter(users)) if len(users) == 1 else None


def _transformer_spec(op: Operation, spec: QuantizerSpec, rule: str) -> tuple[QuantizerSpec, str]:
    """int16 for the values a softmax exponentiates (attention logits) and a layer norm normalizes, when
    the qconfig says int8.

    A transformer's residual stream has a few outlier channels (MiniLM: |x| up to 224 where most are
    below 2): in int8 the other channels get a handful of codes and the layer norm's output loses them
    (cosine 0.82 on MiniLM's first layer); in int16 they keep their precision.

    An int8 logit step of max|x|/127 is exp(step) ~ 1.5x in probability for BERT's logits (about 0.4);
    in int16 the exp table has 65536 entries and the step is 256x finer. Two producers qualify: the
    additive mask's add (or masked_fill) right before a softmax (int16 and SOFTMAX_INPUT_RANGE, see there), and
    the score matmul feeding that add / masked_fill or the softmax directly (int16, observed range).
    """
    if spec.dtype != "qint8" or op.dialect_name != "hl":
        return spec, rule
    user = _single_user(op)
    base = op.name.partition(".")[2]
    if user is None or user.dialect_name != "hl":
        return spec, rule
    user_base = user.name.partition(".")[2]
    if user_base == "layer_norm":
        return replace(spec, dtype="qint16"), rule + " (layer_norm input: qint16)"
    if base in _MASKING and user_base == "softmax":
        clip = spec.clip if spec.clip is not None else SOFTMAX_INPUT_RANGE
        return replace(spec, dtype="qint16", clip=clip), rule + f" (softmax input with a mask ({base}): qint16)"
    if base in ("matmul", "bmm") and (user_base == "softmax" or (
            user_base in _MASKING and (after := _single_user(user)) is not None and after.name == "hl.softmax")):
        return replace(spec, dtype="qint16"), rule + " (attention logits: qint16)"
    return spec, rule


_PARAMETER_OPERANDS = frozenset({"weight", "bias", "bn_weight", "bn_bias", "bn_mean", "bn_var",
                                 "bn_num_batches_tracked"})


def _is_data_input(arg: BlockArgument) -> bool:
    """A function argument that carries data (not only weights/biases of conv/linear ops)."""
    for use in arg.uses:
        user = use.owner
        if user.name not in _WEIGHTED:
            return True
        names = [n for n, v in _operands(user)]
        if names[use.index] not in _PARAMETER_OPERANDS:
            return True
    return False


def _location_of(value: Value, after: Operation | None):
    if after is not None:
        return after.location
    if isinstance(value, BlockArgument):
        return None
    return value.owner.location


def _operands(op: Operation) -> Iterator[tuple[str, Value]]:
    """(operand name, value) in order; a variadic group repeats its name."""
    d = op.definition
    for (name, _), (start, n) in zip(d.operands, d.operand_groups(op)):
        for v in op.operands[start:start + n]:
            yield name, v


@register_pass("quant-annotate")
class QuantAnnotate(Pass):
    """Insert qat.fake_quant ops (inputs, owner outputs, weights) from a qconfig; mark float ops."""

    anchor = "func.func"
    qconfig = Option(str, default="default_qat_8bit", help="global qconfig template", validate=template)
    owners = Option(list[str], default=[], help="per-owner templates, 'glob:template' (later entries win)")
    march = Option(str, default="", help="target march (default: irq.march.get_march())")

    def __init__(self, rules: QConfigRules | None = None, module_types: dict[str, str] | None = None,
                 **options) -> None:
        super().__init__(**options)
        self.rules = rules
        self.module_types = dict(module_types or {})
        #: the owners of every function annotated so far (for QConfigRules.unmatched); not `owners`, which is
        #: the pass option of per-owner templates
        self.annotated_owners: list[OwnerInfo] = []

    def run(self, fn: Operation) -> None:
        if any(op.dialect_name == "qat" for op in fn.walk()):
            raise self.fail("the function is already annotated (it holds qat.fake_quant ops)", fn)
        left = next((op for op in fn.walk() if op.dialect_name == "torch" and op.name not in
                     ("torch.constant", "torch.size", "torch.call") and not is_passthrough(op)), None)
        if left is not None:
            raise self.fail(f"quant-annotate works on hl ops, but '{left.name}' is still at the torch level; run "
                            "functional-to-module and fuse first", left)
        try:
            march = march_name_of(self.march or None)
            rules = self.rules if self.rules is not None else as_rules(self.qconfig)
            if self.rules is None:
                for entry in self.owners:
                    glob, sep, name = entry.rpartition(":")
                    if not sep:
                        raise ValueError(f"owners entry '{entry}' must be 'glob:template'")
                    rules.set_owner(glob, template(name))
        except ValueError as e:
            raise self.fail(str(e), fn) from None
        a = Annotator(rules, march, self.module_types)
        a.run(fn)
        self.annotated_owners += a.owners
        self.statistics["fake-quants inserted"] += a.inserted
        self.statistics["ops left in float"] += a.float_ops
