"""irq: an MLIR-style multi-level IR compiler that quantizes PyTorch models for fixed-point NPUs.

The core (IR, text format, verifier, passes) imports without torch; functions
that need torch import it when called.
"""

from irq.diagnostics import Diagnostic, IRError, ParseError, VerifyError
from irq.frontend import FrontendError, TracingWarning, import_torch, wrap
from irq.ir import *  # noqa: F401,F403 - the IR objects are irq's vocabulary
from irq.ir import __all__ as _ir_all
from irq.text.parser import parse_file, parse_module
from irq.text.printer import print_module
from irq.transform import Option, Pass, PassFailure, PassManager, register_pass
from irq.verifier import verify

__version__ = "0.1.0"

__all__ = ["Diagnostic", "IRError", "ParseError", "VerifyError", "parse_file", "parse_module", "print_module",
           "verify", "Option", "Pass", "PassFailure", "PassManager", "register_pass", "FrontendError", "TracingWarning",
           "import_torch", "wrap", "check_model", "convert", "load", "run", *_ir_all]


def check_model(module, **kwargs):
    """Model check report (ops kept as torch.call, shared modules, unsupported ops per march); see irq.model_check."""
    from irq.model_check import check_model as _impl
    return _impl(module, **kwargs)


#: Names served from torch-side modules on first use, so `import irq` stays torch-free.
_LAZY = {"prepare": "irq.quant", "set_fake_quantize": "irq.quant", "FakeQuantState": "irq.quant",
         "freeze": "irq.quant", "QuantizationWarning": "irq.quant"}


def run(program, *inputs, runtime: str = "numba", march: str | None = None):
    """Execute a bpu program on numpy inputs with exact integers: the numba runtime, or `runtime="reference"`.

    With `march`, refuse a program converted for another march, as `irq.load(path, march=)` and
    `irq run --march` do (a program with no recorded march runs). Returns one array, or a tuple for several
    results. To run a program many times, keep `irq.runtime.numba.compile(program, march=...)`: it plans
    once and reuses its buffers.
    """
    if runtime == "numba":
        from irq.runtime.numba import run as _numba_run
        return _numba_run(program, *inputs, march=march)
    if runtime == "reference":
        from irq.runtime.reference import run as _reference_run
        outs = _reference_run(program, *inputs, march=march)
        return outs[0] if len(outs) == 1 else tuple(outs)
    raise ValueError(f"unknown runtime '{runtime}' (expected numba or reference)")


def convert(model, march: str = "bayes", **kwargs):
    """A frozen module (or QAT model) -> the bpu-level program; see irq.convert_bpu.convert."""
    from irq.convert_bpu import convert as _impl
    return _impl(model, march, **kwargs)


def load(path, march: str | None = None):
    """Read and validate a deployable program written by `program.save(path)`; with `march`, refuse one
    converted for another march. See irq.artifact."""
    from irq.artifact import load as _impl
    return _impl(path, march)


def __getattr__(name: str):
    import importlib
    # `irq.nn`, `irq.quant` and the quantization API need torch: imported on first use.
    if name in ("nn", "quant", "debug"):
        return importlib.import_module(f"irq.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("qconfig", "march"):
        return importlib.import_module(f"irq.{name}")
    raise AttributeError(f"module 'irq' has no attribute {name!r}")
