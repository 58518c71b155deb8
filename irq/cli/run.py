"""irq-run: execute a deployable bpu program on .npy inputs.

    irq-run model.irq --input x.npy [--input y.npy ...] --output out.npy [--output out2.npy ...]
                      [--runtime numba|reference] [--profile] [--march bayes]

Inputs are given in the order of the program's arguments; each output is written in .npy format to
exactly the path given (numpy.save would append '.npy' to a name without it), whole or not at all,
after every output path was checked and the program ran. The numba runtime is the default (any batch
size); `--runtime reference` runs the plain-numpy oracle, which executes the traced batch size: a
larger batch that is a multiple of it runs in chunks. `--profile` (numba) runs once to compile the
kernels, then prints a per-op time table of a second, warm run to stderr: op, kernel step, location,
milliseconds, share. `--march NAME` refuses a program converted for another march (the one it
records). Loading validates the file (irq.load) and runs no code from it. Every error is
one line, `irq-run: error: ...` (`irq run: error: ...` as a subcommand of `irq`), and exit status 1.
"""

from __future__ import annotations

import argparse
import sys

from irq.cli.pipes import quiet_on_broken_pipe

RUNTIMES = ("numba", "reference")


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run a deployable bpu program (.irq) on numpy inputs.")
    p.add_argument("program", help="a program written by program.save(path) or irq quantize")
    p.add_argument("--input", "-i", action="append", default=[], help="an input .npy file (repeat, in order)")
    p.add_argument("--output", "-o", action="append", default=[],
                   help="where to write an output in .npy format, exactly this path (repeat, in order)")
    p.add_argument("--runtime", choices=RUNTIMES, default="numba", help="executor (default: numba)")
    p.add_argument("--march", default=None,
                   help="refuse the program unless it was converted for this march (as it records)")
    p.add_argument("--profile", action="store_true",
                   help="print a per-op time table of a warm run (numba runtime) to stderr")
    return p


class RunError(Exception):
    """A bad input to irq-run; printed as one `<prog>: error: <message>` line."""


@quiet_on_broken_pipe
def main(argv: list[str] | None = None, prog: str = "irq-run") -> int:
    args = _parser(prog).parse_args(argv)
    try:
        _run(args)
    except RunError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 0


def _first_line(exc: BaseException) -> str:
    """A parse error carries a caret excerpt under its first line; the first line names file:line:col."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _run(args: argparse.Namespace) -> None:
    import io

    import numpy as np

    from irq.artifact import load
    from irq.diagnostics import IRError
    from irq.output_file import OutputError, check_writable, write_bytes
    from irq.runtime.reference import ReferenceRuntimeError
    if args.profile and args.runtime != "numba":
        raise RunError("--profile needs the numba runtime")
    for path in args.output:
        try:
            check_writable(path)
        except OutputError as e:
            raise RunError(str(e)) from None
    try:
        program = load(args.program, march=args.march)
    except IRError as e:
        raise RunError(_first_line(e)) from None
    inputs = []
    for path in args.input:
        try:
            inputs.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError, EOFError) as e:
            raise RunError(f"cannot read input '{path}': {_first_line(e)}") from None
    for path, x in zip(args.input, inputs):
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            if bad:
                # bpu.quantize has no code for NaN: the numba runtime would turn it into an arbitrary
                # integer and print finite, wrong outputs
                raise RunError(f"input '{path}' holds {bad} NaN or infinite value(s); a quantized program "
                               "has no code for them")
    try:
        if args.runtime == "reference":
            outputs = _run_reference(program, inputs)
        else:
            from irq.runtime import numba as numba_runtime
            compiled = numba_runtime.compile(program)
            outputs = compiled(*inputs)
            if args.profile:
                # the first call compiled every kernel (seconds, charged to the first op); time a warm run
                outputs, rows = compiled.profile(*inputs)
                _print_profile(rows)
            outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    except (ReferenceRuntimeError, ValueError) as e:
        raise RunError(_first_line(e)) from None
    if len(args.output) != len(outputs):
        raise RunError(f"the program has {len(outputs)} output(s), {len(args.output)} --output given")
    for path, value in zip(args.output, outputs):
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        try:
            write_bytes(path, buffer.getvalue())
        except OutputError as e:
            raise RunError(str(e)) from None


def _run_reference(program, inputs: list) -> list:
    """The reference runtime at the program's traced batch size; a batch that is a multiple of it runs
    in chunks, concatenated back (every bpu op computes each sample on its own)."""
    import numpy as np

    from irq.ir.types import ShapedType
    from irq.runtime.reference import entry_function, run
    args = entry_function(program).regions[0].blocks[0].args
    traced = [a.type.shape[0] for a in args if isinstance(a.type, ShapedType) and a.type.shape]
    batch = traced[0] if traced and traced[0] is not None and traced[0] > 0 else None
    sizes = {x.shape[0] if getattr(x, "ndim", 0) else None for x in inputs}
    n = sizes.pop() if len(sizes) == 1 else None
    if batch is None or n is None or n == batch or n % batch:
        return list(run(program, *inputs))  # the runtime's own shape check names a mismatch
    results = [run(program, *(x[i:i + batch] for x in inputs)) for i in range(0, n, batch)]
    return [np.concatenate([r[k] for r in results]) for k in range(len(results[0]))]


def _print_profile(rows) -> None:
    """One line per kernel step, slowest first, with its share of the total."""
    total = sum(r[3] for r in rows) or 1.0
    print(f"{'op':<24} {'step':<22} {'location':<28} {'ms':>9} {'share':>6}", file=sys.stderr)
    for name, label, loc, sec in sorted(rows, key=lambda r: -r[3]):
        print(f"{name:<24} {label:<22} {loc:<28} {sec * 1e3:9.3f} {sec / total:6.1%}", file=sys.stderr)
    print(f"{'total':<76} {total * 1e3:9.3f}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
