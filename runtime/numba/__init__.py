"""The Numba runtime: executes bpu programs with exact fixed-point integers, fast (docs/design.md).

``compile(program)`` plans a program once and returns a callable; ``run(program, *inputs)`` is the
one-shot form. Imports numpy and numba only, never torch.
"""

# Importing the kernels makes OpenMP Numba's first threading layer unless the user chose one: a launch
# costs microseconds there, not a worker's wake-up (measurements, the bounded spin: kernels/thread_layer.py).
from .executor import CompiledProgram, compile, run
from .planner import ProgramError

__all__ = ["CompiledProgram", "ProgramError", "compile", "run"]
