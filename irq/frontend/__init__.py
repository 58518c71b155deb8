"""The torch frontend: `import_torch`, `wrap`, `FrontendError` (imports torch lazily).

`irq.frontend.wrap` and `irq.frontend.errors` import without torch, so models can
use `@irq.wrap` and catch `irq.FrontendError` whether or not they are imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from irq.frontend.errors import FrontendError, TracingWarning
from irq.frontend.wrapping import wrap


def import_torch(model: Any, example_inputs: Any, *, method: str = "fx", leaf_modules: Iterable[type | str] = (),
                 concrete_args: dict[str, Any] | None = None, preserve_attrs: Iterable[str] = (),
                 verify: bool = True):
    """Import a torch model as a torch-level irq module (see irq.frontend.importer.import_torch).

    method: "fx" (torch.fx symbolic tracing, keeps nn.Module boundaries) or "export"
    (torch.export, for models fx cannot trace); leaf_modules: module classes or paths
    kept opaque; concrete_args: forward() arguments fixed while tracing; preserve_attrs:
    model attributes restored by `irq.runtime.torch.to_module`.
    """
    from irq.frontend.importer import import_torch as _impl
    return _impl(model, example_inputs, method=method, leaf_modules=leaf_modules, concrete_args=concrete_args,
                 preserve_attrs=preserve_attrs, verify=verify)


__all__ = ["FrontendError", "TracingWarning", "import_torch", "wrap"]
