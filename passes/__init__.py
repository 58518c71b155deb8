"""Transformations (`irq.passes`): one module per pass."""
