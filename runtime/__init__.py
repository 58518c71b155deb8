"""Executors (`irq.runtime`): torch (hl/qat), numba (bpu) and the numpy reference (bpu)."""
