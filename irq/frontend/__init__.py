"""The torch frontend: `import_torch`, `wrap`, `FrontendError` (imports torch lazily).

`irq.frontend.wrap` and `irq.frontend.errors` import without torch, so models can
use `@irq.wrap` and catch `irq.FrontendError` whether or not they are imported.
"""

from __future__ import annotations

from typing import Any

from irq.frontend.errors import FrontendError, TracingWarning
from irq.frontend.wrapping import wrap


def import_torch(model: Any, example_inputs: Any, **kwargs: Any):
    """See irq.frontend.importer.import_torch."""
    from irq.frontend.importer import import_torch as _impl
    return _impl(model, example_inputs, **kwargs)


__all__ = ["FrontendError", "TracingWarning", "import_torch", "wrap"]
