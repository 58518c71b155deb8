"""The equivalent mutants of bench/mutation.py's targets: data, kept apart from the runner so the
runner reads as code and the table as a reviewed list (each entry names why no test can kill it).

One module per concept: _mutation_equiv_ir.py (rewrite driver, CSE, shape rules), _mutation_equiv_arith.py (arith's
folders and ops), _mutation_equiv_frontend.py (the
torch frontend's mapping and static shape inference), _mutation_equiv_lowering.py
(lower-bpu, lower-layer-ops), _mutation_equiv_numbers.py (irq/fixedpoint.py, VALIDATION),
_mutation_equiv_runtime.py (the reference runtime, the torch executor's builders), _mutation_equiv_quant.py (the
quantizers: observers and FakeQuantize) and _mutation_equiv_numba.py (the Numba kernels and planner).
"""

from _mutation_equiv_arith import ARITH
from _mutation_equiv_frontend import FRONTEND
from _mutation_equiv_ir import IR
from _mutation_equiv_lowering import LOWERING
from _mutation_equiv_numba import NUMBA
from _mutation_equiv_numbers import NUMBERS
from _mutation_equiv_quant import QUANT
from _mutation_equiv_runtime import RUNTIME
from _mutation_equiv_torch import SHAPE_RULES, TORCH_EXECUTOR

#: mutants no test can kill, with the reason; matched by where they are, not by line number
#: (operator "*": every mutant of that line, for dead or redundant code)
EQUIVALENT: dict[tuple[str, str, str, str], str] = {
    **IR,
    **ARITH,
    **FRONTEND,
    **LOWERING,
    **NUMBERS,
    **RUNTIME,
    **QUANT,
    **NUMBA,
    **TORCH_EXECUTOR,
    **SHAPE_RULES,
}
