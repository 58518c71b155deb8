"""irq: an MLIR-style multi-level IR compiler that quantizes PyTorch models for fixed-point NPUs.

The core (IR, text format, verifier, passes) imports without torch; functions
that need torch import it when called.
"""

from irq.diagnostics import Diagnostic, IRError, ParseError, VerifyError
from irq.ir import *  # noqa: F401,F403 - the IR objects are irq's vocabulary
from irq.ir import __all__ as _ir_all
from irq.text.parser import parse_file, parse_module
from irq.text.printer import print_module
from irq.transform import Option, Pass, PassFailure, PassManager, register_pass
from irq.verifier import verify

__version__ = "0.1.0"

__all__ = ["Diagnostic", "IRError", "ParseError", "VerifyError", "parse_file", "parse_module", "print_module",
           "verify", "Option", "Pass", "PassFailure", "PassManager", "register_pass", *_ir_all]
