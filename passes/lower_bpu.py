"""lower-bpu: the frozen QDQ level (hl + quant.qcast/dcast) -> the bpu dialect, every parameter explicit.

Lowering matches ``dcast -> op -> qcast`` (docs/design.md, "The frozen level"). It walks each function in
order and gives every float value of the frozen graph that carries quantized codes an integer
representation (`QValue`: the bpu value, its scale and dtype):

- a model input's `quant.qcast` becomes `bpu.quantize`; a `quant.dcast` is its operand's codes;
- an accumulating op (conv2d, conv_transpose2d, linear, matmul) becomes an exact `bpu.<op>` into an
  accumulator whose width is proved with `fixedpoint.accumulator_dtype` (from the actual weight and bias
  codes), followed by the *requantize insertion*: a `bpu.requantize` to its output qcast's scale with
  per-channel (M, S) from `fixedpoint.quantize_multiplier(s_in * s_w[c] / s_out)`, the fused relu/relu6 as
  clamp bounds, and a fused residual folded into the same rounding (`common_shift_multipliers`). Without an
  output qcast the accumulator itself is the output (int32 high-precision output, dequantized per channel
  with ``s_in * s_w[c]``);
- add/sub rescale both inputs with a common shift, mul and cat requantize, element-wise non-linear ops
  become lookup tables (`fixedpoint.lookup_table`), pools and resizes their bpu ops, and data movement
  (max pool, reshape, permute, slice, nearest resize) passes codes and scale through;
- a returned value is dequantized (`bpu.dequantize`).

Ops that cannot be lowered are errors listing every one with its location, unless `float-fallback` is
set: then they stay in float between `bpu.dequantize` and `bpu.quantize` (the reference runtime executes
them in numpy), the way horizon runs unsupported ops on the CPU. Parameters come from `irq.fixedpoint`
only, so VALIDATION (which calls the same functions) agrees with the program by construction.

Layout: `passes/_lowering.py` holds the driver, the casts, the requantize insertion and float islands
(`LoweringBase`); `passes/_lower_ops.py` the per-op rewrites (`OpLowerings`); this module joins them into
`Lowering` and registers the pass; `passes/_lower_layer_ops.py` the layers added for users' models (standalone
batch norm, PReLU, pad, pixel (un)shuffle, stack, sum).
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.passes._lower_gather import GatherLowerings
from irq.passes._lower_layer_ops import LayerOpLowerings
from irq.passes._lower_logic import LogicLowerings
from irq.passes._lower_ops import OpLowerings
from irq.passes._lower_reshape_batch import ReshapeBatchLowerings
from irq.passes._lower_roll import RollLowerings
from irq.passes._lower_select import SelectLowerings
from irq.passes._lower_sign_ops import SignOpLowerings
from irq.passes._lower_take import TakeLowerings
from irq.passes._lowering import LoweringBase, LoweringError, QValue
from irq.passes.fold_constant_views import fold_constant_views
from irq.passes.fold_constants import fold_constants

from irq.diagnostics import Diagnostic
from irq.ir.operation import Operation
from irq.transform.pass_base import Option, Pass, PassFailure, register_pass

__all__ = ["Lowering", "LoweringError", "LowerToBpu", "QValue"]


class Lowering(ReshapeBatchLowerings, GatherLowerings, TakeLowerings, RollLowerings, LogicLowerings, SelectLowerings,
               SignOpLowerings, LayerOpLowerings, OpLowerings, LoweringBase):
    """Lower one function: the driver, casts and requantize insertion (`passes/_lowering.py`) with the
    per-op rewrites (`passes/_lower_ops.py`, `passes/_lower_layer_ops.py`). Subclass it to observe lowering
    (irq/debug/deployed.py)."""


def _check_rounding(mode: str) -> None:
    if mode not in bpu.ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {', '.join(bpu.ROUNDING_MODES)}")


@register_pass("lower-bpu")
class LowerToBpu(Pass):
    """Lower the frozen QDQ level to the bpu dialect (requantize insertion included); see the module doc."""

    float_fallback = Option(bool, default=False, help="keep ops that cannot be lowered in float (dequantize/quantize "
                                                      "around them) instead of failing")
    rounding = Option(str, default="half_up", help="rounding of every requantize: " + ", ".join(bpu.ROUNDING_MODES),
                      validate=lambda v: _check_rounding(v))

    march = Option(str, default="", help="check every op against this march profile before lowering "
                                         "(irq.march_profiles); empty: no check")

    def run(self, op: Operation) -> None:
        fold_constant_views(op)  # a view of a parameter used as data is a constant by now (no more training)
        fold_constants(op)  # a mask built from the input's size (static types: one value) is a constant too
        funcs = [op] if op.name == "func.func" else [f for f in op.walk() if f.name == "func.func"]
        keep_float: set[Operation] = set()
        if self.march:
            from irq.march_profiles import check_march
            violations = [v for f in funcs for v in check_march(f, self.march)]
            if violations and not self.float_fallback:
                diags = [Diagnostic("error", f"'{v.op.name}' {v.message}", v.op.location, v.op) for v in violations]
                raise PassFailure(f"lower-bpu: {len(violations)} op(s) cannot run on march '{self.march}' (nothing "
                                  "was lowered):", diags)  # PassFailure lists the diagnostics, one per line
            keep_float = {v.op for v in violations}
            self.statistics["ops kept in float"] += len(keep_float)
        errors: list[Diagnostic] = []
        for f in funcs:
            if not f.regions or not f.regions[0].blocks:
                continue
            lowering = Lowering(f, self.float_fallback, self.rounding, keep_float)
            lowering.run()
            pinned = 0 if lowering.errors else lowering.mark_reshapes_losing_the_batch()  # refused at another batch
            if pinned:
                self.statistics["reshapes pinned to the traced batch"] += pinned
            errors += lowering.errors
            self.statistics["ops lowered"] += len(lowering.lowered)
        if errors:
            raise PassFailure(f"lower-bpu: {len(errors)} op(s) cannot be lowered to bpu:", errors)
