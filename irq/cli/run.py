"""irq-run: execute a deployable bpu program on .npy inputs.

    irq-run model.irq --input x.npy [--input y.npy ...] --output out.npy [--output out2.npy ...]
                      [--runtime numba|reference] [--profile]

Inputs are given in the order of the program's arguments; each output is written with numpy.save.
The numba runtime is the default; `--runtime reference` runs the plain-numpy oracle. `--profile`
(numba) prints a per-op time table to stderr: op, kernel step, location, milliseconds, share.
Loading validates the file (irq.load) and runs no code from it.
"""

from __future__ import annotations

import argparse
import sys

from irq.cli.pipes import quiet_on_broken_pipe

RUNTIMES = ("numba", "reference")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="irq-run", description="Run a deployable bpu program (.irq) on numpy inputs.")
    p.add_argument("program", help="a program written by program.save(path)")
    p.add_argument("--input", "-i", action="append", default=[], help="an input .npy file (repeat, in order)")
    p.add_argument("--output", "-o", action="append", default=[], help="where to write an output (repeat, in order)")
    p.add_argument("--runtime", choices=RUNTIMES, default="numba", help="executor (default: numba)")
    p.add_argument("--profile", action="store_true", help="print a per-op time table (numba runtime) to stderr")
    return p


@quiet_on_broken_pipe
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
    if args.profile and args.runtime != "numba":
        print("irq-run: error: --profile needs the numba runtime", file=sys.stderr)
        return 1
    try:
        if args.runtime == "reference":
            outputs = run(program, *inputs)
        else:
            from irq.runtime import numba as numba_runtime
            compiled = numba_runtime.compile(program)
            if args.profile:
                outputs, rows = compiled.profile(*inputs)
                _print_profile(rows)
            else:
                outputs = compiled(*inputs)
            outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    except (ReferenceRuntimeError, ValueError) as e:
        print(f"irq-run: error: {e}", file=sys.stderr)
        return 1
    if len(args.output) != len(outputs):
        print(f"irq-run: error: the program has {len(outputs)} output(s), {len(args.output)} --output given",
              file=sys.stderr)
        return 1
    for path, value in zip(args.output, outputs):
        np.save(path, value, allow_pickle=False)
    return 0


def _print_profile(rows) -> None:
    """One line per kernel step, slowest first, with its share of the total."""
    total = sum(r[3] for r in rows) or 1.0
    print(f"{'op':<24} {'step':<22} {'location':<28} {'ms':>9} {'share':>6}", file=sys.stderr)
    for name, label, loc, sec in sorted(rows, key=lambda r: -r[3]):
        print(f"{name:<24} {label:<22} {loc:<28} {sec * 1e3:9.3f} {sec / total:6.1%}", file=sys.stderr)
    print(f"{'total':<76} {total * 1e3:9.3f}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
