"""The torch executor: irq modules (torch and hl level) as real, trainable torch modules."""

from irq.runtime.torch.builder import to_module

__all__ = ["to_module"]
