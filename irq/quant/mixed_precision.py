"""Mixed precision: int16 activations for the few owners that cost the most accuracy in int8.

    plan = irq.quant.mixed_precision(model, (x,), calibration_batches, budget=4, march="nash")
    qat_model = irq.prepare(model, (x,), qconfig=plan.rules, march="nash")

An int8 activation costs accuracy very unevenly: in MobileNetV2 one activation (the first conv's
output, read by a depthwise conv whose folded weights amplify its rounding noise) costs more output
cosine on its own than the thirty cheapest together. So the budget of wider activations (memory,
bandwidth, slower int16 kernels) goes where `irq.debug.sensitivity` measures the damage: prepare with
the base qconfig, calibrate, rank owners by the output cosine when each alone is quantized, and give
the worst `budget` of them a 16-bit output. This is horizon_plugin_pytorch's "set int16 on the
sensitive ops" step (its debug tools rank them the same way), done in one call.

The march decides which owners can be widened: an int16 value must be accepted as input by every
op that reads it (irq/marches/*.json, `dtypes`; a Bayes conv reads only int8, a Nash conv int16 too).
Owners whose readers refuse int16 are skipped and listed, so the plan always converts. A conv/linear
reader must also keep its accumulator below what a requantize takes (2**32): that is proved from the
reader's own calibrated weight codes, channel by channel, as lowering proves it; with every code at 127
the bound would refuse any reader summing more than 516 products (MobileNetV2's last projections, among
its most sensitive owners: docs/design.md, "The int16 bound reads each reader's own weights").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from irq import fixedpoint as fp
from irq.qconfig import QConfig, QConfigRules, as_rules, default_calib_8bit


@dataclass
class MixedPrecisionPlan:
    """The chosen int16 owners and the qconfig rules that give them int16 (pass `rules` to prepare)."""

    rules: QConfigRules
    #: owners given a 16-bit output, most sensitive first
    int16_owners: list[str]
    #: owner -> output cosine vs float when only that owner is quantized (int8), for every ranked owner
    sensitivity: dict[str, float] = field(default_factory=dict)
    #: owners ranked inside the budget but left int8, with the reason (a reader the march runs in int8 only...)
    skipped: dict[str, str] = field(default_factory=dict)


def _owner_ops(module) -> dict[str, tuple[str, Any]]:
    """owner -> (its op kind, the qat.fake_quant op quantizing its output or input)."""
    out: dict[str, tuple[str, Any]] = {}
    kinds: dict[str, str] = {}
    for op in module.walk():
        owner = op.get_attr("owner")
        if owner is None:
            continue
        name = owner.value if hasattr(owner, "value") else str(owner)
        if op.name == "qat.fake_quant":
            slot = op.get_attr("slot")
            if slot is not None and slot.value in ("out", "input"):
                out[name] = (kinds.get(name, "input"), op)
        elif op.dialect_name == "hl":
            kinds[name] = op.name.partition(".")[2]
    return {o: (kinds.get(o, k), fq) for o, (k, fq) in out.items()}


def _readers(value) -> list[tuple[Any, int]]:
    """(op, operand index) of every use computing on `value`, looking through ops that only move data (they
    share its codes). One op can read the value twice: a conv's input and its fused residual."""
    from irq.passes.quant_annotate import is_passthrough
    found, stack = [], [value]
    while stack:
        v = stack.pop()
        for use in v.uses:
            op = use.owner
            if is_passthrough(op):
                stack.extend(op.results)
            elif op.name != "func.return":
                found.append((op, use.index))
    return found


def int16_refusal(fake_quant_op, march: str, qat_model: nn.Module | None = None) -> str | None:
    """Why the value this fake-quant produces cannot be int16 on `march` (None: it can).

    A conv/linear reading it as its input must keep its accumulator within what a requantize takes. With the
    calibrated `qat_model` that proof uses the reader's own weight codes (`_weight_code_sum`); without it,
    every code at 127. Only the reader's input (operand 0) enters the sum: its fused residual, added after
    it, is not bounded.
    """
    from irq.march_profiles import get_march
    profile = get_march(march)
    for op, operand in _readers(fake_quant_op.results[0]):
        base = op.name.partition(".")[2]
        owner = op.get_attr("owner")
        who = f" ({owner.value})" if owner is not None and hasattr(owner, "value") else ""
        limits = profile.ops.get(base)
        if limits is not None and limits.dtypes is not None and "i16" not in limits.dtypes:
            return f"read by {op.name}{who}, which march '{march}' runs on {', '.join(limits.dtypes)} only"
        k = _reduction(op)
        if k is None or operand != 0:
            continue
        codes = _weight_code_sum(qat_model, op) if qat_model is not None else None
        if codes is None:
            codes = k * fp.WEIGHT_QRANGE[1]
        if not _int16_accumulator_fits(codes):
            return (f"read by {op.name}{who}, which sums {k} products: with int16 inputs its accumulator could "
                    "reach 2**32, beyond what a requantize takes (irq.fixedpoint.check_requantize_input)")
    return None


def _reduction(op) -> int | None:
    """How many products one output of a conv/linear reader sums (None for other ops)."""
    base = op.name.partition(".")[2]
    w = getattr(op, "weight", None) if base in ("conv1d", "conv2d", "conv_transpose2d", "linear") else None
    shape = getattr(getattr(w, "type", None), "shape", None)
    if not shape:
        return None
    k = 1
    for d in shape[1:]:
        k *= int(d)
    return k


def _weight_code_sum(qat_model: nn.Module, op) -> int | None:
    """The largest sum of |weight code| over one output channel of a calibrated conv/linear, each code one
    step further from zero than nearest rounding gives (AdaRound rounds up or down, never further), or None
    when the op's weight is not quantized here (or, for a transposed conv, not laid out by output channel).
    Lowering proves the same sum on the final codes (irq.fixedpoint.channel_accumulator_bound)."""
    import torch

    from irq.quant.adaround import folded_weight
    wop = op.weight.owner
    if getattr(wop, "name", None) != "qat.fake_quant" or op.name.partition(".")[2] == "conv_transpose2d":
        return None
    fq = qat_model.get_submodule(wop.state_path)
    codes = fq.codes(torch.from_numpy(folded_weight(qat_model, op))).abs()
    codes = torch.clamp(codes + 1, max=max(-fq.qmin, fq.qmax))
    return fp.channel_accumulator_bound(codes.detach().numpy(), None, 1)


def _int16_accumulator_fits(weight_code_sum: int) -> bool:
    """Whether int16 codes times weight codes summing to `weight_code_sum` in absolute value stay below
    lowering's 2**32 requantize bound (every input code at its extreme, plus an int32 bias)."""
    return weight_code_sum * -fp.qrange("i16")[0] + 2**31 < 2**32


def _widened(q: QConfig) -> QConfig:
    assert q.activation is not None
    return QConfig(replace(q.activation, dtype="qint16"), q.weight, f"{q.name}+int16")


def mixed_precision(model: nn.Module, example_inputs: Any, calibration_batches: Sequence[Any], *, budget: int,
                    qconfig: QConfig | QConfigRules | dict | str | None = None, march: str = "nash",
                    sensitivity_inputs: Any = None, candidates: list[str] | None = None,
                    ranking: str = "int8", progress: bool = False) -> MixedPrecisionPlan:
    """Choose up to `budget` owners for int16 activations by sensitivity (see the module docstring).

    qconfig: the base (int8) recipe, default `default_calib_8bit`; the plan's rules are it plus one
    owner rule per chosen owner, keeping that owner's observer and weight quantizer and changing only
    its output to qint16. sensitivity_inputs: what the ranking runs on (default: the first calibration
    batch); a few images are enough, and its cost is one forward per owner. candidates: the owners to
    rank (default: all); naming a few known suspects makes the search proportionally cheaper.
    ranking: "int8" ranks by the output cosine with each owner alone quantized (the rest float); "int16"
    by the output cosine each owner's int16 output gains over the all-int8 model
    (`irq.debug.sensitivity(mode="int16")`; owners that gain nothing are not chosen).
    """
    import irq
    from irq.debug.sensitivity import sensitivity
    from irq.quant.prepare import _module_types, ir_of
    from irq.workflow import calibrate
    if budget < 0:
        raise ValueError(f"mixed_precision: budget must be >= 0, got {budget}")
    base = as_rules(qconfig if qconfig is not None else default_calib_8bit)
    qat = irq.prepare(model, example_inputs, qconfig=base, march=march, check_model=False)
    calibrate(qat, calibration_batches, progress=progress)
    inputs = sensitivity_inputs if sensitivity_inputs is not None else calibration_batches[0]
    if ranking not in ("int8", "int16"):
        raise ValueError(f"mixed_precision: ranking must be 'int8' or 'int16', got {ranking!r}")
    rows = sensitivity(qat, inputs, owners=candidates, mode=ranking)
    owners = _owner_ops(ir_of(qat))
    module_types = _module_types(model)
    rules = QConfigRules(base.global_qconfig, list(base.rules))
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for row in rows:
        if len(chosen) >= budget:
            break
        if row.owner not in owners or (row.gain is not None and row.gain <= 0):
            continue
        kind, fq_op = owners[row.owner]
        q, _ = base.resolve(irq.qconfig.OwnerInfo(row.owner, kind, module_types.get(row.owner, "")))
        if q.activation is None or q.activation.dtype != "qint8":
            continue  # float, int32 output, or already 16-bit: nothing to widen
        reason = int16_refusal(fq_op, march, qat)
        if reason is not None:
            skipped[row.owner] = reason
            continue
        rules.set_owner(row.owner, _widened(q))
        chosen.append(row.owner)
    return MixedPrecisionPlan(rules, chosen, {r.owner: r.output_cosine for r in rows}, skipped)


__all__ = ["MixedPrecisionPlan", "int16_refusal", "mixed_precision"]
