"""VALIDATION of comparisons and selection (issue 12): what bpu.compare / bpu.select compute, emulated in torch.

- compare_scalar: the codes q of the input against the integer threshold of irq.selection.compare_threshold
  (``q s <pred> c`` in exact rationals), so the mask equals the deployed one for every code. A raw integer input
  (an int64 attention mask given to the model) is compared as is (scale 1).
- compare (two tensors): the coarser operand requantized (half up) to the finer one's scale, saturated to i16,
  then the codes compared (irq.selection.common_compare_scale).
- where: both values requantized to the output scale (one rounding each), then picked by the mask.
- where_scalar / masked_fill: the input requantized to the output scale; the fill value's code is
  irq.selection.fill_code (-inf: the range's minimum).

Comparisons have no output quantizer (their result is a mask, not a quantized value), so the torch executor
calls `compare_exact` for them directly (runtime/torch/quantized.py `wrap_exact`); where / where_scalar go
through irq.quant.validation.exact like every op with an output quantizer (`EXACT`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from irq import fixedpoint as fp
from irq import selection
from irq.quant.fake_quantize import FakeQuantize, FakeQuantState

_TORCH_PREDICATES = {"gt": torch.gt, "ge": torch.ge, "lt": torch.lt, "le": torch.le, "eq": torch.eq, "ne": torch.ne}
COMPARISONS = frozenset({"compare", "compare_scalar"})


def _scale(fq: FakeQuantize) -> float:
    return float(fq.scale.detach().double().reshape(-1)[0])


def _requantize(q: Tensor, real: float, lo: int, hi: int) -> Tensor:
    """``sat((q * M + 2**(S-1)) >> S)`` in int64 (bpu.requantize, half up) with (M, S) for `real`."""
    m, s = fp.quantize_multiplier(real)
    m, s = int(m), int(s)
    return torch.clamp(torch.bitwise_right_shift(q * m + (1 << (s - 1)), s), lo, hi)


def _codes(x: Tensor, fq: FakeQuantize | None) -> tuple[Tensor, float, str] | None:
    """(int64 codes, scale, dtype) of a comparison operand in VALIDATION; None when it is computed in float
    (not in VALIDATION, or a float value with no quantizer: a float island's output)."""
    if fq is None:
        if x.dtype.is_floating_point or x.dtype == torch.bool:
            return None
        return x.to(torch.int64), 1.0, "i64"
    if fq.state is not FakeQuantState.VALIDATION:
        return None
    return fq.codes(x), _scale(fq), fq.storage


def compare_exact(kind: str, y: Tensor, inputs: list, in_fqs: list, attrs: dict, where: str = "") -> Tensor:
    """The mask bpu.compare computes, or `y` (torch's float comparison) outside VALIDATION."""
    ops = [_codes(x, f) for x, f in zip(inputs, in_fqs)]
    if any(o is None for o in ops) or all(f is None for f in in_fqs):
        return y
    pred = attrs["predicate"]
    try:
        if kind == "compare_scalar":
            q, s, _ = ops[0]
            p, t = selection.compare_threshold(pred, float(attrs["other"]), s)
            return _TORCH_PREDICATES[p](q, t)
        (qa, sa, da), (qb, sb, db) = ops
        if "i64" in (da, db):
            raise ValueError("compares a quantized value with a raw integer tensor; quantize both or neither")
        coarser, dtype = selection.common_compare_scale(sa, da, sb, db)
        lo, hi = fp.qrange(dtype)
        if coarser == 0:
            qa = _requantize(qa, sa / sb, lo, hi)
        elif coarser == 1:
            qb = _requantize(qb, sb / sa, lo, hi)
        return _TORCH_PREDICATES[pred](qa, qb)
    except ValueError as e:
        raise ValueError(f"{where + ': ' if where else ''}'{kind}': {e}") from e


def _to_output(x: Tensor, fq_in: FakeQuantize, fq_out: FakeQuantize) -> Tensor:
    lo, hi = fq_out.qmin, fq_out.qmax
    q = fq_in.codes(x)
    return q if _scale(fq_in) == _scale(fq_out) and fq_in.storage == fq_out.storage else \
        _requantize(q, _scale(fq_in) / _scale(fq_out), lo, hi)


def _where(inputs, fqs, fq_out, attrs):
    cond, a, b = inputs
    if fqs[1] is None or fqs[2] is None:
        return None
    return fq_out.dequantize(torch.where(cond, _to_output(a, fqs[1], fq_out), _to_output(b, fqs[2], fq_out)))


def _where_scalar(inputs, fqs, fq_out, attrs):
    cond, x = inputs
    if fqs[1] is None:
        return None
    q = _to_output(x, fqs[1], fq_out)
    fill = torch.tensor(selection.fill_code(float(attrs["value"]), _scale(fq_out), fq_out.storage))
    return fq_out.dequantize(torch.where(cond, fill, q) if attrs["value_first"] else torch.where(cond, q, fill))


#: kinds whose first operand is a mask (no quantizer): irq.quant.validation.exact dispatches them here
EXACT = {"where": _where, "where_scalar": _where_scalar}
