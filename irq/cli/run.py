"""irq-run: execute a deployable bpu program on .npy inputs.

    irq-run model.irq --input x.npy [--input y.npy ...] --output out.npy [--output out2.npy ...]
                      [--runtime reference]

Inputs are given in the order of the program's arguments; each output is written with numpy.save.
Loading validates the file (irq.load) and runs no code from it.
"""

from __future__ import annotations

import argparse
import sys

RUNTIMES = ("reference",)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="irq-run", description="Run a deployable bpu program (.irq) on numpy inputs.")
    p.add_argument("program", help="a program written by program.save(path)")
    p.add_argument("--input", "-i", action="append", default=[], help="an input .npy file (repeat, in order)")
    p.add_argument("--output", "-o", action="append", default=[], help="where to write an output (repeat, in order)")
    p.add_argument("--runtime", choices=RUNTIMES, default="reference", help="executor (default: reference)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import numpy as np

    from irq.artifact import load
    from irq.diagnostics import IRError
    from irq.runtime.reference import ReferenceRuntimeError, run
    try:
        program = load(args.program)
    except IRError as e:
        print(f"irq-run: error: {e}", file=sys.stderr)
        return 1
    try:
        inputs = [np.load(path, allow_pickle=False) for path in args.input]
    except (OSError, ValueError) as e:
        print(f"irq-run: error: cannot read an input: {e}", file=sys.stderr)
        return 1
    try:
        outputs = run(program, *inputs)
    except ReferenceRuntimeError as e:
        print(f"irq-run: error: {e}", file=sys.stderr)
        return 1
    if len(args.output) != len(outputs):
        print(f"irq-run: error: the program has {len(outputs)} output(s), {len(args.output)} --output given",
              file=sys.stderr)
        return 1
    for path, value in zip(args.output, outputs):
        np.save(path, value, allow_pickle=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
