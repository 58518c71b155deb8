"""Dialects shipped with irq (`irq.dialects`): builtin, func, arith, quant, and the model dialects."""
