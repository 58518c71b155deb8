"""Text generators for the benchmarks: long chains of arith ops in one func.func.

Why a shared module: the text, rewrite and memory benchmarks must measure the same
program so their ops/s figures compare, and the text must be plain MLIR custom
syntax so irq and xDSL parse the identical input in the same run.
"""

from __future__ import annotations

#: ops in one repetition of the chain body (see `arith_chain`)
OPS_PER_STEP = 9

_HEADER_CONSTANTS = (0, 1, 2, 3, 4)


def arith_chain(n: int, *, type_: str = "i32") -> str:
    """MLIR custom-form text of one `func.func @chain` with about `n` ops (func and module excluded).

    Five constants (%c0..%c4) come first, then steps of nine ops each that thread a
    value `%x` through the chain, then `func.return`. Every step carries work for
    each of the rewriting benchmarks, so they do real work instead of scanning:

        %a = arith.muli %x, %c2      mul-by-2: the one-pattern benchmark rewrites it into addi %x, %x
        %b = arith.addi %a, %arg1
        %d = arith.addi %a, %arg1    a duplicate of %b: cse merges it
        %k = arith.addi %c3, %c4     both operands constant: canonicalize folds it to 7
        %m = arith.muli %d, %c1      x * 1: canonicalize replaces it by %d
        %n = arith.addi %m, %c0      x + 0: canonicalize replaces it by %m
        %p = arith.muli %b, %n
        %q = arith.subi %p, %k       the next %x
        %e = arith.addi %x, %c3      unused and pure: dead, erased by canonicalize

    After `canonicalize, cse` a step keeps four ops (muli, addi, muli, subi) and all
    the folded 7s collapse into one constant, in irq and in xDSL alike. Values are
    named per step (%a12, %b12, ...) so both parsers see the same names.
    """
    steps = max(1, (n - len(_HEADER_CONSTANTS) - 1) // OPS_PER_STEP)
    t = type_
    lines = [f"func.func @chain(%arg0: {t}, %arg1: {t}) -> {t} {{"]
    for c in _HEADER_CONSTANTS:
        lines.append(f"  %c{c} = arith.constant {c} : {t}")
    x = "%arg0"
    for i in range(steps):
        lines += [
            f"  %a{i} = arith.muli {x}, %c2 : {t}",
            f"  %b{i} = arith.addi %a{i}, %arg1 : {t}",
            f"  %d{i} = arith.addi %a{i}, %arg1 : {t}",
            f"  %k{i} = arith.addi %c3, %c4 : {t}",
            f"  %m{i} = arith.muli %d{i}, %c1 : {t}",
            f"  %n{i} = arith.addi %m{i}, %c0 : {t}",
            f"  %p{i} = arith.muli %b{i}, %n{i} : {t}",
            f"  %q{i} = arith.subi %p{i}, %k{i} : {t}",
            f"  %e{i} = arith.addi {x}, %c3 : {t}",
        ]
        x = f"%q{i}"
    lines.append(f"  func.return {x} : {t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def chain_op_count(n: int) -> int:
    """Number of ops inside the func body of `arith_chain(n)` (constants, steps, return)."""
    steps = max(1, (n - len(_HEADER_CONSTANTS) - 1) // OPS_PER_STEP)
    return len(_HEADER_CONSTANTS) + steps * OPS_PER_STEP + 1
